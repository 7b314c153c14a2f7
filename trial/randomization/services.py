"""Writes for randomization: make the list, allocate from it, break the code in an emergency.

Unblinded by nature: what these return must go through trial.blinding before a user sees it.
Refusals that must be remembered (a frozen list, a failed hash, an exhausted stratum) are recorded
AFTER the refused transaction has rolled back, so the record survives the refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Subquery
from django.urls import reverse
from django.utils import timezone

from trial import blinding
from trial.access import Capability, require, users_with
from trial.core.access_log import access_event_record
from trial.core.audit_chain import audit_seals_deferred
from trial.core.models import AccessEvent, User
from trial.core.roles import Role, user_roles
from trial.core.services import record_save, records_create
from trial.core.types import Actor
from trial.participants.models import Participant
from trial.participants.rules import BaselineWithinScreeningWindow
from trial.participants.scope import participant_require
from trial.protocol.config import ProtocolConfig
from trial.protocol.selectors import protocol
from trial.randomization.generation import (
    ListFileError,
    PlannedEntry,
    generate_list,
    list_digest,
    list_random,
    parse_list_csv,
)
from trial.randomization.list_hash import stored_list_matches_in_transaction, stored_list_sha256
from trial.randomization.models import (
    Allocation,
    CodeBreak,
    ListEntry,
    ListEvent,
    RandomizationList,
    StratumCursor,
)

log = logging.getLogger("stratum.randomization")


class RandomizationError(ValidationError):
    """A precondition is not met; the message says which, and nothing is allocated."""


class StratumExhaustedError(RandomizationError):
    pass


class ListIntegrityError(RandomizationError):
    pass


class ListFrozenError(RandomizationError):
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
    """The SHA-256 of the list's entries as stored now, computed by the database in one statement."""
    return stored_list_sha256(randomization_list.pk)


def list_intact(randomization_list: RandomizationList) -> bool:
    """Whether the list's entries as stored now are the ones it was made with (its recorded SHA-256);
    within one SQLite transaction the list is read once while nothing can have changed it
    (`stored_list_matches_in_transaction`)."""
    return stored_list_matches_in_transaction(randomization_list.pk, randomization_list.sha256)


def list_event_record(
    *,
    kind: str,
    randomization_list: RandomizationList | None = None,
    by: User | None = None,
    detail: str = "",
) -> ListEvent:
    event = ListEvent(randomization_list=randomization_list, kind=kind, by=by, detail=detail)
    event.full_clean()
    event.save()
    # The access log (21 CFR 11.10(e)) records who made, activated and froze each list.
    access_kind = _ACCESS_LOG_KINDS.get((kind, randomization_list.source if randomization_list else ""))
    if access_kind is not None and randomization_list is not None:
        access_event_record(kind=access_kind, user=by, target=f"randomization list {randomization_list.pk}")
    return event


_ACCESS_LOG_KINDS: dict[tuple[str, str], AccessEvent.Kind] = {
    (ListEvent.Kind.CREATED, RandomizationList.Source.GENERATED): AccessEvent.Kind.LIST_GENERATED,
    (ListEvent.Kind.CREATED, RandomizationList.Source.UPLOADED): AccessEvent.Kind.LIST_UPLOADED,
    (ListEvent.Kind.ACTIVATED, RandomizationList.Source.GENERATED): AccessEvent.Kind.LIST_ACTIVATED,
    (ListEvent.Kind.ACTIVATED, RandomizationList.Source.UPLOADED): AccessEvent.Kind.LIST_ACTIVATED,
    (ListEvent.Kind.FROZEN, RandomizationList.Source.GENERATED): AccessEvent.Kind.LIST_FROZEN,
    (ListEvent.Kind.FROZEN, RandomizationList.Source.UPLOADED): AccessEvent.Kind.LIST_FROZEN,
}


# --- Making the list ---------------------------------------------------------------------------


