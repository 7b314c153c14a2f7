"""Reads for the visit pages: the visit grid of a participant, one visit with its forms, visits due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
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


@dataclass(frozen=True)
class VisitsDue:
    today: list[Visit]
    this_week: list[Visit]
    overdue: list[Visit]


def visits_due(*, user: Any, today: date | None = None) -> VisitsDue:
    """Scheduled visits due today, in the next 7 days, and past their window (one query), at the
    sites this user may reach."""
    today = today or date.today()
    rows = list(
        Visit.objects.active()
        .filter(site_filter(user, "participant__site"))
        .filter(status=Visit.Status.SCHEDULED, participant__status=Participant.Status.RANDOMIZED)
        .filter(scheduled_date__lte=today + timedelta(days=7))
        .select_related("definition", "participant")
        .order_by("scheduled_date", "participant__participant_id")
    )
    return VisitsDue(
        # "Due today" is every visit whose window is open today, not only those whose day it is.
        today=[v for v in rows if v.window_start <= today <= v.window_end],
        this_week=[v for v in rows if today < v.scheduled_date <= today + timedelta(days=7)],
        overdue=[v for v in rows if v.window_end < today],
    )


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
