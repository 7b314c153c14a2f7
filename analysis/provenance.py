"""Provenance of an analysis run: which data, protocol, code and libraries produced it.

ICH E6(R3) (data governance: results traceable to the data and software that produced them) and
21 CFR 11.10(b) (accurate and complete copies): every run records the SHA-256 of the exact analysis
dataset and of the protocol file, the code version, the numerical libraries' versions, the seed,
who asked, when and which worker host ran it. The report's footer prints all of it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings

LIBRARIES = ("numpy", "scipy", "pandas", "statsmodels", "matplotlib", "Django")


def frame_csv(df: pd.DataFrame) -> str:
    """The canonical text of a dataset: CSV, fixed column order, '\\n' line ends, full float precision."""
    return str(df.to_csv(index=False, lineterminator="\n", float_format="%.17g"))


def datasets_sha256(datasets: dict[str, str]) -> str:
    """One hash over every dataset of the run, in name order, each prefixed by its name and length."""
    digest = hashlib.sha256()
    for name in sorted(datasets):
        data = datasets[name].encode("utf-8")
        digest.update(f"{name}\n{len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def stratum_version() -> str:
    try:
        return importlib.metadata.version("stratum")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(settings.BASE_DIR) / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def code_version() -> str:
    """`git describe` of the deployed tree; the package version where there is no git checkout."""
    try:
        proc = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],  # noqa: S607 - git from PATH
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        proc = None
    if proc is not None and proc.returncode == 0 and proc.stdout.strip():
        return f"git {proc.stdout.strip()}"
    return f"stratum {stratum_version()} (no git checkout)"


def library_versions() -> dict[str, str]:
    out = {"Stratum": stratum_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_provenance(*, run: Any, datasets: dict[str, str]) -> dict[str, Any]:
    return {
        "dataset_sha256": datasets_sha256(datasets),
        "dataset_rows": {name: max(text.count("\n") - 1, 0) for name, text in sorted(datasets.items())},
        "protocol_sha256": file_sha256(Path(settings.STRATUM_PROTOCOL_FILE)),
        "code_version": code_version(),
        "versions": library_versions(),
        "seed": run.seed,
        "requested_by": run.requested_by.get_username(),
        "requested_at": run.requested_at.isoformat() if run.requested_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "worker_host": run.worker_host,
    }
