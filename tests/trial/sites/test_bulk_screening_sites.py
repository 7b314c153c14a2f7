"""Simultaneous screenings in bulk and one at a time, at two sites of the three-site protocol: each
gets its own numbers, none fails (SQLite and PostgreSQL; CI runs both)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import ELIGIBLE_SCREENING
from tests.trial.concurrency import at_once
from trial.participants.models import Participant
from trial.participants.services import ScreeningEntry, participant_screen, participants_screen


@pytest.mark.django_db(transaction=True)
def test_simultaneous_bulk_and_single_screenings_at_two_sites_get_their_own_numbers(
    protocol_loaded: Any, coordinator: Any
) -> None:
    first, second = list(protocol_loaded.sites.order_by("code"))[:2]
    data = ELIGIBLE_SCREENING | {"screening_date": date.today() - timedelta(days=2)}

    def bulk(sites: list[Any]) -> Any:
        entries = [ScreeningEntry(site=s, sex="F", date_of_birth=date(1980, 1, 15), screening=data) for s in sites]
        return lambda: participants_screen(entries=entries, by=coordinator)

    def single() -> Participant:
        return participant_screen(site=second, sex="M", date_of_birth=date(1980, 1, 15), screening=data, by=coordinator)

    # The two bulk calls name the sites in opposite orders.
    _results, errors = at_once([bulk([first, second, first]), bulk([second, first]), single])
    assert errors == []
    numbers = sorted(Participant.objects.values_list("screening_number", flat=True))
    assert numbers == [f"S{n:04d}" for n in range(1, 7)]
    for s, count in ((first, 3), (second, 3)):
        ids = sorted(Participant.objects.filter(site=s).values_list("participant_id", flat=True))
        assert ids == [f"{s.code}-{n:04d}" for n in range(1, count + 1)]
