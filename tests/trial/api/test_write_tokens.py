"""Every role that writes through the API creates, lists and revokes its own tokens; a token carries
exactly its owner's roles and blind."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.trial.api.conftest import arm_keys
from trial.core.models import AccessEvent
from trial.exports.models import ApiToken

pytestmark = pytest.mark.django_db


def _create(login: Any, username: str, name: str = "site script") -> str:
    page = login(username).post("/exports/tokens/", {"name": name})
    assert page.status_code == 200, username
    match = re.search(r'id="new-token">.*?<code>([^<]+)</code>', page.content.decode(), re.S)
    assert match, username
    return match.group(1)


@pytest.mark.parametrize("username", ["coordinator", "rater", "pharmacist", "investigator", "datamanager"])
def test_data_entry_roles_create_list_and_revoke_their_own_tokens(login: Any, users: Any, username: str) -> None:
    key = _create(login, username)
    token = ApiToken.objects.get(user=users[username])
    assert key.startswith(token.key_prefix)
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.API_TOKEN_CREATED, user=users[username]).exists()
    assert token.key_prefix in login(username).get("/exports/tokens/").content.decode()
    login(username).post("/exports/tokens/", {"revoke": str(token.pk)})
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == users[username]
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.API_TOKEN_REVOKED, user=users[username]).exists()


def test_a_role_cannot_revoke_another_users_token(login: Any, users: Any) -> None:
    _create(login, "coordinator")
    token = ApiToken.objects.get(user=users["coordinator"])
    login("rater").post("/exports/tokens/", {"revoke": str(token.pk)})
    token.refresh_from_db()
    assert token.revoked_at is None
    assert token.key_prefix not in login("rater").get("/exports/tokens/").content.decode()


def test_the_medical_monitor_has_no_token_page(login: Any) -> None:
    assert login("monitor").post("/exports/tokens/", {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_a_coordinators_token_writes_with_the_coordinators_roles_and_blind(
    login: Any, users: Any, make_participant: Any, active_list: Any
) -> None:
    key = _create(login, "coordinator")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    participant = make_participant()
    response = client.post(f"/api/participants/{participant.participant_id}/randomize/", {}, format="json")
    assert response.status_code == 201 and arm_keys(response.json()) == []
    participant.refresh_from_db()
    assert participant.allocation.randomized_by == users["coordinator"]
    # Not what the coordinator may not do: the pharmacy (unblinded) and exports.
    assert client.get("/api/pharmacy/queue/").status_code == 403
    assert client.get("/api/exports/").status_code == 403


def test_a_raters_token_cannot_write_what_a_rater_may_not(login: Any, baseline_visit: Any) -> None:
    key = _create(login, "rater")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = {f"item_{n}": 1 for n in range(1, 18)}
    assert client.put(f"/api/visits/{baseline_visit.pk}/hamd/", body, format="json").status_code == 201
    vitals = {"weight_kg": "80.0"}
    assert client.put(f"/api/visits/{baseline_visit.pk}/vitals/", vitals, format="json").status_code == 403


def test_a_token_stops_when_its_owners_roles_change(login: Any, users: Any, site: Any) -> None:
    from django.contrib.auth.models import Group

    key = _create(login, "coordinator")
    users["coordinator"].groups.add(Group.objects.get(name="rater"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/participants/").status_code in (401, 403)
