"""The seeded simulation draws from the shared trial shape and the reference protocol's schedule."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from analysis.stats.simulate import PROTOCOL_WEEKS, simulate_crp_trial
from analysis.stats.trial_shape import REFERENCE_SHAPE
from trial.protocol.config import load_protocol_file

PROTOCOL_FILE = Path(__file__).resolve().parents[3] / "protocols" / "infliximab_trd.toml"


def test_its_default_weeks_are_the_protocol_files() -> None:
    # analysis.stats reads no protocol file, so it restates the schedule; this keeps the two equal.
    protocol = load_protocol_file(PROTOCOL_FILE)
    assert tuple(v.week for v in protocol.visits if v.week > 0) == PROTOCOL_WEEKS
    assert sorted(set(simulate_crp_trial(200, seed=1)["week"])) == [0, *PROTOCOL_WEEKS]


def test_it_follows_another_schedule_when_given_one() -> None:
    data = simulate_crp_trial(200, seed=1, weeks=(0, 2, 4, 8))
    assert sorted(set(data["week"])) == [0, 2, 4, 8]


def test_it_drops_weeks_and_participants_as_the_shape_says() -> None:
    data = simulate_crp_trial(3000, seed=2)
    subjects = data["participant_id"].nunique()
    assert (data["week"] == 3).sum() / subjects == pytest.approx(11 / 60, abs=0.03)
    assert (data["week"] == 10).sum() / subjects == pytest.approx(32 / 60, abs=0.05)

    no_losses = dataclasses.replace(REFERENCE_SHAPE, present_share=(), dropout_control=0.0, dropout_active=0.0)
    complete = simulate_crp_trial(300, seed=2, shape=no_losses)
    assert len(complete) == 300 * (1 + len(PROTOCOL_WEEKS))


def test_it_takes_the_baseline_distributions_from_the_shape() -> None:
    shifted = dataclasses.replace(REFERENCE_SHAPE, baseline_hamd_mean=30.0, crp_log_mu=0.0)
    usual = simulate_crp_trial(2000, seed=3).query("week == 0")
    other = simulate_crp_trial(2000, seed=3, shape=shifted).query("week == 0")
    assert usual["baseline"].mean() == pytest.approx(23.8, abs=0.4)
    assert other["baseline"].mean() == pytest.approx(30.0, abs=0.4)
    assert other["baseline_crp_mg_l"].median() < usual["baseline_crp_mg_l"].median() / 2


def test_a_keyword_overrides_one_value_of_the_shape() -> None:
    def end_change(placebo_change_week_12: float | None = None) -> float:
        data = simulate_crp_trial(2000, seed=4, placebo_change_week_12=placebo_change_week_12)
        return float(data.loc[(data["week"] == 12) & (data["arm"] == "PBO"), "chg"].mean())

    assert end_change() == pytest.approx(REFERENCE_SHAPE.control_change_at_end, abs=0.6)
    assert end_change(placebo_change_week_12=-3.0) == pytest.approx(-3.0, abs=0.6)
