"""Close-out pages: the study's close-out overview, the monitor's worklist and casebook review, the
investigator's signing page, and the one-button steps (verify, freeze, lock, approve, unblind).

Each step is a POST that calls one service; a refusal comes back as a message on the page it came from.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from trial.access import Capability, CapabilityRequiredMixin, can
from trial.closeout import reconciliation, selectors, services
from trial.closeout.forms import ReasonForm, SignForm, UnitForm
from trial.closeout.models import Signature
from trial.closeout.units import UnitKey
from trial.participants.selectors import participant_get


def _capabilities(user: Any) -> dict[str, bool]:
    return {c.value: can(user, c) for c in Capability}


class OverviewView(CapabilityRequiredMixin, TemplateView):
    """Every casebook's close-out state, the database lock and the unblinding (no arm anywhere)."""

    capability = Capability.VIEW_PARTICIPANTS
    template_name = "closeout/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {
            "overview": selectors.study_overview(user=self.request.user),
            "can": _capabilities(self.request.user),
            "reason_form": ReasonForm(),
        }


class WorklistView(CapabilityRequiredMixin, TemplateView):
    capability = Capability.REVIEW_CRFS
    template_name = "closeout/worklist.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {"rows": selectors.sdv_worklist(user=self.request.user)}


class CasebookReviewView(CapabilityRequiredMixin, TemplateView):
    """The monitor's read-only casebook: every CRF with its history, queries and edit-check results."""

    capability = Capability.REVIEW_CRFS
    template_name = "closeout/review.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        participant = participant_get(kwargs["participant_id"], user=self.request.user)
        return (
            super().get_context_data(**kwargs)
            | selectors.casebook_review(participant=participant, user=self.request.user)
            | {"can": _capabilities(self.request.user), "reason_form": ReasonForm()}
        )


