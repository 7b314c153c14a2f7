"""The randomization list and the allocations taken from it (Design: Randomization).

The arm lives on `ListEntry.arm` and nowhere else. Nothing outside `trial.blinding` and the
unblinded services reads it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from trial.core.models import ClinicalRecord
from trial.participants.models import Participant


class RandomizationList(models.Model):
    class Source(models.TextChoices):
        GENERATED = "generated", "Generated in Stratum"
        UPLOADED = "uploaded", "Uploaded CSV"

    name = models.CharField(max_length=100)
    source = models.CharField(max_length=20, choices=Source.choices)
    seed = models.BigIntegerField(null=True, blank=True)
    block_sizes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
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
            models.UniqueConstraint(fields=["randomization_list", "stratum", "sequence"], name="unique_stratum_sequence"),
            models.UniqueConstraint(fields=["randomization_list", "randomization_number"], name="unique_randomization_number"),
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
