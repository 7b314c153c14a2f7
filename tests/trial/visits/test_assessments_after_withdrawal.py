"""After a withdrawal no assessment is recorded for a visit after the end of study: HAM-D-17, CGI-S,
vital signs and the lab sample all need the visit done, and the visit cannot be done after the end
of study (protocol file [safety]: assessments are not recorded after it at all)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from trial.participants.services import end_of_study_record
from trial.visits import services
from trial.visits.models import CGIS, HamD17, LabSample, Visit, VitalSigns

pytestmark = pytest.mark.django_db

ASSESSMENTS = {
    "hamd17": (HamD17, lambda v, u: services.hamd_record(visit=v, items=dict.fromkeys(range(1, 18), 1), by=u["rater"])),
    "cgis": (CGIS, lambda v, u: services.cgis_record(visit=v, score=4, by=u["rater"])),
    "vitals": (VitalSigns, lambda v, u: services.vitals_record(visit=v, data={"weight_kg": 70}, by=u["coordinator"])),
    "lab sample": (
        LabSample,
        lambda v, u: services.lab_sample_record(visit=v, drawn_at=timezone.now(), tube_id="T-9", by=u["coordinator"]),
    ),
}


@pytest.mark.parametrize("form", sorted(ASSESSMENTS))
def test_no_assessment_after_the_withdrawal(enrolled_a_month_ago: Any, users: Any, form: str) -> None:
    p = enrolled_a_month_ago
    week1 = p.visits.get(definition__week=1)
    end_of_study_record(
        participant=p,
        outcome="withdrawn",
        end_date=week1.scheduled_date,
        reason="withdrew consent",
        by=users["coordinator"],
    )
    week2 = p.visits.get(definition__week=2)
    with pytest.raises(ValidationError):
        services.visit_complete(
            visit=week2, actual_date=week2.scheduled_date + timedelta(days=0), by=users["coordinator"]
        )
    week2.refresh_from_db()  # as the next request would load it
    model, record = ASSESSMENTS[form]
    with pytest.raises(ValidationError):
        record(week2, users)
    assert not model.objects.filter(visit=week2).exists()
    week2.refresh_from_db()
    assert week2.status == Visit.Status.SCHEDULED
