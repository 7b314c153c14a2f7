"""When adverse events and con-meds are collected (protocol file [safety]), and plausible safety dates:
from consent; until a screen failure; for 30 days after the end of study. A refused value is shown
next to its field with the input kept."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from trial.participants.services import end_of_study_record
from trial.safety.models import AdverseEvent, ConcomitantMedication
from trial.safety.services import adverse_event_record, conmed_record

pytestmark = pytest.mark.django_db
TODAY = date.today()
AE = {"term": "Headache", "severity": "mild", "relatedness": "possible", "outcome": "recovering", "ongoing": True}
MED = {"name": "Sertraline", "drug_class": "antidepressant", "dose": 50, "dose_unit": "mg", "indication": "MDD"}


def _ae(p: Any, by: Any, onset: date) -> AdverseEvent:
    return adverse_event_record(participant=p, data=AE | {"onset_date": onset}, by=by)


def _med(p: Any, by: Any, start: date, **more: Any) -> ConcomitantMedication:
    return conmed_record(participant=p, data=MED | {"start_date": start} | more, by=by)


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1900, 1, 1)])
def test_it_refuses_an_adverse_event_dated_long_ago(randomized: Any, coordinator: Any, day: date) -> None:
    with pytest.raises(ValidationError) as exc:
        _ae(randomized, coordinator, day)
    assert "onset_date" in exc.value.message_dict


def test_it_refuses_an_adverse_event_before_birth_or_before_consent(randomized: Any, coordinator: Any) -> None:
    with pytest.raises(ValidationError, match="date of birth"):
        _ae(randomized, coordinator, randomized.date_of_birth - timedelta(days=1))
    with pytest.raises(ValidationError, match="collected from consent"):
        _ae(randomized, coordinator, randomized.screening.screening_date - timedelta(days=1))
    assert _ae(randomized, coordinator, randomized.screening.screening_date).pk


def test_it_refuses_adverse_events_and_conmeds_without_consent(make_participant: Any, coordinator: Any) -> None:
    p = make_participant(consent=False)
    with pytest.raises(ValidationError, match="from written informed consent"):
        _ae(p, coordinator, TODAY)
    with pytest.raises(ValidationError, match="from written informed consent"):
        _med(p, coordinator, TODAY)


def test_it_ends_collection_at_a_screen_failure(make_participant: Any, coordinator: Any) -> None:
    p = make_participant(qids_sr=5, screened_days_ago=10)  # a screen failure
    assert p.status == p.Status.SCREEN_FAILED
    # Consent taken on the screening day, before the failure was known (the service refuses consent
    # once the failure is recorded, so it is saved as the record it would have been).
    from trial.core.services import record_save
    from trial.participants.models import Consent

    record_save(
        Consent(
            participant=p,
            form_version="v1.0",
            consent_date=p.screening.screening_date,
            taken_by=coordinator,
            participant_signed=True,
        ),
        by=coordinator,
    )
    assert _ae(p, coordinator, p.screening.screening_date).pk
    with pytest.raises(ValidationError, match="ended at the screen failure"):
        _ae(p, coordinator, TODAY)
    with pytest.raises(ValidationError, match="ended at the screen failure"):
        _med(p, coordinator, TODAY)


def test_it_keeps_collecting_for_the_follow_up_after_withdrawal_and_no_longer(
    randomized: Any, coordinator: Any
) -> None:
    ended = TODAY - timedelta(days=40)
    start = randomized.screening.screening_date
    if ended < start:
        ended = start
    end_of_study_record(
        participant=randomized, outcome="withdrawn", end_date=ended, reason="withdrew consent", by=coordinator
    )
    assert _ae(randomized, coordinator, min(ended + timedelta(days=30), TODAY)).pk
    if ended + timedelta(days=31) <= TODAY:
        with pytest.raises(ValidationError, match="30 days after the end of study"):
            _ae(randomized, coordinator, ended + timedelta(days=31))


def test_a_medication_may_have_started_before_consent_but_not_before_birth(randomized: Any, coordinator: Any) -> None:
    assert _med(randomized, coordinator, date(2010, 5, 1)).pk
    with pytest.raises(ValidationError, match="date of birth"):
        _med(randomized, coordinator, date(1900, 1, 1))


@pytest.mark.parametrize("dose", [-5, 0, 10**7])
def test_it_refuses_an_implausible_dose(randomized: Any, coordinator: Any, dose: int) -> None:
    with pytest.raises(ValidationError) as exc:
        _med(randomized, coordinator, TODAY, dose=dose)
    assert "dose" in exc.value.message_dict


def test_the_form_shows_the_window_next_to_the_onset_and_keeps_the_input(login: Any, randomized: Any) -> None:
    before_consent = randomized.screening.screening_date - timedelta(days=2)
    response = login("coordinator").post(
        f"/safety/participants/{randomized.participant_id}/adverse-events/new/",
        {
            "term": "Sore throat before consent",
            "onset_date": before_consent.isoformat(),
            "severity": "mild",
            "relatedness": "not_related",
            "action_taken": "none",
            "outcome": "recovering",
            "ongoing": "on",
        },
    )
    assert response.status_code == 200
    assert "collected from consent" in response.context["form"].errors["onset_date"][0]
    assert "Sore throat before consent" in response.content.decode()
    assert not AdverseEvent.objects.exists()
