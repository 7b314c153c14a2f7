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
from trial.participants.models import Participant
from trial.protocol.selectors import protocol
from trial.randomization import selectors, services
from trial.randomization.access import (
    ALLOCATION_VIEWERS,
    CODE_BREAK_REQUESTERS,
    CODE_BREAK_VIEWERS,
    LIST_MANAGERS,
    RANDOMIZERS,
    RoleRequiredMixin,
)
from trial.randomization.forms import (
    CodeBreakDecideForm,
    CodeBreakRequestForm,
    CodeBreakReviewForm,
    ListGenerateForm,
    ListUploadForm,
    RandomizeForm,
)
from trial.randomization.generation import generate_list
from trial.randomization.models import CodeBreak, RandomizationList


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


class AllocationListView(RoleRequiredMixin, View):
    allowed_roles = ALLOCATION_VIEWERS

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


class RandomizeView(RoleRequiredMixin, View):
    allowed_roles = RANDOMIZERS

    def _render(
        self, request: HttpRequest, participant: Participant, form: RandomizeForm, errors: list[str]
    ) -> HttpResponse:
        allocation = getattr(participant, "allocation", None)
        return render(
            request,
            "randomization/randomize.html",
            {
                "participant": participant,
                "form": form,
                "errors": errors,
                "allocation": None
                if allocation is None
                else selectors.allocation_row(user=request.user, allocation=allocation),
            },
        )

    def get(self, request: HttpRequest, participant_pk: int) -> HttpResponse:
        participant = get_object_or_404(Participant.objects.active(), pk=participant_pk)
        form = RandomizeForm()
        errors = (
            [] if hasattr(participant, "allocation") else services.randomization_preconditions(participant=participant)
        )
        return self._render(request, participant, form, errors)

    def post(self, request: HttpRequest, participant_pk: int) -> HttpResponse:
        participant = get_object_or_404(Participant.objects.active(), pk=participant_pk)
        form = RandomizeForm(request.POST)
        if not form.is_valid():
            return self._render(request, participant, form, [])
        try:
            result = services.participant_randomize(
                participant=participant, by=request.user, baseline_date=form.cleaned_data["baseline_date"]
            )
        except ValidationError as exc:
            return self._render(request, participant, form, _errors(exc))
        number = result.allocation.entry.randomization_number
        messages.success(
            request,
            f"{participant.participant_id} randomized: {number}."
            if result.created
            else f"{participant.participant_id} was already randomized: {number}.",
        )
        return HttpResponseRedirect(reverse("randomization:randomize", args=[participant.pk]))


class ListIndexView(RoleRequiredMixin, View):
    allowed_roles = LIST_MANAGERS

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


class ListGenerateView(RoleRequiredMixin, View):
    """GET with parameters previews balance and predictability; POST stores the list with that seed."""

    allowed_roles = LIST_MANAGERS

    def get(self, request: HttpRequest) -> HttpResponse:
        form = ListGenerateForm(request.GET) if "seed" in request.GET else ListGenerateForm()
        review = None
        if form.is_bound and form.is_valid():
            review = self._preview(form.cleaned_data)
        return render(request, "randomization/list_generate.html", {"form": form, "review": review})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ListGenerateForm(request.POST)
        if not form.is_valid():
            return render(request, "randomization/list_generate.html", {"form": form, "review": None})
        d = form.cleaned_data
        try:
            rl = services.randomization_list_create(
                by=request.user,
                seed=d["seed"],
                per_stratum=d["per_stratum"],
                block_sizes=d["block_sizes"],
                name=d["name"],
                activate=d["activate"],
                stratify_by_site=d["stratify_by_site"],
            )
        except ValidationError as exc:
            return render(
                request,
                "randomization/list_generate.html",
                {
                    "form": form,
                    "review": self._preview(d),
                    "errors": _errors(exc),
                },
            )
        messages.success(request, f"List {rl.name} stored; SHA-256 {rl.sha256}.")
        return HttpResponseRedirect(reverse("randomization:list_detail", args=[rl.pk]))

    @staticmethod
    def _preview(d: dict[str, Any]) -> selectors.ListReview:
        config = protocol()
        entries = generate_list(
            strata=services.list_strata(config, by_site=d["stratify_by_site"]),
            arms=[a.code for a in config.arms],
            ratio=config.allocation_ratio,
            block_sizes=d["block_sizes"],
            per_stratum=d["per_stratum"],
            seed=d["seed"],
        )
        return selectors.list_review(entries, block_sizes=d["block_sizes"])


