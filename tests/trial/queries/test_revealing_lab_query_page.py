"""A query on a post-baseline value of an arm-revealing analyte (the hs-CRP > 100 mg/L edit check)
goes to the unblinded reviewer: their query page offers the buttons the services accept, and no
blinded role reaches the query or the value it quotes (ICH E6(R3) 4.2; protocol file:
reveals_arm_post_baseline)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from trial.queries.models import DataQuery
from trial.queries.services import edit_checks_run
from trial.visits import services

pytestmark = pytest.mark.django_db

HIGH_CRP = "123.457"
BLINDED = ["coordinator", "rater", "investigator", "datamanager", "statistician", "admin", "monitor"]


@pytest.fixture
def revealing_query(enrolled_a_month_ago: Any, users: Any) -> DataQuery:
    visit = enrolled_a_month_ago.visits.get(definition__week=2)
    visit = services.visit_complete(visit=visit, actual_date=visit.scheduled_date, by=users["coordinator"])
    services.lab_record(
        visit=visit, analyte="hs_crp", value=HIGH_CRP, sample_time=timezone.now(), by=users["unblinded"]
    )
    # The edit checks run with each save of a form (trial.queries.services); here, directly.
    edit_checks_run(participant=enrolled_a_month_ago, by=users["unblinded"])
    query = DataQuery.objects.get(form="labs", field="hs_crp")
    assert HIGH_CRP.rstrip("0") in query.text or "123.46" in query.text  # the check quotes the value
    return query


def _buttons(html: str) -> set[str]:
    return {b for b in ("Answer", "Close query", "Re-open query") if f">{b}</button>" in html}


def test_the_unblinded_reviewer_gets_the_buttons_and_they_work(login: Any, revealing_query: DataQuery) -> None:
    client = login("unblinded")
    url = f"/queries/{revealing_query.pk}/"
    assert _buttons(client.get(url).content.decode()) == {"Answer", "Close query"}
    page = client.get(url).content.decode()
    token = page.split('name="submission_token" value="')[1][:32]
    answered = client.post(
        url,
        {"version": revealing_query.version, "action": "answer", "text": "Re-assayed: the value stands."}
        | {"submission_token": token},
    )
    assert answered.status_code == 302
    revealing_query.refresh_from_db()
    assert revealing_query.status == DataQuery.Status.ANSWERED
    assert _buttons(client.get(url).content.decode()) == {"Answer", "Close query", "Re-open query"}
    token = client.get(url).content.decode().split('name="submission_token" value="')[1][:32]
    closed = client.post(
        url, {"version": revealing_query.version, "action": "close", "text": "", "submission_token": token}
    )
    assert closed.status_code == 302
    revealing_query.refresh_from_db()
    assert revealing_query.status == DataQuery.Status.CLOSED
    assert _buttons(client.get(url).content.decode()) == {"Re-open query"}


@pytest.mark.parametrize("name", ["pharmacist", "dsmb"])
def test_other_unblinded_roles_read_it_without_buttons_they_could_not_use(
    login: Any, revealing_query: DataQuery, name: str
) -> None:
    page = login(name).get(f"/queries/{revealing_query.pk}/")
    assert page.status_code == 200 and _buttons(page.content.decode()) == set()


@pytest.mark.parametrize("name", BLINDED)
def test_no_blinded_role_reaches_the_query_or_its_value(login: Any, revealing_query: DataQuery, name: str) -> None:
    client = login(name)
    assert client.get(f"/queries/{revealing_query.pk}/").status_code == 404
    listing = client.get("/queries/").content.decode()
    assert f"/queries/{revealing_query.pk}/" not in listing and "123.4" not in listing
    participant = revealing_query.participant
    page = client.get(f"/participants/{participant.participant_id}/").content.decode()
    assert "123.4" not in page
