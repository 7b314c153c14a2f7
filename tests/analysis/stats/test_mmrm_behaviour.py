"""fit_mmrm behaviour beyond the SAS numbers: inputs, errors, structures, helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import difference_curve, fit_mmrm
from analysis.stats.errors import (
    NonPositiveDefiniteCovarianceError,
    RankDeficientDesignError,
    VisitLevelError,
)
from analysis.stats.simulate import simulate_trial


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return simulate_trial(120, seed=5)


def test_it_drops_rows_with_missing_outcome_or_covariate_and_says_how_many(trial: pd.DataFrame) -> None:
    data = trial.copy()
    data.loc[[0, 1], "chg"] = np.nan
    data.loc[2, "week"] = np.nan
    res = fit_mmrm(data, "chg ~ trt * week", subject="id", visit="vis")
    assert res.n_dropped == 3
    assert res.n_obs == len(trial) - 3


def test_it_names_aliased_columns_of_a_rank_deficient_design(trial: pd.DataFrame) -> None:
    data = trial.assign(trt2=trial["trt"] * 2.0)
    with pytest.raises(RankDeficientDesignError, match="trt"):
        fit_mmrm(data, "chg ~ trt + trt2 + week", subject="id", visit="vis")


def test_it_refuses_two_rows_for_one_subject_visit(trial: pd.DataFrame) -> None:
    data = pd.concat([trial, trial.iloc[[0]]])
    with pytest.raises(VisitLevelError, match="at most one row"):
        fit_mmrm(data, "chg ~ trt * week", subject="id", visit="vis")


def test_it_refuses_sp_pow_without_time(trial: pd.DataFrame) -> None:
    with pytest.raises(VisitLevelError, match="time="):
        fit_mmrm(trial, "chg ~ trt * week", subject="id", visit="vis", covariance="sp_pow")


def test_it_refuses_unstructured_covariance_between_levels_never_seen_together() -> None:
    data = simulate_trial(40, n_visits=3, seed=2, missing_rate=0.0)
    # Nobody has both visit 1 and visit 3.
    data = data.loc[~((data["vis"] == 3) & (data["id"] % 2 == 0)) & ~((data["vis"] == 1) & (data["id"] % 2 == 1))]
    with pytest.raises(VisitLevelError, match="no subject is observed at both"):
        fit_mmrm(data, "chg ~ trt", subject="id", visit="vis", covariance="un")


def test_it_refuses_a_single_level_repeated_effect(trial: pd.DataFrame) -> None:
    with pytest.raises(VisitLevelError, match="needs at least 2"):
        fit_mmrm(trial.loc[trial["vis"] == 1], "chg ~ trt", subject="id", visit="vis")


def test_it_refuses_a_covariance_on_the_boundary() -> None:
    rng = np.random.default_rng(0)
    data = simulate_trial(50, n_visits=4, seed=3, missing_rate=0.0)
    # Identical outcome at every visit of a subject: correlation 1, a singular AR(1).
    level = rng.normal(size=50)
    data["chg"] = level[data["id"] - 1]
    with pytest.raises(NonPositiveDefiniteCovarianceError):
        fit_mmrm(data, "chg ~ trt", subject="id", visit="vis", covariance="ar1")


def test_sp_pow_on_equally_spaced_times_is_ar1(trial: pd.DataFrame) -> None:
    ar1 = fit_mmrm(trial, "chg ~ trt * week", subject="id", visit="vis", covariance="ar1")
    sp = fit_mmrm(trial, "chg ~ trt * week", subject="id", visit="vis", covariance="sp_pow", time="vis")
    assert sp.neg2_loglik == pytest.approx(ar1.neg2_loglik, rel=1e-9)
    assert sp.covariance_parameters["rho"] == pytest.approx(ar1.covariance_parameters["rho"], rel=1e-5)


def test_richer_structures_never_fit_worse(trial: pd.DataFrame) -> None:
    fit = {
        cov: fit_mmrm(trial, "chg ~ trt * week", subject="id", visit="vis", covariance=cov).neg2_loglik
        for cov in ("ar1", "arh1", "cs", "csh", "toep", "un")
    }
    tol = 1e-6
    assert fit["arh1"] <= fit["ar1"] + tol
    assert fit["csh"] <= fit["cs"] + tol
    assert fit["toep"] <= fit["ar1"] + tol
    assert fit["un"] <= min(fit.values()) + tol


def test_ml_aic_counts_fixed_effects_too(trial: pd.DataFrame) -> None:
    res = fit_mmrm(trial, "chg ~ trt * week", subject="id", visit="vis", method="ml")
    assert res.aic == pytest.approx(res.neg2_loglik + 2 * (2 + 4))


def test_predict_and_estimate_agree(trial: pd.DataFrame) -> None:
    res = fit_mmrm(trial, "chg ~ trt * week", subject="id", visit="vis")
    new = pd.DataFrame({"trt": [1.0, 0.0], "week": [12.0, 12.0]})
    pred = res.predict(new)
    diff = res.estimate({"trt": 1.0, "trt:week": 12.0}).iloc[0]
    assert pred["prediction"].iloc[0] - pred["prediction"].iloc[1] == pytest.approx(diff["estimate"])
    assert diff["df"] == min(res.coefficients.loc[["trt", "trt:week"], "df"])
    assert diff["ci_low"] < diff["estimate"] < diff["ci_high"]


def test_lsmeans_use_covariate_means_unless_told(trial: pd.DataFrame) -> None:
    data = trial.assign(arm=np.where(trial["trt"] == 1, "IFX", "PBO"))
    res = fit_mmrm(data, "chg ~ C(arm, Treatment('PBO')) * week", subject="id", visit="vis")
    lsm = res.lsmeans("arm")
    pred = res.predict(pd.DataFrame({"arm": ["IFX", "PBO"], "week": [data["week"].mean()] * 2}))
    assert lsm["estimate"].tolist() == pytest.approx(pred["prediction"].tolist())
    at12 = res.lsmeans("arm", at={"week": 12})
    pred12 = res.predict(pd.DataFrame({"arm": ["IFX", "PBO"], "week": [12.0, 12.0]}))
    assert at12["estimate"].tolist() == pytest.approx(pred12["prediction"].tolist())


def test_difference_curve_finds_where_the_arms_cross(trial: pd.DataFrame) -> None:
    data = trial.copy()
    rng = np.random.default_rng(8)
    logcrp = rng.normal(1.0, 1.0, size=data["id"].max())
    data["logcrp"] = logcrp[data["id"] - 1]
    # True week-12 difference: 12 * 0.5 * (logcrp - 1.6) crosses 0 at log hs-CRP 1.6.
    data["chg"] = data["chg"] + 0.5 * data["week"] * data["trt"] * (data["logcrp"] - 1.6)
    res = fit_mmrm(data, "chg ~ trt * week * (logcrp + I(logcrp**2))", subject="id", visit="vis")
    curve = difference_curve(
        res,
        over="logcrp",
        values=np.linspace(-1.0, 3.0, 41),
        arm="trt",
        active=1.0,
        control=0.0,
        at={"week": 12.0},
    )
    assert len(curve.crossings) >= 1
    assert min(abs(c - 1.6) for c in curve.crossings) < 0.5
    assert {"estimate", "se", "df", "ci_low", "ci_high"} <= set(curve.table.columns)
    assert curve.table["se"].notna().all()


def test_sp_exp_on_visit_numbers_is_ar1_with_rho_exp_minus_one_over_range(trial: pd.DataFrame) -> None:
    ar1 = fit_mmrm(trial, "chg ~ trt * week", subject="id", visit="vis", covariance="ar1")
    sp = fit_mmrm(trial, "chg ~ trt * week", subject="id", visit="vis", covariance="sp_exp", time="vis")
    assert sp.neg2_loglik == pytest.approx(ar1.neg2_loglik, rel=1e-9)
    assert np.exp(-1.0 / sp.covariance_parameters["range"]) == pytest.approx(ar1.covariance_parameters["rho"], rel=1e-5)


def test_it_refuses_sp_exp_without_coordinates(trial: pd.DataFrame) -> None:
    with pytest.raises(VisitLevelError, match="coordinate"):
        fit_mmrm(trial, "chg ~ trt", subject="id", visit="vis", covariance="sp_exp")
