"""An SAE notifies the investigators at once (issue 4 §4).

The e-mail is sent after the transaction commits, so nobody is told about an event that was then
rolled back, and it names the participant and the event only: nothing about treatment.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction

from trial.core.roles import Role
from trial.core.types import Actor
from trial.participants.models import Participant
from trial.safety.models import AdverseEvent
from trial.safety.services import adverse_event_record

log = logging.getLogger("stratum.safety")


def adverse_event_report(
    *,
    participant: Participant,
    data: dict[str, Any],
    by: Actor,
    instance: AdverseEvent | None = None,
    reason: str = "",
    version: int | None = None,
) -> AdverseEvent:
    """Record an adverse event; one that is newly serious notifies the investigators on commit."""
    was_serious = bool(instance is not None and instance.serious)
    ae = adverse_event_record(
        participant=participant, data=data, by=by, instance=instance, reason=reason, version=version
    )
    if ae.serious and not was_serious:
        transaction.on_commit(partial(sae_notify_investigators, adverse_event_id=ae.pk))
    return ae


def sae_notify_investigators(*, adverse_event_id: int) -> int:
    ae = AdverseEvent.objects.select_related("participant").get(pk=adverse_event_id)
    recipients = list(
        get_user_model()
        .objects.filter(groups__name=Role.INVESTIGATOR.value, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    criteria = [str(AdverseEvent._meta.get_field(c).verbose_name) for c in AdverseEvent.SAE_CRITERIA if getattr(ae, c)]
    log.warning("SAE recorded for %s: %s", ae.participant.participant_id, ae.term)
    if not recipients:
        log.error("SAE for %s: no investigator with an e-mail address to notify", ae.participant.participant_id)
        return 0
    return send_mail(
        subject=f"[Stratum] SAE: {ae.participant.participant_id} - {ae.term}",
        message=(
            f"A serious adverse event was recorded for participant {ae.participant.participant_id}.\n\n"
            f"Event: {ae.term}\nOnset: {ae.onset_date:%d %b %Y}\nSeverity: {ae.get_severity_display()}\n"
            f"Seriousness: {', '.join(criteria)}\nRelatedness: {ae.get_relatedness_display()}\n"
            f"Outcome: {ae.get_outcome_display()}\n\n"
            "Review it in Stratum and report it to the sponsor and IRB within the required timelines."
        ),
        from_email=None,
        recipient_list=recipients,
    )
