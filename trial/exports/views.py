"""The export pages: choose datasets and a format (made by a worker as an export job, followed on
the job's page), the codebook (HTML and CSV), API tokens, and the single-dataset CSV downloads kept
from the first export version."""

from __future__ import annotations

from typing import Any

import pandas as pd
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from analysis import frames
from analysis import services as analysis_services
from trial.access import Capability, CapabilityRequiredMixin
from trial.core.views import submit_once
from trial.exports import selectors, services
from trial.exports.formats import FORMATS, neutralise_formulas
from trial.exports.forms import ExportForm, TokenCreateForm


class ExportPageView(CapabilityRequiredMixin, View):
    """Choose datasets and a format; the bundle is made by a worker (an export job), and the user is
    taken to the job's page to follow it and download the ZIP."""

    capability = Capability.EXPORT
    template_name = "exports/index.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, ExportForm(user=request.user))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ExportForm(request.POST, user=request.user)
        if not form.is_valid():
            return self._render(request, form, status=400)

        def job_request() -> str:
            job = services.export_job_request(
                by=request.user,
                fmt=form.cleaned_data["format"],
                datasets=form.cleaned_data["datasets"],
                include_arm=form.cleaned_data.get("include_arm", False),
            )
            return reverse("exports:job", kwargs={"pk": job.pk})

        try:
            return submit_once(request, form, job_request)
        except services.ExportError as exc:
            form.add_error(None, str(exc))
            return self._render(request, form, status=400)

    def _render(self, request: HttpRequest, form: ExportForm, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "formats": FORMATS,
            "state": services.database_state(),
            "jobs": selectors.export_jobs_of(request.user)[: selectors.RECENT_JOBS],
        }
        return render(request, self.template_name, context, status=status)


class ExportJobView(CapabilityRequiredMixin, View):
    """One export job: its progress bar while it runs, the download link when done, the reason if it failed."""

    capability = Capability.EXPORT

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = selectors.export_job_get(user=request.user, pk=pk)
        return render(request, "exports/job.html", {"job": job, "formats": FORMATS})


class ExportJobStatusView(CapabilityRequiredMixin, View):
    """The job's progress as JSON, polled by the job page's progress bar."""

    capability = Capability.EXPORT

    def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        job = selectors.export_job_get(user=request.user, pk=pk)
        return JsonResponse(
            {
                "status": job.status,
                "status_label": job.get_status_display(),
                "step": job.step,
                "done": job.progress_done,
                "total": job.progress_total,
                "percent": job.percent,
                "finished": job.finished,
            }
        )


class ExportJobDownloadView(CapabilityRequiredMixin, View):
    """The finished bundle, as a download (checked and logged by the service)."""

    capability = Capability.EXPORT

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        try:
            job, path = services.export_job_download(by=request.user, pk=pk)
        except services.ExportError as exc:
            messages.error(request, str(exc))
            return redirect("exports:job", pk=pk)
        return FileResponse(path.open("rb"), as_attachment=True, filename=job.filename, content_type="application/zip")


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
    """The user's own API tokens: create (shown once), list, revoke. Every role that uses the API
    (the export roles, and the data-entry roles for the write endpoints) has this page."""

    capability = Capability.USE_API_TOKENS

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
