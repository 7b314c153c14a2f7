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
from trial.participants.scope import site_filter
from trial.queries.models import DataQuery

# Query targets that are laboratory values, as (form, field): field is the analyte code.
LAB_FORM = "labs"


def queries_visible_to(user: Any) -> QuerySet[DataQuery]:
    """Every query this user may see.

    A site-bound role sees the queries of its own sites' participants only.
    A query on a post-baseline value of an arm-revealing analyte quotes that value (e.g. the
    hs-CRP > 100 mg/L edit check), so it is hidden from whoever may not see the value itself.
    A query for the unblinded pharmacy only (pharmacy reconciliation) is shown to pharmacists alone.
    """
    # Only the queries of participants at sites this user may reach (trial.participants.scope).
    qs = DataQuery.objects.active().filter(site_filter(user, "participant__site"))
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


@dataclass(frozen=True)
class EditCheckRow:
    """One check of the protocol file on the Edit checks page."""

    code: str
    definition: str
    kind: str  # "query" | "warning" | "refusal"
    fired: int
    open_queries: int | None = None  # for a check that raises queries: how many are still open
    # The check reads values that reveal the arm after baseline: a blinded role's count is of the
    # screening and baseline values only (trial.blinding).
    counted_blind: bool = False


# The automatic edit checks ([edit_checks]) that read an analyte whose post-baseline values reveal the arm.
_ARM_DEPENDENT = frozenset({"crp_high", "elisa_cv"})


def edit_checks_overview(*, user: Any) -> list[EditCheckRow]:
    """Every check the protocol file defines, with its kind and how often it fired, counted from what
    this user may see: queries through `queries_visible_to`, warnings and refusals from the firing log
    without those on arm-revealing values unless the user is unblinded. Nothing here names an arm."""
    from trial.protocol.selectors import protocol
    from trial.visits.models import SoftCheckFiring

    cfg = protocol()
    ec = cfg.edit_checks
    blinded = not is_unblinded_role(user)
    queries = queries_visible_to(user).filter(source=DataQuery.Source.EDIT_CHECK)
    raised = {r["check_code"]: r["n"] for r in queries.values("check_code").annotate(n=Count("id")).order_by()}
    still_open = {
        r["check_code"]: r["n"]
        for r in queries.exclude(status=DataQuery.Status.CLOSED).values("check_code").annotate(n=Count("id")).order_by()
    }
    firings = SoftCheckFiring.objects.all()
    if blinded:
        firings = firings.filter(reveals_arm=False)
    fired = {r["check_code"]: r["n"] for r in firings.values("check_code").annotate(n=Count("id")).order_by()}

    def query_row(code: str, definition: str) -> EditCheckRow:
        return EditCheckRow(
            code,
            definition,
            "query",
            raised.get(code, 0),
            still_open.get(code, 0),
            counted_blind=blinded and code in _ARM_DEPENDENT,
        )

    rows = [
        query_row(
            "hamd_jump",
            f"HAM-D-17 total changes by more than {ec.hamd_jump_points} points between consecutive rated visits.",
        ),
        query_row(
            "crp_high",
            f"hs-CRP above {ec.crp_high_mg_l:g} mg/L at screening or at a visit (acute infection?).",
        ),
        query_row("out_of_window", "A visit done outside its window (the [[visits]] windows of the protocol file)."),
        query_row(
            "weight_change",
            f"Weight changes by more than {ec.weight_change_fraction * 100:g}% between infusions "
            "(the dose follows the weight).",
        ),
    ]
    for check in cfg.soft_checks:
        if check.kind == "query":
            rows.append(query_row(check.code, check.definition))
        else:
            rows.append(
                EditCheckRow(
                    check.code,
                    check.definition,
                    check.kind,
                    fired.get(check.code, 0),
                    counted_blind=blinded and check.code in _ARM_DEPENDENT,
                )
            )
    return rows
