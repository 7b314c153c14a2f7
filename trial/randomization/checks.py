"""System check at start-up: the active randomization list still matches the SHA-256 recorded when it
was made (21 CFR 11.10(a): the record can be shown not to have changed).
Runs with every `manage.py` command that checks (runserver, migrate, check)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register
from django.db import DatabaseError


@register("stratum")
def check_randomization_list_integrity(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from trial.randomization.models import RandomizationList
    from trial.randomization.services import list_intact

    try:
        lists = list(RandomizationList.objects.filter(is_active=True))
        errors = []
        for rl in lists:
            if not list_intact(rl):
                errors.append(
                    Error(
                        f"Randomization list {rl.pk} ({rl.name}) does not match the SHA-256 recorded when it was made.",
                        hint="The list was changed outside Stratum. Allocation is stopped until the unblinded "
                        "statistician investigates.",
                        id="stratum.E101",
                    )
                )
        return errors
    except (DatabaseError, RuntimeError):
        # No tables yet (before the first migrate), or database access is not allowed in this context
        # (pytest-django outside a db test): nothing to check. The allocation re-checks the hash anyway.
        return []
