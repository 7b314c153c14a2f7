"""Backup and restore, drilled on the suite's own database (SQLite here, PostgreSQL in CI): the
copy restores into an empty database with every row, passes audit_verify, and a changed file or a
non-empty target is refused (ICH E6(R3) essential records; 21 CFR 11.10(b), (c))."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from trial.core.backup import BackupError, Manifest, backup, manifest_path, restore, row_counts

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db(transaction=True)


def _manage(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "trial.settings.test"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def empty_database(tmp_path: Path) -> Any:
    """A URL of a new, empty database of the suite's own kind."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    import psycopg

    s = connection.settings_dict
    name = f"{s['NAME']}_restore"
    admin = f"postgresql://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _counts_at(db_url: str) -> dict[str, int]:
    code = "import django,json;django.setup();from trial.core.backup import row_counts;print(json.dumps(row_counts()))"
    env = os.environ | {"DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "trial.settings.test"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    import json

    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_backup_restores_into_an_empty_database_with_every_row_and_an_intact_audit_trail(
    randomized: Any, baseline_visit: Any, tmp_path: Path, empty_database: str
) -> None:
    file = tmp_path / "trial.backup"
    manifest = backup(file)
    assert manifest.engine == connection.vendor
    assert manifest.row_counts == row_counts()
    assert manifest.row_counts["participants_participant"] >= 1
    assert manifest_path(file).exists()

    result = _manage(empty_database, "restore", str(file))
    assert result.returncode == 0, result.stderr
    assert "every count matches" in result.stdout
    assert _counts_at(empty_database) == manifest.row_counts
    verified = _manage(empty_database, "audit_verify")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout


def test_a_restore_refuses_a_database_that_is_not_empty(randomized: Any, tmp_path: Path) -> None:
    file = tmp_path / "trial.backup"
    backup(file)
    before = row_counts()
    with pytest.raises(BackupError, match="not empty"):
        restore(file)
    assert row_counts() == before


def test_a_restore_refuses_a_changed_file_or_one_without_its_manifest(randomized: Any, tmp_path: Path) -> None:
    file = tmp_path / "trial.backup"
    backup(file)
    with file.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(BackupError, match="SHA-256"):
        restore(file)
    manifest_path(file).unlink()
    with pytest.raises(BackupError, match="manifest"):
        restore(file)


def test_the_manifest_counts_the_rows_the_file_holds(randomized: Any, tmp_path: Path) -> None:
    """Counted independently of our own code: straight from the copy (SQLite) or via pg_restore --list."""
    file = tmp_path / "trial.backup"
    manifest = backup(file)
    assert Manifest.read(file) == manifest
    if connection.vendor != "sqlite":
        listing = subprocess.run(["pg_restore", "--list", str(file)], capture_output=True, text=True, check=True)
        assert "TABLE DATA public participants_participant" in listing.stdout
        return
    copy = sqlite3.connect(file)
    try:
        n = copy.execute("SELECT COUNT(*) FROM participants_participant").fetchone()[0]
    finally:
        copy.close()
    assert n == manifest.row_counts["participants_participant"]
