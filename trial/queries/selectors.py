"""Reads of data queries, filtered by what the user may see (trial.blinding decides)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

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


def query_list(*, user: Any, status: str = "", participant_id: str = "") -> QuerySet[DataQuery]:
    qs = queries_visible_to(user).select_related("participant", "visit__definition", "opened_by")
    if status:
        qs = qs.filter(status=status)
    if participant_id:
        qs = qs.filter(participant__participant_id=participant_id)
    return qs.order_by("status", "-created_at", "-id")


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
