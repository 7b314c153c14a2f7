"""Every role's main path in a real browser, at a desk (1280 px) and on a phone (390 px).

On each page: no horizontal scroll, the nav on one line at desk width, a nav that folds behind a Menu
button on the phone and still reaches Log out, and axe-core (vendored in tests/browser/axe.min.js, so
nothing is downloaded at run time) reporting no serious or critical violation. Screenshots of the
dashboard, the participant page on a phone and a printed kit label go to artifacts/screenshots/.

One live server, one browser; the roles are looped inside few tests to keep CI cheap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).with_name("axe.min.js")
DESK, PHONE = (1280, 800), (390, 844)


def main_paths(world: Any) -> dict[str, list[str]]:
    """The pages each role's day goes through (the dashboard and a participant page are added to all)."""
    from django.urls import reverse

    p = world.participants[0]
    visit = p.visits.order_by("definition__week").first()
    return {
        "coordinator": [reverse("participants:list"), reverse("participants:screen"),
                        reverse("visits:detail", args=[visit.pk]), reverse("queries:list")],
        "rater": [reverse("visits:detail", args=[visit.pk]), reverse("visits:hamd", args=[visit.pk])],
        "pharmacist": [reverse("pharmacy:queue"), reverse("pharmacy:lots"),
                       reverse("pharmacy:label", args=[world.preparations[0].pk])],
        "investigator": [reverse("randomization:code_breaks"),
                         reverse("randomization:code_break_request", args=[p.pk])],
        "datamanager": [reverse("queries:list"), reverse("closeout:worklist"), reverse("accounts:access_log")],
        "statistician": [reverse("analysis:list")],
        "unblinded": [reverse("randomization:lists"), reverse("randomization:allocations"), reverse("analysis:list")],
        "dsmb": [reverse("randomization:code_breaks"), reverse("analysis:list")],
        "admin": [reverse("participants:list")],
        "monitor": [reverse("randomization:code_breaks"), reverse("closeout:overview")],
    }  # fmt: skip


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0 = no horizontal scroll)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def axe_serious(page: Any, source: str) -> list[str]:
    """axe-core's serious and critical violations on this page, one line each."""
    # Evaluated through the DevTools protocol, not injected as a <script>: the page's CSP stays as it is.
    page.evaluate(source)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [json.dumps(v) for v in result]


def test_every_role_main_path_fits_desk_and_phone_with_no_serious_axe_violation(
    browse: Any, trial_world: Any, users: dict[str, Any]
) -> None:
    from django.urls import reverse

    source = AXE.read_text()
    participant_page = reverse("participants:detail", args=[trial_world.participants[0].participant_id])
    problems: list[str] = []
    pages_checked = 0
    for role, paths in main_paths(trial_world).items():
        for width, height in (DESK, PHONE):
            session = browse(role, width=width, height=height)
            page = session.page
            for path in [reverse("dashboard"), participant_page, *paths]:
                session.go(path)
                if page.locator("h1").count() == 0:
                    problems.append(f"{role} {width}px {path}: no heading (landed on {page.url})")
                over = horizontal_overflow(page)
                if over > 0:
                    problems.append(f"{role} {width}px {path}: {over} px of horizontal scroll")
                # axe at desk width on every page, and on the phone on the participant page.
                if width == DESK[0] or path == participant_page:
                    problems += [f"{role} {width}px {path}: {v}" for v in axe_serious(page, source)]
                pages_checked += 1
            if width == DESK[0]:
                # The nav stays on one line: every link has the same top as the first.
                tops = page.eval_on_selector_all(".topbar nav a", "els => els.map(e => e.getBoundingClientRect().top)")
                if len(set(tops)) > 1:
                    problems.append(f"{role} 1280px: the nav wraps onto {len(set(tops))} lines")
            else:
                # The phone: the nav folds behind Menu, which opens it and reaches Log out.
                session.go(reverse("dashboard"))
                toggle = page.locator(".nav-toggle")
                if not toggle.is_visible() or page.locator(".topbar nav").is_visible():
                    problems.append(f"{role} 390px: the nav does not fold behind a Menu button")
                else:
                    toggle.click()
                    if not page.get_by_role("button", name="Log out").is_visible():
                        problems.append(f"{role} 390px: Log out is out of reach after opening the menu")
                    if role == "rater":
                        session.shot("menu open on a phone")
                if role == "coordinator":
                    session.go(participant_page)
                    session.shot("participant page on a phone")
    print(f"checked {pages_checked} pages")
    assert not problems, "\n".join(problems)


def test_the_screening_panel_does_not_cover_the_form_on_a_phone(browse: Any, protocol_loaded: Any, site: Any) -> None:
    from django.urls import reverse

    session = browse("coordinator", width=PHONE[0], height=PHONE[1])
    page = session.go(reverse("participants:screen"))
    panel = page.locator("#eligibility").bounding_box()
    form = page.locator("#screening-form").bounding_box()
    assert panel is not None and form is not None
    # The panel sits below the form in the flow, not over it, and stays put while the user scrolls.
    assert panel["y"] >= form["y"] + form["height"]
    page.mouse.wheel(0, 600)
    assert page.evaluate("getComputedStyle(document.querySelector('aside')).position") == "static"
    assert horizontal_overflow(page) == 0


def test_dashboard_and_printed_label_screenshots(browse: Any, trial_world: Any) -> None:
    from django.urls import reverse

    pharmacist = browse("pharmacist")
    page = pharmacist.go(reverse("pharmacy:label", args=[trial_world.preparations[0].pk]))
    page.emulate_media(media="print")
    # Printed, the label is the page: no site navigation, no skip link.
    assert not page.locator(".topbar").is_visible()
    assert page.locator(".label").is_visible()
    assert "investigational use" in page.locator(".label").inner_text()
    pharmacist.shot("printed kit label")
    coordinator = browse("coordinator")
    page = coordinator.go(reverse("dashboard"))
    assert page.locator("#enrolment-chart svg").is_visible()
    assert page.locator("#visit-heatmap svg rect").count() > 0
    coordinator.shot("dashboard")
    page.locator("#visit-heatmap").scroll_into_view_if_needed()
    coordinator.shot("dashboard visit heatmap and flow")
