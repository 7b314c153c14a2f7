"""SAE alerts go through an outbox: saved with the event, sent after commit, retried when sending
fails, and listed on the failures page when they could not be sent."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from trial.safety.models import AdverseEvent, Notification
from trial.safety.notifications import MAX_ATTEMPTS, notifications_resend_due
from trial.safety.services import adverse_event_record

pytestmark = pytest.mark.django_db
SAE = {
    "term": "Pneumonia",
    "onset_date": date.today(),
    "severity": "severe",
    "relatedness": "possible",
    "outcome": "recovering",
    "ongoing": True,
    "serious": True,
    "sae_hospitalization": True,
}
FAILING = "tests.trial.safety.failing_mail.FailingBackend"


@pytest.fixture
def investigator_with_email(users: Any) -> Any:
    inv = users["investigator"]
    inv.email = "investigator@example.org"
    inv.save()
    return inv


def _sae(p: Any, by: Any, capture: Any, **more: Any) -> AdverseEvent:
    with capture(execute=True):
        return adverse_event_record(participant=p, data=SAE | more, by=by)


def test_an_sae_is_sent_through_the_outbox(
    randomized: Any, coordinator: Any, investigator_with_email: Any, django_capture_on_commit_callbacks: Any
) -> None:
    ae = _sae(randomized, coordinator, django_capture_on_commit_callbacks)
    alert = Notification.objects.get(adverse_event=ae)
    assert alert.status == Notification.Status.SENT and alert.attempts == 1
    assert alert.recipients == ["investigator@example.org"]
    assert len(mail.outbox) == 1 and "Pneumonia" in mail.outbox[0].subject


def test_a_failing_mail_server_keeps_the_sae_retries_and_lists_the_failure(
    settings: Any,
    randomized: Any,
    coordinator: Any,
    investigator_with_email: Any,
    login: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.EMAIL_BACKEND = FAILING
    ae = _sae(randomized, coordinator, django_capture_on_commit_callbacks)
    assert AdverseEvent.objects.filter(pk=ae.pk).exists()
    alert = Notification.objects.get(adverse_event=ae)
    assert alert.status == Notification.Status.PENDING and alert.attempts == 1
    assert "SMTP down" in alert.last_error and alert.next_attempt_at is not None
    far = alert.next_attempt_at + timedelta(days=1)
    for _ in range(MAX_ATTEMPTS):
        notifications_resend_due(now=far)
    alert.refresh_from_db()
    assert alert.status == Notification.Status.FAILED and alert.attempts == MAX_ATTEMPTS
    page = login("datamanager").get("/safety/alerts/failures/")
    assert page.status_code == 200 and "Pneumonia" in page.content.decode() and "SMTP down" in page.content.decode()
    # Once the mail server is back, a pending alert goes out on its next attempt.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    second = _sae(randomized, coordinator, django_capture_on_commit_callbacks, term="Sepsis")
    assert Notification.objects.get(adverse_event=second).status == Notification.Status.SENT


def test_an_sae_with_nobody_to_tell_is_listed(
    randomized: Any, coordinator: Any, users: Any, login: Any, django_capture_on_commit_callbacks: Any
) -> None:
    for user in {u.pk: u for u in users.values()}.values():
        user.email = ""
        user.save()
    _sae(randomized, coordinator, django_capture_on_commit_callbacks)
    alert = Notification.objects.get()
    assert "no investigator with an e-mail address" in alert.last_error
    assert "Pneumonia" in login("investigator").get("/safety/alerts/failures/").content.decode()


def test_the_failures_page_is_for_those_who_must_act(login: Any, users: Any) -> None:
    assert login("coordinator").get("/safety/alerts/failures/").status_code == 403
    assert login("admin").get("/safety/alerts/failures/").status_code == 200


def test_a_term_with_a_line_break_is_refused(randomized: Any, coordinator: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        adverse_event_record(
            participant=randomized, data=SAE | {"term": "Pneumonia\nBcc: x@example.org"}, by=coordinator
        )
    assert "term" in exc.value.message_dict
    assert not Notification.objects.exists()
