"""Writes for adverse events, concomitant medications and protocol deviations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from trial.access import Capability, require
from trial.core.services import record_apply, record_save, records_create
from trial.core.types import Actor
from trial.participants.models import Participant
from trial.safety.coding import term_lookup
from trial.safety.models import AdverseEvent, ConcomitantMedication, ProtocolDeviation
from trial.safety.notifications import sae_notification_create
from trial.safety.tasks import notification_send_task


def _apply(instance: Any, data: Mapping[str, Any], version: int | None) -> None:
    record_apply(instance, data, version=version)


@transaction.atomic
def adverse_event_record(
    *,
    participant: Participant,
    data: Mapping[str, Any],
    by: Actor,
    instance: AdverseEvent | None = None,
    reason: str = "",
    version: int | None = None,
) -> AdverseEvent:
    """Record or correct an adverse event. One that becomes serious puts an alert in the outbox in the
    same transaction, sent to the investigators once it commits (never for an event that was rolled
    back; retried when sending fails): this is the only write path for adverse events, so the SAE
    alert cannot be skipped."""
    by = require(by, Capability.ENTER_DATA)
    ae = instance or AdverseEvent(participant=participant)
    was_serious = bool(instance is not None and instance.serious)
    term_before = None if instance is None else instance.term
    _apply(ae, data, version)
    if term_before is None or " ".join(term_before.split()).casefold() != " ".join(ae.term.split()).casefold():
        _auto_code(ae)
    record_save(ae, by=by, reason=reason)
    if ae.serious and not was_serious:
        alert = sae_notification_create(adverse_event=ae)
        transaction.on_commit(partial(notification_send_task.delay, alert.pk))
    return ae


def adverse_events_create(*, events: Sequence[tuple[Participant, Mapping[str, Any]]], by: Actor) -> list[AdverseEvent]:
    """Many new adverse events at once (`adverse_event_record` for each): a casebook transcribed after
    the fact, a synthetic trial. Each is coded from its term and validated as there; all are written
    with one insert and their history rows (trial.core.services.records_create), all or nothing; and
    each serious one puts its alert in the outbox in the same transaction, as there, so no write path
    skips the SAE alert."""
    user = require(by, Capability.ENTER_DATA)
    rows = []
    for participant, data in events:
        ae = AdverseEvent(participant=participant)
        _apply(ae, data, None)
        _auto_code(ae)
        rows.append(ae)
    with transaction.atomic():
        created = records_create(rows, by=user)
        for ae in created:
            if ae.serious:
                alert = sae_notification_create(adverse_event=ae)
                transaction.on_commit(partial(notification_send_task.delay, alert.pk))
    return created


def _auto_code(ae: AdverseEvent) -> None:
    """A term that matches an LLT of the dictionary is coded with it; any other is left for the data
    manager (flagged as not coded). A term that did not change keeps its coding, even a manual one."""
    match = term_lookup(ae.term)
    if match is None:
        ae.coding, ae.coded_llt, ae.coded_pt, ae.coded_soc = AdverseEvent.Coding.UNCODED, "", "", ""
    else:
        ae.coding, ae.coded_llt, ae.coded_pt, ae.coded_soc = AdverseEvent.Coding.AUTO, match.llt, match.pt, match.soc


CODING_REASON_REQUIRED = "Say why this term is coded so (it goes into the audit trail)."


@transaction.atomic
def adverse_event_code(*, adverse_event: AdverseEvent, llt: str, reason: str, by: Actor, version: int) -> AdverseEvent:
    """The data manager codes (or re-codes) an event's term to an LLT of the dictionary, with a reason.

    The record's history keeps every coding, who made it and why (21 CFR 11.10(e)); the verbatim term
    the site typed is never changed here.
    """
    by = require(by, Capability.CODE_ADVERSE_EVENTS)
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    match = term_lookup(llt)
    if match is None:
        errors["llt"] = "Choose a lowest level term of the dictionary."
    if not reason:
        errors["reason"] = CODING_REASON_REQUIRED
    if errors:
        raise ValidationError(errors)
    assert match is not None
    ae = record_apply(
        adverse_event,
        {
            "coding": AdverseEvent.Coding.MANUAL,
            "coded_llt": match.llt,
            "coded_pt": match.pt,
            "coded_soc": match.soc,
        },
        version=version,
    )
    return record_save(ae, by=by, reason=f"Coded to {match.llt} ({match.pt}; {match.soc}): {reason}")


@transaction.atomic
def conmed_record(
    *,
    participant: Participant,
    data: Mapping[str, Any],
    by: Actor,
    instance: ConcomitantMedication | None = None,
    reason: str = "",
    version: int | None = None,
) -> ConcomitantMedication:
    """Record a medication; a prohibited class raises a protocol deviation (Schedule: Prohibited)."""
    by = require(by, Capability.ENTER_DATA)
    med = instance or ConcomitantMedication(participant=participant)
    was_prohibited = med.prohibited
    _apply(med, data, version)
    record_save(med, by=by, reason=reason)
    if med.prohibited and not was_prohibited:
        deviation_record(
            participant=participant,
            data={
                # A medication taken since before consent deviates from the protocol from consent on.
                "deviation_date": max(med.start_date, participant.timeline().consent_date or med.start_date),
                "category": ProtocolDeviation.Category.PROHIBITED_MEDICATION,
                "description": f"Prohibited medication: {med.name} ({med.get_drug_class_display()}"
                + (f", {med.dose} {med.dose_unit}" if med.dose else "")
                + "). NSAIDs and steroids are prohibited except aspirin 81 mg.",
                "concomitant_medication": med,
            },
            by=by,
        )
    return med


def deviation_record(
    *,
    participant: Participant,
    data: Mapping[str, Any],
    by: Actor,
    instance: ProtocolDeviation | None = None,
    reason: str = "",
    version: int | None = None,
) -> ProtocolDeviation:
    by = require(by, Capability.ENTER_DATA)
    dev = instance or ProtocolDeviation(participant=participant, reported_by=by)
    _apply(dev, data, version)
    return record_save(dev, by=by, reason=reason)
