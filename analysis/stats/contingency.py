"""2x2 tables: Pearson chi-square (with/without Yates), Fisher's exact, risk difference, NNT/NNH.

Thin wrappers over scipy/statsmodels that take counts, as the SAP reports them (protocol,
"Statistical analysis plan": response/remission and AE rates by chi-square).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep


@dataclass(frozen=True)
class ChiSquareResult:
    statistic: float
    df: int
    p: float
    correction: bool
    min_expected: float


@dataclass(frozen=True)
class FisherResult:
    odds_ratio: float
    p: float


@dataclass(frozen=True)
class RiskDifference:
    """p_active - p_control with CI; number_needed is 1/|rd| labelled NNT (benefit) or NNH
    (harm), both None when the proportions are equal (there is no number needed: 1/0)."""

    risk_active: float
    risk_control: float
    difference: float
    ci_low: float
    ci_high: float
    number_needed: float | None
    label: str | None
    # 1/CI bounds when the CI excludes 0 (Altman 1998); None otherwise (NNT CI unbounded).
    number_needed_ci: tuple[float, float] | None


def _table(events_active: int, n_active: int, events_control: int, n_control: int) -> np.ndarray:
    if not (0 <= events_active <= n_active and 0 <= events_control <= n_control):
        raise ValueError("events must lie between 0 and the group size")
    return np.array([[events_active, n_active - events_active], [events_control, n_control - events_control]])


def chi_square_2x2(
    events_active: int, n_active: int, events_control: int, n_control: int, *, correction: bool
) -> ChiSquareResult:
    """Pearson chi-square; `correction=True` applies Yates' continuity correction."""
    table = _table(events_active, n_active, events_control, n_control)
    res = sps.chi2_contingency(table, correction=correction)
    return ChiSquareResult(
        statistic=float(res.statistic),
        df=int(res.dof),
        p=float(res.pvalue),
        correction=correction,
        min_expected=float(np.min(res.expected_freq)),
    )


def fisher_exact_2x2(events_active: int, n_active: int, events_control: int, n_control: int) -> FisherResult:
    """Two-sided Fisher's exact test (scipy: sum of tables no more likely than observed)."""
    res = sps.fisher_exact(_table(events_active, n_active, events_control, n_control))
    return FisherResult(odds_ratio=float(res.statistic), p=float(res.pvalue))


def risk_difference(
    events_active: int,
    n_active: int,
    events_control: int,
    n_control: int,
    *,
    outcome_is_benefit: bool = True,
    level: float = 0.95,
    method: str = "wald",
) -> RiskDifference:
    """Risk difference with CI (statsmodels: 'wald', 'newcomb', 'agresti-caffo', ...).

    NNT/NNH is 1/|difference| from the counts, not from rounded percentages: the protocol's
    response in hs-CRP > 5 (8/13 vs 3/9) gives NNT 3.55, where 1/0.29 would give 3.45.
    """
    _table(events_active, n_active, events_control, n_control)
    p1, p0 = events_active / n_active, events_control / n_control
    rd = p1 - p0
    low, high = confint_proportions_2indep(
        events_active,
        n_active,
        events_control,
        n_control,
        method=method,
        compare="diff",
        alpha=1.0 - level,
    )
    beneficial = (rd > 0) == outcome_is_benefit
    nn = None if rd == 0 else 1.0 / abs(rd)
    label = None if rd == 0 else ("NNT" if beneficial else "NNH")
    nn_ci = None
    if low > 0 or high < 0:
        bounds = sorted((1.0 / abs(float(low)), 1.0 / abs(float(high))))
        nn_ci = (bounds[0], bounds[1])
    return RiskDifference(
        risk_active=p1,
        risk_control=p0,
        difference=rd,
        ci_low=float(low),
        ci_high=float(high),
        number_needed=nn,
        label=label,
        number_needed_ci=nn_ci,
    )
