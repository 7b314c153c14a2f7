"""Blinded data-quality metrics of the pooled run, checked against counts made here from the ORM,
not from analysis.frames (ICH E6(R3) risk-based quality management: what a blinded data manager or
statistician watches during the trial)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from django.utils import timezone

from analysis.stats.report_tables import data_quality
from trial.queries.models import DataQuery
from trial.visits.models import Visit

pytestmark = pytest.mark.django_db


def test_data_quality_through_the_frames_matches_the_database(trial_world: Any, users: dict[str, Any]) -> None:
    from analysis import frames

    user = users["statistician"]
    today = timezone.localdate()
    table = data_quality(frames.visits_frame(user=user), frames.queries_frame(user=user), today=today)
    values = table.set_index("metric")["value"]
    visits = Visit.objects.active().filter(participant__voided_at__isnull=True)
    due = [v for v in visits if v.status != Visit.Status.SCHEDULED or v.window_end < today]
    done = [v for v in due if v.status == Visit.Status.DONE]
    assert values["Visits due"] == len(due) > 0
    assert values["Visits done"] == len(done) > 0
    assert values["Visits missed"] == sum(v.status == Visit.Status.MISSED for v in due)
    assert values["Visits done after their window"] == sum(v.actual_date > v.window_end for v in done)
    # The statistician's queries: every one of this world's (none is on a hidden lab value).
    queries = DataQuery.objects.active()
    assert values["Data queries"] == queries.count() > 0
    assert values["Queries open or answered"] == queries.exclude(status=DataQuery.Status.CLOSED).count()
    # Pooled: no arm anywhere in the table.
    text = table.to_csv()
    for marker in ("IFX", "PBO", "Infliximab", "Placebo", "arm"):
        assert marker not in text


def test_late_visits_and_query_ages_are_counted_from_their_dates() -> None:
    today = pd.Timestamp("2026-06-30").date()
    visits = pd.DataFrame(
        {
            "participant_id": ["01-0001"] * 4,
            "week": [0, 1, 2, 3],
            "status": ["done", "done", "missed", "scheduled"],
            "window_end": [today - timedelta(days=30), today - timedelta(days=20), today - timedelta(days=10), today],
            "actual_date": [today - timedelta(days=31), today - timedelta(days=19), None, None],
            "due": [True, True, True, False],
        }
    )
    opened = pd.Timestamp("2026-06-20T09:00:00Z")
    queries = pd.DataFrame(
        {
            "participant_id": ["01-0001"] * 3,
            "form": ["cgis"] * 3,
            "status": ["open", "answered", "closed"],
            "opened_at": [opened, opened - pd.Timedelta(days=5), opened],
        }
    )
    table = data_quality(visits, queries, today=today).set_index("metric")
    assert table.loc["Visits due", "value"] == 3
    assert table.loc["Visits done after their window", "value"] == 1
    assert table.loc["Visits missed", "value"] == 1
    assert table.loc["Queries open or answered", "value"] == 2
    assert table.loc["Median age of open queries (days)", "value"] == 12.5  # 10 and 15 calendar days
    assert table.loc["Oldest open query (days)", "value"] == 15
    assert table.loc["Queries per 100 visits done", "value"] == 150.0
