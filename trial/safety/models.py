"""Adverse events, concomitant medications, protocol deviations (End points: Safety; Schedule: Prohibited)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from trial.core.models import ClinicalRecord
from trial.core.validators import rules_raise, stored_range
from trial.participants.models import Participant
from trial.participants.rules import Timeline
from trial.protocol.selectors import protocol
from trial.safety.rules import SAE_CRITERIA, adverse_event_rules, conmed_rules, deviation_rules


class AdverseEvent(ClinicalRecord):
    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    class Relatedness(models.TextChoices):
        NOT_RELATED = "not_related", "Not related"
        UNLIKELY = "unlikely", "Unlikely"
        POSSIBLE = "possible", "Possible"
        PROBABLE = "probable", "Probable"
        DEFINITE = "definite", "Definite"

    class Action(models.TextChoices):
        NONE = "none", "None"
        INFUSION_DELAYED = "infusion_delayed", "Infusion delayed"
        INFUSION_INTERRUPTED = "infusion_interrupted", "Infusion interrupted"
        DRUG_WITHDRAWN = "drug_withdrawn", "Study drug withdrawn"
        TREATED = "treated", "Treatment given"

    class Outcome(models.TextChoices):
        RECOVERED = "recovered", "Recovered / resolved"
        RECOVERING = "recovering", "Recovering / resolving"
        NOT_RECOVERED = "not_recovered", "Not recovered / not resolved"
        SEQUELAE = "sequelae", "Recovered with sequelae"
        FATAL = "fatal", "Fatal"
        UNKNOWN = "unknown", "Unknown"

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="adverse_events")
    term = models.CharField(max_length=200)
    onset_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    ongoing = models.BooleanField(default=False)
    severity = models.CharField(max_length=20, choices=Severity.choices)
    serious = models.BooleanField(default=False)
    # Seriousness criteria (ICH E2A)
    sae_death = models.BooleanField("results in death", default=False)
    sae_life_threatening = models.BooleanField("life-threatening", default=False)
    sae_hospitalization = models.BooleanField("requires or prolongs hospitalization", default=False)
    sae_disability = models.BooleanField("persistent or significant disability", default=False)
    sae_congenital_anomaly = models.BooleanField("congenital anomaly", default=False)
    sae_important_medical_event = models.BooleanField("important medical event", default=False)
    relatedness = models.CharField(max_length=20, choices=Relatedness.choices)
    action_taken = models.CharField(max_length=30, choices=Action.choices, default=Action.NONE)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)

    class Coding(models.TextChoices):
        UNCODED = "uncoded", "Not coded"
        AUTO = "auto", "Coded automatically"
        MANUAL = "manual", "Coded by the data manager"

    # The term coded against the AE dictionary (trial.safety.coding: LLT -> PT -> SOC). Set on save
    # when the term matches an LLT; otherwise the data manager codes it. Audited with the record.
    coding = models.CharField(max_length=10, choices=Coding.choices, default=Coding.UNCODED, db_index=True)
    coded_llt = models.CharField("Lowest level term", max_length=200, blank=True)
    coded_pt = models.CharField("Preferred term", max_length=200, blank=True)
    coded_soc = models.CharField("System organ class", max_length=200, blank=True)

    SAE_CRITERIA = SAE_CRITERIA

    class Meta:
        ordering = ["participant", "onset_date"]

    def __str__(self) -> str:
        return self.term

    @property
    def timeline(self) -> Timeline | None:
        """The participant's dates that bound this record's (trial.participants.rules.Timeline)."""
        return self.participant.timeline() if self.participant_id else None

    def clean(self) -> None:
        rules_raise(self, adverse_event_rules(protocol()))


class ConcomitantMedication(ClinicalRecord):
    class DrugClass(models.TextChoices):
        ANTIDEPRESSANT = "antidepressant", "Antidepressant"
        ANTIPSYCHOTIC = "antipsychotic", "Antipsychotic"
        MOOD_STABILIZER = "mood_stabilizer", "Mood stabilizer"
        ANXIOLYTIC = "anxiolytic", "Anxiolytic / hypnotic"
        NSAID = "nsaid", "NSAID"
        ASPIRIN = "aspirin", "Aspirin"
        STEROID = "steroid", "Corticosteroid"
        ANTIBIOTIC = "antibiotic", "Antibiotic"
        OTHER = "other", "Other"

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="concomitant_medications")
    name = models.CharField(max_length=200)
    drug_class = models.CharField(max_length=20, choices=DrugClass.choices)
    dose = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, validators=stored_range(0, 999_999)
    )
    dose_unit = models.CharField(max_length=20, blank=True)
    indication = models.CharField(max_length=200, blank=True)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    prohibited = models.BooleanField(default=False, editable=False)

    @property
    def timeline(self) -> Timeline | None:
        """The participant's dates that bound this record's (trial.participants.rules.Timeline)."""
        return self.participant.timeline() if self.participant_id else None

    def clean(self) -> None:
        rules_raise(self, conmed_rules(protocol()))
        self.prohibited = self.is_prohibited()

    def is_prohibited(self) -> bool:
        """NSAIDs and steroids are prohibited, except aspirin 81 mg when medically indicated."""
        cfg = protocol()
        if self.drug_class in cfg.prohibited_med_classes:
            return True
        if self.drug_class == self.DrugClass.ASPIRIN:
            unit = (self.dose_unit or "mg").strip().lower()
            return not (
                unit == "mg" and self.dose is not None and Decimal(self.dose) <= Decimal(str(cfg.aspirin_allowed_mg))
            )
        return False


class ProtocolDeviation(ClinicalRecord):
    class Category(models.TextChoices):
        ELIGIBILITY = "eligibility", "Eligibility"
        PROHIBITED_MEDICATION = "prohibited_medication", "Prohibited medication"
        VISIT_WINDOW = "visit_window", "Visit out of window"
        MISSED_ASSESSMENT = "missed_assessment", "Missed assessment"
        DOSING = "dosing", "Dosing / infusion"
        CONSENT = "consent", "Consent"
        BLINDING = "blinding", "Blinding"
        OTHER = "other", "Other"

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="deviations")
    deviation_date = models.DateField()
    category = models.CharField(max_length=30, choices=Category.choices)
    description = models.TextField()
    major = models.BooleanField(default=False)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    concomitant_medication = models.ForeignKey(
        ConcomitantMedication, on_delete=models.PROTECT, null=True, blank=True, related_name="deviations"
    )

    @property
    def timeline(self) -> Timeline | None:
        """The participant's dates that bound this record's (trial.participants.rules.Timeline)."""
        return self.participant.timeline() if self.participant_id else None

    def clean(self) -> None:
        rules_raise(self, deviation_rules(protocol()))


class Notification(models.Model):
    """The outbox of SAE alerts (ICH E6(R3) expedited safety reporting; ICH E2A).

    Written in the transaction that records the SAE, so an alert exists exactly when the event does;
    sent afterwards by a Celery task, retried with a growing wait, and listed on the failures page
    when it could not be sent. Not a clinical record: the event is, with its own audit trail. Rows
    are never deleted: the outbox is the record of who was told, and when.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="notifications")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    recipients = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"SAE alert {self.pk} ({self.status})"
