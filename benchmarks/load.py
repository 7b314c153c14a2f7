"""A mixed day of trial work against `make prod-local`, from simulated users, bounded in count and time.

    .venv/bin/python benchmarks/load.py [--users 30] [--duration 60] [--max-requests 5000]
                                        [--url https://127.0.0.1:8443]

Each simulated user logs in as a person would (password, then a one-time backup code for the
second factor that production requires), then works in a loop until the time or the request budget
runs out, choosing by role: coordinators screen, randomize and open pages; raters enter HAM-D;
pharmacists open their queue; data managers read queries; statisticians request a pooled analysis.
Every form is read from its page and posted back with its CSRF and one-time tokens, like a browser.

Setup (a separate process with the production settings of var/prod-local/env): backup codes for the
demo users and a pool of screened, consented participants waiting for randomization, made through
the services. Prints throughput and p50/p95 per action, and the CPU seconds that PostgreSQL, the
gunicorn workers and the Celery workers used during the run. Speed is measured here, never asserted.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / "var" / "prod-local" / "env"
CERT = ROOT / "var" / "prod-local" / "cert.pem"

ROLE_MIX = [("coordinator", 40), ("rater", 15), ("datamanager", 15), ("pharmacist", 10), ("statistician", 10)]
ROLE_MIX += [("investigator", 10)]


def prod_env() -> dict[str, str]:
    if not ENV_FILE.exists():
        sys.exit(f"{ENV_FILE} is missing: start `make prod-local` first")
    env = dict(os.environ)
    for line in ENV_FILE.read_text().splitlines():
        key, _, value = line.partition("=")
        if key and not key.startswith("#"):
            env[key.strip()] = value.strip()
    return env


SETUP = r"""
import json, sys
from datetime import date, timedelta
import django
django.setup()
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from trial.accounts.users import DEMO_USERS
from trial.core.models import User
from trial.demo.examples import ELIGIBLE_SCREENING
from trial.participants.models import Participant
from trial.participants.services import consent_record, participant_screen
from trial.visits.models import Visit

codes_per_user, to_randomize = int(sys.argv[1]), int(sys.argv[2])
codes = {}
for name in DEMO_USERS.values():
    user = User.objects.get(username=name)
    device, _ = StaticDevice.objects.get_or_create(user=user, name="load-benchmark", defaults={"confirmed": True})
    device.token_set.all().delete()
    tokens = [StaticToken.random_token() for _ in range(codes_per_user)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=t) for t in tokens])
    codes[name] = tokens
from trial.accounts.users import DEMO_PASSWORD
from trial.protocol.models import Site
coordinator = User.objects.get(username="coordinator")
site = Site.objects.order_by("pk").first()
today = date.today()
made = []
for i in range(to_randomize):
    sex, crp = [("F", 3.4), ("M", 3.4), ("F", 1.2), ("M", 1.2)][i % 4]
    with transaction.atomic():
        p = participant_screen(site=site, sex=sex, date_of_birth=date(today.year - 40, 1, 15), by=coordinator,
            screening=ELIGIBLE_SCREENING | {"screening_date": today - timedelta(days=2), "screening_crp_mg_l": crp})
        consent_record(participant=p, consent_date=today - timedelta(days=2), by=coordinator)
    made.append(p.participant_id)
