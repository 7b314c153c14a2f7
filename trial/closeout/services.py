"""Writes of close-out: verify, mark not done, freeze, sign, lock, unlock, approve, unblind.

Each is one transaction; study-level steps serialize on the protocol's Trial row, casebook steps on
the participant row, so two people approving at once cannot both pass a check. None of these writes
a clinical record: they record who closed what, when and why, beside the data.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from trial.access import Capability, require
from trial.closeout import selectors
from trial.closeout.guards import database_lock_refusal
from trial.closeout.models import (
    CasebookLock,
    DatabaseLock,
    FormFreeze,
    FormNotDone,
    Signature,
    SourceVerification,
    StudyUnblinding,
)
from trial.closeout.units import UnitKey, has_live_data
from trial.core.models import User
from trial.core.roles import Role, user_roles
from trial.core.services import RecordLockedError
from trial.core.types import Actor
from trial.participants.models import Participant
from trial.participants.scope import participant_require
from trial.protocol.models import Trial


def _participant_for_update(participant: Participant) -> Participant:
    return Participant.objects.select_for_update().get(pk=participant.pk)


def _serialize_study() -> None:
    Trial.objects.select_for_update().order_by("pk").first()


def _refuse_if_locked(participant: Participant) -> None:
    refusal = database_lock_refusal()
    if refusal:
        raise RecordLockedError(refusal)
    if selectors.casebook_lock_live(participant.pk) is not None:
        raise RecordLockedError("This participant's casebook is locked: unlock it first (a reason and two approvals).")


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"A reason is required to {what}."})
    return reason


# --- Source data verification (ICH E6(R3) monitoring) ---------------------------------------------


def source_verify(*, participant: Participant, unit: UnitKey, by: Actor, field: str = "") -> SourceVerification:
    """Mark one form (or one field of it) as verified against source, with who and when."""
    user = require(by, Capability.REVIEW_CRFS)
    with transaction.atomic():
        participant = _participant_for_update(participant)
        _refuse_if_locked(participant)
        records, sha = selectors.unit_content_sha256(participant, unit)
        if not has_live_data(records, unit):
            raise ValidationError(f"Nothing is entered on {unit.label} yet: there is nothing to verify.")
        already = SourceVerification.objects.filter(
            participant=participant, field=field, cleared_at__isnull=True, **unit.lookup()
        ).exists()
        if already:
            raise ValidationError(f"{unit.label} is already verified.")
        mark = SourceVerification(
            participant=participant,
            visit_id=unit.visit_id,
            form=unit.form,
            field=field,
            content_sha256=sha,
            verified_by=user,
            verified_at=timezone.now(),
        )
        mark.full_clean()
        mark._history_user = user  # type: ignore[attr-defined]  # simple-history hook for the history row's user
        mark.save()
        return mark


# --- Forms not done, and form freezes ---------------------------------------------------------------


def form_mark_not_done(*, participant: Participant, unit: UnitKey, by: Actor, reason: str) -> FormNotDone:
    """The site's statement that an expected form was not done (the casebook is then complete without it)."""
    user = require(by, Capability.ENTER_DATA)
    reason = _reason(reason, "mark a form not done")
    with transaction.atomic():
        participant = _participant_for_update(participant)
        _refuse_if_locked(participant)
        if FormNotDone.objects.filter(participant=participant, **unit.lookup()).exists():
            raise ValidationError(f"{unit.label} is already marked not done.")
        record = FormNotDone(
            participant=participant,
            visit_id=unit.visit_id,
            form=unit.form,
            reason=reason,
            marked_by=user,
            marked_at=timezone.now(),
        )
        record.full_clean()
        record._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        record.save()
        return record


def form_freeze(*, participant: Participant, unit: UnitKey, by: Actor) -> FormFreeze:
    user = require(by, Capability.FREEZE_FORMS)
    with transaction.atomic():
        participant = _participant_for_update(participant)
        _refuse_if_locked(participant)
        if selectors.form_freeze_live(participant.pk, unit) is not None:
            raise ValidationError(f"{unit.label} is already frozen.")
        freeze = FormFreeze(
            participant=participant, visit_id=unit.visit_id, form=unit.form, frozen_by=user, frozen_at=timezone.now()
        )
        freeze.full_clean()
        freeze._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        freeze.save()
        return freeze


