"""Form freeze (data manager): the frozen form refuses changes; unfreezing needs a reason."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from trial.closeout.services import form_freeze, form_unfreeze
from trial.closeout.units import UnitKey
from trial.core.services import RecordLockedError

CONSENT = UnitKey(None, "consent")
AES = UnitKey(None, "adverse_events")


def _new_ae(participant: Any, by: Any) -> Any:
    # An adverse event is the one record still written after the end of study (the protocol file's
    # safety follow-up window), so it is the form whose freeze a withdrawn participant can test.
    from trial.safety.services import adverse_event_record

    return adverse_event_record(
        participant=participant,
        data={
            "term": "Headache",
            "onset_date": date.today(),
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
            "ongoing": True,
            "action_taken": "none",
        },
        by=by,
    )


def test_a_frozen_form_refuses_a_change_and_an_unfrozen_one_accepts_it(
    closed_participant: Any, users: dict[str, Any]
) -> None:
    form_freeze(participant=closed_participant, unit=AES, by=users["datamanager"])
    with pytest.raises(RecordLockedError, match="Adverse events is frozen"):
        _new_ae(closed_participant, users["coordinator"])
    with pytest.raises(ValidationError, match="reason"):
        form_unfreeze(participant=closed_participant, unit=AES, by=users["datamanager"], reason="")
    form_unfreeze(participant=closed_participant, unit=AES, by=users["datamanager"], reason="Query answered")
    assert _new_ae(closed_participant, users["coordinator"]).pk


def test_other_forms_stay_open(closed_participant: Any, users: dict[str, Any]) -> None:
    from trial.closeout.guards import record_write_guard
    from trial.participants.models import Consent, Screening

    form_freeze(participant=closed_participant, unit=CONSENT, by=users["datamanager"])
    record_write_guard(Screening.objects.get(participant=closed_participant))  # another form: no refusal
    with pytest.raises(RecordLockedError):
        record_write_guard(Consent.objects.get(participant=closed_participant))