class ListUploadView(RoleRequiredMixin, View):
    allowed_roles = LIST_MANAGERS

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
        try:
            rl = services.randomization_list_upload(
                by=request.user,
                csv_text=text,
                name=form.cleaned_data["name"],
                activate=form.cleaned_data["activate"],
                stratify_by_site=form.cleaned_data["stratify_by_site"],
            )
        except ValidationError as exc:
            return render(request, "randomization/list_upload.html", {"form": form, "errors": _errors(exc)})
        messages.success(request, f"List {rl.name} uploaded; SHA-256 {rl.sha256}.")
        return HttpResponseRedirect(reverse("randomization:list_detail", args=[rl.pk]))


class ListDetailView(RoleRequiredMixin, View):
    allowed_roles = LIST_MANAGERS

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
                "digest_ok": services.entries_digest(rl) == rl.sha256,
                "use": selectors.stratum_use(rl),
                "events": selectors.list_events(rl),
            },
        )


class ListActivateView(RoleRequiredMixin, View):
    allowed_roles = LIST_MANAGERS
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


class CodeBreakListView(RoleRequiredMixin, View):
    allowed_roles = CODE_BREAK_VIEWERS

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "randomization/code_breaks.html",
            {
                "code_breaks": selectors.code_breaks_for(user=request.user),
            },
        )


class CodeBreakRequestView(RoleRequiredMixin, View):
    allowed_roles = CODE_BREAK_REQUESTERS

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
        try:
            cb = services.code_break_request(participant=participant, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            ctx["errors"] = _errors(exc)
            return render(request, "randomization/code_break_request.html", ctx)
        return HttpResponseRedirect(reverse("randomization:code_break_detail", args=[cb.pk]))


class CodeBreakDetailView(RoleRequiredMixin, View):
    allowed_roles = CODE_BREAK_VIEWERS

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


class CodeBreakDecideView(RoleRequiredMixin, View):
    allowed_roles = CODE_BREAK_VIEWERS
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cb = get_object_or_404(CodeBreak.objects.active(), pk=pk)
        form = CodeBreakDecideForm(request.POST)
        if form.is_valid():
            try:
                services.code_break_decide(
                    code_break=cb,
                    by=request.user,
                    approve=form.cleaned_data["decision"] == "approve",
                    note=form.cleaned_data["note"],
                )
                messages.success(request, "Decision recorded.")
            except ValidationError as exc:
                for m in _errors(exc):
                    messages.error(request, m)
        return HttpResponseRedirect(reverse("randomization:code_break_detail", args=[cb.pk]))


class CodeBreakReviewView(RoleRequiredMixin, View):
    allowed_roles = CODE_BREAK_VIEWERS
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cb = get_object_or_404(CodeBreak.objects.active(), pk=pk)
        form = CodeBreakReviewForm(request.POST)
        if form.is_valid():
            try:
                services.code_break_review(code_break=cb, by=request.user, note=form.cleaned_data["note"])
                messages.success(request, "Review recorded.")
            except ValidationError as exc:
                for m in _errors(exc):
                    messages.error(request, m)
        else:
            messages.error(request, "Record the outcome of the review.")
        return HttpResponseRedirect(reverse("randomization:code_break_detail", args=[cb.pk]))
