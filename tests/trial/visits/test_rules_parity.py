"""Each visit rule gives the same message on the same field from the model and from the form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.trial.rule_parity import assert_same_rule
from trial.protocol.selectors import protocol
from trial.visits.forms import (
    CgisForm,
    HamdForm,
    InfusionForm,
    LabsForm,
    MissedVisitForm,
    VisitDateForm,
    VitalsForm,
)
from trial.visits.models import CGIS, HamD17, Infusion, LabResult, Visit, VitalSigns

TODAY = date.today()
TOMORROW = (TODAY + timedelta(days=1)).isoformat()
FUTURE = "This date cannot be in the future."


def done() -> Visit:
    return Visit(status=Visit.Status.DONE, actual_date=TODAY)


def scheduled() -> Visit:
    return Visit(status=Visit.Status.SCHEDULED, window_start=TODAY, window_end=TODAY + timedelta(days=4))


@pytest.mark.parametrize(
    ("form_class", "data", "field", "message", "to_model", "extra"),
    [
        (VisitDateForm, {"version": "1", "actual_date": TODAY.isoformat()}, None, None, {}, {}),
        (VisitDateForm, {"version": "1", "actual_date": TOMORROW}, "actual_date", FUTURE, {}, {}),
        # A record form asks for the visit's date when the visit is not yet done.
        (CgisForm, {"visit_date": TOMORROW, "score": "4"}, "visit_date", FUTURE, {"visit_date": "actual_date"}, {}),
        (
            MissedVisitForm,
            {"version": "1", "missed_reason_code": "other", "missed_reason": "Week 3 HAM-D dropped for burden"},
            None,
            None,
            {"missed_reason": "reason", "missed_reason_code": "reason_code"},
            {"status": Visit.Status.MISSED},
        ),
        (
            MissedVisitForm,
            {"version": "1", "missed_reason_code": "other", "missed_reason": "  "},
            "missed_reason",
            "Give the reason the visit was missed.",
            {"missed_reason": "reason", "missed_reason_code": "reason_code"},
            {"status": Visit.Status.MISSED},
        ),
    ],
    ids=["valid date", "date tomorrow", "record form date tomorrow", "missed with reason", "missed, no reason"],
)
def test_visit_rules(
    form_class: Any, data: dict[str, Any], field: str | None, message: str | None, to_model: Any, extra: Any
) -> None:
    form = form_class(data=data) if form_class is MissedVisitForm else form_class(data=data, visit=scheduled())
    assert_same_rule(form=form, model=Visit, data=data, field=field, message=message, to_model=to_model, extra=extra)


ZEROS = {f"item_{n}": "0" for n in range(1, 18)}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"item_1": "4", "item_17": "2"}, None, None),
        ({"item_1": "5"}, "item_1", "Item 1 (Depressed mood) scores 0 to 4; 5 is out of range."),
        ({"item_4": "3"}, "item_4", "Item 4 (Insomnia: early) scores 0 to 2; 3 is out of range."),
        ({"item_17": "3"}, "item_17", "Item 17 (Insight) scores 0 to 2; 3 is out of range."),
    ],
    ids=["maxima", "item 1", "item 4", "item 17"],
)
def test_hamd_item_maxima(change: dict[str, str], field: str | None, message: str | None) -> None:
    data = ZEROS | change
    assert_same_rule(form=HamdForm(data=data, visit=done()), model=HamD17, data=data, field=field, message=message)


CGIS_RANGE = "CGI-S scores 1 (normal) to 7 (among the most extremely ill); {} is out of range."


@pytest.mark.parametrize(
    ("score", "message"),
    [("1", None), ("7", None), ("0", CGIS_RANGE.format(0)), ("8", CGIS_RANGE.format(8))],
)
def test_cgis_range(score: str, message: str | None) -> None:
    data = {"score": score}
    field = "score" if message else None
    assert_same_rule(form=CgisForm(data=data, visit=done()), model=CGIS, data=data, field=field, message=message)


SAMPLE = {"sample_time": f"{TODAY.isoformat()}T08:30"}
TNF_DUPLICATES = "TNF is run by ELISA in duplicate: enter both replicates."


@pytest.mark.parametrize(
    ("analyte", "data", "field", "message"),
    [
        ("hs_crp", {"hs_crp_value": "500"}, None, None),
        (
            "hs_crp",
            {"hs_crp_value": "500.5"},
            "hs_crp_value",
            "hs-CRP must be between 0 and 500 mg/L; 500.5 is out of range.",
        ),
        ("tnf", {"tnf_replicate_1": "2.0", "tnf_replicate_2": "2.5"}, None, None),
        ("tnf", {"tnf_replicate_1": "2.0"}, "tnf_replicate_2", TNF_DUPLICATES),
        ("tnf", {"tnf_replicate_2": "2.0"}, "tnf_replicate_1", TNF_DUPLICATES),
        (
            "tnf",
            {"tnf_replicate_1": "1000.5", "tnf_replicate_2": "2"},
            "tnf_replicate_1",
            "TNF must be between 0 and 1000 pg/mL; 1000.5 is out of range.",
        ),
    ],
    ids=["hs-crp at max", "hs-crp over", "tnf both", "tnf first only", "tnf second only", "tnf over"],
)
def test_lab_rules(analyte: str, data: dict[str, str], field: str | None, message: str | None) -> None:
    form = LabsForm(data=SAMPLE | data, visit=done(), analytes=(protocol().analyte(analyte),))
    assert_same_rule(
        form=form,
        model=LabResult,
        data=SAMPLE | data,
        field=field,
        message=message,
        # One lab form holds every analyte; a saved result is one of them.
        to_model={f"{analyte}_{name}": name for name in ("value", "replicate_1", "replicate_2")},
        extra={"analyte": analyte},
    )


VITALS = {
    "weight_kg": "80",
    "systolic_mmhg": "120",
    "diastolic_mmhg": "80",
    "heart_rate_bpm": "70",
    "temperature_c": "36.6",
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"systolic_mmhg": "", "diastolic_mmhg": ""}, None, None),
        ({"weight_kg": "29"}, "weight_kg", "Weight must be between 30 and 250 kg; 29 is out of range."),
        (
            {"systolic_mmhg": "251"},
            "systolic_mmhg",
            "Systolic pressure must be between 60 and 250 mmHg; 251 is out of range.",
        ),
        (
            {"heart_rate_bpm": "201"},
            "heart_rate_bpm",
            "Heart rate must be between 30 and 200 bpm; 201 is out of range.",
        ),
        ({"temperature_c": "42.5"}, "temperature_c", "Temperature must be between 34 and 42 °C; 42.5 is out of range."),
        (
            {"diastolic_mmhg": "120", "systolic_mmhg": "120"},
            "diastolic_mmhg",
            "Diastolic pressure must be below systolic.",
        ),
        ({"diastolic_mmhg": ""}, "diastolic_mmhg", "Enter both systolic and diastolic pressure."),
        ({"systolic_mmhg": ""}, "systolic_mmhg", "Enter both systolic and diastolic pressure."),
    ],
    ids=[
        "valid",
        "no pressure",
        "light",
        "systolic",
        "heart rate",
        "temperature",
        "order",
        "no diastolic",
        "no systolic",
    ],
)
def test_vital_signs_rules(change: dict[str, str], field: str | None, message: str | None) -> None:
    data = VITALS | change
    assert_same_rule(
        form=VitalsForm(data=data, visit=done()), model=VitalSigns, data=data, field=field, message=message
    )


START = f"{TODAY.isoformat()}T09:00"
INFUSION = {"weight_kg": "80", "start_time": START, "stop_time": f"{TODAY.isoformat()}T11:00"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"delayed_for_infection": True, "delay_reason": "Urinary tract infection", "delay_days": "4"}, None, None),
        ({"weight_kg": "251"}, "weight_kg", "Weight must be between 30 and 250 kg; 251 is out of range."),
        ({"stop_time": START}, "stop_time", "The infusion must stop after it starts."),
        ({"start_time": ""}, "start_time", "Give the start time as well."),
        (
            {"delayed_for_infection": True, "delay_days": "4"},
            "delay_reason",
            "Give the reason for the delay (signs of infection, treatment started).",
        ),
        (
            {"delayed_for_infection": True, "delay_reason": "Urinary tract infection"},
            "delay_days",
            "Give the number of days the infusion was delayed.",
        ),
        ({"delay_days": "4"}, "delay_days", "Delay days are recorded only for an infusion delayed for infection."),
    ],
    ids=[
        "valid",
        "delayed",
        "heavy",
        "stop at start",
        "stop without start",
        "delay, no reason",
        "delay, no days",
        "days, no delay",
    ],
)
def test_infusion_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = INFUSION | change
    assert_same_rule(
        form=InfusionForm(data=data, visit=done()), model=Infusion, data=data, field=field, message=message
    )
