"""Each participant rule gives the same message on the same field from the model and from the form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.trial.rule_parity import assert_same_rule
from trial.participants.forms import ConsentForm, EndOfStudyForm, ScreeningForm
from trial.participants.models import Consent, EndOfStudy, Participant, Screening

TODAY = date.today()
TOMORROW = (TODAY + timedelta(days=1)).isoformat()
LAST_WEEK = (TODAY - timedelta(days=7)).isoformat()
FUTURE = "This date cannot be in the future."


def born(years_ago: int) -> str:
    return date(TODAY.year - years_ago, 1, 1).isoformat()


@pytest.mark.django_db  # the new-participant form lists the sites
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"date_of_birth": born(40)}, None, None),
        ({"date_of_birth": TOMORROW}, "date_of_birth", FUTURE),
        ({"date_of_birth": born(10)}, "date_of_birth", "Age must be between 18 and 100 years; 10 is out of range."),
        ({"date_of_birth": born(102)}, "date_of_birth", "Age must be between 18 and 100 years; 102 is out of range."),
    ],
    ids=["valid", "born tomorrow", "aged 10", "aged 102"],
)
def test_participant_rules(data: dict[str, Any], field: str | None, message: str | None) -> None:
    form = ScreeningForm(data=data, new=True, checking=True)
    assert_same_rule(form=form, model=Participant, data=data, field=field, message=message)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {
                "screening_date": LAST_WEEK,
                "qids_sr": "27",
                "mmse": "30",
                "mgh_s": "0",
                "hamd_item3": "4",
                "screening_crp_mg_l": "500",
                "weight_kg": "250",
                "height_cm": "120",
            },
            None,
            None,
        ),
        ({"screening_date": TOMORROW}, "screening_date", FUTURE),
        ({"qids_sr": "28"}, "qids_sr", "QIDS-SR-16 must be between 0 and 27; 28 is out of range."),
        ({"mmse": "31"}, "mmse", "MMSE must be between 0 and 30; 31 is out of range."),
        ({"mgh_s": "30.5"}, "mgh_s", "MGH Staging must be between 0 and 30; 30.5 is out of range."),
        ({"hamd_item3": "5"}, "hamd_item3", "HAM-D item 3 (Suicide) must be between 0 and 4; 5 is out of range."),
        (
            {"screening_crp_mg_l": "500.01"},
            "screening_crp_mg_l",
            "Screening hs-CRP must be between 0 and 500 mg/L; 500.01 is out of range.",
        ),
        ({"weight_kg": "29.9"}, "weight_kg", "Weight must be between 30 and 250 kg; 29.9 is out of range."),
        ({"weight_kg": "250.1"}, "weight_kg", "Weight must be between 30 and 250 kg; 250.1 is out of range."),
        ({"height_cm": "230.5"}, "height_cm", "Height must be between 120 and 230 cm; 230.5 is out of range."),
    ],
    ids=["valid", "tomorrow", "qids", "mmse", "mgh-s", "item 3", "hs-crp", "light", "heavy", "tall"],
)
def test_screening_rules(data: dict[str, Any], field: str | None, message: str | None) -> None:
    form = ScreeningForm(data=data, new=False, checking=True)
    assert_same_rule(form=form, model=Screening, data=data, field=field, message=message)


CONSENT = {"consent_date": LAST_WEEK, "consent_version": "v1.0", "participant_signed": True}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"consent_date": TOMORROW}, "consent_date", FUTURE),
        (
            {"participant_signed": False},
            "participant_signed",
            "Written informed consent must be signed by the participant.",
        ),
    ],
    ids=["valid", "tomorrow", "unsigned"],
)
def test_consent_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = CONSENT | change
    assert_same_rule(form=ConsentForm(data=data), model=Consent, data=data, field=field, message=message)


END = {"outcome": "withdrawn", "end_date": LAST_WEEK, "end_reason": "adverse event"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, None, None),
        ({"outcome": "completed", "end_reason": "completed"}, None, None),
        (
            {"outcome": "completed"},
            "end_reason",
            "A participant who completed the study has the reason 'completed'.",
        ),
        ({"end_reason": "completed"}, "end_reason", "Give the reason for withdrawal."),
        ({"end_date": TOMORROW}, "end_date", FUTURE),
    ],
    ids=["withdrawn", "completed", "completed, other reason", "withdrawn, reason completed", "tomorrow"],
)
def test_end_of_study_rules(change: dict[str, Any], field: str | None, message: str | None) -> None:
    data = END | change
    assert_same_rule(
        form=EndOfStudyForm(data=data),
        model=EndOfStudy,
        data=data,
        field=field,
        message=message,
        to_model={"end_reason": "reason"},  # the form's `reason` is the reason for change
    )
