"""One small trial (tests/trial/blinding/world.py: both arms, labs, pharmacy, a code break) per test."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture
def bundle_files(users: dict[str, Any]) -> Any:
    """`bundle_files("statistician", "csv", datasets=[...])` -> {file name: bytes} of the export ZIP."""
    from trial.exports.services import export_bundle

    def make(username: str, fmt: str, **kwargs: Any) -> dict[str, bytes]:
        return unzip(export_bundle(by=users[username], fmt=fmt, **kwargs).content)

    return make
