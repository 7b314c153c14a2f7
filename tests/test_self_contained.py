"""A fresh clone, with nothing beside it, must pass the suite: no file reads the steering folder.

The SAS listings the statistics tests compare against are copied into tests/data/sas/. A path that
climbs out of the repository to a sibling folder would work on a developer's machine and fail on
every clean clone, so any such reference in code, configuration or scripts fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "var", "node_modules", "staticfiles", "artifacts", "__pycache__", ".mypy_cache"}
# Prose may say where a copied file came from; code and configuration may not go and look.
PROSE = {".md", ".txt", ".csv", ".json"}
# Built so that this file does not match itself.
SIBLING = "sha" + "red"
PATTERNS = [
    re.compile(r"\.\./" + SIBLING + r"\b"),
    re.compile(r"""["']""" + SIBLING + r"""["']"""),
    re.compile(r"parents?\[\d\]\.parent\s*/\s*[\"']" + SIBLING),
]


def repository_files() -> list[Path]:
    files = []
    for path in REPO.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(REPO).parts):
            continue
        if path.is_file() and path.suffix not in PROSE:
            files.append(path)
    return files


def test_it_finds_the_files_it_is_meant_to_scan() -> None:
    names = {p.relative_to(REPO).as_posix() for p in repository_files()}
    assert {"Makefile", ".ci/run", "tests/analysis/stats/sas_reference.py", "trial/settings/base.py"} <= names


def test_it_reads_nothing_outside_the_repository() -> None:
    offenders = []
    for path in repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if any(p.search(line) for p in PATTERNS):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert offenders == []


def test_the_pattern_catches_a_sibling_path() -> None:
    # The check above can fail: each way of writing the sibling path is caught.
    for line in ("open('../" + SIBLING + "/reference/x.json')", "Path(x).parents[2].parent / '" + SIBLING + "'"):
        assert any(p.search(line) for p in PATTERNS), line


def test_the_sas_reference_is_in_the_repository() -> None:
    for name in ("fev_data.csv", "sas_fev_reference.json", "sas_fev_kr_reference.json"):
        assert (REPO / "tests" / "data" / "sas" / name).stat().st_size > 1000
