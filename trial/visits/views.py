"""Visit pages: the visit, its date or missed status, and each form entered at it.

Every save goes through the visit services inside `form_entry_save`, which re-runs the edit checks
in the same transaction (a value out of range of an edit check raises its query, a correction
closes it).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from trial.access import Capability, CapabilityRequiredMixin
from trial.blinding import hidden_lab_analytes_for
from trial.core.services import form_entry_save
from trial.core.views import RecordFormView
from trial.protocol.selectors import protocol
from trial.visits import selectors, soft_checks
from trial.visits.forms import (
    CgisForm,
    HamdForm,
    InfusionForm,
    LabImportForm,
    LabSampleForm,
    LabsForm,
    MissedVisitForm,
    VisitDateForm,
    VitalsForm,
)
from trial.visits.models import Visit
from trial.visits.services import (
    SoftCheckRefused,
    cgis_record,
    hamd_record,
    infusion_record,
    lab_record,
    lab_results_import,
    lab_sample_record,
    missed_before_window_finding,
    soft_checks_fired_log,
    visit_complete,
    visit_form_save,
    visit_miss,
    vitals_record,
)
from trial.visits.soft_checks import SoftFinding


def visit_url(visit: Visit) -> str:
    return reverse("visits:detail", kwargs={"pk": visit.pk})


class VisitFormView(CapabilityRequiredMixin, RecordFormView):
    """A form entered at one visit (URL kwarg `pk` is the Visit's id)."""

    capability = Capability.ENTER_DATA
    visit: Visit
    relation = ""  # the visit's one-to-one record this form edits
    # The visit's date is `visit_date` on the assessment forms (Visit.actual_date).
    service_field_map = {"actual_date": "visit_date"}

    def load(self) -> None:
        self.visit = selectors.visit_for_form(self.kwargs["pk"], relation=self.relation, labs=self.needs_labs)
        self.participant = self.visit.participant

    needs_labs = False

    def existing(self) -> Any:
        record = getattr(self.visit, self.relation, None) if self.relation else None
        return record if record is not None and not record.is_voided else None

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"visit": self.visit}

    def get_initial(self) -> dict[str, Any]:
        record = self.existing()
        if record is None:
            return {}
        form = self.form_class(**self.get_form_kwargs())
        return {n: getattr(record, n) for n in form.fields if hasattr(record, n) and n != "reason"}

    def get_context(self) -> dict[str, Any]:
        return {"visit": self.visit, "participant": self.participant, "record": self.existing()}

    def form_facts(self) -> dict[str, Any]:
        return {"timeline": self.participant.timeline()}

    def success_url(self, saved: Any) -> str:
        return visit_url(self.visit)

    # --- [[soft_checks]] of the protocol file that warn on this form ---------------------------------
    def soft_warnings(self, form: Any) -> list[SoftFinding]:
        found = []
        if "visit_date" in form.cleaned_data and self.visit.status != Visit.Status.DONE:
            found += soft_checks.visit_order_warnings(self.visit)
        return found + self.form_soft_warnings(form)

    def form_soft_warnings(self, form: Any) -> list[SoftFinding]:
        return []

    def soft_warnings_shown(self, form: Any, warnings: list[Any]) -> None:
        soft_checks_fired_log(participant=self.participant, findings=warnings, by=self.request.user)

    def success_message(self, saved: Any) -> str:
        message = f"{self.title} saved for {self.participant.participant_id}, {self.visit.definition.name}."
        if self.visit.out_of_window:
            message += " The visit is out of its window: it is flagged and a query was raised."
        return message

    def save(self, form: Any) -> Any:
        d = form.cleaned_data
        return visit_form_save(
            visit=self.visit,
            by=self.request.user,
            visit_date=d.get("visit_date"),
            write=lambda: self.record(form, version=d.get("version") or None, reason=d.get("reason") or ""),
        )

    def record(self, form: Any, *, version: int | None, reason: str) -> Any:
        raise NotImplementedError


class HamdView(VisitFormView):
    capability = Capability.RATE
    form_class = HamdForm
    relation = "hamd"
    title = "HAM-D-17"
    template_name = "visits/hamd_form.html"
    fields_template = "visits/_hamd_fields.html"

    def record(self, form: Any, *, version: int | None, reason: str) -> Any:
        return hamd_record(visit=self.visit, items=form.items(), by=self.request.user, reason=reason, version=version)

    def success_message(self, saved: Any) -> str:
        return super().success_message(saved).replace("saved", f"saved (total {saved.total})", 1)


class CgisView(VisitFormView):
    capability = Capability.RATE
    form_class = CgisForm
    relation = "cgis"
    title = "CGI-S"

    def record(self, form: Any, *, version: int | None, reason: str) -> Any:
        return cgis_record(
            visit=self.visit, score=form.cleaned_data["score"], by=self.request.user, reason=reason, version=version
        )


