"""Forms for adverse events, concomitant medications and protocol deviations.

Each form applies the same rules as its record's model (trial.safety.rules: seriousness criteria,
dates), so a message appears next to its field before anything reaches the service.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms

from trial.core.forms import DATE, RecordForm, number
from trial.core.validators import Rule
from trial.protocol.selectors import protocol
from trial.safety.coding import dictionary_terms
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation
from trial.safety.rules import adverse_event_rules, conmed_rules, deviation_rules


def _choices(choices: Any) -> list[tuple[str, str]]:
    return [("", "---"), *choices]


class AdverseEventForm(RecordForm):
    term = forms.CharField(max_length=200, label="Event (term)")
    onset_date = forms.DateField(widget=DATE)
    end_date = forms.DateField(widget=DATE, required=False)
    ongoing = forms.BooleanField(required=False)
    # Not required here: the rules say it in the record's words, with every other message (trial.safety.rules).
    severity = forms.ChoiceField(choices=_choices(AdverseEvent.Severity.choices), required=False)
    serious = forms.BooleanField(
        required=False,
        label="Serious adverse event (SAE)",
        help_text="Serious if it meets any criterion below (ICH E2A): tick each that applies. "
        "An SAE notifies the investigators by e-mail at once.",
    )
    relatedness = forms.ChoiceField(
        choices=_choices(AdverseEvent.Relatedness.choices), label="Related to study drug", required=False
    )
    action_taken = forms.ChoiceField(choices=AdverseEvent.Action.choices, initial=AdverseEvent.Action.NONE)
    outcome = forms.ChoiceField(choices=_choices(AdverseEvent.Outcome.choices), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in AdverseEvent.SAE_CRITERIA:
            label = getattr(AdverseEvent._meta.get_field(name), "verbose_name", name)
            self.fields[name] = forms.BooleanField(required=False, label=str(label).capitalize())
        # The seriousness criteria (ICH E2A) sit right after "serious", where the choice is made.
        order = list(self.fields)
        for name in AdverseEvent.SAE_CRITERIA:
            order.remove(name)
        at = order.index("serious") + 1
        self.order_fields([*order[:at], *AdverseEvent.SAE_CRITERIA, *order[at:]])

    def get_rules(self) -> list[Rule]:
        return [*super().get_rules(), *adverse_event_rules(protocol())]

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

    def get_rules(self) -> list[Rule]:
        return [*super().get_rules(), *conmed_rules(protocol())]

    def data_for_service(self) -> dict[str, Any]:
        data = {n: self.cleaned_data.get(n) for n in self.record_fields()}
        data["dose_unit"] = data["dose_unit"] or ""
        data["indication"] = data["indication"] or ""
        return data


class DeviationForm(RecordForm):
    deviation_date = forms.DateField(widget=DATE)
    category = forms.ChoiceField(choices=_choices(ProtocolDeviation.Category.choices))
    # Not required here: the rule says it in the record's words (trial.safety.rules).
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    major = forms.BooleanField(required=False, label="Major deviation")

    def get_rules(self) -> list[Rule]:
        return [*super().get_rules(), *deviation_rules(protocol())]

    def data_for_service(self) -> dict[str, Any]:
        return {n: self.cleaned_data.get(n) for n in self.record_fields()}


class AdverseEventCodeForm(forms.Form):
    """The data manager codes a term to an LLT of the dictionary, with a reason (audited)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    llt = forms.ChoiceField(label="Lowest level term (LLT)", required=False)
    reason = forms.CharField(
        required=False,
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why this LLT fits the verbatim term; it goes into the audit trail.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["llt"]).choices = [("", "---")] + [
            (t.llt, f"{t.llt} \u2192 {t.pt} ({t.soc})") for t in dictionary_terms()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Every message at once: both the term and the reason are checked here, as the service does.
        if not data.get("llt") and "llt" not in self.errors:
            self.add_error("llt", "Choose a lowest level term of the dictionary.")
        if not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why this term is coded so (it goes into the audit trail).")
        return data

    def conflict_rows(self, current: Any) -> list[tuple[str, Any, Any]]:
        return [("Lowest level term", current.coded_llt, getattr(self, "cleaned_data", {}).get("llt"))]
