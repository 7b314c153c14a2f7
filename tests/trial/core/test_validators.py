"""The shared rules and how forms and models apply them, without HTTP or a database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django import forms
from django.core.exceptions import ValidationError

from trial.core.validators import (
    EndAfterStart,
    InRange,
    InstanceValues,
    NotInFuture,
    OneOf,
    ReasonForChangeRequired,
    Required,
    rules_apply,
    rules_raise,
)
from trial.visits.models import VitalSigns

D = date(2024, 3, 1)


def test_it_asks_a_reason_only_when_editing_a_saved_record():
    rule = ReasonForChangeRequired()
    assert rule({"version": None, "reason": ""}) == {}
    assert rule({"version": 2, "reason": "  "}) == {
        "reason": "This record was saved before: give a reason for the change."
    }
    assert rule({"version": 2, "reason": "Transcription error"}) == {}


def test_dates_cannot_be_in_the_future():
    assert NotInFuture("x", today=D)({"x": D + timedelta(days=1)}) == {"x": "This date cannot be in the future."}
    assert NotInFuture("x", today=D)({"x": D}) == {}
    assert NotInFuture("x", today=D)({}) == {}
    assert NotInFuture("x", today=D)({"x": datetime(2024, 3, 2, 0, 1)}) == {"x": "This date cannot be in the future."}
    assert NotInFuture("x", today=D)({"x": datetime(2024, 3, 1, 23, 59)}) == {}


def test_end_after_start():
    rule = EndAfterStart("s", "e", "no")
    assert rule({"s": D, "e": D - timedelta(days=1)}) == {"e": "no"}
    assert rule({"s": D, "e": D}) == {}
    assert rule({"s": D, "e": None}) == {}
    assert EndAfterStart("s", "e", "no", strict=True)({"s": D, "e": D}) == {"e": "no"}


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        (None, {}),
        ("", {}),
        (30, {}),
        (Decimal("250.0"), {}),
        (Decimal("29.90"), {"w": "Weight must be between 30 and 250 kg; 29.9 is out of range."}),
        (250.5, {"w": "Weight must be between 30 and 250 kg; 250.5 is out of range."}),
        (Decimal("700.00"), {"w": "Weight must be between 30 and 250 kg; 700 is out of range."}),
    ],
)
def test_a_range_quotes_itself_and_the_value_as_typed(value, errors):
    assert InRange("w", 30, 250, label="Weight", unit="kg")({"w": value}) == errors


def test_a_required_field_is_checked_only_when_the_record_is_in_that_state_and_the_form_asks_for_it():
    rule = Required("reason", "Give the reason.", when={"status": "missed"})
    assert rule({"status": "missed", "reason": "  "}) == {"reason": "Give the reason."}
    assert rule({"status": "missed", "reason": "Ill"}) == {}
    assert rule({"status": "done", "reason": ""}) == {}
    assert rule({"status": "missed"}) == {}  # a form without the field leaves it to the one that has it
    assert Required("signed", "Sign it.")({"signed": False}) == {"signed": "Sign it."}


def test_one_of_names_the_allowed_values():
    rule = OneOf("r", ["completed", "other"], label="Reason")
    assert rule({"r": "completed"}) == {}
    assert rule({"r": "bored"}) == {"r": "Reason must be one of: completed, other."}


def test_a_model_instance_reads_like_cleaned_data():
    values = InstanceValues(VitalSigns(weight_kg=Decimal("80.0")))
    assert values["weight_kg"] == Decimal("80.0")
    assert values.get("systolic_mmhg") is None
    assert values.get("no_such_field", "absent") == "absent"
    assert "weight_kg" in set(values)


def test_the_model_raises_every_message_by_field():
    with pytest.raises(ValidationError) as exc:
        rules_raise(VitalSigns(weight_kg=Decimal("10")), [InRange("weight_kg", 30, 250, label="Weight", unit="kg")])
    assert exc.value.message_dict == {"weight_kg": ["Weight must be between 30 and 250 kg; 10 is out of range."]}


class _Form(forms.Form):
    start = forms.DateField()
    end = forms.DateField(required=False)


def test_the_form_shows_each_message_next_to_its_field_and_keeps_a_fields_own_error():
    rules = [
        EndAfterStart("start", "end", "Ends before it starts."),
        Required("end", "Give the end.", when={"closed": True}),
    ]

    def errors(end: str, **record: bool) -> dict[str, list[str]]:
        form = _Form(data={"start": "2024-03-02", "end": end})
        form.is_valid()
        rules_apply(form, rules, record=record)
        return dict(form.errors)

    assert errors("2024-03-01") == {"end": ["Ends before it starts."]}
    assert errors("not a date") == {"end": ["Enter a valid date."]}
    assert errors("") == {}
    # What the action will set on the record (a status) joins what was typed.
    assert errors("", closed=True) == {"end": ["Give the end."]}
