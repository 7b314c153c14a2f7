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

from analysis import frames, provenance
from analysis.models import AnalysisRun
from analysis.stats import multiarm, report_tables, sap
from analysis.stats.endpoints import derive_responders
from analysis.stats.errors import StatsError
from analysis.tasks import ANALYSIS_RUN_TIME_LIMIT_S, analysis_run_execute_task
from trial import blinding
from trial.access import Capability, can, require
from trial.closeout.selectors import database_locked
from trial.core.access_log import access_event_record
from trial.core.models import AccessEvent
from trial.core.types import Actor

_UNBLINDED_KINDS = frozenset({AnalysisRun.Kind.MMRM_FINAL, AnalysisRun.Kind.DSMB_CLOSED, AnalysisRun.Kind.POWER_SIM})
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


def power_simulation_allowed(user: Actor | None) -> bool:
    """The power simulation draws from the by-arm moderation fit, so it is exactly as unblinded as
    that fit: the final one after database lock, or the DSMB's closed-session one before it."""
    return AnalysisRun.Kind.MMRM_FINAL in analysis_kinds_allowed(user) or (
        AnalysisRun.Kind.DSMB_CLOSED in analysis_kinds_allowed(user)
    )


def analysis_run_check_allowed(*, kind: str, user: Actor | None) -> None:
    if kind not in AnalysisRun.Kind.values:  # noqa: PD011 - Django choices, not pandas
        raise ValueError(f"Unknown analysis kind {kind!r}.")
    if kind == AnalysisRun.Kind.POWER_SIM:
        if not power_simulation_allowed(user):
            raise PermissionDenied("Your role may not run the power simulation: it uses the by-arm model fit.")
        return
    if kind not in analysis_kinds_allowed(user):
        refusal = final_analysis_refusal() if kind == AnalysisRun.Kind.MMRM_FINAL else None
        if refusal and can(user, Capability.FINAL_ANALYSIS) and blinding.is_unblinded_role(user):
            raise PermissionDenied(refusal)
        raise PermissionDenied("Your role may not request this analysis.")


def analysis_run_request(*, kind: str, by: Actor, parameters: dict[str, Any] | None = None) -> AnalysisRun:
    # Refuse before anything is written or queued.
    user = require(by, Capability.POOLED_ANALYSIS)
    analysis_run_check_allowed(kind=kind, user=user)
    run = AnalysisRun(kind=kind, requested_by=user, unblinded=kind in _UNBLINDED_KINDS, parameters=parameters or {})
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
    if dataset == "adverse_events" and not blinding.may_see_adverse_events(user):
        # The same blind as the adverse-event pages and the export engine (protocol file, [blinding]).
        raise PermissionDenied("Adverse events are not shown to your role.")
    df = frames.DATASETS[dataset](user=user, include_arm=include_arm)
    detail = {"rows": len(df), "with_arm": include_arm}
    access_event_record(kind=AccessEvent.Kind.EXPORT, user=user, target=f"{dataset}.csv", detail=detail)
    if include_arm:
        access_event_record(
            kind=AccessEvent.Kind.UNBLINDING, user=user, target=f"{dataset}.csv", detail="export by arm"
        )
    return df


def analysis_run_download(*, by: Actor, pk: int, what: str) -> AnalysisRun:
    """A finished run's report or bundle, recorded in the access log (21 CFR 11.10(e): who took
    which output out of the system; a by-arm one is an unblinding, ICH E6(R3) 4.2)."""
    from analysis.selectors import analysis_run_get

    user = require(by, Capability.POOLED_ANALYSIS)
    run = analysis_run_get(user=user, pk=pk)
    if run.status != AnalysisRun.Status.DONE:
        raise PermissionDenied("This run has not finished: there is nothing to download yet.")
    access_event_record(kind=AccessEvent.Kind.EXPORT, user=user, target=f"analysis run {run.pk}", detail=what)
    if run.unblinded:
        access_event_record(
            kind=AccessEvent.Kind.UNBLINDING, user=user, target=f"analysis run {run.pk}", detail=f"{what} by arm"
        )
    return run


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


def _stage(run: AnalysisRun, stage: str, progress: int) -> None:
    """Record the stage the run has reached, for the page's progress bar (a plain update: an
    analysis run is not a clinical record, and the run's row is held by this worker)."""
    run.stage, run.progress = stage, progress
    AnalysisRun.objects.filter(pk=run.pk).update(stage=stage, progress=progress)


