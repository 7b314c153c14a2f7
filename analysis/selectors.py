"""Reads of analysis runs, with the blind applied: a blinded user never sees an unblinded run."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from analysis.models import AnalysisRun
from trial import blinding
from trial.access import Capability, can

# Besides their own runs, these roles see every final (unblinded) run.


def analysis_runs_visible_to(*, user: Any) -> QuerySet[AnalysisRun]:
    """Own runs; for the unblinded statistician and DSMB also every final run. Unblinded runs are
    excluded for anyone whom trial.blinding does not let see the arms (even their own, e.g.
    after a role change)."""
    qs = AnalysisRun.objects.select_related("requested_by")
    if not blinding.is_unblinded_role(user):
        return qs.filter(requested_by=user, unblinded=False)
    if can(user, Capability.FINAL_ANALYSIS):
        return qs.filter(Q(requested_by=user) | Q(kind__in=[AnalysisRun.Kind.MMRM_FINAL, AnalysisRun.Kind.DSMB_CLOSED]))
    return qs.filter(requested_by=user)


def analysis_run_get(*, user: Any, pk: int) -> AnalysisRun:
    """One visible run, else 404: a run the user may not see does not exist for them."""
    try:
        return analysis_runs_visible_to(user=user).get(pk=pk)
    except AnalysisRun.DoesNotExist as exc:
        raise Http404("No such analysis run.") from exc
