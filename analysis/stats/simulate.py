"""Seeded simulation of trial-shaped repeated-measures data (benchmarks, df and SAP tests).

`simulate_crp_trial` draws from the shared trial shape (`analysis.stats.trial_shape`), the same
assumptions the demo-data generator uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.stats.trial_shape import REFERENCE_SHAPE, TrialShape

# Post-baseline HAM-D weeks of the reference protocol (Schedule of assessments). The statistics
# package reads no protocol file, so callers with another schedule pass their own weeks; a test
# checks these against protocols/infliximab_trd.toml.
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


def simulate_crp_trial(
    n_subjects: int,
    *,
    seed: int = 0,
    shape: TrialShape = REFERENCE_SHAPE,
    weeks: Sequence[int] = (0, *PROTOCOL_WEEKS),
    crossing_mg_l: float | None = None,
    effect_per_log_crp: float | None = None,
    placebo_change_week_12: float | None = None,
    change_sd: float | None = None,
    residual_sd: float | None = None,
    residual_weekly_rho: float | None = None,
    time_constant_weeks: float | None = None,
    active: str = "IFX",
    control: str = "PBO",
) -> pd.DataFrame:
    """A trial shaped like the reference protocol, in the SAP's long layout.

    One row per subject x assessed week of `weeks` (baseline first): participant_id, arm, week,
    hamd_total, baseline, chg, baseline_crp_mg_l. The trial's shape (baseline distributions,
    effect, noise, missing-by-design weeks, dropout) is `shape`, the one the demo generator also
    uses; the keyword arguments override single values of it. The mean course is
    `TrialShape.mean_change`: the end-of-treatment active-minus-control change is zero at
    `crossing_mg_l` and the active arm better above it (the published moderation), its
    hs-CRP-dependent part growing linearly over the weeks; the shared improvement builds up as
    1 - exp(-week / time_constant_weeks); residuals are AR(1) in weeks. Weeks the
    shape marks as assessed by only some are missing in those proportions, and subjects drop out
    (monotone) at the arm-specific rates. Arms alternate (1:1). `change_sd` is the control arm's
    spread; the active arm's is the shape's `active_change_sd`.
    """
    s = replace(
        shape,
        crossing_mg_l=_given(crossing_mg_l, shape.crossing_mg_l),
        effect_per_log_crp=_given(effect_per_log_crp, shape.effect_per_log_crp),
        control_change_at_end=_given(placebo_change_week_12, shape.control_change_at_end),
        change_sd=_given(change_sd, shape.change_sd),
        residual_sd=_given(residual_sd, shape.residual_sd),
        residual_weekly_rho=_given(residual_weekly_rho, shape.residual_weekly_rho),
        time_constant_weeks=_given(time_constant_weeks, shape.time_constant_weeks),
    )
    week_list = [int(w) for w in weeks]
    if len(week_list) < 2 or week_list[0] != 0:
        raise ValueError("weeks must start at baseline (week 0) and have a visit after it")
    rng = np.random.default_rng(seed)
    week = np.asarray(week_list, dtype=float)
    n, v = n_subjects, len(week_list)
    arm = np.where(np.arange(n) % 2 == 1, active, control)
    on_active = arm == active
    crp = np.round(
        np.exp(s.crp_log_mu + s.crp_log_sigma * rng.standard_normal(n)).clip(s.crp_floor_mg_l, s.crp_cap_mg_l), 2
    )
    baseline = np.clip(
        np.rint(s.baseline_hamd_mean + s.baseline_hamd_sd * rng.standard_normal(n)),
        s.baseline_hamd_min,
        s.baseline_hamd_max,
    )
    # The mean course and the spread are the shape's own (`TrialShape.mean_change`), as in the demo.
    mean = s.mean_change(log_crp=np.log(crp), on_active=on_active, week=week)
    individual = (s.spread(on_active) * rng.standard_normal(n))[:, None] * s.build_up(week)[None, :]
    # AR(1) in weeks, zero at baseline (the baseline score is the observed one).
    z = rng.standard_normal((n, v))
    resid = np.zeros((n, v))
    for j in range(1, v):
        rho = s.residual_weekly_rho ** (week[j] - week[j - 1])
        prev = resid[:, j - 1] if j > 1 else rng.standard_normal(n) * s.residual_sd
        resid[:, j] = rho * prev + np.sqrt(1 - rho * rho) * s.residual_sd * z[:, j]
    totals = np.clip(np.rint(baseline[:, None] + mean + individual + resid), 0, 52)
    totals[:, 0] = baseline
    present = np.ones((n, v), dtype=bool)
    for j, w in enumerate(week_list):
        if (share := s.share_assessed(w)) < 1.0:
            present[:, j] = rng.random(n) < share
    dropout_rate = np.where(on_active, s.dropout_active, s.dropout_control)
    drops = rng.random(n) < dropout_rate
    last = np.where(drops, rng.integers(1, v - 1, n) if v > 2 else 1, v - 1)
    present &= np.arange(v)[None, :] <= last[:, None]
    ids, cols = np.nonzero(present)
    frame = pd.DataFrame(
        {
            "participant_id": [f"S{i + 1:05d}" for i in ids],
            "arm": arm[ids],
            "week": week[cols].astype(int),
            "hamd_total": totals[ids, cols],
            "baseline": baseline[ids],
            "baseline_crp_mg_l": crp[ids],
        }
    )
    frame["chg"] = frame["hamd_total"] - frame["baseline"]
    return frame


def _given(value: float | None, default: float) -> float:
    return default if value is None else value
