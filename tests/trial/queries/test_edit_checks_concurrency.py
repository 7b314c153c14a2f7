"""Edit checks run by saves at the same moment open one query per finding, not one per save.
Runs on SQLite and PostgreSQL (CI runs both; the race is PostgreSQL's, where saves run in parallel)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction

from tests.trial.concurrency import at_once
from trial.queries.models import DataQuery
from trial.queries.services import edit_checks_run
from trial.visits.services import visit_complete


@pytest.mark.django_db(transaction=True)
def test_simultaneous_saves_open_one_query_per_finding(enrolled_a_month_ago: Any, users: Any) -> None:
    p, coordinator = enrolled_a_month_ago, users["coordinator"]
    week1 = p.visits.get(definition__week=1)
    # Out of its window: a finding the edit checks turn into a query.
    with transaction.atomic():
        visit_complete(visit=week1, actual_date=week1.window_end + timedelta(days=1), by=coordinator)
    assert not DataQuery.objects.exists()

    def save() -> Any:
        with transaction.atomic():
            return edit_checks_run(participant=p, by=coordinator)

    for _ in range(3):
        _results, errors = at_once([save] * 4)
        assert errors == []
    queries = DataQuery.objects.filter(participant=p, source=DataQuery.Source.EDIT_CHECK)
    keys = [(q.check_code, q.visit_id, q.form, q.field) for q in queries]
    assert keys and len(keys) == len(set(keys)), keys
