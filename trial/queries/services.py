"""Writes for data queries: open, answer, close, re-open; run the edit checks; save a form with them.

Every step saves the audited query (record_save: who, when, why, version check) and appends one
message to its thread, so the history of a query reads top to bottom.
"""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from trial import blinding
from trial.access import Capability, require
from trial.core.models import User
from trial.core.services import record_save
from trial.core.types import Actor
from trial.participants.models import Participant
from trial.queries.checks import Finding, participant_findings
from trial.queries.models import DataQuery, QueryMessage
from trial.visits.models import Visit

T = TypeVar("T")


def _step(query: DataQuery, *, action: str, text: str, by: User | None, audit_by: User, reason: str) -> DataQuery:
    record_save(query, by=audit_by, reason=reason)
    QueryMessage.objects.create(query=query, action=action, text=text, author=by)
    return query


# One message per step, used by the service and the form alike.
TEXT_REQUIRED = {
    "question": "Write the question.",
    "answer": "Write the answer.",
    "reopen": "Say why the query is re-opened.",
}


def _require_text(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": TEXT_REQUIRED[what]})
    return text


@transaction.atomic
def query_open(
    *, participant: Participant, form: str, field: str, text: str, by: Actor, visit: Visit | None = None
) -> DataQuery:
    by = require(by, Capability.RAISE_QUERIES)
    text = _require_text(text, "question")
    if visit is not None and visit.participant_id != participant.pk:
        raise ValidationError("The visit belongs to another participant.")
    query = DataQuery(participant=participant, visit=visit, form=form, field=field, text=text, opened_by=by)
    return _step(query, action=QueryMessage.Action.OPENED, text=text, by=by, audit_by=by, reason="")


def _lock(query: DataQuery, version: int | None) -> DataQuery:
    if version is not None:
        query.version = version
    return query


def _unblinded_review(query: DataQuery) -> bool:
    """A query on a post-baseline value of an analyte that reveals the arm is hidden from blinded roles
    (trial.queries.selectors), so an unblinded reviewer, the role that enters those results, answers
    and closes it (trial.blinding; ICH E6(R3) 4.2)."""
    visit = query.visit
    return query.form == "labs" and visit is not None and blinding.lab_reveals_arm(query.field, visit.definition.week)


def query_step_capability(query: DataQuery, capability: Capability) -> Capability:
    """The capability a step on this query needs: the usual one, or, on an arm-revealing value, the
    unblinded reviewer's. The query page offers its buttons by the same answer, so the reviewer
    sees the buttons and nobody sees a button that would be refused. A pharmacy-only query is the
    pharmacy's to answer and close: nobody else may read it."""
    if query.audience == DataQuery.Audience.PHARMACY:
        return Capability.DISPENSE
    return Capability.ENTER_REVEALING_LABS if _unblinded_review(query) else capability


def _require_for(query: DataQuery, by: Actor, capability: Capability) -> User:
    return require(by, query_step_capability(query, capability))


@transaction.atomic
def query_answer(*, query: DataQuery, text: str, by: Actor, version: int | None = None) -> DataQuery:
    by = _require_for(query, by, Capability.ANSWER_QUERIES)
    text = _require_text(text, "answer")
    if query.status == DataQuery.Status.CLOSED:
        raise ValidationError("This query is closed; a data manager must re-open it before it can be answered.")
    _lock(query, version).status = DataQuery.Status.ANSWERED
    return _step(query, action=QueryMessage.Action.ANSWERED, text=text, by=by, audit_by=by, reason=f"Answered: {text}")


@transaction.atomic
def query_close(*, query: DataQuery, by: Actor, text: str = "", version: int | None = None) -> DataQuery:
    by = _require_for(query, by, Capability.RAISE_QUERIES)
    if query.status == DataQuery.Status.CLOSED:
        raise ValidationError("This query is already closed.")
    _lock(query, version)
    query.status = DataQuery.Status.CLOSED
    query.closed_at = timezone.now()
    query.closed_by = by
    return _step(
        query,
        action=QueryMessage.Action.CLOSED,
        text=text.strip(),
        by=by,
        audit_by=by,
        reason="Closed" + (f": {text.strip()}" if text.strip() else ""),
    )


@transaction.atomic
def query_reopen(*, query: DataQuery, text: str, by: Actor, version: int | None = None) -> DataQuery:
    by = _require_for(query, by, Capability.RAISE_QUERIES)
    text = _require_text(text, "reopen")
    if query.status == DataQuery.Status.OPEN:
        raise ValidationError("This query is already open.")
    _lock(query, version)
    query.status = DataQuery.Status.OPEN
    query.closed_at = None
    query.closed_by = None
    return _step(query, action=QueryMessage.Action.REOPENED, text=text, by=by, audit_by=by, reason=f"Re-opened: {text}")


@transaction.atomic
def edit_checks_run(*, participant: Participant, by: Actor) -> dict[str, int]:
    """Open a query per new finding; close the ones whose data were corrected; re-open if they come back.

    A query a data manager closed by hand stays closed: they accepted the value, and raising it
    again on every save would bury the real questions.
    """
    # The checks run as part of the save of whoever entered the data (any role may trigger them).
    by = require(by, Capability.VIEW_PARTICIPANTS)
    # Two saves for one participant at once would both read "no query yet" and both open one. The
    # checks of one participant run one at a time: the second waits on the participant's row, then
    # reads the queries the first opened (ICH E6(R3): one question per finding).
    with transaction.atomic():
        Participant.objects.select_for_update().filter(pk=participant.pk).first()
        return _findings_sync_locked(
            participant=participant,
            findings=participant_findings(participant),
            source=DataQuery.Source.EDIT_CHECK,
            audience=DataQuery.Audience.ALL,
            by=by,
        )


@transaction.atomic
def findings_sync(
    *, participant: Participant, findings: list[Finding], source: str, audience: str, by: Actor
) -> dict[str, int]:
    """As `edit_checks_run`, for findings another part of the system computed (e.g. the pharmacy
    reconciliation): one query per finding of this `source`, closed when the finding goes away.

    Only a caller who may read queries of that `audience` may run it, so a blinded role can never
    open, close or count a pharmacy-only query."""
    capability = Capability.DISPENSE if audience == DataQuery.Audience.PHARMACY else Capability.VIEW_PARTICIPANTS
    user = require(by, capability)
    if source in (DataQuery.Source.MANUAL, DataQuery.Source.EDIT_CHECK):
        raise ValueError("Manual queries and edit checks have their own services.")
    Participant.objects.select_for_update().filter(pk=participant.pk).first()
    return _findings_sync_locked(participant=participant, findings=findings, source=source, audience=audience, by=user)


def _findings_sync_locked(
    *, participant: Participant, findings: list[Finding], source: str, audience: str, by: User
) -> dict[str, int]:
    found = {f.key: f for f in findings}
    counts = {"opened": 0, "closed": 0, "reopened": 0}
    existing: dict[tuple[str, int | None, str, str], DataQuery] = {}
    for q in DataQuery.objects.active().filter(participant=participant, source=source).order_by("id"):
        existing[(q.check_code, q.visit_id, q.form, q.field)] = q  # the latest per key wins
    for key, query in existing.items():
        finding = found.get(key)
        if finding is None and query.status != DataQuery.Status.CLOSED:
            query.status = DataQuery.Status.CLOSED
            query.closed_at = timezone.now()
            query.closed_by = None
            _step(
                query,
                action=QueryMessage.Action.AUTO_CLOSED,
                text="The data were corrected; the edit check passes.",
                by=None,
                audit_by=by,
                reason="Edit check passes: data corrected",
            )
            counts["closed"] += 1
        elif finding is not None and query.status == DataQuery.Status.CLOSED and query.closed_by_id is None:
            query.status = DataQuery.Status.OPEN
            query.closed_at = None
            query.text = finding.text
            _step(
                query,
                action=QueryMessage.Action.AUTO_REOPENED,
                text=finding.text,
                by=None,
                audit_by=by,
                reason="Edit check fails again",
            )
            counts["reopened"] += 1
    for key, finding in found.items():
        if key in existing:
            continue
        query = DataQuery(
            participant=participant,
            visit_id=finding.visit_id,
            form=finding.form,
            field=finding.field,
            text=finding.text,
            source=source,
            audience=audience,
            check_code=finding.check_code,
        )
        _step(query, action=QueryMessage.Action.OPENED, text=finding.text, by=None, audit_by=by, reason="")
        counts["opened"] += 1
    return counts
