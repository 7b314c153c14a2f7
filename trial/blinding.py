"""The one module that decides who may see a participant's treatment arm.

Every surface (pages, API serializers, admin, exports, audit views, analysis frames) asks here;
none reads `ListEntry.arm` itself. The rule (Design: Blinding; ICH E6(R3)):
- the pharmacist, the unblinded statistician and a DSMB member in closed session may see arms;
- an approved emergency code break reveals one participant's arm to its requester only;
- everyone else sees the randomization number and date only. A superuser is not an exception.
Raters also may not see post-baseline values of the analytes the protocol flags as revealing the
arm (hs-CRP, TNF and its receptors: infliximab lowers them).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from trial.core.roles import Role, user_roles

UNBLINDED_ROLES = frozenset({Role.PHARMACIST, Role.STATISTICIAN_UNBLINDED, Role.DSMB})

User = AbstractBaseUser | AnonymousUser | None

HIDDEN = "Blinded"


def is_unblinded_role(user: User) -> bool:
    """May this user see every participant's arm?"""
    return bool(user_roles(user) & UNBLINDED_ROLES)


def can_see_arm(user: User, participant: Any = None) -> bool:
    """May this user see this participant's arm (or, without a participant, all arms)?"""
    if is_unblinded_role(user):
        return True
    if participant is None or user is None or not user.is_authenticated:
        return False
    return _has_code_break(user, participant)


def _has_code_break(user: Any, participant: Any) -> bool:
    from trial.randomization.models import CodeBreak

    if getattr(participant, "pk", None) is None:
        return False
    return bool(CodeBreak.objects.revealing_to(user=user, participant=participant).exists())


def arm_code(user: User, participant: Any) -> str | None:
    """The participant's arm code if this user may see it, else None. Never raises a revealing error."""
    if not can_see_arm(user, participant):
        return None
    allocation = getattr(participant, "allocation", None)
    return allocation.entry.arm if allocation is not None else None


def arm_label(user: User, participant: Any) -> str | None:
    code = arm_code(user, participant)
    if code is None:
        return None
    from trial.protocol.selectors import protocol

    return protocol().arm(code).label


def arm_display(user: User, participant: Any) -> str:
    """For a page cell: the arm label if allowed, else the word HIDDEN (the same for every participant)."""
    return arm_label(user, participant) or HIDDEN


def lab_value_display(user: User, *, analyte: str, week: int, value: Any) -> Any:
    """The value if this user may see it, else HIDDEN: the same word whatever the value."""
    return value if can_see_lab_value(user, analyte=analyte, week=week) else HIDDEN


def can_see_lab_value(user: User, *, analyte: str, week: int) -> bool:
    """Raters do not see post-baseline values of analytes that can reveal the arm."""
    if week <= 0:
        return True
    if Role.RATER not in user_roles(user):
        return True
    from trial.protocol.selectors import protocol

    codes = {a.code for a in protocol().labs if a.reveals_arm_post_baseline}
    return analyte not in codes


def hidden_lab_analytes_for(user: User) -> frozenset[str]:
    """Analyte codes whose post-baseline values this user may not see."""
    if Role.RATER not in user_roles(user):
        return frozenset()
    from trial.protocol.selectors import protocol

    return frozenset(a.code for a in protocol().labs if a.reveals_arm_post_baseline)


def is_code_broken(participant: Any) -> bool:
    """Has this participant's arm been revealed by an emergency code break? (flagged in analysis datasets)"""
    from trial.randomization.models import CodeBreak

    return bool(
        CodeBreak.objects.active()
        .filter(participant=participant, status__in=(CodeBreak.Status.APPROVED, CodeBreak.Status.IMMEDIATE))
        .exists()
    )


def may_grant_role(granter: User, role: str) -> bool:
    """May this user give someone the role? Unblinding a person is not an administrator's call.

    Granting an unblinded role (pharmacist, unblinded statistician, DSMB) is kept to the deployment's
    superuser, so a blinded administrator cannot unblind anyone, least of all themselves.
    """
    if granter is None or not granter.is_authenticated:
        return False
    if role in {r.value for r in UNBLINDED_ROLES}:
        return bool(getattr(granter, "is_superuser", False))
    return True
