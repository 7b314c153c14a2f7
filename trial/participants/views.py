"""Participant pages: list, screening (with live eligibility), consent, end of study (the participant
page and randomization, which look across apps, are `trial.workspace`).
Each view validates input, makes one selector or service call, and renders."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from trial.access import Capability, CapabilityRequiredMixin
from trial.core.views import RecordFormView
from trial.participants import selectors
from trial.participants.forms import ConsentForm, EndOfStudyForm, ScreeningForm
from trial.participants.models import Participant, Screening
from trial.participants.scope import sites_for
from trial.participants.services import consent_record, end_of_study_record, participant_screen, screening_update
from trial.protocol.selectors import protocol


def participant_url(participant: Participant) -> str:
    return reverse("participants:detail", kwargs={"participant_id": participant.participant_id})


class ParticipantListView(CapabilityRequiredMixin, TemplateView):
    capability = Capability.VIEW_PARTICIPANTS
    template_name = "participants/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        q = self.request.GET
        search, status, site = q.get("q", "").strip(), q.get("status", ""), q.get("site", "")
        page = Paginator(
            selectors.participant_list(user=self.request.user, search=search, status=status, site=site), 50
        ).get_page(q.get("page"))
        return super().get_context_data(**kwargs) | {
            "page": page,
            "q": search,
            "status": status,
            "site": site,
            "statuses": Participant.Status.choices,
            "sites": sites_for(self.request.user),
        }


def _preview(form: ScreeningForm, date_of_birth: Any = None) -> selectors.EligibilityPreview | None:
    if not form.is_bound:
        return None
    form.is_valid()
    values = form.cleaned_data
    return selectors.eligibility_preview(values, date_of_birth=values.get("date_of_birth", date_of_birth))


class EligibilityCheckView(CapabilityRequiredMixin, View):
    """Live eligibility for the screening form's script: the same rules as the save, as JSON."""

    capability = Capability.ENTER_DATA

    def post(self, request: HttpRequest) -> JsonResponse:
        form = ScreeningForm(data=request.POST, new=True, checking=True)
        preview = _preview(form)
        assert preview is not None
        return JsonResponse(preview.as_json() | {"errors": {k: v for k, v in form.errors.items() if k != "__all__"}})


class ScreeningCreateView(CapabilityRequiredMixin, RecordFormView):
    """A new person screened. "Check eligibility" re-renders with the verdict; "Save" records it."""

    capability = Capability.ENTER_DATA
    form_class = ScreeningForm
    template_name = "participants/screening_form.html"
    title = "Screening: new participant"
    submit_label = "Save screening"
    preview: selectors.EligibilityPreview | None = None

    def get_form_kwargs(self) -> dict[str, Any]:
        return {
            "new": True,
            "checking": self.request.POST.get("action") == "check",
            "sites": sites_for(self.request.user),
        }

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if request.POST.get("action") == "check":
            return self.render_form(ScreeningForm(data=request.POST, **self.get_form_kwargs()))
        return super().post(request, **kwargs)

    def render_form(self, form: Any, status: int = 200, warnings: list[str] | None = None) -> HttpResponse:
        self.preview = _preview(form)
        return super().render_form(form, status, warnings)

    def get_context(self) -> dict[str, Any]:
        return {"preview": self.preview, "baseline_max_days": protocol().baseline_max_days_after_screening}

    def save(self, form: Any) -> Participant:
        d = form.cleaned_data
        return participant_screen(
            site=d["site"],
            sex=d["sex"],
            date_of_birth=d["date_of_birth"],
            screening=form.measures_and_answers(),
            by=self.request.user,
        )

    def success_url(self, saved: Participant) -> str:
        return participant_url(saved)

    def success_message(self, saved: Participant) -> str:
        if saved.status == Participant.Status.ELIGIBLE:
            return f"{saved.participant_id} screened: eligible. Record consent, then randomize."
        reasons = "; ".join(selectors.failed_criteria_labels(saved.screening.failed_criteria))
        return f"{saved.participant_id} recorded as a screen failure: {reasons}."


class ParticipantFormView(CapabilityRequiredMixin, RecordFormView):
    """A form about one participant, found by `participant_id` in the URL."""

    capability = Capability.ENTER_DATA
    participant: Participant

    def load(self) -> None:
        self.participant = selectors.participant_get(self.kwargs["participant_id"], user=self.request.user)

    def get_context(self) -> dict[str, Any]:
        return {"participant": self.participant}

    def form_facts(self) -> dict[str, Any]:
        return {"timeline": self.participant.timeline()}

    def success_url(self, saved: Any) -> str:
        return participant_url(self.participant)


class ScreeningEditView(ParticipantFormView):
    form_class = ScreeningForm
    template_name = "participants/screening_form.html"
    title = "Edit screening"
    preview: selectors.EligibilityPreview | None = None

    screening: Screening

    def load(self) -> None:
        super().load()
        screening = getattr(self.participant, "screening", None)
        if screening is None:
            raise Http404("This participant has no screening record.")
        self.screening = screening

    def existing(self) -> Any:
        return self.screening

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"new": False, "checking": self.request.POST.get("action") == "check"}

    def get_initial(self) -> dict[str, Any]:
        return ScreeningForm.initial_from(self.screening)

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if request.POST.get("action") == "check":
            self.load()
            return self.render_form(ScreeningForm(data=request.POST, new=False, checking=True))
        return super().post(request, **kwargs)

    def render_form(self, form: Any, status: int = 200, warnings: list[str] | None = None) -> HttpResponse:
        self.preview = _preview(form, self.participant.date_of_birth)
        return super().render_form(form, status, warnings)

    def get_context(self) -> dict[str, Any]:
        return super().get_context() | {"preview": self.preview, "date_of_birth": self.participant.date_of_birth}

    def save(self, form: Any) -> Any:
        self.screening.version = form.cleaned_data["version"]
        return screening_update(
            screening=self.screening,
            data=form.measures_and_answers(),
            by=self.request.user,
            reason=form.cleaned_data["reason"],
        )

    def success_message(self, saved: Any) -> str:
        return "Screening updated: " + ("eligible." if saved.eligible else "not eligible.")


class ConsentView(ParticipantFormView):
    form_class = ConsentForm
    title = "Informed consent"
    submit_label = "Record consent"

    def get_initial(self) -> dict[str, Any]:
        return {"consent_version": protocol().consent_version}

    def save(self, form: Any) -> Any:
        d = form.cleaned_data
        return consent_record(
            participant=self.participant,
            consent_date=d["consent_date"],
            by=self.request.user,
            version=d["consent_version"],
            participant_signed=d["participant_signed"],
            copy_given=d["copy_given"],
        )

    def success_message(self, saved: Any) -> str:
        return f"Consent ({saved.form_version}) recorded."


class EndOfStudyView(ParticipantFormView):
    form_class = EndOfStudyForm
    title = "End of study / withdrawal"
    submit_label = "Record end of study"
    service_field_map = {"reason": "end_reason"}

    def save(self, form: Any) -> Any:
        d = form.cleaned_data
        return end_of_study_record(
            participant=self.participant,
            outcome=d["outcome"],
            end_date=d["end_date"],
            reason=d["end_reason"],
            details=d["details"],
            by=self.request.user,
        )

    def success_message(self, saved: Any) -> str:
        return f"End of study recorded: {saved.get_outcome_display().lower()} ({saved.reason})."
