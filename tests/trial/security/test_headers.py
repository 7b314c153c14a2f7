"""A strict Content Security Policy on every page, and nothing a logged-in user sees, nor any API
response, kept in a cache (21 CFR 11.10(c) and (d))."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _directives(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in header.split(";")) if d}


def test_every_page_has_a_csp_that_allows_no_inline_script(client: Any) -> None:
    policy = _directives(client.get(reverse("login")))
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in v for values in policy.values() for v in values)


# Documents rendered into a downloaded file (Content-Disposition: attachment), opened from disk where no
# policy applies: they must carry their own styles to print well. They never hold a script.
DOWNLOADED_DOCUMENTS = {"analysis/report.html"}


def test_downloaded_documents_hold_no_script() -> None:
    for name in DOWNLOADED_DOCUMENTS:
        text = (TEMPLATES / name).read_text()
        assert "<script" not in text and not re.search(r"\son[a-z]+\s*=", text), name


def test_templates_have_no_inline_script_handler_or_style() -> None:
    """The policy blocks them, so a template that relied on one would break silently in the browser."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if path.relative_to(TEMPLATES).as_posix() in DOWNLOADED_DOCUMENTS:
            continue
        text = path.read_text()
        for match in re.finditer(r"<script\b[^>]*>", text):
            if "src=" not in match.group(0):
                offenders.append(f"{path.name}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.name}: on* handler")
        if re.search(r"\sstyle\s*=", text) or "<style" in text:
            offenders.append(f"{path.name}: inline style")
    assert offenders == []


def test_exports_are_not_stored(login: Any, randomized: Any) -> None:
    response = login("datamanager").get(reverse("export-dataset", args=["participants"]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_the_api_is_not_stored(login: Any, randomized: Any) -> None:
    response = login("datamanager").get("/api/participants/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "no-store" in login("datamanager").get("/api/participants/nobody/")["Cache-Control"]


def test_unblinded_pages_are_not_stored(login: Any, randomized: Any) -> None:
    for url in (reverse("randomization:lists"), reverse("pharmacy:queue")):
        response = login("unblinded" if "randomization" in url else "pharmacist").get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_the_allocation_api_is_not_stored(login: Any, randomized: Any) -> None:
    response = login("pharmacist").get(reverse("randomization-api:allocations"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
