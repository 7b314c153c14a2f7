"""Reads of analysis runs, with the blind applied: a blinded user never sees an unblinded run."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from analysis.models import AnalysisRun
from trial import blinding
from trial.access import Capability, can


def analysis_runs_visible_to(*, user: Any) -> QuerySet[AnalysisRun]:
    """Every run of a kind the user may read, whoever requested it: a statistician hands a run over
    to colleagues, and the DSMB reads the unblinded statistician's closed report.

    - blinded (pooled) runs: every analysis role;
    - unblinded (by-arm) runs: only roles that trial.blinding lets see every arm AND that hold a
      by-arm analysis capability; anyone else (even the requester after a role change) sees none.
    """
    qs = AnalysisRun.objects.select_related("requested_by")
    if not can(user, Capability.POOLED_ANALYSIS):
        return qs.none()
    by_arm_reader = blinding.is_unblinded_role(user) and (
        can(user, Capability.FINAL_ANALYSIS) or can(user, Capability.DSMB_CLOSED_REPORT)
    )
    return qs if by_arm_reader else qs.filter(unblinded=False)


def analysis_run_get(*, user: Any, pk: int) -> AnalysisRun:
    """One visible run, else 404: a run the user may not see does not exist for them."""
    try:
        return analysis_runs_visible_to(user=user).get(pk=pk)
    except AnalysisRun.DoesNotExist as exc:
        raise Http404("No such analysis run.") from exc


def analysis_run_status(*, run: AnalysisRun) -> dict[str, Any]:
    """What the progress bar shows: stage and percent, never the worker's process id."""
    finished = run.status in (AnalysisRun.Status.DONE, AnalysisRun.Status.FAILED)
    return {
        "status": run.status,
        "status_label": run.get_status_display(),
        "stage": run.stage,
        "progress": 100 if finished else run.progress,
        "finished": finished,
    }
