"""Writes for randomization: make the list, allocate from it. Unblinded by nature: the callers'
output must go through trial.blinding before a user sees it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from trial.core.roles import Role
from trial.core.services import record_save
from trial.participants.models import Participant
from trial.protocol.config import ProtocolConfig
from trial.protocol.selectors import protocol
from trial.randomization.generation import PlannedEntry, generate_list, list_digest
from trial.randomization.models import Allocation, ListEntry, RandomizationList, StratumCursor

log = logging.getLogger("stratum.randomization")


class RandomizationError(ValidationError):
    """A precondition is not met; the message says which, and allocates nothing."""


class StratumExhaustedError(RandomizationError):
    pass


class ListIntegrityError(RandomizationError):
    pass


def participant_stratum(participant: Participant, config: ProtocolConfig | None = None) -> str:
    config = config or protocol()
    screening = getattr(participant, "screening", None)
    sources = {
        "sex": participant.sex,
        "screening_crp_mg_l": None if screening is None else screening.screening_crp_mg_l,
        "site": participant.site.code,
    }
    parts = [participant.site.code] if config.stratify_by_site else []
    for factor in config.stratification:
        value = sources.get(factor.source)
        if value is None:
            raise RandomizationError(f"Stratification data missing: {factor.label} is not recorded.")
        parts.append(factor.level_for(value))
    return "|".join(parts)


def entries_digest(randomization_list: RandomizationList) -> str:
    rows = randomization_list.entries.order_by().values_list(
        "stratum", "sequence", "block_number", "block_size", "arm", "randomization_number"
    )
    return list_digest(rows)


@transaction.atomic
def randomization_list_create(
    *, by: AbstractBaseUser, seed: int, per_stratum: int, block_sizes: list[int] | None = None,
    name: str = "", activate: bool = True,
) -> RandomizationList:
    config = protocol()
    planned = generate_list(
        strata=config.strata(),
        arms=[a.code for a in config.arms],
        ratio=config.allocation_ratio,
        block_sizes=block_sizes or list(config.block_sizes),
        per_stratum=per_stratum,
        seed=seed,
    )
    return _store_list(planned, by=by, name=name or f"Generated list (seed {seed})", source=RandomizationList.Source.GENERATED,
                       seed=seed, block_sizes=block_sizes or list(config.block_sizes), activate=activate)


def _store_list(
    planned: list[PlannedEntry], *, by: AbstractBaseUser, name: str, source: str, seed: int | None,
    block_sizes: list[int], activate: bool,
) -> RandomizationList:
    active = RandomizationList.objects.filter(is_active=True).first()
    if activate and active is not None and active.frozen_at is not None:
        raise RandomizationError("The active list is frozen (allocations have been made); it cannot be replaced.")
    if activate and active is not None:
        active.is_active = False
        active.save(update_fields=["is_active"])
    digest = list_digest((p.stratum, p.sequence, p.block_number, p.block_size, p.arm, p.randomization_number) for p in planned)
    rl = RandomizationList.objects.create(
        name=name, source=source, seed=seed, block_sizes=block_sizes, created_by=by, sha256=digest, is_active=activate
    )
    ListEntry.objects.bulk_create(
        ListEntry(randomization_list=rl, stratum=p.stratum, sequence=p.sequence, block_number=p.block_number,
                  block_size=p.block_size, arm=p.arm, randomization_number=p.randomization_number)
        for p in planned
    )
    sizes: dict[str, int] = {}
    for p in planned:
        sizes[p.stratum] = max(sizes.get(p.stratum, 0), p.sequence)
    StratumCursor.objects.bulk_create(StratumCursor(randomization_list=rl, stratum=s, size=n) for s, n in sizes.items())
    return rl


@dataclass(frozen=True)
class RandomizationResult:
    allocation: Allocation
    created: bool


def participant_randomize(
    *, participant: Participant, by: AbstractBaseUser, baseline_date: date | None = None
) -> RandomizationResult:
    """Allocate the next unused entry of the participant's stratum, in list order, atomically.

    Idempotent: a repeated request for a randomized participant returns the existing allocation.
    """
    try:
        return _randomize(participant_id=participant.pk, by=by, baseline_date=baseline_date or date.today())
    except IntegrityError as exc:
        # The unique constraints caught what the lock should have prevented; nothing was saved.
        log.error("Allocation refused by a unique constraint for participant %s: %s", participant.pk, exc)
        raise RandomizationError("Randomization could not be completed safely; please try again.") from exc


@transaction.atomic
def _randomize(*, participant_id: int, by: AbstractBaseUser, baseline_date: date) -> RandomizationResult:
    from trial.visits.services import visits_schedule

    # Lock the participant first: two clicks on "Randomize" for one person serialise here.
    participant = Participant.objects.select_for_update().select_related("site").get(pk=participant_id)
    existing = Allocation.objects.filter(participant=participant).select_related("entry").first()
    if existing is not None:
        return RandomizationResult(existing, created=False)

    config = protocol()
    problems = []
    if not participant.consents.active().filter(participant_signed=True).exists():
        problems.append("No signed consent is on file.")
    screening = getattr(participant, "screening", None)
    if participant.status != Participant.Status.ELIGIBLE or screening is None or not screening.eligible:
        problems.append(f"Eligibility is not confirmed (status: {participant.get_status_display()}).")
    try:
        stratum = participant_stratum(participant, config)
    except (RandomizationError, ValueError) as exc:
        problems.append(str(exc.messages[0] if isinstance(exc, ValidationError) else exc))
        stratum = ""
    if screening is not None:
        limit = screening.screening_date + timedelta(days=config.baseline_max_days_after_screening)
        if baseline_date > limit:
            problems.append(
                f"Baseline ({baseline_date:%d %b %Y}) is more than {config.baseline_max_days_after_screening} days after "
                f"screening ({screening.screening_date:%d %b %Y}); the participant must be re-screened."
            )
        if baseline_date < screening.screening_date:
            problems.append("Baseline cannot be before screening.")
    if problems:
        raise RandomizationError(problems)

    rl = RandomizationList.objects.select_for_update().filter(is_active=True).first()
    if rl is None:
        raise RandomizationError("No randomization list is active. The unblinded statistician must generate or upload one.")
    cursor = StratumCursor.objects.select_for_update().filter(randomization_list=rl, stratum=stratum).first()
    if cursor is None or cursor.next_sequence > cursor.size:
        _alert_exhausted(stratum)
        raise StratumExhaustedError(f"The randomization list has no free entry left in stratum {stratum}. Nothing was allocated; "
                                    "the unblinded statistician has been alerted.")
    if entries_digest(rl) != rl.sha256:
        log.critical("Randomization list %s failed its SHA-256 check", rl.pk)
        raise ListIntegrityError("The randomization list failed its integrity check; allocation is stopped. Contact the unblinded statistician.")
    entry = ListEntry.objects.get(randomization_list=rl, stratum=stratum, sequence=cursor.next_sequence)
    allocation = record_save(
        Allocation(participant=participant, entry=entry, stratum=stratum, randomized_at=timezone.now(), randomized_by=by),
        by=by,
    )
    cursor.next_sequence += 1
    cursor.save(update_fields=["next_sequence"])
    if rl.frozen_at is None:
        rl.frozen_at = allocation.randomized_at
        rl.save(update_fields=["frozen_at"])
    participant.status = Participant.Status.RANDOMIZED
    record_save(participant, by=by, reason=f"Randomized: {entry.randomization_number}")
    visits_schedule(participant=participant, baseline_date=baseline_date, by=by)
    return RandomizationResult(allocation, created=True)


def _alert_exhausted(stratum: str) -> None:
    from django.contrib.auth import get_user_model

    emails = list(
        get_user_model().objects.filter(groups__name=Role.STATISTICIAN_UNBLINDED.value, is_active=True)
        .exclude(email="").values_list("email", flat=True)
    )
    log.error("Randomization stratum %s is exhausted", stratum)
    if emails:
        send_mail(
            subject=f"[Stratum] Randomization stratum {stratum} is exhausted",
            message=f"A participant in stratum {stratum} could not be randomized: the list has no free entry left. "
            "Extend the list (a new block for this stratum) before the next randomization.",
            from_email=None,
            recipient_list=emails,
        )
