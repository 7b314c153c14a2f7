"""The blind holds on every page, admin page, API endpoint and export.

Log in as each blinded demo role, visit every URL pattern of the project (filled from demo-like
data made through the services; see urlscan.py) and look for any disclosure of an arm.

The rule for "discloses an arm" (documented here because the trial's own title names both arms):
1. Remove the static protocol text that is the same for every participant and every user: the
   trial title ("Infliximab vs placebo in treatment-resistant depression") and the trial code
   ("IFX-TRD"). Nothing else is allowed.
2. What remains must not contain, case-insensitively, "infliximab" or "placebo" (which covers the arm
   labels, "Infliximab 5 mg/kg IV" and "Placebo (saline)"), nor a dose ("10 mg/kg": with two active
   doses the dose is the arm), nor the protocol file's arm codes (IFX, PBO; IFX10, IFX5) as words,
   nor an "arm"/"arm_code"/"arm_label" key in a JSON body.
This is stricter than "an arm next to a participant id": a page that names an arm anywhere fails,
so a per-participant disclosure cannot hide in a layout the rule did not foresee. A future page that
legitimately shows static protocol text naming an arm must add that exact text to ALLOWED_STATIC.
For every blinded role, the post-baseline hs-CRP, TNF, sTNFR1 and sTNFR2 values seeded by the world must not
appear either (their baseline value may).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest

from tests.conftest import PROTOCOL_FILES
from tests.trial.blinding.urlscan import kwarg_names, only_site, targets
from tests.trial.blinding.world import BASELINE_CRP, post_baseline_values_in

BLINDED = ["coordinator", "rater", "investigator", "datamanager", "statistician", "admin", "monitor"]
UNBLINDED = ["pharmacist", "unblinded", "dsmb"]

# The blind is checked for every trial in protocols/ (the second has three arms, two of them doses).
pytestmark = pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)

ARM_KEYS = re.compile(r'"arm(_code|_label)?"\s*:')


def allowed_static() -> list[str]:
    from trial.protocol.selectors import protocol

    cfg = protocol()
    return [cfg.title, cfg.code]


def body_text(response: Any) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith(("application/zip", "application/x-zip")):
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            raw = b"\n".join(zf.read(n) for n in zf.namelist())
    return raw.decode("utf-8", errors="replace") + "\n" + response.get("Content-Disposition", "")


def arm_words() -> re.Pattern[str]:
    """The words that name an arm in the protocol in force: its codes and labels, the drug, placebo, a dose."""
    from trial.protocol.selectors import protocol

    codes = "|".join(re.escape(a.code) for a in protocol().arms)
    labels = "|".join(re.escape(a.label) for a in protocol().arms)
    return re.compile(rf"infliximab|placebo|\d+(\.\d+)?\s*mg/kg|\b({codes})\b|{labels}", re.IGNORECASE)


def arm_disclosures(text: str) -> list[str]:
    for phrase in allowed_static():
        text = re.sub(re.escape(phrase), " ", text, flags=re.IGNORECASE)
    hits = [text[max(0, m.start() - 60) : m.end() + 60].replace("\n", " ") for m in arm_words().finditer(text)]
    hits += [f"JSON key {m.group(0)}" for m in ARM_KEYS.finditer(text)]
    return hits


def scan(
    client: Any, user: Any, *, rater: bool, max_combos: int = 6, under: tuple[str, ...] = ("/",)
) -> tuple[list[str], int, list[str]]:
    """Visit everything (under the given URL prefixes) as `user`; return (problems, pages with
    status 200, unfillable patterns)."""
    client.force_login(user)
    found, unfillable = targets(max_combos=max_combos)
    found = [t for t in found if t.url.startswith(under)]
    problems, ok = [], 0
    for t in found:
        try:
            response = client.get(t.url)
        except Exception as exc:  # a crash is a finding too: it could print a revealing traceback elsewhere
            problems.append(f"{t.url}: raised {type(exc).__name__}: {exc}")
            continue
        if response.status_code >= 500:
            problems.append(f"{t.url}: status {response.status_code}")
        ok += response.status_code == 200
        text = body_text(response)
        problems += [f"{t.url} [{response.status_code}]: arm disclosed: ...{h}..." for h in arm_disclosures(text)]
        if rater:
            problems += [
                f"{t.url}: post-baseline lab value {v} shown to a blinded role" for v in post_baseline_values_in(text)
            ]
    client.logout()
    return problems, ok, unfillable


@pytest.mark.django_db
@pytest.mark.slow
def test_it_finds_no_arm_anywhere_for_any_blinded_role(client: Any, users: dict[str, Any], trial_world: Any) -> None:
    report: dict[str, list[str]] = {}
    for username in BLINDED:
        # Every blinded role, not only the rater: post-baseline values of these analytes reveal the arm.
        problems, ok, unfillable = scan(client, users[username], rater=True)
        assert not unfillable, "URL patterns the scan cannot fill (teach urlscan.EXPLICIT):\n" + "\n".join(unfillable)
        assert ok >= 3, f"{username} reached only {ok} pages: the scan is not looking at anything"
        if problems:
            report[username] = problems
    assert not report, "\n".join(f"{u}: {p}" for u, ps in report.items() for p in ps[:15])


@pytest.mark.django_db
def test_it_scans_every_pattern_and_reaches_the_pages_that_matter(
    client: Any, users: dict[str, Any], trial_world: Any
) -> None:
    """The scan itself: it covers admin, API, exports and our pages, and sees both arms' participants."""
    found, unfillable = targets()
    assert not unfillable
    urls = {t.url for t in found}
    assert any(u.startswith("/admin/") and u.endswith("/change/") for u in urls)
    assert any(u.startswith("/api/") for u in urls)
    assert any(u.startswith("/exports/") for u in urls)
    assert "/randomization/" in urls and "/pharmacy/" in urls
    for arm in set(trial_world.arms.values()):
        someone = next(p for p in trial_world.participants if trial_world.arms[p.pk] == arm)
        assert any(f"/{someone.pk}/" in u for u in urls), f"no page of a participant on {arm}"


