"""Pharmacy pages (unblinded): queue of infusions due, prepare, label, dispense, lots and accountability."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from trial.access import Capability, CapabilityRequiredMixin
from trial.core.views import submit_once
from trial.pharmacy import selectors, services
from trial.pharmacy.forms import DispenseForm, LotReceiveForm, PrepareForm, WastageForm, WasteForm
from trial.pharmacy.models import DrugLot, Preparation
from trial.protocol.selectors import protocol
from trial.visits.models import Visit


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errs in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errs)
    else:
        form.add_error(None, exc.messages)


class QueueView(CapabilityRequiredMixin, View):
    capability = Capability.VIEW_PHARMACY

    def get(self, request: HttpRequest) -> HttpResponse:
        show_all = request.GET.get("all") == "1"
        rows = selectors.infusion_queue(user=request.user, include_dispensed=show_all)
        return render(request, "pharmacy/queue.html", {"rows": rows, "show_all": show_all})


class PrepareView(CapabilityRequiredMixin, View):
    capability = Capability.DISPENSE

    def _row(self, request: HttpRequest, visit_pk: int) -> selectors.QueueRow:
        visit = get_object_or_404(Visit.objects.active(), pk=visit_pk)
        row = selectors.queue_row(user=request.user, visit=visit)
        if row is None:
            raise Http404("This visit is not an infusion due for a participant on treatment.")
        return row

    def _render(self, request: HttpRequest, row: selectors.QueueRow, form: PrepareForm) -> HttpResponse:
        return render(request, "pharmacy/prepare.html", {"row": row, "form": form, "bag_ml": selectors.BAG_VOLUME_ML})

    def get(self, request: HttpRequest, visit_pk: int) -> HttpResponse:
        row = self._row(request, visit_pk)
        if row.preparation is not None:
            return HttpResponseRedirect(reverse("pharmacy:preparation", args=[row.preparation.pk]))
        form = PrepareForm(initial={"weight_kg": row.weight.kg}, needs_lot=protocol().arm(row.arm_code).active)
        return self._render(request, row, form)

    def post(self, request: HttpRequest, visit_pk: int) -> HttpResponse:
        row = self._row(request, visit_pk)
        form = PrepareForm(request.POST, needs_lot=protocol().arm(row.arm_code).active)
        if form.is_valid():
            d = form.cleaned_data
            try:
                second_check = services.second_check_sign(
                    by=request.user,
                    username=d["second_checker"],
                    password=d["second_checker_password"],
                    request=request,
                )
                prep = services.preparation_create(
                    visit=row.visit,
                    by=request.user,
                    weight_kg=d["weight_kg"],
                    saline_lot=d["saline_lot"],
                    second_check=second_check,
                    lot=d["lot"],
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, f"Bag {prep.kit_id} prepared and checked.")
                return HttpResponseRedirect(reverse("pharmacy:preparation", args=[prep.pk]))
        return self._render(request, row, form)


def _preparation_page(
    request: HttpRequest,
    prep: Preparation,
    *,
    dispense_form: DispenseForm | None = None,
    waste_form: WasteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    arm_code, arm_label = selectors.preparation_arm(user=request.user, preparation=prep)
    dispense_form, waste_form = dispense_form or DispenseForm(), waste_form or WasteForm()
    return render(
        request,
        "pharmacy/preparation.html",
        {
            "prep": prep,
            "arm_label": arm_label,
            "preparation_text": protocol().arm(arm_code).preparation,
            "dispense_form": dispense_form,
            "waste_form": waste_form,
            "action_forms": [dispense_form, waste_form],
            "bag_ml": selectors.BAG_VOLUME_ML,
            "use_by": selectors.preparation_use_by(prep),
        },
        status=status,
    )


class PreparationView(CapabilityRequiredMixin, View):
    capability = Capability.VIEW_PHARMACY

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        prep = get_object_or_404(selectors.preparations(user=request.user), pk=pk)
        return _preparation_page(request, prep)


class LabelView(CapabilityRequiredMixin, View):
    """The bag label: the same layout and wording for both arms; the kit id is a random token."""

    capability = Capability.VIEW_PHARMACY

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        prep = get_object_or_404(selectors.preparations(user=request.user), pk=pk)
        return render(
            request,
            "pharmacy/label.html",
            {
                "prep": prep,
                "trial": protocol(),
                "bag_ml": selectors.BAG_VOLUME_ML,
                "use_by": selectors.preparation_use_by(prep),
            },
        )


class DispenseView(CapabilityRequiredMixin, View):
    """A refused dispense shows the bag again with the reason next to the form (400 for bad input,
    409 when the bag or the participant does not allow it); only a dispensed bag redirects."""

    capability = Capability.DISPENSE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        prep = get_object_or_404(selectors.preparations(user=request.user), pk=pk)
        form = DispenseForm(request.POST)
        if not form.is_valid():
            return _preparation_page(request, prep, dispense_form=form, status=400)
        try:
            nurse = form.cleaned_data["dispensed_to"]
            services.preparation_dispense(preparation=prep, by=request.user, dispensed_to=nurse)
        except ValidationError as exc:
            _form_errors(form, exc)
            return _preparation_page(request, prep, dispense_form=form, status=409)
        messages.success(request, f"Bag {prep.kit_id} dispensed.")
        return HttpResponseRedirect(reverse("pharmacy:preparation", args=[prep.pk]))


class WasteView(CapabilityRequiredMixin, View):
    """As DispenseView: a refusal is shown with its reason, not redirected as if it had worked."""

    capability = Capability.DISPENSE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        prep = get_object_or_404(selectors.preparations(user=request.user), pk=pk)
        form = WasteForm(request.POST)
        if not form.is_valid():
            return _preparation_page(request, prep, waste_form=form, status=400)
        try:
            services.preparation_waste(preparation=prep, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _form_errors(form, exc)
            return _preparation_page(request, prep, waste_form=form, status=409)
        messages.success(request, f"Bag {prep.kit_id} recorded as wasted.")
        return HttpResponseRedirect(reverse("pharmacy:preparation", args=[prep.pk]))


class LotsView(CapabilityRequiredMixin, View):
    """Drug accountability per lot: received, dispensed, prepared, wasted, balance."""

    capability = Capability.VIEW_PHARMACY

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "pharmacy/lots.html",
            {
                "balances": selectors.accountability(user=request.user),
                "dispensations": selectors.dispensation_log(user=request.user),
            },
        )


class LotReceiveView(CapabilityRequiredMixin, View):
    capability = Capability.DISPENSE

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "pharmacy/lot_form.html", {"form": LotReceiveForm(), "title": "Receive a drug lot"})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = LotReceiveForm(request.POST)
        if form.is_valid():

            def receive() -> str:
                lot = services.drug_lot_receive(by=request.user, **form.record_data())
                messages.success(request, f"Lot {lot.lot_number} received: {lot.vials_received} vials.")
                return reverse("pharmacy:lots")

            try:
                return submit_once(request, form, receive)
            except ValidationError as exc:
                _form_errors(form, exc)
        return render(request, "pharmacy/lot_form.html", {"form": form, "title": "Receive a drug lot"})


class WastageView(CapabilityRequiredMixin, View):
    capability = Capability.DISPENSE

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        lot = get_object_or_404(DrugLot.objects.active(), pk=pk)
        return render(
            request, "pharmacy/lot_form.html", {"form": WastageForm(), "title": f"Record wastage from lot {lot}"}
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        lot = get_object_or_404(DrugLot.objects.active(), pk=pk)
        form = WastageForm(request.POST, lot=lot)
        if form.is_valid():

            def record() -> str:
                services.wastage_record(lot=lot, by=request.user, **form.record_data())
                messages.success(request, "Wastage recorded.")
                return reverse("pharmacy:lots")

            try:
                return submit_once(request, form, record)
            except ValidationError as exc:
                _form_errors(form, exc)
        return render(request, "pharmacy/lot_form.html", {"form": form, "title": f"Record wastage from lot {lot}"})
