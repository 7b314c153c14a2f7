"""Adverse events, concomitant medications and protocol deviations: new (under the participant's id)
and edit (by the record's own id, `pk`). An SAE e-mails the investigators; a prohibited medication
records a protocol deviation (both done by the services)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.views.generic import TemplateView

from trial import blinding
from trial.access import Capability, CapabilityRequiredMixin
from trial.core.forms import RecordForm
from trial.core.services import form_entry_save
from trial.core.views import RecordFormView
from trial.participants import scope
from trial.participants.selectors import participant_get
from trial.safety import selectors
from trial.safety.forms import AdverseEventCodeForm, AdverseEventForm, ConmedForm, DeviationForm
from trial.safety.services import adverse_event_code, adverse_event_record, conmed_record, deviation_record


class SafetyFormView(CapabilityRequiredMixin, RecordFormView):
    capability = Capability.ENTER_DATA
    form_class: type[RecordForm]
    getter: Any = None  # selector loading the record being edited, or None for "new"
    instance: Any = None

    def load(self) -> None:
        if "pk" in self.kwargs:
            self.instance = type(self).getter(self.kwargs["pk"])
            self.participant = scope.reach_or_404(self.request.user, self.instance.participant)
        else:
            self.participant = participant_get(self.kwargs["participant_id"], user=self.request.user)

    def existing(self) -> Any:
        return None  # new records are always new rows: nothing to overwrite

    def get_initial(self) -> dict[str, Any]:
        if self.instance is None:
            return {}
        return selectors.record_initial(self.instance, self.form_class().record_fields())

    def get_context(self) -> dict[str, Any]:
        return {"participant": self.participant, "record": self.instance}

    def form_facts(self) -> dict[str, Any]:
        return {"timeline": self.participant.timeline()}

    def success_url(self, saved: Any) -> str:
        return reverse("participants:detail", kwargs={"participant_id": self.participant.participant_id}) + "#safety"

    def save(self, form: Any) -> Any:
        d = form.cleaned_data
        kwargs = {
            "participant": self.participant,
            "data": form.data_for_service(),
            "by": self.request.user,
            "instance": self.instance,
            "reason": d.get("reason") or "",
            "version": d.get("version") or None,
        }
        return form_entry_save(participant=self.participant, by=self.request.user, write=lambda: self.service(**kwargs))

    def service(self, **kwargs: Any) -> Any:
        raise NotImplementedError


class AdverseEventView(SafetyFormView):
    form_class = AdverseEventForm
    title = "Adverse event"
    template_name = "safety/adverse_event_form.html"
    getter = staticmethod(selectors.adverse_event_get)

    def load(self) -> None:
        if not blinding.may_see_adverse_events(self.request.user):
            # Protocol [blinding]: some AE terms occur on one arm only.
            raise PermissionDenied("Your role does not see adverse events in this trial.")
        super().load()

    def service(self, **kwargs: Any) -> Any:
        return adverse_event_record(**kwargs)

    def success_message(self, saved: Any) -> str:
        if saved.serious:
            return f"Serious adverse event '{saved.term}' saved. The investigators have been notified by e-mail."
        return f"Adverse event '{saved.term}' saved."


class ConmedView(SafetyFormView):
    form_class = ConmedForm
    title = "Concomitant medication"
    getter = staticmethod(selectors.conmed_get)

    def service(self, **kwargs: Any) -> Any:
        return conmed_record(**kwargs)

    def success_message(self, saved: Any) -> str:
        if saved.prohibited:
            return (
                f"{saved.name} saved. It is a prohibited medication (NSAIDs and steroids, except aspirin 81 mg): "
                "a protocol deviation was recorded."
            )
        return f"{saved.name} saved."


class DeviationView(SafetyFormView):
    form_class = DeviationForm
    title = "Protocol deviation"
    getter = staticmethod(selectors.deviation_get)

    def service(self, **kwargs: Any) -> Any:
        return deviation_record(**kwargs)

    def success_message(self, saved: Any) -> str:
        return "Protocol deviation saved."


class NotificationFailuresView(CapabilityRequiredMixin, TemplateView):
    """SAE alerts that could not be sent, or are waiting for their next attempt: someone must tell
    the investigators another way (ICH E6(R3) expedited reporting)."""

    capability = Capability.VIEW_NOTIFICATION_FAILURES
    template_name = "safety/notification_failures.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {"alerts": selectors.notifications_not_sent(user=self.request.user)}


class _SeesAdverseEvents:
    """Protocol [blinding]: the roles it names see no adverse event, whatever their capability."""

    request: Any

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.user.is_authenticated and not blinding.may_see_adverse_events(request.user):
            raise PermissionDenied("Your role does not see adverse events in this trial.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class CodingListView(CapabilityRequiredMixin, _SeesAdverseEvents, TemplateView):
    """The data manager's coding worklist: terms the dictionary did not match, and recent coding to review.
    It shows the participant, the verbatim term and its coding: never an arm."""

    capability = Capability.CODE_ADVERSE_EVENTS
    template_name = "safety/coding.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {
            "to_code": selectors.adverse_events_to_code(),
            "coded": selectors.adverse_events_coded(),
        }


class AdverseEventCodeView(CapabilityRequiredMixin, _SeesAdverseEvents, RecordFormView):
    capability = Capability.CODE_ADVERSE_EVENTS
    form_class = AdverseEventCodeForm
    title = "Code an adverse event"
    submit_label = "Code"
    template_name = "safety/code_form.html"

    def load(self) -> None:
        self.instance = selectors.adverse_event_get(self.kwargs["pk"])
        self.participant = self.instance.participant

    def get_initial(self) -> dict[str, Any]:
        return {"version": self.instance.version, "llt": self.instance.coded_llt}

    def get_context(self) -> dict[str, Any]:
        return {
            "ae": self.instance,
            "history": selectors.adverse_event_coding_history(self.instance),
        }

    def save(self, form: Any) -> Any:
        d = form.cleaned_data
        return adverse_event_code(
            adverse_event=self.instance, llt=d["llt"], reason=d["reason"], by=self.request.user, version=d["version"]
        )

    def success_url(self, saved: Any) -> str:
        return reverse("safety:coding")

    def success_message(self, saved: Any) -> str:
        return f"'{saved.term}' coded to {saved.coded_llt} ({saved.coded_pt}; {saved.coded_soc})."
