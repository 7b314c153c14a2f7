"""Two-group comparisons of a continuous variable: Welch and pooled t tests, Mann-Whitney U.

scipy does the statistics; these functions only take a DataFrame and say which two groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps


@dataclass(frozen=True)
class TwoGroupTest:
    """`difference` is mean(a) - mean(b) for t tests and the Hodges-Lehmann shift for MW."""

    test: str
    statistic: float
    df: float
    p: float
    n_a: int
    n_b: int
    difference: float
    ci_low: float
    ci_high: float


def _groups(data: pd.DataFrame, value: str, group: str, a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    xa = data.loc[data[group] == a, value].dropna().to_numpy(dtype=float)
    xb = data.loc[data[group] == b, value].dropna().to_numpy(dtype=float)
    if len(xa) < 2 or len(xb) < 2:
        raise ValueError(f"need at least 2 non-missing values per group; got {len(xa)}, {len(xb)}")
    return xa, xb


def t_test(
    data: pd.DataFrame,
    *,
    value: str,
    group: str,
    a: object,
    b: object,
    equal_var: bool = False,
    level: float = 0.95,
) -> TwoGroupTest:
    """Welch's t test (default) or the pooled-variance t test (`equal_var=True`)."""
    xa, xb = _groups(data, value, group, a, b)
    res = sps.ttest_ind(xa, xb, equal_var=equal_var)
    ci = res.confidence_interval(confidence_level=level)
    return TwoGroupTest(
        test="pooled t" if equal_var else "Welch t",
        statistic=float(res.statistic),
        df=float(res.df),
        p=float(res.pvalue),
        n_a=len(xa),
        n_b=len(xb),
        difference=float(xa.mean() - xb.mean()),
        ci_low=float(ci.low),
        ci_high=float(ci.high),
    )


def mann_whitney(data: pd.DataFrame, *, value: str, group: str, a: object, b: object) -> TwoGroupTest:
    """Two-sided Mann-Whitney U (scipy's default method: exact for small samples without ties).
    `difference` is the Hodges-Lehmann median of pairwise differences a - b (no CI: nan)."""
    xa, xb = _groups(data, value, group, a, b)
    res = sps.mannwhitneyu(xa, xb, alternative="two-sided")
    shift = float(np.median(np.subtract.outer(xa, xb)))
    return TwoGroupTest(
        test="Mann-Whitney U",
        statistic=float(res.statistic),
        df=float("nan"),
        p=float(res.pvalue),
        n_a=len(xa),
        n_b=len(xb),
        difference=shift,
        ci_low=float("nan"),
        ci_high=float("nan"),
    )
