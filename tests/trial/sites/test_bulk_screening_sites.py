"""Screening and ends of study in bulk at the three-site protocol's sites: simultaneous bulk and single
screenings each get their own numbers (SQLite and PostgreSQL; CI runs both), and a site-bound user
reaches only their own sites' people."""

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

    # The two bulk calls name the sites in opposite orders. Every call takes the screening-number series
    # first, so they queue there; what this checks is that no number is given twice or skipped.
    _results, errors = at_once([bulk([first, second, first]), bulk([second, first]), single])
    assert errors == []
    numbers = sorted(Participant.objects.values_list("screening_number", flat=True))
    assert numbers == [f"S{n:04d}" for n in range(1, 7)]
    for s, count in ((first, 3), (second, 3)):
        ids = sorted(Participant.objects.filter(site=s).values_list("participant_id", flat=True))
        assert ids == [f"{s.code}-{n:04d}" for n in range(1, count + 1)]


def test_bulk_screening_and_ends_of_study_stay_within_the_users_sites(site_world: Any) -> None:
    from django.core.exceptions import PermissionDenied

    from trial.participants.models import EndOfStudy
    from trial.participants.services import EndOfStudyEntry, end_of_study_record, ends_of_study_record

    w = site_world
    before = Participant.objects.count()
    data = ELIGIBLE_SCREENING | {"screening_date": date.today() - timedelta(days=2)}
    own, other = (
        ScreeningEntry(site=s, sex="F", date_of_birth=date(1980, 1, 15), screening=data) for s in (w.site_a, w.site_b)
    )
    with pytest.raises(PermissionDenied):
        participants_screen(entries=[own, other], by=w.coordinator_a)
    assert Participant.objects.count() == before

    def end(p: Any) -> EndOfStudyEntry:
        return EndOfStudyEntry(participant=p, outcome="withdrawn", end_date=date.today(), reason="withdrew consent")

    with pytest.raises(PermissionDenied):
        ends_of_study_record(entries=[end(w.a), end(w.b)], by=w.coordinator_a)
    # A caller's copy that names the user's own site does not reach the record at another site: the
    # stored row is asked, by the bulk service and by the one-at-a-time one.
    disguised = Participant.objects.get(pk=w.b.pk)
    disguised.site = w.site_a
    with pytest.raises(PermissionDenied):
        ends_of_study_record(entries=[end(disguised)], by=w.coordinator_a)
    with pytest.raises(PermissionDenied):
        end_of_study_record(
            participant=disguised,
            outcome="withdrawn",
            end_date=date.today(),
            reason="withdrew consent",
            by=w.coordinator_a,
        )
    assert not EndOfStudy.objects.filter(participant_id__in=[w.a.pk, w.b.pk]).exists()
