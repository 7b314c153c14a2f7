"""Form-save speed: p50/p95 of a HAM-D, CGI-S and vital-signs save through the Django
test client, on a temporary SQLite database holding the 60-participant demo trial.

    .venv/bin/python benchmarks/forms.py [--saves 200]

The target is a form save under 50 ms at p95. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django(db_path: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "trial.settings.test"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    import django

    django.setup()


def seed(n: int) -> list:
    """60 participants screened, consented and randomized 4 weeks ago, through the services."""
    from django.core.management import call_command

    from trial.accounts.users import demo_users_ensure
    from trial.demo.examples import ELIGIBLE_SCREENING
    from trial.participants.services import consent_record, participant_screen
    from trial.protocol.models import Site
    from trial.randomization.services import participant_randomize, randomization_list_create

    call_command("migrate", verbosity=0)
    call_command("load_protocol", verbosity=0)
    users = {u.username: u for u in demo_users_ensure().values()}
    randomization_list_create(by=users["unblinded"], per_stratum=40)
    site = Site.objects.first()
    today = date.today()
    coordinator = users["coordinator"]
    participants = []
    for i in range(n):
        data = {
            "screening_date": today - timedelta(days=30),
            "screening_crp_mg_l": [0.8, 3.4, 6.1][i % 3],
        } | ELIGIBLE_SCREENING
        p = participant_screen(
            site=site, sex="FM"[i % 2], date_of_birth=date(today.year - 40, 3, 1), screening=data, by=coordinator
        )
        consent_record(participant=p, consent_date=data["screening_date"], by=coordinator)
        participant_randomize(participant=p, by=coordinator, baseline_date=today - timedelta(days=28))
        participants.append(p)
    return participants


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=200, help="saves per form")
    parser.add_argument("--participants", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp) / "bench.sqlite3")
        from django.test import Client

        from trial.accounts.users import DEMO_USERS
        from trial.visits.models import Visit

        t0 = time.perf_counter()
        participants = seed(args.participants)
        print(f"seeded {len(participants)} randomized participants in {time.perf_counter() - t0:.1f}s")
        client = Client()
        from django.contrib.auth import get_user_model

        client.force_login(get_user_model().objects.get(username=DEMO_USERS[next(iter(DEMO_USERS))]))
        visits = list(Visit.objects.filter(definition__week__lte=4).order_by("participant_id", "definition__week"))
        # Warm up (imports, URL resolver, template compilation happen on the first request), untimed.
        warm, visits = visits[:5], visits[5:]
        for visit in warm:
            client.post(f"/visits/{visit.pk}/cgis/", {"score": "4", "visit_date": visit.scheduled_date.isoformat()})
        # Half the saves enter a new form (the first also records the visit date), half edit a saved one
        # with a reason for change: a coordinator's day has both.
        visits = visits[: max(1, args.saves // 2)]
        versions: dict[tuple[str, int], int] = {}
        results: dict[str, list[float]] = {"hamd": [], "cgis": [], "vitals": []}
        by_kind: dict[str, list[float]] = {"new": [], "edit": []}
        for i in range(args.saves):
            visit = visits[i % len(visits)]
            for form, data in (
                ("hamd", {f"item_{k}": str((i + k) % 3) for k in range(1, 18)}),
                ("cgis", {"score": str(3 + i % 3)}),
                ("vitals", {"weight_kg": str(80 + i % 5), "systolic_mmhg": "120", "diastolic_mmhg": "80"}),
            ):
                key = (form, visit.pk)
                post = dict(data)
                if (
                    visit.status != Visit.Status.DONE
                    and key not in versions
                    and not any(k[1] == visit.pk for k in versions)
                ):
                    post["visit_date"] = visit.scheduled_date.isoformat()
                if key in versions:
                    post |= {"version": str(versions[key]), "reason": "Benchmark re-entry"}
                start = time.perf_counter()
                response = client.post(f"/visits/{visit.pk}/{form}/", post)
                elapsed = (time.perf_counter() - start) * 1000
                results[form].append(elapsed)
                by_kind["edit" if key in versions else "new"].append(elapsed)
                if response.status_code != 302:
                    raise SystemExit(f"{form} save failed ({response.status_code}): {response.content[:500]!r}")
                versions[key] = versions.get(key, 0) + 1
        print(f"{args.saves} saves per form through the test client, SQLite, {len(participants)} participants:")
        for form, times in results.items():
            print(
                f"  {form:7s} p50 {statistics.median(times):6.1f} ms   p95 {percentile(times, 95):6.1f} ms   "
                f"max {max(times):6.1f} ms"
            )
        for kind, times in by_kind.items():
            print(
                f"  {kind:7s} p50 {statistics.median(times):6.1f} ms   p95 {percentile(times, 95):6.1f} ms   "
                f"max {max(times):6.1f} ms"
            )
        everything = [t for times in results.values() for t in times]
        print(
            f"  all     p50 {statistics.median(everything):6.1f} ms   p95 {percentile(everything, 95):6.1f} ms"
            "  (target p95 < 50 ms)"
        )


if __name__ == "__main__":
    main()
