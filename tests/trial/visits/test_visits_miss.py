"""Many visits missed at once (trial.visits.services.visits_miss): the same checks and the same audit as
`visit_miss` one at a time (a coded reason from the protocol file, its text in the audit trail; no
visit missed before its window opens, none that has data), all or nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from trial.core.services import ConflictError
from trial.visits.models import Visit
from trial.visits.services import SoftCheckRefused, visit_complete, visit_miss, visits_miss

pytestmark = pytest.mark.django_db


def _week(participant: Any, week: int) -> Visit:
    return Visit.objects.select_related("definition", "participant").get(participant=participant, definition__week=week)


def _stored(participant: Any) -> list[tuple[Any, ...]]:
    return list(
        Visit.objects.filter(participant=participant)
        .order_by("definition__week")
        .values_list("pk", "version", "status", "reason_code", "reason")
    )


def _audit(visit: Visit) -> list[tuple[str, str, Any]]:
    rows = visit.history.order_by("history_id").values_list("history_change_reason", "status", "history_user_id")
    return [tuple(r) for r in rows]


def test_it_records_what_visit_miss_records_one_by_one(
    make_participant: Any, active_list: Any, coordinator: Any, enrolled_a_month_ago: Any
) -> None:
    from tests.trial.visits.test_visits_complete import _enrolled

    bulk, single = enrolled_a_month_ago, _enrolled(make_participant, coordinator)
    asked = [(1, "HAM-D dropped", "participant_burden"), (2, "Travelling", "other"), (3, "", "illness")]
    visits_miss(entries=[(_week(bulk, w), text, code) for w, text, code in asked], by=coordinator)
    for w, text, code in asked:
        visit_miss(visit=_week(single, w), reason=text, reason_code=code, by=coordinator)
    for w, _, _ in asked:
        mine, theirs = _week(bulk, w), _week(single, w)
        assert (mine.status, mine.reason_code, mine.reason, mine.version) == (
            theirs.status,
            theirs.reason_code,
            theirs.reason,
            theirs.version,
        )
        assert mine.status == Visit.Status.MISSED
        # The same history: who, and why, in the words one at a time gives.
        assert _audit(mine) == _audit(theirs)
    assert _audit(_week(bulk, 1))[-1][0] == "Visit missed: Participant burden (assessment dropped): HAM-D dropped"
    assert _audit(_week(bulk, 2))[-1][0] == "Visit missed: Travelling"


def test_a_visit_with_data_refuses_them_all(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    visit_complete(visit=_week(p, 1), actual_date=_week(p, 1).scheduled_date, by=coordinator)
    before = _stored(p)
    with pytest.raises(ValidationError, match="has data entered"):
        visits_miss(
            entries=[(_week(p, 2), "Travelling", "other"), (_week(p, 1), "Travelling", "other")], by=coordinator
        )
    assert _stored(p) == before


def test_a_visit_before_its_window_opens_refuses_them_all(randomized: Any, coordinator: Any) -> None:
    week1, week3 = _week(randomized, 1), _week(randomized, 3)
    before = _stored(randomized)
    with pytest.raises(SoftCheckRefused, match="window opens on"):
        visits_miss(
            entries=[(week1, "Travelling", "other"), (week3, "Flu", "illness")],
            by=coordinator,
            today=week3.window_start - timedelta(days=1),
        )
    assert _stored(randomized) == before
    visits_miss(entries=[(_week(randomized, 3), "Flu", "illness")], by=coordinator, today=week3.window_start)
    assert _week(randomized, 3).status == Visit.Status.MISSED


def test_a_reason_code_not_in_the_protocol_file_refuses_them_all(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    before = _stored(p)
    with pytest.raises(ValidationError):
        visits_miss(entries=[(_week(p, 2), "Travelling", "other"), (_week(p, 3), "x", "holiday")], by=coordinator)
    assert _stored(p) == before


def test_a_visit_changed_since_it_was_read_is_a_conflict(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    stale = _week(p, 2)
    visit_miss(visit=_week(p, 2), reason="Travelling", by=coordinator)  # someone else, meanwhile
    with pytest.raises(ConflictError):
        visits_miss(entries=[(_week(p, 3), "Flu", "illness"), (stale, "Other words", "other")], by=coordinator)
    assert _week(p, 3).status == Visit.Status.SCHEDULED


def test_a_visit_given_twice_is_refused(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    with pytest.raises(ValidationError, match="given twice"):
        visits_miss(entries=[(_week(p, 2), "a", "other"), (_week(p, 2), "b", "other")], by=coordinator)
    assert _week(p, 2).status == Visit.Status.SCHEDULED


def test_a_role_that_may_not_enter_data_is_refused(enrolled_a_month_ago: Any, users: Any) -> None:
    p = enrolled_a_month_ago
    for role in ("pharmacist", "statistician", "rater"):
        with pytest.raises(PermissionDenied):
            visits_miss(entries=[(_week(p, 2), "Travelling", "other")], by=users[role])
    assert _week(p, 2).status == Visit.Status.SCHEDULED
