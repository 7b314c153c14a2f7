"""A session unused for 15 minutes ends; the page warns before (21 CFR 11.300(d))."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from trial.core.middleware import LAST_ACTIVITY_KEY

pytestmark = pytest.mark.django_db


def _idle_for(client: Any, seconds: int) -> None:
    session = client.session
    session[LAST_ACTIVITY_KEY] = int(timezone.now().timestamp()) - seconds
    session.save()


def test_the_timeout_is_15_minutes() -> None:
    assert settings.STRATUM_IDLE_TIMEOUT_SECONDS == 15 * 60
    assert 0 < settings.STRATUM_IDLE_WARNING_SECONDS < settings.STRATUM_IDLE_TIMEOUT_SECONDS


def test_a_session_idle_for_over_15_minutes_is_logged_out(login: Any) -> None:
    client = login("coordinator")
    assert client.get(reverse("participants:list")).status_code == 200
    _idle_for(client, 15 * 60 + 1)
    response = client.get(reverse("participants:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    page = client.get(response.url)
    assert "logged out after 15 minutes without activity" in page.content.decode()


def test_the_api_refuses_an_idle_session(login: Any) -> None:
    client = login("datamanager")
    _idle_for(client, 16 * 60)
    assert client.get("/api/participants/").status_code == 403


def test_a_session_used_within_15_minutes_goes_on(login: Any) -> None:
    client = login("coordinator")
    _idle_for(client, 14 * 60)
    assert client.get(reverse("participants:list")).status_code == 200
    # ...and that request counts as activity.
    assert int(timezone.now().timestamp()) - client.session[LAST_ACTIVITY_KEY] < 60


def test_stay_logged_in_resets_the_clock(login: Any) -> None:
    client = login("rater")
    _idle_for(client, 14 * 60)
    assert client.post(reverse("session_keepalive")).status_code == 204
    _idle_for_more = client.session[LAST_ACTIVITY_KEY]
    assert int(timezone.now().timestamp()) - _idle_for_more < 60


def test_every_page_carries_the_warning_and_its_timings(login: Any) -> None:
    html = login("coordinator").get(reverse("dashboard")).content.decode()
    assert 'data-idle-timeout="900"' in html
    assert f'data-idle-warning="{settings.STRATUM_IDLE_WARNING_SECONDS}"' in html
    assert 'id="idle-warning"' in html and "Stay logged in" in html
    assert "js/stratum.js" in html
