"""System checks: refuse to start with an inconsistent protocol file."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from trial.protocol.config import ProtocolError, load_protocol_file


@register("stratum")
def check_protocol_file(app_configs: Any, **kwargs: Any) -> list[Error]:
    path = Path(settings.STRATUM_PROTOCOL_FILE)
    if not path.exists():
        return [Error(f"Protocol file {path} does not exist.", hint="Set STRATUM_PROTOCOL_FILE.", id="stratum.E001")]
    try:
        load_protocol_file(path)
    except ProtocolError as exc:
        return [Error(f"Protocol file {path.name}: {p}", id="stratum.E002") for p in exc.problems]
    return []
