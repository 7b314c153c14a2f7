"""Each safety rule gives the same message on the same field from the model and from the form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.trial.rule_parity import assert_same_rule
from trial.safety.forms import AdverseEventForm, ConmedForm, DeviationForm
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation

TODAY = date.today()
TOMORROW = (TODAY + timedelta(days=1)).isoformat()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()
LAST_WEEK = (TODAY - timedelta(days=7)).isoformat()
FUTURE = "This date cannot be in the future."

EVENT = {
    "term": "Headache",
    "onset_date": LAST_WEEK,
    "end_date": YESTERDAY,
    "ongoing": False,
    "severity": "mild",
    "serious": False,
    "relatedness": "unlikely",
    "action_taken": "none",
    "outcome": "recovered",
}
STILL_GOING = {"end_date": "", "ongoing": True, "outcome": "not_recovered"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        (STILL_GOING, None, None),
        (
            {"serious": True, "sae_death": True, "outcome": "fatal"},
            None,
            None,
        ),
        ({"serious": True}, "serious", "A serious adverse event needs at least one seriousness criterion."),
        (
            {"sae_hospitalization": True},
            "serious",
            "A seriousness criterion is ticked: mark the event as serious.",
        ),
        (STILL_GOING | {"onset_date": TOMORROW}, "onset_date", FUTURE),
        ({"end_date": TOMORROW}, "end_date", FUTURE),
        ({"end_date": (TODAY - timedelta(days=8)).isoformat()}, "end_date", "The event cannot end before its onset."),
        ({"ongoing": True}, "end_date", "An ongoing event has no end date."),
        ({"end_date": ""}, "end_date", "A resolved event needs its end date."),
        ({"end_date": "", "outcome": "sequelae"}, "end_date", "A resolved event needs its end date."),
        (
            {"serious": True, "sae_death": True},
            "outcome",
            "An event resulting in death has the outcome 'Fatal'.",
        ),
    ],
    ids=[
        "resolved",
        "ongoing",
        "fatal",
        "serious without criterion",
        "criterion without serious",
        "onset tomorrow",
        "ends tomorrow",
        "ends before onset",
        "ongoing with an end",
        "recovered without an end",
        "sequelae without an end",
        "death not fatal",
    ],
)
def test_adverse_event_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = EVENT | change
    assert_same_rule(form=AdverseEventForm(data=data), model=AdverseEvent, data=data, field=field, message=message)


MEDICATION = {
    "name": "Sertraline",
    "drug_class": "antidepressant",
    "dose": "50",
    "dose_unit": "mg",
    "start_date": LAST_WEEK,
    "end_date": "",
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"name": "Aspirin", "drug_class": "aspirin", "dose": "81"}, None, None),
        ({"start_date": TOMORROW}, "start_date", FUTURE),
        ({"end_date": TOMORROW}, "end_date", FUTURE),
        (
            {"end_date": (TODAY - timedelta(days=8)).isoformat()},
            "end_date",
            "The medication cannot stop before it starts.",
        ),
        (
            {"name": "Aspirin", "drug_class": "aspirin", "dose": ""},
            "dose",
            "Give the aspirin dose: only 81 mg is allowed.",
        ),
    ],
    ids=["valid", "aspirin 81 mg", "starts tomorrow", "stops tomorrow", "stops before it starts", "aspirin, no dose"],
)
def test_conmed_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = MEDICATION | change
    assert_same_rule(form=ConmedForm(data=data), model=ConcomitantMedication, data=data, field=field, message=message)


DEVIATION = {"deviation_date": LAST_WEEK, "category": "other", "description": "Visit done out of window"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"deviation_date": TOMORROW}, "deviation_date", FUTURE),
        ({"description": "   "}, "description", "Describe the deviation."),
    ],
    ids=["valid", "tomorrow", "no description"],
)
def test_deviation_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = DEVIATION | change
    assert_same_rule(form=DeviationForm(data=data), model=ProtocolDeviation, data=data, field=field, message=message)
