"""Consistent backups of the trial database and their restore, drilled in CI.

ICH E6(R3) (essential records) asks that the trial's records can be retrieved, complete, for the
retention period; 21 CFR 11.10(b) and (c) ask for accurate and complete copies and for records
protected so they can be retrieved throughout that period. A backup is only as good as its
restore, so every backup carries a manifest (SHA-256 of the file, row count of every table) and a
restore checks both: the file is the one that was written, and the copy holds every row.

- PostgreSQL: `pg_dump --format=custom` (one consistent snapshot of a running database) and
  `pg_restore` into an empty database.
- SQLite: the online backup API (a consistent copy while the server keeps writing) and a restore
  into an empty database file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

MANIFEST_SUFFIX = ".manifest.json"


class BackupError(Exception):
    """The backup or the restore could not be made, or would not be complete."""


@dataclass(frozen=True)
class Manifest:
    engine: str
    sha256: str
    row_counts: dict[str, int]

    def write(self, backup: Path) -> Path:
        path = manifest_path(backup)
        path.write_text(json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def read(cls, backup: Path) -> Manifest:
        path = manifest_path(backup)
        if not path.exists():
            raise BackupError(f"{path.name} is missing: without it the copy cannot be checked, so it is not restored")
        data = json.loads(path.read_text())
        return cls(engine=data["engine"], sha256=data["sha256"], row_counts=dict(data["row_counts"]))


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def row_counts() -> dict[str, int]:
    """Rows in every table of the current database, by table name."""
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            # The name comes from the database's own catalogue, quoted by the backend.
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = int(cursor.fetchone()[0])
    return counts


def _pg_env() -> tuple[list[str], dict[str, str]]:
    s = connection.settings_dict
    args = ["--host", s.get("HOST") or "127.0.0.1", "--port", str(s.get("PORT") or 5432)]
    if s.get("USER"):
        args += ["--username", s["USER"]]
    env = dict(os.environ)
    if s.get("PASSWORD"):
        env["PGPASSWORD"] = s["PASSWORD"]
    return args, env


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed: install the PostgreSQL client tools of the server's version")
    # A fixed program with arguments from the settings, never a shell.
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[-2000:]}")


def backup(out: Path) -> Manifest:
    """Write a consistent copy of the database to `out`, and its manifest beside it."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = row_counts()
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(out)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
    elif connection.vendor == "postgresql":
        args, env = _pg_env()
        db_name = connection.settings_dict["NAME"]
        # --format=custom takes one snapshot (a repeatable-read transaction) of the whole database.
        _run(
            ["pg_dump", *args, "--format=custom", "--no-owner", "--no-privileges", "--file", str(out), db_name],
            env,
        )
    else:
        raise BackupError(f"no backup method for the {connection.vendor} database")
    manifest = Manifest(engine=connection.vendor, sha256=file_sha256(out), row_counts=counts)
    manifest.write(out)
    return manifest


def restore(backup_file: Path) -> Manifest:
    """Restore `backup_file` into the configured database, which must be empty, then check that
    every table holds the rows the manifest recorded."""
    backup_file = backup_file.resolve()
    if not backup_file.exists():
        raise BackupError(f"{backup_file} does not exist")
    manifest = Manifest.read(backup_file)
    if file_sha256(backup_file) != manifest.sha256:
        raise BackupError("the backup file's SHA-256 differs from its manifest: the file was changed or is incomplete")
    if manifest.engine != connection.vendor:
        raise BackupError(f"a {manifest.engine} backup cannot be restored into a {connection.vendor} database")
    with connection.cursor() as cursor:
        existing = connection.introspection.table_names(cursor)
    if existing:
        # Restoring over live data would mix two trials' records: refuse, never merge or overwrite.
        raise BackupError(f"the target database is not empty ({len(existing)} tables): restore only into an empty one")
    if connection.vendor == "sqlite":
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        try:
            connection.ensure_connection()
            source.backup(connection.connection)
        finally:
            source.close()
    else:
        args, env = _pg_env()
        db_name = connection.settings_dict["NAME"]
        _run(
            [
                "pg_restore",
                *args,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--dbname",
                db_name,
                str(backup_file),
            ],
            env,
        )
    connection.close()
    restored = row_counts()
    differ = {t: (n, restored.get(t)) for t, n in manifest.row_counts.items() if restored.get(t) != n}
    if differ:
        raise BackupError(f"the restored copy differs from the backup in {len(differ)} table(s): {differ}")
    return manifest


def describe(manifest: Manifest) -> dict[str, Any]:
    return {
        "engine": manifest.engine,
        "sha256": manifest.sha256,
        "tables": len(manifest.row_counts),
        "rows": sum(manifest.row_counts.values()),
    }
