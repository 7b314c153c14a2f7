"""Per-subject end points derived from long HAM-D data (protocol, "End points").

Input: one row per subject x visit with the visit week and the HAM-D-17 total.
"""

from __future__ import annotations

import pandas as pd

# Protocol "End points": response is a >= 50% reduction from baseline at ANY visit.
RESPONSE_REDUCTION = 0.5
# Protocol "End points": remission is HAM-D <= 7 at week 12.
REMISSION_CUTOFF = 7
REMISSION_WEEK = 12


def derive_responders(
    data: pd.DataFrame,
    *,
    subject: str,
    week: str,
    score: str,
    baseline_week: float = 0,
    reduction: float = RESPONSE_REDUCTION,
) -> pd.DataFrame:
    """One row per subject: baseline, best (largest) relative reduction after baseline, responder.

    Subjects without a baseline or without any post-baseline score get responder = <NA>, so the
    caller decides (ITT usually counts them as non-responders); a baseline of 0 cannot be
    reduced by a fraction and is rejected.
    """
    rows = data.dropna(subset=[score])
    base = rows.loc[rows[week] == baseline_week].groupby(subject)[score].first()
    if (base <= 0).any():
        raise ValueError(f"baseline {score} must be positive for a relative reduction")
    post = rows.loc[rows[week] > baseline_week].groupby(subject)[score].min()
    subjects = pd.Index(sorted(set(data[subject].dropna())), name=subject)
    out = pd.DataFrame(index=subjects)
    out["baseline"] = base.reindex(subjects)
    out["best_reduction"] = (out["baseline"] - post.reindex(subjects)) / out["baseline"]
    # Compare with a tiny tolerance: 12 -> 6 is exactly 50% but float division may say 0.4999..
    responder = out["best_reduction"] >= reduction - 1e-12
    out["responder"] = responder.astype("boolean").mask(out["best_reduction"].isna())
    return out.reset_index()


def derive_remitters(
    data: pd.DataFrame,
    *,
    subject: str,
    week: str,
    score: str,
    at_week: float = REMISSION_WEEK,
    cutoff: float = REMISSION_CUTOFF,
    missing_as_failure: bool = False,
) -> pd.DataFrame:
    """One row per subject: score at `at_week` and remitter (score <= cutoff).

    A missing week-12 score gives remitter = <NA>, or False with `missing_as_failure=True`.
    """
    rows = data.dropna(subset=[score])
    at = rows.loc[rows[week] == at_week].groupby(subject)[score].first()
    subjects = pd.Index(sorted(set(data[subject].dropna())), name=subject)
    out = pd.DataFrame(index=subjects)
    out["score_at_week"] = at.reindex(subjects)
    remitter = (out["score_at_week"] <= cutoff).astype("boolean")
    remitter = remitter.mask(out["score_at_week"].isna())
    if missing_as_failure:
        remitter = remitter.fillna(False)
    out["remitter"] = remitter
    return out.reset_index()
