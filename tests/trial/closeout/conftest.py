"""A casebook ready for close-out: randomized, baseline missed, withdrawn the same day (so the
protocol expects only screening, consent, the baseline visit and end of study)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from trial.accounts.users import DEMO_PASSWORD


@pytest.fixture
def closed_participant(randomized: Any, coordinator: Any) -> Any:
    from trial.participants.services import end_of_study_record
    from trial.visits.services import visit_miss

    visit_miss(visit=randomized.visits.get(definition__week=0), reason="Unwell", by=coordinator)
    end_of_study_record(
        participant=randomized, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
    )
    randomized.refresh_from_db()
    return randomized


def verify_all(participant: Any, by: Any) -> None:
    from trial.closeout.selectors import casebook_status
    from trial.closeout.services import source_verify

    for unit in casebook_status(participant).units:
        if unit.needs_verification:
            source_verify(participant=participant, unit=unit.key, by=by)


def sign(participant: Any, investigator: Any) -> Any:
    from trial.closeout.services import casebook_sign

    return casebook_sign(
        participant=participant, by=investigator, username=investigator.username, password=DEMO_PASSWORD
    )


@pytest.fixture
def ready_to_lock(closed_participant: Any, users: dict[str, Any]) -> Any:
    verify_all(closed_participant, users["datamanager"])
    sign(closed_participant, users["investigator"])
    return closed_participant


@pytest.fixture
def locked_casebook(ready_to_lock: Any, users: dict[str, Any]) -> Any:
    from trial.closeout.services import casebook_lock

    casebook_lock(participant=ready_to_lock, by=users["datamanager"])
    return ready_to_lock


@pytest.fixture
def locked_database(locked_casebook: Any, users: dict[str, Any]) -> Any:
    from trial.closeout.services import database_lock_approve

    database_lock_approve(by=users["datamanager"])
    return database_lock_approve(by=users["unblinded"])
