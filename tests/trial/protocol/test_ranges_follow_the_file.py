"""The ranges the rules apply are the protocol file's: edit the file, and model and form both follow."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.trial.rule_parity import assert_same_rule
from trial.participants.forms import RandomizeForm
from trial.visits.forms import HamdForm, VitalsForm
from trial.visits.models import HamD17, Visit, VitalSigns

PROTOCOL = Path(__file__).resolve().parents[3] / "protocols" / "infliximab_trd.toml"


@pytest.fixture
def edited(settings, tmp_path):
    """The reference protocol with a narrower weight range, item 17 scored 0-3 and a 14-day baseline window."""
    text = PROTOCOL.read_text()
    edits = [
        ('unit = "kg"\nmin = 30\nmax = 250', 'unit = "kg"\nmin = 40\nmax = 200'),
        ('{ number = 17, name = "Insight", max = 2 }', '{ number = 17, name = "Insight", max = 3 }'),
        ("baseline_max_days_after_screening = 31", "baseline_max_days_after_screening = 14"),
    ]
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "edited.toml"
    path.write_text(text)
    settings.STRATUM_PROTOCOL_FILE = path
    return path


def done() -> Visit:
    return Visit(status=Visit.Status.DONE, actual_date=date.today())


VITALS = {"weight_kg": "80", "systolic_mmhg": "120", "diastolic_mmhg": "80"}


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        ("40", None),
        ("200", None),
        ("39.9", "Weight must be between 40 and 200 kg; 39.9 is out of range."),
        ("220", "Weight must be between 40 and 200 kg; 220 is out of range."),
    ],
)
def test_the_weight_range_is_the_files(edited, weight, message):
    data = VITALS | {"weight_kg": weight}
    form = VitalsForm(data=data, visit=done())
    assert_same_rule(form=form, model=VitalSigns, data=data, field="weight_kg" if message else None, message=message)


@pytest.mark.parametrize(
    ("score", "message"), [("3", None), ("4", "Item 17 (Insight) scores 0 to 3; 4 is out of range.")]
)
def test_the_item_maxima_are_the_files(edited, score, message):
    data = {f"item_{n}": "0" for n in range(1, 18)} | {"item_17": score}
    form = HamdForm(data=data, visit=done())
    assert_same_rule(form=form, model=HamD17, data=data, field="item_17" if message else None, message=message)


@pytest.mark.parametrize(("days", "ok"), [(14, True), (15, False)])
def test_the_baseline_window_is_the_files(edited, days, ok):
    screened = date(2024, 3, 1)
    form = RandomizeForm(
        data={"baseline_date": (screened + timedelta(days=days)).isoformat(), "confirm": "on"},
        screening_date=screened,
    )
    assert form.is_valid() is ok
    if not ok:
        assert form.errors["baseline_date"] == [
            "Baseline must be within 14 days of screening (01 Mar 2024), so on or before 15 Mar 2024."
            " After that the participant must be re-screened."
        ]
