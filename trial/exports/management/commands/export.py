"""`python manage.py export --format csv --out DIR --as USERNAME [--datasets a,b] [--with-arm]`.

The same engine as the exports page: the blind of the named user, the same files and manifest,
the same access-log entry.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trial.exports.formats import FORMATS
from trial.exports.services import ExportError, export_bundle


class Command(BaseCommand):
    help = "Export datasets in one format as a named user would see them (files, manifest.json and the ZIP)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=sorted(FORMATS))
        parser.add_argument("--out", required=True, help="Directory to write the files and the ZIP into.")
        parser.add_argument("--as", dest="username", required=True, help="Export with this user's access and blind.")
        parser.add_argument("--datasets", default="", help="Comma-separated dataset codes (default: all allowed).")
        parser.add_argument("--with-arm", action="store_true", help="Include the arm (unblinded roles only).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['username']!r}.")
        datasets = [c.strip() for c in options["datasets"].split(",") if c.strip()] or None
        try:
            bundle = export_bundle(by=user, fmt=options["format"], datasets=datasets, include_arm=options["with_arm"])
        except (ExportError, PermissionDenied) as exc:
            raise CommandError(str(exc)) from exc
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        (out / bundle.filename).write_bytes(bundle.content)
        with zipfile.ZipFile(io.BytesIO(bundle.content)) as zf:
            zf.extractall(out)
        self.stdout.write(f"{bundle.filename}: {len(bundle.manifest['files'])} files written to {out}")
