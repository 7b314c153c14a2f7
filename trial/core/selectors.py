"""The trial dashboard: enrollment against target by stratum (never by arm), visits due, queries,
screen failures. A fixed number of queries whatever the size of the trial."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from trial.participants.models import Participant
from trial.participants.selectors import screen_failures
from trial.protocol.models import Trial
from trial.protocol.selectors import protocol
from trial.queries.selectors import open_query_counts
from trial.randomization.models import Allocation
from trial.visits.selectors import visits_due

ON_STUDY = ("randomized", "withdrawn", "completed")


def stratum_label(code: str) -> str:
    """'CRP>=2|F' -> 'hs-CRP >= 2 mg/L, Female', from the protocol's stratification factors."""
    cfg = protocol()
    labels = {lv.code: lv.label for f in cfg.stratification for lv in f.levels}
    return ", ".join(labels.get(part, part) for part in code.split("|"))


def enrollment_by_stratum() -> list[dict[str, Any]]:
    """Randomized participants per stratum. Strata come from screening data, so they reveal no arm."""
    counts = dict(Allocation.objects.active().values_list("stratum").annotate(n=Count("id")).order_by())
    strata = protocol().strata()
    rows = [{"code": s, "label": stratum_label(s), "n": counts.pop(s, 0)} for s in strata]
    rows += [{"code": s, "label": stratum_label(s), "n": n} for s, n in sorted(counts.items())]
    return rows


def dashboard_summary(*, user: Any = None) -> dict[str, Any]:
    trial = Trial.objects.first()
    by_status = dict(Participant.objects.active().values_list("status").annotate(n=Count("id")).order_by())
    randomized = sum(by_status.get(s, 0) for s in ON_STUDY)
    target = trial.target_enrollment if trial else 0
    queries = open_query_counts(user=user)
    status_labels = dict(Participant.Status.choices)
    return {
        "trial": trial,
        "participants_by_status": {status_labels.get(s, s): n for s, n in by_status.items()},
        "randomized_count": randomized,
        "target": target,
        "percent_enrolled": round(100 * randomized / target) if target else 0,
        "strata": enrollment_by_stratum(),
        "due": visits_due(),
        "queries_open": queries.get("open", 0),
        "queries_answered": queries.get("answered", 0),
        "screen_failures": screen_failures(),
        "screened_count": sum(by_status.values()),
    }
