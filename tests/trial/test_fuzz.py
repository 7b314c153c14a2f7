"""Malformed input to every form and API endpoint: never a server error, never a stored row that
its own model would refuse (ICH E6(R3) data integrity; 21 CFR Part 11: no record the system's own
checks would reject).

Every page and endpoint of the project (the URL walk of tests/trial/blinding/urlscan.py, over the
demo-like world) is visited by a user allowed to open it; Django admin is left to its own tests.
- GET: each page with query parameters set to malformed values.
- POST to each form: every field at once set to each malformed value, then each field in turn set to
  one malformed value while the others keep what the page offered (so a save can get through with
  one bad value in it), then the field left out.
- POST to each API endpoint: JSON bodies with malformed values of each kind and wrong types.
Afterwards every stored row of the trial's apps must pass its model's full_clean().
Runs on the suite's database: SQLite, and PostgreSQL in CI.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.test import Client

from tests.trial.blinding.urlscan import targets

MALFORMED: list[str] = [
    "",
    " ",
    "\x00",
    "x" * 100_000,
    "-1",
    "-2147483649",
    "2147483648",
    "99999999999999999999",
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "0001-01-01",
    "1900-01-01",
    "9999-12-31",
    "2999-02-30",
    "1.5.5",
    "[]",
    "<script>alert(1)</script>",
    "\u202e\ufeff",
]
# One value per field in turn: cycles through these so every field meets each kind across the forms.
ONE_AT_A_TIME: list[str] = ["-1", "2147483648", "NaN", "0001-01-01", "9999-12-31", "\x00", "x" * 100_000, "1e309"]
JSON_BODIES: list[Any] = [
    None,
    [],
    "text",
    {"baseline_date": "\x00"},
    {"baseline_date": "0001-01-01"},
    {"baseline_date": "9999-12-31"},
    {"baseline_date": 12},
    {"baseline_date": ["2026-01-01"]},
    {"baseline_date": {"a": 1}},
    {"baseline_date": "x" * 100_000},
]
QUERY_KEYS = ("q", "status", "participant", "all", "page", "state", "visit", "sort")
# Who opens a page: the first of these who may.
USERS = ["coordinator", "pharmacist", "datamanager", "investigator", "unblinded", "statistician", "dsmb", "admin"]
SKIP_PREFIXES = ("/admin/", "/logout/")
TRIAL_APPS = {
    "core",
    "protocol",
    "participants",
    "randomization",
    "pharmacy",
    "visits",
    "safety",
    "queries",
    "analysis",
}


def _offered(form: Any) -> dict[str, Any]:
    """What the page's form would submit as it stands (its initial values)."""
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None or value is False:
            continue
        if value is True:
            data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif hasattr(value, "pk"):
            data[name] = str(value.pk)
        elif hasattr(value, "isoformat") and getattr(field.widget, "input_type", "") == "datetime-local":
            data[name] = value.strftime("%Y-%m-%dT%H:%M")
        else:
            data[name] = str(value)
    return data


