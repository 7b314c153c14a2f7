"""CSV exports of the analysis datasets, built by analysis.frames (which applies the blind)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from django.http import Http404, HttpRequest, HttpResponse
from django.views import View

from analysis import frames, services
from trial.access import Capability, CapabilityRequiredMixin

# A spreadsheet treats a cell that starts with one of these as a formula (OWASP "CSV injection"):
# an adverse-event term typed as =HYPERLINK(...) would run in the data manager's spreadsheet.
# Such cells are exported with a leading apostrophe, which spreadsheets show as text (21 CFR
# 11.10(a): the exported copy must be accurate, not executable).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells only: numbers (a negative change from baseline) are written as numbers."""
    out = df.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_bool_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


class ExportDatasetView(CapabilityRequiredMixin, View):
    capability = Capability.EXPORT

    def get(self, request: HttpRequest, dataset: str) -> HttpResponse:
        if dataset not in frames.DATASETS:
            raise Http404
        # The arm is exported only when explicitly asked for, and only to a role that may see it.
        include_arm = request.GET.get("unblinded") == "1"
        df = services.dataset_export(by=request.user, dataset=dataset, include_arm=include_arm)
        response = HttpResponse(neutralise_formulas(df).to_csv(index=False), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{dataset}.csv"'
        return response
