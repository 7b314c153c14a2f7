"""The write API's fixtures: an API client per named user, request bodies from the shared eligible
screening, and the close-out fixtures that lock a casebook and the database."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import ELIGIBLE_SCREENING
from tests.trial.closeout.conftest import (  # noqa: F401 (fixtures used by the lock tests)
    closed_participant,
    locked_casebook,
    locked_database,
    ready_to_lock,
)


@pytest.fixture
def api(users: dict[str, Any]) -> Any:
    """`api("coordinator")` -> a DRF test client authenticated as that named user."""
    from rest_framework.test import APIClient

    def as_user(username: str) -> Any:
        client = APIClient()
        client.force_authenticate(users[username])
        return client

    return as_user


def screening_body(**overrides: Any) -> dict[str, Any]:
    """A screening request: the measures as fields, the attested criteria under `criteria`."""
    from trial.participants.services import SCREENING_MEASURES, attested_criteria

    values = ELIGIBLE_SCREENING | {"screening_date": date.today() - timedelta(days=3)} | overrides
    body: dict[str, Any] = {k: _json(v) for k, v in values.items() if k in SCREENING_MEASURES}
    body["criteria"] = {code: values[code] for code in attested_criteria()}
    return body


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def arm_keys(body: Any) -> list[str]:
    """Every key anywhere in a response body that names the arm."""
    found: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if "arm" in key.split("_") or key.startswith("arm"):
                found.append(key)
            found += arm_keys(value)
    elif isinstance(body, list):
        for value in body:
            found += arm_keys(value)
    return found
