"""Analysis run pages: list, request, detail. Thin: parse, call one service or selector, render."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from analysis import report, selectors, services
from analysis.forms import AnalysisRunRequestForm, PowerSimulationForm
from analysis.models import AnalysisRun
from trial.access import Capability, CapabilityRequiredMixin, can
from trial.core.views import submit_once


class RunListView(CapabilityRequiredMixin, View):
    capability = Capability.POOLED_ANALYSIS

    def get(self, request: HttpRequest) -> HttpResponse:
        runs = selectors.analysis_runs_visible_to(user=request.user)[:200]
        can_request = bool(services.analysis_kinds_allowed(request.user))
        can_power = services.power_simulation_allowed(request.user)
        return render(request, "analysis/list.html", {"runs": runs, "can_request": can_request, "can_power": can_power})


class RunRequestView(CapabilityRequiredMixin, View):
    capability = Capability.POOLED_ANALYSIS

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AnalysisRunRequestForm(allowed=services.analysis_kinds_allowed(request.user))
        return render(request, "analysis/request.html", {"form": form, "final_refusal": self.final_refusal()})

    def final_refusal(self) -> str | None:
        return services.final_analysis_refusal() if can(self.request.user, Capability.FINAL_ANALYSIS) else None

    def post(self, request: HttpRequest) -> HttpResponse:
        kind = request.POST.get("kind", "")
        if kind in AnalysisRun.Kind.values:
            # A kind the role may not request is refused outright (403), not shown as a form error.
            services.analysis_run_check_allowed(kind=kind, user=request.user)
        form = AnalysisRunRequestForm(request.POST, allowed=services.analysis_kinds_allowed(request.user))
        if form.is_valid():

            def run_request() -> str:
                run = services.analysis_run_request(kind=form.cleaned_data["kind"], by=request.user)
                return reverse("analysis:detail", kwargs={"pk": run.pk})

            return submit_once(request, form, run_request)
        return render(request, "analysis/request.html", {"form": form, "final_refusal": self.final_refusal()})


class RunDetailView(CapabilityRequiredMixin, View):
    capability = Capability.POOLED_ANALYSIS

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = selectors.analysis_run_get(user=request.user, pk=pk)
        context = report.report_context(run) if run.status == AnalysisRun.Status.DONE else {"run": run}
        return render(request, "analysis/detail.html", context)


class RunStatusView(CapabilityRequiredMixin, View):
    """The run's stage and progress as JSON, polled by the run page's progress bar."""

    capability = Capability.POOLED_ANALYSIS

    def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        run = selectors.analysis_run_get(user=request.user, pk=pk)
        return JsonResponse(selectors.analysis_run_status(run=run))


class RunReportView(CapabilityRequiredMixin, View):
    """The self-contained printable HTML report, as a download."""

    capability = Capability.POOLED_ANALYSIS

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = services.analysis_run_download(by=request.user, pk=pk, what="report.html")
        response = HttpResponse(report.report_html(run), content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="stratum-run-{run.pk}-report.html"'
        return response


class RunBundleView(CapabilityRequiredMixin, View):
    """The ZIP bundle: report, every table as CSV, figures, the exact dataset, manifest.json."""

    capability = Capability.POOLED_ANALYSIS

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = services.analysis_run_download(by=request.user, pk=pk, what="bundle.zip")
        response = HttpResponse(report.bundle_zip(run), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="stratum-run-{run.pk}.zip"'
        return response


class PowerSimulationRequestView(CapabilityRequiredMixin, View):
    """Request a power simulation for an hs-CRP-enriched follow-up trial (by-arm assumptions:
    unblinded roles only; analysis.services.power_simulation_allowed decides, also before lock)."""

    capability = Capability.FINAL_ANALYSIS

    def get(self, request: HttpRequest) -> HttpResponse:
        self.check_allowed()
        return render(request, "analysis/power_request.html", {"form": PowerSimulationForm()})

    def check_allowed(self) -> None:
        if not services.power_simulation_allowed(self.request.user):
            raise PermissionDenied("Your role may not run the power simulation now: it uses the by-arm model fit.")

    def post(self, request: HttpRequest) -> HttpResponse:
        from analysis.powersim import power_simulation_request

        self.check_allowed()
        form = PowerSimulationForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data

            def run_request() -> str:
                run = power_simulation_request(
                    by=request.user,
                    sizes=data["sizes"],
                    crp_threshold_mg_l=data["crp_threshold_mg_l"],
                    n_sims=data["n_sims"],
                )
                return reverse("analysis:detail", kwargs={"pk": run.pk})

            return submit_once(request, form, run_request)
        return render(request, "analysis/power_request.html", {"form": form})
