"""Who may open which randomization and pharmacy page: one role set per view, enforced by a mixin.

Whether a user may see an ARM is not decided here; ask trial.blinding.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from rest_framework.permissions import BasePermission

from trial.core.roles import Role, has_role

ALLOCATION_VIEWERS = (
    Role.COORDINATOR,
    Role.INVESTIGATOR,
    Role.DATA_MANAGER,
    Role.STATISTICIAN_BLINDED,
    Role.STATISTICIAN_UNBLINDED,
    Role.PHARMACIST,
    Role.DSMB,
)
RANDOMIZERS = (Role.COORDINATOR, Role.INVESTIGATOR)
LIST_MANAGERS = (Role.STATISTICIAN_UNBLINDED,)
CODE_BREAK_REQUESTERS = (Role.INVESTIGATOR,)
CODE_BREAK_VIEWERS = (Role.INVESTIGATOR, Role.STATISTICIAN_UNBLINDED, Role.DSMB)
PHARMACY_VIEWERS = (Role.PHARMACIST, Role.STATISTICIAN_UNBLINDED, Role.DSMB)
PHARMACISTS = (Role.PHARMACIST,)


class RoleRequiredMixin(LoginRequiredMixin):
    """Anonymous: redirect to login. Logged in without one of `allowed_roles`: 403."""

    allowed_roles: tuple[Role, ...] = ()

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and not has_role(request.user, *self.allowed_roles):
            raise PermissionDenied("Your role does not give access to this page.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


def role_permission(*roles: Role) -> type[BasePermission]:
    class HasRole(BasePermission):
        message = "Your role does not give access to this endpoint."

        def has_permission(self, request: Any, view: Any) -> bool:
            return bool(request.user and request.user.is_authenticated and has_role(request.user, *roles))

    return HasRole
