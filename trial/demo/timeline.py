"""When things happen: visit dates within the protocol's windows, missed visits, and dropout.

Weeks, windows and infusion weeks come from the protocol file; missing-by-design weeks and dropout
rates are the shared trial shape (`analysis.stats.trial_shape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from analysis.stats.trial_shape import TrialShape
from trial.demo.draws import BoolArray, FloatArray, IntArray, pick
from trial.demo.facts import ProtocolFacts

# Most visits happen on their due day; the others anywhere in the protocol's window.
_ON_DUE_DAY_SHARE: Final = 0.6

_DESIGN_MISSED_REASON: Final[dict[int, str]] = {
    3: "not scheduled (burden)",
    10: "not scheduled (assessment paused)",
}
_OTHER_DESIGN_MISSED_REASON: Final = "not scheduled"
_SPORADIC_MISS_RATE = 0.02  # ordinary no-shows at non-infusion visits
_SPORADIC_MISSED_REASON = "participant unavailable"

# protocol.md, Published results: who withdrew and why (reasons as the End of study CRF words
# them); the active arm loses more to adverse events. (reason, control, active).
_WITHDRAWAL_REASONS: Final[tuple[tuple[str, float, float], ...]] = (
    ("lack of efficacy", 0.35, 0.20),
    ("adverse event", 0.05, 0.35),
    ("lost to follow-up", 0.25, 0.15),
    ("withdrew consent", 0.25, 0.20),
    ("protocol violation", 0.10, 0.10),
)


def visit_dates(
    *, baseline_ord: IntArray, facts: ProtocolFacts, delay_days: IntArray, on_day_u: FloatArray, offset_u: FloatArray
) -> tuple[IntArray, IntArray]:
    """Due and actual visit dates (ordinals), participants x visits.

    Due dates count from baseline (Schedule of assessments). A delayed infusion (Design: delayed
    until symptoms resolve) moves the visits after it, as the site reschedules them from the day
    it was given. Infusion visits happen on their due day, or as many days later as they were
    delayed (so a long delay can fall outside the window); other visits fall on their due day
    or elsewhere in the protocol's window, never on or before the previous visit.
    """
    weeks = np.asarray(facts.weeks, dtype=np.int64)
    before = np.array([sv.window_before_days for sv in facts.visits], dtype=np.int64)
    after = np.array([sv.window_after_days for sv in facts.visits], dtype=np.int64)
    infusion = np.array([sv.infusion for sv in facts.visits])
    earlier_delays = np.cumsum(delay_days, axis=1) - delay_days
    due = baseline_ord[:, None] + 7 * weeks + earlier_delays
    in_window = -before + np.floor(offset_u * (before + after + 1)).astype(np.int64)
    offset = np.where(infusion, delay_days, np.where(on_day_u < _ON_DUE_DAY_SHARE, 0, in_window))
    actual = due + offset
    for j in range(1, actual.shape[1]):
        actual[:, j] = np.maximum(actual[:, j], actual[:, j - 1] + 1)
    return due, actual


def missed_reasons(
    *, design_u: FloatArray, sporadic_u: FloatArray, facts: ProtocolFacts, shape: TrialShape
) -> list[list[str | None]]:
    """Why each visit was missed (None when attended), participants x visits."""
    weeks = facts.weeks
    # Baseline, infusion visits and the end-of-treatment visit are always attended.
    can_be_missed = [w != 0 and w not in facts.infusion_weeks and w != weeks[-1] for w in weeks]
    assessed = [shape.share_assessed(w) for w in weeks]
    reasons: list[list[str | None]] = []
    for row_design, row_sporadic in zip(design_u.tolist(), sporadic_u.tolist(), strict=True):
        row: list[str | None] = []
        for j, w in enumerate(weeks):
            reason: str | None = None
            if can_be_missed[j] and assessed[j] < 1.0 and row_design[j] >= assessed[j]:
                reason = _DESIGN_MISSED_REASON.get(w, _OTHER_DESIGN_MISSED_REASON)
            elif can_be_missed[j] and row_sporadic[j] < _SPORADIC_MISS_RATE:
                reason = _SPORADIC_MISSED_REASON
            row.append(reason)
        reasons.append(row)
    return reasons


def withdrawal_reasons(facts: ProtocolFacts) -> tuple[str, ...]:
    """The withdrawal reasons the generator uses: those the protocol's End of study CRF accepts."""
    reasons = tuple(r for r, _, _ in _WITHDRAWAL_REASONS if r in facts.end_of_study_reasons)
    if not reasons:
        raise ValueError("the protocol's end-of-study reasons include none the generator can give for a withdrawal")
    return reasons


def withdrawals(
    *,
    withdrawal_u: FloatArray,
    visit_ord: IntArray,
    on_active: BoolArray,
    facts: ProtocolFacts,
    shape: TrialShape,
) -> tuple[BoolArray, IntArray, IntArray, list[str]]:
    """Who withdraws, their last attended visit, the withdrawal date (ordinal) and the reason.

    The participant attends up to some visit before the last, then withdraws before the next.
    """
    n, v = visit_ord.shape
    dropout = np.where(on_active, shape.dropout_active, shape.dropout_control)
    withdraws = withdrawal_u[:, 0] < dropout
    last_visit_index = np.minimum(np.floor(withdrawal_u[:, 1] * (v - 1)), v - 2).astype(np.int64)
    if v == 1:
        withdraws[:] = False
        last_visit_index[:] = 0
    rows = np.arange(n)
    last_ord = visit_ord[rows, last_visit_index]
    next_ord = visit_ord[rows, np.minimum(last_visit_index + 1, v - 1)]
    gap = np.maximum(next_ord - last_ord - 1, 0)
    withdrawal_ord = last_ord + 1 + np.floor(withdrawal_u[:, 2] * gap).astype(np.int64)
    reasons = _reason_table(facts)
    options = tuple(r for r, _, _ in reasons)
    reason = [
        pick(options, _normalised([a if active else c for _, c, a in reasons]), u)
        for active, u in zip(on_active.tolist(), withdrawal_u[:, 3].tolist(), strict=True)
    ]
    return withdraws, last_visit_index, withdrawal_ord, reason


def _reason_table(facts: ProtocolFacts) -> tuple[tuple[str, float, float], ...]:
    allowed = set(withdrawal_reasons(facts))
    return tuple(row for row in _WITHDRAWAL_REASONS if row[0] in allowed)


def _normalised(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    # The full table already sums to one; dividing by a float sum of 0.999... would move the
    # boundaries that `pick` compares against.
    return list(weights) if abs(total - 1) < 1e-9 else [w / total for w in weights]
