"""Visits keep the order of the schedule, and a withdrawn participant has no assessments after the
withdrawal (protocol file [safety]); a not-done visit does not become done after it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from trial.participants.services import end_of_study_record
from trial.visits.models import HamD17, Visit
from trial.visits.services import visit_complete

pytestmark = pytest.mark.django_db
ITEMS = {f"item_{n}": "1" for n in range(1, 18)}


def test_it_refuses_week_12_before_the_baseline(randomized: Any, coordinator: Any) -> None:
    week12 = randomized.visits.get(definition__week=12)
    with pytest.raises(ValidationError, match="baseline"):
        visit_complete(visit=week12, actual_date=date.today(), by=coordinator)
    week12.refresh_from_db()
    assert week12.status == Visit.Status.SCHEDULED


def test_it_refuses_a_later_visit_dated_before_an_earlier_one(enrolled_a_month_ago: Any, coordinator: Any) -> None:
    p = enrolled_a_month_ago
    week2 = p.visits.get(definition__week=2)
    visit_complete(visit=week2, actual_date=week2.scheduled_date, by=coordinator)
    week1 = p.visits.get(definition__week=1)
    with pytest.raises(ValidationError, match="cannot be later"):
        visit_complete(visit=week1, actual_date=week2.scheduled_date + timedelta(days=1), by=coordinator)
    week4 = p.visits.get(definition__week=4)
    with pytest.raises(ValidationError, match="cannot be earlier"):
        visit_complete(visit=week4, actual_date=week2.scheduled_date - timedelta(days=1), by=coordinator)
    # Week 1 may still be entered late, in its place: visits are missing by design, not skipped in order.
    assert visit_complete(visit=week1, actual_date=week1.scheduled_date, by=coordinator).status == Visit.Status.DONE


def test_the_hamd_form_refuses_a_visit_after_the_withdrawal_and_keeps_the_input(
    login: Any, enrolled_a_month_ago: Any, coordinator: Any
) -> None:
    p = enrolled_a_month_ago
    week1 = p.visits.get(definition__week=1)
    end_of_study_record(
        participant=p, outcome="withdrawn", end_date=week1.scheduled_date, reason="withdrew consent", by=coordinator
    )
    week2 = p.visits.get(definition__week=2)
    response = login("rater").post(
        f"/visits/{week2.pk}/hamd/", ITEMS | {"visit_date": week2.scheduled_date.isoformat()}
    )
    assert response.status_code == 200
    assert "after the participant's end of study" in response.context["form"].errors["visit_date"][0]
    assert 'name="item_1" value="1"' in response.content.decode()
    assert not HamD17.objects.filter(visit=week2).exists()
    week2.refresh_from_db()
    assert week2.status == Visit.Status.SCHEDULED
    with pytest.raises(ValidationError, match="end of study"):
        visit_complete(visit=week2, actual_date=week2.scheduled_date, by=coordinator)