participants = list(Participant.objects.order_by("pk").values_list("participant_id", flat=True)[:200])
visits = list(Visit.objects.filter(status="scheduled").order_by("scheduled_date").values_list("pk", flat=True)[:400])
def as_field(v):
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return "on" if v is True else ("" if v is False else str(v))
screening = {k: as_field(v) for k, v in ELIGIBLE_SCREENING.items()}
world = {"password": DEMO_PASSWORD, "codes": codes, "to_randomize": made}
world |= {"participants": participants, "visits": visits, "screening": screening}
print(json.dumps(world))
"""


class FormParser(HTMLParser):
    """The first POST form of a page: its action and the values a browser would send as it stands."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: str | None = None
        self._select_options: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = {"action": a.get("action", ""), "fields": {}, "selects": {}}
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form["fields"][a["name"]] = a.get("value", "on")
                elif kind == "radio":
                    self._form["selects"].setdefault(a["name"], []).append(a.get("value", ""))
            elif kind not in ("submit", "button", "file"):
                self._form["fields"][a["name"]] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._form["fields"][a["name"]] = ""
        elif tag == "select" and a.get("name"):
            self._select, self._select_options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._select_options.append(a.get("value", ""))
            if "selected" in a:
                self._form["fields"][self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._form is not None and self._select is not None:
            self._form["selects"][self._select] = [o for o in self._select_options if o]
            self._select = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.requests = 0

    def add(self, action: str, seconds: float, outcome: str, requests: int) -> None:
        with self.lock:
            self.times[action].append(seconds)
            self.outcomes[action][outcome] += 1
            self.requests += requests


class User:
    def __init__(self, base: str, username: str, password: str, code: str, context: ssl.SSLContext) -> None:
        self.base, self.username, self.password, self.code = base, username, password, code
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), urllib.request.HTTPSHandler(context=context)
        )
        self.requests = 0

    def csrf(self) -> str:
        return next((c.value or "" for c in self.jar if c.name == "csrftoken"), "")

    def open(self, path: str, data: dict[str, Any] | None = None) -> tuple[int, str, str]:
        self.requests += 1
        url = urllib.parse.urljoin(self.base, path)
        body = None
        headers = {"Referer": url, "User-Agent": "stratum-load"}
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
            headers["X-CSRFToken"] = self.csrf()
        request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - only --url's server
        try:
            # Only the http(s) URL of the server under test is opened (--url).
            with self.opener.open(request, timeout=120) as r:
                return r.status, r.geturl(), r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, url, e.read().decode("utf-8", "replace")

    def form(self, path: str) -> tuple[str, dict[str, Any], dict[str, list[str]]] | None:
        status, url, html = self.open(path)
        if status != 200:
            return None
        parser = FormParser()
        parser.feed(html)
        if not parser.forms:
            return None
        f = max(parser.forms, key=lambda f: len(f["fields"]))
        return urllib.parse.urljoin(url, f["action"] or url), dict(f["fields"]), f["selects"]

    def submit(self, path: str, values: dict[str, Any], pick: str = "first") -> int:
        found = self.form(path)
        if found is None:
            return 0
        action, fields, selects = found
        for name, options in selects.items():
            if not fields.get(name) and options:
                fields[name] = options[0] if pick == "first" else random.choice(options)
        fields.update(values)
        status, _, html = self.open(action, fields)
        if status >= 500:
            return status
        # A page that comes back with the form's error list was a refusal (the input kept), not a save.
        return 422 if status == 200 and "errorlist" in html else status

    def login(self) -> bool:
        self.open("/login/")
        status, url, _ = self.open(
            "/login/", {"username": self.username, "password": self.password, "csrfmiddlewaretoken": self.csrf()}
        )
        if "two-factor" in url:
            status, url, _ = self.open(url, {"token": self.code, "csrfmiddlewaretoken": self.csrf()})
        return status == 200 and "login" not in urllib.parse.urlparse(url).path


