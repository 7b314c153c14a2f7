"""CSV exports of the analysis datasets, built by analysis.frames (which applies the blind)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from analysis import frames
from trial import blinding
from trial.core.roles import Role, has_role

EXPORT_ROLES = (
    Role.ADMINISTRATOR,
    Role.DATA_MANAGER,
    Role.STATISTICIAN_BLINDED,
    Role.STATISTICIAN_UNBLINDED,
    Role.DSMB,
)


@login_required
def export_dataset(request: HttpRequest, dataset: str) -> HttpResponse:
    if not has_role(request.user, *EXPORT_ROLES):
        raise PermissionDenied
    build = frames.DATASETS.get(dataset)
    if build is None:
        raise Http404
    # The arm is exported only when explicitly asked for, and only to a role that may see it.
    include_arm = request.GET.get("unblinded") == "1"
    if include_arm and not blinding.is_unblinded_role(request.user):
        raise PermissionDenied
    df = build(user=request.user, include_arm=include_arm)
    response = HttpResponse(df.to_csv(index=False), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{dataset}.csv"'
    return response
