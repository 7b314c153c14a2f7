"""Pharmacy reconciliation: the clinic's infusion record against the pharmacy's dispensing.

ICH E6(R3) asks that investigational product be accounted for: every bag dispensed was given (or
returned or destroyed), every infusion given came from a dispensed bag. The mismatches are read by
`trial.pharmacy.selectors.reconciliation_mismatches`; each raises a data query for the unblinded
pharmacy only (`DataQuery.Audience.PHARMACY`), since the pharmacy's kits and dispensing are hidden
from blinded staff (trial.blinding). It lives here, above both the pharmacy and the queries, as the
reconciliation that close-out asks for before the database lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction

from trial.access import Capability, require
from trial.core.types import Actor
from trial.participants.models import Participant
from trial.pharmacy.selectors import Mismatch, reconciliation_mismatches
from trial.queries.checks import Finding
from trial.queries.models import DataQuery
from trial.queries.selectors import queries_visible_to
from trial.queries.services import findings_sync

FORM = "pharmacy"
FIELD = "dispensing"


def _finding(mismatch: Mismatch) -> Finding:
    return Finding(check_code=mismatch.kind, visit_id=mismatch.visit.pk, form=FORM, field=FIELD, text=mismatch.text)


@dataclass(frozen=True)
class ReconciliationRow:
    mismatch: Mismatch
    query: DataQuery | None


def reconciliation_rows(*, user: Any, today: date | None = None) -> list[ReconciliationRow]:
    """Every mismatch with the query it raised (None until the reconciliation is run)."""
    mismatches = reconciliation_mismatches(user=user, today=today)
    queries = {
        (q.check_code, q.visit_id): q
        for q in queries_visible_to(user).filter(source=DataQuery.Source.RECONCILIATION).order_by("id")
    }
    return [ReconciliationRow(m, queries.get((m.kind, m.visit.pk))) for m in mismatches]


def pharmacy_reconciliation_run(*, by: Actor, today: date | None = None) -> dict[str, int]:
    """Open a pharmacy-only query per new mismatch, close those resolved, re-open those that came back."""
    user = require(by, Capability.DISPENSE)
    by_participant: dict[int, list[Finding]] = {}
    for mismatch in reconciliation_mismatches(user=user, today=today):
        by_participant.setdefault(mismatch.participant.pk, []).append(_finding(mismatch))
    # Participants with a query still open are synced too, so a resolved mismatch closes its query.
    still_open = (
        DataQuery.objects.active()
        .filter(source=DataQuery.Source.RECONCILIATION)
        .exclude(status=DataQuery.Status.CLOSED)
    )
    pks = set(by_participant) | set(still_open.values_list("participant_id", flat=True))
    counts = {"opened": 0, "closed": 0, "reopened": 0}
    for participant in Participant.objects.filter(pk__in=pks).order_by("participant_id"):
        with transaction.atomic():
            done = findings_sync(
                participant=participant,
                findings=by_participant.get(participant.pk, []),
                source=DataQuery.Source.RECONCILIATION,
                audience=DataQuery.Audience.PHARMACY,
                by=user,
            )
        for key, n in done.items():
            counts[key] += n
    return counts