class VitalsView(VisitFormView):
    form_class = VitalsForm
    relation = "vitals"
    title = "Vital signs"

    def record(self, form: Any, *, version: int | None, reason: str) -> Any:
        return vitals_record(
            visit=self.visit, data=form.data_for_service(), by=self.request.user, reason=reason, version=version
        )


class InfusionView(VisitFormView):
    form_class = InfusionForm
    relation = "infusion"

    def load(self) -> None:
        self.visit = selectors.visit_for_form(self.kwargs["pk"], relation="infusion")
        self.participant = self.visit.participant
        # The dose uses today's weight from vital signs, when they were entered first.
        self.vitals = selectors.visit_vitals(self.visit)

    title = "Infusion"
    template_name = "visits/infusion_form.html"

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        vitals = self.vitals
        if not initial and vitals is not None:
            # The dose uses the weight measured at this visit (protocol: Design, 5 mg/kg).
            initial["weight_kg"] = vitals.weight_kg
        return initial

    def form_soft_warnings(self, form: Any) -> list[SoftFinding]:
        d = form.cleaned_data
        return soft_checks.infusion_warnings(self.visit.pk, d.get("start_time"), d.get("stop_time"))

    def record(self, form: Any, *, version: int | None, reason: str) -> Any:
        return infusion_record(
            visit=self.visit, data=form.data_for_service(), by=self.request.user, reason=reason, version=version
        )

    def success_message(self, saved: Any) -> str:
        message = (
            super().success_message(saved) + f" Planned dose (by weight, whatever the arm): {saved.planned_dose_mg} mg."
        )
        if saved.delay_days:
            message += f" Later visits were rescheduled after the {saved.delay_days}-day delay."
        return message


class LabsView(VisitFormView):
    """All analytes of a visit on one form; each is its own audited record with its own version."""

    form_class = LabsForm
    needs_labs = True
    title = "Laboratory results"
    template_name = "visits/labs_form.html"
    fields_template = "visits/_labs_fields.html"

    def analytes(self) -> tuple[Any, ...]:
        hidden = hidden_lab_analytes_for(self.request.user) if self.visit.definition.week > 0 else frozenset()
        return tuple(a for a in protocol().labs if a.code not in hidden)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"visit": self.visit, "analytes": self.analytes()}

    def form_soft_warnings(self, form: Any) -> list[SoftFinding]:
        d = form.cleaned_data
        found = (
            soft_checks.draw_time_warnings(self.visit.pk, "sample_time", d.get("sample_time")) if form.entered() else []
        )
        return found + soft_checks.lab_warnings(
            visit_id=self.visit.pk, week=self.visit.definition.week, analytes=form.analytes, values=d
        )

    def existing(self) -> Any:
        return None  # each analyte carries its own version; see check_not_created_meanwhile

    def get_initial(self) -> dict[str, Any]:
        labs = selectors.visit_labs(self.visit, self.request.user)
        initial: dict[str, Any] = {}
        for code, lab in labs.items():
            initial |= {
                f"{code}_value": lab.value,
                f"{code}_replicate_1": lab.replicate_1,
                f"{code}_replicate_2": lab.replicate_2,
                f"{code}_version": lab.version,
            }
            initial["sample_time"], initial["assay_batch"] = lab.sample_time, lab.assay_batch
        return initial

    def get_context(self) -> dict[str, Any]:
        return super().get_context() | {"labs": selectors.visit_labs(self.visit, self.request.user)}

    def check_not_created_meanwhile(self, form: Any) -> None:
        labs = selectors.visit_labs(self.visit, self.request.user)
        for row in form.entered():
            current = labs.get(row["analyte"])
            if current is not None and not row["version"]:
                from trial.core.services import ConflictError

                raise ConflictError(current=current, attempted=current)

    def version_field(self, current: Any) -> str:
        return f"{current.analyte}_version"

    def record(self, form: Any, *, version: int | None, reason: str) -> Any:
        d = form.cleaned_data
        saved = []
        for row in form.entered():
            code = row.pop("analyte")
            try:
                saved.append(
                    lab_record(
                        visit=self.visit,
                        analyte=code,
                        sample_time=d["sample_time"],
                        by=self.request.user,
                        assay_batch=d.get("assay_batch") or "",
                        reason=reason,
                        **row,
                    )
                )
            except ValidationError as exc:
                # Name the analyte's own field, so the message sits next to the value that caused it.
                if hasattr(exc, "error_dict"):
                    raise ValidationError({_lab_field(form, code, k): v for k, v in exc.error_dict.items()}) from exc
                raise
        return saved

    def success_message(self, saved: Any) -> str:
        where = f"{self.participant.participant_id}, {self.visit.definition.name}"
        return f"{len(saved)} laboratory result(s) saved for {where}."


