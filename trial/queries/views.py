"""Data-query pages: the list, one query with its thread, opening a query on a field.

A data manager / monitor opens, closes and re-opens; the coordinator (or investigator) answers.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import reverse
from django.views.generic import TemplateView

from trial.access import Capability, CapabilityRequiredMixin, can
from trial.core.views import RecordFormView
from trial.participants import scope
from trial.participants.selectors import participant_get
from trial.queries import selectors
from trial.queries.forms import QueryOpenForm, QueryStepForm
from trial.queries.models import DataQuery
from trial.queries.services import query_answer, query_close, query_open, query_reopen, query_step_capability
from trial.visits.models import Visit
from trial.visits.selectors import visit_get


class QueryListView(CapabilityRequiredMixin, TemplateView):
    """Paginated, sortable by age, status, participant and form, filtered by status, form and participant."""

    capability = Capability.VIEW_PARTICIPANTS
    template_name = "queries/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        get = self.request.GET
        status, form = get.get("status", ""), get.get("form", "")
        pid, sort = get.get("participant", "").strip(), get.get("sort", "")
        page, rows = selectors.query_page(
            user=self.request.user, page=get.get("page"), status=status, participant_id=pid, form=form, sort=sort
        )
        current = sort if sort.removeprefix("-") in selectors.QUERY_SORTS else ""
        columns = [
            # (key, heading, the sort a click on the heading asks for, the column's aria-sort)
            (key, label, f"-{key}" if current == key else key, _aria_sort(current, key))
            for key, label in (("participant", "Participant"), ("form", "Field"), ("status", "Status"), ("age", "Age"))
        ]
        return super().get_context_data(**kwargs) | {
            "page": page,
            "rows": rows,
            "status": status,
            "participant": pid,
            "form": form,
            "sort": current,
            "columns": {key: (label, next_sort, aria) for key, label, next_sort, aria in columns},
            "statuses": DataQuery.Status.choices,
            "forms": selectors.query_forms(user=self.request.user),
        }


def _aria_sort(current: str, key: str) -> str:
    if current == key:
        return "ascending"
    if current == f"-{key}":
        return "descending"
    return "none"


class QueryDetailView(CapabilityRequiredMixin, RecordFormView):
    """The query and its thread; the form underneath answers, closes or re-opens it."""

    capability = Capability.VIEW_PARTICIPANTS
    form_class = QueryStepForm
    template_name = "queries/detail.html"
    title = "Data query"

    def load(self) -> None:
        self.query = selectors.query_detail(pk=self.kwargs["pk"], user=self.request.user)

    def get_initial(self) -> dict[str, Any]:
        return {"version": self.query.version}

    def get_context(self) -> dict[str, Any]:
        user, query = self.request.user, self.query
        return {
            "query": query,
            "can_answer": can(user, query_step_capability(query, Capability.ANSWER_QUERIES))
            and query.status != "closed",
            "can_manage": can(user, query_step_capability(query, Capability.RAISE_QUERIES)),
        }

    def save(self, form: Any) -> Any:
        d = form.cleaned_data
        action = d["action"]
        text, by, version = d.get("text") or "", self.request.user, d["version"]
        if action == "answer":
            return query_answer(query=self.query, text=text, by=by, version=version)
        if action == "close":
            return query_close(query=self.query, text=text, by=by, version=version)
        return query_reopen(query=self.query, text=text, by=by, version=version)

    def success_url(self, saved: Any) -> str:
        return reverse("queries:detail", kwargs={"pk": saved.pk})

    def success_message(self, saved: Any) -> str:
        return f"Query {saved.pk} is now {saved.get_status_display().lower()}."


class QueryOpenView(CapabilityRequiredMixin, RecordFormView):
    """Open a query on one field (GET `participant` and optional `visit` say where)."""

    capability = Capability.RAISE_QUERIES
    visit: Visit | None
    form_class = QueryOpenForm
    title = "Open a data query"
    submit_label = "Open query"

    def load(self) -> None:
        # The page is opened with ?visit= or ?participant=; the form posts back to that same URL.
        params = (
            self.request.GET
            if ("visit" in self.request.GET or "participant" in self.request.GET)
            else self.request.POST
        )
        visit_pk = params.get("visit")
        if visit_pk:
            if not str(visit_pk).isdigit():
                raise Http404("No such visit.")
            self.visit = visit_get(int(visit_pk))
            self.participant = scope.reach_or_404(self.request.user, self.visit.participant)
        else:
            self.visit = None
            self.participant = participant_get(params.get("participant", ""), user=self.request.user)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {
            "targets": selectors.query_targets(participant=self.participant, visit=self.visit, user=self.request.user)
        }

    def get_context(self) -> dict[str, Any]:
        return {"participant": self.participant, "visit": self.visit}

    def save(self, form: Any) -> Any:
        form_code, field = form.form_and_field()
        return query_open(
            participant=self.participant,
            visit=self.visit,
            form=form_code,
            field=field,
            text=form.cleaned_data["text"],
            by=self.request.user,
        )

    def success_url(self, saved: Any) -> str:
        return reverse("queries:detail", kwargs={"pk": saved.pk})

    def success_message(self, saved: Any) -> str:
        return f"Query {saved.pk} opened on {saved.participant.participant_id}."


class EditChecksView(CapabilityRequiredMixin, TemplateView):
    """Every check of the protocol file: its definition, kind (warning, query, refusal) and how often it
    fired. For the data manager and the medical monitor; counts follow what the user may see."""

    capability = Capability.VIEW_EDIT_CHECKS
    template_name = "queries/edit_checks.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {"checks": selectors.edit_checks_overview(user=self.request.user)}