def work(user: User, role: str, world: dict[str, Any], stats: Stats, deadline: float, budget: list[int]) -> None:
    def timed(action: str, fn: Any) -> None:
        before = user.requests
        t0 = time.perf_counter()
        try:
            outcome = fn()
        except Exception as exc:  # a broken connection is a result to count, not a crash of the driver
            outcome = type(exc).__name__
        stats.add(action, time.perf_counter() - t0, str(outcome), user.requests - before)

    participants, visits = world["participants"], world["visits"]
    timed("login", lambda: "ok" if user.login() else "refused")
    while time.monotonic() < deadline:
        with stats.lock:
            if stats.requests >= budget[0]:
                return
        pid = random.choice(participants) if participants else ""
        choice = random.random()
        if choice < 0.25:
            timed("dashboard", lambda: user.open("/")[0])
        elif choice < 0.4:
            timed("participant list", lambda: user.open("/participants/")[0])
        elif choice < 0.55:
            timed("participant page", lambda p=pid: user.open(f"/participants/{p}/")[0])
        elif choice < 0.65 and role in ("datamanager", "investigator", "coordinator"):
            timed("query list", lambda: user.open("/queries/")[0])
        elif role == "coordinator" and choice < 0.8:
            with stats.lock:
                todo = world["to_randomize"].pop() if world["to_randomize"] else None
            if todo:
                timed("randomize", lambda t=todo: user.submit(f"/participants/{t}/randomize/", {}))
            else:
                values = dict(world["screening"]) | {"sex": random.choice("FM"), "date_of_birth": "1980-05-05"}
                timed("screening", lambda v=values: user.submit("/participants/screen/", v))
        elif role == "rater" and visits and choice < 0.85:
            visit = random.choice(visits)
            timed("HAM-D save", lambda v=visit: user.submit(f"/visits/{v}/hamd/", {}, pick="random"))
        elif role == "pharmacist":
            timed("pharmacy queue", lambda: user.open("/pharmacy/")[0])
        elif role == "statistician" and choice < 0.7:
            timed("analysis request", lambda: user.submit("/analysis/request/", {}))
        else:
            timed("dashboard", lambda: user.open("/")[0])


def cpu_seconds(pattern: str) -> float:
    """CPU time (user + system) of every process whose command line matches `pattern`."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if not re.search(pattern, cmd):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="https://127.0.0.1:8443")
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=5000)
    parser.add_argument("--randomize", type=int, default=40, help="participants made ready for randomization")
    args = parser.parse_args()
    if not 1 <= args.users <= 200:
        sys.exit("--users must be between 1 and 200")

    env = prod_env()
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", SETUP, str(args.users + 5), str(args.randomize)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"setup failed:\n{out.stderr[-3000:]}")
    world = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"setup: {time.perf_counter() - t0:.1f}s, {len(world['to_randomize'])} participants ready to randomize")

    context = (
        ssl.create_default_context(cafile=str(CERT)) if args.url.startswith("https") else ssl.create_default_context()
    )
    roles = [r for r, w in ROLE_MIX for _ in range(w)]
    codes = {name: list(c) for name, c in world["codes"].items()}
    users = []
    for i in range(args.users):
        role = roles[i * len(roles) // args.users]
        # The demo logins are named after their roles (README).
        users.append((role, User(args.url, role, world["password"], codes[role].pop(), context)))

    stats = Stats()
    before = {k: cpu_seconds(p) for k, p in CPU_GROUPS.items()}
    start = time.monotonic()
    deadline = start + args.duration
    budget = [args.max_requests]
    threads = [threading.Thread(target=work, args=(u, r, world, stats, deadline, budget)) for r, u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    after = {k: cpu_seconds(p) for k, p in CPU_GROUPS.items()}

    print(f"{args.users} users, {stats.requests} requests in {wall:.1f}s: {stats.requests / wall:.1f} requests/s")
    print(f"{'action':<18} {'n':>6} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8}  outcomes")
    for action, times in sorted(stats.times.items()):
        q = statistics.quantiles(times, n=100) if len(times) > 1 else [times[0]] * 99
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(stats.outcomes[action].items()))
        p50, p95 = q[49] * 1000, q[94] * 1000
        print(f"{action:<18} {len(times):>6} {len(times) / wall:>7.2f} {p50:>8.0f} {p95:>8.0f}  {outcomes}")
    for k in CPU_GROUPS:
        print(f"CPU {k:<10} {after[k] - before[k]:7.1f}s ({(after[k] - before[k]) / wall * 100:.0f}% of one core)")


CPU_GROUPS = {"postgres": r"^postgres: ", "gunicorn": r"gunicorn", "celery": r"celery .*worker"}

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trial.settings.test")
    main()
