"""Forms for adverse events, concomitant medications and protocol deviations.

Cross-field rules of these records (seriousness criteria, dates) are the models' own clean(); the
service raises them and the view shows each message next to its field, with the input kept.
"""

from __future__ import annotations

from typing import Any

from django import forms

from trial.participants.forms import DATE, RecordForm, number
from trial.participants.validators import EndAfterStart, FormRule, NotInFuture
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation


def _choices(choices: Any) -> list[tuple[str, str]]:
    return [("", "---"), *choices]


class AdverseEventForm(RecordForm):
    term = forms.CharField(max_length=200, label="Event (term)")
    onset_date = forms.DateField(widget=DATE)
    end_date = forms.DateField(widget=DATE, required=False)
    ongoing = forms.BooleanField(required=False)
    severity = forms.ChoiceField(choices=_choices(AdverseEvent.Severity.choices))
    serious = forms.BooleanField(
        required=False,
        label="Serious adverse event (SAE)",
        help_text="An SAE notifies the investigators by e-mail at once.",
    )
    relatedness = forms.ChoiceField(choices=_choices(AdverseEvent.Relatedness.choices), label="Related to study drug")
    action_taken = forms.ChoiceField(choices=AdverseEvent.Action.choices, initial=AdverseEvent.Action.NONE)
    outcome = forms.ChoiceField(choices=_choices(AdverseEvent.Outcome.choices))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in AdverseEvent.SAE_CRITERIA:
            label = AdverseEvent._meta.get_field(name).verbose_name
            self.fields[name] = forms.BooleanField(required=False, label=str(label).capitalize())

    def get_rules(self) -> list[FormRule]:
        return [
            *super().get_rules(),
            NotInFuture("onset_date", "end_date"),
            EndAfterStart("onset_date", "end_date", "The event cannot end before its onset."),
        ]

    def sae_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in AdverseEvent.SAE_CRITERIA]

    def data_for_service(self) -> dict[str, Any]:
        return {n: self.cleaned_data.get(n) for n in self.record_fields()}


class ConmedForm(RecordForm):
    name = forms.CharField(max_length=200, label="Medication")
    drug_class = forms.ChoiceField(
        choices=_choices(ConcomitantMedication.DrugClass.choices),
        label="Class",
        help_text="NSAIDs and steroids are prohibited (except aspirin 81 mg): "
        "a protocol deviation is recorded automatically.",
    )
    dose = forms.DecimalField(required=False, max_digits=8, decimal_places=2, widget=number())
    dose_unit = forms.CharField(required=False, max_length=20, initial="mg")
    indication = forms.CharField(required=False, max_length=200)
    start_date = forms.DateField(widget=DATE)
    end_date = forms.DateField(widget=DATE, required=False)

    def get_rules(self) -> list[FormRule]:
        return [
            *super().get_rules(),
            NotInFuture("start_date", "end_date"),
            EndAfterStart("start_date", "end_date", "The medication cannot stop before it starts."),
        ]

    def data_for_service(self) -> dict[str, Any]:
        data = {n: self.cleaned_data.get(n) for n in self.record_fields()}
        data["dose_unit"] = data["dose_unit"] or ""
        data["indication"] = data["indication"] or ""
        return data


class DeviationForm(RecordForm):
    deviation_date = forms.DateField(widget=DATE)
    category = forms.ChoiceField(choices=_choices(ProtocolDeviation.Category.choices))
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    major = forms.BooleanField(required=False, label="Major deviation")

    def get_rules(self) -> list[FormRule]:
        return [*super().get_rules(), NotInFuture("deviation_date")]

    def data_for_service(self) -> dict[str, Any]:
        return {n: self.cleaned_data.get(n) for n in self.record_fields()}
