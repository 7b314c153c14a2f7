"""Every write service checks the caller's capability itself (trial.access.require), so a write
that does not come through a page (a script, a task, a future endpoint) is refused all the same,
and nothing is written."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied


def _count(model: Any) -> int:
    return model.objects.count()


@pytest.mark.django_db
def test_participant_services_refuse_a_role_without_data_entry(users: Any, site: Any, make_participant: Any) -> None:
    from trial.participants.models import Participant
    from trial.participants.services import consent_record, participant_screen

    before = _count(Participant)
    with pytest.raises(PermissionDenied):
        participant_screen(site=site, sex="F", date_of_birth=date(1980, 1, 1), screening={}, by=users["rater"])
    assert _count(Participant) == before
    p = make_participant(consent=False)
    with pytest.raises(PermissionDenied):
        consent_record(participant=p, consent_date=date.today(), by=users["datamanager"])
    assert not p.consents.exists()


@pytest.mark.django_db
def test_visit_services_refuse_the_wrong_role(randomized: Any, users: Any) -> None:
    from trial.visits.services import cgis_record, hamd_record, visit_complete

    visit = randomized.visits.get(definition__week=0)
    with pytest.raises(PermissionDenied):
        visit_complete(visit=visit, actual_date=visit.scheduled_date, by=users["pharmacist"])
    visit.refresh_from_db()
    assert visit.status == "scheduled"
    visit_complete(visit=visit, actual_date=visit.scheduled_date, by=users["coordinator"])
    with pytest.raises(PermissionDenied):
        hamd_record(visit=visit, items=dict.fromkeys(range(1, 18), 1), by=users["pharmacist"])
    with pytest.raises(PermissionDenied):
        cgis_record(visit=visit, score=4, by=users["datamanager"])
    assert not hasattr(visit, "hamd") or visit.hamd is None


@pytest.mark.django_db
def test_safety_services_refuse_a_role_without_data_entry(randomized: Any, users: Any) -> None:
    from trial.safety.models import AdverseEvent
    from trial.safety.services import adverse_event_record, deviation_record

    with pytest.raises(PermissionDenied):
        adverse_event_record(participant=randomized, data={"term": "Headache"}, by=users["statistician"])
    with pytest.raises(PermissionDenied):
        deviation_record(participant=randomized, data={"description": "x"}, by=users["rater"])
    assert _count(AdverseEvent) == 0


@pytest.mark.django_db
def test_query_services_refuse_the_wrong_step(baseline_visit: Any, users: Any) -> None:
    from trial.queries.models import DataQuery
    from trial.queries.services import query_answer, query_close, query_open

    participant = baseline_visit.participant
    with pytest.raises(PermissionDenied):
        query_open(participant=participant, form="hamd", field="item_1", text="Check", by=users["coordinator"])
    assert _count(DataQuery) == 0
    query = query_open(participant=participant, form="hamd", field="item_1", text="Check", by=users["datamanager"])
    with pytest.raises(PermissionDenied):
        query_answer(query=query, text="Fine", by=users["rater"])
    with pytest.raises(PermissionDenied):
        query_close(query=query, by=users["coordinator"])
    query.refresh_from_db()
    assert query.status == "open"


@pytest.mark.django_db
def test_enrolment_refuses_a_role_that_may_not_randomize(make_participant: Any, active_list: Any, users: Any) -> None:
    from trial.workspace.services import participant_enrol

    p = make_participant()
    with pytest.raises(PermissionDenied):
        participant_enrol(participant=p, by=users["pharmacist"])
    assert not p.visits.exists()
    assert not hasattr(p, "allocation") or p.allocation is None
