"""The demo runs with DEBUG off; 403, 404 and 500 are friendly pages that offer a way back."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse
from django.views import defaults

ROOT = Path(settings.BASE_DIR)


def test_the_demo_settings_have_debug_off() -> None:
    assert "DJANGO_SETTINGS_MODULE=trial.settings.local" in (ROOT / "scripts" / "run_demo.sh").read_text()
    local = importlib.import_module("trial.settings.local")
    assert local.DEBUG is False


@pytest.mark.django_db
def test_a_missing_page_says_so_and_links_back(login: Any) -> None:
    response = login("coordinator").get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert f'href="{reverse("dashboard")}"' in html


@pytest.mark.django_db
def test_a_refused_page_says_so_and_links_back(login: Any) -> None:
    response = login("rater").get(reverse("randomization:lists"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "You do not have access to this page" in html
    assert "Back to the dashboard" in html


def test_a_server_error_says_so_and_links_back() -> None:
    response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert 'href="/"' in html and "Back to the dashboard" in html
