"""A participant's timeline (screening, consent, end of study) read once while many records are
validated together (trial.core.validators.reads_held), and read afresh on every call otherwise, so a
new consent or an end of study bounds the very next record saved (ICH E6(R3): no data after the
participant has left the study)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trial.core.validators import held_read, reads_held
from trial.participants.models import Participant
from trial.participants.services import consent_record, end_of_study_record
from trial.visits.services import visits_complete

pytestmark = pytest.mark.django_db


def _statements(call: Any) -> int:
    """How many statements `call` sends to the database."""
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries.captured_queries)


def test_inside_a_hold_one_participants_timeline_is_read_once(enrolled_a_month_ago: Any) -> None:
    p = enrolled_a_month_ago
    # As each record of a batch holds its own copy of the participant.
    copies = [Participant.objects.get(pk=p.pk) for _ in range(3)]

    def read_all() -> list[Any]:
        return [c.timeline() for c in copies]

    assert _statements(read_all) == 3
    with reads_held():
        assert _statements(read_all) == 1
        timelines = read_all()
    assert len({(t.screening_date, t.consent_date, t.ended_on) for t in timelines}) == 1
    # The fixture consents on the day of screening, 30 days ago.
    assert timelines[0].consent_date == timelines[0].screening_date == date.today() - timedelta(days=30)


def test_inside_a_hold_each_participant_is_read_on_its_own(make_participant: Any) -> None:
    first, second = make_participant(screened_days_ago=3), make_participant(screened_days_ago=5)
    with reads_held():
        assert _statements(lambda: [first.timeline(), second.timeline(), first.timeline()]) == 2
        # Not mixed up: each has its own dates.
        assert first.timeline().screening_date == date.today() - timedelta(days=3)
        assert second.timeline().screening_date == date.today() - timedelta(days=5)


def test_outside_a_hold_an_end_of_study_is_seen_at_once(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    assert p.timeline().ended_on is None
    end_of_study_record(
        participant=p, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
    )
    # The same object, not refreshed: the next read asks the database.
    assert p.timeline().ended_on == date.today()


def test_outside_a_hold_a_new_consent_is_seen_at_once(make_participant: Any, coordinator: Any) -> None:
    p = make_participant(consent=False)
    assert p.timeline().consent_date is None
    consent_record(participant=p, consent_date=date.today() - timedelta(days=1), by=coordinator)
    assert p.timeline().consent_date == date.today() - timedelta(days=1)


def test_a_held_value_ends_with_its_hold(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    with reads_held():
        assert p.timeline().ended_on is None
        end_of_study_record(
            participant=p, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
        )
        # Held: why no write may happen inside a hold (the docstring's rule).
        assert p.timeline().ended_on is None
    assert p.timeline().ended_on == date.today()
    with reads_held():
        # A new hold starts empty.
        assert p.timeline().ended_on == date.today()


def test_held_read_reads_each_key_once_inside_and_always_outside() -> None:
    calls: list[str] = []

    def read(name: str) -> Any:
        def go() -> str:
            calls.append(name)
            return name.upper()

        return go

    assert [held_read(("k", 1), read("a")) for _ in range(2)] == ["A", "A"]
    assert calls == ["a", "a"]
    calls.clear()
    with reads_held():
        assert [held_read(("k", 1), read("a")) for _ in range(3)] == ["A"] * 3
        assert held_read(("k", 2), read("b")) == "B"
        with reads_held():
            assert held_read(("k", 1), read("c")) == "C"  # an inner hold holds its own reads
        assert held_read(("k", 1), read("d")) == "A"  # and the outer one is back when it ends
    assert calls == ["a", "b", "c"]


def test_a_bulk_update_reads_the_timeline_once_per_participant(
    make_participant: Any, active_list: Any, coordinator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trial.visits.models import Visit
    from trial.workspace.services import participant_enrol

    def enrolled() -> Any:
        p = make_participant(screened_days_ago=30)
        participant_enrol(participant=p, by=coordinator, baseline_date=date.today() - timedelta(days=28))
        return p

    participants = [enrolled(), enrolled()]
    reads: list[int] = []
    original = Participant._timeline_dates

    def counted(self: Participant) -> Any:
        reads.append(self.pk)
        return original(self)

    monkeypatch.setattr(Participant, "_timeline_dates", counted)
    visits = [
        (v, v.scheduled_date)
        for p in participants
        for v in Visit.objects.filter(participant=p, definition__week__lte=3)
        .select_related("definition", "participant")
        .order_by("definition__week")
    ]
    visits_complete(visits=visits, by=coordinator)
    # Eight visits validated (four each, their dates within the participant's timeline): one read each.
    assert len(visits) == 8
    assert sorted(reads) == sorted(p.pk for p in participants)
