"""`manage.py backup --out FILE`: a consistent copy of the trial database with a manifest beside it
(SHA-256 and the row count of every table), for `manage.py restore`. See trial/core/backup.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial.core.backup import BackupError, backup, describe, manifest_path


class Command(BaseCommand):
    help = "Back up the database (pg_dump on PostgreSQL, the online backup API on SQLite) with a manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="The backup file to write.")

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        try:
            manifest = backup(out)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        d = describe(manifest)
        self.stdout.write(f"backup: {out} ({d['engine']}, {d['tables']} tables, {d['rows']} rows)")
        self.stdout.write(f"sha256: {d['sha256']}")
        self.stdout.write(f"manifest: {manifest_path(out.resolve())}")
