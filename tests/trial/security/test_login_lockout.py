"""Repeated failed logins lock the account and the address they came from (21 CFR 11.300(d))."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.urls import reverse

from trial.accounts.users import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def lockout_on(settings: Any) -> None:
    # The test settings switch django-axes off for client.login(); these tests log in through the page.
    settings.AXES_ENABLED = True


def _attempt(client: Any, username: str, password: str, ip: str = "127.0.0.1") -> Any:
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def _logged_in(client: Any) -> bool:
    return "_auth_user_id" in client.session


def test_it_refuses_the_right_password_after_five_failures(client: Any, users: Any, lockout_on: None) -> None:
    statuses = [_attempt(client, "coordinator", "not-the-password").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks
    response = _attempt(client, "coordinator", DEMO_PASSWORD)
    assert response.status_code == 429
    assert "Login temporarily locked" in response.content.decode()
    assert not _logged_in(client)


def test_the_account_stays_locked_from_another_address(client: Any, users: Any, lockout_on: None) -> None:
    for i in range(5):
        _attempt(client, "investigator", "not-the-password", ip=f"10.0.0.{i + 1}")
    assert _attempt(client, "investigator", DEMO_PASSWORD, ip="10.9.9.9").status_code == 429
    assert not _logged_in(client)


def test_the_address_is_locked_when_it_tries_many_accounts(client: Any, users: Any, lockout_on: None) -> None:
    for name in ("coordinator", "rater", "pharmacist", "investigator", "dsmb"):
        _attempt(client, name, "not-the-password", ip="10.1.1.1")
    # A sixth account, never tried before, from the same address: refused.
    assert _attempt(client, "datamanager", DEMO_PASSWORD, ip="10.1.1.1").status_code == 429
    assert not _logged_in(client)
    # The same account from elsewhere is not locked.
    assert _attempt(client, "datamanager", DEMO_PASSWORD, ip="10.2.2.2").status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock(client: Any, users: Any, lockout_on: None) -> None:
    for _ in range(4):
        _attempt(client, "rater", "not-the-password")
    assert _attempt(client, "rater", DEMO_PASSWORD).status_code == 302
    assert _logged_in(client)


def test_the_api_does_not_accept_basic_auth(client: Any, users: Any) -> None:
    # Basic auth would be a second door for guessing passwords, with no CSRF protection.
    token = base64.b64encode(f"datamanager:{DEMO_PASSWORD}".encode()).decode()
    response = client.get("/api/participants/", HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response
