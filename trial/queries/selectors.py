"""Reads of data queries, filtered by what the user may see (trial.blinding decides)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from trial.access import Capability, can
from trial.blinding import hidden_lab_analytes_for, is_unblinded_role, may_see_adverse_events
from trial.queries.models import DataQuery

# Query targets that are laboratory values, as (form, field): field is the analyte code.
LAB_FORM = "labs"


def queries_visible_to(user: Any) -> QuerySet[DataQuery]:
    """Every query this user may see.

    A query on a post-baseline value of an arm-revealing analyte quotes that value (e.g. the
    hs-CRP > 100 mg/L edit check), so it is hidden from whoever may not see the value itself.
    A query for the unblinded pharmacy only (pharmacy reconciliation) is shown to pharmacists alone.
    """
    qs = DataQuery.objects.active()
    if not may_see_pharmacy_queries(user):
        qs = qs.exclude(audience=DataQuery.Audience.PHARMACY)
    hidden = hidden_lab_analytes_for(user)
    if hidden:
        qs = qs.exclude(form=LAB_FORM, field__in=sorted(hidden), visit__definition__week__gt=0)
    if not may_see_adverse_events(user):
        qs = qs.exclude(form="adverse_event")
    return qs


def may_see_pharmacy_queries(user: Any) -> bool:
    """The unblinded pharmacist: both the pharmacy's capability and an unblinded role, so a role
    change that left one of them fails closed."""
    return can(user, Capability.DISPENSE) and is_unblinded_role(user)


# The list's sort keys (the page's column headers): a key, or "-" and a key for the other direction.
# "age" ascending is the youngest first; the others are alphabetical. Ties fall back to the newest first.
QUERY_SORTS: dict[str, tuple[str, ...]] = {
    "age": ("-created_at",),
    "status": ("status",),
    "participant": ("participant__participant_id",),
    "form": ("form", "field"),
}
QUERY_SORT_DEFAULT = "status"
QUERIES_PER_PAGE = 50


def query_list(
    *, user: Any, status: str = "", participant_id: str = "", form: str = "", sort: str = ""
) -> QuerySet[DataQuery]:
    """The queries this user may see, filtered by status, participant and form, in the order asked."""
    qs = queries_visible_to(user).select_related("participant", "visit__definition", "opened_by")
    if status:
        qs = qs.filter(status=status)
    if participant_id:
        qs = qs.filter(participant__participant_id=participant_id)
    if form:
        qs = qs.filter(form=form)
    key = sort.removeprefix("-")
    if key not in QUERY_SORTS:
        return qs.order_by("status", "-created_at", "-id")
    fields = QUERY_SORTS[key]
    if sort.startswith("-"):
        fields = tuple(f.removeprefix("-") if f.startswith("-") else f"-{f}" for f in fields)
    return qs.order_by(*fields, "-created_at", "-id")


@dataclass(frozen=True)
class QueryRow:
    query: DataQuery
    # Whole days since the query was opened; for a closed query, the days it stayed open.
    age_days: int


def query_page(
    *,
    user: Any,
    page: str | int | None = 1,
    status: str = "",
    participant_id: str = "",
    form: str = "",
    sort: str = "",
    today: datetime | None = None,
) -> tuple[Page[Any], list[QueryRow]]:
    """One page of `query_list`, each query with its age in days. Three database queries (the count,
    the page, nothing per row) whatever the number of queries."""
    qs = query_list(user=user, status=status, participant_id=participant_id, form=form, sort=sort)
    page_obj = Paginator(qs, QUERIES_PER_PAGE).get_page(page)
    now = today or timezone.now()
    rows = [
        QueryRow(q, ((q.closed_at if q.status == DataQuery.Status.CLOSED and q.closed_at else now) - q.created_at).days)
        for q in page_obj.object_list
    ]
    return page_obj, rows


def query_forms(*, user: Any) -> list[str]:
    """The forms that the queries this user may see are on, for the form filter (one database query)."""
    return sorted(set(queries_visible_to(user).order_by().values_list("form", flat=True).distinct()))


def query_detail(*, pk: int, user: Any) -> DataQuery:
    """The query with its thread; a query the user may not see is a 404, exactly like one that does not exist."""
    return get_object_or_404(
        queries_visible_to(user)
        .select_related("participant", "visit__definition", "opened_by", "closed_by")
        .prefetch_related("messages__author"),
        pk=pk,
    )


def open_query_counts(*, user: Any, participant_ids: list[int] | None = None) -> dict[str, int]:
    """Counts by status of the queries this user may see (one query)."""
    qs = queries_visible_to(user)
    if participant_ids is not None:
        qs = qs.filter(participant_id__in=participant_ids)
    rows = qs.values("status").annotate(n=Count("id")).order_by()
    return {r["status"]: r["n"] for r in rows}


def open_queries_by_visit(*, user: Any, participant_id: int) -> dict[int | None, int]:
    """Number of open or answered queries per visit id (None: not tied to a visit), in one query."""
    rows = (
        queries_visible_to(user)
        .filter(participant_id=participant_id)
        .filter(Q(status=DataQuery.Status.OPEN) | Q(status=DataQuery.Status.ANSWERED))
        .values("visit_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {r["visit_id"]: r["n"] for r in rows}


def query_targets(*, participant: Any, visit: Any, user: Any) -> list[tuple[str, str]]:
    """The fields a query can be raised on: those of the visit's forms, or the participant's own."""
    from trial.protocol.selectors import protocol

    cfg = protocol()
    if visit is None:
        fields = [
            ("screening:" + n, f"Screening: {n.replace('_', ' ')}")
            for n in (
                "screening_date",
                "screening_crp_mg_l",
                "qids_sr",
                "mmse",
                "mgh_s",
                "hamd_item3",
                "weight_kg",
                "height_cm",
            )
        ]
        fields += [
            (f"screening:{c.code}", f"Screening: {c.text}") for c in cfg.inclusion + cfg.exclusion if not c.computed
        ]
        fields += [
            ("consent:consent_date", "Consent: date"),
            ("end_of_study:reason", "End of study: reason"),
            ("conmed:name", "Concomitant medications"),
        ]
        if may_see_adverse_events(user):
            fields.insert(-1, ("adverse_event:term", "Adverse events"))
        return fields
    fields = [("visit:actual_date", "Visit date")]
    forms = visit.definition.forms
    if "hamd17" in forms:
        fields += [(f"hamd17:item_{i.number}", f"HAM-D item {i.number} {i.name}") for i in cfg.hamd_items]
        fields.append(("hamd17:total", "HAM-D total"))
    if "cgis" in forms:
        fields.append(("cgis:score", "CGI-S score"))
    if "labs" in forms:
        hidden = hidden_lab_analytes_for(user) if visit.definition.week > 0 else frozenset()
        fields += [(f"labs:{a.code}", f"Lab: {a.label}") for a in cfg.labs if a.code not in hidden]
    if "vitals" in forms:
        fields += [
            (f"vitals:{n}", f"Vitals: {n.replace('_', ' ')}")
            for n in ("weight_kg", "systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm", "temperature_c")
        ]
    if "infusion" in forms:
        fields += [
            (f"infusion:{n}", f"Infusion: {n.replace('_', ' ')}")
            for n in ("weight_kg", "start_time", "stop_time", "reaction", "delay_days")
        ]
    return fields
