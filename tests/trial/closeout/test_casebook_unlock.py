"""A casebook unlock needs a reason and a second person, and is logged."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from trial.closeout.selectors import casebook_lock_live
from trial.closeout.services import casebook_unlock_approve, casebook_unlock_request


def test_unlock_needs_a_reason_and_two_people(locked_casebook: Any, users: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="reason"):
        casebook_unlock_request(participant=locked_casebook, by=users["datamanager"], reason="")
    casebook_unlock_request(participant=locked_casebook, by=users["datamanager"], reason="Lab re-run")
    with pytest.raises(ValidationError, match="second person"):
        casebook_unlock_approve(participant=locked_casebook, by=users["datamanager"])
    assert casebook_lock_live(locked_casebook.pk) is not None
    lock = casebook_unlock_approve(participant=locked_casebook, by=users["investigator"])
    assert lock.unlocked_at is not None and lock.unlock_approved_by == users["investigator"]
    assert casebook_lock_live(locked_casebook.pk) is None
    assert lock.history.first().unlock_reason == "Lab re-run"  # the newest snapshot keeps the reason
