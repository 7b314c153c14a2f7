"""Pages that look across apps: the dashboard, the participant page, enrolment, the visit page.

Each reads through one selector (or calls one service) and renders; the blind is applied by the
selectors and `trial.blinding`, never here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView, View

from trial.access import Capability, CapabilityRequiredMixin, can
from trial.participants.forms import RandomizeForm
from trial.participants.views import ParticipantFormView
from trial.queries.selectors import queries_visible_to
from trial.randomization.services import randomization_preconditions
from trial.visits import selectors as visit_selectors
from trial.visits.forms import MissedVisitForm, VisitDateForm
from trial.workspace import selectors
from trial.workspace.services import participant_enrol


class DashboardView(CapabilityRequiredMixin, TemplateView):
    capability = Capability.VIEW_PARTICIPANTS
    template_name = "workspace/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | selectors.dashboard_summary(user=self.request.user)


class VisitsDueView(CapabilityRequiredMixin, TemplateView):
    """Every visit of one of the dashboard's lists (due today, in the next 7 days, overdue), 50 a page."""

    capability = Capability.VIEW_PARTICIPANTS
    template_name = "workspace/visits_due.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        which = self.request.GET.get("list", "overdue")
        if which not in visit_selectors.DUE_LISTS:
            which = "overdue"
        visits = visit_selectors.visits_due_list(which, user=self.request.user)
        return super().get_context_data(**kwargs) | {
            "which": which,
            "lists": visit_selectors.DUE_LISTS,
            "page": Paginator(visits, 50).get_page(self.request.GET.get("page")),
        }


class ParticipantDetailView(CapabilityRequiredMixin, TemplateView):
    capability = Capability.VIEW_PARTICIPANTS
    template_name = "participants/detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | selectors.participant_page(
            participant_id=kwargs["participant_id"], user=self.request.user
        )


class RandomizeView(ParticipantFormView):
    """A confirmation step, then enrolment (randomize and schedule). The page shows the randomization
    number only: the one randomize page of Stratum."""

    capability = Capability.RANDOMIZE
    form_class = RandomizeForm
    template_name = "participants/randomize.html"
    title = "Randomize"
    submit_label = "Randomize"

    def get_form_kwargs(self) -> dict[str, Any]:
        screening = getattr(self.participant, "screening", None)
        return {"screening_date": screening.screening_date if screening else None}

    def get_context(self) -> dict[str, Any]:
        # Each unmet precondition on its own line, before anyone ticks anything.
        done = getattr(self.participant, "allocation", None) is not None
        unmet = [] if done else randomization_preconditions(participant=self.participant)
        return super().get_context() | {"unmet": unmet}

    def save(self, form: Any) -> Any:
        return participant_enrol(
            participant=self.participant, by=self.request.user, baseline_date=form.cleaned_data["baseline_date"]
        )

    def success_message(self, saved: Any) -> str:
        number = saved.allocation.entry.randomization_number
        if not saved.created:
            return f"{self.participant.participant_id} was already randomized: randomization number {number}."
        return (
            f"{self.participant.participant_id} randomized: randomization number {number}. "
            "Visits are scheduled from baseline."
        )


class VisitDetailView(CapabilityRequiredMixin, TemplateView):
    capability = Capability.VIEW_PARTICIPANTS
    template_name = "visits/detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        visit = visit_selectors.visit_get(kwargs["pk"])
        queries = queries_visible_to(self.request.user).filter(visit=visit).order_by("-created_at")
        return super().get_context_data(**kwargs) | {
            "visit": visit,
            "participant": visit.participant,
            "forms": visit_selectors.form_cells(visit),
            "date_form": VisitDateForm(
                visit=visit, initial={"version": visit.version, "actual_date": visit.actual_date}
            ),
            "missed_form": MissedVisitForm(initial={"version": visit.version}),
            "queries": queries,
            "end_of_study": "end_of_study" in visit.definition.forms,
            "can_raise_queries": can(self.request.user, Capability.RAISE_QUERIES),
        }


class CodeBreakStartView(CapabilityRequiredMixin, View):
    """From the Code breaks page: the participant typed or chosen there -> that participant's request form."""

    capability = Capability.REQUEST_CODE_BREAK

    def get(self, request: HttpRequest) -> HttpResponse:
        participant_id = request.GET.get("participant", "").strip()
        participant = selectors.randomized_participant(participant_id, user=request.user)
        if participant is None:
            messages.error(request, f"No randomized participant {participant_id!r}: choose one from the list.")
            return HttpResponseRedirect(reverse("randomization:code_breaks"))
        return HttpResponseRedirect(reverse("randomization:code_break_request", args=[participant.pk]))


class BlankCrfView(CapabilityRequiredMixin, TemplateView):
    """The visit's case report forms, empty, to print as the paper back-up when the system cannot be
    reached (ICH E6(R3) 2.12: a documented procedure for recording data when the computerised system
    is unavailable). Only the forms this user may fill, and the lab results this user may see."""

    capability = Capability.VIEW_PARTICIPANTS
    template_name = "visits/blank_crf.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        visit = visit_selectors.visit_get(kwargs["pk"])
        return super().get_context_data(**kwargs) | {
            "visit": visit,
            "participant": visit.participant,
            "crfs": selectors.blank_crfs(visit=visit, user=self.request.user),
        }
