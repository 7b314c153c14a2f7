"""`manage.py restore FILE`: restore a backup made by `manage.py backup` into the configured, empty
database, after checking the file against its manifest, and check every table's row count after.
See trial/core/backup.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial.core.backup import BackupError, describe, restore


class Command(BaseCommand):
    help = "Restore a backup into an empty database and verify it against the backup's manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A file written by `manage.py backup`.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = restore(options["file"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        d = describe(manifest)
        self.stdout.write(
            self.style.SUCCESS(f"restore: {d['tables']} tables, {d['rows']} rows, every count matches the backup")
        )
        self.stdout.write("next: run `manage.py audit_verify` on the restored database")
