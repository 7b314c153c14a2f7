"""A casebook locks only when complete, queried, verified and signed; a lock refuses every write."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from tests.trial.closeout.conftest import sign, verify_all
from trial.closeout.selectors import casebook_status
from trial.closeout.services import casebook_lock
from trial.core.services import RecordLockedError


def test_it_locks_a_complete_verified_signed_casebook(ready_to_lock: Any, users: dict[str, Any]) -> None:
    lock = casebook_lock(participant=ready_to_lock, by=users["datamanager"])
    assert lock.locked_by == users["datamanager"]
    assert casebook_status(ready_to_lock).lock == lock


def test_it_refuses_without_source_verification(closed_participant: Any, users: dict[str, Any]) -> None:
    sign(closed_participant, users["investigator"])
    with pytest.raises(ValidationError, match="Source data verification is not complete"):
        casebook_lock(participant=closed_participant, by=users["datamanager"])


def test_it_refuses_without_a_signature(closed_participant: Any, users: dict[str, Any]) -> None:
    verify_all(closed_participant, users["datamanager"])
    with pytest.raises(ValidationError, match="has not signed"):
        casebook_lock(participant=closed_participant, by=users["datamanager"])


def test_it_refuses_with_an_open_query(ready_to_lock: Any, users: dict[str, Any]) -> None:
    from trial.queries.services import query_open

    query_open(
        participant=ready_to_lock, form="screening", field="mmse", text="Please confirm", by=users["datamanager"]
    )
    with pytest.raises(ValidationError, match="data queries are not closed"):
        casebook_lock(participant=ready_to_lock, by=users["datamanager"])


def test_it_refuses_a_participant_still_on_study(randomized: Any, users: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="has not finished the study"):
        casebook_lock(participant=randomized, by=users["datamanager"])


def test_it_refuses_a_change_to_a_locked_casebook_through_the_service(
    locked_casebook: Any, users: dict[str, Any]
) -> None:
    from trial.safety.services import adverse_event_record

    with pytest.raises(RecordLockedError, match="casebook is locked"):
        adverse_event_record(
            participant=locked_casebook,
            by=users["coordinator"],
            data={"term": "Headache", "onset_date": locked_casebook.end_of_study.end_date, "severity": "mild"},
        )