def randomization_list_create(
    *,
    by: Actor,
    per_stratum: int,
    block_sizes: list[int] | None = None,
    name: str = "",
    activate: bool = True,
    stratify_by_site: bool | None = None,
) -> RandomizationList:
    """Generate a stratified permuted-block list in the app from the operating system's randomness.

    There is no seed to pass: a typed or derivable seed lets anyone who can guess or search it replay
    every arm (ICH E9 2.3.3). The stored list and its SHA-256 are the record; the list is verified
    against the hash, not re-made.
    """
    # Design: Randomization: "computer-generated list made by the study statistician".
    user = require(by, Capability.MANAGE_LISTS)
    config = protocol()
    sizes = list(block_sizes or config.block_sizes)
    by_site = config.stratify_by_site if stratify_by_site is None else stratify_by_site
    planned = generate_list(
        strata=list_strata(config, by_site=by_site),
        arms=[a.code for a in config.arms],
        ratio=config.allocation_ratio,
        block_sizes=sizes,
        per_stratum=per_stratum,
        rng=list_random(),
    )
    return _store_list_guarded(
        planned,
        by=user,
        name=name or "Generated list",
        source=RandomizationList.Source.GENERATED,
        block_sizes=sizes,
        per_stratum=per_stratum,
        stratify_by_site=by_site,
        activate=activate,
    )


def randomization_list_upload(
    *, by: Actor, csv_text: str, name: str, activate: bool = True, stratify_by_site: bool | None = None
) -> RandomizationList:
    """Store a list made outside Stratum, after validating it row by row (ValidationError names rows)."""
    user = require(by, Capability.MANAGE_LISTS)
    config = protocol()
    by_site = config.stratify_by_site if stratify_by_site is None else stratify_by_site
    try:
        planned = parse_list_csv(
            csv_text,
            strata=list_strata(config, by_site=by_site),
            arms=[a.code for a in config.arms],
            ratio=config.allocation_ratio,
        )
    except ListFileError as exc:
        raise ValidationError(exc.problems) from exc
    sizes = sorted({p.block_size for p in planned})
    return _store_list_guarded(
        planned,
        by=user,
        name=name or "Uploaded list",
        source=RandomizationList.Source.UPLOADED,
        block_sizes=sizes,
        per_stratum=None,
        stratify_by_site=by_site,
        activate=activate,
    )


def list_strata(config: ProtocolConfig, *, by_site: bool) -> list[str]:
    if by_site == config.stratify_by_site:
        return config.strata()
    from dataclasses import replace

    return replace(config, stratify_by_site=by_site).strata()


def _store_list_guarded(planned: list[PlannedEntry], *, by: User, **kwargs: Any) -> RandomizationList:
    try:
        return _store_list(planned, by=by, **kwargs)
    except ListFrozenError as exc:
        _record_refusal(by=by, detail=f"Replacing the active list was refused: {exc.messages[0]}")
        raise


@transaction.atomic
def _store_list(
    planned: list[PlannedEntry],
    *,
    by: User,
    name: str,
    source: str,
    block_sizes: list[int],
    per_stratum: int | None,
    stratify_by_site: bool,
    activate: bool,
) -> RandomizationList:
    if activate:
        # Lock the active list so an allocation cannot freeze it while we replace it.
        active = RandomizationList.objects.select_for_update().filter(is_active=True).first()
        if active is not None and active.frozen_at is not None:
            raise ListFrozenError(
                "The active list is frozen: participants have been allocated from it, so it cannot be replaced."
            )
        if active is not None:
            active.is_active = False
            active.save(update_fields=["is_active"])
            list_event_record(kind=ListEvent.Kind.DEACTIVATED, randomization_list=active, by=by, detail="Replaced")
    digest = list_digest(
        (p.stratum, p.sequence, p.block_number, p.block_size, p.arm, p.randomization_number) for p in planned
    )
    rl = RandomizationList(
        name=name,
        source=source,
        block_sizes=block_sizes,
        created_by=by,
        sha256=digest,
        is_active=activate,
        per_stratum=per_stratum,
        stratify_by_site=stratify_by_site,
    )
    rl.full_clean()
    rl.save()
    ListEntry.objects.bulk_create(
        ListEntry(
            randomization_list=rl,
            stratum=p.stratum,
            sequence=p.sequence,
            block_number=p.block_number,
            block_size=p.block_size,
            arm=p.arm,
            randomization_number=p.randomization_number,
        )
        for p in planned
    )
    sizes: dict[str, int] = {}
    for p in planned:
        sizes[p.stratum] = max(sizes.get(p.stratum, 0), p.sequence)
    StratumCursor.objects.bulk_create(StratumCursor(randomization_list=rl, stratum=s, size=n) for s, n in sizes.items())
    list_event_record(
        kind=ListEvent.Kind.CREATED,
        randomization_list=rl,
        by=by,
        detail=f"{len(planned)} entries in {len(sizes)} strata; SHA-256 {digest}",
    )
    if activate:
        list_event_record(kind=ListEvent.Kind.ACTIVATED, randomization_list=rl, by=by)
    return rl


