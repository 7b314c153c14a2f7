"""Rules of the participant forms, without HTTP (the model and form agreeing: test_rules_parity.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from trial.participants.forms import EndOfStudyForm, RandomizeForm, ScreeningForm
from trial.participants.rules import BaselineWithinScreeningWindow, EveryCriterionAnswered, OutcomeMatchesReason
from trial.protocol.selectors import protocol

D = date(2024, 3, 1)


@pytest.mark.parametrize(("days", "ok"), [(-1, False), (0, True), (31, True), (32, False)])
def test_baseline_falls_within_a_month_of_screening(days, ok):
    assert protocol().baseline_max_days_after_screening == 31  # Design: 1 month
    rule = BaselineWithinScreeningWindow(screening_date=D, config=protocol())
    errors = rule({"baseline_date": D + timedelta(days=days)})
    assert (errors == {}) is ok
    if not ok:
        assert "baseline_date" in errors


def test_every_attested_criterion_must_be_answered():
    rule = EveryCriterionAnswered(["a", "b", "c"])
    assert rule({"a": True, "b": False, "c": None}) == {"c": "Answer yes or no."}


def test_outcome_and_reason_agree():
    rule = OutcomeMatchesReason()
    assert rule({"outcome": "completed", "reason": "completed"}) == {}
    assert "reason" in rule({"outcome": "completed", "reason": "lost to follow-up"})
    assert "reason" in rule({"outcome": "withdrawn", "reason": "completed"})


@pytest.mark.django_db
def test_the_screening_form_in_checking_mode_requires_nothing(protocol_loaded):
    form = ScreeningForm(data={"mmse": "12"}, checking=True)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["mmse"] == 12


@pytest.mark.django_db
def test_the_screening_form_quotes_the_protocol_range(protocol_loaded):
    form = ScreeningForm(data={"qids_sr": "28"}, checking=True)
    assert form.errors["qids_sr"] == ["QIDS-SR-16 must be between 0 and 27; 28 is out of range."]


@pytest.mark.django_db
def test_the_randomize_form_applies_the_baseline_rule(protocol_loaded):
    form = RandomizeForm(
        data={"baseline_date": (D + timedelta(days=40)).isoformat(), "confirm": "on"}, screening_date=D
    )
    assert "baseline_date" in form.errors


@pytest.mark.django_db
def test_the_end_of_study_form_offers_the_protocol_reasons(protocol_loaded):
    form = EndOfStudyForm()
    assert [c for c, _ in form.fields["end_reason"].choices][1:3] == ["completed", "adverse event"]