class LabSampleView(VisitFormView):
    """The sample, for the analytes whose post-baseline values reveal the arm: what blinded staff record."""

    form_class = LabSampleForm
    title = "Laboratory sample"

    def existing(self) -> Any:
        return selectors.visit_lab_sample(self.visit)

    def form_soft_warnings(self, form: Any) -> list[SoftFinding]:
        return soft_checks.draw_time_warnings(self.visit.pk, "drawn_at", form.cleaned_data.get("drawn_at"))

    def record(self, form: Any, *, version: int | None, reason: str) -> Any:
        d = form.cleaned_data
        return lab_sample_record(
            visit=self.visit,
            drawn_at=d["drawn_at"],
            tube_id=d["tube_id"],
            by=self.request.user,
            reason=reason,
            version=version,
        )


class RevealingLabsView(LabsView):
    """The results of every analyte at a visit, for the unblinded role that enters them (trial.blinding)."""

    capability = Capability.ENTER_REVEALING_LABS
    title = "Laboratory results (unblinded entry)"

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        sample = selectors.visit_lab_sample(self.visit)
        if sample is not None and not initial.get("sample_time"):
            initial["sample_time"] = sample.drawn_at
        return initial


class LabImportView(CapabilityRequiredMixin, View):
    """The laboratory's results file, imported by the unblinded role, all or nothing."""

    capability = Capability.ENTER_REVEALING_LABS

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "visits/lab_import.html", {"form": LabImportForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = LabImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, "visits/lab_import.html", {"form": form})
        try:
            text = form.cleaned_data["file"].read().decode("utf-8")
            saved = lab_results_import(csv_text=text, by=request.user, assay_batch=form.cleaned_data["assay_batch"])
        except UnicodeDecodeError:
            return render(request, "visits/lab_import.html", {"form": form, "errors": ["The file is not UTF-8 text."]})
        except ValidationError as exc:
            return render(request, "visits/lab_import.html", {"form": form, "errors": list(exc.messages)})
        messages.success(request, f"{len(saved)} laboratory result(s) imported.")
        return HttpResponseRedirect(reverse("visits:lab_import"))


def _lab_field(form: LabsForm, code: str, name: str) -> str:
    candidate = f"{code}_{name}"
    if candidate in form.fields:
        return candidate
    if name == "value" and f"{code}_replicate_1" in form.fields:
        return f"{code}_replicate_1"
    return name


class VisitCompleteView(VisitFormView):
    """The date the visit was done; out of window is accepted, flagged and queried."""

    form_class = VisitDateForm
    title = "Visit date"
    service_field_map: dict[str, str] = {}

    def get_initial(self) -> dict[str, Any]:
        return {"version": self.visit.version, "actual_date": self.visit.actual_date}

    def soft_warnings(self, form: Any) -> list[SoftFinding]:
        if self.visit.status == Visit.Status.DONE:
            return []
        return soft_checks.visit_order_warnings(self.visit)

    def check_not_created_meanwhile(self, form: Any) -> None:
        return None

    def save(self, form: Any) -> Any:
        d, visit, by = form.cleaned_data, self.visit, self.request.user
        visit.version = d["version"]
        return form_entry_save(
            participant=self.participant,
            by=by,
            write=lambda: visit_complete(
                visit=visit, actual_date=d["actual_date"], by=by, reason=d.get("reason") or ""
            ),
        )

    def success_message(self, saved: Any) -> str:
        if saved.out_of_window:
            return (
                f"{saved.definition.name} done on {saved.actual_date:%d %b %Y}: outside its window. "
                "The visit is flagged and a query was raised."
            )
        return f"{saved.definition.name} done on {saved.actual_date:%d %b %Y}, within its window."


class VisitMissedView(VisitFormView):
    form_class = MissedVisitForm
    title = "Missed visit"
    submit_label = "Record missed visit"

    refused: SoftFinding | None = None

    def get_form_kwargs(self) -> dict[str, Any]:
        return {}

    def get_initial(self) -> dict[str, Any]:
        return {"version": self.visit.version}

    def check_not_created_meanwhile(self, form: Any) -> None:
        return None

    def soft_warnings(self, form: Any) -> list[SoftFinding]:
        finding = missed_before_window_finding(self.visit)
        return [finding] if finding is not None and finding.kind == "warning" else []

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        response = super().post(request, **kwargs)
        if self.refused is not None:
            # After the refused save's transaction rolled back: the refusal itself is counted.
            soft_checks_fired_log(participant=self.participant, findings=[self.refused], by=request.user)
        return response

    def save(self, form: Any) -> Any:
        d, visit, by = form.cleaned_data, self.visit, self.request.user
        visit.version = d["version"]

        def write() -> Visit:
            return visit_miss(visit=visit, reason_code=d["missed_reason_code"], reason=d["missed_reason"] or "", by=by)

        try:
            return form_entry_save(participant=self.participant, by=by, write=write)
        except SoftCheckRefused as exc:
            self.refused = exc.finding
            raise

    def success_message(self, saved: Any) -> str:
        return f"{saved.definition.name} recorded as missed."
