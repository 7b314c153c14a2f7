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


def test_a_frozen_form_refuses_a_change_and_an_unfrozen_one_accepts_it(
    closed_participant: Any, users: dict[str, Any]
) -> None:
    from trial.participants.services import consent_record

    form_freeze(participant=closed_participant, unit=CONSENT, by=users["datamanager"])
    with pytest.raises(RecordLockedError, match="Consent is frozen"):
        consent_record(participant=closed_participant, consent_date=date.today(), by=users["coordinator"])
    with pytest.raises(ValidationError, match="reason"):
        form_unfreeze(participant=closed_participant, unit=CONSENT, by=users["datamanager"], reason="")
    form_unfreeze(participant=closed_participant, unit=CONSENT, by=users["datamanager"], reason="Query answered")
    assert consent_record(participant=closed_participant, consent_date=date.today(), by=users["coordinator"]).pk


def test_other_forms_stay_open(closed_participant: Any, users: dict[str, Any]) -> None:
    from trial.closeout.guards import record_write_guard
    from trial.participants.models import Consent, Screening

    form_freeze(participant=closed_participant, unit=CONSENT, by=users["datamanager"])
    record_write_guard(Screening.objects.get(participant=closed_participant))  # another form: no refusal
    with pytest.raises(RecordLockedError):
        record_write_guard(Consent.objects.get(participant=closed_participant))