class Fuzzer:
    def __init__(self, users: dict[str, Any]) -> None:
        self.users = users
        self.clients: dict[str, Client] = {}
        self.requests = 0
        self.problems: list[str] = []

    def client(self, username: str) -> Client:
        if username not in self.clients:
            c = Client(raise_request_exception=False)
            c.force_login(self.users[username])
            self.clients[username] = c
        return self.clients[username]

    def send(self, client: Client, method: str, url: str, what: str, **kwargs: Any) -> Any:
        self.requests += 1
        response = getattr(client, method)(url, **kwargs)
        if response.status_code >= 500:
            self.problems.append(f"{method.upper()} {url} ({what}): status {response.status_code}")
        return response

    def opener(self, url: str) -> tuple[Client, Any] | None:
        for username in USERS:
            c = self.client(username)
            response = self.send(c, "get", url, f"open as {username}")
            if response.status_code == 200:
                return c, response
        return None

    def fuzz_query(self, client: Client, url: str) -> None:
        for i, value in enumerate(("\x00", "x" * 100_000, "-1", "NaN", "9999-12-31", "[]")):
            key = QUERY_KEYS[i % len(QUERY_KEYS)]
            params = dict.fromkeys(QUERY_KEYS, value) if i else {key: value}
            self.send(client, "get", url, f"query {value[:10]!r}", data=params)

    def fuzz_form(self, client: Client, url: str, form: Any) -> None:
        offered = _offered(form)
        names = [n for n in form.fields if n != "version"]
        for value in MALFORMED:
            self.send(client, "post", url, f"all fields {value[:10]!r}", data=dict.fromkeys(names, value))
        for i, name in enumerate(names):
            value = ONE_AT_A_TIME[i % len(ONE_AT_A_TIME)]
            self.send(client, "post", url, f"{name}={value[:10]!r}", data=offered | {name: value})
        self.send(client, "post", url, "nothing", data={})

    def fuzz_json(self, client: Client, url: str) -> None:
        for body in JSON_BODIES:
            self.send(
                client, "post", url, f"json {str(body)[:20]}", data=json.dumps(body), content_type="application/json"
            )
        self.send(client, "post", url, "json nested", data="[" * 5000 + "]" * 5000, content_type="application/json")
        self.send(client, "post", url, "not json", data="{'a':", content_type="application/json")


def _posts(callback: Any) -> tuple[bool, bool]:
    """(accepts POST, is an API endpoint)."""
    cls = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if cls is None:
        return False, False
    from rest_framework.views import APIView

    return hasattr(cls, "post"), issubclass(cls, APIView)


def rows_failing_full_clean() -> list[str]:
    failures = []
    for model in apps.get_models():
        if model._meta.app_label not in TRIAL_APPS or model.__name__.startswith("Historical"):
            continue
        for row in model._default_manager.all():
            try:
                row.full_clean()
            except ValidationError as exc:
                failures.append(f"{model.__name__} {row.pk}: {exc.message_dict if hasattr(exc, 'error_dict') else exc}")
    return failures


@pytest.mark.django_db
@pytest.mark.slow
def test_it_answers_malformed_input_everywhere_without_a_server_error_or_a_bad_row(
    users: dict[str, Any], trial_world: Any
) -> None:
    from simple_history.models import registered_models

    def changes() -> int:
        return sum(m.history.count() for m in registered_models.values() if m._meta.app_label in TRIAL_APPS)

    before = rows_failing_full_clean()
    assert before == [], "the world itself has rows that fail full_clean"
    changes_before = changes()
    found, unfillable = targets(max_combos=1)
    assert not unfillable
    fuzz = Fuzzer(users)
    seen: set[str] = set()
    forms = apis = 0
    for target in found:
        if target.url.startswith(SKIP_PREFIXES) or target.leaf.route in seen:
            continue
        seen.add(target.leaf.route)
        opened = fuzz.opener(target.url)
        posts, is_api = _posts(target.leaf.callback)
        if opened is not None:
            client, response = opened
            fuzz.fuzz_query(client, target.url)
            form = (response.context or {}).get("form") if hasattr(response, "context") else None
            if posts and form is not None:
                forms += 1
                fuzz.fuzz_form(client, target.url, form)
        if posts and is_api:
            apis += 1
            fuzz.fuzz_json(fuzz.client("coordinator"), target.url)
    print(f"fuzz: {fuzz.requests} requests, {forms} forms, {apis} API endpoints")
    assert forms >= 15 and apis >= 1, "the fuzz reached too few forms: the URL walk broke"
    assert fuzz.problems == [], "\n".join(fuzz.problems[:40])
    # Some fuzzed submissions were valid enough to save: the row check below looks at real writes.
    assert changes() > changes_before
    assert rows_failing_full_clean() == []
