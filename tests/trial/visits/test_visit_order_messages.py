"""Visits are done in the order of the schedule (Schedule of assessments): the three refusals of
`visit_complete`, word for word, each naming the visit it clashes with, read with one query."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trial.visits.models import Visit
from trial.visits.services import _in_order, visit_complete

pytestmark = pytest.mark.django_db


def _visit(participant: Any, week: int) -> Visit:
    return Visit.objects.select_related("definition").get(participant=participant, definition__week=week)


def _baseline(participant: Any) -> date:
    on = _visit(participant, 0).actual_date
    assert on is not None
    return on


def _done(participant: Any, week: int, on: date, by: Any) -> Visit:
    return visit_complete(visit=_visit(participant, week), actual_date=on, by=by)


def _refusal(participant: Any, week: int, on: date, by: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        visit_complete(visit=_visit(participant, week), actual_date=on, by=by)
    assert _visit(participant, week).status == Visit.Status.SCHEDULED
    return caught.value.message_dict


def test_every_later_visit_follows_the_baseline(randomized: Any, coordinator: Any) -> None:
    for week in (1, 12):
        assert _refusal(randomized, week, date.today(), coordinator) == {
            "actual_date": ["Record the baseline (week 0) visit first: every later visit follows it (Design)."]
        }


def test_a_visit_cannot_be_earlier_than_the_latest_earlier_week_done(
    enrolled_a_month_ago: Any, coordinator: Any
) -> None:
    p = enrolled_a_month_ago
    baseline = _baseline(p)
    _done(p, 1, baseline + timedelta(days=7), coordinator)
    week2 = _done(p, 2, baseline + timedelta(days=14), coordinator)
    week4 = _visit(p, 4)
    # Weeks 1 and 2 were both after this date: the message names the later of them.
    assert _refusal(p, 4, baseline + timedelta(days=6), coordinator) == {
        "actual_date": [
            f"{week2.definition.name} was on {week2.actual_date:%d %b %Y}: {week4.definition.name} cannot be earlier."
        ]
    }
    # On the day of week 2 it is not earlier.
    assert _done(p, 4, baseline + timedelta(days=14), coordinator).status == Visit.Status.DONE


def test_a_visit_cannot_be_later_than_the_earliest_later_week_done(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    baseline = _baseline(p)
    week3 = _done(p, 3, baseline + timedelta(days=21), coordinator)
    _done(p, 4, baseline + timedelta(days=26), coordinator)
    week1 = _visit(p, 1)
    # Weeks 3 and 4 were both before this date: the message names the earlier of them.
    assert _refusal(p, 1, baseline + timedelta(days=27), coordinator) == {
        "actual_date": [
            f"{week3.definition.name} was on {week3.actual_date:%d %b %Y}: {week1.definition.name} cannot be later."
        ]
    }
    assert _done(p, 1, baseline + timedelta(days=21), coordinator).status == Visit.Status.DONE


def test_the_order_is_read_with_one_query(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    baseline = _baseline(p)
    _done(p, 1, baseline + timedelta(days=7), coordinator)
    _done(p, 3, baseline + timedelta(days=21), coordinator)
    week2 = _visit(p, 2)
    with CaptureQueriesContext(connection) as ctx:
        _in_order(week2, baseline + timedelta(days=14))
    assert len(ctx.captured_queries) == 1
