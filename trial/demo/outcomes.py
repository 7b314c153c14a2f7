"""Ratings over the course: HAM-D-17 totals and item scores, and CGI-S.

The HAM-D model is the shared trial shape (`analysis.stats.trial_shape`, `TrialShape.mean_change`):
baseline plus an improvement both arms share, built up over the first weeks, plus an arm- and
hs-CRP-dependent difference that grows linearly to the end of treatment, each participant's own
spread, and AR(1)-like residuals (protocol.md, Statistical analysis plan).
Item ranges and the CGI-S range come from the protocol.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from analysis.stats.trial_shape import TrialShape
from trial.demo.draws import BoolArray, FloatArray, IntArray, ar1_from_zero

# Nobody realistic scores above the mid-40s, whatever the instrument's maximum (52).
_REALISTIC_MAX_TOTAL: Final = 44

# HAM-D item profile: share of each item's maximum scored by a typical participant with
# treatment-resistant depression (depressed mood and work high, insight and suicide low).
_HAMD_ITEM_FILL: Final = (
    0.70, 0.40, 0.18, 0.60, 0.65, 0.50, 0.72, 0.22, 0.20,
    0.55, 0.40, 0.35, 0.70, 0.55, 0.15, 0.25, 0.10,
)  # fmt: skip
_HAMD_ITEM_PROFILE_SD = 0.5  # per-participant item propensity, stable across visits
_ITEM_LOGIT_FILL: Final = np.log(np.array(_HAMD_ITEM_FILL) / (1 - np.array(_HAMD_ITEM_FILL)))

# Table 1: CGI-S 4.8 (0.6) vs 4.8 (0.8).
_CGI_AT_HAMD_24 = 4.8
_CGI_NOISE_SD = 0.4


def hamd_totals(
    *,
    baseline: FloatArray,
    log_crp: FloatArray,
    on_active: BoolArray,
    week: FloatArray,
    change_z: FloatArray,
    residual_z: FloatArray,
    shape: TrialShape,
    item_max_total: int,
) -> IntArray:
    """HAM-D totals, participants x visits; the first visit (baseline) is `baseline` itself."""
    mean = shape.mean_change(log_crp=log_crp, on_active=on_active, week=week)
    residual = ar1_from_zero(residual_z, week, shape.residual_sd, shape.residual_weekly_rho)
    totals = np.clip(
        np.rint(
            baseline[:, None]
            + mean
            + (shape.spread(on_active) * change_z)[:, None] * shape.build_up(week)[None, :]
            + residual
        ),
        0,
        min(_REALISTIC_MAX_TOTAL, item_max_total),
    ).astype(np.int64)
    totals[:, 0] = baseline.astype(np.int64)
    return totals


def hamd_items(
    totals: IntArray,
    *,
    item_max: tuple[int, ...],
    suicide_item_index: int,
    suicidal_ideation_score: int,
    item_profile: FloatArray,
    slot_uniforms: FloatArray,
    item3_at_baseline: IntArray,
) -> IntArray:
    """Split each total into item scores that respect every item's range (Instruments).

    Item k owns `item_max[k]` "slots" and its score is how many are chosen. Choosing `total` of
    the slots by weighted sampling without replacement (Gumbel top-k) gives item scores within
    range that sum exactly to the total, vectorised over all visits.
    """
    slot_item = np.repeat(np.arange(len(item_max)), item_max)
    slot_rank = np.concatenate([np.arange(m) for m in item_max])
    item_first_slot = np.concatenate([[0], np.cumsum(item_max)[:-1]])
    log_weight = _ITEM_LOGIT_FILL[None, :] + _HAMD_ITEM_PROFILE_SD * item_profile  # n x items
    u = np.clip(slot_uniforms, 1e-12, 1 - 1e-12)
    keys = log_weight[:, None, slot_item] - np.log(-np.log(u))  # n x visits x slots
    suicide_slot = slot_item == suicide_item_index
    # Baseline item 3 repeats the screening score; afterwards it stays below the exclusion
    # threshold (Eligibility), since active suicidal ideation would end participation.
    forced = suicide_slot[None, :] & (slot_rank[None, :] < item3_at_baseline[:, None])
    barred = suicide_slot[None, :] & ~forced
    keys[:, 0, :] = np.where(forced, np.inf, np.where(barred, -np.inf, keys[:, 0, :]))
    keys[:, 1:, suicide_slot & (slot_rank >= suicidal_ideation_score - 1)] = -np.inf
    order = np.argsort(-keys, axis=2, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(keys.shape[2]), order.shape), axis=2)
    chosen = (rank < totals[:, :, None]).astype(np.int64)
    return np.add.reduceat(chosen, item_first_slot, axis=2)


def cgi_from_hamd(hamd: FloatArray, noise: FloatArray, cgi_range: tuple[int, int]) -> IntArray:
    """CGI-S that tracks HAM-D: 4.8 at a HAM-D of 24 (Table 1), 1 (normal) at 0.

    The power curve gives ~0.7 SD at baseline and CGI 2-3 at remission; scores stay within the
    protocol's CGI-S range (Instruments).
    """
    raw = 1 + (_CGI_AT_HAMD_24 - 1) * (np.maximum(hamd, 0) / 24) ** 0.8
    return np.clip(np.rint(raw + _CGI_NOISE_SD * noise), *cgi_range).astype(np.int64)
