"""Visits and what is measured at them (Schedule of assessments; Instruments)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from trial.core.models import ClinicalRecord
from trial.core.validators import InstanceValues, rules_errors, rules_raise, stored_range
from trial.participants.models import Participant
from trial.participants.rules import Timeline
from trial.protocol.config import Arm
from trial.protocol.models import VisitDefinition
from trial.protocol.selectors import protocol
from trial.visits.rules import cgis_rules, hamd_rules, infusion_rules, lab_rules, visit_rules, vital_signs_rules

# Instruments: HAM-D-17 items 1-3, 7-11 and 15 score 0-4; items 4-6, 12-14, 16 and 17 score 0-2
# (the scale itself; hamd_rules applies the protocol file's per-item maximum with its own message).
# Laboratory values: no analyte of the schedule reaches a million in its unit.
# What any HAM-D-17 item can be stored as (the scale's widest item, 0-4). Each item's own maximum is the
# protocol file's ([hamd] item maxima) and is checked by its rule, so a trial can score an item differently.
HAMD_ITEM_0_4 = stored_range(0, 4)
LAB_VALUE = stored_range(0, 1_000_000)


class Visit(ClinicalRecord):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        DONE = "done", "Done"
        MISSED = "missed", "Missed"

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="visits")
    definition = models.ForeignKey(VisitDefinition, on_delete=models.PROTECT, related_name="+")
    scheduled_date = models.DateField()
    window_start = models.DateField()
    window_end = models.DateField()
    actual_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    # Why a missed visit was missed: a code from the protocol file's [missed_visits] reasons, and free
    # text beside it (required for "other"). Visits missed before the codes existed read "other".
    reason_code = models.CharField("Reason missed", max_length=40, blank=True)
    reason = models.TextField(blank=True, help_text="Why the visit was missed.")
    out_of_window = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["participant", "scheduled_date"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "definition"], name="one_visit_per_definition"),
        ]
        indexes = [
            # A participant's visits of one status (the visit-order check reads the done ones at every
            # visit save; the schedule moves the scheduled ones). Without it SQLite, which keeps no
            # statistics, searches the status index: every done visit of the trial, 0.1 s at 10,000
            # participants, where this reads the participant's few.
            models.Index(fields=["participant", "status"], name="visit_participant_status"),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.definition.code}"

    @property
    def timeline(self) -> Timeline | None:
        """The participant's dates that bound this visit's (trial.participants.rules.Timeline)."""
        return self.participant.timeline() if self.participant_id else None

    @property
    def reason_label(self) -> str:
        """The missed visit's coded reason as the protocol file's [missed_visits] list words it."""
        if not self.reason_code:
            return ""
        return next((r.label for r in protocol().missed_visit_reasons if r.code == self.reason_code), self.reason_code)

    def clean(self) -> None:
        rules_raise(self, visit_rules(protocol()))


class HamD17(ClinicalRecord):
    """HAM-D-17: items 1-3, 7-11, 15 score 0-4; the others 0-2; total 0-52 (Instruments)."""

    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="hamd")
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    item_1 = models.PositiveSmallIntegerField("1 Depressed mood", validators=HAMD_ITEM_0_4)
    item_2 = models.PositiveSmallIntegerField("2 Feelings of guilt", validators=HAMD_ITEM_0_4)
    item_3 = models.PositiveSmallIntegerField("3 Suicide", validators=HAMD_ITEM_0_4)
    item_4 = models.PositiveSmallIntegerField("4 Insomnia: early", validators=HAMD_ITEM_0_4)
    item_5 = models.PositiveSmallIntegerField("5 Insomnia: middle", validators=HAMD_ITEM_0_4)
    item_6 = models.PositiveSmallIntegerField("6 Insomnia: late", validators=HAMD_ITEM_0_4)
    item_7 = models.PositiveSmallIntegerField("7 Work and activities", validators=HAMD_ITEM_0_4)
    item_8 = models.PositiveSmallIntegerField("8 Retardation", validators=HAMD_ITEM_0_4)
    item_9 = models.PositiveSmallIntegerField("9 Agitation", validators=HAMD_ITEM_0_4)
    item_10 = models.PositiveSmallIntegerField("10 Anxiety: psychic", validators=HAMD_ITEM_0_4)
    item_11 = models.PositiveSmallIntegerField("11 Anxiety: somatic", validators=HAMD_ITEM_0_4)
    item_12 = models.PositiveSmallIntegerField("12 Somatic: gastrointestinal", validators=HAMD_ITEM_0_4)
    item_13 = models.PositiveSmallIntegerField("13 Somatic: general", validators=HAMD_ITEM_0_4)
    item_14 = models.PositiveSmallIntegerField("14 Genital symptoms", validators=HAMD_ITEM_0_4)
    item_15 = models.PositiveSmallIntegerField("15 Hypochondriasis", validators=HAMD_ITEM_0_4)
    item_16 = models.PositiveSmallIntegerField("16 Loss of weight", validators=HAMD_ITEM_0_4)
    item_17 = models.PositiveSmallIntegerField("17 Insight", validators=HAMD_ITEM_0_4)
    total = models.PositiveSmallIntegerField(editable=False, validators=stored_range(0, 52))  # Instruments: 0-52

    ITEM_FIELDS = tuple(f"item_{i}" for i in range(1, 18))

    def clean(self) -> None:
        rules_raise(self, hamd_rules(protocol()))
        # The total is derived, never typed (record_save always runs full_clean first).
        self.total = self.compute_total()

    def compute_total(self) -> int:
        return sum(int(getattr(self, f) or 0) for f in self.ITEM_FIELDS)


class CGIS(ClinicalRecord):
    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="cgis")
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    score = models.PositiveSmallIntegerField("CGI-S", validators=stored_range(1, 7))  # Instruments: 1-7

    class Meta:
        verbose_name = "CGI-S"
        verbose_name_plural = "CGI-S"

    def clean(self) -> None:
        rules_raise(self, cgis_rules(protocol()))


class LabResult(ClinicalRecord):
    """hs-CRP, TNF, sTNFR1, sTNFR2 (Schedule of assessments). ELISA analytes are run in duplicate."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="labs")
    analyte = models.CharField(max_length=20)
    value = models.DecimalField(max_digits=10, decimal_places=3, validators=LAB_VALUE)
    unit = models.CharField(max_length=10, blank=True, help_text="Filled from the protocol's unit for the analyte.")
    sample_time = models.DateTimeField()
    replicate_1 = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True, validators=LAB_VALUE)
    replicate_2 = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True, validators=LAB_VALUE)
    assay_batch = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "analyte"],
                condition=models.Q(voided_at__isnull=True),
                name="one_live_result_per_analyte",
            ),
        ]

    def clean(self) -> None:
        cfg = protocol()
        codes = [a.code for a in cfg.labs]
        if self.analyte not in codes:
            raise ValidationError({"analyte": f"Analyte must be one of {', '.join(codes)}."})
        a = cfg.analyte(self.analyte)
        if a.duplicates and self.replicate_1 is not None and self.replicate_2 is not None:
            # The reported value is the mean of the duplicates, never typed separately.
            self.value = ((Decimal(self.replicate_1) + Decimal(self.replicate_2)) / 2).quantize(Decimal("0.001"))
        errors = rules_errors(InstanceValues(self), lab_rules(a))
        if self.unit and self.unit != a.unit:
            errors.setdefault("unit", []).append(f"{a.label} is recorded in {a.unit}.")
        if errors:
            raise ValidationError(errors)
        self.unit = a.unit

    @property
    def cv_percent(self) -> float | None:
        """Coefficient of variation of the duplicates (protocol: CV <= 10%)."""
        if self.replicate_1 is None or self.replicate_2 is None:
            return None
        r1, r2 = float(self.replicate_1), float(self.replicate_2)
        mean = (r1 + r2) / 2
        return 0.0 if mean == 0 else abs(r1 - r2) / 2**0.5 / mean * 100


