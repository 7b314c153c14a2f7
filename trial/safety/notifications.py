"""An SAE notifies the investigators at once (protocol: Safety; ICH E6(R3) expedited reporting).

The alert is a row of the outbox (`Notification`), written in the transaction that records the SAE:
nobody is told about an event that was then rolled back, and no SAE is left without its alert. A
Celery task sends it after commit (trial.safety.tasks); a failure (mail server down, a refused
header) is recorded and retried with a growing wait, and after the last attempt the alert is
listed on the failures page for someone to act on. The e-mail names the participant and the event
only: nothing about treatment.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from trial.access import Capability, users_with
from trial.safety.models import AdverseEvent, Notification

log = logging.getLogger("stratum.safety")

MAX_ATTEMPTS = 5
# Waits after each failed attempt: 1, 2, 4, 8 minutes (then the alert is failed and listed).
FIRST_RETRY = timedelta(minutes=1)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _label(field_name: str) -> str:
    field = AdverseEvent._meta.get_field(field_name)
    return str(getattr(field, "verbose_name", field_name))


def _one_line(text: str) -> str:
    # A header never carries a control character (a line break would be refused as a bad header).
    return _CONTROL.sub(" ", text).strip()


def sae_notification_create(*, adverse_event: AdverseEvent) -> Notification:
    """The outbox row of an SAE; called inside the transaction that records it."""
    return Notification.objects.create(adverse_event=adverse_event)


def _send(ae: AdverseEvent, recipients: list[str]) -> int:
    criteria = [_label(c) for c in AdverseEvent.SAE_CRITERIA if getattr(ae, c)]
    pid = ae.participant.participant_id
    return send_mail(
        subject=_one_line(f"[Stratum] SAE: {pid} - {ae.term}"),
        message=(
            f"A serious adverse event was recorded for participant {pid}.\n\n"
            f"Event: {ae.term}\nOnset: {ae.onset_date:%d %b %Y}\nSeverity: {ae.get_severity_display()}\n"
            f"Seriousness: {', '.join(criteria)}\nRelatedness: {ae.get_relatedness_display()}\n"
            f"Outcome: {ae.get_outcome_display()}\n\n"
            "Review it in Stratum and report it to the sponsor and IRB within the required timelines."
        ),
        from_email=None,
        recipient_list=recipients,
    )


def notification_send(*, notification_id: int) -> Notification:
    """One attempt to send an alert that is still pending. The row is locked while it is sent, so two
    workers never send the same alert twice."""
    with transaction.atomic():
        n = Notification.objects.select_for_update().get(pk=notification_id)
        if n.status != Notification.Status.PENDING:
            return n
        ae = AdverseEvent.objects.select_related("participant").get(pk=n.adverse_event_id)
        recipients = list(users_with(Capability.RECEIVE_SAE_ALERTS).exclude(email="").values_list("email", flat=True))
        n.attempts += 1
        n.recipients = recipients
        log.warning("SAE recorded for %s: %s", ae.participant.participant_id, _one_line(ae.term))
        try:
            if not recipients:
                raise LookupError("no investigator with an e-mail address to notify")
            _send(ae, recipients)
        except Exception as exc:  # any failure to send is recorded on the alert, never lost
            n.last_error = f"{type(exc).__name__}: {exc}"
            if n.attempts >= MAX_ATTEMPTS:
                n.status = Notification.Status.FAILED
                n.next_attempt_at = None
                log.error("SAE alert %s for %s failed: %s", n.pk, ae.participant.participant_id, n.last_error)
            else:
                n.next_attempt_at = timezone.now() + FIRST_RETRY * 2 ** (n.attempts - 1)
        else:
            n.status = Notification.Status.SENT
            n.sent_at = timezone.now()
            n.next_attempt_at = None
        n.save()
    return n


def notifications_due(*, now: Any = None) -> list[int]:
    """Pending alerts whose next attempt is due (the periodic retry)."""
    now = now or timezone.now()
    return list(
        Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lte=now).values_list(
            "pk", flat=True
        )
    )


def notifications_resend_due(*, now: Any = None) -> int:
    return sum(
        notification_send(notification_id=pk).status == Notification.Status.SENT for pk in notifications_due(now=now)
    )
