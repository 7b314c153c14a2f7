"""Which roles see adverse events is a protocol setting ([blinding] adverse_events_hidden_from): some
AE terms occur on one arm only (urinary leukocyte esterase, 0/30 vs 10/30), so by default the rater,
whose HAM-D ratings are the primary endpoint, sees none."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from trial.protocol.config import parse_protocol

PROTOCOL = Path(__file__).resolve().parents[3] / "protocols" / "infliximab_trd.toml"
TERM = "Urinary leukocyte esterase positive"


@pytest.fixture
def with_ae(enrolled_a_month_ago: Any, coordinator: Any) -> Any:
    from trial.safety.services import adverse_event_record

    randomized = enrolled_a_month_ago
    start = date.today() - timedelta(days=20)
    adverse_event_record(
        participant=randomized,
        by=coordinator,
        data={
            "term": TERM,
            "onset_date": start + timedelta(days=1),
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
            "ongoing": True,
        },
    )
    return randomized


@pytest.mark.django_db
def test_the_rater_sees_no_adverse_event(login: Any, with_ae: Any) -> None:
    rater = login("rater")
    assert rater.get("/api/adverse-events/").status_code == 403
    page = rater.get(f"/participants/{with_ae.participant_id}/").content.decode()
    assert TERM not in page
    coordinator = login("coordinator")
    assert TERM in coordinator.get("/api/adverse-events/").content.decode()
    assert TERM in coordinator.get(f"/participants/{with_ae.participant_id}/").content.decode()


@pytest.mark.django_db
def test_the_setting_decides(login: Any, with_ae: Any, monkeypatch: Any) -> None:
    from trial.protocol import selectors

    widened = replace(selectors.protocol(), adverse_events_hidden_from=("rater", "coordinator"))
    monkeypatch.setattr("trial.blinding.protocol", lambda: widened)
    assert login("coordinator").get("/api/adverse-events/").status_code == 403
    assert TERM in login("investigator").get("/api/adverse-events/").content.decode()


def test_the_protocol_file_hides_them_from_the_rater_and_a_check_refuses_unknown_roles(monkeypatch: Any) -> None:
    from trial.accounts.checks import check_adverse_event_roles
    from trial.protocol import selectors

    text = PROTOCOL.read_text()
    assert parse_protocol(text).adverse_events_hidden_from == ("rater",)
    assert check_adverse_event_roles(None) == []
    misspelt = parse_protocol(
        text.replace('adverse_events_hidden_from = ["rater"]', 'adverse_events_hidden_from = ["raters"]')
    )
    monkeypatch.setattr(selectors, "protocol", lambda: misspelt)
    assert [e.id for e in check_adverse_event_roles(None)] == ["stratum.E013"]
