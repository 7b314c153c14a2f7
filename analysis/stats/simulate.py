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


# --------------------------------------------------------------- hs-CRP-moderated trial
# protocol.md, "Published results": baseline hs-CRP 6.3 (8.9) mg/L, 37% above 5 mg/L
# (log-normal: median 3.3 mg/L, log SD 1.17, as the demo generator draws it).
_CRP_LOG_MU, _CRP_LOG_SIGMA = 1.204, 1.167
# protocol.md, "Schedule of assessments": week 3 HAM-D in 11 of 60, week 10 in 32 of 60.
_PRESENT_SHARE: dict[int, float] = {3: 11 / 60, 10: 32 / 60}
# protocol.md, "Published results": 29/30 placebo, 25/30 infliximab completed 12 weeks.
_DROPOUT_CONTROL, _DROPOUT_ACTIVE = 1 / 30, 5 / 30


def simulate_crp_trial(
    n_subjects: int,
    *,
    seed: int = 0,
    crossing_mg_l: float = 4.98,
    effect_per_log_crp: float = 4.2,
    placebo_change_week_12: float = -9.5,
    change_sd: float = 5.5,
    residual_sd: float = 3.5,
    residual_weekly_rho: float = 0.75,
    time_constant_weeks: float = 4.0,
    active: str = "IFX",
    control: str = "PBO",
) -> pd.DataFrame:
    """A trial shaped like the reference protocol, in the SAP's long layout.

    One row per subject x assessed week (0, 1, 2, 3, 4, 6, 8, 10, 12): participant_id, arm,
    week, hamd_total, baseline, chg, baseline_crp_mg_l. The week-12 infliximab-minus-placebo
    change is `-effect_per_log_crp * (log crp - log crossing_mg_l)`: zero at `crossing_mg_l`,
    infliximab better above it (the published moderation). The improvement builds up as
    1 - exp(-week / time_constant_weeks); residuals are AR(1) in weeks. Weeks 3 and 10 are
    missing by design in the published proportions, and subjects drop out (monotone) at the
    published arm-specific rates. Arms alternate (1:1).
    """
    rng = np.random.default_rng(seed)
    weeks = np.asarray((0, *PROTOCOL_WEEKS), dtype=float)
    n = n_subjects
    arm = np.where(np.arange(n) % 2 == 1, active, control)
    on_active = arm == active
    crp = np.round(np.exp(_CRP_LOG_MU + _CRP_LOG_SIGMA * rng.standard_normal(n)).clip(0.1, 60.0), 2)
    baseline = np.clip(np.rint(24.0 + 4.0 * rng.standard_normal(n)), 14, 40)
    effect_12 = -effect_per_log_crp * (np.log(crp) - np.log(crossing_mg_l))
    change_12 = placebo_change_week_12 + np.where(on_active, effect_12, 0.0) + change_sd * rng.standard_normal(n)
    shape = (1 - np.exp(-weeks / time_constant_weeks)) / (1 - np.exp(-12.0 / time_constant_weeks))
    # AR(1) in weeks, zero at baseline (the baseline score is the observed one).
    z = rng.standard_normal((n, len(weeks)))
    resid = np.zeros((n, len(weeks)))
    for j in range(1, len(weeks)):
        rho = residual_weekly_rho ** (weeks[j] - weeks[j - 1])
        prev = resid[:, j - 1] if j > 1 else rng.standard_normal(n) * residual_sd
        resid[:, j] = rho * prev + np.sqrt(1 - rho * rho) * residual_sd * z[:, j]
    totals = np.clip(np.rint(baseline[:, None] + change_12[:, None] * shape[None, :] + resid), 0, 52)
    totals[:, 0] = baseline
    present = np.ones((n, len(weeks)), dtype=bool)
    for week, share in _PRESENT_SHARE.items():
        present[:, list(weeks).index(week)] = rng.random(n) < share
    dropout_rate = np.where(on_active, _DROPOUT_ACTIVE, _DROPOUT_CONTROL)
    drops = rng.random(n) < dropout_rate
    last = np.where(drops, rng.integers(1, len(weeks) - 1, n), len(weeks) - 1)
    present &= np.arange(len(weeks))[None, :] <= last[:, None]
    ids, cols = np.nonzero(present)
    frame = pd.DataFrame(
        {
            "participant_id": [f"S{i + 1:05d}" for i in ids],
            "arm": arm[ids],
            "week": weeks[cols].astype(int),
            "hamd_total": totals[ids, cols],
            "baseline": baseline[ids],
            "baseline_crp_mg_l": crp[ids],
        }
    )
    frame["chg"] = frame["hamd_total"] - frame["baseline"]
    return frame
