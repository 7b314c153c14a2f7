"""Requests that used to end in a server error: a NUL byte in the address or the credentials,
JSON nested past the recursion limit, a busy or dropped database. Each answers with a status the
client can act on (400, 503), never 500."""

from __future__ import annotations

import base64
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, close_old_connections, connection

NUL_URLS = [
    "/participants/?q=%00",
    "/api/participants/?status=%00",
    "/api/participants/%00/",
    "/queries/?participant=%00",
    "/participants/%00/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", NUL_URLS)
def test_it_refuses_a_nul_byte_in_the_address_with_400(login: Any, url: str) -> None:
    client = login("datamanager")
    response = client.get(url)
    assert response.status_code == 400


@pytest.mark.django_db
def test_it_refuses_a_nul_byte_in_a_basic_auth_user_name(client: Any, users: Any) -> None:
    token = base64.b64encode(b"coord\x00inator:whatever").decode()
    response = client.get("/api/participants/", HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 400


@pytest.mark.django_db
def test_it_refuses_a_nul_byte_in_the_login_form_with_a_message(client: Any, users: Any) -> None:
    response = client.post("/login/", {"username": "coord\x00inator", "password": "x\x00"})
    assert response.status_code == 200
    assert response.context["form"].errors


@pytest.mark.django_db
def test_it_answers_json_nested_too_deeply_with_400(login: Any, randomized: Any) -> None:
    client = login("coordinator")
    body = "[" * 1100 + "]" * 1100
    response = client.post(
        f"/api/randomization/participants/{randomized.pk}/randomize/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.django_db
def test_it_answers_a_busy_database_on_a_form_with_503_and_keeps_the_input(login: Any, randomized: Any) -> None:
    client = login("coordinator")
    url = f"/safety/participants/{randomized.participant_id}/adverse-events/new/"
    data = {
        "term": "Headache of a kind nobody forgets",
        "onset_date": randomized.screening.screening_date.isoformat(),
        "severity": "mild",
        "relatedness": "not_related",
        "action_taken": "none",
        "outcome": "recovering",
        "ongoing": "on",
    }
    with mock.patch(
        "trial.safety.views.adverse_event_record", side_effect=OperationalError("database is locked")
    ) as record:
        response = client.post(url, data)
    assert response.status_code == 503
    assert "busy" in response.content.decode()
    assert "Headache of a kind nobody forgets" in response.content.decode()
    assert record.called


@pytest.mark.django_db
def test_it_answers_a_busy_database_on_the_api_with_503(login: Any) -> None:
    client = login("datamanager")
    with mock.patch("trial.participants.api.participants_for_api", side_effect=OperationalError("database is locked")):
        response = client.get("/api/participants/")
    assert response.status_code == 503
    assert "busy" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_it_replaces_a_connection_the_server_dropped_before_the_next_request(users: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server to drop the connection")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    # As a restart or pg_terminate_backend would: the server ends this session.
    with connection._nodb_cursor() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    close_old_connections()  # what Django does at the start of every request
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
