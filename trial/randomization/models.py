"""The randomization list and the allocations taken from it (Design: Randomization).

The arm lives on `ListEntry.arm` and nowhere else. Nothing outside `trial.blinding` and the
unblinded services reads it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from trial.core.models import AuditedQuerySet, ClinicalRecord, User
from trial.core.validators import rules_raise
from trial.participants.models import Participant
from trial.randomization.rules import code_break_rules


class RandomizationList(models.Model):
    """A stored list and its SHA-256. No seed is kept: the list is drawn from the operating system's
    randomness, and a stored seed would be one more secret that replays every arm (ICH E9 2.3.3)."""

    class Source(models.TextChoices):
        GENERATED = "generated", "Generated in Stratum"
        UPLOADED = "uploaded", "Uploaded CSV"

    name = models.CharField(max_length=100)
    source = models.CharField(max_length=20, choices=Source.choices)
    block_sizes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
    per_stratum = models.PositiveIntegerField(null=True, blank=True, help_text="Entries asked for per stratum.")
    stratify_by_site = models.BooleanField(default=False)
    is_active = models.BooleanField(default=False)
    frozen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="one_active_list"),
        ]

    def __str__(self) -> str:
        return self.name


class ListEntry(models.Model):
    # Entries never change once written: a trigger refuses UPDATE and DELETE (trial.core.audit_triggers).
    append_only = True
    # Written in bulk, so not sealed row by row into the audit hash chain: the list's SHA-256
    # (RandomizationList.sha256, checked before activation) covers every entry instead.
    audit_chain = False

    randomization_list = models.ForeignKey(RandomizationList, on_delete=models.PROTECT, related_name="entries")
    stratum = models.CharField(max_length=60)
    sequence = models.PositiveIntegerField(help_text="Position within the stratum, from 1.")
    block_number = models.PositiveIntegerField()
    block_size = models.PositiveSmallIntegerField()
    arm = models.CharField(max_length=20)
    # Shown to blinded users; drawn at random so it says nothing about the arm or the block.
    randomization_number = models.CharField(max_length=20)

    class Meta:
        ordering = ["randomization_list", "stratum", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["randomization_list", "stratum", "sequence"], name="unique_stratum_sequence"
            ),
            models.UniqueConstraint(
                fields=["randomization_list", "randomization_number"], name="unique_randomization_number"
            ),
        ]
        indexes = [
            # Every allocation hashes the whole list (trial.randomization.list_hash): with every column of
            # the canonical line in the index, in its order, the database reads the index alone, not a
            # table row per entry (half the time of the check on a 17,000-entry list).
            models.Index(
                fields=[
                    "randomization_list",
                    "stratum",
                    "sequence",
                    "block_number",
                    "block_size",
                    "arm",
                    "randomization_number",
                ],
                name="listentry_digest_cover",
            ),
        ]

    def __str__(self) -> str:
        return self.randomization_number


class Allocation(ClinicalRecord):
    """A participant's slot on the list. Unique on both sides: the second line of defence."""

    participant = models.OneToOneField(Participant, on_delete=models.PROTECT, related_name="allocation")
    entry = models.OneToOneField(ListEntry, on_delete=models.PROTECT, related_name="allocation")
    stratum = models.CharField(max_length=60)
    randomized_at = models.DateTimeField()
    randomized_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return self.entry.randomization_number


class StratumCursor(models.Model):
    """The next free sequence number of one stratum of one list.

    Allocation locks this row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction
    locks the database), so two simultaneous requests in one stratum are served one after the
    other, in list order. Locking the entries themselves would not do: a waiting transaction would
    re-read the same "first free" entry after the other one commits.
    """

    randomization_list = models.ForeignKey(RandomizationList, on_delete=models.PROTECT, related_name="cursors")
    stratum = models.CharField(max_length=60)
    next_sequence = models.PositiveIntegerField(default=1)
    size = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["randomization_list", "stratum"], name="one_cursor_per_stratum"),
        ]


class ListEvent(models.Model):
    """What happened to a list: made, activated, a change refused, a failed hash, an exhausted stratum.

    Append-only (trigger). Written outside the refused transaction, so a refusal is kept even though
    the refused change is rolled back. The detail never names an arm.
    """

    append_only = True

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        ACTIVATED = "activated", "Activated"
        DEACTIVATED = "deactivated", "Deactivated"
        FROZEN = "frozen", "Frozen by the first allocation"
        CHANGE_REFUSED = "change_refused", "Change refused (list frozen)"
        INTEGRITY_FAILED = "integrity_failed", "SHA-256 check failed"
        STRATUM_EXHAUSTED = "stratum_exhausted", "Stratum exhausted"

    randomization_list = models.ForeignKey(
        RandomizationList, on_delete=models.PROTECT, related_name="events", null=True, blank=True
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class CodeBreakQuerySet(AuditedQuerySet["CodeBreak"]):
    def broken(self) -> CodeBreakQuerySet:
        """Breaks that have revealed an arm: approved or immediate, not voided."""
        return self.active().filter(status__in=(CodeBreak.Status.APPROVED, CodeBreak.Status.IMMEDIATE))

    def revealing_to(self, *, user: User) -> CodeBreakQuerySet:
        """The breaks that reveal an arm to this user: their own, approved or immediate.

        Asked through a participant (`participant.code_breaks.revealing_to(user=...)`), so that
        `trial.blinding` needs no import of this app."""
        return self.broken().filter(requested_by=user)


CodeBreakManager = models.Manager.from_queryset(CodeBreakQuerySet)


class CodeBreak(ClinicalRecord):
    """Emergency unblinding of one participant (protocol: Design, Blinding; ICH E6(R3) 4.2).

    Standard: an investigator requests with a reason; a second authorised person approves. Immediate:
    the requester sees the arm at once, with a justification, and a second person reviews afterwards.
    Either way the arm is revealed to the requester only (trial.blinding asks `revealing_to`).
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        IMMEDIATE = "immediate", "Immediate break"

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="code_breaks")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    reason = models.TextField()
    immediate = models.BooleanField(default=False)
    justification = models.TextField(blank=True, help_text="Why the arm could not wait for a second approval.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    objects = CodeBreakManager()  # type: ignore[misc]  # narrows the base's audited manager to code-break queries

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"Code break {self.pk} ({self.participant})"

    def clean(self) -> None:
        rules_raise(self, code_break_rules())

    @property
    def reveals(self) -> bool:
        return self.status in (self.Status.APPROVED, self.Status.IMMEDIATE) and not self.is_voided

    @property
    def needs_review(self) -> bool:
        return self.status == self.Status.IMMEDIATE and self.reviewed_at is None
