"""Reads of the protocol: the parsed file, cached per process."""

import os
from functools import lru_cache

from django.conf import settings

from trial.core.validators import held_read
from trial.protocol.config import ProtocolConfig, load_protocol_file


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> ProtocolConfig:
    return load_protocol_file(path)


def protocol() -> ProtocolConfig:
    """The protocol in force. Re-read when the file changes, so tests and reloads see edits; while many
    records are validated together (trial.core.validators.reads_held), the file is looked at once,
    not once per rule of every record."""
    path = str(settings.STRATUM_PROTOCOL_FILE)
    # os.stat, not Path.stat: asked for every rule of every record, where building the Path was half the cost.
    return held_read(("protocol", path), lambda: _load(path, os.stat(path).st_mtime))
