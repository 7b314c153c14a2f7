"""The unblinded pharmacy: drug lots, preparations of infusion bags, dispensing, wastage
(protocol: Design, study drug; ICH E6(R3): investigational product accountability).

Design: infusions are "dispensed by independent (unblinded) pharmacists in a 250 mL saline bag".
These records are the pharmacy's own and are shown only to unblinded roles: a preparation of the
active arm draws vials from a lot, a placebo one does not. Nothing here stores the arm itself (it
lives on ListEntry); the bag's kit identifier is a random token that says nothing about it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from trial.core.models import ClinicalRecord
from trial.core.validators import rules_raise, stored_range
from trial.pharmacy.rules import drug_lot_rules, preparation_rules, wastage_rules
from trial.protocol.selectors import protocol
from trial.visits.models import Visit


class DrugLot(ClinicalRecord):
    """A lot of active-drug vials received by the pharmacy."""

    lot_number = models.CharField(max_length=40, unique=True)
    expiry_date = models.DateField()
    vials_received = models.PositiveIntegerField(validators=stored_range(0, 100_000))
    received_on = models.DateField()
    supplier = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["expiry_date", "lot_number"]

    def __str__(self) -> str:
        return self.lot_number

    def clean(self) -> None:
        rules_raise(self, drug_lot_rules(protocol()))


class Preparation(ClinicalRecord):
    """One infusion bag, prepared for one infusion visit, second-checked, then dispensed."""

    class Status(models.TextChoices):
        PREPARED = "prepared", "Prepared"
        DISPENSED = "dispensed", "Dispensed"
        WASTED = "wasted", "Wasted"

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="preparations")
    # Random token printed on the bag: no arm, no order, no participant in it (protocol: Design, Blinding).
    kit_id = models.CharField(max_length=20, unique=True)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, validators=stored_range(0, 700))
    # The prescribed dose and the matching volume are the same whichever the arm, so the bag looks the same.
    dose_mg = models.PositiveIntegerField(validators=stored_range(0, 100_000))
    vials = models.PositiveSmallIntegerField(
        help_text="Vial-equivalents of the dose (dose / vial size).", validators=stored_range(0, 1000)
    )
    volume_ml = models.DecimalField(
        max_digits=6, decimal_places=1, help_text="Volume added to the 250 mL bag.", validators=stored_range(0, 10_000)
    )
    lot = models.ForeignKey(DrugLot, on_delete=models.PROTECT, related_name="preparations", null=True, blank=True)
    vials_from_lot = models.PositiveSmallIntegerField(default=0, validators=stored_range(0, 1000))
    saline_lot = models.CharField("saline bag lot", max_length=40)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    prepared_at = models.DateTimeField()
    second_checker = models.CharField(max_length=100, help_text="Name of the second person who checked the bag.")
    # The second pharmacist, who signed the check with their own user name and password (21 CFR 11.200(a)).
    # Empty on bags recorded before the check was signed, which kept a typed name only.
    second_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    second_checked_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREPARED)
    dispensed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    dispensed_at = models.DateTimeField(null=True, blank=True)
    dispensed_to = models.CharField(max_length=100, blank=True, help_text="Nurse who received the bag.")
    wasted_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-prepared_at"]
        verbose_name = "infusion bag preparation"
        verbose_name_plural = "infusion bag preparations"
        constraints = [
            # One usable bag per infusion visit; a wasted or voided one may be replaced.
            models.UniqueConstraint(
                fields=["visit"],
                condition=models.Q(voided_at__isnull=True) & ~models.Q(status="wasted"),
                name="one_live_preparation_per_visit",
            ),
        ]

    def __str__(self) -> str:
        return self.kit_id

    def clean(self) -> None:
        rules_raise(self, preparation_rules(protocol()))


class Wastage(ClinicalRecord):
    """Vials lost outside a preparation: broken, expired, returned."""

    lot = models.ForeignKey(DrugLot, on_delete=models.PROTECT, related_name="wastages")
    vials = models.PositiveIntegerField(validators=stored_range(0, 100_000))
    wasted_on = models.DateField()
    reason = models.TextField()

    class Meta:
        verbose_name = "wastage record"
        verbose_name_plural = "wastage records"

    def clean(self) -> None:
        rules_raise(self, wastage_rules(protocol()))
