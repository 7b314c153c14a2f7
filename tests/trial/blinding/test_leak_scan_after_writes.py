"""The blind holds after each blinded role has tried every write it can reach.

The read-only leak scan (test_leak_scan.py) looks at the pages as they are. Writes change what the
pages show, and a write's own answer (a refusal, an error message, a redirect) is a page too. So
each blinded role, in turn, on one shared world:
1. opens every page of the project (one URL per pattern) and submits every POST form on it with
   plausible values (what the form offers, blanks filled by input type: a date is today, a number
   is 1, a choice its first option, a box ticked, a password the user's own); POSTs once to every
   other route that accepts POST (the forms' own actions, the API write endpoints with a JSON body),
   and checks each answer for an arm;
2. then runs the leak scan of test_leak_scan.py as that role: no arm, no post-baseline value of an
   arm-revealing analyte, no server error, anywhere.
The roles share the world, so a later role also sees what earlier roles wrote (a randomized
participant, a frozen form, a query answered). ICH E6(R3) 4.2: the blind is kept by design.
"""

from __future__ import annotations

import json
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from tests.trial.blinding.test_leak_scan import arm_disclosures, body_text, scan
from tests.trial.blinding.urlscan import targets
from trial.accounts.users import DEMO_PASSWORD

# The admin last: it can change other blinded accounts (their passwords, their roles).
BLINDED = ["coordinator", "rater", "investigator", "datamanager", "statistician", "monitor", "admin"]
# Not write routes of the trial: logging in (failures would lock the test's address out) and out.
SKIP = ("/login/", "/logout/", "/admin/login/", "/admin/logout/")
# An immediate code break shows its requester the arm: that is what it is for (the world's break is
# a second investigator's, so the demo investigator must see none). The request is still made, as
# one awaiting approval.
NEVER_TICK = {"immediate"}


class Forms(HTMLParser):
    """The POST forms of a page: action and the values a browser would send, blanks filled."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, list[str]]]] = []
        self._form: dict[str, list[str]] | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = {}
            self.forms.append((a.get("action", ""), self._form))
        if self._form is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if name in NEVER_TICK:
                    return
                if kind == "radio" and name in self._form:
                    return  # the first option of a radio group
                self._form.setdefault(name, []).append(a.get("value", "on") or "on")
            elif kind in ("submit", "button", "image", "file"):
                if kind == "submit" and name not in self._form:
                    self._form[name] = [a.get("value", "")]
            else:
                self._form[name] = [a.get("value") or _plausible(kind, name)]
        elif tag == "select":
            self._select, self._select_first = name, None
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if "selected" in a:
                self._form[self._select] = [value]
            elif value and self._select_first is None:
                self._select_first = value
        elif tag == "textarea":
            self._textarea = name
            self._form[name] = ["Leak scan: a plausible note."]
        elif tag == "button" and a.get("type", "submit") == "submit" and name not in self._form:
            self._form[name] = [a.get("value", "")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._form is not None and self._select is not None:
            if self._select not in self._form and self._select_first is not None:
                self._form[self._select] = [self._select_first]
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self._form is not None and data.strip():
            self._form[self._textarea] = [data]


def _plausible(kind: str, name: str) -> str:
    if kind == "password" or "password" in name:
        return DEMO_PASSWORD
    if kind == "date" or name.endswith(("_date", "_on")):
        return date.today().isoformat()
    if kind == "datetime-local" or name.endswith(("_at", "_time")):
        return date.today().isoformat() + "T09:00"
    if kind == "number":
        return "1"
    return "Leak scan"


def _posts(callback: Any) -> tuple[bool, bool]:
    cls = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if cls is None:
        return False, False
    from rest_framework.views import APIView

    return hasattr(cls, "post"), issubclass(cls, APIView)


class Attempts:
    def __init__(self, client: Client, username: str) -> None:
        self.client, self.username = client, username
        self.problems: list[str] = []
        self.posted: set[str] = set()

    def check(self, method: str, url: str, response: Any) -> None:
        if response.status_code >= 500:
            self.problems.append(f"{method} {url}: status {response.status_code}")
        text = body_text(response) + "\n" + response.get("Location", "")
        self.problems += [
            f"{method} {url} [{response.status_code}]: arm disclosed: ...{h}..." for h in arm_disclosures(text)
        ]

    def post(self, url: str, data: Any, **kwargs: Any) -> None:
        self.posted.add(url.split("?")[0])
        try:
            response = self.client.post(url, data, **kwargs)
        except Exception as exc:  # a crash could print a revealing traceback elsewhere: a finding
            self.problems.append(f"POST {url}: raised {type(exc).__name__}: {exc}")
            return
        self.check("POST", url, response)

    def run(self) -> None:
        found, unfillable = targets(max_combos=1)
        assert not unfillable
        seen: set[str] = set()
        for t in found:
            if t.url.startswith(SKIP) or t.leaf.route in seen:
                continue
            seen.add(t.leaf.route)
            accepts_post, is_api = _posts(t.leaf.callback)
            if is_api:
                if accepts_post:
                    self.post(
                        t.url, json.dumps({"baseline_date": date.today().isoformat()}), content_type="application/json"
                    )
                continue
            response = self.client.get(t.url)
            if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
                parser = Forms()
                parser.feed(response.content.decode("utf-8", errors="replace"))
                for action, values in parser.forms:
                    target = action if action.startswith("/") else t.url
                    if target.startswith(SKIP):
                        continue
                    self.post(target, values)
            if accepts_post and t.url.split("?")[0] not in self.posted:
                self.post(t.url, {})


def _audited_writes(user: Any) -> int:
    """Snapshots in the clinical audit trail made by this user: each is a record saved."""
    from simple_history.models import registered_models

    return sum(m.history.filter(history_user=user).count() for m in registered_models.values())


@pytest.mark.django_db
@pytest.mark.slow
def test_no_blinded_role_learns_an_arm_after_trying_every_write_it_can_reach(
    users: dict[str, Any], trial_world: Any
) -> None:
    report: dict[str, list[str]] = {}
    written: dict[str, int] = {}
    for username in BLINDED:
        client = Client(raise_request_exception=False)
        client.force_login(users[username])
        attempts = Attempts(client, username)
        before = _audited_writes(users[username])
        attempts.run()
        written[username] = _audited_writes(users[username]) - before
        # Three URLs per pattern: sampled from both arms' participants (urlscan.sample), at less
        # than the read-only scan's cost, which already walks six per pattern for every role.
        problems, ok, _ = scan(client, users[username], rater=True, max_combos=3)
        assert ok >= 3, f"{username} reached only {ok} pages after the writes"
        if attempts.problems or problems:
            report[username] = attempts.problems + problems
    assert not report, "\n".join(f"{u}: {p}" for u, ps in report.items() for p in ps[:15])
    # The writes were real: the data-entry roles got audited records saved, not only refusals.
    print(f"audited writes per role: {written}")
    assert written["coordinator"] >= 3 and written["datamanager"] >= 1 and written["investigator"] >= 1, written