def randomization_list_activate(*, randomization_list: RandomizationList, by: Actor) -> RandomizationList:
    by = require(by, Capability.MANAGE_LISTS)
    try:
        return _activate(randomization_list_id=randomization_list.pk, by=by)
    except ListFrozenError as exc:
        _record_refusal(by=by, detail=f"Activating list {randomization_list.pk} was refused: {exc.messages[0]}")
        raise


@transaction.atomic
def _activate(*, randomization_list_id: int, by: User) -> RandomizationList:
    active = RandomizationList.objects.select_for_update().filter(is_active=True).first()
    target = RandomizationList.objects.select_for_update().get(pk=randomization_list_id)
    if active is not None and active.pk == target.pk:
        return target
    if active is not None and active.frozen_at is not None:
        raise ListFrozenError("The active list is frozen: participants have been allocated from it.")
    if not list_intact(target):
        raise ListIntegrityError("This list failed its SHA-256 check and cannot be activated.")
    if active is not None:
        active.is_active = False
        active.save(update_fields=["is_active"])
        list_event_record(kind=ListEvent.Kind.DEACTIVATED, randomization_list=active, by=by)
    target.is_active = True
    target.save(update_fields=["is_active"])
    list_event_record(kind=ListEvent.Kind.ACTIVATED, randomization_list=target, by=by)
    return target


def _record_refusal(*, by: User | None, detail: str, randomization_list: RandomizationList | None = None) -> None:
    rl = randomization_list or RandomizationList.objects.filter(is_active=True).first()
    log.warning("Randomization list change refused: %s", detail)
    list_event_record(kind=ListEvent.Kind.CHANGE_REFUSED, randomization_list=rl, by=by, detail=detail)


# --- Allocation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomizationResult:
    allocation: Allocation
    created: bool


def participant_randomize(
    *,
    participant: Participant,
    by: Actor,
    baseline_date: date | None = None,
    then: Callable[[Participant, date], None] | None = None,
    randomized_at: datetime | None = None,
) -> RandomizationResult:
    """Allocate the next unused entry of the participant's stratum, in list order, atomically.

    `randomized_at` is for a randomization entered after the fact (a trial seeded from, or moved over
    from, earlier records): the clinical time of the allocation, not in the future; the pages never
    pass it, and the audit trail keeps the time it was written (21 CFR 11.10(e)).

    Idempotent: a repeated request for a randomized participant returns the existing allocation and
    takes no second slot. Concurrency: on PostgreSQL the participant row and the stratum's cursor row
    are locked (SELECT ... FOR UPDATE); on SQLite the IMMEDIATE transaction takes the write lock at
    BEGIN. The one-to-one constraints on Allocation are the second line of defence.

    `then(participant, baseline_date)` runs inside the allocation's transaction, under the
    participant's row lock, before the slot is taken, so what the caller adds (the visit schedule:
    `trial.workspace.services.participant_enrol`) is saved together with the allocation or not at all.
    """
    by = require(by, Capability.RANDOMIZE)
    participant_require(by, participant)
    try:
        return _randomize(
            participant_id=participant.pk,
            by=by,
            baseline_date=baseline_date or date.today(),
            then=then,
            randomized_at=randomized_at,
        )
    except StratumExhaustedError as exc:
        _after_exhausted(exc, by=by)
        raise
    except ListIntegrityError as exc:
        rl = RandomizationList.objects.filter(is_active=True).first()
        list_event_record(kind=ListEvent.Kind.INTEGRITY_FAILED, randomization_list=rl, by=by, detail=exc.messages[0])
        _notify_unblinded_statisticians(
            subject="[Stratum] Randomization list failed its integrity check",
            message="An allocation was stopped because the active randomization list no longer matches the SHA-256 "
            "recorded when it was made. No participant was allocated. Investigate before randomizing again.",
        )
        raise
    except IntegrityError as exc:
        # The unique constraints caught what the lock should have prevented; nothing was saved.
        log.error("Allocation refused by a unique constraint for participant %s: %s", participant.pk, exc)
        raise RandomizationError("Randomization could not be completed safely; please try again.") from exc


