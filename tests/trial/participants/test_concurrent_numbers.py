"""Screening numbers and participant ids under simultaneous screenings: each screening gets its own
number, none fails. Runs on SQLite and on PostgreSQL (CI runs both)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import ELIGIBLE_SCREENING
from tests.trial.concurrency import at_once
from trial.participants.models import Participant
from trial.participants.services import participant_screen


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("at_the_same_time", [2, 4])
def test_it_numbers_simultaneous_screenings_without_collisions(
    site: Any, coordinator: Any, at_the_same_time: int
) -> None:
    data = ELIGIBLE_SCREENING | {"screening_date": date.today() - timedelta(days=2)}

    def screen() -> Participant:
        return participant_screen(site=site, sex="F", date_of_birth=date(1980, 1, 15), screening=data, by=coordinator)

    for _ in range(3):
        _results, errors = at_once([screen] * at_the_same_time)
        assert errors == []
    numbers = list(Participant.objects.values_list("screening_number", flat=True))
    ids = list(Participant.objects.values_list("participant_id", flat=True))
    assert len(numbers) == 3 * at_the_same_time
    assert sorted(numbers) == [f"S{n:04d}" for n in range(1, len(numbers) + 1)]
    assert sorted(ids) == [f"{site.code}-{n:04d}" for n in range(1, len(ids) + 1)]


@pytest.mark.django_db
def test_it_continues_after_a_number_given_explicitly(site: Any, coordinator: Any) -> None:
    data = ELIGIBLE_SCREENING | {"screening_date": date.today() - timedelta(days=2)}
    participant_screen(
        site=site, sex="F", date_of_birth=date(1980, 1, 15), screening=data, by=coordinator, screening_number="S0041"
    )
    p = participant_screen(site=site, sex="F", date_of_birth=date(1980, 1, 15), screening=data, by=coordinator)
    assert p.screening_number == "S0042"
