"""Celery tasks of randomization. Each takes plain values and calls one service."""

from celery import shared_task


@shared_task(name="randomization.list_alert_send", acks_late=True)  # type: ignore[untyped-decorator]  # celery has no stubs
def list_alert_send_task(*, subject: str, message: str) -> int:
    """Alert the unblinded statistician (a stratum exhausted, a list that failed its SHA-256 check)."""
    from trial.randomization.services import list_alert_send

    return list_alert_send(subject=subject, message=message)