@transaction.atomic
def _randomize(
    *,
    participant_id: int,
    by: User,
    baseline_date: date,
    then: Callable[[Participant, date], None] | None,
    randomized_at: datetime | None = None,
) -> RandomizationResult:
    # Every audit row of the allocation (visit schedule, allocation, participant, list event) is sealed
    # into the hash chain in one pass at the end: the chain lock, which every auditing transaction of
    # the trial queues on, is then held from that pass to the commit, not for the whole allocation.
    with audit_seals_deferred():
        return _allocate(
            participant_id=participant_id, by=by, baseline_date=baseline_date, then=then, randomized_at=randomized_at
        )


def _allocate(
    *,
    participant_id: int,
    by: User,
    baseline_date: date,
    then: Callable[[Participant, date], None] | None,
    randomized_at: datetime | None,
) -> RandomizationResult:
    now = timezone.now()
    if randomized_at is not None and randomized_at > now:
        raise ValidationError("A randomization cannot be dated in the future.")
    # Lock the participant first: two clicks on "Randomize" for one person serialise here. of=self: on
    # PostgreSQL a plain FOR UPDATE would also lock the joined site row and serialise every allocation.
    participant = Participant.objects.select_for_update(of=("self",)).select_related("site").get(pk=participant_id)
    existing = Allocation.objects.filter(participant=participant).select_related("entry").first()
    if existing is not None:
        return RandomizationResult(existing, created=False)

    config = protocol()
    stratum = _check_preconditions(participant, config, baseline_date)

    rl = RandomizationList.objects.filter(is_active=True).first()
    if rl is None:
        raise RandomizationError(
            "No randomization list is active. The unblinded statistician must generate or upload one."
        )
    if rl.frozen_at is None:
        # Only until the first allocation: lock the list row so it cannot be replaced under us.
        # Once frozen it can no longer change, so later allocations need not serialise on it.
        rl = RandomizationList.objects.select_for_update().get(pk=rl.pk)
        if not rl.is_active:
            raise RandomizationError("The randomization list was replaced a moment ago; please try again.")
    # Before the stratum lock, so the lock is held as briefly as possible: the hash (a frozen list's
    # entries cannot change: append-only trigger) and the visit schedule (it does not depend on the slot).
    # If anything below fails, the transaction rolls all of it back.
    if not list_intact(rl):
        log.critical("Randomization list %s failed its SHA-256 check", rl.pk)
        raise ListIntegrityError(
            "The randomization list failed its integrity check; allocation is stopped. "
            "Contact the unblinded statistician."
        )
    if then is not None:
        then(participant, baseline_date)
    # The per-stratum lock: concurrent allocations in one stratum queue here, in arrival order.
    entry = _slot_take(rl, stratum)
    if entry is None:
        raise StratumExhaustedError(
            f"The randomization list has no free entry left in stratum {stratum}. Nothing was allocated; "
            "the unblinded statistician has been alerted.",
            params={"stratum": stratum, "list_id": rl.pk},
        )
    # From here on only what needs the slot, and without savepoints or uniqueness queries: a failure
    # fails the whole allocation, and a second allocation of this participant or of this entry (which
    # the locks above rule out) is refused by the one-to-one constraints, reported by
    # participant_randomize as "could not be completed safely".
    (allocation,) = records_create(
        [
            Allocation(
                participant=participant,
                entry=entry,
                stratum=stratum,
                randomized_at=randomized_at or now,
                randomized_by=by,
            )
        ],
        by=by,
    )
    if rl.frozen_at is None:
        rl.frozen_at = allocation.randomized_at
        rl.save(update_fields=["frozen_at"])
        list_event_record(kind=ListEvent.Kind.FROZEN, randomization_list=rl, by=by)
    participant.status = Participant.Status.RANDOMIZED
    # Read under its row lock at the start of this transaction; its unique numbers are not changed.
    record_save(participant, by=by, reason=f"Randomized: {entry.randomization_number}", locked=True)
    return RandomizationResult(allocation, created=True)


