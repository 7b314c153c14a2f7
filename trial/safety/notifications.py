"""An SAE notifies the investigators at once (protocol: Safety; ICH E6(R3) expedited reporting).

The e-mail is sent after the transaction commits, so nobody is told about an event that was then
rolled back, and it names the participant and the event only: nothing about treatment.
"""

from __future__ import annotations

import logging

from django.core.mail import send_mail

from trial.access import Capability, users_with
from trial.safety.models import AdverseEvent

log = logging.getLogger("stratum.safety")


def _label(field_name: str) -> str:
    field = AdverseEvent._meta.get_field(field_name)
    return str(getattr(field, "verbose_name", field_name))


def sae_notify_investigators(*, adverse_event_id: int) -> int:
    ae = AdverseEvent.objects.select_related("participant").get(pk=adverse_event_id)
    recipients = list(users_with(Capability.RECEIVE_SAE_ALERTS).exclude(email="").values_list("email", flat=True))
    criteria = [_label(c) for c in AdverseEvent.SAE_CRITERIA if getattr(ae, c)]
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
