"""Reads of the protocol: the parsed file, cached per process."""

from functools import lru_cache
from pathlib import Path

from django.conf import settings

from trial.protocol.config import ProtocolConfig, load_protocol_file


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> ProtocolConfig:
    return load_protocol_file(path)


def protocol() -> ProtocolConfig:
    """The protocol in force. Re-read when the file changes, so tests and reloads see edits."""
    path = Path(settings.STRATUM_PROTOCOL_FILE)
    return _load(str(path), path.stat().st_mtime)