def _slot_take(rl: RandomizationList, stratum: str) -> ListEntry | None:
    """Move the stratum's cursor on by one and return the entry it passed; None if none is left.

    The UPDATE takes the cursor row's lock, held to the commit, so allocations in one stratum are
    served one after the other in list order: on PostgreSQL a waiting UPDATE re-reads the row its
    predecessor committed; on SQLite the IMMEDIATE transaction holds the write lock already. On
    PostgreSQL the entry comes back in the same statement: one round trip fewer under the lock.
    """
    if connection.vendor == "postgresql":
        cursors = connection.ops.quote_name(StratumCursor._meta.db_table)
        entries = connection.ops.quote_name(ListEntry._meta.db_table)
        sql = (
            f"WITH taken AS (UPDATE {cursors} SET next_sequence = next_sequence + 1"  # noqa: S608  (the models' tables; values are parameters)
            " WHERE randomization_list_id = %s AND stratum = %s AND next_sequence <= size"
            " RETURNING next_sequence - 1 AS sequence)"
            f" SELECT e.* FROM {entries} e JOIN taken ON e.sequence = taken.sequence"
            " WHERE e.randomization_list_id = %s AND e.stratum = %s"
        )
        return next(iter(ListEntry.objects.raw(sql, [rl.pk, stratum, rl.pk, stratum])), None)
    cursor = StratumCursor.objects.filter(randomization_list=rl, stratum=stratum)
    if not cursor.filter(next_sequence__lte=F("size")).update(next_sequence=F("next_sequence") + 1):
        return None
    taken = cursor.annotate(taken=F("next_sequence") - 1).values("taken")
    return ListEntry.objects.get(randomization_list=rl, stratum=stratum, sequence=Subquery(taken))


def randomization_preconditions(*, participant: Participant, baseline_date: date | None = None) -> list[str]:
    """The unmet preconditions, each its own message (empty when the participant can be randomized)."""
    try:
        _check_preconditions(participant, protocol(), baseline_date or date.today())
    except RandomizationError as exc:
        return list(exc.messages)
    return []


def _check_preconditions(participant: Participant, config: ProtocolConfig, baseline_date: date) -> str:
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
        # Design: the baseline visit is no later than 1 month after screening; the same rule the form applies.
        window = BaselineWithinScreeningWindow(screening_date=screening.screening_date, config=config)
        problems.extend(window({"baseline_date": baseline_date}).values())
    if problems:
        raise RandomizationError(problems)
    return stratum


def _after_exhausted(exc: StratumExhaustedError, *, by: User) -> None:
    params = exc.error_list[0].params or {}
    stratum = params.get("stratum", "?")
    list_id = params.get("list_id")
    rl = RandomizationList.objects.filter(pk=list_id).first() if list_id is not None else None
    log.error("Randomization stratum %s is exhausted", stratum)
    list_event_record(kind=ListEvent.Kind.STRATUM_EXHAUSTED, randomization_list=rl, by=by, detail=f"Stratum {stratum}")
    _notify_unblinded_statisticians(
        subject=f"[Stratum] Randomization stratum {stratum} is exhausted",
        message=f"A participant in stratum {stratum} could not be randomized: the list has no free entry left. "
        "Nothing was allocated. A new list is needed before the next randomization in this stratum.",
    )


def _emails_of(capability: Capability, exclude: Iterable[str] = ()) -> list[str]:
    return sorted(set(users_with(capability).exclude(email="").values_list("email", flat=True)) - set(exclude))


def _notify_unblinded_statisticians(*, subject: str, message: str) -> None:
    """Queue the alert to whoever manages the lists, once the refusal's record is committed.

    Off the request: the recipients' look-up and the mail server's round trip are the worker's
    (trial.randomization.tasks). After the commit: an alert whose record was rolled back would
    announce an event the trial has no trace of.
    """
    from trial.randomization.tasks import list_alert_send_task

    transaction.on_commit(lambda: list_alert_send_task.delay(subject=subject, message=message))


def list_alert_send(*, subject: str, message: str) -> int:
    """Send a randomization-list alert to every user who manages the lists (the unblinded statistician)."""
    emails = _emails_of(Capability.MANAGE_LISTS)
    if not emails:
        return 0
    return send_mail(subject=subject, message=message, from_email=None, recipient_list=emails)


# --- Emergency unblinding (code break) ---------------------------------------------------------


