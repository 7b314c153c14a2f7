"""Analysis run pages: list, request, detail. Thin: parse, call one service or selector, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from analysis import selectors, services
from analysis.forms import AnalysisRunRequestForm
from analysis.models import AnalysisRun
from trial.core.roles import has_role


def _require_analysis_role(request: HttpRequest) -> None:
    if not has_role(request.user, *services.ANALYSIS_ROLES):
        raise PermissionDenied("Your role does not use analysis runs.")


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    _require_analysis_role(request)
    runs = selectors.analysis_runs_visible_to(user=request.user)[:200]
    can_request = bool(services.analysis_kinds_allowed(request.user))
    return render(request, "analysis/list.html", {"runs": runs, "can_request": can_request})


@login_required
@require_http_methods(["GET", "POST"])
def run_request(request: HttpRequest) -> HttpResponse:
    _require_analysis_role(request)
    allowed = services.analysis_kinds_allowed(request.user)
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        if kind in AnalysisRun.Kind.values:
            # A kind the role may not request is refused outright (403), not shown as a form error.
            services.analysis_run_check_allowed(kind=kind, user=request.user)
        form = AnalysisRunRequestForm(request.POST, allowed=allowed)
        if form.is_valid():
            run = services.analysis_run_request(kind=form.cleaned_data["kind"], by=request.user)  # type: ignore[arg-type]
            return redirect("analysis:detail", pk=run.pk)
    else:
        form = AnalysisRunRequestForm(allowed=allowed)
    return render(request, "analysis/request.html", {"form": form})


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_analysis_role(request)
    run = selectors.analysis_run_get(user=request.user, pk=pk)
    return render(request, "analysis/detail.html", {"run": run, "result": run.result})
