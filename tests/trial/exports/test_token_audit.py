"""Issuing and revoking an API token are access-control events in the access log (21 CFR 11.10(d), (e)):
who, when, which token (by its first characters, never the token itself)."""

from __future__ import annotations

import json
from typing import Any

from trial.core.models import AccessEvent


def test_creating_a_token_on_the_page_is_in_the_access_log_without_the_token(login: Any, users: Any) -> None:
    from trial.exports.models import ApiToken

    page = login("statistician").post("/exports/tokens/", {"name": "nightly script"}).content.decode()
    key = page.split('id="new-token"')[1].split("<code>")[1].split("</code>")[0]
    token = ApiToken.objects.get(user__username="statistician")
    event = AccessEvent.objects.get(kind=AccessEvent.Kind.API_TOKEN_CREATED)
    assert event.username == "statistician" and event.user == users["statistician"]
    assert event.target == f"API token {token.key_prefix}"
    detail = json.loads(event.detail)
    assert detail["name"] == "nightly script" and detail["roles"] == token.roles_at_issue
    assert key not in event.detail and key not in event.target and token.key_sha256 not in event.detail


def test_revoking_a_token_is_in_the_access_log_once(login: Any, users: Any) -> None:
    from trial.exports.services import api_token_create

    token, _key = api_token_create(by=users["datamanager"], name="weekly")
    client = login("datamanager")
    client.post("/exports/tokens/", {"revoke": str(token.pk)})
    client.post("/exports/tokens/", {"revoke": str(token.pk)})  # already revoked: nothing more happens
    events = list(AccessEvent.objects.filter(kind=AccessEvent.Kind.API_TOKEN_REVOKED))
    assert len(events) == 1
    assert events[0].username == "datamanager" and events[0].target == f"API token {token.key_prefix}"
    assert json.loads(events[0].detail) == {"name": "weekly"}


def test_a_refused_revocation_or_creation_writes_no_event(login: Any, users: Any) -> None:
    from trial.exports.services import api_token_create

    token, _key = api_token_create(by=users["statistician"], name="theirs")
    login("datamanager").post("/exports/tokens/", {"revoke": str(token.pk)})
    login("datamanager").post("/exports/tokens/", {"name": "   "})
    assert not AccessEvent.objects.filter(kind=AccessEvent.Kind.API_TOKEN_REVOKED).exists()
    assert list(
        AccessEvent.objects.filter(kind=AccessEvent.Kind.API_TOKEN_CREATED).values_list("username", flat=True)
    ) == ["statistician"]
