"""Who may manage whose account, and who may give whom a role.

A blinded administrator manages blinded accounts only. Accounts that could reveal an arm or approve
its revelation (an unblinded role, a code-break approval right, superuser status) are a superuser's
alone: to create, change, reset, deactivate and even to list (ICH E6(R3) 4.2: the blind is kept by
design; 21 CFR 11.10(d): access limited to authorised individuals). Otherwise an administrator could
reset such an account's password and log in as it.
"""

from __future__ import annotations

from typing import Any

from trial import blinding
from trial.access import ARM_REVEALING, Capability, roles_for
from trial.core.roles import Role
from trial.core.types import Actor


def superuser_only_roles() -> frozenset[Role]:
    """Roles only a superuser may grant or revoke, and whose holders only a superuser may manage."""
    revealing = frozenset(r for c in ARM_REVEALING for r in roles_for(c))
    return blinding.UNBLINDED_ROLES | revealing | roles_for(Capability.DECIDE_CODE_BREAK)


def is_protected_account(account: Any) -> bool:
    """Superusers, and holders of a role from `superuser_only_roles`."""
    if getattr(account, "is_superuser", False):
        return True
    names = set(account.groups.values_list("name", flat=True)) if getattr(account, "pk", None) else set()
    return bool(names & {r.value for r in superuser_only_roles()})


def may_manage_account(manager: Actor | None, account: Any) -> bool:
    if manager is None or not manager.is_authenticated:
        return False
    return bool(getattr(manager, "is_superuser", False)) or not is_protected_account(account)


# Superuser status, recorded in the role-change log as if it were a role: it is the widest grant of all.
SUPERUSER_STATUS = "superuser"


def may_grant_role(granter: Actor | None, role: str) -> bool:
    """May this user give someone the role, or take it away? (Never their own: `may_change_roles_of`.)"""
    if granter is None or not granter.is_authenticated:
        return False
    if role == SUPERUSER_STATUS or role in {r.value for r in superuser_only_roles()}:
        return bool(getattr(granter, "is_superuser", False))
    return True


def may_change_roles_of(granter: Actor | None, account: Any) -> bool:
    """Nobody changes their own roles, a superuser included: a grant always involves a second person."""
    return granter is not None and granter.is_authenticated and getattr(account, "pk", None) != granter.pk
