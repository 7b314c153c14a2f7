"""Growth: time and query count of the pages and jobs that could grow with the trial, at 60, 1,000 and
10,000 participants, side by side.

    .venv/bin/python benchmarks/growth.py [--sizes 60,1000,10000] [--repeat 3] [--reseed]

Each size is a SQLite database seeded by `seed_demo --participants N --seed 2013` through the services
(the seeding time is printed when it runs). Seeding 10,000 takes long, so each database is kept in
var/bench/ and reused while its key holds: the protocol file's hash and the seeding code's hash. A
reused database is migrated first. `--reseed` throws them away.

Rows (as the role that uses each): the coordinator's dashboard, participant list (first page) and one
participant's page; the blinded statistician's export of every dataset to CSV and the pooled
(blinded) analysis run; and, apart, building the analysis frames. Each page is opened once to warm
caches, then timed `--repeat` times (median); queries are counted on the last. Speed is measured
here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"
ROWS = [
    "dashboard",
    "participant list",
    "participant page",
    "analysis frames",
    "export all, CSV",
    "pooled analysis run",
]


def _key(protocol: Path) -> str:
    """What a cached database depends on: the protocol file and the code that seeds it."""
    digest = hashlib.sha256(protocol.read_bytes())
    for path in sorted((ROOT / "trial" / "demo").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def database_for(n: int, protocol: Path, reseed: bool) -> tuple[Path, float | None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"growth-{n}-{_key(protocol)}.sqlite3"
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{path}",
        "DJANGO_SETTINGS_MODULE": "trial.settings.test",
        "STRATUM_PROTOCOL": str(protocol),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    if reseed and path.exists():
        path.unlink()
    if path.exists():
        subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True)
        return path, None
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    env["DATABASE_URL"] = f"sqlite:///{partial}"
    started = time.perf_counter()
    subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True)
    subprocess.run([*manage, "load_protocol", "--verbosity", "0"], env=env, check=True)
    subprocess.run(
        [*manage, "seed_demo", "--participants", str(n), "--seed", "2013", "--progress-every", "1000"],
        env=env,
        check=True,
    )
    seconds = time.perf_counter() - started
    partial.rename(path)
    return path, seconds


def _plans(ctx: object, top: int) -> list[dict[str, object]]:
    """The `top` slowest statements of one measured action, each with the database's query plan."""
    from django.db import connection

    captured = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:top]  # type: ignore[attr-defined]  # CaptureQueriesContext
    out = []
    for q in captured:
        sql = q["sql"]
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        try:
            with connection.cursor() as cursor:
                cursor.execute(explain + sql)
                plan = [" ".join(str(c) for c in row[-1:]) for row in cursor.fetchall()]
        except Exception as exc:  # a statement that cannot be explained on its own (a savepoint)
            plan = [f"(no plan: {exc})"]
        out.append({"ms": float(q["time"]) * 1000, "sql": sql[:300], "plan": plan})
    return out


def measure(repeat: int, explain: int = 0) -> dict[str, tuple[float, int]]:
    """Runs inside a child process whose DATABASE_URL is one size's database."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from analysis import frames
    from analysis.models import AnalysisRun
    from analysis.services import analysis_run_request
    from trial.exports.services import export_bundle
    from trial.participants.models import Participant

    users = get_user_model().objects
    coordinator = users.get(username="coordinator")
    statistician = users.get(username="statistician")
    participant = Participant.objects.filter(status__in=["randomized", "completed"]).order_by("pk").last()
    assert participant is not None

    plans: dict[str, list[dict[str, object]]] = {}

    def timed(action: object, name: str = "") -> tuple[float, int]:
        action()  # type: ignore[operator]  # warm: the protocol cache, the session, the first connection
        seconds = []
        for i in range(repeat):
            if i == repeat - 1:
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    action()  # type: ignore[operator]  # as above
                    seconds.append(time.perf_counter() - t0)
                queries = len(ctx.captured_queries)
                if explain and name:
                    plans[name] = _plans(ctx, explain)
            else:
                t0 = time.perf_counter()
                action()  # type: ignore[operator]  # as above
                seconds.append(time.perf_counter() - t0)
        return statistics.median(seconds), queries

    client = Client()
    client.force_login(coordinator)

    def page(url: str) -> object:
        def get() -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return get

    def build_frames() -> None:
        frames.participants_frame(user=statistician)
        frames.hamd_long_frame(user=statistician)
        frames.labs_long_frame(user=statistician)
        frames.visits_frame(user=statistician)

    def pooled_run() -> None:
        # Test settings run Celery tasks eagerly: the request runs the analysis in this process.
        run = analysis_run_request(kind=AnalysisRun.Kind.MMRM_POOLED, by=statistician)
        run.refresh_from_db()
        assert run.status == AnalysisRun.Status.DONE, run.status

    results = {
        "dashboard": timed(page("/"), "dashboard"),
        "participant list": timed(page("/participants/"), "participant list"),
        "participant page": timed(page(f"/participants/{participant.participant_id}/"), "participant page"),
        "analysis frames": timed(build_frames, "analysis frames"),
        "export all, CSV": timed(lambda: export_bundle(by=statistician, fmt="csv"), "export all, CSV"),
        "pooled analysis run": timed(pooled_run, "pooled analysis run"),
    }
    if explain:
        import json

        (CACHE / f"plans-{Participant.objects.count()}.json").write_text(json.dumps(plans, indent=1))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="60,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--explain",
        type=int,
        default=0,
        help="Keep the N slowest statements of each row with their query plan, in var/bench/plans-<size>.json.",
    )
    parser.add_argument("--protocol", default=os.environ.get("STRATUM_PROTOCOL", "protocols/infliximab_trd.toml"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import json

        print(json.dumps(measure(args.repeat, args.explain)))
        return
    import json

    protocol = (ROOT / args.protocol).resolve()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, dict[str, tuple[float, int]]] = {}
    for n in sizes:
        path, seeded = database_for(n, protocol, args.reseed)
        if seeded is not None:
            print(f"seeded {n} participants in {seeded:.0f} s ({path.name})", flush=True)
        env = os.environ | {
            "DATABASE_URL": f"sqlite:///{path}",
            "DJANGO_SETTINGS_MODULE": "trial.settings.test",
            "STRATUM_PROTOCOL": str(protocol),
        }
        out = subprocess.run(
            [sys.executable, __file__, "--child", "1", "--repeat", str(args.repeat), "--explain", str(args.explain)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        results[n] = json.loads(out.stdout.strip().splitlines()[-1])
    width = 22
    print(f"\n{'':<{width}}" + "".join(f"{f'{n:,} participants':>26}" for n in sizes))
    print(f"{'':<{width}}" + "".join(f"{'ms':>14}{'queries':>12}" for _ in sizes))
    for row in ROWS:
        cells = "".join(f"{results[n][row][0] * 1000:>14,.0f}{results[n][row][1]:>12,}" for n in sizes)
        print(f"{row:<{width}}{cells}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
