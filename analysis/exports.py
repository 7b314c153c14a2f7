"""CSV exports of the analysis datasets, built by analysis.frames (which applies the blind)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.views import View

from analysis import frames
from trial import blinding
from trial.access import Capability, CapabilityRequiredMixin


class ExportDatasetView(CapabilityRequiredMixin, View):
    capability = Capability.EXPORT

    def get(self, request: HttpRequest, dataset: str) -> HttpResponse:
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
