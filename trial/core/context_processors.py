from typing import Any

from django.http import HttpRequest

from trial.core.roles import ROLE_LABELS, user_roles


def stratum(request: HttpRequest) -> dict[str, Any]:
    roles = user_roles(getattr(request, "user", None))
    return {"stratum_roles": sorted(ROLE_LABELS[r] for r in roles)}
