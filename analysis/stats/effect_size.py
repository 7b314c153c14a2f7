"""Standardized effect size at one visit.

    d = sign * (mean_active - mean_control) / s_pooled,
    s_pooled = sqrt(((n_a - 1) s_a^2 + (n_c - 1) s_c^2) / (n_a + n_c - 2))

(Cohen's d on the observed values at that visit). `sign` is +1 when higher values are better and
-1 when lower values are better (HAM-D change: a larger reduction is better), so a positive d
always favours the active arm, as the report states "0.41 favouring infliximab". With
`hedges=True` d is multiplied by J = 1 - 3 / (4 (n_a + n_c) - 9), the small-sample correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class EffectSize:
    d: float
    mean_active: float
    mean_control: float
    sd_pooled: float
    n_active: int
    n_control: int


def standardized_effect_size(
    data: pd.DataFrame,
    *,
    value: str,
    group: str,
    active: object,
    control: object,
    visit_column: str,
    visit: object,
    lower_is_better: bool = True,
    hedges: bool = False,
) -> EffectSize:
    """Effect size at `visit` (see module docstring for the formula and sign)."""
    at = data.loc[data[visit_column] == visit]
    xa = at.loc[at[group] == active, value].dropna().to_numpy(dtype=float)
    xc = at.loc[at[group] == control, value].dropna().to_numpy(dtype=float)
    na, nc = len(xa), len(xc)
    if na < 2 or nc < 2:
        raise ValueError(f"need at least 2 values per arm at visit {visit!r}; got {na}, {nc}")
    sp = float(np.sqrt(((na - 1) * xa.var(ddof=1) + (nc - 1) * xc.var(ddof=1)) / (na + nc - 2)))
    if sp == 0.0:
        raise ValueError("pooled SD is 0: the effect size is undefined")
    sign = -1.0 if lower_is_better else 1.0
    d = sign * (xa.mean() - xc.mean()) / sp
    if hedges:
        d *= 1.0 - 3.0 / (4.0 * (na + nc) - 9.0)
    return EffectSize(
        d=float(d),
        mean_active=float(xa.mean()),
        mean_control=float(xc.mean()),
        sd_pooled=sp,
        n_active=na,
        n_control=nc,
    )
