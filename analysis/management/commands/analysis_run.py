"""Run an analysis from the command line, as a named user, and write its unpacked bundle.

    python manage.py analysis_run --kind final --as unblinded --wait --out DIR

The run goes through the same services as the page: that user's rights and blind apply (a blinded
user gets a refusal for a by-arm kind, and pooled output otherwise), and the run and the download
are in the access log.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from analysis import report, services
from analysis.models import AnalysisRun

KINDS = {
    "summary": AnalysisRun.Kind.DATASET_SUMMARY,
    "pooled": AnalysisRun.Kind.MMRM_POOLED,
    "final": AnalysisRun.Kind.MMRM_FINAL,
    "dsmb": AnalysisRun.Kind.DSMB_CLOSED,
}


class Command(BaseCommand):
    help = "Request an analysis run as a user; with --wait, wait for it and write its bundle into --out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=sorted(KINDS), required=True)
        parser.add_argument("--as", dest="username", required=True, help="the user whose rights and blind apply")
        parser.add_argument("--wait", action="store_true", help="wait for the run to finish")
        parser.add_argument("--out", type=Path, help="directory for the unpacked bundle (with --wait)")
        parser.add_argument("--timeout", type=float, default=15 * 60, help="seconds to wait (default 900)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = get_user_model().objects.get(username=options["username"], is_active=True)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No active user {options['username']!r}.") from exc
        try:
            with transaction.atomic():
                run = services.analysis_run_request(kind=KINDS[options["kind"]], by=user)
        except PermissionDenied as exc:
            raise CommandError(f"Refused: {exc}") from exc
        self.stdout.write(f"Run {run.pk} queued ({run.get_kind_display()}).")
        if not options["wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        run.refresh_from_db()
        if run.status == AnalysisRun.Status.QUEUED and getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
            # No broker (eager mode): the task would run in this process anyway. Run it now; the
            # claim makes the on-commit delivery a no-op if it comes as well.
            run = services.analysis_run_execute(run_id=run.pk)
        while run.status in (AnalysisRun.Status.QUEUED, AnalysisRun.Status.RUNNING):
            if time.monotonic() > deadline:
                raise CommandError(f"Run {run.pk} still {run.status} after {options['timeout']:.0f} s.")
            time.sleep(1)
            run.refresh_from_db()
        if run.status != AnalysisRun.Status.DONE:
            raise CommandError(f"Run {run.pk} failed: {run.error}")
        self.stdout.write(f"Run {run.pk} done; dataset SHA-256 {run.provenance.get('dataset_sha256')}.")
        if options["out"]:
            run = services.analysis_run_download(by=user, pk=run.pk, what="bundle (command line)")
            out: Path = options["out"]
            for name, data in report.bundle_files(run).items():
                path = out / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            self.stdout.write(f"Bundle written to {out}.")
