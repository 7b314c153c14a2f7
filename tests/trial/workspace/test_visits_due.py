"""The dashboard's visit lists show the first few visits and the count of all of them; the
visits-due page pages through every one, at the sites the user may reach."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.urls import reverse

from trial.visits.models import Visit
from trial.visits.selectors import DUE_LIST_LIMIT, visits_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_overdue(make_participant: Any, active_list: Any, coordinator: Any) -> list[Visit]:
    """Four participants whose baseline was 28 days ago: weeks 1-2 are past their window."""
    from trial.visits.services import visit_complete
    from trial.workspace.services import participant_enrol

    for i in range(4):
        p = make_participant(screened_days_ago=30, sex="FM"[i % 2])
        participant_enrol(participant=p, by=coordinator, baseline_date=date.today() - timedelta(days=28))
        baseline = p.visits.get(definition__week=0)
        visit_complete(visit=baseline, actual_date=baseline.scheduled_date, by=coordinator)
    today = date.today()
    return list(
        Visit.objects.filter(status=Visit.Status.SCHEDULED, window_end__lt=today).order_by(
            "scheduled_date", "participant__participant_id", "pk"
        )
    )


def test_the_dashboard_lists_the_first_visits_and_counts_them_all(
    client: Any, coordinator: Any, many_overdue: list[Visit]
) -> None:
    limit = 3
    due = visits_due(user=coordinator, limit=limit)
    assert len(many_overdue) > limit
    assert due.counts["overdue"] == len(many_overdue)
    assert [v.pk for v in due.overdue] == [v.pk for v in many_overdue[:limit]]

    client.force_login(coordinator)
    page = client.get("/").content.decode()
    shown = min(len(many_overdue), DUE_LIST_LIMIT)
    assert f'<span class="count">{len(many_overdue)}</span>' in page
    assert page.count(reverse("visits:detail", args=[many_overdue[0].pk])) == 1
    if len(many_overdue) > shown:
        assert f"All {len(many_overdue)}" in page


def test_the_visits_due_page_pages_through_every_visit_of_a_list(
    client: Any, coordinator: Any, many_overdue: list[Visit]
) -> None:
    client.force_login(coordinator)
    seen: list[int] = []
    page_number = 1
    while True:
        response = client.get(reverse("visits:due"), {"list": "overdue", "page": page_number})
        assert response.status_code == 200
        seen += [v.pk for v in response.context["page"].object_list]
        if not response.context["page"].has_next():
            break
        page_number += 1
    assert seen == [v.pk for v in many_overdue]
    # An unknown list falls back to the overdue one instead of failing.
    assert client.get(reverse("visits:due"), {"list": "nonsense"}).context["which"] == "overdue"
