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
