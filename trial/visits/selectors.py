"""Reads for the visit pages: the visit grid of a participant, one visit with its forms, visits due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from trial.blinding import hidden_lab_analytes_for
from trial.participants.models import Participant
from trial.participants.scope import site_filter
from trial.protocol.selectors import protocol
from trial.visits.models import LabResult, Visit

FORM_LABELS = {
    "hamd17": "HAM-D-17",
    "cgis": "CGI-S",
    "labs": "Labs",
    "vitals": "Vital signs",
    "infusion": "Infusion",
    "end_of_study": "End of study",
}
# The forms entered per visit; end of study is the participant's, linked from the week-12 row.
VISIT_FORMS = ("hamd17", "cgis", "labs", "vitals", "infusion")
FORM_RELATIONS = {"hamd17": "hamd", "cgis": "cgis", "vitals": "vitals", "infusion": "infusion"}


@dataclass
class FormCell:
    code: str
    label: str
    done: bool
    detail: str = ""


@dataclass
class VisitRow:
    visit: Visit
    forms: list[FormCell] = field(default_factory=list)
    open_queries: int = 0

    @property
    def overdue(self) -> bool:
        return self.visit.status == Visit.Status.SCHEDULED and self.visit.window_end < date.today()


def _live(record: Any) -> Any:
    return record if record is not None and not record.is_voided else None


def visits_with_forms() -> QuerySet[Visit]:
    """Visits with every form loaded alongside: two queries for any number of visits and forms."""
    return (
        Visit.objects.active()
        .select_related("definition", "hamd", "cgis", "vitals", "infusion")
        .prefetch_related(
            Prefetch("labs", queryset=LabResult.objects.active().order_by("analyte"), to_attr="live_labs")
        )
    )


def form_cells(visit: Visit) -> list[FormCell]:
    n_analytes = len(protocol().labs)
    cells = []
    for code in visit.definition.forms:
        if code not in VISIT_FORMS:
            continue
        if code == "labs":
            n = len(getattr(visit, "live_labs", []))
            cells.append(FormCell(code, FORM_LABELS[code], n > 0, f"{n}/{n_analytes}"))
        else:
            record = _live(getattr(visit, FORM_RELATIONS[code], None))
            detail = ""
            if code == "hamd17" and record is not None:
                detail = f"total {record.total}"
            cells.append(FormCell(code, FORM_LABELS[code], record is not None, detail))
    return cells


def visit_grid(
    *, participant: Participant, user: Any, query_counts: dict[int | None, int] | None = None
) -> list[VisitRow]:
    """Weeks 0-12 of one participant: windows, due dates, status and the forms done at each visit."""
    counts = query_counts or {}
    visits = visits_with_forms().filter(participant=participant).order_by("definition__week")
    return [VisitRow(v, form_cells(v), counts.get(v.pk, 0)) for v in visits]


def visit_get(pk: int) -> Visit:
    try:
        return visits_with_forms().select_related("participant__site").get(pk=pk)
    except Visit.DoesNotExist as exc:
        raise Http404("No such visit.") from exc


def visit_for_form(pk: int, *, relation: str = "", labs: bool = False) -> Visit:
    """A visit with only what one form page needs (the page of a save is on every save's path)."""
    related = ["definition", "participant"] + ([relation] if relation else [])
    qs: QuerySet[Visit] = Visit.objects.active().select_related(*related)
    if labs:
        # to_attr="live_labs": the form reads the visit's live results without another query.
        qs = qs.prefetch_related(
            Prefetch("labs", queryset=LabResult.objects.active().order_by("analyte"), to_attr="live_labs")
        )
    try:
        return qs.get(pk=pk)
    except Visit.DoesNotExist as exc:
        raise Http404("No such visit.") from exc


def visit_labs(visit: Visit, user: Any) -> dict[str, LabResult]:
    """The live lab results of a visit that this user may see, by analyte."""
    hidden = hidden_lab_analytes_for(user) if visit.definition.week > 0 else frozenset()
    return {lab.analyte: lab for lab in getattr(visit, "live_labs", []) if lab.analyte not in hidden}


# How many visits of each list the dashboard shows; the visits-due page pages through all of them.
DUE_LIST_LIMIT = 10
DUE_LISTS = {
    "today": "Due today (window open)",
    "this_week": "Due in the next 7 days",
    "overdue": "Overdue (window closed)",
}


@dataclass(frozen=True)
class VisitsDue:
    today: list[Visit]
    this_week: list[Visit]
    overdue: list[Visit]
    counts: dict[str, int]  # every visit of each list, not only those shown


def _due_scope(user: Any) -> QuerySet[Visit]:
    """Scheduled visits of randomized participants, at the sites this user may reach."""
    return (
        Visit.objects.active()
        .filter(site_filter(user, "participant__site"))
        .filter(status=Visit.Status.SCHEDULED, participant__status=Participant.Status.RANDOMIZED)
    )


def _due_conditions(today: date) -> dict[str, Q]:
    return {
        # "Due today" is every visit whose window is open today, not only those whose day it is.
        "today": Q(window_start__lte=today, window_end__gte=today, scheduled_date__lte=today + timedelta(days=7)),
        "this_week": Q(scheduled_date__gt=today, scheduled_date__lte=today + timedelta(days=7)),
        "overdue": Q(window_end__lt=today),
    }


def visits_due_list(which: str, *, user: Any, today: date | None = None) -> QuerySet[Visit]:
    """One list of the visits due (`today`, `this_week` or `overdue`), in date order, to page through."""
    condition = _due_conditions(today or date.today())[which]
    return (
        _due_scope(user)
        .filter(condition)
        .select_related("definition", "participant")
        .order_by("scheduled_date", "participant__participant_id", "pk")
    )


def visits_due(*, user: Any, today: date | None = None, limit: int = DUE_LIST_LIMIT) -> VisitsDue:
    """Scheduled visits due today, in the next 7 days, and past their window, at the sites this user
    may reach: the count of each list (one aggregate query) and its first `limit` visits (one query
    each), so the dashboard's cost does not grow with the trial."""
    today = today or date.today()
    conditions = _due_conditions(today)
    counts = _due_scope(user).aggregate(**{k: Count("pk", filter=q) for k, q in conditions.items()})
    lists = {k: list(visits_due_list(k, user=user, today=today)[:limit]) for k in conditions}
    return VisitsDue(**lists, counts={k: counts[k] or 0 for k in conditions})


def visit_vitals(visit: Visit) -> Any:
    from trial.visits.models import VitalSigns

    return VitalSigns.objects.active().filter(visit=visit).first()


def visit_lab_sample(visit: Visit) -> Any:
    from trial.visits.models import LabSample

    return LabSample.objects.active().filter(visit=visit).first()


def earlier_forms_to_do(visit: Visit) -> list[tuple[str, list[str]]]:
    """The done on-study visits before this one, each with the labels of its forms not yet entered.

    Post-baseline lab results are the unblinded statistician's to enter (trial.blinding), so they never
    hold a visit open for the site (as the participant page's "Next visit" reads it)."""
    earlier = visits_with_forms().filter(
        participant_id=visit.participant_id,
        status=Visit.Status.DONE,
        definition__week__gte=0,
        definition__week__lt=visit.definition.week,
    )
    return [
        (
            v.definition.name,
            [c.label for c in form_cells(v) if not c.done and not (c.code == "labs" and v.definition.week > 0)],
        )
        for v in earlier.order_by("definition__week")
    ]
