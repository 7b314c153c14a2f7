"""The participant page and the dashboard run a fixed number of queries, whatever the number of
visits, forms and participants. Counts are deterministic; times are not measured here."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from trial.queries.services import edit_checks_run, query_open
from trial.safety.services import adverse_event_record, conmed_record
from trial.visits import services

pytestmark = pytest.mark.django_db


def count_queries(client, url):
    client.get(url)  # warm caches (session, protocol file) so both counts start from the same state
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def fill(participant, users, weeks):
    """Every form of the given weeks, plus safety records and queries."""
    by = users["coordinator"]
    for week in weeks:
        visit = participant.visits.get(definition__week=week)
        if visit.status != visit.Status.DONE:  # the fixture's baseline is done already
            services.visit_complete(visit=visit, actual_date=visit.scheduled_date, by=by)
        services.hamd_record(visit=visit, items=dict.fromkeys(range(1, 18), 1), by=users["rater"])
        services.cgis_record(visit=visit, score=4, by=users["rater"])
        services.vitals_record(visit=visit, data={"weight_kg": 80}, by=by)
        # Post-baseline results of these analytes are the unblinded statistician's to enter.
        lab_by = by if week == 0 else users["unblinded"]
        services.lab_record(visit=visit, analyte="hs_crp", value=120, sample_time=timezone.now(), by=lab_by)
        services.lab_record(
            visit=visit, analyte="tnf", replicate_1=2, replicate_2=3, sample_time=timezone.now(), by=lab_by
        )
        if visit.definition.infusion:
            services.infusion_record(visit=visit, data={"weight_kg": 80}, by=by)
        query_open(participant=participant, visit=visit, form="cgis", field="score", text="?", by=users["datamanager"])
        adverse_event_record(
            participant=participant,
            by=by,
            data={
                "term": f"Headache {week}",
                "onset_date": date.today(),
                "ongoing": True,
                "severity": "mild",
                "relatedness": "possible",
                "outcome": "recovering",
            },
        )
        conmed_record(
            participant=participant,
            by=by,
            data={"name": f"Med {week}", "drug_class": "other", "start_date": date.today()},
        )
    edit_checks_run(participant=participant, by=by)


@pytest.mark.parametrize("username", ["coordinator", "rater"])
def test_the_participant_page_query_count_does_not_grow_with_its_data(
    login, make_participant, enrolled_a_month_ago, users, username
):
    from trial.workspace.services import participant_enrol

    few = make_participant()
    participant_enrol(participant=few, by=users["coordinator"])
    fill(enrolled_a_month_ago, users, weeks=[0, 1, 2, 3, 4])
    c = login(username)
    small = count_queries(c, f"/participants/{few.participant_id}/")
    large = count_queries(c, f"/participants/{enrolled_a_month_ago.participant_id}/")
    assert small == large


def test_the_dashboard_query_count_does_not_grow_with_the_trial(login, make_participant, active_list, users):
    from trial.workspace.services import participant_enrol

    c = login("coordinator")
    first = make_participant()
    participant_enrol(participant=first, by=users["coordinator"])
    first.refresh_from_db()
    small = count_queries(c, "/")
    for i in range(8):
        p = make_participant(sex="M" if i % 2 else "F", screening_crp_mg_l=1.0 if i % 3 else 5.0)
        participant_enrol(participant=p, by=users["coordinator"])
    for _ in range(3):
        make_participant(mmse=20)
    fill(first, users, weeks=[0])
    assert count_queries(c, "/") == small


def test_the_participant_list_query_count_does_not_grow(login, make_participant, active_list, users):
    c = login("coordinator")
    make_participant()
    small = count_queries(c, "/participants/")
    for _ in range(6):
        make_participant()
    assert count_queries(c, "/participants/") == small


def test_a_visit_form_page_query_count_does_not_grow_with_the_labs(login, baseline_visit, users):
    c = login("coordinator")
    small = count_queries(c, f"/visits/{baseline_visit.pk}/labs/")
    for code in ("tnf", "stnfr1", "stnfr2"):
        services.lab_record(
            visit=baseline_visit,
            analyte=code,
            replicate_1=2,
            replicate_2=3,
            sample_time=timezone.now(),
            by=users["coordinator"],
        )
    assert count_queries(c, f"/visits/{baseline_visit.pk}/labs/") == small
