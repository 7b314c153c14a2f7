"""The order of the visit levels: where it comes from, when it is refused, and levels without data.

SAS indexes AR(1), ARH(1), TOEP, TOEPH and ANTE(1) by the position of the repeated-effect level
among its class levels, and takes those levels from all rows. The checks below relabel the SAS
reference data so that alphabetical order is not visit order, and must still reproduce SAS.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.stats import fit_mmrm
from analysis.stats.errors import DegreesOfFreedomError, VisitLevelError

# Alphabetically "Week 10" < "Week 12" < "Week 2" < "Week 4": not the visit order.
WEEKS = {"VIS1": "Week 2", "VIS2": "Week 4", "VIS3": "Week 10", "VIS4": "Week 12"}
WEEK_ORDER = ["Week 2", "Week 4", "Week 10", "Week 12"]


def _weeks(data: pd.DataFrame) -> pd.DataFrame:
    return data.assign(week=data["AVISIT"].map(WEEKS))


@pytest.mark.parametrize("covariance", ["ar1", "arh1", "toep", "toeph", "ante1"])
def test_it_refuses_text_visits_where_order_matters(
    covariance: str, fev_reference: tuple[pd.DataFrame, dict[str, Any]]
) -> None:
    data = _weeks(fev_reference[0])
    with pytest.raises(VisitLevelError, match="visit_order"):
        fit_mmrm(data, "FEV1 ~ 1", subject="USUBJID", visit="week", covariance=covariance)


def test_it_refuses_an_unordered_categorical_where_order_matters(
    fev_reference: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    data = _weeks(fev_reference[0])
    data["week"] = pd.Categorical(data["week"])
    with pytest.raises(VisitLevelError, match="ordered"):
        fit_mmrm(data, "FEV1 ~ 1", subject="USUBJID", visit="week", covariance="ar1")


@pytest.mark.parametrize("how", ["visit_order", "ordered categorical", "numbers"])
def test_an_explicit_order_reproduces_sas_ar1(how: str, fev_reference: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    data, models = fev_reference
    data = _weeks(data)
    kwargs: dict[str, Any] = {}
    if how == "visit_order":
        kwargs["visit_order"] = WEEK_ORDER
    elif how == "ordered categorical":
        data["week"] = pd.Categorical(data["week"], categories=WEEK_ORDER, ordered=True)
    else:
        data["week"] = data["week"].str.removeprefix("Week ").astype(int)
    res = fit_mmrm(data, "FEV1 ~ 1", subject="USUBJID", visit="week", covariance="ar1", **kwargs)
    # SAS PROC MIXED, TYPE=AR(1) over VIS1..VIS4 (sas_fev_reference.json, ar1_intercept).
    assert res.neg2_loglik == pytest.approx(models["ar1_intercept"]["neg2_reml"], rel=1e-8)
    expected_levels: list[Any] = [2, 4, 10, 12] if how == "numbers" else WEEK_ORDER
    assert list(res.covariance_matrix.index) == expected_levels


def test_unstructured_accepts_text_visits_because_order_does_not_change_the_fit(
    fev_reference: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    data, _ = fev_reference
    res = fit_mmrm(_weeks(data), "FEV1 ~ 1", subject="USUBJID", visit="week", covariance="un")
    ordered = fit_mmrm(
        _weeks(data), "FEV1 ~ 1", subject="USUBJID", visit="week", covariance="un", visit_order=WEEK_ORDER
    )
    assert res.neg2_loglik == pytest.approx(ordered.neg2_loglik, rel=1e-10)


def test_visit_order_must_name_every_visit(fev_reference: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    with pytest.raises(VisitLevelError, match="not in visit_order"):
        fit_mmrm(
            _weeks(fev_reference[0]),
            "FEV1 ~ 1",
            subject="USUBJID",
            visit="week",
            covariance="ar1",
            visit_order=WEEK_ORDER[:3],
        )


@pytest.fixture(scope="module")
def without_vis2(fev_reference: tuple[pd.DataFrame, dict[str, Any]]) -> pd.DataFrame:
    data = fev_reference[0].copy()
    data.loc[data["AVISIT"] == "VIS2", "FEV1"] = np.nan
    return data


def test_a_visit_without_outcomes_keeps_its_ar1_position(without_vis2: pd.DataFrame) -> None:
    res = fit_mmrm(
        without_vis2,
        "FEV1 ~ ARMCD",
        subject="USUBJID",
        visit="AVISIT",
        covariance="ar1",
        visit_order=["VIS1", "VIS2", "VIS3", "VIS4"],
    )
    # SP(POW) on the visit numbers is AR(1) by actual distance: VIS1 to VIS3 is two steps.
    by_time = fit_mmrm(
        without_vis2,
        "FEV1 ~ ARMCD",
        subject="USUBJID",
        visit="AVISIT",
        covariance="sp_pow",
        time="VISITN",
    )
    assert res.neg2_loglik == pytest.approx(by_time.neg2_loglik, rel=1e-9)
    assert res.covariance_parameters["rho"] == pytest.approx(by_time.covariance_parameters["rho"], rel=1e-5)
    # R nlme 3.1.162 on the same data, an independent implementation that keeps the gap:
    # gls(FEV1 ~ ARMCD, correlation = corAR1(form = ~ VISITN | USUBJID), method = "REML")
    # -> -2 logLik 2939.34198559, Phi 0.1841341572.
    assert res.neg2_loglik == pytest.approx(2939.34198559, abs=1e-6)
    assert res.covariance_parameters["rho"] == pytest.approx(0.1841341572, abs=1e-5)
    rho = res.covariance_parameters["rho"]
    corr = res.covariance_matrix / res.covariance_parameters["sigma2"]
    assert corr.loc["VIS1", "VIS3"] == pytest.approx(rho**2)
    # ...and the result says which level had nothing.
    assert res.visit_levels == ("VIS1", "VIS2", "VIS3", "VIS4")
    assert res.empty_visit_levels == ("VIS2",)
    assert any("VIS2" in w for w in res.warnings)


def test_closing_up_the_gap_would_be_a_different_model(without_vis2: pd.DataFrame) -> None:
    # The behaviour being guarded against: positions renumbered 1, 2, 3 without VIS2.
    kept = fit_mmrm(
        without_vis2,
        "FEV1 ~ ARMCD",
        subject="USUBJID",
        visit="AVISIT",
        covariance="ar1",
        visit_order=["VIS1", "VIS2", "VIS3", "VIS4"],
    )
    closed = fit_mmrm(
        without_vis2.loc[without_vis2["AVISIT"] != "VIS2"],
        "FEV1 ~ ARMCD",
        subject="USUBJID",
        visit="AVISIT",
        covariance="ar1",
        visit_order=["VIS1", "VIS3", "VIS4"],
    )
    assert abs(kept.neg2_loglik - closed.neg2_loglik) > 1.0
    assert closed.empty_visit_levels == ()


def test_a_between_within_df_of_zero_is_an_error_not_a_nan_p() -> None:
    # Two subjects, one per arm: the between-subject effects use up both (df = 2 - 2 = 0).
    rng = np.random.default_rng(1)
    data = pd.DataFrame(
        {
            "id": np.repeat([1, 2], 4),
            "trt": np.repeat([0.0, 1.0], 4),
            "vis": np.tile([1, 2, 3, 4], 2),
            "y": rng.normal(size=8),
        }
    )
    with pytest.raises(DegreesOfFreedomError, match="degrees of freedom"):
        fit_mmrm(data, "y ~ trt", subject="id", visit="vis", covariance="ar1")
