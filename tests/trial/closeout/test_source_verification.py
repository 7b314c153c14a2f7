"""Source data verification: per form or field, with who and when; an edit clears it and says so."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from trial.closeout.models import SourceVerification
from trial.closeout.selectors import casebook_status, sdv_worklist
from trial.closeout.services import source_verify
from trial.closeout.units import UnitKey

CONSENT = UnitKey(None, "consent")


def test_it_records_who_and_when(closed_participant: Any, users: dict[str, Any]) -> None:
    mark = source_verify(participant=closed_participant, unit=CONSENT, by=users["datamanager"])
    assert mark.verified_by == users["datamanager"] and mark.verified_at is not None
    assert mark.history.get().history_user == users["datamanager"]  # in the audit trail
    unit = next(u for u in casebook_status(closed_participant).units if u.key == CONSENT)
    assert unit.verification == mark


def test_a_field_can_be_verified_on_its_own(closed_participant: Any, users: dict[str, Any]) -> None:
    mark = source_verify(
        participant=closed_participant, unit=UnitKey(None, "screening"), field="mmse", by=users["datamanager"]
    )
    unit = next(u for u in casebook_status(closed_participant).units if u.key.form == "screening")
    assert unit.field_verifications == [mark] and unit.needs_verification


def test_an_edit_after_verification_clears_the_mark_and_says_so(closed_participant: Any, users: dict[str, Any]) -> None:
    from tests.trial.closeout.test_form_freeze import _new_ae
    from trial.safety.services import adverse_event_record

    aes = UnitKey(None, "adverse_events")
    ae = _new_ae(closed_participant, users["coordinator"])
    mark = source_verify(participant=closed_participant, unit=aes, by=users["datamanager"])
    adverse_event_record(
        participant=closed_participant,
        data={"severity": "moderate"},
        instance=ae,
        reason="Source says moderate",
        version=ae.version,
        by=users["coordinator"],
    )
    mark.refresh_from_db()
    assert mark.cleared_at is not None
    assert "changed by coordinator" in mark.cleared_reason and "after it was verified" in mark.cleared_reason
    unit = next(u for u in casebook_status(closed_participant).units if u.key == aes)
    assert unit.needs_verification and unit.cleared == mark


def test_only_the_monitor_verifies(closed_participant: Any, users: dict[str, Any]) -> None:
    with pytest.raises(PermissionDenied):
        source_verify(participant=closed_participant, unit=CONSENT, by=users["coordinator"])


def test_an_empty_form_cannot_be_verified(closed_participant: Any, users: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="nothing to verify"):
        source_verify(participant=closed_participant, unit=UnitKey(None, "adverse_events"), by=users["datamanager"])
    assert not SourceVerification.objects.exists()


def test_the_worklist_lists_unverified_forms_oldest_first(closed_participant: Any, users: dict[str, Any]) -> None:
    rows = sdv_worklist(user=users["datamanager"])
    forms = [r.unit.key.form for r in rows]
    assert {"screening", "consent", "visit", "end_of_study"} <= set(forms)
    assert [r.since for r in rows] == sorted(r.since for r in rows)
    source_verify(participant=closed_participant, unit=CONSENT, by=users["datamanager"])
    assert "consent" not in [r.unit.key.form for r in sdv_worklist(user=users["datamanager"])]
