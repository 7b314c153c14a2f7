"""Participant, consent, screening and end of study (Design; Eligibility; End points)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import connection, models
from simple_history.models import HistoricalRecords

from trial.core.models import AuditHistoryManager, ClinicalRecord
from trial.core.validators import held_read, rules_raise, stored_range
from trial.participants.eligibility import age_on
from trial.participants.rules import (
    Timeline,
    consent_rules,
    end_of_study_rules,
    participant_rules,
    screening_rules,
)
from trial.protocol.models import Site
from trial.protocol.selectors import protocol


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"


class Participant(ClinicalRecord):
    class Status(models.TextChoices):
        SCREENING = "screening", "Screening"
        SCREEN_FAILED = "screen_failed", "Screen failed"
        ELIGIBLE = "eligible", "Eligible"
        RANDOMIZED = "randomized", "Randomized"
        WITHDRAWN = "withdrawn", "Withdrawn"
        COMPLETED = "completed", "Completed"

    screening_number = models.CharField(max_length=20, unique=True)
    participant_id = models.CharField(max_length=20, unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="participants")
    sex = models.CharField(max_length=1, choices=Sex.choices)
    date_of_birth = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCREENING, db_index=True)

    class Meta:
        ordering = ["participant_id"]

    def __str__(self) -> str:
        return self.participant_id

    def clean(self) -> None:
        rules_raise(self, participant_rules(protocol()))

    def timeline(self) -> Timeline:
        """The dates that bound this participant's other records (trial.participants.rules.Timeline)."""
        if self._state.adding:
            return Timeline(date_of_birth=self.date_of_birth)
        screening, consent, end = held_read(("participant-timeline", self.pk), self._timeline_dates)
        return Timeline(
            date_of_birth=self.date_of_birth,
            screening_date=screening,
            consent_date=consent,
            screen_failed=self.status == self.Status.SCREEN_FAILED,
            ended_on=end[0] if end else None,
            ended_how=end[1] if end else "",
        )

    def _timeline_dates(self) -> tuple[Any, Any, tuple[Any, str] | None]:
        # One statement for the three dates, written out: every clinical record's validation asks for
        # them, and three ORM queries were a large part of a form save's time.
        q = connection.ops.quote_name
        screening_t, consent_t, end_t = (q(m._meta.db_table) for m in (Screening, Consent, EndOfStudy))
        with connection.cursor() as cursor:
            # Table names come from the models; the participant's id is a parameter.
            first = "SELECT {} FROM {} WHERE participant_id = %s{} ORDER BY {} LIMIT 1"
            cursor.execute(
                "SELECT ({}), ({}), ({}), ({})".format(
                    first.format("screening_date", screening_t, "", "id"),
                    first.format("consent_date", consent_t, " AND voided_at IS NULL", "consent_date"),
                    first.format("end_date", end_t, "", "id"),
                    first.format("reason", end_t, "", "id"),
                ),
                [self.pk] * 4,
            )
            screening_raw, consent_raw, end_raw, end_reason = cursor.fetchone()
        as_date = models.DateField().to_python
        end = (as_date(end_raw), end_reason or "") if end_raw is not None else None
        return as_date(screening_raw), as_date(consent_raw), end


def _timeline_of(record: models.Model) -> Timeline | None:
    participant = getattr(record, "participant", None) if getattr(record, "participant_id", None) else None
    return participant.timeline() if participant is not None else None


