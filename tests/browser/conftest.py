"""Playwright driving Debian's chromium against pytest-django's live server.

The tests skip, saying why, only when no chromium binary is found. Screenshots of each step go to
artifacts/screenshots/<test>/<step>.png (CI keeps artifacts/ in its log) and their paths are printed.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium binary found (install Debian's chromium: .ci/run does)")
    from playwright.sync_api import sync_playwright

    # launch() starts chromium on a fresh temporary profile of its own (it refuses --user-data-dir),
    # and every user below gets a new, empty browser context on top of it.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Session:
    """One logged-in user's browser tab, with numbered screenshots for the test."""

    def __init__(self, page: Any, base_url: str, shots: Path, who: str, counter: list[int]) -> None:
        self.page, self.base_url, self.shots, self.who, self.counter = page, base_url, shots, who, counter

    def go(self, path: str) -> Any:
        self.page.goto(self.base_url + path)
        return self.page

    def shot(self, step: str) -> Path:
        self.counter[0] += 1
        path = self.shots / f"{self.counter[0]:02d}-{self.who}-{re.sub(r'[^a-z0-9]+', '-', step.lower())}.png"
        # Viewport, not full_page: a full-page capture resizes headless chromium's view for a moment and
        # the next click can then land on stale coordinates (seen: a Save click that submitted nothing).
        self.page.screenshot(path=str(path))
        print(f"screenshot: {path.relative_to(ROOT)}")
        return path


@pytest.fixture
def browse(chromium: Any, live_server: Any, request: Any, users: dict[str, Any]) -> Iterator[Any]:
    """`browse("coordinator")` -> a Session logged in through the login page as that named user;
    `browse("rater", width=390, height=844)` for a phone."""
    from trial.accounts.users import DEMO_PASSWORD

    shots = SCREENSHOTS / request.node.name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True, exist_ok=True)
    contexts = []
    counter = [0]

    def open_as(username: str, width: int = 1280, height: int = 1400) -> Session:
        context = chromium.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        session = Session(page, live_server.url, shots, username, counter)
        session.go("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(live_server.url + "/")
        return session

    yield open_as
    for context in contexts:
        context.close()
