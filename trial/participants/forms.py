"""Forms of the participant pages, and the base every record form of Stratum builds on.

Forms validate what the user typed and keep it: a form with errors re-renders with every value and
a message next to each bad field. They never write; views hand the cleaned data to a service.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from trial.participants.models import EndOfStudy, Sex
from trial.participants.services import SCREENING_MEASURES, attested_criteria
from trial.participants.validators import (
    BaselineWithinScreeningWindow,
    EveryCriterionAnswered,
    FormRule,
    NotInFuture,
    OutcomeMatchesReason,
    ReasonForChangeRequired,
    rules_apply,
)
from trial.protocol.config import ProtocolConfig
from trial.protocol.models import Site
from trial.protocol.selectors import protocol

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
YES_NO = [("yes", "Yes"), ("no", "No")]


def number(step: str = "any", **attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs={"step": step, "inputmode": "decimal", **attrs})


def yes_no_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=YES_NO,
        coerce=lambda v: v == "yes",
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )


def yes_no_initial(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


class RecordForm(forms.Form):
    """A form for one audited record: carries its version and, when editing, a reason for change."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)
    reason = forms.CharField(
        required=False,
        label="Reason for change",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when you change a saved record; it goes into the audit trail.",
    )

    META_FIELDS = ("version", "reason")

    def get_rules(self) -> list[FormRule]:
        return [ReasonForChangeRequired()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, self.get_rules())
        return data

    @property
    def editing(self) -> bool:
        value = self.data.get("version") if self.is_bound else self.initial.get("version")
        return bool(value)

    def record_fields(self) -> list[str]:
        return [n for n in self.fields if n not in self.META_FIELDS]

    def conflict_rows(self, current: Any) -> list[tuple[str, Any, Any]]:
        """(label, saved value, the value this user typed) for each field the two versions share."""
        data = getattr(self, "cleaned_data", {})
        return [
            (str(self[n].label), getattr(current, n), data.get(n, self.data.get(n)))
            for n in self.record_fields()
            if hasattr(current, n)
        ]


def apply_service_errors(form: forms.Form, exc: ValidationError, field_map: Mapping[str, str] | None = None) -> None:
    """Show a service's ValidationError next to the form's fields (or at the top when no field matches)."""
    field_map = field_map or {}
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            target = field_map.get(name, name)
            for error in errors:
                for message in error.messages:
                    if target in form.fields and target not in form.errors:
                        form.add_error(target, message)
                    elif target in form.fields:
                        form.errors[target].append(message)
                    else:
                        form.add_error(None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


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
        self, *args: Any, config: ProtocolConfig | None = None, new: bool = True, checking: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.config = config or protocol()
        self.checking = checking
        scales = self.config.scales
        ranges = {
            "qids_sr": (scales["qids_sr"].min, scales["qids_sr"].max),
            "mmse": (scales["mmse"].min, scales["mmse"].max),
            "mgh_s": (scales["mgh_s"].min, scales["mgh_s"].max),
            "hamd_item3": (0, self.config.hamd_items[2].max),
            "screening_crp_mg_l": (self.config.analyte("hs_crp").min, self.config.analyte("hs_crp").max),
        }
        for name, (lo, hi) in ranges.items():
            field = self.fields[name]
            field.help_text = f"{lo:g} to {hi:g}"
            field.validators.append(_range(lo, hi, str(field.label)))
        for crit in self.config.inclusion:
            if not crit.computed:
                self.fields[crit.code] = yes_no_field(crit.text)
        for crit in self.config.exclusion:
            if not crit.computed:
                self.fields[crit.code] = yes_no_field(crit.text)
        if new:
            self.fields["site"] = forms.ModelChoiceField(
                queryset=Site.objects.order_by("code"), to_field_name="code", empty_label=None
            )
            self.order_fields(["site"])
        else:
            for name in self.PARTICIPANT_FIELDS:
                self.fields.pop(name, None)
        if checking:
            for field in self.fields.values():
                field.required = False

    def get_rules(self) -> list[FormRule]:
        rules: list[FormRule] = [*super().get_rules(), NotInFuture("screening_date", "date_of_birth")]
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


def _range(lo: float, hi: float, label: str) -> Any:
    def check(value: Any) -> None:
        if value is not None and not lo <= float(value) <= hi:
            raise ValidationError(f"{label} must be between {lo:g} and {hi:g}; {value} is out of range.")

    return check


class ConsentForm(RecordForm):
    consent_date = forms.DateField(widget=DATE, initial=date.today)
    consent_version = forms.CharField(label="Consent form version", max_length=20)
    participant_signed = forms.BooleanField(label="Signed by the participant", required=False)
    copy_given = forms.BooleanField(label="Copy given to the participant", required=False)

    def get_rules(self) -> list[FormRule]:
        return [*super().get_rules(), NotInFuture("consent_date")]


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
        rules_apply(
            self,
            [
                BaselineWithinScreeningWindow(
                    screening_date=self.screening_date,
                    max_days=protocol().baseline_max_days_after_screening,
                )
            ],
        )
        return data


class EndOfStudyForm(forms.Form):
    """Completion or withdrawal. Entered once per participant (the service refuses a second)."""

    outcome = forms.ChoiceField(choices=[("", "---"), *EndOfStudy.Outcome.choices])
    end_date = forms.DateField(widget=DATE, initial=date.today)
    end_reason = forms.ChoiceField(choices=[], label="Reason")
    details = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["end_reason"].choices = [("", "---")] + [
            (r, r.capitalize()) for r in protocol().end_of_study_reasons
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules_apply(self, [OutcomeMatchesReason(reason_field="end_reason"), NotInFuture("end_date")])
        return data
