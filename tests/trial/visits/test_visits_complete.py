"""Many visits done at once (trial.visits.services.visits_complete) and many infusions recorded at
once (infusions_create): the same rules and the same audit as `visit_complete` and `infusion_record`
one at a time (Design: the schedule follows the actual baseline; an infusion delayed for infection
moves the later visits), all or nothing."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from trial.participants.services import end_of_study_record
from trial.visits.models import Infusion, Visit
from trial.visits.services import infusion_record, infusions_create, visit_complete, visits_complete
from trial.workspace.services import participant_enrol

pytestmark = pytest.mark.django_db

MOVED = "Due dates follow the actual baseline date"
DONE = "Visit done"


def _enrolled(make_participant: Any, coordinator: Any, *, baseline_done: bool = True) -> Any:
    """As the enrolled_a_month_ago fixture: baseline planned 28 days ago (done on that day, if asked)."""
    p = make_participant(screened_days_ago=30)
    participant_enrol(participant=p, by=coordinator, baseline_date=date.today() - timedelta(days=28))
    if baseline_done:
        baseline = p.visits.get(definition__week=0)
        visit_complete(visit=baseline, actual_date=baseline.scheduled_date, by=coordinator)
    p.refresh_from_db()
    return p


def _week(participant: Any, week: int) -> Visit:
    return Visit.objects.select_related("definition", "participant").get(participant=participant, definition__week=week)


def _reasons(visit: Visit) -> list[str]:
    return list(visit.history.order_by("history_id").values_list("history_change_reason", flat=True))


def _snapshot(participant: Any) -> list[tuple[Any, ...]]:
    return list(
        Visit.objects.filter(participant=participant)
        .order_by("definition__week")
        .values_list("pk", "version", "status", "actual_date", "scheduled_date", "window_start", "window_end")
    )


# --- The same result as one at a time --------------------------------------------------------------


def test_it_does_what_visit_complete_does_one_by_one(make_participant: Any, active_list: Any, coordinator: Any) -> None:
    bulk, single = (_enrolled(make_participant, coordinator) for _ in range(2))
    w2 = _week(bulk, 2).definition
    # Week 1 on its due date; week 2 one day after its window closes (done, flagged out of window).
    offsets = {1: 0, 2: w2.window_after_days + 1}
    visits_complete(
        visits=[(_week(bulk, w), _week(bulk, w).scheduled_date + timedelta(days=d)) for w, d in offsets.items()],
        by=coordinator,
    )
    for week, days in offsets.items():
        visit = _week(single, week)
        visit_complete(visit=visit, actual_date=visit.scheduled_date + timedelta(days=days), by=coordinator)
    for week in offsets:
        a, b = _week(bulk, week), _week(single, week)
        assert a.status == b.status == Visit.Status.DONE
        assert a.actual_date is not None and b.actual_date is not None
        assert a.actual_date - a.scheduled_date == b.actual_date - b.scheduled_date == timedelta(days=offsets[week])
        assert a.out_of_window == b.out_of_window == (week == 2)
        assert a.version == b.version
        assert _reasons(a) == _reasons(b) == ["Initial entry", DONE]
        assert a.history.latest("history_id").history_user == coordinator


def test_several_participants_in_one_call(make_participant: Any, active_list: Any, coordinator: Any) -> None:
    first, second = (_enrolled(make_participant, coordinator) for _ in range(2))
    visits_complete(
        visits=[
            (_week(first, 1), _week(first, 1).scheduled_date),
            (_week(second, 1), _week(second, 1).scheduled_date + timedelta(days=1)),
            (_week(first, 2), _week(first, 2).scheduled_date),
        ],
        by=coordinator,
    )
    for p, weeks in ((first, (1, 2)), (second, (1,))):
        for week in weeks:
            assert _week(p, week).status == Visit.Status.DONE
    assert _week(second, 2).status == Visit.Status.SCHEDULED
    assert _week(second, 1).actual_date == _week(second, 1).scheduled_date + timedelta(days=1)


# --- The order of the visits: the same rules and words as one at a time ----------------------------


def _refusal(call: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        call()
    return " ".join(refused.value.messages)


def test_the_baseline_comes_first(make_participant: Any, active_list: Any, coordinator: Any) -> None:
    p = _enrolled(make_participant, coordinator, baseline_done=False)
    w0, w1 = _week(p, 0), _week(p, 1)
    expected = "Record the baseline (week 0) visit first: every later visit follows it (Design)."
    alone = _refusal(lambda: visit_complete(visit=_week(p, 1), actual_date=w1.scheduled_date, by=coordinator))
    assert alone == expected
    before = _snapshot(p)
    # Week 1 given before the baseline in the same call is refused as week 1 alone is.
    in_call = _refusal(
        lambda: visits_complete(visits=[(w1, w1.scheduled_date), (w0, w0.scheduled_date)], by=coordinator)
    )
    assert in_call == expected
    assert _snapshot(p) == before
    # The other way round it is the order of the schedule.
    w0, w1 = _week(p, 0), _week(p, 1)
    visits_complete(visits=[(w0, w0.scheduled_date), (w1, w1.scheduled_date)], by=coordinator)
    assert _week(p, 1).status == Visit.Status.DONE


def test_a_date_earlier_than_an_earlier_weeks_is_refused(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    w0, w1, w2 = _week(p, 0), _week(p, 1), _week(p, 2)
    # Against a visit already done: week 1 the day before the baseline.
    assert w0.actual_date is not None
    day = w0.actual_date - timedelta(days=1)
    expected = f"{w0.definition.name} was on {w0.actual_date:%d %b %Y}: {w1.definition.name} cannot be earlier."
    assert _refusal(lambda: visit_complete(visit=_week(p, 1), actual_date=day, by=coordinator)) == expected
    assert _refusal(lambda: visits_complete(visits=[(_week(p, 1), day)], by=coordinator)) == expected
    # Against a visit earlier in the same call: week 2 the day before week 1.
    before = _snapshot(p)
    d1 = w1.scheduled_date
    expected = f"{w1.definition.name} was on {d1:%d %b %Y}: {w2.definition.name} cannot be earlier."
    assert _refusal(lambda: visits_complete(visits=[(w1, d1), (w2, d1 - timedelta(days=1))], by=coordinator)) == (
        expected
    )
    assert _snapshot(p) == before


def test_a_date_later_than_a_later_weeks_is_refused(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    w1, w2 = _week(p, 1), _week(p, 2)
    # Within one call: week 2 first, then week 1 the day after it.
    before = _snapshot(p)
    d2 = w2.scheduled_date
    expected = f"{w2.definition.name} was on {d2:%d %b %Y}: {w1.definition.name} cannot be later."
    assert _refusal(lambda: visits_complete(visits=[(w2, d2), (w1, d2 + timedelta(days=1))], by=coordinator)) == (
        expected
    )
    assert _snapshot(p) == before
    # Against a visit already done (week 2 done alone, then week 1 after it in a call).
    visit_complete(visit=_week(p, 2), actual_date=d2, by=coordinator)
    alone = _refusal(lambda: visit_complete(visit=_week(p, 1), actual_date=d2 + timedelta(days=1), by=coordinator))
    assert alone == expected
    assert _refusal(lambda: visits_complete(visits=[(_week(p, 1), d2 + timedelta(days=1))], by=coordinator)) == (
        expected
    )


# --- The baseline moves the schedule ---------------------------------------------------------------


def test_a_baseline_on_another_day_moves_the_later_visits(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    p = _enrolled(make_participant, coordinator, baseline_done=False)
    w0 = _week(p, 0)
    actual = w0.scheduled_date + timedelta(days=2)
    visits_complete(visits=[(w0, actual)], by=coordinator)
    later = list(Visit.objects.filter(participant=p, definition__week__gt=0).select_related("definition"))
    assert later
    for visit in later:
        # Design: every later visit is due its number of weeks after the actual baseline.
        due = actual + timedelta(days=7 * visit.definition.week)
        assert visit.scheduled_date == due
        assert visit.window_start == due - timedelta(days=visit.definition.window_before_days)
        assert visit.window_end == due + timedelta(days=visit.definition.window_after_days)
        assert _reasons(visit) == ["Initial entry", MOVED]
    assert _reasons(_week(p, 0)) == ["Initial entry", DONE]


def test_a_visit_moved_and_done_in_one_call_has_both_rows_and_its_flag_follows_the_moved_window(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    p = _enrolled(make_participant, coordinator, baseline_done=False)
    w0, w1 = _week(p, 0), _week(p, 1)
    actual = w0.scheduled_date + timedelta(days=3)
    # The last day of week 1's moved window: after its planned window closed.
    last_day = actual + timedelta(days=7 + w1.definition.window_after_days)
    assert last_day > w1.window_end
    visits_complete(visits=[(w0, actual), (w1, last_day)], by=coordinator)
    w1 = _week(p, 1)
    assert w1.status == Visit.Status.DONE and w1.actual_date == last_day
    assert w1.scheduled_date == actual + timedelta(days=7)
    assert w1.out_of_window is False
    assert _reasons(w1) == ["Initial entry", MOVED, DONE]


# --- Refusals ---------------------------------------------------------------------------------------


def test_a_visit_already_done_is_refused(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    before = _snapshot(p)
    w0 = _week(p, 0)
    assert w0.actual_date is not None
    # Given after a later week, so that week is checked against the visits done without it.
    message = f"{w0} is already done (on {w0.actual_date:%d %b %Y})"
    with pytest.raises(ValidationError, match=re.escape(message)):
        visits_complete(visits=[(_week(p, 1), _week(p, 1).scheduled_date), (w0, w0.actual_date)], by=coordinator)
    assert _snapshot(p) == before


def test_a_visit_given_twice_is_refused(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    before = _snapshot(p)
    w1 = _week(p, 1)
    with pytest.raises(ValidationError, match="given twice"):
        visits_complete(
            visits=[(w1, w1.scheduled_date), (_week(p, 1), w1.scheduled_date + timedelta(days=1))], by=coordinator
        )
    assert _snapshot(p) == before


def test_one_refusal_writes_nothing_for_anyone(make_participant: Any, active_list: Any, coordinator: Any) -> None:
    fine, refused = (
        _enrolled(make_participant, coordinator),
        _enrolled(make_participant, coordinator, baseline_done=False),
    )
    before = (_snapshot(fine), _snapshot(refused))
    w0 = _week(refused, 0)
    with pytest.raises(ValidationError, match="cannot be later"):
        visits_complete(
            visits=[
                (_week(fine, 1), _week(fine, 1).scheduled_date),
                (w0, w0.scheduled_date + timedelta(days=1)),  # would move refused's later visits
                (_week(refused, 2), _week(refused, 2).scheduled_date),
                (_week(refused, 1), _week(refused, 2).scheduled_date + timedelta(days=1)),  # after week 2
            ],
            by=coordinator,
        )
    assert (_snapshot(fine), _snapshot(refused)) == before


def test_a_role_that_does_not_rate_cannot_date_visits(enrolled_a_month_ago: Any, users: Any) -> None:
    p = enrolled_a_month_ago
    before = _snapshot(p)
    w1 = _week(p, 1)
    with pytest.raises(PermissionDenied):
        visits_complete(visits=[(w1, w1.scheduled_date)], by=users["pharmacist"])
    assert _snapshot(p) == before


def test_the_rater_may_date_visits(enrolled_a_month_ago: Any, users: Any) -> None:
    w1 = _week(enrolled_a_month_ago, 1)
    (done,) = visits_complete(visits=[(w1, w1.scheduled_date)], by=users["rater"])
    assert Visit.objects.get(pk=done.pk).status == Visit.Status.DONE


# --- Infusions in bulk -------------------------------------------------------------------------------


def _infusion_visits_done(p: Any, coordinator: Any) -> dict[int, Visit]:
    """Weeks 1 and 2 done on their due dates (week 2 is an infusion visit, as is the baseline)."""
    visits_complete(visits=[(_week(p, w), _week(p, w).scheduled_date) for w in (1, 2)], by=coordinator)
    return {w: _week(p, w) for w in (0, 1, 2)}


def test_it_records_infusions_with_the_planned_dose_as_infusion_record_does(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    bulk, single = (_enrolled(make_participant, coordinator) for _ in range(2))
    visits = _infusion_visits_done(bulk, coordinator)
    created = infusions_create(entries=[(visits[0], {"weight_kg": 82}), (visits[2], {"weight_kg": 60})], by=coordinator)
    assert {i.visit_id for i in created} == {visits[0].pk, visits[2].pk}
    one = infusion_record(visit=_week(single, 0), data={"weight_kg": 82}, by=coordinator)
    stored = Infusion.objects.get(visit=visits[0])
    assert stored.planned_dose_mg == one.planned_dose_mg
    # Design: 5 mg/kg rounded to whole 100 mg vials (82 kg: 410 mg, 4 vials; 60 kg: 300 mg).
    assert stored.planned_dose_mg == 400
    assert stored.history.get().history_change_reason == "Initial entry"
    assert Infusion.objects.get(visit=visits[2]).planned_dose_mg == 300


def test_a_delayed_infusion_moves_the_later_visits_as_infusion_record_does(
    enrolled_a_month_ago: Any, coordinator: Any
) -> None:
    p = enrolled_a_month_ago
    visits = _infusion_visits_done(p, coordinator)
    w2 = visits[2]
    data = {"weight_kg": 80, "delayed_for_infection": True, "delay_reason": "Urinary tract infection", "delay_days": 5}
    infusions_create(entries=[(w2, data)], by=coordinator)
    anchor = w2.scheduled_date + timedelta(days=5)
    later = list(Visit.objects.filter(participant=p, definition__week__gt=2).select_related("definition"))
    assert later
    for visit in later:
        due = anchor + timedelta(days=7 * (visit.definition.week - 2))
        assert visit.scheduled_date == due
        assert visit.window_end == due + timedelta(days=visit.definition.window_after_days)
        assert _reasons(visit)[-1] == "Infusion delayed 5 days: Urinary tract infection"
    # Visits already done keep their dates.
    assert _week(p, 1).scheduled_date == visits[1].scheduled_date
    assert _reasons(_week(p, 1))[-1] == "Visit done"


def test_no_infusion_at_a_visit_without_one(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    visits = _infusion_visits_done(enrolled_a_month_ago, coordinator)
    with pytest.raises(ValidationError, match=rf"No infusion is given at {visits[1].definition.name} \(Schedule\)"):
        infusions_create(entries=[(visits[0], {"weight_kg": 80}), (visits[1], {"weight_kg": 80})], by=coordinator)
    assert not Infusion.objects.exists()


def test_no_infusion_for_a_participant_who_has_left(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    end_of_study_record(
        participant=p, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
    )
    with pytest.raises(ValidationError, match="only for randomized participants"):
        infusions_create(entries=[(_week(p, 0), {"weight_kg": 80})], by=coordinator)
    assert not Infusion.objects.exists()


def test_one_infusion_per_visit(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    w0 = _week(enrolled_a_month_ago, 0)
    with pytest.raises(ValidationError, match="given twice"):
        infusions_create(entries=[(w0, {"weight_kg": 80}), (w0, {"weight_kg": 81})], by=coordinator)
    assert not Infusion.objects.exists()
    infusions_create(entries=[(w0, {"weight_kg": 80})], by=coordinator)
    with pytest.raises(ValidationError, match="already entered"):
        infusions_create(entries=[(_week(enrolled_a_month_ago, 0), {"weight_kg": 81})], by=coordinator)
    assert Infusion.objects.get().weight_kg == 80


def test_no_infusion_for_a_participant_who_left_after_the_visit_was_read(
    enrolled_a_month_ago: Any, coordinator: Any
) -> None:
    p = enrolled_a_month_ago
    w0 = _week(p, 0)  # read, with its participant, before the end of study below
    end_of_study_record(
        participant=Visit.objects.get(pk=w0.pk).participant,
        outcome="withdrawn",
        end_date=date.today(),
        reason="withdrew consent",
        by=coordinator,
    )
    with pytest.raises(ValidationError, match="only for randomized participants"):
        infusions_create(entries=[(w0, {"weight_kg": 80})], by=coordinator)
    assert not Infusion.objects.exists()


def test_one_infusion_is_refused_too_for_a_participant_who_left_after_the_visit_was_read(
    enrolled_a_month_ago: Any, coordinator: Any
) -> None:
    # The one-at-a-time path reads the status under lock as the bulk one does.
    p = enrolled_a_month_ago
    w0 = _week(p, 0)
    assert w0.participant.status == "randomized"  # the status the caller holds
    end_of_study_record(
        participant=Visit.objects.get(pk=w0.pk).participant,
        outcome="withdrawn",
        end_date=date.today(),
        reason="withdrew consent",
        by=coordinator,
    )
    with pytest.raises(ValidationError, match="only for randomized participants"):
        infusion_record(visit=w0, data={"weight_kg": 80}, by=coordinator)
    assert not Infusion.objects.exists()
