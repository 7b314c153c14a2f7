import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial.demo.closing import demo_trial_close
from trial.demo.seeding import AlreadySeededError, SeedReport, demo_trial_seed


class Command(BaseCommand):
    help = "Seed a synthetic trial (demo users, randomization list, participants) through the services."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--participants", type=int, default=60)
        parser.add_argument(
            "--seed",
            type=int,
            default=2013,
            help="Shapes the synthetic participants and their courses; never the randomization list.",
        )
        parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD; defaults to today")
        parser.add_argument(
            "--closed",
            action="store_true",
            help="Seed a finished trial, then close it through the services: queries closed, every casebook "
            "verified, signed and locked, the database locked (two approvals) and formally unblinded.",
        )
        parser.add_argument(
            "--progress-every",
            type=int,
            default=10,
            help="Print a progress line every N people seeded (none at --verbosity 0).",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Say so and exit 0 when data already exist (make demo)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["participants"] < 1:
            raise CommandError("--participants must be at least 1.")
        if options["progress_every"] < 1:
            raise CommandError("--progress-every must be at least 1.")
        started = time.perf_counter()

        def progress(done: int, total: int, report: SeedReport) -> None:
            self.stdout.write(
                f"  {done}/{total} people seeded ({report.randomized} randomized) "
                f"in {time.perf_counter() - started:.1f}s"
            )

        try:
            report = demo_trial_seed(
                participants=options["participants"],
                seed=options["seed"],
                today=options["today"],
                finished=options["closed"],
                progress=progress if options["verbosity"] >= 1 else None,
                progress_every=options["progress_every"],
            )
        except AlreadySeededError as exc:
            if options["if_empty"]:
                self.stdout.write(f"Demo data already present; nothing to do. ({exc})")
                return
            raise CommandError(str(exc)) from exc
        r = report
        self.stdout.write(
            f"Seeded {r.screened} screened ({r.screen_failed} screen failures, {r.awaiting_randomization} awaiting "
            f"randomization), {r.randomized} randomized: {r.completed} completed, {r.withdrawn} withdrawn, "
            f"{r.in_follow_up} in follow-up; {r.visits_done} visits done, {r.visits_missed} missed, "
            f"{r.adverse_events} adverse events; in {time.perf_counter() - started:.1f}s."
        )
        if options["closed"]:
            c = demo_trial_close()
            self.stdout.write(
                f"Closed: {c.finished} finished at close-out, {c.forms_not_done} forms marked not done, "
                f"{c.queries_closed} queries closed, {c.forms_verified} forms verified, {c.casebooks_locked} "
                "casebooks signed and locked; database locked and formally unblinded; "
                f"in {time.perf_counter() - started:.1f}s."
            )
