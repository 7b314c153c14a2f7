from typing import Any

from django.conf import settings
from django.http import HttpRequest

from trial.core.roles import ROLE_LABELS, user_roles


def stratum(request: HttpRequest) -> dict[str, Any]:
    roles = user_roles(getattr(request, "user", None))
    return {
        "stratum_roles": sorted(ROLE_LABELS[r] for r in roles),
        # For the idle warning in base.html (trial.core.middleware.IdleTimeoutMiddleware).
        "stratum_idle_timeout_seconds": settings.STRATUM_IDLE_TIMEOUT_SECONDS,
        "stratum_idle_warning_seconds": settings.STRATUM_IDLE_WARNING_SECONDS,
        "stratum_two_factor_required": settings.STRATUM_REQUIRE_TWO_FACTOR,
    }
