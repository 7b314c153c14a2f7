"""The export pages: choose datasets and a format, the codebook (HTML and CSV), API tokens, and the
single-dataset CSV downloads kept from the first export version."""

from __future__ import annotations

from typing import Any

import pandas as pd
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from analysis import frames
from analysis import services as analysis_services
from trial.access import Capability, CapabilityRequiredMixin
from trial.exports import selectors, services
from trial.exports.formats import FORMATS, neutralise_formulas
from trial.exports.forms import ExportForm, TokenCreateForm


class ExportPageView(CapabilityRequiredMixin, View):
    capability = Capability.EXPORT
    template_name = "exports/index.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, ExportForm(user=request.user))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ExportForm(request.POST, user=request.user)
        if not form.is_valid():
            return self._render(request, form, status=400)
        try:
            bundle = services.export_bundle(
                by=request.user,
                fmt=form.cleaned_data["format"],
                datasets=form.cleaned_data["datasets"],
                include_arm=form.cleaned_data.get("include_arm", False),
            )
        except services.ExportError as exc:
            form.add_error(None, str(exc))
            return self._render(request, form, status=400)
        response = HttpResponse(bundle.content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{bundle.filename}"'
        return response

    def _render(self, request: HttpRequest, form: ExportForm, status: int = 200) -> HttpResponse:
        context = {"form": form, "formats": FORMATS, "state": services.database_state()}
        return render(request, self.template_name, context, status=status)


class CodebookView(CapabilityRequiredMixin, View):
    capability = Capability.EXPORT

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "exports/codebook.html", {"rows": selectors.codebook_for(request.user)})


class CodebookCsvView(CapabilityRequiredMixin, View):
    capability = Capability.EXPORT

    def get(self, request: HttpRequest) -> HttpResponse:
        df = pd.DataFrame(selectors.codebook_for(request.user))
        response = HttpResponse(neutralise_formulas(df).to_csv(index=False), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="codebook.csv"'
        return response


class ApiTokensView(CapabilityRequiredMixin, View):
    """The user's own API tokens: create (shown once), list, revoke."""

    capability = Capability.EXPORT

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, TokenCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if "revoke" in request.POST:
            try:
                services.api_token_revoke(by=request.user, token_id=int(request.POST["revoke"]))
            except (ValueError, services.ExportError):
                messages.error(request, "No such token of yours.")
            else:
                messages.success(request, "Token revoked.")
            return redirect("exports:tokens")
        form = TokenCreateForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        try:
            token, key = services.api_token_create(by=request.user, name=form.cleaned_data["name"])
        except services.ExportError as exc:
            form.add_error("name", str(exc))
            return self._render(request, form, status=400)
        return self._render(request, TokenCreateForm(), new_key=key, new_token=token)

    def _render(self, request: HttpRequest, form: TokenCreateForm, status: int = 200, **extra: Any) -> HttpResponse:
        context = {"form": form, "tokens": selectors.api_tokens_of(request.user), **extra}
        return render(request, "exports/tokens.html", context, status=status)


class ExportDatasetView(CapabilityRequiredMixin, View):
    """One analysis dataset as CSV (the first export version's URLs, kept working for scripts)."""

    capability = Capability.EXPORT

    def get(self, request: HttpRequest, dataset: str) -> HttpResponse:
        if dataset not in frames.DATASETS:
            raise Http404
        # The arm is exported only when explicitly asked for, and only to a role that may see it.
        include_arm = request.GET.get("unblinded") == "1"
        df = analysis_services.dataset_export(by=request.user, dataset=dataset, include_arm=include_arm)
        response = HttpResponse(neutralise_formulas(df).to_csv(index=False), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{dataset}.csv"'
        return response
