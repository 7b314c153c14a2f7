"""System check: every eligibility criterion of the protocol file can be answered on the screening form."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from trial.participants.eligibility import computed_criteria
from trial.participants.models import Screening
from trial.protocol.config import ProtocolError, load_protocol_file


@register("stratum")
def check_criteria_have_fields(app_configs: Any, **kwargs: Any) -> list[Error]:
    path = Path(settings.STRATUM_PROTOCOL_FILE)
    try:
        config = load_protocol_file(path)
    except (OSError, ProtocolError):
        return []  # trial.protocol's own check reports an unreadable or inconsistent file
    return _criteria_match_the_screening_form(config, path.name)


def _criteria_match_the_screening_form(config: Any, filename: str) -> list[Error]:
    """Each criterion is its own field of the screening record; a criterion with no field could never
    be answered, so nobody would ever be eligible. Refuse that at start-up, not at the first screening."""
    fields = {f.name for f in Screening._meta.get_fields()}
    computable = set(computed_criteria({}, config))
    errors = []
    for crit in config.inclusion + config.exclusion:
        if crit.code not in fields:
            errors.append(
                Error(
                    f"Protocol file {filename}: criterion '{crit.code}' has no field on the screening form.",
                    id="stratum.E003",
                )
            )
        elif crit.computed and crit.code not in computable:
            errors.append(
                Error(
                    f"Protocol file {filename}: criterion '{crit.code}' is marked computed but no rule computes it.",
                    id="stratum.E003",
                )
            )
    return errors
