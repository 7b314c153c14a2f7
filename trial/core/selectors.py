from typing import Any

from django.db.models import Count

from trial.participants.models import Participant
from trial.protocol.models import Trial


def dashboard_summary() -> dict[str, Any]:
    trial = Trial.objects.first()
    by_status = dict(Participant.objects.active().values_list("status").annotate(n=Count("id")).order_by())
    randomized = sum(by_status.get(s, 0) for s in ("randomized", "withdrawn", "completed"))
    return {
        "trial": trial,
        "participants_by_status": by_status,
        "randomized_count": randomized,
        "target": trial.target_enrollment if trial else 0,
    }
