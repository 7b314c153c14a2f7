"""The monitor's pages: read-only CRFs with history and queries beside each field, blind-safe."""

from __future__ import annotations

from typing import Any

import pytest

from trial.closeout.models import SourceVerification


@pytest.mark.parametrize("username", ["coordinator", "investigator", "statistician", "pharmacist"])
def test_only_the_monitor_reviews_crfs(closed_participant: Any, login: Any, username: str) -> None:
    assert login(username).get(f"/closeout/participants/{closed_participant.participant_id}/").status_code == 403


def test_the_review_shows_values_history_and_queries_and_no_arm(
    closed_participant: Any, users: dict[str, Any], login: Any
) -> None:
    from trial.queries.services import query_open

    query_open(
        participant=closed_participant, form="screening", field="mmse", text="MMSE source?", by=users["datamanager"]
    )
    page = login("datamanager").get(f"/closeout/participants/{closed_participant.participant_id}/").content.decode()
    assert "MMSE" in page and "MMSE source?" in page  # the query beside its field
    assert "Initial entry" in page  # the history
    assert "Visit missed: Unwell" in page
    assert "infliximab" not in page.lower().replace("infliximab vs placebo", "")
    assert "placebo" not in page.lower().replace("infliximab vs placebo", "")


def test_the_monitor_verifies_a_form_from_the_page(closed_participant: Any, login: Any) -> None:
    client = login("datamanager")
    pid = closed_participant.participant_id
    response = client.post(f"/closeout/participants/{pid}/verify/", {"form": "consent", "visit_id": ""}, follow=True)
    assert "Marked as source verified" in response.content.decode()
    assert SourceVerification.objects.filter(form="consent", participant=closed_participant).exists()
    assert "1 of 4" in response.content.decode()


def test_a_refused_step_says_why(closed_participant: Any, login: Any) -> None:
    response = login("datamanager").post(
        f"/closeout/participants/{closed_participant.participant_id}/lock/", {}, follow=True
    )
    assert "Source data verification is not complete" in response.content.decode()
