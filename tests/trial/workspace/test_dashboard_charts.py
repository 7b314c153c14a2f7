"""Dashboard charts: server-rendered SVG that the CSP allows, the same numbers as the data, and blind-safe
(the same picture for every role: no split that could follow the arm)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from django.urls import reverse

from trial.workspace import charts
from trial.workspace.selectors import enrolment_series, query_ages, visit_states

ROLES = ["coordinator", "rater", "pharmacist", "investigator", "datamanager", "statistician", "unblinded", "dsmb",
         "admin", "monitor"]  # fmt: skip
ARM_WORDS = re.compile(r"infliximab|placebo|\bIFX\b|\bPBO\b|\barm\b", re.IGNORECASE)


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, re.S)


def test_a_chart_is_an_accessible_image_without_inline_style() -> None:
    d0 = date(2026, 1, 5)
    svg = charts.enrolment_chart(
        [charts.Series("All <strata>", [(d0, 1), (d0 + timedelta(days=3), 2)])],
        target=60,
        start=d0,
        end=d0 + timedelta(10),
    )
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "style=" not in svg  # the Content Security Policy refuses inline styles
    assert "All &lt;strata&gt;" in svg and "<strata>" not in svg  # labels are escaped
    assert "Target 60" in svg


@pytest.mark.django_db
def test_enrolment_counts_match_the_randomized_participants(trial_world: Any, users: Any) -> None:
    from trial.randomization.models import Allocation

    series, _start = enrolment_series(user=users["datamanager"], today=date.today())
    expected_total = sum(1 for p in trial_world.participants if Allocation.objects.filter(participant=p).exists())
    assert series[0].points[-1][1] == expected_total
    by_stratum = Counter(Allocation.objects.values_list("stratum", flat=True))
    assert sum(s.points[-1][1] for s in series[1:] if s.points) == sum(by_stratum.values())
    # Cumulative counts never go down.
    for s in series:
        values = [v for _, v in s.points]
        assert values == sorted(values)


@pytest.mark.django_db
def test_the_heatmap_shows_each_visit_state(baseline_visit: Any, users: Any) -> None:
    rows, weeks = visit_states(user=users["coordinator"], today=baseline_visit.scheduled_date)
    states = dict(rows)[baseline_visit.participant.participant_id]
    assert states[weeks.index(0)] == "done"
    assert states[weeks.index(weeks[-1])] == "scheduled"
    later = visit_states(user=users["coordinator"], today=baseline_visit.scheduled_date + timedelta(days=200))[0]
    assert "overdue" in dict(later)[baseline_visit.participant.participant_id]


@pytest.mark.django_db
def test_the_dashboard_charts_are_the_same_for_every_role_and_name_no_arm(login: Any, trial_world: Any) -> None:
    pictures = {}
    for role in ROLES:
        html = login(role).get(reverse("dashboard")).content.decode()
        found = svgs(html)
        assert len(found) >= 3, role  # enrolment, flow, heatmap
        for svg in found:
            assert not ARM_WORDS.search(re.sub(r"<[^>]+>", " ", svg)), role
        # Query ageing counts the queries this role may see; the other charts must not differ at all.
        pictures[role] = [s for s in found if "query-ageing" not in s]
    first = pictures[ROLES[0]]
    assert all(p == first for p in pictures.values())


@pytest.mark.django_db
def test_query_ageing_counts_only_queries_the_user_may_see(trial_world: Any, users: dict[str, Any]) -> None:
    from trial.queries.selectors import queries_visible_to

    today = date.today()
    for role in ("datamanager", "rater"):
        expected = queries_visible_to(users[role]).filter(status__in=("open", "answered")).count()
        assert sum(n for _, n in query_ages(user=users[role], today=today)) == expected


@pytest.mark.django_db
def test_the_participant_page_draws_the_hamd_totals_it_lists(
    login: Any, baseline_visit: Any, users: dict[str, Any]
) -> None:
    from trial.visits.services import hamd_record

    detail = reverse("participants:detail", args=[baseline_visit.participant.participant_id])
    assert 'id="hamd-chart"' not in login("coordinator").get(detail).content.decode()
    items = {i: (2 if i <= 3 else 1) for i in range(1, 18)}
    hamd_record(visit=baseline_visit, items=items, by=users["rater"])
    expected_total = sum(items.values())  # 3 items at 2 and 14 at 1
    for role in ("coordinator", "rater"):
        html = login(role).get(detail).content.decode()
        chart = re.search(r'<figure class="chart-figure" id="hamd-chart">.*?</figure>', html, re.S)
        assert chart is not None, role
        assert f"week 0: {expected_total}" in chart.group(0)
        assert f"total {expected_total}" in html  # the grid beside it says the same
