"""No dead ends: a role is offered only the links its capabilities open, the emergency code break has a
button where the investigator needs it, and a broken code shows on the participant page to those who may
know (trial.blinding), never with the arm."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from trial.access import Capability, can
from trial.accounts.users import DEMO_PASSWORD
from trial.randomization.services import code_break_decide, code_break_request

ROLES = ["coordinator", "rater", "pharmacist", "investigator", "datamanager", "statistician", "unblinded", "dsmb",
         "admin", "monitor"]  # fmt: skip
ARM_WORDS = re.compile(r"infliximab|placebo|\bIFX\b|\bPBO\b", re.IGNORECASE)


def hrefs(html: str) -> set[str]:
    return {unescape(h) for h in re.findall(r'href="([^"#]+)', html)}


def status_of(client: Any, url: str) -> int:
    return int(client.get(url).status_code)


@pytest.mark.django_db
def test_it_offers_each_role_only_links_that_open(login: Any, users: dict[str, Any], baseline_visit: Any) -> None:
    """Every same-site link on the dashboard, the participant page and the visit page answers 200 to the role."""
    participant = baseline_visit.participant
    pages = [reverse("dashboard"), reverse("participants:detail", args=[participant.participant_id]),
             reverse("visits:detail", args=[baseline_visit.pk])]  # fmt: skip
    for role in ROLES:
        client = login(role)
        links: set[str] = set()
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, (role, page)
            links |= {h for h in hrefs(response.content.decode()) if h.startswith("/") and not h.startswith("/static/")}
        dead = sorted(h for h in links if status_of(client, h) in (403, 404))
        assert not dead, f"{role} is offered links that refuse them: {dead}"


@pytest.mark.django_db
def test_the_rater_is_offered_the_rating_forms_and_not_the_clinic_forms(login: Any, baseline_visit: Any) -> None:
    html = login("rater").get(reverse("visits:detail", args=[baseline_visit.pk])).content.decode()
    links = hrefs(html)
    links = {h.split("?")[0] for h in links}
    assert reverse("visits:hamd", args=[baseline_visit.pk]) in links
    for name in ("labs", "vitals", "infusion", "complete", "missed"):
        assert reverse(f"visits:{name}", args=[baseline_visit.pk]) not in links, name
    assert reverse("participants:screen") not in links
    # The coordinator keeps them.
    coordinator = {
        h.split("?")[0]
        for h in hrefs(login("coordinator").get(reverse("visits:detail", args=[baseline_visit.pk])).content.decode())
    }
    assert reverse("visits:labs", args=[baseline_visit.pk]) in coordinator
    assert reverse("participants:screen") in coordinator


@pytest.mark.django_db
def test_the_code_break_request_button_is_offered_to_those_who_may_request(
    login: Any, users: dict[str, Any], randomized: Any
) -> None:
    detail = reverse("participants:detail", args=[randomized.participant_id])
    request_url = reverse("randomization:code_break_request", args=[randomized.pk])
    for role in ROLES:
        client = login(role)
        offered = request_url in client.get(detail).content.decode()
        assert offered == can(users[role], Capability.REQUEST_CODE_BREAK), role
        if offered:
            assert client.get(request_url).status_code == 200


@pytest.mark.django_db
def test_the_code_breaks_page_leads_to_the_request_form(login: Any, randomized: Any) -> None:
    client = login("investigator")
    html = client.get(reverse("randomization:code_breaks")).content.decode()
    assert 'id="code-break-start"' in html
    # The page lists the user's own requests only, so the form takes a typed id, not a list of participants.
    assert randomized.participant_id not in html
    start = reverse("participants:code_break_start")
    response = client.get(start, {"participant": randomized.participant_id})
    assert response.status_code == 302
    assert response["Location"] == reverse("randomization:code_break_request", args=[randomized.pk])
    # An unknown participant goes back to the page with a message, not to a 404.
    response = client.get(start, {"participant": "NOPE-1"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("randomization:code_breaks")
    assert "No randomized participant" in response.content.decode()
    # Approvers see the list but get no request form (they may not request).
    monitor_html = login("monitor").get(reverse("randomization:code_breaks")).content.decode()
    assert 'id="code-break-start"' not in monitor_html
    assert login("monitor").get(start, {"participant": randomized.participant_id}).status_code == 403


@pytest.mark.django_db
def test_a_broken_code_shows_to_those_who_may_know_and_never_the_arm(
    login: Any, users: dict[str, Any], randomized: Any, django_capture_on_commit_callbacks: Any
) -> None:
    detail = reverse("participants:detail", args=[randomized.participant_id])
    assert "code-break-notice" not in login("investigator").get(detail).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        cb = code_break_request(password=DEMO_PASSWORD, participant=randomized, by=users["investigator"],
                                reason="Anaphylaxis; treating physician needs the arm")  # fmt: skip
        code_break_decide(code_break=cb, by=users["monitor"], approve=True, note="Agreed")
    told = {"investigator", "monitor", "unblinded", "dsmb", "pharmacist"}
    for role in ROLES:
        html = login(role).get(detail).content.decode()
        notice = re.search(r'<div class="code-break-notice".*?</div>', html, re.S)
        assert (notice is not None) == (role in told), role
        if notice:
            assert "The blind has been broken" in notice.group(0)
            assert not ARM_WORDS.search(notice.group(0)), role
    # The approver's notice links to the break.
    assert reverse("randomization:code_break_detail", args=[cb.pk]) in login("monitor").get(detail).content.decode()
    # Code-break e-mails link to the break.
    link = reverse("randomization:code_break_detail", args=[cb.pk])
    assert mail.outbox and all(link in m.body for m in mail.outbox)


@pytest.mark.django_db
def test_next_visit_does_not_skip_a_done_visit_with_forms_to_do(login: Any, baseline_visit: Any) -> None:
    """Baseline is done but no form is in: the participant page sends the coordinator back to it, not on to
    week 1; the rater, whose forms are HAM-D and CGI-S, likewise."""
    detail = reverse("participants:detail", args=[baseline_visit.participant.participant_id])
    baseline_url = reverse("visits:detail", args=[baseline_visit.pk])
    for role in ("coordinator", "rater"):
        html = login(role).get(detail).content.decode()
        action = re.search(r'<nav class="actions".*?</nav>', html, re.S)
        assert action is not None, role
        assert f'href="{baseline_url}">Finish forms: ' in action.group(0), role
        assert "Next visit:" not in action.group(0), role
