"""What the one save path of clinical records asks of close-out (registered in apps.py).

Before a save: refuse it if the database is locked, the participant's casebook is locked or the
form is frozen (ICH E6(R3): locked data are final; 21 CFR 11.10(a), (d)). Lot receipt and wastage
are not in any casebook and stay open after lock: drug accountability is reconciled at close-out.
After a save: clear the source verification of the form it changed, and void the casebook's
signature, saying so (21 CFR 11.70: a signature stays linked to the exact content it signed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Q
from django.utils import timezone

from trial.closeout import selectors
from trial.closeout.models import Signature, SourceVerification
from trial.closeout.units import UnitKey, participant_of, unit_of
from trial.core.services import RecordLockedError
from trial.pharmacy.models import DrugLot, Wastage
from trial.randomization.models import CodeBreak

# Drug accountability (ICH E6(R3) investigational product) and emergency code breaks (safety comes
# first) stay possible after lock; neither changes a casebook.
OPEN_AFTER_LOCK = (DrugLot, Wastage, CodeBreak)

SIGNATURE_VOID_REASON = "void: data changed after signing"


def database_lock_refusal() -> str | None:
    # Asked before every write: the cheap question first, the lock's details only for the message.
    if not selectors.write_blocks(None, None)[0]:
        return None
    lock = selectors.database_locked()
    return None if lock is None else database_lock_message(lock)


def database_lock_message(lock: Any) -> str:
    return (
        f"The study database is locked (since {lock.locked_at:%d %b %Y %H:%M} UTC): no data can be entered or "
        "changed. An unlock needs a reason and two approvals."
    )


def record_write_guard(instance: Any) -> None:
    if isinstance(instance, OPEN_AFTER_LOCK):
        return
    participant_id = participant_of(instance)
    unit = unit_of(instance) if participant_id is not None else None
    database, casebook, form = selectors.write_blocks(participant_id, unit[1] if unit else None)
    if database:
        lock = selectors.database_locked()
        if lock is not None:
            raise RecordLockedError(database_lock_message(lock))
    if casebook and participant_id is not None:
        casebook_lock = selectors.casebook_lock_live(participant_id)
        if casebook_lock is not None:
            raise RecordLockedError(
                f"This participant's casebook is locked (since {casebook_lock.locked_at:%d %b %Y %H:%M} UTC by "
                f"{casebook_lock.locked_by}): no data can be changed. An unlock needs a reason and two approvals."
            )
    if form and unit is not None:
        freeze = selectors.form_freeze_live(unit[0], unit[1])
        if freeze is not None:
            raise RecordLockedError(
                f"The form {unit[1].label} is frozen (since {freeze.frozen_at:%d %b %Y %H:%M} UTC by "
                f"{freeze.frozen_by}): ask the data manager to unfreeze it, with a reason."
            )


def records_write_guard(instances: Sequence[Any]) -> None:
    """record_write_guard for many records at once (trial.core.services.records_create and
    records_update): asked once per participant and form among them, since that is all the answer
    depends on."""
    firsts: dict[tuple[Any, ...], Any] = {}
    for instance in instances:
        key = (isinstance(instance, OPEN_AFTER_LOCK), participant_of(instance), unit_of(instance))
        firsts.setdefault(key, instance)
    closed = [key for key in firsts if not key[0]]
    if not closed:
        return
    # One statement asks whether anything blocks any of them; only then is each asked for its refusal.
    participant_ids = {key[1] for key in closed if key[1] is not None}
    units = {key[2] for key in closed if key[2] is not None}
    if not selectors.anything_blocks(participant_ids, units):
        return
    for instance in firsts.values():
        record_write_guard(instance)


def after_records_save(*, instances: Sequence[Any], by: Any) -> None:
    """after_record_save for many records at once: one statement asks which casebooks have anything
    to be cleared, then one per such casebook what (records created in bulk are new: usually nothing
    is; records changed in bulk clear their forms' verification and the casebook's signature, as one
    changed alone does)."""
    by_participant: dict[int, set[UnitKey]] = {}
    for instance in instances:
        unit = unit_of(instance)
        if unit is not None:
            by_participant.setdefault(unit[0], set()).add(unit[1])
    # One statement finds the casebooks with anything to clear; only those are asked what.
    marked = selectors.casebooks_with_marks(by_participant) if len(by_participant) > 1 else set(by_participant)
    for participant_id, keys in by_participant.items():
        if participant_id not in marked:
            continue
        verified, signed = selectors.marks_to_clear_many(participant_id, sorted(keys, key=repr))
        if verified:
            lookup = Q()
            for key in keys:
                lookup |= Q(**key.lookup())
            by_key = {(key.visit_id, key.form): key for key in keys}
            _verification_clear(
                SourceVerification.objects.filter(lookup, participant_id=participant_id, cleared_at__isnull=True),
                labels={k: v.label for k, v in by_key.items()},
                by=by,
            )
        if signed:
            _signatures_void(participant_id, by=by)


def _verification_clear(marks: Any, *, labels: dict[tuple[int | None, str], str], by: Any) -> None:
    now = timezone.now()
    for mark in marks:
        label = labels[(mark.visit_id, mark.form)]
        mark.cleared_at = now
        mark.cleared_reason = (
            f"Verification cleared: {label} was changed by {by} at {now:%d %b %Y %H:%M} UTC after it was verified."
        )
        mark._history_user = by  # simple-history hook for the history row's user
        mark.save(update_fields=["cleared_at", "cleared_reason"])


def _signatures_void(participant_id: int, *, by: Any) -> None:
    now = timezone.now()
    for signature in Signature.objects.filter(participant_id=participant_id, voided_at__isnull=True):
        signature.voided_at = now
        signature.void_reason = SIGNATURE_VOID_REASON
        signature._history_user = by  # type: ignore[attr-defined]  # simple-history hook, as above
        signature.save(update_fields=["voided_at", "void_reason"])


def after_record_save(*, instance: Any, by: Any) -> None:
    unit = unit_of(instance)
    if unit is None:
        return
    participant_id, key = unit
    verified, signed = selectors.marks_to_clear(participant_id, key)
    now = timezone.now()
    marks = (
        SourceVerification.objects.filter(participant_id=participant_id, cleared_at__isnull=True, **key.lookup())
        if verified
        else []
    )
    for mark in marks:
        mark.cleared_at = now
        mark.cleared_reason = (
            f"Verification cleared: {key.label} was changed by {by} at {now:%d %b %Y %H:%M} UTC after it was verified."
        )
        mark._history_user = by  # type: ignore[attr-defined]  # simple-history hook for the history row's user
        mark.save(update_fields=["cleared_at", "cleared_reason"])
    signatures = Signature.objects.filter(participant_id=participant_id, voided_at__isnull=True) if signed else []
    for signature in signatures:
        signature.voided_at = now
        signature.void_reason = SIGNATURE_VOID_REASON
        signature._history_user = by  # type: ignore[attr-defined]  # simple-history hook, as above
        signature.save(update_fields=["voided_at", "void_reason"])
