"""Reads for randomization. Anything shown to a user passes through trial.blinding here, so no
view, template or serializer reads `ListEntry.arm` itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from trial import blinding
from trial.access import Capability, can
from trial.participants.scope import site_filter
from trial.protocol.selectors import protocol
from trial.randomization.generation import (
    PlannedEntry,
    PredictabilityReport,
    StratumBalance,
    balance_preview,
    predictability_report,
)
from trial.randomization.models import Allocation, CodeBreak, ListEvent, RandomizationList, StratumCursor


@dataclass(frozen=True)
class AllocationRow:
    """What a page shows about one allocation. `arm_label` is None unless blinding allows it."""

    participant_pk: int
    participant_id: str
    randomization_number: str
    randomized_at: datetime
    randomized_by: str
    arm_code: str | None
    arm_label: str | None


def allocation_rows(*, user: Any) -> list[AllocationRow]:
    """Every allocation at the sites this user may reach, in randomization order: the order says
    nothing about the arm."""
    allocations = (
        Allocation.objects.active()
        .filter(site_filter(user, "participant__site"))
        .select_related("participant", "entry", "randomized_by", "participant__allocation__entry")
        .order_by("randomized_at", "id")
    )
    return [allocation_row(user=user, allocation=a) for a in allocations]


def allocation_row(*, user: Any, allocation: Allocation) -> AllocationRow:
    participant = allocation.participant
    return AllocationRow(
        participant_pk=participant.pk,
        participant_id=participant.participant_id,
        randomization_number=allocation.entry.randomization_number,
        randomized_at=allocation.randomized_at,
        randomized_by=str(allocation.randomized_by),
        arm_code=blinding.arm_code(user, participant),
        arm_label=blinding.arm_label(user, participant),
    )


def active_list() -> RandomizationList | None:
    return RandomizationList.objects.filter(is_active=True).first()


@dataclass(frozen=True)
class StratumUse:
    stratum: str
    used: int
    size: int

    @property
    def left(self) -> int:
        return self.size - self.used


def stratum_use(randomization_list: RandomizationList) -> list[StratumUse]:
    """Slots used and left per stratum: counts only, no arms, so any allowed viewer may see them."""
    return [
        StratumUse(c.stratum, c.next_sequence - 1, c.size)
        for c in StratumCursor.objects.filter(randomization_list=randomization_list).order_by("stratum")
    ]


def list_planned_entries(randomization_list: RandomizationList, *, user: Any) -> list[PlannedEntry]:
    """The list with its arms, for the unblinded statistician's review only."""
    if not blinding.is_unblinded_role(user):
        raise PermissionError("Only unblinded roles may read a randomization list.")
    return [
        PlannedEntry(e.stratum, e.sequence, e.block_number, e.block_size, e.arm, e.randomization_number)
        for e in randomization_list.entries.order_by("stratum", "sequence")
    ]


@dataclass(frozen=True)
class ListReview:
    balance: list[StratumBalance]
    predictability: PredictabilityReport


def list_review(entries: list[PlannedEntry], *, block_sizes: list[int]) -> ListReview:
    config = protocol()
    arms = [a.code for a in config.arms]
    return ListReview(
        balance=balance_preview(entries, arms),
        predictability=predictability_report(
            entries, arms=arms, ratio=config.allocation_ratio, block_sizes=block_sizes
        ),
    )


def list_events(randomization_list: RandomizationList) -> QuerySet[ListEvent]:
    return ListEvent.objects.filter(randomization_list=randomization_list).select_related("by")


def code_breaks_for(*, user: Any) -> QuerySet[CodeBreak]:
    """Approvers see every break; a requester sees their own only: another's request names a
    participant and a clinical reason that are none of their business (ICH E6(R3) 2.3, confidentiality)."""
    qs = (
        CodeBreak.objects.active()
        .filter(site_filter(user, "participant__site"))
        .select_related("participant", "requested_by", "decided_by", "reviewed_by")
    )
    if can(user, Capability.DECIDE_CODE_BREAK):
        return qs
    return qs.filter(requested_by=user)


def code_broken_participant_ids() -> set[str]:
    """Participants whose code was broken: flagged in analysis datasets (ICH E9 2.3.2)."""
    return set(
        CodeBreak.objects.active()
        .filter(status__in=(CodeBreak.Status.APPROVED, CodeBreak.Status.IMMEDIATE))
        .values_list("participant__participant_id", flat=True)
    )
