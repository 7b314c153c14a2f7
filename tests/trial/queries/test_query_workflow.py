"""A data manager opens a query on a field; the coordinator answers; the data manager closes or
re-opens it; the whole history is kept. Through the pages, as users do it."""

from __future__ import annotations

import pytest

from trial.queries.models import DataQuery
from trial.queries.services import query_open
from trial.visits import services

pytestmark = pytest.mark.django_db


def test_a_data_manager_opens_a_query_on_a_field_and_the_coordinator_answers(login, baseline_visit):
    c = login("datamanager")
    page = c.get(f"/queries/new/?visit={baseline_visit.pk}").content.decode()
    assert 'value="hamd17:item_3"' in page and 'value="labs:hs_crp"' in page
    r = c.post(
        f"/queries/new/?visit={baseline_visit.pk}",
        {
            "visit": baseline_visit.pk,
            "target": "hamd17:item_3",
            "text": "Item 3 scored 0 but the notes mention passive ideation.",
        },
    )
    query = DataQuery.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/queries/{query.pk}/"
    assert (query.form, query.field, query.visit, query.status) == ("hamd17", "item_3", baseline_visit, "open")

    c = login("coordinator")
    r = c.post(f"/queries/{query.pk}/", {"action": "answer", "version": query.version, "text": ""})
    assert r.context["form"].errors["text"] == ["Write the answer."]
    c.post(
        f"/queries/{query.pk}/",
        {"action": "answer", "version": query.version, "text": "Checked source: item 3 is 1; corrected."},
    )
    query.refresh_from_db()
    assert query.status == "answered"

    c = login("datamanager")
    c.post(f"/queries/{query.pk}/", {"action": "reopen", "version": query.version, "text": "The HAM-D still shows 0."})
    query.refresh_from_db()
    assert query.status == "open"
    login("coordinator").post(
        f"/queries/{query.pk}/", {"action": "answer", "version": query.version, "text": "Now corrected."}
    )
    query.refresh_from_db()
    login("datamanager").post(f"/queries/{query.pk}/", {"action": "close", "version": query.version, "text": ""})
    query.refresh_from_db()
    assert query.status == "closed" and query.closed_by.username == "datamanager"

    history = login("coordinator").get(f"/queries/{query.pk}/").content.decode()
    for step in ("Opened", "Answered", "Re-opened", "Closed", "The HAM-D still shows 0."):
        assert step in history
    assert [m.action for m in query.messages.all()] == ["opened", "answered", "reopened", "answered", "closed"]
    assert query.history.count() == 5


def test_only_data_managers_open_close_and_reopen(login, baseline_visit, users):
    query = query_open(
        participant=baseline_visit.participant,
        visit=baseline_visit,
        form="cgis",
        field="score",
        text="Please confirm",
        by=users["datamanager"],
    )
    c = login("coordinator")
    assert c.get(f"/queries/new/?visit={baseline_visit.pk}").status_code == 403
    assert c.post(f"/queries/{query.pk}/", {"action": "close", "version": query.version}).status_code == 403
    assert (
        login("datamanager")
        .post(f"/queries/{query.pk}/", {"action": "answer", "version": query.version, "text": "I answer myself"})
        .status_code
        == 403
    )
    query.refresh_from_db()
    assert query.status == "open"


def test_two_people_acting_on_one_query_conflict(login, baseline_visit, users):
    query = query_open(
        participant=baseline_visit.participant,
        visit=baseline_visit,
        form="cgis",
        field="score",
        text="Please confirm",
        by=users["datamanager"],
    )
    login("coordinator").post(f"/queries/{query.pk}/", {"action": "answer", "version": 1, "text": "Confirmed."})
    r = login("datamanager").post(f"/queries/{query.pk}/", {"action": "close", "version": 1, "text": ""})
    assert r.status_code == 409
    query.refresh_from_db()
    assert query.status == "answered"


def test_a_query_quoting_a_post_baseline_crp_goes_to_the_unblinded_reviewer(login, enrolled_a_month_ago, users):
    from django.core.exceptions import PermissionDenied

    from trial.queries.services import query_answer, query_close

    week2 = enrolled_a_month_ago.visits.get(definition__week=2)
    services.visit_complete(visit=week2, actual_date=week2.scheduled_date, by=users["coordinator"])
    login("unblinded").post(
        f"/visits/{week2.pk}/labs/results/", {"sample_time": f"{week2.scheduled_date}T08:30", "hs_crp_value": "123.4"}
    )
    query = DataQuery.objects.get(check_code="crp_high")
    assert "123.4" in query.text
    for name in ("coordinator", "rater", "investigator", "datamanager"):
        client = login(name)
        for url in ("/queries/", f"/visits/{week2.pk}/", f"/participants/{enrolled_a_month_ago.participant_id}/", "/"):
            assert "123.4" not in client.get(url).content.decode(), (name, url)
        assert client.get(f"/queries/{query.pk}/").status_code == 404
    # Blinded roles can neither answer nor close it; the unblinded reviewer can.
    with pytest.raises(PermissionDenied):
        query_answer(query=query, text="Confirmed", by=users["coordinator"])
    with pytest.raises(PermissionDenied):
        query_close(query=query, by=users["datamanager"], text="ok")
    query_answer(query=query, text="Confirmed with the laboratory", by=users["unblinded"])
    assert query_close(query=query, by=users["unblinded"], text="ok").status == DataQuery.Status.CLOSED
