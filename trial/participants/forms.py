"""Forms of the participant pages: screening, consent, randomize, end of study.

Each form applies the same rules as its record's model (trial.participants.rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from trial.core.forms import DATE, OneTimeForm, RecordForm, number, yes_no_field, yes_no_initial
from trial.core.validators import Rule, rules_apply
from trial.participants.models import EndOfStudy, Sex
from trial.participants.rules import (
    BaselineWithinScreeningWindow,
    EveryCriterionAnswered,
    consent_rules,
    end_of_study_rules,
    participant_rules,
    screening_ranges,
    screening_rules,
)
from trial.participants.services import SCREENING_MEASURES, attested_criteria
from trial.protocol.config import ProtocolConfig
from trial.protocol.models import Site
from trial.protocol.selectors import protocol


class ScreeningForm(RecordForm):
    """Every measure and criterion of the protocol's Eligibility section, each its own field.

    `checking=True` parses whatever is there without requiring anything, for the live eligibility
    panel and the "Check eligibility" button; saving requires every answer.
    """

    sex = forms.ChoiceField(choices=[("", "---"), *Sex.choices])
    date_of_birth = forms.DateField(widget=DATE)
    screening_date = forms.DateField(widget=DATE, initial=date.today)
    screening_crp_mg_l = forms.DecimalField(
        label="Screening hs-CRP (mg/L)", max_digits=7, decimal_places=2, widget=number()
    )
    qids_sr = forms.IntegerField(label="QIDS-SR-16 total", widget=number("1"))
    mmse = forms.IntegerField(label="MMSE total", widget=number("1"))
    mgh_s = forms.DecimalField(label="MGH-S staging score", max_digits=4, decimal_places=1, widget=number())
    hamd_item3 = forms.IntegerField(label="HAM-D item 3 (suicide)", widget=number("1"))
    bipolar = forms.BooleanField(label="Bipolar disorder, depressed phase", required=False)
    on_antidepressant = forms.BooleanField(label="On an antidepressant", required=False)
    episode_duration_months = forms.IntegerField(
        label="Episode duration (months)", required=False, min_value=0, widget=number("1")
    )
    height_cm = forms.DecimalField(label="Height (cm)", required=False, max_digits=4, decimal_places=1, widget=number())
    weight_kg = forms.DecimalField(label="Weight (kg)", required=False, max_digits=5, decimal_places=1, widget=number())

    PARTICIPANT_FIELDS = ("site", "sex", "date_of_birth")

    def __init__(
        self,
        *args: Any,
        config: ProtocolConfig | None = None,
        new: bool = True,
        checking: bool = False,
        sites: QuerySet[Site] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.config = config or protocol()
        self.checking = checking
        for rng in screening_ranges(self.config):
            self.fields[rng.field].help_text = rng.help_text
        for crit in self.config.inclusion:
            if not crit.computed:
                self.fields[crit.code] = yes_no_field(crit.text)
        for crit in self.config.exclusion:
            if not crit.computed:
                self.fields[crit.code] = yes_no_field(crit.text)
        if new:
            # Only the sites this user may screen at (trial.participants.scope); the service checks again.
            self.fields["site"] = forms.ModelChoiceField(
                queryset=Site.objects.order_by("code") if sites is None else sites,
                to_field_name="code",
                empty_label=None,
            )
            self.order_fields(["site"])
        else:
            for name in self.PARTICIPANT_FIELDS:
                self.fields.pop(name, None)
        if checking:
            for field in self.fields.values():
                field.required = False

    def get_rules(self) -> list[Rule]:
        rules = [*super().get_rules(), *participant_rules(self.config), *screening_rules(self.config)]
        if not self.checking:
            rules.append(EveryCriterionAnswered(attested_criteria()))
        return rules

    def measures_and_answers(self) -> dict[str, Any]:
        keys = SCREENING_MEASURES + attested_criteria()
        return {k: v for k, v in self.cleaned_data.items() if k in keys}

    @property
    def inclusion_fields(self) -> list[forms.BoundField]:
        return [self[c.code] for c in self.config.inclusion if c.code in self.fields]

    @property
    def exclusion_fields(self) -> list[forms.BoundField]:
        return [self[c.code] for c in self.config.exclusion if c.code in self.fields]

    @property
    def measure_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in SCREENING_MEASURES if n in self.fields]

    @property
    def participant_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.PARTICIPANT_FIELDS if n in self.fields]

    @staticmethod
    def initial_from(screening: Any) -> dict[str, Any]:
        initial = {n: getattr(screening, n) for n in SCREENING_MEASURES}
        initial |= {c: yes_no_initial(getattr(screening, c)) for c in attested_criteria()}
        return initial | {"version": screening.version}


class ConsentForm(RecordForm):
    consent_date = forms.DateField(widget=DATE, initial=date.today)
    consent_version = forms.CharField(label="Consent form version", max_length=20)
    participant_signed = forms.BooleanField(label="Signed by the participant", required=False)
    copy_given = forms.BooleanField(label="Copy given to the participant", required=False)

    def get_rules(self) -> list[Rule]:
        return [*super().get_rules(), *consent_rules(protocol())]


class RandomizeForm(forms.Form):
    baseline_date = forms.DateField(
        widget=DATE,
        initial=date.today,
        label="Baseline (week 0) date",
        help_text="Visit due dates follow this date. It must be within 1 month of screening.",
    )
    confirm = forms.BooleanField(
        label="I confirm this participant is eligible, has signed consent, and should be randomized now.",
        error_messages={"required": "Tick the confirmation to randomize."},
    )

    def __init__(self, *args: Any, screening_date: date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.screening_date = screening_date

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, [BaselineWithinScreeningWindow(screening_date=self.screening_date, config=protocol())])
        return data


class EndOfStudyForm(OneTimeForm):
    """Completion or withdrawal. Entered once per participant (the service refuses a second)."""

    outcome = forms.ChoiceField(choices=[("", "---"), *EndOfStudy.Outcome.choices])
    end_date = forms.DateField(widget=DATE, initial=date.today)
    end_reason = forms.ChoiceField(choices=[], label="Reason")
    details = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    facts: Mapping[str, Any] = {}  # the participant's timeline (RecordFormView.form_facts)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["end_reason"]).choices = [("", "---")] + [
            (r, r.capitalize()) for r in protocol().end_of_study_reasons
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, end_of_study_rules(protocol(), reason_field="end_reason"), record=self.facts)
        return data
