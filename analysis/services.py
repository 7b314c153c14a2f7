"""Writes for analysis runs. The work itself happens in a Celery task (analysis.tasks)."""

from __future__ import annotations

import socket

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from analysis import frames
from analysis.models import AnalysisRun


def analysis_run_request(*, kind: str, by: AbstractBaseUser) -> AnalysisRun:
    from analysis.tasks import analysis_run_execute_task

    run = AnalysisRun.objects.create(kind=kind, requested_by=by)
    # Queue only after commit, so the worker can see the row it is asked to run.
    transaction.on_commit(lambda: analysis_run_execute_task.delay(run.pk))
    return run


def analysis_run_execute(*, run_id: int) -> AnalysisRun:
    run = AnalysisRun.objects.get(pk=run_id)
    run.status = AnalysisRun.Status.RUNNING
    run.worker = socket.gethostname()
    run.save(update_fields=["status", "worker"])
    try:
        if run.kind != AnalysisRun.Kind.DATASET_SUMMARY:
            raise NotImplementedError(f"Analysis kind {run.kind} is not available yet.")
        # Pooled over arms: what a blinded statistician may see during the trial.
        df = frames.hamd_long_frame(user=run.requested_by)
        by_week = df.groupby("week")["hamd_total"].agg(["size", "mean"]) if len(df) else None
        run.result = {
            "participants": int(df["participant_id"].nunique()) if len(df) else 0,
            "observations": len(df),
            "by_week": {} if by_week is None else {
                str(week): {"n": int(row["size"]), "mean_hamd": round(float(row["mean"]), 2)} for week, row in by_week.iterrows()
            },
        }
        run.status = AnalysisRun.Status.DONE
    except Exception as exc:  # noqa: BLE001 - the run records any failure for the user to see
        run.status = AnalysisRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
    run.finished_at = timezone.now()
    run.save()
    return run
