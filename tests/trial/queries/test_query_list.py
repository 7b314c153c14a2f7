"""The data-query list: paginated, sortable by age, status, participant and form, filtered by status,
form and participant, with each query's age in days; its database queries do not grow with the list."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from trial.queries.selectors import QUERIES_PER_PAGE, query_page
from trial.queries.services import query_answer, query_open

pytestmark = pytest.mark.django_db

FORMS = (("hamd17", "item_3"), ("cgis", "score"), ("vitals", "weight_kg"))


def _open(users: Any, participants: list[Any], n: int) -> None:
    for i in range(n):
        form, field = FORMS[i % len(FORMS)]
        query_open(
            participant=participants[i % len(participants)],
            form=form,
            field=field,
            text=f"Q{i}",
            by=users["datamanager"],
        )


@pytest.fixture
def two(make_participant: Any) -> list[Any]:
    return [make_participant(), make_participant(sex="M")]


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<td><a href="/queries/(\d+)/">', html)]


def test_the_list_runs_the_same_number_of_queries_at_any_size(
    login: Any, users: Any, two: list[Any], django_assert_max_num_queries: Any
) -> None:
    client = login("datamanager")
    _open(users, two, 3)
    client.get("/queries/")  # warm the session and the protocol file
    with CaptureQueriesContext(connection) as small:
        assert client.get("/queries/?sort=-age").status_code == 200
    _open(users, two, QUERIES_PER_PAGE + 20)
    with django_assert_max_num_queries(len(small.captured_queries)):
        html = client.get("/queries/?sort=-age").content.decode()
    assert len(_ids(html)) == QUERIES_PER_PAGE


def test_it_pages_through_every_query(login: Any, users: Any, two: list[Any]) -> None:
    _open(users, two, QUERIES_PER_PAGE + 7)
    client = login("datamanager")
    first = client.get("/queries/").content.decode()
    second = client.get("/queries/?page=2").content.decode()
    assert len(_ids(first)) == QUERIES_PER_PAGE and len(_ids(second)) == 7
    assert not set(_ids(first)) & set(_ids(second))
    assert "page 1 of 2" in first and 'rel="next"' in first and 'rel="prev"' in second


def test_it_sorts_by_participant_form_status_and_age(login: Any, users: Any, two: list[Any]) -> None:
    _open(users, two, 6)
    from trial.queries.models import DataQuery

    answered = DataQuery.objects.order_by("id").first()
    assert answered is not None
    query_answer(query=answered, text="Checked", by=users["coordinator"])
    client = login("datamanager")
    by = {q.pk: q for q in DataQuery.objects.select_related("participant")}

    def order(sort: str) -> list[Any]:
        return _ids(client.get(f"/queries/?sort={sort}").content.decode())

    pids = [by[i].participant.participant_id for i in order("participant")]
    assert pids == sorted(pids) and pids != sorted(pids, reverse=True)
    assert [by[i].participant.participant_id for i in order("-participant")] == sorted(pids, reverse=True)
    forms = [by[i].form for i in order("form")]
    assert forms == sorted(forms)
    assert [by[i].form for i in order("-form")] == sorted(forms, reverse=True)
    assert order("status")[0] == answered.pk  # "answered" before "open"
    assert order("-status")[-1] == answered.pk
    assert order("age") == sorted(by, reverse=True)  # the youngest first
    assert order("-age") == sorted(by)
    html = client.get("/queries/?sort=age&status=open").content.decode()
    # The header links keep the filters and turn the sort round; the current column says so.
    assert 'aria-sort="ascending"' in html and "sort=-age" in html and "status=open" in html


def test_it_filters_by_status_form_and_participant(login: Any, users: Any, two: list[Any]) -> None:
    _open(users, two, 6)
    from trial.queries.models import DataQuery

    client = login("datamanager")
    cgis = _ids(client.get("/queries/?form=cgis").content.decode())
    assert sorted(cgis) == sorted(DataQuery.objects.filter(form="cgis").values_list("pk", flat=True))
    pid = two[1].participant_id
    theirs = _ids(client.get(f"/queries/?participant={pid}&form=hamd17").content.decode())
    expected = DataQuery.objects.filter(participant=two[1], form="hamd17").values_list("pk", flat=True)
    assert sorted(theirs) == sorted(expected) and theirs
    assert _ids(client.get("/queries/?status=closed").content.decode()) == []
    assert '<option value="vitals">' in client.get("/queries/").content.decode()


def test_it_shows_each_query_s_age_in_days(users: Any, two: list[Any], login: Any) -> None:
    _open(users, two, 1)
    _, rows = query_page(user=users["datamanager"], today=timezone.now() + timedelta(days=3, hours=1))
    assert [r.age_days for r in rows] == [3]
    html = login("datamanager").get("/queries/").content.decode()
    assert re.search(r'<td class="age" data-days="0">0', html)
