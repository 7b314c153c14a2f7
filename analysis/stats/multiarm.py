"""The SAP for several active arms against one control: one MMRM, one contrast per active arm, and the
multiplicity procedure the protocol file states ([analysis] in protocols/*.toml).

The model is the reference SAP's primary model with treatment as a factor instead of a 0/1 indicator
(ICH E9 5.6: one pre-specified model, all arms in it, so every contrast uses the same residual
covariance estimated from every participant):

    chg ~ (trt_1 + ... + trt_k) * week          time continuous, AR(1), SAS between-within df

with `trt_j` = 1 for the j-th non-control arm. For each contrast "arm j vs control" it reports the
difference in change from baseline at the end week, `trt_j + end_week * trt_j:week` (SAS: an
ESTIMATE statement), and the difference in slopes `trt_j:week`; the joint F test of all treatment
terms; and the p-values of the end-week differences adjusted by Bonferroni, Holm (step-down) or
Hochberg (step-up), each of which controls the family-wise error rate at alpha (Hochberg under
independence or positive dependence, which two contrasts against a shared control have).

Frames are the SAP's long frame (analysis.stats.sap): participant_id, week, chg, arm. No Django here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.stats.mmrm import fit_mmrm
from analysis.stats.sap import _Serialisable

PROCEDURES = ("none", "bonferroni", "holm", "hochberg")


def adjust_pvalues(p: Sequence[float], method: str) -> list[float]:
    """Multiplicity-adjusted p-values (each compared with the family-wise alpha).

    Bonferroni: m p. Holm (1979), step-down: sorted ascending, p_(i) x (m - i + 1), made monotone
    non-decreasing. Hochberg (1988), step-up: sorted descending, p_(i) x (m - i + 1), made monotone
    non-increasing. All capped at 1.
    """
    if method not in PROCEDURES:
        raise ValueError(f"multiplicity must be one of {PROCEDURES}, not {method!r}")
    values = np.asarray(p, dtype=float)
    m = len(values)
    if method == "none" or m == 0:
        return [float(v) for v in values]
    if method == "bonferroni":
        return [float(v) for v in np.minimum(values * m, 1.0)]
    order = np.argsort(values, kind="stable")
    factors = m - np.arange(m)  # m, m-1, ..., 1 for the i-th smallest
    scaled = values[order] * factors
    # Holm: the running maximum from the smallest p up; Hochberg: the running minimum from the largest down.
    adjusted_sorted = np.maximum.accumulate(scaled) if method == "holm" else np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted_sorted, 1.0)
    return [float(v) for v in out]


@dataclass(frozen=True)
class Contrast(_Serialisable):
    """One active arm against the control."""

    arm: str
    control: str
    end_week: int
    difference: float  # active minus control, change from baseline at end_week (negative favours active on HAM-D)
    se: float
    df: float
    t: float
    p: float
    ci_low: float
    ci_high: float
    slope_difference: float  # points per week
    slope_p: float
    p_adjusted: float
    significant: bool  # p_adjusted < alpha


@dataclass(frozen=True)
class MultiArmResult(_Serialisable):
    formula: str
    covariance: str
    df_method: str
    control: str
    arms: tuple[str, ...]  # every arm in the model, control first
    end_week: int
    multiplicity: str
    alpha: float
    n_subjects: int
    n_obs: int
    n_by_arm: dict[str, int]
    contrasts: tuple[Contrast, ...]
    overall_f: float  # joint test of every treatment term (no difference between any arms)
    overall_num_df: int
    overall_den_df: float
    overall_p: float
    coefficients: pd.DataFrame


def _indicators(frame: pd.DataFrame, control: str) -> tuple[pd.DataFrame, dict[str, str]]:
    for column in ("participant_id", "week", "chg", "arm"):
        if column not in frame.columns:
            raise ValueError(f"The SAP frame lacks column {column!r}; it has {list(frame.columns)}.")
    if frame["arm"].isna().any():
        raise ValueError("arm is missing for some rows: the analysis by arm needs every participant's arm.")
    arms = sorted(str(a) for a in frame["arm"].unique())
    if control not in arms:
        raise ValueError(f"The control arm {control!r} has no data (arms present: {arms}).")
    data = frame.loc[(frame["week"] > 0) & frame["chg"].notna()].copy()
    # Arm codes need not be valid names in a formula: each non-control arm gets trt_<n>.
    names = {arm: f"trt_{n}" for n, arm in enumerate((a for a in arms if a != control), start=1)}
    for arm, name in names.items():
        data[name] = (data["arm"].astype(str) == arm).astype(float)
    return data, names


def multiarm_analysis(
    frame: pd.DataFrame,
    *,
    control: str,
    contrasts: Sequence[str],
    multiplicity: str,
    alpha: float = 0.05,
    end_week: int,
    covariance: str = "ar1",
) -> MultiArmResult:
    """Every active arm in `contrasts` against `control` in one MMRM, with adjusted p-values."""
    if multiplicity not in PROCEDURES:
        raise ValueError(f"multiplicity must be one of {PROCEDURES}, not {multiplicity!r}")
    data, names = _indicators(frame, control)
    unknown = [c for c in contrasts if c not in names]
    if unknown:
        raise ValueError(f"Contrast arm(s) {unknown} have no data or are the control.")
    terms = " + ".join(names.values())
    formula = f"chg ~ ({terms}) * week"
    res = fit_mmrm(data, formula, subject="participant_id", visit="week", covariance=covariance)

    at_end = pd.DataFrame(
        [{names[a]: 1.0, f"{names[a]}:week": float(end_week)} for a in contrasts], index=list(contrasts)
    ).fillna(0.0)
    slopes = pd.DataFrame([{f"{names[a]}:week": 1.0} for a in contrasts], index=list(contrasts)).fillna(0.0)
    ends, slope_rows = res.estimate(at_end, level=1 - alpha), res.estimate(slopes)
    adjusted = adjust_pvalues([float(ends.loc[a, "p"]) for a in contrasts], multiplicity)
    rows = tuple(
        Contrast(
            arm=a,
            control=control,
            end_week=end_week,
            difference=float(ends.loc[a, "estimate"]),
            se=float(ends.loc[a, "se"]),
            df=float(ends.loc[a, "df"]),
            t=float(ends.loc[a, "t"]),
            p=float(ends.loc[a, "p"]),
            ci_low=float(ends.loc[a, "ci_low"]),
            ci_high=float(ends.loc[a, "ci_high"]),
            slope_difference=float(slope_rows.loc[a, "estimate"]),
            slope_p=float(slope_rows.loc[a, "p"]),
            p_adjusted=p_adj,
            significant=p_adj < alpha,
        )
        for a, p_adj in zip(contrasts, adjusted, strict=True)
    )
    every_treatment_term = [t for t in res.term_names if t.startswith("trt_")]
    overall = res.f_test(pd.DataFrame(np.eye(len(every_treatment_term)), columns=every_treatment_term))
    return MultiArmResult(
        formula=formula,
        covariance=covariance,
        df_method=res.df_method,
        control=control,
        arms=(control, *names),
        end_week=end_week,
        multiplicity=multiplicity,
        alpha=alpha,
        n_subjects=res.n_subjects,
        n_obs=res.n_obs,
        n_by_arm={str(k): int(v) for k, v in data.groupby("arm")["participant_id"].nunique().items()},
        contrasts=rows,
        overall_f=float(overall["F"].iloc[0]),
        overall_num_df=int(overall["num_df"].iloc[0]),
        overall_den_df=float(overall["den_df"].iloc[0]),
        overall_p=float(overall["p"].iloc[0]),
        coefficients=res.coefficients.reset_index()[["term", "estimate", "se", "df", "t", "p"]],
    )
