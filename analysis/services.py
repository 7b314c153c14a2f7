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
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from analysis import frames
from analysis.models import AnalysisRun
from analysis.stats import multiarm, sap
from analysis.stats.errors import StatsError
from analysis.tasks import ANALYSIS_RUN_TIME_LIMIT_S, analysis_run_execute_task
from trial import blinding
from trial.access import Capability, can, require
from trial.closeout.selectors import database_locked
from trial.core.access_log import access_event_record
from trial.core.models import AccessEvent
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
    # 21 CFR 11.10(e): who ran which analysis; a run by arm is an unblinding (ICH E6(R3) 4.2).
    access_event_record(kind=AccessEvent.Kind.ANALYSIS_RUN, user=user, target=f"analysis run {run.pk}", detail=kind)
    if run.unblinded:
        access_event_record(
            kind=AccessEvent.Kind.UNBLINDING, user=user, target=f"analysis run {run.pk}", detail=f"{kind} by arm"
        )
    # Queue only after commit, so the worker can see the row it is asked to run.
    transaction.on_commit(lambda: analysis_run_execute_task.delay(run.pk))
    return run


def dataset_export(*, by: Actor, dataset: str, include_arm: bool = False) -> pd.DataFrame:
    """One dataset for download, recorded in the access log (21 CFR 11.10(e)): who took which data
    out of the system, and whether it held the arm (an unblinding, ICH E6(R3) 4.2)."""
    user = require(by, Capability.EXPORT)
    if include_arm and not blinding.is_unblinded_role(user):
        raise PermissionDenied("This dataset cannot include the treatment arm for a blinded user.")
    df = frames.DATASETS[dataset](user=user, include_arm=include_arm)
    detail = {"rows": len(df), "with_arm": include_arm}
    access_event_record(kind=AccessEvent.Kind.EXPORT, user=user, target=f"{dataset}.csv", detail=detail)
    if include_arm:
        access_event_record(
            kind=AccessEvent.Kind.UNBLINDING, user=user, target=f"{dataset}.csv", detail="export by arm"
        )
    return df


def _claimant_is_gone(worker: str) -> bool:
    """True when the process that claimed a run ran on this host and no longer exists."""
    host, _, pid = worker.rpartition(" pid ")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def analysis_run_claim(*, run_id: int, redelivered: bool = False) -> AnalysisRun | None:
    """Take a run for this worker, under a row lock; None when there is nothing to do.

    A queued run is taken. A finished run (done or failed) is never taken again, so a run started
    twice cannot overwrite its result. A running run is taken again only when its worker was lost:
    the broker delivers the message again (`redelivered`), or its worker process on this host is
    gone. Otherwise another worker is on it, and this one returns at once.
    """
    with transaction.atomic():
        run = AnalysisRun.objects.select_for_update().select_related("requested_by").get(pk=run_id)
        if run.status == AnalysisRun.Status.RUNNING and (redelivered or _claimant_is_gone(run.worker)):
            run.error = f"Restarted: the worker {run.worker} was lost."
        elif run.status != AnalysisRun.Status.QUEUED:
            return None
        run.status = AnalysisRun.Status.RUNNING
        run.worker = f"{socket.gethostname()} pid {os.getpid()}"
        run.started_at = timezone.now()
        run.save(update_fields=["status", "worker", "started_at", "error"])
    return run


def analysis_run_execute(*, run_id: int, redelivered: bool = False) -> AnalysisRun:
    run = analysis_run_claim(run_id=run_id, redelivered=redelivered)
    if run is None:
        return AnalysisRun.objects.get(pk=run_id)
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
        run.error = ""
    except Exception as exc:  # the run records any failure (the soft time limit too) for the user to see
        run.status = AnalysisRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
    run.finished_at = timezone.now()
    with transaction.atomic():
        # Write the outcome only if this worker still holds the run (the sweep may have failed it).
        current = AnalysisRun.objects.select_for_update().get(pk=run.pk)
        if current.status == AnalysisRun.Status.RUNNING and current.worker == run.worker:
            run.save()
        else:
            run = current
    return run