def _on_commit_mail(subject: str, message: str, recipients: list[str]) -> Callable[[], None]:
    def send() -> None:
        if recipients:
            send_mail(subject=subject, message=message, from_email=None, recipient_list=recipients)

    return send


def _code_break_notify(cb: CodeBreak, what: str) -> None:
    # The email names the participant and the event, never the arm: mail is not a blinded channel.
    recipients = _emails_of(Capability.DECIDE_CODE_BREAK)
    if cb.immediate and cb.status == CodeBreak.Status.IMMEDIATE and what.startswith("made"):
        # An immediate break alerts every unblinded role at once, not only the approvers: nobody
        # approved it, so the people who hold the blind must know now (ICH E6(R3) 4.2).
        recipients = sorted(set(recipients) | set(_emails_of_roles(blinding.UNBLINDED_ROLES)))
    requester = getattr(cb.requested_by, "email", "")
    if requester and requester not in recipients:
        recipients.append(requester)
    link = settings.STRATUM_SITE_URL + reverse("randomization:code_break_detail", args=[cb.pk])
    transaction.on_commit(
        _on_commit_mail(
            f"[Stratum] Code break {what}: participant {cb.participant.participant_id}",
            f"Code break {cb.pk} for participant {cb.participant.participant_id} was {what} "
            f"(requested by {cb.requested_by}, {'immediate' if cb.immediate else 'standard'}).\n"
            f"Reason: {cb.reason}\nThe arm is shown only to the requester, in Stratum.\n"
            f"Open the code break: {link}",
            recipients,
        )
    )


def _emails_of_roles(roles: Iterable[Role]) -> list[str]:
    names = [r.value for r in roles]
    users = get_user_model().objects.filter(is_active=True, groups__name__in=names).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def code_break_request(
    *,
    participant: Participant,
    by: Actor,
    reason: str,
    password: str,
    immediate: bool = False,
    justification: str = "",
) -> CodeBreak:
    """Request (or, in an emergency, make at once) the break of one participant's code.

    The requester re-enters their password: the break is a signed act of one identified person, not
    of whoever holds an open session (21 CFR 11.200(a)(1)).
    """
    # Design: Blinding (ICH E6(R3) 4.2): an investigator requests; a second authorised person decides.
    by = require(by, Capability.REQUEST_CODE_BREAK)
    if not by.check_password(password or ""):
        raise ValidationError({"password": "Your password was not correct; the request was not recorded."})
    return _code_break_request(
        participant_id=participant.pk, by=by, reason=reason, immediate=immediate, justification=justification
    )


@transaction.atomic
def _code_break_request(
    *, participant_id: int, by: User, reason: str, immediate: bool, justification: str
) -> CodeBreak:
    participant = Participant.objects.select_for_update().get(pk=participant_id)
    allocation = Allocation.objects.filter(participant=participant).select_related("entry").first()
    if allocation is None:
        raise ValidationError("This participant has not been randomized; there is no code to break.")
    if (
        CodeBreak.objects.active()
        .filter(participant=participant, requested_by=by, status__in=(CodeBreak.Status.REQUESTED,))
        .exists()
    ):
        raise ValidationError("You already have a request for this participant awaiting approval.")
    if immediate:
        # Serialise immediate breaks on the list row, so two at once cannot both pass the limits.
        RandomizationList.objects.select_for_update().filter(pk=allocation.entry.randomization_list_id).first()
        _check_immediate_limits(by=by)
    cb = CodeBreak(
        participant=participant,
        requested_by=by,
        requested_at=timezone.now(),
        reason=reason,
        immediate=immediate,
        justification=justification,
        status=CodeBreak.Status.IMMEDIATE if immediate else CodeBreak.Status.REQUESTED,
    )
    record_save(cb, by=by)
    log.warning("Code break %s %s for participant %s by %s", cb.pk, cb.status, participant.participant_id, by)
    target = f"code break {cb.pk}, participant {participant.participant_id}"
    access_event_record(
        kind=AccessEvent.Kind.CODE_BREAK_IMMEDIATE if immediate else AccessEvent.Kind.CODE_BREAK_REQUESTED,
        user=by,
        target=target,
    )
    if immediate:
        # The requester sees the arm at once: an unblinding (ICH E6(R3) 4.2 and 21 CFR 11.10(e)).
        access_event_record(kind=AccessEvent.Kind.UNBLINDING, user=by, target=target, detail="immediate code break")
    _code_break_notify(cb, "made immediately (to be reviewed)" if immediate else "requested")
    return cb


