"""Pages for randomization: allocate, see allocations, make the list, break the code. Thin: parse,
call one service or selector, render. Arms reach a template only as values from trial.blinding."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from trial import blinding
from trial.access import Capability, CapabilityRequiredMixin
from trial.core.views import submit_once
from trial.participants.models import Participant
from trial.protocol.selectors import protocol
from trial.randomization import selectors, services
from trial.randomization.forms import (
    CodeBreakDecideForm,
    CodeBreakRequestForm,
    CodeBreakReviewForm,
    ListGenerateForm,
    ListUploadForm,
)
from trial.randomization.generation import generate_list, list_random
from trial.randomization.models import CodeBreak, RandomizationList


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


class AllocationListView(CapabilityRequiredMixin, View):
    capability = Capability.VIEW_ALLOCATIONS

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = selectors.allocation_rows(user=request.user)
        return render(
            request,
            "randomization/allocations.html",
            {
                "rows": rows,
                "show_arm": blinding.is_unblinded_role(request.user),
            },
        )


class ListIndexView(CapabilityRequiredMixin, View):
    capability = Capability.MANAGE_LISTS

    def get(self, request: HttpRequest) -> HttpResponse:
        lists = RandomizationList.objects.order_by("-created_at")
        active = selectors.active_list()
        return render(
            request,
            "randomization/lists.html",
            {
                "lists": lists,
                "active": active,
                "use": selectors.stratum_use(active) if active else [],
            },
        )


class ListGenerateView(CapabilityRequiredMixin, View):
    """Everything is POST, so list parameters never reach a URL or an access log. "Preview" shows the
    balance and predictability of a sample list of this design; "Store" draws and stores a fresh
    list, whose own review is on its page before it is activated. No seed exists to carry from the
    preview to the stored list (ICH E9 2.3.3: the list must not be re-makeable by anyone)."""

    capability = Capability.MANAGE_LISTS

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "randomization/list_generate.html", {"form": ListGenerateForm(), "review": None})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ListGenerateForm(request.POST)
        if not form.is_valid():
            return render(request, "randomization/list_generate.html", {"form": form, "review": None})
        d = form.cleaned_data
        if "preview" in request.POST:
            return render(request, "randomization/list_generate.html", {"form": form, "review": self._preview(d)})

        def store() -> str:
            rl = services.randomization_list_create(
                by=request.user,
                per_stratum=d["per_stratum"],
                block_sizes=d["block_sizes"],
                name=d["name"],
                activate=d["activate"],
                stratify_by_site=d["stratify_by_site"],
            )
            messages.success(request, f"List {rl.name} stored; SHA-256 {rl.sha256}.")
            return reverse("randomization:list_detail", args=[rl.pk])

        try:
            return submit_once(request, form, store)
        except ValidationError as exc:
            return render(
                request,
                "randomization/list_generate.html",
                {"form": form, "review": None, "errors": _errors(exc)},
            )

    @staticmethod
    def _preview(d: dict[str, Any]) -> selectors.ListReview:
        config = protocol()
        entries = generate_list(
            strata=services.list_strata(config, by_site=d["stratify_by_site"]),
            arms=[a.code for a in config.arms],
            ratio=config.allocation_ratio,
            block_sizes=d["block_sizes"],
            per_stratum=d["per_stratum"],
            rng=list_random(),
        )
        return selectors.list_review(entries, block_sizes=d["block_sizes"])


class ListUploadView(CapabilityRequiredMixin, View):
    capability = Capability.MANAGE_LISTS

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "randomization/list_upload.html", {"form": ListUploadForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ListUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, "randomization/list_upload.html", {"form": form})
        try:
            text = form.cleaned_data["file"].read().decode("utf-8")
        except UnicodeDecodeError:
            return render(
                request, "randomization/list_upload.html", {"form": form, "errors": ["The file is not UTF-8 text."]}
            )

        def upload() -> str:
            rl = services.randomization_list_upload(
                by=request.user,
                csv_text=text,
                name=form.cleaned_data["name"],
                activate=form.cleaned_data["activate"],
                stratify_by_site=form.cleaned_data["stratify_by_site"],
            )
            messages.success(request, f"List {rl.name} uploaded; SHA-256 {rl.sha256}.")
            return reverse("randomization:list_detail", args=[rl.pk])

        try:
            return submit_once(request, form, upload)
        except ValidationError as exc:
            return render(request, "randomization/list_upload.html", {"form": form, "errors": _errors(exc)})


class ListDetailView(CapabilityRequiredMixin, View):
    capability = Capability.MANAGE_LISTS

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        rl = get_object_or_404(RandomizationList, pk=pk)
        entries = selectors.list_planned_entries(rl, user=request.user)
        return render(
            request,
            "randomization/list_detail.html",
            {
                "list": rl,
                "entries": entries,
                "review": selectors.list_review(entries, block_sizes=list(rl.block_sizes)),
                "digest_ok": services.list_intact(rl),
                "use": selectors.stratum_use(rl),
                "events": selectors.list_events(rl),
            },
        )


class ListActivateView(CapabilityRequiredMixin, View):
    capability = Capability.MANAGE_LISTS
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rl = get_object_or_404(RandomizationList, pk=pk)
        try:
            services.randomization_list_activate(randomization_list=rl, by=request.user)
            messages.success(request, f"List {rl.name} is now active.")
        except ValidationError as exc:
            for m in _errors(exc):
                messages.error(request, m)
        return HttpResponseRedirect(reverse("randomization:list_detail", args=[rl.pk]))


class CodeBreakListView(CapabilityRequiredMixin, View):
    capability = Capability.VIEW_CODE_BREAKS

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "randomization/code_breaks.html",
            {
                "code_breaks": selectors.code_breaks_for(user=request.user),
            },
        )


class CodeBreakRequestView(CapabilityRequiredMixin, View):
    capability = Capability.REQUEST_CODE_BREAK

    def get(self, request: HttpRequest, participant_pk: int) -> HttpResponse:
        participant = get_object_or_404(Participant.objects.active(), pk=participant_pk)
        return render(
            request,
            "randomization/code_break_request.html",
            {"participant": participant, "form": CodeBreakRequestForm()},
        )

    def post(self, request: HttpRequest, participant_pk: int) -> HttpResponse:
        participant = get_object_or_404(Participant.objects.active(), pk=participant_pk)
        form = CodeBreakRequestForm(request.POST)
        ctx: dict[str, Any] = {"participant": participant, "form": form}
        if not form.is_valid():
            return render(request, "randomization/code_break_request.html", ctx)
        data = {k: v for k, v in form.cleaned_data.items() if k != "submission_token"}

        def request_break() -> str:
            cb = services.code_break_request(participant=participant, by=request.user, **data)
            return reverse("randomization:code_break_detail", args=[cb.pk])

        try:
            return submit_once(request, form, request_break)
        except ValidationError as exc:
            ctx["errors"] = _errors(exc)
            return render(request, "randomization/code_break_request.html", ctx)


class CodeBreakDetailView(CapabilityRequiredMixin, View):
    capability = Capability.VIEW_CODE_BREAKS

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        cb = get_object_or_404(selectors.code_breaks_for(user=request.user), pk=pk)
        return render(
            request,
            "randomization/code_break_detail.html",
            {
                "cb": cb,
                # The arm, only if the blinding module says so: the requester of an approved or immediate break.
                "arm_label": blinding.arm_label(request.user, cb.participant)
                if cb.requested_by_id == request.user.pk
                else None,
                "can_decide": cb.status == CodeBreak.Status.REQUESTED and cb.requested_by_id != request.user.pk,
                "can_review": cb.needs_review and cb.requested_by_id != request.user.pk,
                "decide_form": CodeBreakDecideForm(),
                "review_form": CodeBreakReviewForm(),
            },
        )


class CodeBreakDecideView(CapabilityRequiredMixin, View):
    capability = Capability.DECIDE_CODE_BREAK
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cb = get_object_or_404(CodeBreak.objects.active(), pk=pk)
        form = CodeBreakDecideForm(request.POST)
        detail = reverse("randomization:code_break_detail", args=[cb.pk])
        if form.is_valid():

            def decide() -> str:
                services.code_break_decide(
                    code_break=cb,
                    by=request.user,
                    approve=form.cleaned_data["decision"] == "approve",
                    note=form.cleaned_data["note"],
                )
                messages.success(request, "Decision recorded.")
                return detail

            try:
                return submit_once(request, form, decide)
            except ValidationError as exc:
                for m in _errors(exc):
                    messages.error(request, m)
        return HttpResponseRedirect(detail)


class CodeBreakReviewView(CapabilityRequiredMixin, View):
    capability = Capability.DECIDE_CODE_BREAK
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cb = get_object_or_404(CodeBreak.objects.active(), pk=pk)
        form = CodeBreakReviewForm(request.POST)
        detail = reverse("randomization:code_break_detail", args=[cb.pk])
        if form.is_valid():

            def review() -> str:
                services.code_break_review(code_break=cb, by=request.user, note=form.cleaned_data["note"])
                messages.success(request, "Review recorded.")
                return detail

            try:
                return submit_once(request, form, review)
            except ValidationError as exc:
                for m in _errors(exc):
                    messages.error(request, m)
        else:
            messages.error(request, "Record the outcome of the review.")
        return HttpResponseRedirect(detail)