class SiteMembership(models.Model):
    """A user's membership of one site: which site's participants a site-bound role may reach
    (`trial.participants.scope`).

    Here, not on the user model, because core sits below protocol (where Site lives), and here,
    not in trial.accounts, because the scope rule that reads it sits in this layer and every app
    above asks it. Granted and revoked by an administrator, with a reason, through
    `trial.accounts.services`; never deleted: a revoked membership keeps its row with who revoked
    it, when and why, and simple-history keeps a snapshot of every change (21 CFR 11.10(e)).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="site_memberships")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="memberships")
    granted_at = models.DateTimeField()
    # Empty only when a script made it (the demo set-up), never from a screen.
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    grant_reason = models.TextField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    revoke_reason = models.TextField(blank=True)

    history = HistoricalRecords(history_manager=AuditHistoryManager)

    class Meta:
        ordering = ["site__code", "granted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "site"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_live_site_membership_per_user_and_site",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} at site {self.site.code}" + (" (revoked)" if self.revoked_at else "")

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        # Who could reach which site's records is part of the audit trail: revoke, never delete.
        raise PermissionError("A site membership is revoked with a reason, never deleted.")


class NumberSeries(models.Model):
    """The last number handed out in one series (screening numbers; participant ids per site).

    Not a clinical record: a counter. Its row is locked while a number is taken, so two screenings
    at once get two numbers (the unique constraints on Participant stay as the second line of defence).
    """

    key = models.CharField(max_length=40, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.last}"


class Consent(ClinicalRecord):
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="consents")
    # Not `version`: that name is ClinicalRecord's optimistic-concurrency counter.
    form_version = models.CharField("consent form version", max_length=20)
    consent_date = models.DateField()
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    participant_signed = models.BooleanField(default=False)
    copy_given = models.BooleanField(default=False)

    class Meta:
        ordering = ["consent_date"]

    @property
    def timeline(self) -> Timeline | None:
        return _timeline_of(self)

    def clean(self) -> None:
        rules_raise(self, consent_rules(protocol()))


class Screening(ClinicalRecord):
    """One screening per participant. Each criterion of the protocol is its own field."""

    participant = models.OneToOneField(Participant, on_delete=models.PROTECT, related_name="screening")
    screening_date = models.DateField()
    # Measures (Eligibility; Instruments)
    screening_crp_mg_l = models.DecimalField(
        "screening hs-CRP (mg/L)", max_digits=7, decimal_places=2, validators=stored_range(0, 1000)
    )
    qids_sr = models.PositiveSmallIntegerField("QIDS-SR-16", validators=stored_range(0, 27))  # the scale: 0-27
    mmse = models.PositiveSmallIntegerField("MMSE", validators=stored_range(0, 30))  # the scale: 0-30
    mgh_s = models.DecimalField("MGH-S", max_digits=4, decimal_places=1, validators=stored_range(0, 99.9))
    hamd_item3 = models.PositiveSmallIntegerField(
        "HAM-D item 3 (suicide)", validators=stored_range(0, 4)
    )  # Instruments: item 3 scores 0-4
    bipolar = models.BooleanField("bipolar disorder, depressed phase", default=False)
    on_antidepressant = models.BooleanField(default=False)
    episode_duration_months = models.PositiveIntegerField(null=True, blank=True, validators=stored_range(0, 1200))
    height_cm = models.DecimalField(
        max_digits=4, decimal_places=1, null=True, blank=True, validators=stored_range(0, 300)
    )
    weight_kg = models.DecimalField(
        max_digits=5, decimal_places=1, null=True, blank=True, validators=stored_range(0, 700)
    )
    # Inclusion (True = met). Computed ones are derived from the measures by the service.
    age_25_60 = models.BooleanField(default=False, editable=False)
    major_depression_scid = models.BooleanField(null=True)
    stable_antidepressant_4wk = models.BooleanField(null=True)
    mgh_s_ge_2 = models.BooleanField(default=False, editable=False)
    qids_sr_ge_14 = models.BooleanField(default=False, editable=False)
    # Only an enrichment design computes it ([eligibility] screening_crp_above); otherwise it stays False.
    screening_crp_enriched = models.BooleanField(default=False, editable=False)
    informed_consent = models.BooleanField(null=True)
    # Exclusion (True = present, which excludes)
    autoimmune_disorder = models.BooleanField(null=True)
    tuberculosis_risk = models.BooleanField(null=True)
    hepatitis_or_hiv = models.BooleanField(null=True)
    active_fungal_or_recurrent_infection = models.BooleanField(null=True)
    cancer_history = models.BooleanField(null=True)
    unstable_medical_illness = models.BooleanField(null=True)
    schizophrenia_or_psychosis = models.BooleanField(null=True)
    substance_abuse_6mo = models.BooleanField(null=True)
    active_suicidal_ideation = models.BooleanField(default=False, editable=False)
    mmse_lt_28 = models.BooleanField(default=False, editable=False)
    # What they imply
    eligible = models.BooleanField(default=False, editable=False)
    failed_criteria = models.JSONField(default=list, editable=False)

    def clean(self) -> None:
        rules_raise(self, screening_rules(protocol()))

    @property
    def bmi(self) -> float | None:
        if self.height_cm and self.weight_kg:
            return round(float(self.weight_kg) / (float(self.height_cm) / 100) ** 2, 1)
        return None

    @property
    def age(self) -> int:
        return age_on(self.participant.date_of_birth, self.screening_date)


class EndOfStudy(ClinicalRecord):
    class Outcome(models.TextChoices):
        COMPLETED = "completed", "Completed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    participant = models.OneToOneField(Participant, on_delete=models.PROTECT, related_name="end_of_study")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    end_date = models.DateField()
    reason = models.CharField(max_length=60)
    details = models.TextField(blank=True)

    @property
    def timeline(self) -> Timeline | None:
        return _timeline_of(self)

    def clean(self) -> None:
        rules_raise(self, end_of_study_rules(protocol()))