@pytest.mark.django_db
@pytest.mark.parametrize("username", UNBLINDED)
def test_it_shows_arms_to_unblinded_roles_on_the_pharmacy_queue(
    client: Any, users: dict[str, Any], trial_world: Any, username: str
) -> None:
    """Positive control: the same detector does fire where arms are meant to be shown."""
    client.force_login(users[username])
    text = body_text(client.get("/pharmacy/"))
    hits = arm_disclosures(text)
    from trial.protocol.selectors import protocol

    for arm in protocol().arms:
        assert any(arm.label in h for h in hits), arm.label


@pytest.mark.django_db
def test_it_detects_a_post_baseline_value_when_one_is_printed(users: dict[str, Any], trial_world: Any) -> None:
    """Positive control for the rater check: the seeded values exist and are recognisable."""
    from trial.visits.models import LabResult

    values = {str(v.normalize()) for v in LabResult.objects.values_list("value", flat=True)}
    assert "13.579" in values and "11.222" in values and BASELINE_CRP in values


@pytest.mark.django_db
def test_it_fails_when_the_blinding_module_lets_a_coordinator_see_arms(
    client: Any, users: dict[str, Any], trial_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Canary: unblind the coordinator in the one module, and the same scan must report leaks (on the
    coordinator's own pages that show an allocation; the whole-site scan above uses the same code)."""
    from trial import blinding
    from trial.core.roles import Role

    under = ("/randomization/", "/participants/", "/api/")
    clean, _, _ = scan(client, users["coordinator"], rater=False, under=under)
    assert not clean, clean[:5]
    monkeypatch.setattr(blinding, "UNBLINDED_ROLES", blinding.UNBLINDED_ROLES | {Role.COORDINATOR})
    problems, _, _ = scan(client, users["coordinator"], rater=False, under=under)
    assert any("/randomization/" in p and "arm disclosed" in p for p in problems)
    assert any(p.startswith(("/participants/", "/api/")) and "arm disclosed" in p for p in problems), problems[:5]


@pytest.mark.django_db
def test_a_coordinator_of_one_site_reaches_no_other_sites_participant_on_any_url(
    client: Any, users: dict[str, Any], protocol_loaded: Any, request: pytest.FixtureRequest
) -> None:
    """Site scope (trial.participants.scope): every URL the scan can fill with a record of another
    site's participant (pages, CRFs, admin, API) is visited as a coordinator bound to the first site;
    no answer may name one of that site's participants."""
    from trial.accounts.users import user_create_with_role
    from trial.core.roles import Role
    from trial.participants.models import Participant

    sites = list(protocol_loaded.sites.order_by("code"))
    if len(sites) < 2:
        pytest.skip("one site: there is no other site to reach")
    request.getfixturevalue("trial_world")
    coordinator = user_create_with_role(
        username="coordinator-one-site", role=Role.COORDINATOR, password="x", sites=sites[:1]
    )
    others = Participant.objects.filter(site=sites[1])
    names = [n for p in others for n in (p.participant_id, p.screening_number)]
    assert names, "the world has no participant at the second site"
    with only_site(sites[1].pk):
        found, _unfillable = targets(max_combos=2)
    # The URLs that name a record of the other site's participants (pattern with kwargs, filled from them).
    found = [t for t in found if kwarg_names(t.leaf)]
    assert len(found) >= 20, f"only {len(found)} URLs of the other site: the scan is not looking"
    client.force_login(coordinator)
    leaks, opened = [], []
    for t in found:
        response = client.get(t.url)
        text = body_text(response)
        leaks += [
            f"{t.url} [{response.status_code}] names {n}" for n in names if re.search(rf"\b{re.escape(n)}\b", text)
        ]
        if response.status_code == 200 and not t.url.startswith("/admin/"):
            opened.append(t.url)
    assert not leaks, "\n".join(leaks[:20])
    assert not opened, "pages of another site's participant opened:\n" + "\n".join(opened[:20])
