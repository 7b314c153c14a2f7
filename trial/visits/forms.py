"""Forms of the visit pages: visit date, missed visit, HAM-D-17, CGI-S, labs, vital signs, infusion.

Ranges come from the protocol file, so the message next to a field quotes the protocol's range.
The HTML forms are `novalidate`: the server's message, not the browser's, is the one users see, and
an out-of-range value is kept in the field so it can be corrected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, cast

from django import forms

from trial.core.forms import DATE, DATETIME, DATETIME_FORMATS, RecordForm, number
from trial.core.validators import ReasonForChangeRequired, Rule, rules_apply
from trial.protocol.config import Analyte
from trial.protocol.selectors import protocol
from trial.visits.models import Visit
from trial.visits.rules import (
    VITAL_SIGNS,
    SampleTimeWhenResults,
    cgis_rules,
    hamd_rules,
    infusion_rules,
    lab_rules,
    missed_reason_rules,
    visit_date_rules,
    vital_signs_rules,
)

# Score anchors of the HAM-D-17 (Hamilton 1960), abridged, shown next to each item.
HAMD_ANCHORS: dict[int, tuple[str, ...]] = {
    1: (
        "absent",
        "only on questioning",
        "reported spontaneously",
        "communicated non-verbally",
        "virtually only these feelings",
    ),
    2: (
        "absent",
        "self-reproach",
        "ideas of guilt, rumination",
        "illness is a punishment; delusions of guilt",
        "accusatory voices or threatening hallucinations",
    ),
    3: ("absent", "life not worth living", "wishes to be dead", "suicidal ideas or gesture", "attempt at suicide"),
    4: ("no difficulty falling asleep", "occasional difficulty (> 30 min)", "nightly difficulty"),
    5: ("no difficulty", "restless, disturbed during the night", "waking, getting out of bed"),
    6: ("no difficulty", "wakes early, sleeps again", "cannot sleep again once up"),
    7: (
        "no difficulty",
        "thoughts of incapacity, fatigue",
        "loss of interest",
        "less time or productivity",
        "stopped working because of the illness",
    ),
    8: (
        "normal speech and thought",
        "slight retardation",
        "obvious retardation",
        "interview difficult",
        "complete stupor",
    ),
    9: (
        "none",
        "fidgetiness",
        "playing with hands, hair",
        "moving about, cannot sit still",
        "hand wringing, nail or lip biting",
    ),
    10: (
        "no difficulty",
        "tension, irritability",
        "worrying about minor matters",
        "apprehension in face or speech",
        "fears expressed without questioning",
    ),
    11: ("absent", "mild", "moderate", "severe", "incapacitating"),
    12: ("none", "loss of appetite, eats unprompted", "eats only when urged; asks for laxatives"),
    13: ("none", "heaviness, aches, loss of energy", "any clear-cut symptom"),
    14: ("absent", "mild", "severe (loss of libido, menstrual disturbance)"),
    15: (
        "not present",
        "self-absorption (bodily)",
        "preoccupation with health",
        "frequent complaints, requests for help",
        "hypochondriacal delusions",
    ),
    16: ("no weight loss", "probable weight loss", "definite weight loss"),
    17: ("acknowledges being depressed and ill", "acknowledges illness, blames other causes", "denies being ill"),
}

# Score anchors of the CGI-S (Guy 1976), shown next to each score the protocol file allows.
CGIS_ANCHORS: dict[int, str] = {
    1: "Normal, not at all ill",
    2: "Borderline mentally ill",
    3: "Mildly ill",
    4: "Moderately ill",
    5: "Markedly ill",
    6: "Severely ill",
    7: "Among the most extremely ill",
}


class VisitRecordForm(RecordForm):
    """A form entered at a visit. If the visit is not recorded as done yet, it asks for its date too."""

    def __init__(self, *args: Any, visit: Visit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.visit = visit
        if visit.status != Visit.Status.DONE:
            self.fields["visit_date"] = forms.DateField(
                widget=DATE,
                initial=date.today,
                label="Visit date",
                help_text=f"Window {visit.window_start:%d %b} to {visit.window_end:%d %b %Y}. Outside it the visit is "
                "accepted, flagged, and a query is raised.",
            )
        self.order_fields(["visit_date"])

    META_FIELDS = ("version", "reason", "visit_date")

    def get_rules(self) -> list[Rule]:
        # The visit's own date, asked here when the visit is not yet recorded as done (Visit: actual_date).
        return [*super().get_rules(), *visit_date_rules(protocol(), "visit_date")]


class HamdForm(VisitRecordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in protocol().hamd_items:
            anchors = HAMD_ANCHORS.get(item.number, ())
            self.fields[f"item_{item.number}"] = forms.IntegerField(
                label=f"{item.number} {item.name}",
                help_text="; ".join(f"{i} {a}" for i, a in enumerate(anchors)),
                widget=number("1", min=0, max=item.max, **{"data-hamd-item": item.number, "class": "score"}),
                error_messages={"required": f"Score item {item.number} ({item.name}), 0 to {item.max}."},
            )

    def get_rules(self) -> list[Rule]:
        return [*super().get_rules(), *hamd_rules(protocol())]

    def items(self) -> dict[int, int]:
        return {item.number: self.cleaned_data[f"item_{item.number}"] for item in protocol().hamd_items}

    @property
    def item_rows(self) -> list[tuple[forms.BoundField, int, tuple[str, ...]]]:
        return [(self[f"item_{i.number}"], i.max, HAMD_ANCHORS.get(i.number, ())) for i in protocol().hamd_items]

    @property
    def typed_total(self) -> int | None:
        """The total of what was typed, for the re-rendered form (the saved total is derived on save)."""
        total = 0
        for item in protocol().hamd_items:
            raw = self.data.get(f"item_{item.number}") if self.is_bound else self.initial.get(f"item_{item.number}")
            if raw is None:
                continue
            try:
                total += int(raw)
            except (TypeError, ValueError):
                continue
        return total


class CgisForm(VisitRecordForm):
    # An integer field shown as radio buttons: a score outside the protocol's range gets the rule's
    # message (the same as the model's), not a generic "not a valid choice".
    score = forms.IntegerField(label="CGI-S: severity of illness")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scale = protocol().scales["cgis"]
        scores = range(int(scale.min), int(scale.max) + 1)
        self.fields["score"].widget = forms.RadioSelect(
            choices=[(n, f"{n} {CGIS_ANCHORS[n]}" if n in CGIS_ANCHORS else str(n)) for n in scores]
        )

    def get_rules(self) -> list[Rule]:
        return [*super().get_rules(), *cgis_rules(protocol())]


class LabsForm(VisitRecordForm):
    """hs-CRP, TNF, sTNFR1, sTNFR2 at one visit. ELISA analytes take two replicates; their mean is the value.

    Analytes this user may not see at this visit (a rater, post-baseline) are not on the form at all.
    """

    sample_time = forms.DateTimeField(
        label="Blood drawn at",
        widget=DATETIME,
        input_formats=DATETIME_FORMATS,
        required=False,
        help_text="Protocol: between 8 and 10 AM after 30 min rest.",
    )
    assay_batch = forms.CharField(required=False, max_length=40)

    def __init__(self, *args: Any, analytes: tuple[Analyte, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.analytes = analytes
        for a in analytes:
            if a.duplicates:
                for n in (1, 2):
                    self.fields[f"{a.code}_replicate_{n}"] = forms.DecimalField(
                        label=f"{a.label} replicate {n} ({a.unit})",
                        required=False,
                        max_digits=10,
                        decimal_places=3,
                        widget=number(),
                    )
            else:
                self.fields[f"{a.code}_value"] = forms.DecimalField(
                    label=f"{a.label} ({a.unit})",
                    required=False,
                    max_digits=10,
                    decimal_places=3,
                    widget=number(),
                )
            self.fields[f"{a.code}_version"] = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def value_fields(self) -> list[str]:
        return [n for n in self.fields if n.endswith(("_value", "_replicate_1", "_replicate_2"))]

    def get_rules(self) -> list[Rule]:
        return [
            _LabReasonRequired([f"{a.code}_version" for a in self.analytes]),
            *visit_date_rules(protocol(), "visit_date"),
            *(rule for a in self.analytes for rule in lab_rules(a, prefix=f"{a.code}_", optional=True)),
            SampleTimeWhenResults(self.value_fields()),
        ]

    @property
    def editing(self) -> bool:
        source = self.data if self.is_bound else self.initial
        return any(source.get(f"{a.code}_version") for a in self.analytes)

    def entered(self) -> list[dict[str, Any]]:
        """One dict per analyte with a result typed in, ready for lab_record."""
        out = []
        d = self.cleaned_data
        for a in self.analytes:
            version = d.get(f"{a.code}_version") or None
            if a.duplicates:
                r1, r2 = d.get(f"{a.code}_replicate_1"), d.get(f"{a.code}_replicate_2")
                if r1 is None and r2 is None:
                    continue
                out.append({"analyte": a.code, "replicate_1": r1, "replicate_2": r2, "version": version})
            else:
                if d.get(f"{a.code}_value") is None:
                    continue
                out.append({"analyte": a.code, "value": d[f"{a.code}_value"], "version": version})
        return out

    def rows(self) -> list[tuple[Analyte, list[forms.BoundField]]]:
        return [
            (a, [self[n] for n in self.fields if n.startswith(f"{a.code}_") and not n.endswith("_version")])
            for a in self.analytes
        ]

    def conflict_rows(self, current: Any) -> list[tuple[str, Any, Any]]:
        code = current.analyte
        d = getattr(self, "cleaned_data", {})
        label = next(a.label for a in self.analytes if a.code == code)
        fields = ["replicate_1", "replicate_2", "value"]
        return [
            (f"{label} {f.replace('_', ' ')}", getattr(current, f), d.get(f"{code}_{f}"))
            for f in fields
            if f"{code}_{f}" in self.fields or f == "value"
        ]


class _LabReasonRequired(ReasonForChangeRequired):
    def __init__(self, version_fields: list[str]) -> None:
        self.version_fields = version_fields

    def __call__(self, data: Any) -> dict[str, str]:
        editing = any(data.get(f) for f in self.version_fields)
        return super().__call__({"version": editing, "reason": data.get("reason")})


class VitalsForm(VisitRecordForm):
    weight_kg = forms.DecimalField(
        label="Weight (kg)",
        max_digits=5,
        decimal_places=1,
        widget=number(),
        help_text="The infusion dose is calculated from this weight.",
    )
    systolic_mmhg = forms.IntegerField(label="Systolic BP (mmHg)", required=False, widget=number("1"))
    diastolic_mmhg = forms.IntegerField(label="Diastolic BP (mmHg)", required=False, widget=number("1"))
    heart_rate_bpm = forms.IntegerField(label="Heart rate (bpm)", required=False, widget=number("1"))
    temperature_c = forms.DecimalField(
        label="Temperature (°C)", required=False, max_digits=3, decimal_places=1, widget=number()
    )

    def get_rules(self) -> list[Rule]:
        return [*super().get_rules(), *vital_signs_rules(protocol())]

    def data_for_service(self) -> dict[str, Any]:
        return {n: self.cleaned_data.get(n) for n in VITAL_SIGNS}


class InfusionForm(VisitRecordForm):
    weight_kg = forms.DecimalField(
        label="Weight for the dose (kg)",
        max_digits=5,
        decimal_places=1,
        widget=number(),
        help_text="Today's weight from vital signs; the planned dose follows it.",
    )
    start_time = forms.DateTimeField(required=False, widget=DATETIME, input_formats=DATETIME_FORMATS)
    stop_time = forms.DateTimeField(
        required=False, widget=DATETIME, input_formats=DATETIME_FORMATS, help_text="Protocol: infused over 120 minutes."
    )
    reaction = forms.CharField(label="Infusion reactions", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    delayed_for_infection = forms.BooleanField(required=False, label="Delayed for signs of infection")
    delay_reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    delay_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=60,
        widget=number("1"),
        help_text="Later visits are rescheduled to keep their spacing from the delayed infusion.",
    )

    SERVICE_FIELDS = (
        "weight_kg",
        "start_time",
        "stop_time",
        "reaction",
        "delayed_for_infection",
        "delay_reason",
        "delay_days",
    )

    def get_rules(self) -> list[Rule]:
        return [*super().get_rules(), *infusion_rules(protocol())]

    def data_for_service(self) -> dict[str, Any]:
        data = {n: self.cleaned_data.get(n) for n in self.SERVICE_FIELDS}
        data["delay_days"] = data["delay_days"] or 0
        data["reaction"] = data["reaction"] or ""
        data["delay_reason"] = data["delay_reason"] or ""
        return data


class VisitDateForm(forms.Form):
    """The date a visit was done. Changing the date of a visit already done needs a reason."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    actual_date = forms.DateField(label="Visit date", widget=DATE, initial=date.today)
    facts: Mapping[str, Any] = {}  # the participant's timeline (RecordFormView.form_facts)
    reason = forms.CharField(required=False, label="Reason for change", widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, visit: Visit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.visit = visit
        self.editing = visit.status == Visit.Status.DONE
        if not self.editing:
            del self.fields["reason"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rules: list[Rule] = visit_date_rules(protocol())
        if self.editing:
            rules.append(ReasonForChangeRequired())
        rules_apply(self, rules, record=self.facts)
        return data

    def conflict_rows(self, current: Any) -> list[tuple[str, Any, Any]]:
        return [("Visit date", current.actual_date, getattr(self, "cleaned_data", {}).get("actual_date"))]


class MissedVisitForm(forms.Form):
    """Why a visit was missed: a coded reason from the protocol file's [missed_visits] list, and free
    text (required for "other")."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    missed_reason_code = forms.ChoiceField(label="Reason", required=False)
    missed_reason = forms.CharField(
        label="Details",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required for \u201cOther\u201d; otherwise anything the reason does not say.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["missed_reason_code"]).choices = [
            ("", "---"),
            *((r.code, r.label) for r in protocol().missed_visit_reasons),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The model's rules, read for this form's field names (Visit.reason_code and reason of a missed visit).
        rules = missed_reason_rules(protocol(), code="missed_reason_code", text="missed_reason")
        rules_apply(self, rules, record={"status": "missed"})
        return data

    def conflict_rows(self, current: Any) -> list[tuple[str, Any, Any]]:
        d = getattr(self, "cleaned_data", {})
        return [
            ("Status", current.get_status_display(), "Missed"),
            ("Reason", current.reason_code, d.get("missed_reason_code")),
            ("Details", current.reason, d.get("missed_reason")),
        ]


class LabSampleForm(VisitRecordForm):
    """The sample a blinded person records for the analytes that reveal the arm after baseline: when
    the blood was drawn and the tube's label. Their results come from the laboratory (trial.blinding)."""

    drawn_at = forms.DateTimeField(
        label="Blood drawn at",
        widget=DATETIME,
        input_formats=DATETIME_FORMATS,
        help_text="Protocol: EDTA tube, between 8 and 10 AM after 30 min rest.",
    )
    tube_id = forms.CharField(label="Tube label", max_length=40)


class LabImportForm(forms.Form):
    # A results file of one trial is a few hundred rows; anything far larger is not one.
    MAX_BYTES = 1_000_000

    file = forms.FileField(
        help_text="CSV from the laboratory: participant_id, visit (code, e.g. W2), tube_id, analyte, value, "
        "replicate_1, replicate_2."
    )
    assay_batch = forms.CharField(required=False, max_length=40)

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if f.size > self.MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {self.MAX_BYTES // 1000} kB.")
        return f
