"""Export speed: seconds to export a seeded trial in every format, as the blinded statistician
(everything but the pharmacy) and as the unblinded statistician (with the arm and the pharmacy).

    .venv/bin/python benchmarks/exports.py [--participants 10000] [--formats csv,xlsx,...]

Uses the seeded SQLite database that benchmarks/growth.py keeps in var/bench/ for that size (seeding
it first, through `seed_demo`, if there is none; the seeding time is reported apart). Speed is measured
here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django(db_path: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "trial.settings.test"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=10000)
    parser.add_argument("--formats", default="csv,xlsx,xpt,sav,dta,r,odm,sdtm")
    args = parser.parse_args()
    from benchmarks.growth import database_for

    protocol = (ROOT / os.environ.get("STRATUM_PROTOCOL", "protocols/infliximab_trd.toml")).resolve()
    path, seeded = database_for(args.participants, protocol, reseed=False)
    if seeded is not None:
        print(f"seeded {args.participants} participants in {seeded:.0f} s")
    os.environ["STRATUM_PROTOCOL"] = str(protocol)
    setup_django(path)
    from django.contrib.auth import get_user_model

    from trial.exports.services import export_bundle

    users = get_user_model().objects
    print(f"{'format':<6} {'as':<13} {'seconds':>8} {'MB':>8}")
    for fmt in args.formats.split(","):
        for username, with_arm in (("statistician", False), ("unblinded", True)):
            t0 = time.perf_counter()
            bundle = export_bundle(by=users.get(username=username), fmt=fmt, include_arm=with_arm)
            elapsed = time.perf_counter() - t0
            print(f"{fmt:<6} {username:<13} {elapsed:8.1f} {len(bundle.content) / 1e6:8.1f}")


if __name__ == "__main__":
    main()