def analysis_run_execute(*, run_id: int, redelivered: bool = False) -> AnalysisRun:
    run = analysis_run_claim(run_id=run_id, redelivered=redelivered)
    if run is None:
        return AnalysisRun.objects.get(pk=run_id)
    try:
        analysis_run_check_allowed(kind=run.kind, user=run.requested_by)
        _stage(run, "Reading the analysis dataset", 5)
        if run.kind == AnalysisRun.Kind.DATASET_SUMMARY:
            result, datasets = _dataset_summary(run)
        elif run.kind == AnalysisRun.Kind.MMRM_POOLED:
            result, datasets = _mmrm_pooled(run)
        elif run.kind in (AnalysisRun.Kind.MMRM_FINAL, AnalysisRun.Kind.DSMB_CLOSED):
            result, datasets = _mmrm_final(run)
            if run.kind == AnalysisRun.Kind.DSMB_CLOSED:
                result["label"] = DSMB_CLOSED_LABEL
        elif run.kind == AnalysisRun.Kind.POWER_SIM:
            from analysis.powersim import power_simulation_fan_out

            # The chunks' chord finishes the run (analysis.powersim.power_simulation_finish).
            return power_simulation_fan_out(run)
        else:  # pragma: no cover - every Kind is handled above
            raise NotImplementedError(f"Analysis kind {run.kind} is not available.")
        _stage(run, "Recording provenance", 95)
        run.provenance = provenance.run_provenance(run=run, datasets=datasets)
        result["datasets"] = datasets
        run.result = result
        run.status = AnalysisRun.Status.DONE
        run.stage, run.progress = "Done", 100
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
POWER_SIM_STALE_AFTER = timedelta(hours=6)
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
            # A power simulation is many chunk tasks, each within the time limit, that may queue for
            # long behind each other: its run is stale only much later.
            limit = POWER_SIM_STALE_AFTER if run.kind == AnalysisRun.Kind.POWER_SIM else RUN_STALE_AFTER
            if run.status == AnalysisRun.Status.RUNNING and run.started_at and run.started_at < now - limit:
                run.error = (
                    f"Stopped: still running {int(limit.total_seconds() // 60)} minutes after it started "
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


def _dataset_summary(run: AnalysisRun) -> tuple[dict[str, Any], dict[str, str]]:
    # Pooled over arms: what a blinded statistician may see during the trial.
    df = frames.hamd_long_frame(user=run.requested_by)
    by_week = df.groupby("week")["hamd_total"].agg(["size", "mean"]) if len(df) else None
    result = {
        "participants": int(df["participant_id"].nunique()) if len(df) else 0,
        "observations": len(df),
        "by_week": {}
        if by_week is None
        else {
            str(week): {"n": int(row["size"]), "mean_hamd": round(float(row["mean"]), 2)}
            for week, row in by_week.iterrows()
        },
    }
    return result, {"hamd": provenance.frame_csv(df)}


def _code_broken_ids(participants: pd.DataFrame) -> list[str]:
    if not len(participants):
        return []
    return sorted(participants.loc[participants["code_broken"].astype(bool), "participant_id"].astype(str))


def _mmrm_pooled(run: AnalysisRun) -> tuple[dict[str, Any], dict[str, str]]:
    """Blinded: frames without the arm, the SAP's pooled analysis (time effect, missingness)."""
    user = run.requested_by
    hamd = frames.hamd_long_frame(user=user)
    frame = hamd[["participant_id", "week", "hamd_total", "baseline", "chg"]]
    visits = frames.visits_frame(user=user)
    due = visits.loc[visits["due"].astype(bool), ["participant_id", "week"]] if len(visits) else None
    _stage(run, "Fitting the pooled MMRM", 30)
    result = sap.pooled_analysis(frame, due=due).to_dict()
    # A count only: which participants were unblinded is itself not for a blinded reader.
    result["code_broken"] = frames.code_broken_count()
    participants = frames.participants_frame(user=user)
    result["enrolment"] = sap._json_safe(report_tables.enrolment_retention(participants))
    queries = frames.queries_frame(user=user)
    _section(
        result,
        "data_quality",
        lambda: report_tables.data_quality(visits, queries, today=timezone.localdate()),
    )
    return result, {
        "hamd": provenance.frame_csv(frame),
        "visits_due": provenance.frame_csv(due if due is not None else pd.DataFrame()),
    }


def _baseline_crp(user: Any, participants: pd.DataFrame, labs: pd.DataFrame) -> tuple[pd.Series, int]:
    """Baseline (week 0) hs-CRP per participant; the screening value where week 0 is missing.
    Returns the series and how many came from screening."""
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


def _section(out: dict[str, Any], name: str, compute: Any) -> None:
    """One report section; one that these data cannot support becomes {"error": ...} instead of
    failing the whole run, so every section that can be estimated is still reported."""
    try:
        value = compute()
    except (StatsError, ValueError, KeyError, np.linalg.LinAlgError) as exc:
        out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return
    out[name] = sap._json_safe(value)


def sap_by_arm_frame(user: Any, participants: pd.DataFrame, labs: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, int]:
    """The SAP's long frame with the arm and baseline hs-CRP (randomized participants only), each
    participant's baseline hs-CRP, and how many of those came from screening. Unblinded callers only."""
    hamd = frames.hamd_long_frame(user=user, include_arm=True)
    crp, crp_from_screening = _baseline_crp(user, participants, labs)
    randomized = hamd.loc[hamd["arm"].notna()].copy()
    randomized["baseline_crp_mg_l"] = randomized["participant_id"].map(crp)
    frame = randomized[["participant_id", "arm", "week", "hamd_total", "baseline", "chg", "baseline_crp_mg_l"]]
    return frame, crp, crp_from_screening


def _mmrm_final(run: AnalysisRun) -> tuple[dict[str, Any], dict[str, str]]:
    """Unblinded: frames with the arm, the whole SAP and the report's tables."""
    from trial.protocol.selectors import protocol

    user = run.requested_by
    # The contrasts and the multiplicity procedure are the protocol file's ([analysis]).
    config = protocol()
    plan = config.analysis
    active, control = plan.contrasts[0], plan.control_arm
    participants = frames.participants_frame(user=user, include_arm=True)
    labs = frames.labs_long_frame(user=user)
    visits = frames.visits_frame(user=user)
    events = frames.adverse_events_frame(user=user)
    frame, crp, crp_from_screening = sap_by_arm_frame(user, participants, labs)
    _stage(run, "Fitting the primary and moderation MMRMs", 15)
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
    arm_of = participants.set_index("participant_id")["arm"]
    on_arm = participants.loc[participants["arm"].notna()].copy()
    crp_labs = labs.loc[labs["analyte"] == _CRP_ANALYTE, ["participant_id", "week", "value"]]
    analysed = set(frame.loc[(frame["week"] > 0) & frame["chg"].notna(), "participant_id"])
    result["data"] = {
        "participants": int(frame["participant_id"].nunique()),
        "observations": len(frame),
        "participants_by_arm": {str(k): int(v) for k, v in frame.groupby("arm")["participant_id"].nunique().items()},
        "baseline_crp_from_screening": crp_from_screening,
        "code_broken": len(broken),
        "code_broken_participants": broken,
    }
    _stage(run, "CONSORT flow and Table 1", 55)
    _section(result, "consort", lambda: report_tables.consort_counts(participants, visits, analysed, (active, control)))
    base_hamd = frame.loc[frame["week"] == 0].set_index("participant_id")["hamd_total"]
    baseline = on_arm.assign(
        baseline_hamd=on_arm["participant_id"].map(base_hamd), baseline_crp_mg_l=on_arm["participant_id"].map(crp)
    )
    _section(result, "table1", lambda: report_tables.table1(baseline, (active, control)))
    _stage(run, "Response and remission by hs-CRP", 65)
    _section(
        result,
        "endpoints",
        lambda: {
            outcome: report_tables.endpoint_by_cutoffs(frame, outcome=outcome, active=active, control=control)
            for outcome in ("response", "remission")
        },
    )
    _stage(run, "Longitudinal hs-CRP MMRM and biomarkers", 75)
    _section(result, "crp_mmrm", lambda: report_tables.crp_mmrm(crp_labs, arm_of, active=active))
    responders = derive_responders(frame, subject="participant_id", week="week", score="hamd_total")
    responders = responders.assign(responder=responders["responder"].fillna(False).astype(bool))
    _section(
        result,
        "biomarkers",
        lambda: report_tables.biomarker_comparisons(crp_labs, responders, arm_of, active=active, control=control),
    )
    _stage(run, "Adverse events and data counts", 85)
    _section(result, "ae_table", lambda: report_tables.adverse_event_table(events, on_arm, (active, control)))
    _section(result, "data_counts", lambda: report_tables.data_counts(frame, visits, participants))
    datasets = {
        "hamd": provenance.frame_csv(frame),
        "participants": provenance.frame_csv(participants),
        "hs_crp": provenance.frame_csv(crp_labs),
        "visits": provenance.frame_csv(visits),
        "adverse_events": provenance.frame_csv(events),
    }
    return result, datasets