def form_unfreeze(*, participant: Participant, unit: UnitKey, by: Actor, reason: str) -> FormFreeze:
    user = require(by, Capability.FREEZE_FORMS)
    reason = _reason(reason, "unfreeze a form")
    with transaction.atomic():
        participant = _participant_for_update(participant)
        _refuse_if_locked(participant)
        freeze = selectors.form_freeze_live(participant.pk, unit)
        if freeze is None:
            raise ValidationError(f"{unit.label} is not frozen.")
        freeze.unfrozen_by = user
        freeze.unfrozen_at = timezone.now()
        freeze.unfreeze_reason = reason
        freeze._history_user = user  # type: ignore[attr-defined]  # simple-history hook for the history row's user
        freeze.save()
        return freeze


# --- The investigator's electronic signature (21 CFR 11.50, 11.70, 11.100, 11.200) -----------------


def casebook_sign(*, participant: Participant, by: Actor, username: str, password: str) -> Signature:
    """Sign the casebook as it is now.

    11.200(a)(1): both components, the user ID and the password, are entered at each signing; they
    must be the signer's own (11.100(a): unique to one individual; no one signs for another).
    11.50: the record shows the printed name, the UTC date and time and the meaning.
    11.70: the SHA-256 of the exact content signed is kept; a later change voids the signature.
    """
    user = require(by, Capability.SIGN_CASEBOOKS)
    # ICH E6(R3) section 2: an investigator signs for the participants of their own site.
    participant_require(user, participant)
    if (username or "").strip() != user.get_username() or not user.check_password(password or ""):
        raise ValidationError({"password": "The user name or password is not correct: the casebook was not signed."})
    with transaction.atomic():
        participant = _participant_for_update(participant)
        _refuse_if_locked(participant)
        status = selectors.casebook_status(participant)
        if status.signature_valid:
            raise ValidationError("This casebook is already signed, and nothing has changed since.")
        signature = Signature(
            participant=participant,
            signer=user,
            printed_name=user.get_full_name() or user.get_username(),
            meaning=Signature.MEANING,
            signed_at=timezone.now(),
            content_sha256=status.sha256,
        )
        signature.full_clean()
        signature._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        signature.save()
        return signature


# --- Casebook lock ---------------------------------------------------------------------------------


def casebook_lock(*, participant: Participant, by: Actor) -> CasebookLock:
    user = require(by, Capability.LOCK_CASEBOOKS)
    with transaction.atomic():
        participant = _participant_for_update(participant)
        _refuse_if_locked(participant)
        blockers = selectors.casebook_status(participant).blockers
        if blockers:
            raise ValidationError(blockers)
        lock = CasebookLock(participant=participant, locked_by=user, locked_at=timezone.now())
        lock._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        lock.save()
        return lock


def casebook_unlock_request(*, participant: Participant, by: Actor, reason: str) -> CasebookLock:
    user = require(by, Capability.LOCK_CASEBOOKS)
    reason = _reason(reason, "unlock a casebook")
    with transaction.atomic():
        participant = _participant_for_update(participant)
        refusal = database_lock_refusal()
        if refusal:
            raise RecordLockedError(refusal)
        lock = selectors.casebook_lock_live(participant.pk)
        if lock is None:
            raise ValidationError("This casebook is not locked.")
        if lock.unlock_requested_by_id is not None:
            raise ValidationError("An unlock is already waiting for its second approval.")
        lock.unlock_reason = reason
        lock.unlock_requested_by = user
        lock.unlock_requested_at = timezone.now()
        lock._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        lock.save()
        return lock


def casebook_unlock_approve(*, participant: Participant, by: Actor) -> CasebookLock:
    user = require(by, Capability.APPROVE_UNLOCK)
    with transaction.atomic():
        participant = _participant_for_update(participant)
        lock = selectors.casebook_lock_live(participant.pk)
        if lock is None or lock.unlock_requested_by_id is None:
            raise ValidationError("No unlock of this casebook has been requested.")
        _second_person(user, lock.unlock_requested_by_id)
        lock.unlock_approved_by = user
        lock.unlocked_at = timezone.now()
        lock._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        lock.save()
        return lock


