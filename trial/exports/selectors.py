"""Reads for the export pages: the codebook, a user's API tokens and export jobs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from trial import blinding
from trial.access import Capability, can
from trial.core.roles import Role, user_roles
from trial.exports.datasets import datasets_for
from trial.exports.dictionary import codebook_rows
from trial.exports.models import ApiToken, ExportJob
from trial.participants import scope


def codebook_for(user: Any) -> list[dict[str, str]]:
    """The codebook of the datasets this user may export (the pharmacy one only for unblinded roles)."""
    return codebook_rows([d.code for d in datasets_for(user)])


def api_tokens_of(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


# The jobs listed on the exports page: the user's own, newest first.
RECENT_JOBS = 20


def export_jobs_of(user: Any) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(requested_by=user).order_by("-requested_at", "-pk")


def export_job_get(*, user: Any, pk: int) -> ExportJob:
    """One export job this user may see and download now, else 404 (a job they may not have does not
    exist for them, so its page tells a blinded user nothing about an unblinded one).

    The requester's own job; or, for the administrator or a superuser, another user's job whose
    content they could have exported themselves: every site, datasets they may take, and never an
    unblinded job for a blinded user (ICH E6(R3) 4.2: the blind holds whoever made the file). The
    blind is asked again at every request: a user blinded since the job ran no longer gets its file.
    """
    job = ExportJob.objects.select_related("requested_by").filter(pk=pk).first()
    if job is None or not can(user, Capability.EXPORT):
        raise Http404("No such export.")
    if job.unblinded and not blinding.is_unblinded_role(user):
        raise Http404("No such export.")
    if job.requested_by_id == user.pk:
        return job
    administrator = user.is_superuser or Role.ADMINISTRATOR in user_roles(user)
    allowed = {d.code for d in datasets_for(user)}
    if administrator and scope.sees_all_sites(user) and set(job.datasets or allowed) <= allowed:
        return job
    raise Http404("No such export.")