# A run still running this long after it started has outlived its hard time limit: its worker is gone.
RUN_STALE_AFTER = timedelta(seconds=ANALYSIS_RUN_TIME_LIMIT_S + 5 * 60)
# A run queued this long ago never reached a worker (the message was lost).
QUEUED_STALE_AFTER = timedelta(hours=6)


def analysis_runs_sweep(*, now: Any = None) -> int:
    """Fail, with the reason, every run left running past its limit or queued and never started.
    Returns how many were failed."""
    now = now or timezone.now()
    failed = 0
    stale = AnalysisRun.objects.filter(
        status=AnalysisRun.Status.RUNNING, started_at__lt=now - RUN_STALE_AFTER
    ) | AnalysisRun.objects.filter(status=AnalysisRun.Status.QUEUED, requested_at__lt=now - QUEUED_STALE_AFTER)
    for run_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            run = AnalysisRun.objects.select_for_update().get(pk=run_id)
            if run.status == AnalysisRun.Status.RUNNING and run.started_at and run.started_at < now - RUN_STALE_AFTER:
                run.error = (
                    f"Stopped: still running {int(RUN_STALE_AFTER.total_seconds() // 60)} minutes after it started "
                    f"on {run.worker}, past its time limit; the worker was lost. Request the analysis again."
                )
            elif run.status == AnalysisRun.Status.QUEUED and run.requested_at < now - QUEUED_STALE_AFTER:
                run.error = "Stopped: queued for over 6 hours and never started. Request the analysis again."
            else:
                continue
            run.status = AnalysisRun.Status.FAILED
            run.finished_at = now
            run.save(update_fields=["status", "error", "finished_at"])
            failed += 1
    return failed


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
    frame = hamd[["participant_id", "week", "hamd_total", "baseline", "chg"]]
    result = sap.pooled_analysis(frame).to_dict()
    # A count only: which participants were unblinded is itself not for a blinded reader.
    result["code_broken"] = frames.code_broken_count()
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

    # The contrasts and the multiplicity procedure are the protocol file's ([analysis]).
    config = protocol()
    plan = config.analysis
    active, control = plan.contrasts[0], plan.control_arm
    hamd = frames.hamd_long_frame(user=user, include_arm=True)
    participants = frames.participants_frame(user=user, include_arm=True)
    crp, crp_from_screening = _baseline_crp(user, participants)
    randomized = hamd.loc[hamd["arm"].notna()].copy()
    randomized["baseline_crp_mg_l"] = randomized["participant_id"].map(crp)
    frame = randomized[["participant_id", "arm", "week", "hamd_total", "baseline", "chg", "baseline_crp_mg_l"]]
    if len(plan.contrasts) == 1:
        result = sap.final_summary(frame, active=active, control=control)
    else:
        # Several active arms: the two-arm SAP once per contrast (its arm and the control only), and
        # all arms in one model with the adjusted p-values (analysis.stats.multiarm).
        # No unstructured LS-means per contrast: over a long schedule (10 visits, 55 covariance
        # parameters) on one pair of arms the fit is neither estimable nor quick.
        by_contrast = {
            arm: sap.final_summary(
                frame.loc[frame["arm"].isin([arm, control])], active=arm, control=control, lsmeans_by_week=False
            )
            for arm in plan.contrasts
        }
        result = dict(by_contrast[active])
        result["by_contrast"] = by_contrast
        try:
            result["multiarm"] = multiarm.multiarm_analysis(
                frame,
                control=control,
                contrasts=plan.contrasts,
                multiplicity=plan.multiplicity,
                alpha=plan.alpha,
                end_week=config.weeks,
            ).to_dict()
        except (StatsError, ValueError, np.linalg.LinAlgError) as exc:
            result["multiarm"] = {"error": f"{type(exc).__name__}: {exc}"}
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
