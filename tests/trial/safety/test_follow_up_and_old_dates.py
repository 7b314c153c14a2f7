"""The safety follow-up after the end of study ends on its last day, for adverse events and con-meds
alike, and safety dates from long ago are refused on every safety record (protocol file [safety] and
[dates]).

Whether the protocol supports 30 days: it does not say. The reference protocol (Raison et al. 2013,
as restated in the protocol file's header) lists adverse events only as a safety end point ("adverse
events by arm", End points) and reports no serious adverse event (Published results); it states no
follow-up window after the last infusion or a withdrawal. The 30 days in [safety]
followup_days_after_end is the unit's working rule under ICH E2A and ICH E6(R3) 2.7, kept as data so
a unit can change it without a release; the protocol file says so beside the value. The test reads
the value from the protocol file, not a literal 30.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from trial.participants.services import end_of_study_record
from trial.protocol.selectors import protocol
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation
from trial.safety.services import adverse_event_record, conmed_record, deviation_record
from trial.workspace.services import participant_enrol

pytestmark = pytest.mark.django_db
TODAY = date.today()
AE = {"term": "Headache", "severity": "mild", "relatedness": "possible", "outcome": "recovering", "ongoing": True}
MED = {"name": "Sertraline", "drug_class": "antidepressant", "dose": 50, "dose_unit": "mg", "indication": "MDD"}


@pytest.fixture
def withdrawn_long_ago(make_participant: Any, active_list: Any, coordinator: Any) -> tuple[Any, date]:
    """Screened 80 days ago, baseline a week later, withdrawn a week after that: the whole follow-up
    window, and the day after it, lie in the past."""
    p = make_participant(screened_days_ago=80)
    baseline = TODAY - timedelta(days=73)
    participant_enrol(participant=p, by=coordinator, baseline_date=baseline)
    ended = baseline + timedelta(days=7)
    end_of_study_record(participant=p, outcome="withdrawn", end_date=ended, reason="withdrew consent", by=coordinator)
    p.refresh_from_db()
    return p, ended


def test_adverse_events_are_collected_to_the_last_day_of_the_follow_up_and_not_after(
    withdrawn_long_ago: tuple[Any, date], coordinator: Any
) -> None:
    p, ended = withdrawn_long_ago
    days = protocol().safety_followup_days
    assert ended + timedelta(days=days + 1) < TODAY, "the window must lie in the past for this test"
    assert adverse_event_record(participant=p, data=AE | {"onset_date": ended + timedelta(days=days)}, by=coordinator)
    with pytest.raises(ValidationError) as exc:
        adverse_event_record(participant=p, data=AE | {"onset_date": ended + timedelta(days=days + 1)}, by=coordinator)
    assert "onset_date" in exc.value.message_dict
    assert AdverseEvent.objects.filter(participant=p).count() == 1


def test_con_meds_follow_the_same_window(withdrawn_long_ago: tuple[Any, date], coordinator: Any) -> None:
    p, ended = withdrawn_long_ago
    days = protocol().safety_followup_days
    assert conmed_record(participant=p, data=MED | {"start_date": ended + timedelta(days=days)}, by=coordinator)
    with pytest.raises(ValidationError) as exc:
        conmed_record(participant=p, data=MED | {"start_date": ended + timedelta(days=days + 1)}, by=coordinator)
    assert "start_date" in exc.value.message_dict
    assert ConcomitantMedication.objects.filter(participant=p).count() == 1


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1900, 1, 1)])
def test_a_medication_started_long_ago_is_refused(randomized: Any, coordinator: Any, day: date) -> None:
    with pytest.raises(ValidationError) as exc:
        conmed_record(participant=randomized, data=MED | {"start_date": day}, by=coordinator)
    assert "start_date" in exc.value.message_dict
    assert not ConcomitantMedication.objects.exists()


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1900, 1, 1)])
def test_a_deviation_dated_long_ago_is_refused(randomized: Any, coordinator: Any, day: date) -> None:
    data = {"deviation_date": day, "category": "other", "description": "Visit done out of window"}
    with pytest.raises(ValidationError) as exc:
        deviation_record(participant=randomized, data=data, by=coordinator)
    assert "deviation_date" in exc.value.message_dict
    assert not ProtocolDeviation.objects.exists()
