"""A visit save reads the participant's own visits, never every visit of the trial: on SQLite, which keeps
no statistics, a filter on a participant and a status would otherwise search the status index, whose
rows grow with the trial (0.1 s per save at 10,000 participants)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trial.visits.models import Visit
from trial.visits.services import visit_complete, visits_complete
from trial.workspace.services import participant_enrol

pytestmark = pytest.mark.django_db


def _plans_by_status(queries: list[dict[str, Any]]) -> list[str]:
    """The statements whose plan searches visits by their status alone."""
    found = []
    with connection.cursor() as cursor:
        for q in queries:
            if not q["sql"].lstrip().upper().startswith("SELECT") or '"visits_visit"' not in q["sql"]:
                continue
            cursor.execute("EXPLAIN QUERY PLAN " + q["sql"])
            plan = " / ".join(row[3] for row in cursor.fetchall())
            if re.search(r"visits_visit USING (COVERING )?INDEX visits_visit_status_\w+ \(status=\?\)", plan):
                found.append(f"{q['sql'][:200]} -> {plan}")
    return found


def _enrolled(make_participant: Any, coordinator: Any, count: int) -> list[Any]:
    """As the enrolled_a_month_ago fixture: baseline done 28 days ago, weeks 1-4 due in the past."""
    people = []
    for _ in range(count):
        p = make_participant(screened_days_ago=30)
        participant_enrol(participant=p, by=coordinator, baseline_date=date.today() - timedelta(days=28))
        baseline = p.visits.get(definition__week=0)
        visit_complete(visit=baseline, actual_date=baseline.scheduled_date, by=coordinator)
        people.append(p)
    return people


def _week(participant: Any, week: int) -> Visit:
    return Visit.objects.select_related("definition", "participant").get(participant=participant, definition__week=week)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL plans from its own statistics")
def test_saving_visits_searches_the_participants_visits_not_every_visit_of_a_status(
    make_participant: Any, active_list: Any, coordinator: Any
) -> None:
    people = _enrolled(make_participant, coordinator, 3)
    with CaptureQueriesContext(connection) as one:
        visit = _week(people[0], 1)
        visit_complete(visit=visit, actual_date=visit.scheduled_date, by=coordinator)
    with CaptureQueriesContext(connection) as many:
        visits = [_week(p, 1 + (p == people[0])) for p in people]
        visits_complete(visits=[(v, v.scheduled_date) for v in visits], by=coordinator)
    statements = one.captured_queries + many.captured_queries
    assert any("'done'" in q["sql"] for q in statements), "the order check's read was not seen"
    assert _plans_by_status(statements) == []