def _second_person(user: User, first_id: int | None) -> None:
    if user.pk == first_id:
        raise ValidationError("A second person must approve: the same person cannot both request and approve.")


# --- Database lock (two approvals, recorded) -------------------------------------------------------


def database_lock_approve(*, by: Actor) -> DatabaseLock:
    """The data manager's or the unblinded statistician's approval; the lock takes effect with both."""
    user = require(by, Capability.APPROVE_DATABASE_LOCK)
    roles = user_roles(user)
    with transaction.atomic():
        _serialize_study()
        lock = selectors.database_lock_live()
        if lock is not None and lock.locked_at is not None:
            raise ValidationError("The database is already locked.")
        blockers = selectors.database_lock_blockers()
        if blockers:
            raise ValidationError(blockers)
        lock = lock or DatabaseLock()
        now = timezone.now()
        if Role.DATA_MANAGER in roles and lock.data_manager_approved_by_id is None:
            _second_person(user, lock.statistician_approved_by_id)
            lock.data_manager_approved_by, lock.data_manager_approved_at = user, now
        elif Role.STATISTICIAN_UNBLINDED in roles and lock.statistician_approved_by_id is None:
            _second_person(user, lock.data_manager_approved_by_id)
            lock.statistician_approved_by, lock.statistician_approved_at = user, now
        else:
            raise ValidationError("Your approval of this lock is already recorded; it waits for the other one.")
        if lock.data_manager_approved_by_id and lock.statistician_approved_by_id:
            lock.locked_at = now
        lock._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        lock.save()
        return lock


def database_unlock_request(*, by: Actor, reason: str) -> DatabaseLock:
    user = require(by, Capability.APPROVE_DATABASE_LOCK)
    reason = _reason(reason, "unlock the database")
    with transaction.atomic():
        _serialize_study()
        lock = selectors.database_locked()
        if lock is None:
            raise ValidationError("The database is not locked.")
        if lock.unlock_requested_by_id is not None:
            raise ValidationError("An unlock is already waiting for its second approval.")
        lock.unlock_reason = reason
        lock.unlock_requested_by = user
        lock.unlock_requested_at = timezone.now()
        lock._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        lock.save()
        return lock


def database_unlock_approve(*, by: Actor) -> DatabaseLock:
    user = require(by, Capability.APPROVE_DATABASE_LOCK)
    with transaction.atomic():
        _serialize_study()
        lock = selectors.database_locked()
        if lock is None or lock.unlock_requested_by_id is None:
            raise ValidationError("No unlock of the database has been requested.")
        _second_person(user, lock.unlock_requested_by_id)
        lock.unlock_approved_by = user
        lock.unlocked_at = timezone.now()
        lock._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        lock.save()
        return lock


# --- Formal unblinding (Design: Blinding, "until the whole trial is complete") ---------------------


def study_unblind_declare(*, by: Actor) -> StudyUnblinding:
    user = require(by, Capability.UNBLIND_STUDY)
    with transaction.atomic():
        _serialize_study()
        lock = selectors.database_locked()
        if lock is None:
            raise ValidationError("The study can be unblinded only after database lock.")
        if StudyUnblinding.objects.exists():
            raise ValidationError("The formal unblinding has already been declared.")
        event = StudyUnblinding(database_lock=lock, declared_by=user, declared_at=timezone.now())
        event._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        event.save()
        return event


def study_unblind_approve(*, by: Actor) -> StudyUnblinding:
    user = require(by, Capability.APPROVE_UNBLINDING)
    with transaction.atomic():
        _serialize_study()
        event = StudyUnblinding.objects.select_for_update().order_by("-id").first()
        if event is None:
            raise ValidationError("No unblinding has been declared.")
        if event.approved_at is not None:
            raise ValidationError("The study is already unblinded.")
        if selectors.database_locked() is None:
            raise ValidationError("The database is no longer locked: the study cannot be unblinded.")
        _second_person(user, event.declared_by_id)
        event.approved_by = user
        event.approved_at = timezone.now()
        event._history_user = user  # type: ignore[attr-defined]  # simple-history hook, as above
        event.save()
        return event
