"""Writes for analysis runs. The work itself happens in a Celery task (analysis.tasks).

Who may request what (protocol.md, "Design: Blinding"; the SAP has no interim analysis, so
during the trial only arm-free analyses exist):
- DATASET_SUMMARY and MMRM_POOLED (pooled over arms): blinded and unblinded statisticians, DSMB;
- MMRM_FINAL (by arm, the whole SAP): the unblinded statistician and the DSMB only, only if
  trial.blinding also says the user may see every arm, and only after database lock (the SAP's
  final analysis runs on locked data; ICH E9 5.1, ICH E6(R3) database lock);
- DSMB_CLOSED (the same by-arm model, labelled as the DSMB's closed-session report): the only
  by-arm output before lock, for the DSMB and the unblinded statistician only.
The check runs in analysis_run_request BEFORE anything is queued, and again in the task, because
the requester's roles may have changed while the run waited in the queue.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from analysis import frames
from analysis.models import AnalysisRun
from analysis.stats import sap
from analysis.tasks import analysis_run_execute_task
from trial import blinding
from trial.access import Capability, can, require
from trial.closeout.selectors import database_locked
from trial.core.types import Actor

_UNBLINDED_KINDS = frozenset({AnalysisRun.Kind.MMRM_FINAL, AnalysisRun.Kind.DSMB_CLOSED})
DSMB_CLOSED_LABEL = (
    "DSMB closed-session report: by treatment arm, on unlocked data, before database lock. For the DSMB "
    "and the unblinded statistician only; not the final analysis."
)


def final_analysis_refusal() -> str | None:
    """Why the final analysis cannot run now, or None once the database is locked."""
    if database_locked() is None:
        return (
            "The final analysis (by arm) runs only after database lock, on the locked data: the database is not "
            "locked yet. Before lock, the DSMB closed-session report is the only by-arm output."
        )
    return None


# protocol.md, "Schedule of assessments": hs-CRP analyte code of the protocol file.
_CRP_ANALYTE = "hs_crp"


def analysis_kinds_allowed(user: Actor | None) -> list[AnalysisRun.Kind]:
    """The kinds this user may request, in the order the form offers them."""
    kinds: list[AnalysisRun.Kind] = []
    if can(user, Capability.POOLED_ANALYSIS):
        kinds += [AnalysisRun.Kind.MMRM_POOLED, AnalysisRun.Kind.DATASET_SUMMARY]
    if can(user, Capability.FINAL_ANALYSIS) and blinding.is_unblinded_role(user) and final_analysis_refusal() is None:
        kinds.append(AnalysisRun.Kind.MMRM_FINAL)
    if can(user, Capability.DSMB_CLOSED_REPORT) and blinding.is_unblinded_role(user):
        kinds.append(AnalysisRun.Kind.DSMB_CLOSED)
    return kinds


def analysis_run_check_allowed(*, kind: str, user: Actor | None) -> None:
    if kind not in AnalysisRun.Kind.values:  # noqa: PD011 - Django choices, not pandas
        raise ValueError(f"Unknown analysis kind {kind!r}.")
    if kind not in analysis_kinds_allowed(user):
        refusal = final_analysis_refusal() if kind == AnalysisRun.Kind.MMRM_FINAL else None
        if refusal and can(user, Capability.FINAL_ANALYSIS) and blinding.is_unblinded_role(user):
            raise PermissionDenied(refusal)
        raise PermissionDenied("Your role may not request this analysis.")


def analysis_run_request(*, kind: str, by: Actor) -> AnalysisRun:
    # Refuse before anything is written or queued.
    user = require(by, Capability.POOLED_ANALYSIS)
    analysis_run_check_allowed(kind=kind, user=user)
    run = AnalysisRun(kind=kind, requested_by=user, unblinded=kind in _UNBLINDED_KINDS)
    run.full_clean()
    run.save()
    # Queue only after commit, so the worker can see the row it is asked to run.
    transaction.on_commit(lambda: analysis_run_execute_task.delay(run.pk))
    return run


def analysis_run_execute(*, run_id: int) -> AnalysisRun:
    run = AnalysisRun.objects.select_related("requested_by").get(pk=run_id)
    run.status = AnalysisRun.Status.RUNNING
    run.worker = f"{socket.gethostname()} pid {os.getpid()}"
    run.save(update_fields=["status", "worker"])
    try:
        analysis_run_check_allowed(kind=run.kind, user=run.requested_by)
        if run.kind == AnalysisRun.Kind.DATASET_SUMMARY:
            run.result = _dataset_summary(run.requested_by)
        elif run.kind == AnalysisRun.Kind.MMRM_POOLED:
            run.result = _mmrm_pooled(run.requested_by)
        elif run.kind == AnalysisRun.Kind.MMRM_FINAL:
            run.result = _mmrm_final(run.requested_by)
        elif run.kind == AnalysisRun.Kind.DSMB_CLOSED:
            run.result = _mmrm_final(run.requested_by) | {"label": DSMB_CLOSED_LABEL}
        else:  # pragma: no cover - every Kind is handled above
            raise NotImplementedError(f"Analysis kind {run.kind} is not available.")
        run.status = AnalysisRun.Status.DONE
    except Exception as exc:  # the run records any failure for the user to see
        run.status = AnalysisRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
    run.finished_at = timezone.now()
    run.save()
    return run


def _dataset_summary(user: Any) -> dict[str, Any]:
    # Pooled over arms: what a blinded statistician may see during the trial.
    df = frames.hamd_long_frame(user=user)
    by_week = df.groupby("week")["hamd_total"].agg(["size", "mean"]) if len(df) else None
    return {
        "participants": int(df["participant_id"].nunique()) if len(df) else 0,
        "observations": len(df),
        "by_week": {}
        if by_week is None
        else {
            str(week): {"n": int(row["size"]), "mean_hamd": round(float(row["mean"]), 2)}
            for week, row in by_week.iterrows()
        },
    }


def _code_broken_ids(participants: pd.DataFrame) -> list[str]:
    if not len(participants):
        return []
    return sorted(participants.loc[participants["code_broken"].astype(bool), "participant_id"].astype(str))


def _mmrm_pooled(user: Any) -> dict[str, Any]:
    """Blinded: frames without the arm, the SAP's pooled analysis (time effect, missingness)."""
    hamd = frames.hamd_long_frame(user=user)
    participants = frames.participants_frame(user=user)
    frame = hamd[["participant_id", "week", "hamd_total", "baseline", "chg"]]
    result = sap.pooled_analysis(frame).to_dict()
    # A count only: which participants were unblinded is itself not for a blinded reader.
    result["code_broken"] = len(_code_broken_ids(participants))
    return result


