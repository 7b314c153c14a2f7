"""Blood results over the course: hs-CRP and the ELISA analytes (TNF, sTNFR1, sTNFR2).

Which analytes are reported, and which run in duplicate, comes from the protocol file; the levels
are assumptions: plausible plasma levels, and infliximab lowering hs-CRP at every visit after
baseline (protocol.md, Published results).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from analysis.stats.trial_shape import TrialShape
from trial.demo.draws import FloatArray, ar1_from_zero

CRP: Final = "hs_crp"

# hs-CRP course: flat on average under control, lower once the active drug is on board.
_CRP_BASELINE_LOG_SD = 0.2  # screening to baseline variation (up to a month apart)
_CRP_LOG_SD = 0.3
_CRP_WEEKLY_CORRELATION = 0.8
_ACTIVE_CRP_LOG_DROP = 0.6  # ~45% lower once infliximab is on board

# TNF and soluble receptors (protocol.md, Statistical analysis plan: exploratory). Plausible
# plasma levels in pg/mL; the infliximab shifts are illustrative, not published. Every one is
# drawn whether or not the protocol measures it, so the random streams do not depend on it.
BIOMARKERS: Final[tuple[str, ...]] = ("tnf", "stnfr1", "stnfr2")
_BIOMARKER_MEDIAN: Final = (2.5, 1200.0, 3000.0)
_BIOMARKER_LOG_SD: Final = (0.35, 0.25, 0.30)
_BIOMARKER_CRP_CORRELATION: Final = (0.3, 0.3, 0.3)
_BIOMARKER_VISIT_LOG_SD = 0.12
_BIOMARKER_ACTIVE_LOG_SHIFT: Final = (-0.25, -0.10, -0.15)
_BIOMARKER_FLOOR: Final = (0.5, 200.0, 500.0)
_BIOMARKER_DECIMALS: Final = (2, 1, 1)
# Schedule of assessments: ELISA in duplicate, CV <= 10%. The cap leaves room for rounding.
_DUPLICATE_CV_SD, _DUPLICATE_CV_CAP = 0.035, 0.08


def crp_course(
    *,
    log_crp: FloatArray,
    drug_on_board: FloatArray,
    week: FloatArray,
    baseline_z: FloatArray,
    visit_z: FloatArray,
    shape: TrialShape,
) -> FloatArray:
    """hs-CRP (mg/L), participants x visits, around the screening value.

    The -variance/2 terms keep the arithmetic mean flat under control.
    """
    noise = ar1_from_zero(visit_z, week, _CRP_LOG_SD, _CRP_WEEKLY_CORRELATION)
    noise_var = _CRP_LOG_SD**2 * (1 - _CRP_WEEKLY_CORRELATION ** (2 * week))
    log_course = (
        log_crp[:, None]
        + _CRP_BASELINE_LOG_SD * baseline_z
        - _CRP_BASELINE_LOG_SD**2 / 2
        + noise
        - noise_var / 2
        - _ACTIVE_CRP_LOG_DROP * drug_on_board
    )
    return np.maximum(np.exp(log_course), shape.crp_floor_mg_l).round(2)


def biomarker_courses(
    *,
    log_crp: FloatArray,
    drug_on_board: FloatArray,
    level_z: FloatArray,
    visit_z: FloatArray,
    cv_z: FloatArray,
    sign_u: FloatArray,
    shape: TrialShape,
) -> FloatArray:
    """participants x visits x biomarker x (value, replicate 1, replicate 2)."""
    n, v = drug_on_board.shape
    k_all = len(BIOMARKERS)
    z_crp = (log_crp - shape.crp_log_mu) / shape.crp_log_sigma
    visit_noise = visit_z.reshape(n, k_all, v)
    cv = np.minimum(np.abs(_DUPLICATE_CV_SD * cv_z), _DUPLICATE_CV_CAP).reshape(n, k_all, v)
    sign = np.where(sign_u < 0.5, -1.0, 1.0).reshape(n, k_all, v)
    out = np.empty((n, v, k_all, 3))
    for k in range(k_all):
        rho = _BIOMARKER_CRP_CORRELATION[k]
        person = _BIOMARKER_LOG_SD[k] * (rho * z_crp + math.sqrt(1 - rho**2) * level_z[:, k])
        log_value = (
            math.log(_BIOMARKER_MEDIAN[k])
            + person[:, None]
            + _BIOMARKER_VISIT_LOG_SD * visit_noise[:, k, :]
            + _BIOMARKER_ACTIVE_LOG_SHIFT[k] * drug_on_board
        )
        value = np.maximum(np.exp(log_value), _BIOMARKER_FLOOR[k])
        # Two replicates whose CV (SD / mean) is `cv`, so their mean is the value.
        half_spread = sign[:, k, :] * cv[:, k, :] / math.sqrt(2)
        decimals = _BIOMARKER_DECIMALS[k]
        replicate_1 = (value * (1 + half_spread)).round(decimals)
        replicate_2 = (value * (1 - half_spread)).round(decimals)
        out[:, :, k, 0] = ((replicate_1 + replicate_2) / 2).round(decimals + 1)
        out[:, :, k, 1] = replicate_1
        out[:, :, k, 2] = replicate_2
    return out


def visit_labs(
    *,
    analytes: tuple[str, ...],
    duplicates: frozenset[str],
    crp: float,
    biomarkers: list[list[float]],
) -> dict[str, tuple[float, float | None, float | None]]:
    """One visit's results for the protocol's analytes: (value, replicate 1, replicate 2)."""
    labs: dict[str, tuple[float, float | None, float | None]] = {}
    for analyte in analytes:
        if analyte == CRP:
            labs[analyte] = (crp, None, None)
        elif analyte in BIOMARKERS:
            value, replicate_1, replicate_2 = biomarkers[BIOMARKERS.index(analyte)]
            labs[analyte] = (value, replicate_1, replicate_2) if analyte in duplicates else (value, None, None)
    return labs
