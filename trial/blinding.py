"""The one module that decides who may see a participant's treatment arm.

Every surface (pages, API serializers, admin, exports, audit views, analysis frames) asks here;
none reads `ListEntry.arm` itself. The rule (Design: Blinding; ICH E6(R3)):
- the pharmacist, the unblinded statistician and a DSMB member in closed session may see arms;
- an approved emergency code break reveals one participant's arm to its requester only;
- everyone else sees the randomization number and date only. A superuser is not an exception.
- after database lock and the formal unblinding, the roles the protocol file lists under
  [unblinding] roles_that_see_arms see arms too (Design: blind "until the whole trial is complete").
Blinded roles also may not see post-baseline values of the analytes the protocol flags as revealing
the arm (hs-CRP, TNF and its receptors: infliximab lowers them), and the roles the protocol names
see no adverse events (some terms occur on one arm only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trial.core.roles import Role, user_roles
from trial.core.types import Actor
from trial.protocol.selectors import protocol

UNBLINDED_ROLES = frozenset({Role.PHARMACIST, Role.STATISTICIAN_UNBLINDED, Role.DSMB})

HIDDEN = "Blinded"


# Has the study been formally unblinded? trial.closeout, which records that event, registers its
# lookup from AppConfig.ready, so this module imports nothing above it and stays the one that decides.
_study_unblinded: list[Callable[[], bool]] = []


def study_unblinded_register(lookup: Callable[[], bool]) -> None:
    if lookup not in _study_unblinded:
        _study_unblinded.append(lookup)


def study_is_unblinded() -> bool:
    return any(lookup() for lookup in _study_unblinded)


def roles_unblinded_after_unblinding() -> frozenset[Role]:
    names = set(protocol().unblinded_after_unblinding)
    return frozenset(r for r in Role if r.value in names)


def is_unblinded_role(user: Actor | None) -> bool:
    """May this user see every participant's arm?"""
    roles = user_roles(user)
    if roles & UNBLINDED_ROLES:
        return True
    return bool(roles & roles_unblinded_after_unblinding()) and study_is_unblinded()


def can_see_arm(user: Actor | None, participant: Any = None) -> bool:
    """May this user see this participant's arm (or, without a participant, all arms)?"""
    if is_unblinded_role(user):
        return True
    if participant is None or user is None or not user.is_authenticated:
        return False
    return _has_code_break(user, participant)


def _has_code_break(user: Any, participant: Any) -> bool:
    # Through the participant's relation, so this module imports nothing above it.
    if getattr(participant, "pk", None) is None:
        return False
    return bool(participant.code_breaks.revealing_to(user=user).exists())


def arm_code(user: Actor | None, participant: Any) -> str | None:
    """The participant's arm code if this user may see it, else None. Never raises a revealing error."""
    if not can_see_arm(user, participant):
        return None
    allocation = getattr(participant, "allocation", None)
    return allocation.entry.arm if allocation is not None else None


def arm_codes(user: Actor | None, participants: Any) -> dict[int, str | None]:
    """arm_code for many participants, by primary key, with at most one query (the code breaks that
    reveal an arm to this user), so a list's cost does not grow with its length. Same rule as arm_code."""
    participants = list(participants)

    def allocated(p: Any) -> str | None:
        allocation = getattr(p, "allocation", None)
        return allocation.entry.arm if allocation is not None else None

    if is_unblinded_role(user):
        return {p.pk: allocated(p) for p in participants}
    if user is None or not user.is_authenticated or not participants:
        return dict.fromkeys((p.pk for p in participants), None)
    # Through the participant's relation, so this module imports nothing above it.
    breaks = type(participants[0])._meta.get_field("code_breaks").related_model.objects.revealing_to(user=user)
    revealed = set(
        breaks.filter(participant_id__in=[p.pk for p in participants]).values_list("participant_id", flat=True)
    )
    return {p.pk: allocated(p) if p.pk in revealed else None for p in participants}


def arm_label(user: Actor | None, participant: Any) -> str | None:
    code = arm_code(user, participant)
    if code is None:
        return None
    return protocol().arm(code).label


def hidden_lab_analytes_for(user: Actor | None) -> frozenset[str]:
    """Analyte codes whose post-baseline values this user may not see.

    Every blinded role, not only the rater: a below-median post/baseline ratio of hs-CRP or TNF picks
    infliximab for most participants, and whoever randomizes could then predict the end of each
    block. Blinded staff record the sample (trial.visits LabSample); an unblinded role enters or
    imports the result."""
    if is_unblinded_role(user):
        return frozenset()
    return arm_revealing_analytes()


def arm_revealing_analytes() -> frozenset[str]:
    """The analytes the protocol file marks `reveals_arm_post_baseline`."""
    return frozenset(a.code for a in protocol().labs if a.reveals_arm_post_baseline)


def lab_reveals_arm(analyte: str, week: int) -> bool:
    """Would this analyte's value at this week reveal the arm? (Baseline values do not.)"""
    return week > 0 and analyte in arm_revealing_analytes()


def may_see_adverse_events(user: Actor | None) -> bool:
    """Protocol [blinding] adverse_events_hidden_from: some AE terms occur on one arm only."""
    hidden = set(protocol().adverse_events_hidden_from)
    return bool(user_roles(user)) and not ({r.value for r in user_roles(user)} & hidden)


def is_code_broken(participant: Any) -> bool:
    """Has this participant's arm been revealed by an emergency code break? (flagged in analysis datasets)"""
    return bool(participant.code_breaks.broken().exists())


def code_broken_among(participants: Any) -> set[int]:
    """The primary keys, among a queryset of participants, whose code an emergency break has revealed.

    One query whatever the trial's size (an analysis dataset of thousands asks once, not once per
    participant). The code-break model is reached through the participant's relation, so this module
    imports nothing above it."""
    breaks = participants.model._meta.get_field("code_breaks").related_model.objects.broken()
    return set(participants.filter(pk__in=breaks.values("participant_id")).values_list("pk", flat=True))


def may_know_code_broken(user: Actor | None) -> bool:
    """May this user be told THAT a participant's code was broken (never which arm)?

    The people who request, decide or review emergency code breaks, and the unblinded roles: the
    investigator treating the participant must know the blind no longer holds for them (ICH E6(R3)
    4.2); a rater or coordinator who learned it could guess from the circumstances, so they are not told.
    """
    from trial.access import Capability, can

    return can(user, Capability.VIEW_CODE_BREAKS) or is_unblinded_role(user)
