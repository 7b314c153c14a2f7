"""Pooled missingness counts only visits that are due: mid-trial, a visit whose window has not
closed is not missing (the week-10 "59% missing" of an interim dataset was visits not yet due)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from analysis import frames
from analysis.stats import sap
from trial.visits.models import Visit
from trial.visits.services import hamd_record

pytestmark = pytest.mark.django_db


def test_a_visit_not_yet_due_is_not_missing(enrolled_a_month_ago: Any, users: dict[str, Any]) -> None:
    baseline = enrolled_a_month_ago.visits.get(definition__week=0)
    hamd_record(visit=baseline, items=dict.fromkeys(range(1, 18), 2), by=users["rater"])
    statistician = users["statistician"]
    visits = frames.visits_frame(user=statistician)
    due = visits.loc[visits["due"].astype(bool), ["participant_id", "week"]]
    # Independently from the ORM: due = done/missed, or the window closed before today.
    closed = {
        v.definition.week
        for v in Visit.objects.filter(participant=enrolled_a_month_ago)
        if v.status != Visit.Status.SCHEDULED or v.window_end < date.today()
    }
    assert set(due["week"]) == closed
    assert 12 not in closed and 1 in closed

    hamd = frames.hamd_long_frame(user=statistician)[["participant_id", "week", "hamd_total", "baseline", "chg"]]
    table = sap.pooled_by_week(hamd, weeks=(12,), due=due).set_index("week")
    assert table.loc[12, "expected"] == 0 and table.loc[12, "missing"] == 0
    assert table.loc[1, ["expected", "missing"]].tolist() == [1, 1]
    # Without the due visits, week 12 would count the participant as missing.
    assert sap.pooled_by_week(hamd, weeks=(12,)).set_index("week").loc[12, "missing"] == 1