class LabSample(ClinicalRecord):
    """The blood drawn at a visit: when, and which tube (Schedule of assessments: EDTA tubes, 8-10 AM).

    What blinded staff record for the analytes whose post-baseline values reveal the arm; the results
    come from the laboratory and are entered or imported by an unblinded role (trial.blinding)."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="lab_samples")
    drawn_at = models.DateTimeField("Blood drawn at")
    tube_id = models.CharField("Tube label", max_length=40)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["visit"], condition=models.Q(voided_at__isnull=True), name="one_live_sample_per_visit"
            ),
        ]

    def __str__(self) -> str:
        return f"Sample {self.tube_id} ({self.visit})"


class VitalSigns(ClinicalRecord):
    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="vitals")
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, validators=stored_range(0, 700))
    systolic_mmhg = models.PositiveSmallIntegerField(null=True, blank=True, validators=stored_range(0, 300))
    diastolic_mmhg = models.PositiveSmallIntegerField(null=True, blank=True, validators=stored_range(0, 300))
    heart_rate_bpm = models.PositiveSmallIntegerField(null=True, blank=True, validators=stored_range(0, 300))
    temperature_c = models.DecimalField(
        max_digits=3, decimal_places=1, null=True, blank=True, validators=stored_range(0, 50)
    )

    class Meta:
        verbose_name_plural = "vital signs"

    def clean(self) -> None:
        rules_raise(self, vital_signs_rules(protocol()))


class Infusion(ClinicalRecord):
    """The clinic side of an infusion: 120 minutes through a catheter (Design).

    The planned dose is the dose-matched active arm's rule applied to the weight, the same number
    whichever arm the participant is in, so it reveals nothing; what goes into the bag is the
    pharmacy's record.
    """

    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="infusion")
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, validators=stored_range(0, 700))
    planned_dose_mg = models.PositiveIntegerField(editable=False, validators=stored_range(0, 100_000))
    start_time = models.DateTimeField(null=True, blank=True)
    stop_time = models.DateTimeField(null=True, blank=True)
    reaction = models.TextField(blank=True)
    delayed_for_infection = models.BooleanField(default=False)
    delay_reason = models.TextField(blank=True)
    delay_days = models.PositiveSmallIntegerField(default=0, validators=stored_range(0, 365))

    def clean(self) -> None:
        rules_raise(self, infusion_rules(protocol()))
        if self.weight_kg is not None:
            self.planned_dose_mg = planned_dose_mg(float(self.weight_kg))


def arm_dose_mg(arm: Arm, weight_kg: float) -> int:
    """One arm's dose for a weight: mg/kg x weight, rounded to whole vials (protocol: Design, study drug).

    0 for an arm with no drug (placebo)."""
    if arm.dose_mg_per_kg <= 0:
        return 0
    raw = Decimal(str(arm.dose_mg_per_kg)) * Decimal(str(weight_kg))
    # Half up (450 mg -> 5 vials), not Python's half-to-even.
    vials = max(1, int((raw / arm.vial_mg).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    return vials * arm.vial_mg


def planned_dose_mg(weight_kg: float) -> int:
    """The dose the bag is made up to, the same whichever arm the participant is in, so the blinded
    infusion form reveals nothing: with one active arm its dose, with several the highest (every bag
    carries that dose's volume; the pharmacy's record says what went into it)."""
    return arm_dose_mg(protocol().dose_matched_arm, weight_kg)


class SoftCheckFiring(models.Model):
    """One time a soft check ([[soft_checks]] of the protocol file) warned on a form or refused an entry.

    Queries raised by a check are counted from the queries table; warnings and refusals leave no record
    of their own (nothing, or the value as typed, is saved), so this log is what the Edit checks page
    counts them from. Append-only (trial.core.audit_triggers): a firing happened, it is never undone.
    """

    append_only = True

    class Kind(models.TextChoices):
        WARNING = "warning", "Warning"
        REFUSAL = "refusal", "Refusal"

    check_code = models.CharField(max_length=40, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    field = models.CharField(max_length=60, blank=True)
    message = models.TextField()
    # Fired on a value that would reveal the arm (trial.blinding): counted for unblinded roles only.
    reveals_arm = models.BooleanField(default=False)
    fired_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    fired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-fired_at", "-id"]

    def __str__(self) -> str:
        return f"{self.check_code} ({self.kind}) on {self.participant}"
