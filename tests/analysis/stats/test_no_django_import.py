"""analysis/stats must not import Django (house style: Django-free statistics)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import analysis.stats

PACKAGE_DIR = Path(analysis.stats.__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parents[1]


def test_importing_every_submodule_loads_no_django() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import analysis.stats as pkg\n"
        "for m in pkgutil.walk_packages(pkg.__path__, 'analysis.stats.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_no_source_file_mentions_a_django_import() -> None:
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "django"]
    assert not offenders, offenders
