"""Close-out records: source verification, form freezes, investigator signatures, casebook and
database locks, and the formal unblinding.

None of these is ever deleted. Each keeps a simple-history snapshot per change (who, when in UTC,
what), and the history tables are append-only like every other (trial.core.audit_triggers).
A state ends by a field that records who ended it, when and why (cleared, unfrozen, voided,
unlocked), never by removing the row (21 CFR 11.10(e): audit trail; ICH E6(R3) data integrity).
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce

from trial.core.models import audit_history
from trial.participants.models import Participant
from trial.visits.models import Visit

_USER = settings.AUTH_USER_MODEL


class CloseoutRecord(models.Model):
    history = audit_history()

    class Meta:
        abstract = True

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError(f"A {type(self).__name__} is never deleted; it is ended with a reason.")


class FormUnit(models.Model):
    """What one form of one casebook is: the participant, the visit (None for a participant-level
    form such as screening or the adverse-event log) and the form code."""

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    form = models.CharField(max_length=30)

    class Meta:
        abstract = True


class SourceVerification(FormUnit, CloseoutRecord):
    """A monitor's source data verification of one form (or one field of it) (ICH E6(R3) monitoring)."""

    field = models.CharField(max_length=60, blank=True)  # blank: the whole form
    content_sha256 = models.CharField(max_length=64)  # what the form held when verified
    verified_by = models.ForeignKey(_USER, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-verified_at"]
        constraints = [
            # Coalesce: a participant-level form has no visit, and NULLs never collide in a unique index.
            models.UniqueConstraint(
                "participant",
                Coalesce("visit", Value(0)),
                "form",
                "field",
                condition=Q(cleared_at__isnull=True),
                name="one_live_sdv_mark_per_form_field",
            )
        ]


class FormNotDone(FormUnit, CloseoutRecord):
    """The site's statement that an expected form was not done, and why (so the casebook is complete)."""

    reason = models.TextField()
    marked_by = models.ForeignKey(_USER, on_delete=models.PROTECT, related_name="+")
    marked_at = models.DateTimeField()


class FormFreeze(FormUnit, CloseoutRecord):
    """The data manager's freeze of one form: no write path may change it until unfrozen."""

    frozen_by = models.ForeignKey(_USER, on_delete=models.PROTECT, related_name="+")
    frozen_at = models.DateTimeField()
    unfrozen_by = models.ForeignKey(_USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    unfrozen_at = models.DateTimeField(null=True, blank=True)
    unfreeze_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "participant",
                Coalesce("visit", Value(0)),
                "form",
                condition=Q(unfrozen_at__isnull=True),
                name="one_live_freeze_per_form",
            )
        ]


class Signature(CloseoutRecord):
    """An investigator's electronic signature of a casebook (21 CFR 11.50, 11.70, 11.100, 11.200).

    It shows the printed name, the UTC date and time and the meaning (11.50), and is bound to the
    SHA-256 of the exact content signed (11.70): a later change of that content voids it. It is
    signed by re-entering the password of the signer's own unique account (11.100, 11.200(a)).
    """

    MEANING = "I have reviewed and approve these data"

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    signer = models.ForeignKey(_USER, on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(max_length=200)
    meaning = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    content_sha256 = models.CharField(max_length=64)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-signed_at"]

    @property
    def is_valid(self) -> bool:
        return self.voided_at is None


class CasebookLock(CloseoutRecord):
    """A participant's casebook locked by the data manager; unlocked only with a reason and a second person."""

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    locked_by = models.ForeignKey(_USER, on_delete=models.PROTECT, related_name="+")
    locked_at = models.DateTimeField()
    unlock_reason = models.TextField(blank=True)
    unlock_requested_by = models.ForeignKey(_USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    unlock_requested_at = models.DateTimeField(null=True, blank=True)
    unlock_approved_by = models.ForeignKey(_USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    unlocked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-locked_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant"], condition=Q(unlocked_at__isnull=True), name="one_live_casebook_lock"
            )
        ]


class DatabaseLock(CloseoutRecord):
    """The lock of the whole study database: the data manager's and the unblinded statistician's
    approvals, recorded; it takes effect when both are given (ICH E6(R3) database lock)."""

    data_manager_approved_by = models.ForeignKey(
        _USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data_manager_approved_at = models.DateTimeField(null=True, blank=True)
    statistician_approved_by = models.ForeignKey(
        _USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    statistician_approved_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    unlock_reason = models.TextField(blank=True)
    unlock_requested_by = models.ForeignKey(_USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    unlock_requested_at = models.DateTimeField(null=True, blank=True)
    unlock_approved_by = models.ForeignKey(_USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    unlocked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        # At most one live lock: the services serialize on the protocol's Trial row.


class StudyUnblinding(CloseoutRecord):
    """The formal unblinding of the study after database lock: declared by the unblinded
    statistician, effective when a second person approves (Design: Blinding)."""

    database_lock = models.ForeignKey(DatabaseLock, on_delete=models.PROTECT, related_name="+")
    declared_by = models.ForeignKey(_USER, on_delete=models.PROTECT, related_name="+")
    declared_at = models.DateTimeField()
    approved_by = models.ForeignKey(_USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