def _check_immediate_limits(*, by: User) -> None:
    """An immediate break skips the second person, so it is rationed (Design: Blinding; protocol
    [blinding]): a few per requester per period, and none while another awaits its review. Without
    the limits, two breaks in a block of 4 plus the allocation order would reveal the whole block."""
    config = protocol()
    since = timezone.now() - timedelta(days=config.immediate_code_break_period_days)
    # Voided breaks count too: voiding does not un-reveal an arm.
    made = CodeBreak.objects.filter(requested_by=by, immediate=True, requested_at__gte=since).count()
    if made >= config.immediate_code_breaks_per_user:
        raise ValidationError(
            f"You have made {made} immediate code break(s) in the last {config.immediate_code_break_period_days} "
            "days, the protocol's limit. Request approval instead: an approver is alerted at once."
        )
    if CodeBreak.objects.active().filter(status=CodeBreak.Status.IMMEDIATE, reviewed_at__isnull=True).exists():
        raise ValidationError(
            "Another immediate code break is awaiting its review. Until it is reviewed, request approval instead: "
            "an approver is alerted at once."
        )


@transaction.atomic
def code_break_decide(*, code_break: CodeBreak, by: Actor, approve: bool, note: str = "") -> CodeBreak:
    """The second authorised person approves or rejects. Approving reveals nothing to the approver."""
    by = require(by, Capability.DECIDE_CODE_BREAK)
    cb: CodeBreak = CodeBreak.objects.select_for_update().get(pk=code_break.pk)
    if cb.requested_by_id == by.pk:
        raise ValidationError("A code break must be approved by a second person, not by its requester.")
    if user_roles(by) & user_roles(cb.requested_by):
        # A different role as well as a different person: the roles that decide are granted by a
        # superuser only, so whoever can create a requester cannot create its approver (ICH E6(R3) 4.2).
        raise ValidationError("A code break must be approved by someone in a different role from its requester.")
    if cb.status != CodeBreak.Status.REQUESTED:
        raise ValidationError(f"This code break is not awaiting approval (status: {cb.get_status_display()}).")
    if not approve and not note.strip():
        raise ValidationError({"note": "Give the reason for rejecting the request."})
    cb.status = CodeBreak.Status.APPROVED if approve else CodeBreak.Status.REJECTED
    cb.decided_by = by
    cb.decided_at = timezone.now()
    cb.decision_note = note
    record_save(cb, by=by, reason=f"Code break {'approved' if approve else 'rejected'}: {note or 'no note'}")
    target = f"code break {cb.pk}, participant {cb.participant.participant_id}"
    access_event_record(
        kind=AccessEvent.Kind.CODE_BREAK_DECIDED, user=by, target=target, detail="approved" if approve else "rejected"
    )
    if approve:
        # From now on the requester can read the arm (ICH E6(R3) 4.2).
        access_event_record(
            kind=AccessEvent.Kind.UNBLINDING,
            user=cb.requested_by,
            target=target,
            detail=f"code break approved by {by.get_username()}",
        )
    _code_break_notify(cb, "approved" if approve else "rejected")
    return cb


@transaction.atomic
def code_break_review(*, code_break: CodeBreak, by: Actor, note: str) -> CodeBreak:
    """An immediate break is reviewed afterwards by a second authorised person."""
    by = require(by, Capability.DECIDE_CODE_BREAK)
    cb: CodeBreak = CodeBreak.objects.select_for_update().get(pk=code_break.pk)
    if cb.requested_by_id == by.pk:
        raise ValidationError("An immediate code break is reviewed by a second person, not by its requester.")
    if not cb.needs_review:
        raise ValidationError("This code break does not need a review.")
    if not note.strip():
        raise ValidationError({"note": "Record the outcome of the review."})
    cb.reviewed_by = by
    cb.reviewed_at = timezone.now()
    cb.review_note = note
    record_save(cb, by=by, reason=f"Immediate code break reviewed: {note}")
    access_event_record(
        kind=AccessEvent.Kind.CODE_BREAK_REVIEWED,
        user=by,
        target=f"code break {cb.pk}, participant {cb.participant.participant_id}",
    )
    _code_break_notify(cb, "reviewed")
    return cb
