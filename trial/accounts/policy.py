"""Who may give whom a role. Unblinding a person is not an administrator's call (ICH E6(R3) 4.2)."""

from __future__ import annotations

from trial import blinding
from trial.core.types import Actor


def may_grant_role(granter: Actor | None, role: str) -> bool:
    """May this user give someone the role, or take it away?

    Granting an unblinded role (pharmacist, unblinded statistician, DSMB) is kept to the deployment's
    superuser, so a blinded administrator cannot unblind anyone, least of all themselves.
    """
    if granter is None or not granter.is_authenticated:
        return False
    if role in {r.value for r in blinding.UNBLINDED_ROLES}:
        return bool(getattr(granter, "is_superuser", False))
    return True
