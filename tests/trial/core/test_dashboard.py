"""The trial dashboard: enrollment by stratum (never by arm), visits due, queries, screen failures."""

from __future__ import annotations

import pytest

from trial.queries.services import query_open

pytestmark = pytest.mark.django_db


def test_it_shows_enrollment_against_target_by_stratum(login, randomized, make_participant):
    make_participant(mmse=20)  # a screen failure
    body = login("coordinator").get("/").content.decode()
    assert "<strong>1</strong> randomized of a target of 60" in body
    assert "hs-CRP &gt;= 2 mg/L, Female" in body and "hs-CRP &lt; 2 mg/L, Male" in body


def test_it_lists_screen_failures_with_their_reasons(login, make_participant):
    p = make_participant(mmse=20, qids_sr=10)
    body = login("coordinator").get("/").content.decode()
    assert p.participant_id in body
    assert "MMSE &lt; 28" in body and "QIDS-SR &gt;= 14 at screening" in body


def test_it_lists_visits_due_this_week_and_overdue(login, randomized, enrolled_a_month_ago):
    r = login("coordinator").get("/")
    due = r.context["due"]
    assert {v.definition.code for v in due.this_week if v.participant == randomized} == {"W1"}
    # Enrolled 28 days ago, nothing entered after the baseline: weeks 1-3 have closed windows.
    assert {v.definition.code for v in due.overdue if v.participant == enrolled_a_month_ago} == {"W1", "W2", "W3"}
    assert {v.definition.code for v in due.today if v.participant == enrolled_a_month_ago} == {"W4"}


def test_it_counts_open_queries(login, baseline_visit, users):
    query_open(
        participant=baseline_visit.participant,
        visit=baseline_visit,
        form="cgis",
        field="score",
        text="?",
        by=users["datamanager"],
    )
    r = login("coordinator").get("/")
    assert r.context["queries_open"] == 1


def test_it_never_shows_an_arm(login, randomized, users):
    from trial.protocol.selectors import protocol

    for username in ("coordinator", "rater", "investigator", "datamanager", "statistician", "admin"):
        body = login(username).get("/").content.decode()
        for arm in protocol().arms:
            assert arm.label not in body and f">{arm.code}<" not in body


def test_login_is_required(client, protocol_loaded):
    assert client.get("/").status_code == 302
