"""Celery tasks of the SAE alert outbox (trial.safety.notifications). Each takes ids and calls one service."""

from celery import shared_task


@shared_task(name="safety.notification_send", acks_late=True)  # type: ignore[untyped-decorator]  # celery has no stubs
def notification_send_task(notification_id: int) -> str:
    from trial.safety.notifications import notification_send

    return str(notification_send(notification_id=notification_id).status)


@shared_task(name="safety.notifications_resend_due")  # type: ignore[untyped-decorator]  # celery has no stubs
def notifications_resend_due_task() -> int:
    from trial.safety.notifications import notifications_resend_due

    return notifications_resend_due()
