"""Kenward-Roger (DDFM=KR and DDFM=KR(LINEAR)) against SAS PROC MIXED on fev_data.csv.

sas_fev_kr_reference.json holds SAS's LS-means difference TRT - PBO (SE, df, t, p, CI) for nine
covariance structures x two KR variants. Two layers, as for the other SAS comparisons:
- at our own REML optimum (what users get; tolerances in sas_reference.KR_FITTED);
- with the covariance parameters held at SAS's printed estimates, which leaves only SAS's
  printed rounding: SE within 1e-4 relative, df within 0.05, p within 1e-4 (KR_HELD).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.stats import fit_mmrm
from tests.analysis.stats.sas_reference import (
    KR_COVARIANCE,
    KR_FITTED,
    KR_HELD,
    compare_kr,
    fit_kr_reference,
    kr_difference,
    load_kr_reference,
)

SUPPORTED = [f for f in load_kr_reference() if f["covariance"] in KR_COVARIANCE]
IDS = [f"{f['covariance']}-{f['ddfm']}" for f in SUPPORTED]


def _failures(comparisons: list[Any]) -> str:
    return "\n".join(
        f"{c.model} {c.quantity}: SAS {c.sas} ours {c.ours} (diff {c.diff:.3g}, tol {c.tolerance:.3g})"
        for c in comparisons
        if not c.ok
    )


def test_the_reference_covers_every_structure_it_lists() -> None:
    # All nine of SAS's structures, each with DDFM=KR and DDFM=KR(LINEAR).
    assert len(SUPPORTED) == 18
    assert {f["ddfm"] for f in SUPPORTED} == {"kr", "kr(linear)"}


@pytest.mark.parametrize("sas_fit", SUPPORTED, ids=IDS)
def test_it_matches_sas_kenward_roger_at_its_own_optimum(
    sas_fit: dict[str, Any], fev_reference: tuple[pd.DataFrame, dict[str, Any]]
) -> None:
    data, _ = fev_reference
    comparisons = list(compare_kr(sas_fit, fit_kr_reference(data, sas_fit), KR_FITTED))
    assert all(c.ok for c in comparisons), _failures(comparisons)


@pytest.mark.parametrize("sas_fit", SUPPORTED, ids=IDS)
def test_it_matches_sas_kenward_roger_at_sas_covariance_parameters(
    sas_fit: dict[str, Any], fev_reference: tuple[pd.DataFrame, dict[str, Any]]
) -> None:
    data, _ = fev_reference
    comparisons = list(compare_kr(sas_fit, fit_kr_reference(data, sas_fit, held=True), KR_HELD))
    assert all(c.ok for c in comparisons), _failures(comparisons)


@pytest.mark.parametrize("covariance", ["ar(1)", "arh(1)", "csh", "toeph", "ante(1)", "sp(exp)(VISITN VISITN2)"])
def test_kr_and_kr_linear_differ_as_in_sas_for_nonlinear_structures(
    covariance: str, fev_reference: tuple[pd.DataFrame, dict[str, Any]]
) -> None:
    # SAS's two SEs differ by the second-derivative (R_ij) terms only; the direction and size
    # of that difference must be SAS's, not just each SE within tolerance.
    data, _ = fev_reference
    fits = {f["ddfm"]: f for f in SUPPORTED if f["covariance"] == covariance}
    ours = {ddfm: float(kr_difference(fit_kr_reference(data, f, held=True))["se"]) for ddfm, f in fits.items()}
    sas_gap = fits["kr"]["se"] - fits["kr(linear)"]["se"]
    assert ours["kr"] - ours["kr(linear)"] == pytest.approx(sas_gap, rel=0.05, abs=2e-6)


def test_kenward_roger_needs_reml(fev_reference: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    data, _ = fev_reference
    with pytest.raises(ValueError, match="REML"):
        fit_mmrm(
            data,
            "FEV1 ~ ARMCD",
            subject="USUBJID",
            visit="AVISIT",
            covariance="un",
            method="ml",
            df="kenward-roger",
        )


@pytest.mark.parametrize("df", ["kenward-roger", "kenward-roger-linear"])
def test_the_result_names_the_df_method(df: str, fev_reference: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    data, _ = fev_reference
    res = fit_mmrm(data, "FEV1 ~ ARMCD", subject="USUBJID", visit="AVISIT", covariance="un", df=df)  # type: ignore[arg-type]
    assert res.df_method == df
    assert "DDFM=KR" in res.df_method_label
    assert ("LINEAR" in res.df_method_label) == (df == "kenward-roger-linear")


# R pbkrtest 0.5.2 (lme4 1.1.31, R 4.2.2), an independent Kenward-Roger implementation, on the
# same data (rows with FEV1 missing dropped), random-intercept models = CS with a positive
# covariance:
#   full <- lmer(FEV1 ~ ARMCD * AVISIT + RACE + (1 | USUBJID), REML = TRUE)
#   KRmodcomp(full, update(full, . ~ . - RACE))          -> F 23.65670696, ddf 183.473977
#   KRmodcomp(full, update(full, . ~ . - ARMCD:AVISIT))  -> F 0.2803709900, ddf 407.495247
#   lmer(FEV1 ~ ARMCD + (1 | USUBJID)): KRmodcomp vs ~ 1 -> F 27.76228991, ddf 175.9363565;
#   sqrt(vcovAdj(fit)[2, 2]) = 0.7964777963
# pbkrtest takes W from the expected information (Kenward & Roger 1997), SAS from the observed
# one; with W computed pbkrtest's way our algebra (adjusted covariance, A1, A2, lambda, scaled
# F) must reproduce pbkrtest, including the multi-df F tests SAS's reference does not cover.
PBKRTEST = {
    "RACE": (23.65670696, 183.473977),
    "ARMCD:AVISIT": (0.2803709900, 407.495247),
}


def _kr_test_with_expected_information(res: Any, columns: list[str]) -> tuple[float, float, float]:
    from analysis.stats._covariance import dsigma
    from analysis.stats._df import kenward_roger_covariance, kenward_roger_df, reml_expected_information
    from analysis.stats._likelihood import expected_hessian

    structure, theta = res._objective.structure, res._theta
    terms = res._kenward_roger[2]
    traces = expected_hessian(res._objective.stats, res._evaluation, dsigma(structure, theta, natural=True))
    w = np.linalg.inv(reml_expected_information(traces, res._cov_beta, terms))
    l_mat = np.array([[1.0 if name == col else 0.0 for name in res.term_names] for col in columns])
    df, lam = kenward_roger_df(l_mat, res._cov_beta, w, terms)
    adjusted = kenward_roger_covariance(res._cov_beta, w, terms, linear=True)
    lb = l_mat @ res._beta
    f_stat = lam * float(lb @ np.linalg.solve(l_mat @ adjusted @ l_mat.T, lb)) / len(columns)
    se_first = float(np.sqrt(l_mat[0] @ adjusted @ l_mat[0]))
    return f_stat, df, se_first


@pytest.mark.parametrize("effect", list(PBKRTEST))
def test_multi_df_kenward_roger_f_tests_match_pbkrtest(
    effect: str, fev_reference: tuple[pd.DataFrame, dict[str, Any]]
) -> None:
    data, _ = fev_reference
    res = fit_mmrm(
        data, "FEV1 ~ ARMCD * AVISIT + RACE", subject="USUBJID", visit="AVISIT", covariance="cs", df="kenward-roger"
    )
    prefix = "RACE[" if effect == "RACE" else "ARMCD[T.TRT]:AVISIT["
    columns = [name for name in res.term_names if name.startswith(prefix)]
    assert len(columns) == (2 if effect == "RACE" else 3)
    f_stat, df, _ = _kr_test_with_expected_information(res, columns)
    assert f_stat == pytest.approx(PBKRTEST[effect][0], rel=1e-4)
    assert df == pytest.approx(PBKRTEST[effect][1], abs=0.05)


def test_one_df_kenward_roger_matches_pbkrtest(fev_reference: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    data, _ = fev_reference
    res = fit_mmrm(data, "FEV1 ~ ARMCD", subject="USUBJID", visit="AVISIT", covariance="cs", df="kenward-roger")
    f_stat, df, se = _kr_test_with_expected_information(res, ["ARMCD[T.TRT]"])
    assert (f_stat, df, se) == pytest.approx((27.76228991, 175.9363565, 0.7964777963), rel=1e-4)


def test_type3_under_kenward_roger_is_the_scaled_f_on_the_adjusted_covariance(
    fev_reference: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    # With SAS's (observed-information) W the type3() table must use the same algebra: its
    # 1-df rows are the squared KR t of the coefficient, with the same df.
    data, _ = fev_reference
    res = fit_mmrm(
        data,
        "FEV1 ~ ARMCD + RACE",
        subject="USUBJID",
        visit="AVISIT",
        visit_order=["VIS1", "VIS2", "VIS3", "VIS4"],
        covariance="toeph",
        df="kenward-roger",
    )
    t3 = res.type3().set_index("effect")
    coef = res.coefficients.loc["ARMCD[T.TRT]"]
    assert t3.loc["ARMCD", "F"] == pytest.approx(coef["t"] ** 2, rel=1e-6)
    assert t3.loc["ARMCD", "den_df"] == pytest.approx(coef["df"], rel=1e-6)
    assert t3.loc["RACE", "num_df"] == 2
