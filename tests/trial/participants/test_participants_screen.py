"""Many people screened at once (trial.participants.services.participants_screen), and many ends of study
recorded at once (ends_of_study_record): the same checks and the same audit trail as `participant_screen`
and `end_of_study_record` one at a time, all or nothing. Numbers given explicitly move their series on
before the others are handed out, so those follow the highest number given, not the order of the log."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.conftest import ELIGIBLE_SCREENING
from trial.core.audit_chain import audit_verify
from trial.core.services import record_save
from trial.participants.models import EndOfStudy, Participant, Screening
from trial.participants.services import (
    EndOfStudyEntry,
    ScreeningEntry,
    end_of_study_record,
    ends_of_study_record,
    participant_screen,
    participants_screen,
)

pytestmark = pytest.mark.django_db

DATA = ELIGIBLE_SCREENING | {"screening_date": date.today() - timedelta(days=2)}
# Below the protocol's QIDS-SR minimum (Eligibility): a screen failure.
FAILING = DATA | {"qids_sr": 0}


def _entry(site: Any, data: dict[str, Any] = DATA, number: str | None = None, sex: str = "F") -> ScreeningEntry:
    return ScreeningEntry(site=site, sex=sex, date_of_birth=date(1980, 1, 15), screening=data, screening_number=number)


def _trail(p: Participant) -> list[tuple[str, str, str]]:
    return [
        (h.history_type, h.status, h.history_change_reason)
        for h in Participant.history.filter(id=p.pk).order_by("history_id")
    ]


def _screening_trail(p: Participant) -> list[tuple[str, str, bool, list[str]]]:
    return [
        (h.history_type, h.history_change_reason, h.eligible, h.failed_criteria)
        for h in Screening.history.filter(participant_id=p.pk).order_by("history_id")
    ]


def test_it_records_what_screening_one_at_a_time_records(site: Any, coordinator: Any) -> None:
    one = [
        participant_screen(site=site, sex="F", date_of_birth=date(1980, 1, 15), screening=d, by=coordinator)
        for d in (DATA, FAILING)
    ]
    many = participants_screen(entries=[_entry(site), _entry(site, FAILING)], by=coordinator)
    assert [p.status for p in many] == [Participant.Status.ELIGIBLE, Participant.Status.SCREEN_FAILED]
    for single, bulk in zip(one, many, strict=True):
        bulk.refresh_from_db()
        single.refresh_from_db()
        assert (bulk.status, bulk.version) == (single.status, single.version)
        assert _trail(bulk) == _trail(single)
        assert _screening_trail(bulk) == _screening_trail(single)
        assert bulk.screening.failed_criteria == single.screening.failed_criteria
        assert bulk.created_by == coordinator and bulk.screening.created_by == coordinator
    assert _trail(many[0])[-1][2] == "Screening completed: eligible"
    assert _trail(many[1])[-1][2] == "Screening completed: screen failure"
    assert audit_verify() == []


def test_it_numbers_in_order_and_screening_one_at_a_time_goes_on_from_there(site: Any, coordinator: Any) -> None:
    first = participant_screen(site=site, sex="F", date_of_birth=date(1980, 1, 15), screening=DATA, by=coordinator)
    many = participants_screen(entries=[_entry(site) for _ in range(3)], by=coordinator)
    after = participant_screen(site=site, sex="M", date_of_birth=date(1980, 1, 15), screening=DATA, by=coordinator)
    assert [p.screening_number for p in [first, *many, after]] == [f"S{n:04d}" for n in range(1, 6)]
    assert [p.participant_id for p in [first, *many, after]] == [f"{site.code}-{n:04d}" for n in range(1, 6)]


def test_a_number_given_moves_its_series_on_and_the_others_follow_it(site: Any, coordinator: Any) -> None:
    many = participants_screen(
        entries=[_entry(site), _entry(site, number="S0041"), _entry(site, number="S0007"), _entry(site)],
        by=coordinator,
    )
    assert [p.screening_number for p in many] == ["S0042", "S0041", "S0007", "S0043"]
    after = participant_screen(site=site, sex="F", date_of_birth=date(1980, 1, 15), screening=DATA, by=coordinator)
    assert after.screening_number == "S0044"


def test_it_steps_over_a_number_written_outside_screening(site: Any, coordinator: Any) -> None:
    participants_screen(entries=[_entry(site)], by=coordinator)
    # A participant id taken without the series (an import): the series' next ids clash with it.
    record_save(
        Participant(
            screening_number="X-1",
            participant_id=f"{site.code}-0003",
            site=site,
            sex="F",
            date_of_birth=date(1980, 1, 15),
        ),
        by=coordinator,
    )
    many = participants_screen(entries=[_entry(site), _entry(site)], by=coordinator)
    assert [p.participant_id for p in many] == [f"{site.code}-0004", f"{site.code}-0005"]


@pytest.mark.parametrize(
    ("numbers", "message"),
    [(["S0009", "S0009"], "S0009 is given twice"), (["S0001"], "S0001 is in use already")],
)
def test_it_refuses_a_number_given_twice_or_in_use_and_saves_nothing(
    site: Any, coordinator: Any, numbers: list[str], message: str
) -> None:
    participant_screen(site=site, sex="F", date_of_birth=date(1980, 1, 15), screening=DATA, by=coordinator)
    before = (Participant.objects.count(), Participant.history.count(), Screening.objects.count())
    with pytest.raises(ValidationError, match=message):
        participants_screen(entries=[_entry(site), *(_entry(site, number=n) for n in numbers)], by=coordinator)
    assert (Participant.objects.count(), Participant.history.count(), Screening.objects.count()) == before


def test_one_invalid_screening_saves_none_and_says_which_field(site: Any, coordinator: Any) -> None:
    bad = DATA | {"episode_duration_months": 601}
    with pytest.raises(ValidationError) as exc:
        participants_screen(entries=[_entry(site), _entry(site, bad)], by=coordinator)
    assert "episode_duration_months" in exc.value.message_dict
    assert not Participant.objects.exists() and not Screening.objects.exists()
    # The numbers taken for the refused call are not lost to the next screening.
    p = participant_screen(site=site, sex="F", date_of_birth=date(1980, 1, 15), screening=DATA, by=coordinator)
    assert p.screening_number == "S0001"


def test_a_role_that_does_not_enter_data_is_refused(site: Any, users: dict[str, Any]) -> None:
    for username in ("rater", "pharmacist", "statistician"):
        with pytest.raises(PermissionDenied):
            participants_screen(entries=[_entry(site)], by=users[username])
    assert not Participant.objects.exists()


# --- Many ends of study at once (ends_of_study_record), as end_of_study_record one at a time ---------


def _randomized(make_participant: Any, coordinator: Any, count: int = 2) -> list[Participant]:
    from trial.workspace.services import participant_enrol

    people = [make_participant(sex="FM"[i % 2]) for i in range(count)]
    for p in people:
        participant_enrol(participant=p, by=coordinator)
        p.refresh_from_db()
    return people


def test_ends_of_study_record_what_one_at_a_time_records(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    single, *pair = _randomized(make_participant, coordinator, 3)
    end_of_study_record(
        participant=single, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
    )
    ends = ends_of_study_record(
        entries=[
            EndOfStudyEntry(participant=pair[0], outcome="withdrawn", end_date=date.today(), reason="withdrew consent"),
            EndOfStudyEntry(participant=pair[1], outcome="completed", end_date=date.today(), reason="completed"),
        ],
        by=coordinator,
    )
    assert [e.participant_id for e in ends] == [pair[0].pk, pair[1].pk]
    single.refresh_from_db()
    stored = [Participant.objects.get(pk=p.pk) for p in pair]
    assert [p.status for p in stored] == [Participant.Status.WITHDRAWN, Participant.Status.COMPLETED]
    # The caller's copies follow the saved rows.
    assert [(p.status, p.version) for p in pair] == [(s.status, s.version) for s in stored]

    # The same rows, with the same reasons but for the randomization number each was given.
    def same(trail: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        return [(kind, status, re.sub(r"Randomized: \S+", "Randomized: R", why)) for kind, status, why in trail]

    assert same(_trail(stored[0])) == same(_trail(single))
    assert _trail(stored[1])[-1] == ("~", Participant.Status.COMPLETED, "End of study: completed")
    eos = EndOfStudy.history.filter(participant_id=stored[0].pk).values_list("history_change_reason", flat=True)
    assert list(eos) == list(
        EndOfStudy.history.filter(participant_id=single.pk).values_list("history_change_reason", flat=True)
    )
    assert audit_verify() == []


def test_ends_of_study_refuse_a_second_end_a_participant_not_randomized_and_a_date_before_screening(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    a, b = _randomized(make_participant, coordinator)
    screened_only = make_participant()
    end_of_study_record(
        participant=a, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
    )
    cases = [
        ([a, b], date.today(), "already recorded for " + a.participant_id),
        ([b, screened_only], date.today(), "Only a randomized participant"),
        ([b, b], date.today(), "given twice"),
        ([b], date(2001, 1, 1), "before the participant's screening"),
    ]
    for people, day, message in cases:
        with pytest.raises(ValidationError, match=message):
            ends_of_study_record(
                entries=[
                    EndOfStudyEntry(participant=p, outcome="withdrawn", end_date=day, reason="withdrew consent")
                    for p in people
                ],
                by=coordinator,
            )
    assert EndOfStudy.objects.count() == 1
    assert Participant.objects.get(pk=b.pk).status == Participant.Status.RANDOMIZED


def test_ends_of_study_are_refused_to_a_role_that_does_not_enter_data(
    make_participant: Any, active_list: Any, coordinator: Any, users: dict[str, Any]
) -> None:
    a, _ = _randomized(make_participant, coordinator)
    with pytest.raises(PermissionDenied):
        ends_of_study_record(
            entries=[
                EndOfStudyEntry(participant=a, outcome="withdrawn", end_date=date.today(), reason="withdrew consent")
            ],
            by=users["rater"],
        )
    assert not EndOfStudy.objects.exists()
