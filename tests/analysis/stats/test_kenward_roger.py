"""Kenward-Roger (DDFM=KR and DDFM=KR(LINEAR)) against SAS PROC MIXED on fev_data.csv.

sas_fev_kr_reference.json holds SAS's LS-means difference TRT - PBO (SE, df, t, p, CI) for nine
covariance structures x two KR variants. Two layers, as for the other SAS comparisons:
- at our own REML optimum (what users get; tolerances in sas_reference.KR_FITTED);
- with the covariance parameters held at SAS's printed estimates, which leaves only SAS's
  printed rounding: SE within 1e-4 relative, df within 0.05, p within 1e-4 (KR_HELD).
"""

from __future__ import annotations

from typing import Any

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
    # Eight of SAS's nine structures; SP(EXP) with per-subject coordinates is the exception.
    assert len(SUPPORTED) == 16
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


@pytest.mark.parametrize("covariance", ["ar(1)", "arh(1)", "csh", "toeph", "ante(1)"])
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
