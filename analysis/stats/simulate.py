"""Seeded simulation of trial-shaped repeated-measures data (benchmarks and df tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Post-baseline HAM-D weeks of the reference protocol ("Schedule of assessments").
PROTOCOL_WEEKS: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 10, 12)


def simulate_trial(
    n_subjects: int,
    *,
    n_visits: int = 8,
    seed: int = 0,
    missing_rate: float = 0.15,
    rho: float = 0.6,
    sd: float = 6.0,
    slope_placebo: float = -0.5,
    slope_difference: float = -0.1,
    n_obs: int | None = None,
) -> pd.DataFrame:
    """One row per subject x post-baseline visit: id, trt (0/1), vis (1..n_visits), week, chg.

    Residuals are AR(1) over visit positions. Visits go missing intermittently (independently
    with `missing_rate`), as the protocol's dropped week 3 and week 10 assessments did; every
    subject keeps at least one visit. `n_obs` then deletes further random rows until exactly
    that many remain (used to reproduce the trial's 60 subjects / 367 observations).
    """
    rng = np.random.default_rng(seed)
    weeks = np.asarray(PROTOCOL_WEEKS if n_visits == 8 else range(1, n_visits + 1), dtype=float)
    trt = (np.arange(n_subjects) % 2).astype(float)
    # AR(1) errors by recursion: e_1 ~ N(0, sd^2), e_j = rho e_{j-1} + sqrt(1 - rho^2) z_j.
    z = rng.standard_normal((n_subjects, n_visits))
    err = np.empty_like(z)
    err[:, 0] = z[:, 0]
    for j in range(1, n_visits):
        err[:, j] = rho * err[:, j - 1] + np.sqrt(1.0 - rho * rho) * z[:, j]
    chg = (slope_placebo + slope_difference * trt)[:, None] * weeks[None, :] + sd * err
    keep = rng.random((n_subjects, n_visits)) >= missing_rate
    keep[~keep.any(axis=1), 0] = True
    if n_obs is not None:
        extra = int(keep.sum()) - n_obs
        if extra < 0:
            raise ValueError(f"only {int(keep.sum())} observations before deleting; n_obs={n_obs}")
        # Rows that may go: observed, and not the last observed row of their subject.
        for _ in range(extra):
            removable = np.argwhere(keep & (keep.sum(axis=1, keepdims=True) > 1))
            i, j = removable[rng.integers(len(removable))]
            keep[i, j] = False
    ids, vis = np.nonzero(keep)
    return pd.DataFrame(
        {
            "id": ids + 1,
            "trt": trt[ids],
            "vis": vis + 1,
            "week": weeks[vis],
            "chg": chg[ids, vis],
        }
    )