class SignView(CapabilityRequiredMixin, TemplateView):
    """The investigator reviews the casebook and signs it with user name and password."""

    capability = Capability.SIGN_CASEBOOKS
    template_name = "closeout/sign.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        participant = participant_get(self.kwargs["participant_id"], user=self.request.user)
        return (
            super().get_context_data(**kwargs)
            | selectors.casebook_review(participant=participant, user=self.request.user)
            | {"form": kwargs.get("form") or SignForm(), "meaning": Signature.MEANING}
        )

    def post(self, request: HttpRequest, participant_id: str) -> HttpResponse:
        form = SignForm(request.POST)
        if form.is_valid():
            try:
                services.casebook_sign(
                    participant=participant_get(participant_id, user=request.user),
                    by=request.user,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                messages.success(request, f"Casebook {participant_id} signed.")
                return redirect("participants:detail", participant_id=participant_id)
        return self.render_to_response(self.get_context_data(form=form))


class StepView(CapabilityRequiredMixin, View):
    """A one-button close-out step: POST only, one service call, then back where the user came from."""

    http_method_names = ["post"]
    form_class: type[Any] | None = None
    done = "Done."

    def act(self, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError

    def default_url(self, **kwargs: Any) -> str:
        if "participant_id" in kwargs:
            return reverse("closeout:review", kwargs={"participant_id": kwargs["participant_id"]})
        return reverse("closeout:overview")

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        data: dict[str, Any] = {}
        ok = True
        if self.form_class is not None:
            form = self.form_class(request.POST)
            ok = form.is_valid()
            data = form.cleaned_data if ok else {}
            if not ok:
                for errors in form.errors.values():
                    for e in errors:
                        messages.error(request, e)
        if ok:
            try:
                self.act(request, data, **kwargs)
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
            else:
                messages.success(request, self.done)
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = self.default_url(**kwargs)
        return redirect(target or self.default_url(**kwargs))


def _unit(data: dict[str, Any]) -> UnitKey:
    return UnitKey(data.get("visit_id") or None, data["form"])


def _step(
    capability: Capability, done: str, act: Callable[..., Any], form_class: type[Any] | None = None
) -> type[StepView]:
    def call(self: StepView, request: HttpRequest, data: dict[str, Any], **kwargs: Any) -> Any:
        participant = (
            participant_get(kwargs["participant_id"], user=request.user) if "participant_id" in kwargs else None
        )
        return act(request.user, data, participant)

    return type(
        f"{capability.value.title().replace('_', '')}Step",
        (StepView,),
        {"capability": capability, "done": done, "act": call, "form_class": form_class},
    )


VerifyView = _step(
    Capability.REVIEW_CRFS,
    "Marked as source verified.",
    lambda by, d, p: services.source_verify(participant=p, unit=_unit(d), field=d.get("field", ""), by=by),
    UnitForm,
)
FreezeView = _step(
    Capability.FREEZE_FORMS,
    "Form frozen.",
    lambda by, d, p: services.form_freeze(participant=p, unit=_unit(d), by=by),
    UnitForm,
)


class _UnitReasonForm(UnitForm, ReasonForm):
    pass


UnfreezeView = _step(
    Capability.FREEZE_FORMS,
    "Form unfrozen.",
    lambda by, d, p: services.form_unfreeze(participant=p, unit=_unit(d), by=by, reason=d["reason"]),
    _UnitReasonForm,
)
NotDoneView = _step(
    Capability.ENTER_DATA,
    "Marked as not done.",
    lambda by, d, p: services.form_mark_not_done(participant=p, unit=_unit(d), by=by, reason=d["reason"]),
    _UnitReasonForm,
)
CasebookLockView = _step(
    Capability.LOCK_CASEBOOKS, "Casebook locked.", lambda by, d, p: services.casebook_lock(participant=p, by=by)
)
CasebookUnlockRequestView = _step(
    Capability.LOCK_CASEBOOKS,
    "Unlock requested; it waits for a second person's approval.",
    lambda by, d, p: services.casebook_unlock_request(participant=p, by=by, reason=d["reason"]),
    ReasonForm,
)
CasebookUnlockApproveView = _step(
    Capability.APPROVE_UNLOCK,
    "Casebook unlocked.",
    lambda by, d, p: services.casebook_unlock_approve(participant=p, by=by),
)
DatabaseLockApproveView = _step(
    Capability.APPROVE_DATABASE_LOCK,
    "Your approval of the database lock is recorded.",
    lambda by, d, p: services.database_lock_approve(by=by),
)
DatabaseUnlockRequestView = _step(
    Capability.APPROVE_DATABASE_LOCK,
    "Database unlock requested; it waits for a second person's approval.",
    lambda by, d, p: services.database_unlock_request(by=by, reason=d["reason"]),
    ReasonForm,
)
DatabaseUnlockApproveView = _step(
    Capability.APPROVE_DATABASE_LOCK,
    "Database unlocked.",
    lambda by, d, p: services.database_unlock_approve(by=by),
)
UnblindDeclareView = _step(
    Capability.UNBLIND_STUDY,
    "Unblinding declared; it takes effect when a second person approves.",
    lambda by, d, p: services.study_unblind_declare(by=by),
)
UnblindApproveView = _step(
    Capability.APPROVE_UNBLINDING,
    "The study is formally unblinded.",
    lambda by, d, p: services.study_unblind_approve(by=by),
)


class SignatureExportView(CapabilityRequiredMixin, View):
    """Every signature, valid and void, as CSV (the signature manifestation goes with exports: 11.50(b))."""

    capability = Capability.EXPORT

    def get(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="signatures.csv"'
        writer = csv.writer(response)
        writer.writerow(
            ["participant_id", "printed_name", "user", "meaning", "signed_at_utc", "content_sha256", "status"]
        )
        for s in Signature.objects.select_related("participant", "signer").order_by("signed_at"):
            writer.writerow(
                [
                    s.participant.participant_id,
                    s.printed_name,
                    s.signer.get_username(),
                    s.meaning,
                    s.signed_at.isoformat(),
                    s.content_sha256,
                    "valid" if s.is_valid else s.void_reason,
                ]
            )
        return response


class PharmacyReconciliationView(CapabilityRequiredMixin, View):
    """The clinic's infusions against the pharmacy's dispensing (unblinded pharmacy roles only): each
    mismatch and the pharmacy-only query it raised. POST (pharmacists) raises and closes the queries."""

    capability = Capability.VIEW_PHARMACY

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = reconciliation.reconciliation_rows(user=request.user)
        return render(
            request,
            "closeout/reconciliation.html",
            {"rows": rows, "can_run": can(request.user, Capability.DISPENSE)},
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        if not can(request.user, Capability.DISPENSE):
            raise PermissionDenied("Your role does not allow this: dispense.")
        counts = reconciliation.pharmacy_reconciliation_run(by=request.user)
        messages.success(
            request,
            f"Reconciliation run: {counts['opened']} queries opened, {counts['closed']} closed, "
            f"{counts['reopened']} re-opened.",
        )
        return redirect("closeout:reconciliation")
