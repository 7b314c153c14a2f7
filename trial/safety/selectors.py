"""Reads for the safety pages."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404

from trial.participants.scope import site_filter
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation


def adverse_event_get(pk: int) -> AdverseEvent:
    return get_object_or_404(AdverseEvent.objects.active().select_related("participant"), pk=pk)


def conmed_get(pk: int) -> ConcomitantMedication:
    return get_object_or_404(ConcomitantMedication.objects.active().select_related("participant"), pk=pk)


def deviation_get(pk: int) -> ProtocolDeviation:
    return get_object_or_404(ProtocolDeviation.objects.active().select_related("participant"), pk=pk)


def record_initial(record: Any, fields: list[str]) -> dict[str, Any]:
    return {n: getattr(record, n) for n in fields if hasattr(record, n)} | {"version": record.version}


def notifications_not_sent(*, user: Any) -> Any:
    """SAE alerts that failed, or failed at least once and wait for a retry, about participants at the
    sites this user may reach; oldest first."""
    from trial.safety.models import Notification

    return (
        Notification.objects.exclude(status=Notification.Status.SENT)
        .filter(site_filter(user, "adverse_event__participant__site"))
        .filter(attempts__gt=0)
        .select_related("adverse_event__participant")
        .order_by("created_at")
    )


def adverse_events_to_code() -> Any:
    """Events whose term the dictionary did not match: the data manager's coding worklist, oldest first."""
    return (
        AdverseEvent.objects.active()
        .filter(coding=AdverseEvent.Coding.UNCODED)
        .select_related("participant")
        .order_by("created_at", "id")
    )


def adverse_events_coded(limit: int = 50) -> Any:
    """The most recently changed coded events, to review the automatic coding."""
    return (
        AdverseEvent.objects.active()
        .exclude(coding=AdverseEvent.Coding.UNCODED)
        .select_related("participant")
        .order_by("-updated_at", "-id")[:limit]
    )


def adverse_event_coding_history(ae: AdverseEvent) -> list[dict[str, Any]]:
    """Each change of the event's coding, oldest first: when, who, why, and the coding it set."""
    rows = []
    last: tuple[str, str, str, str] | None = None
    for h in ae.history.select_related("history_user").order_by("history_date", "history_id"):
        coding = (h.coding, h.coded_llt, h.coded_pt, h.coded_soc)
        if coding != last:
            rows.append(
                {
                    "when": h.history_date,
                    "who": h.history_user,
                    "why": h.history_change_reason,
                    "term": h.term,
                    "coding": AdverseEvent.Coding(h.coding).label,
                    "llt": h.coded_llt,
                    "pt": h.coded_pt,
                    "soc": h.coded_soc,
                }
            )
            last = coding
    return rows