def _baseline_crp(user: Any, participants: pd.DataFrame) -> tuple[pd.Series, int]:
    """Baseline (week 0) hs-CRP per participant; the screening value where week 0 is missing.
    Returns the series and how many came from screening."""
    labs = frames.labs_long_frame(user=user)
    week0 = (
        labs.loc[(labs["analyte"] == _CRP_ANALYTE) & (labs["week"] == 0)]
        .dropna(subset=["value"])
        .groupby("participant_id")["value"]
        .first()
        if len(labs)
        else pd.Series(dtype=float)
    )
    screening = participants.set_index("participant_id")["screening_crp_mg_l"].astype(float)
    crp = week0.reindex(screening.index)
    from_screening = int((crp.isna() & screening.notna()).sum())
    return crp.fillna(screening).astype(float), from_screening


def _mmrm_final(user: Any) -> dict[str, Any]:
    """Unblinded: frames with the arm, the whole SAP (sap.final_summary)."""
    from trial.protocol.selectors import protocol

    arms = protocol().arms
    active = next(a.code for a in arms if a.active)
    control = next(a.code for a in arms if not a.active)
    hamd = frames.hamd_long_frame(user=user, include_arm=True)
    participants = frames.participants_frame(user=user, include_arm=True)
    crp, crp_from_screening = _baseline_crp(user, participants)
    randomized = hamd.loc[hamd["arm"].notna()].copy()
    randomized["baseline_crp_mg_l"] = randomized["participant_id"].map(crp)
    frame = randomized[["participant_id", "arm", "week", "hamd_total", "baseline", "chg", "baseline_crp_mg_l"]]
    result = sap.final_summary(frame, active=active, control=control)
    broken = _code_broken_ids(participants)
    result["data"] = {
        "participants": int(frame["participant_id"].nunique()),
        "observations": len(frame),
        "participants_by_arm": {str(k): int(v) for k, v in frame.groupby("arm")["participant_id"].nunique().items()},
        "baseline_crp_from_screening": crp_from_screening,
        "code_broken": len(broken),
        "code_broken_participants": broken,
    }
    return result
