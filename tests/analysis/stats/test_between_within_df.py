"""SAS's default between-within df on data shaped like the trial (60 subjects, 367 rows)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.stats import fit_mmrm
from analysis.stats.simulate import simulate_trial


@pytest.fixture(scope="module")
def trial_like() -> pd.DataFrame:
    data = simulate_trial(60, seed=11, n_obs=367)
    assert (len(data), data["id"].nunique()) == (367, 60)
    return data


def test_it_gives_the_published_t58_and_t305(trial_like: pd.DataFrame) -> None:
    res = fit_mmrm(trial_like, "chg ~ trt * week", subject="id", visit="vis", covariance="ar1")
    df = res.coefficients["df"]
    # Protocol "Published results": t58 for treatment, t305 for time and treatment x time.
    assert df.to_dict() == {"Intercept": 58.0, "trt": 58.0, "week": 305.0, "trt:week": 305.0}
    type3 = res.type3().set_index("effect")["den_df"].to_dict()
    assert type3 == {"trt": 58.0, "week": 305.0, "trt:week": 305.0}


def test_it_gives_every_effect_the_between_df_with_unstructured(trial_like: pd.DataFrame) -> None:
    res = fit_mmrm(trial_like, "chg ~ trt * week", subject="id", visit="vis", covariance="un")
    assert set(res.coefficients["df"]) == {58.0}


def test_it_counts_between_subject_covariates_in_the_moderation_model(
    trial_like: pd.DataFrame,
) -> None:
    data = trial_like.copy()
    data["logcrp"] = (data["id"] % 7) / 3.0 - 0.5
    res = fit_mmrm(
        data,
        "chg ~ trt * week * (logcrp + I(logcrp**2))",
        subject="id",
        visit="vis",
        covariance="ar1",
    )
    df = res.coefficients["df"]
    # Between part: Intercept, trt, logcrp, logcrp^2 and their trt interactions (rank 6).
    assert df["trt:logcrp"] == 60 - 6
    assert df["trt:week:logcrp"] == 367 - 12 - (60 - 6)


def test_residual_df_is_n_minus_rank(trial_like: pd.DataFrame) -> None:
    res = fit_mmrm(trial_like, "chg ~ trt * week", subject="id", visit="vis", covariance="ar1", df="residual")
    assert set(res.coefficients["df"]) == {367.0 - 4.0}
