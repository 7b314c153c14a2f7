"""Reads of the close-out state: locks, signatures, source verification, what blocks a lock."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Model, Q

from trial.closeout.models import (
    CasebookLock,
    DatabaseLock,
    FormFreeze,
    FormNotDone,
    Signature,
    SourceVerification,
    StudyUnblinding,
)
from trial.closeout.units import (
    UnitKey,
    casebook_records,
    casebook_records_of,
    casebook_sha256,
    casebook_visits,
    content_sha256,
    expected_units,
    has_live_data,
)
from trial.participants.models import Participant
from trial.participants.scope import participants_for
from trial.queries.models import DataQuery
from trial.queries.selectors import queries_visible_to

# A participant whose casebook can be locked: finished the study, withdrawn, or failed screening.
CLOSED_STATUSES = (Participant.Status.COMPLETED, Participant.Status.WITHDRAWN, Participant.Status.SCREEN_FAILED)
_NOT_CLOSED_QUERY = Q(status=DataQuery.Status.OPEN) | Q(status=DataQuery.Status.ANSWERED)


def database_lock_live() -> DatabaseLock | None:
    """The lock being approved or in force (not unlocked), if any."""
    return (
        DatabaseLock.objects.filter(unlocked_at__isnull=True)
        .select_related("data_manager_approved_by", "statistician_approved_by", "unlock_requested_by")
        .first()
    )


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _unit_sql(unit: UnitKey | None) -> tuple[str, list[Any]]:
    if unit is None:
        return "", []
    if unit.visit_id is None:
        return " AND visit_id IS NULL AND form = %s", [unit.form]
    return " AND visit_id = %s AND form = %s", [unit.visit_id, unit.form]


def write_blocks(participant_id: int | None, unit: UnitKey | None) -> tuple[bool, bool, bool]:
    """(database locked, casebook locked, form frozen) for a save of this participant's unit.

    Asked before every clinical save (trial.closeout.guards), so one statement rather than three ORM
    queries: written out here because the ORM's per-query cost was most of a form save's time. The
    details for a refusal message are read only when something blocks."""
    # Table names come from the models, values are parameters: nothing entered is spliced in.
    parts = [f"EXISTS(SELECT 1 FROM {_table(DatabaseLock)} WHERE unlocked_at IS NULL AND locked_at IS NOT NULL)"]  # noqa: S608
    params: list[Any] = []
    if participant_id is not None:
        parts.append(f"EXISTS(SELECT 1 FROM {_table(CasebookLock)} WHERE participant_id = %s AND unlocked_at IS NULL)")  # noqa: S608
        params.append(participant_id)
        if unit is not None:
            where, unit_params = _unit_sql(unit)
            parts.append(
                f"EXISTS(SELECT 1 FROM {_table(FormFreeze)} WHERE participant_id = %s AND unfrozen_at IS NULL{where})"  # noqa: S608
            )
            params += [participant_id, *unit_params]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = [bool(v) for v in cursor.fetchone()]
    row += [False] * (3 - len(row))
    return row[0], row[1], row[2]


def anything_blocks(participant_ids: Collection[int], units: Collection[tuple[int, UnitKey]]) -> bool:
    """Whether the database lock, a lock of one of these casebooks, or a freeze of one of these units
    blocks a save: `write_blocks` for many records at once (records created in bulk), one statement
    per 300 units. Only the yes-or-no: the refusal's details are asked unit by unit when it is yes."""
    unit_list = sorted(units, key=repr)
    ids = sorted(participant_ids)
    chunks = [unit_list[i : i + 300] for i in range(0, len(unit_list), 300)] or [[]]
    for number, chunk in enumerate(chunks):
        parts: list[str] = []
        params: list[Any] = []
        if number == 0:
            parts.append(
                f"EXISTS(SELECT 1 FROM {_table(DatabaseLock)} WHERE unlocked_at IS NULL AND locked_at IS NOT NULL)"  # noqa: S608  (as in write_blocks)
            )
            for start in range(0, len(ids), 300):
                batch = ids[start : start + 300]
                marks = ", ".join(["%s"] * len(batch))
                casebooks = f"SELECT 1 FROM {_table(CasebookLock)} WHERE participant_id IN ({marks})"  # noqa: S608  (as above)
                parts.append(f"EXISTS({casebooks} AND unlocked_at IS NULL)")
                params += batch
        if chunk:
            wheres = []
            for participant_id, unit in chunk:
                where, unit_params = _unit_sql(unit)
                wheres.append(f"(participant_id = %s{where})")
                params += [participant_id, *unit_params]
            parts.append(
                f"EXISTS(SELECT 1 FROM {_table(FormFreeze)} WHERE unfrozen_at IS NULL AND ({' OR '.join(wheres)}))"  # noqa: S608  (as above)
            )
        if not parts:
            continue
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            if any(cursor.fetchone()):
                return True
    return False


def marks_to_clear(participant_id: int, unit: UnitKey) -> tuple[bool, bool]:
    """(a live source verification of this unit, a valid signature of the casebook): what a save of the
    unit must clear (trial.closeout.guards). One statement, asked after every clinical save."""
    where, unit_params = _unit_sql(unit)
    with connection.cursor() as cursor:
        verified_sql = f"SELECT 1 FROM {_table(SourceVerification)} WHERE participant_id = %s AND cleared_at IS NULL"  # noqa: S608  (as in write_blocks)
        signed_sql = f"SELECT 1 FROM {_table(Signature)} WHERE participant_id = %s AND voided_at IS NULL"  # noqa: S608  (as above)
        cursor.execute(
            f"SELECT EXISTS({verified_sql}{where}), EXISTS({signed_sql})",
            [participant_id, *unit_params, participant_id],
        )
        verified, signed = cursor.fetchone()
    return bool(verified), bool(signed)


def marks_to_clear_many(participant_id: int, units: list[UnitKey]) -> tuple[bool, bool]:
    """marks_to_clear for several units of one casebook at once (records created in bulk): one statement."""
    wheres, params = [], []
    for unit in units:
        where, unit_params = _unit_sql(unit)
        wheres.append("(1 = 1" + where + ")")
        params += unit_params
    with connection.cursor() as cursor:
        verified_sql = (
            f"SELECT 1 FROM {_table(SourceVerification)} WHERE participant_id = %s AND cleared_at IS NULL"  # noqa: S608  (as in write_blocks)
            f" AND ({' OR '.join(wheres) or '1 = 0'})"
        )
        signed_sql = f"SELECT 1 FROM {_table(Signature)} WHERE participant_id = %s AND voided_at IS NULL"  # noqa: S608  (as above)
        cursor.execute(
            f"SELECT EXISTS({verified_sql}), EXISTS({signed_sql})",
            [participant_id, *params, participant_id],
        )
        verified, signed = cursor.fetchone()
    return bool(verified), bool(signed)


def casebooks_with_marks(units: dict[int, set[UnitKey]]) -> set[int]:
    """Of these casebooks, the ones where a save of these units has something to clear (`marks_to_clear`):
    a live source verification of one of its units, or a valid signature. One statement per 300
    units, for records saved in bulk; each casebook it names is then asked for the details."""
    pairs = sorted(((pid, unit) for pid, keys in units.items() for unit in keys), key=repr)
    found: set[int] = set()
    for start in range(0, len(pairs), 300):
        chunk = pairs[start : start + 300]
        ids = sorted({pid for pid, _ in chunk})
        wheres, params = [], []
        for participant_id, unit in chunk:
            where, unit_params = _unit_sql(unit)
            wheres.append(f"(participant_id = %s{where})")
            params += [participant_id, *unit_params]
        marks = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT participant_id FROM {_table(SourceVerification)} WHERE cleared_at IS NULL"  # noqa: S608  (as in write_blocks)
                f" AND ({' OR '.join(wheres)})"
                f" UNION SELECT participant_id FROM {_table(Signature)} WHERE voided_at IS NULL"
                f" AND participant_id IN ({marks})",
                [*params, *ids],
            )
            found |= {row[0] for row in cursor.fetchall()}
    return found


def database_locked() -> DatabaseLock | None:
    lock = database_lock_live()
    return lock if lock is not None and lock.locked_at is not None else None


def study_unblinding() -> StudyUnblinding | None:
    return StudyUnblinding.objects.select_related("declared_by", "approved_by").order_by("-id").first()


def study_is_formally_unblinded() -> bool:
    return StudyUnblinding.objects.filter(approved_at__isnull=False).exists()


def casebook_lock_live(participant_id: int) -> CasebookLock | None:
    return (
        CasebookLock.objects.filter(participant_id=participant_id, unlocked_at__isnull=True)
        .select_related("locked_by", "unlock_requested_by")
        .first()
    )


def form_freeze_live(participant_id: int, unit: UnitKey) -> FormFreeze | None:
    return FormFreeze.objects.filter(participant_id=participant_id, unfrozen_at__isnull=True, **unit.lookup()).first()


def signature_current(participant: Participant) -> Signature | None:
    """The newest signature of the casebook, valid or void."""
    return Signature.objects.filter(participant=participant).select_related("signer").first()


@dataclass
class UnitStatus:
    key: UnitKey
    records: list[Model]
    expected: bool
    has_data: bool
    not_done: FormNotDone | None
    verification: SourceVerification | None
    field_verifications: list[SourceVerification]
    cleared: SourceVerification | None  # the newest cleared mark, to say why verification was lost
    freeze: FormFreeze | None
    open_queries: int
    visit_name: str = ""  # the visit's name, for messages ("HAM-D-17 (Week 4)")

    @property
    def label(self) -> str:
        return self.key.label

    @property
    def complete(self) -> bool:
        return self.has_data or self.not_done is not None

    @property
    def needs_verification(self) -> bool:
        return self.has_data and self.verification is None


@dataclass
class CasebookStatus:
    participant: Participant
    units: list[UnitStatus]
    sha256: str
    signature: Signature | None
    lock: CasebookLock | None
    database_lock: DatabaseLock | None
    open_queries: int
    blockers: list[str] = field(default_factory=list)

    @property
    def verified(self) -> int:
        return sum(1 for u in self.units if u.has_data and u.verification is not None)

    @property
    def verifiable(self) -> int:
        return sum(1 for u in self.units if u.has_data)

    @property
    def sdv_percent(self) -> int:
        return round(100 * self.verified / self.verifiable) if self.verifiable else 0

    @property
    def signature_valid(self) -> bool:
        return self.signature is not None and self.signature.is_valid and self.signature.content_sha256 == self.sha256

    @property
    def due_for_signing(self) -> bool:
        return self.participant.status in CLOSED_STATUSES and not self.signature_valid


def casebook_status(participant: Participant) -> CasebookStatus:
    """Everything close-out knows about one casebook, and what still blocks its lock."""
    return casebook_statuses([participant])[0]


def _by_participant(rows: Any) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.participant_id, []).append(row)
    return grouped


def casebook_statuses(participants: list[Participant]) -> list[CasebookStatus]:
    """casebook_status for many participants with a fixed number of queries (one per kind of row),
    whatever the number of participants or records."""
    ids = [p.pk for p in participants]
    records_of = casebook_records_of(ids)
    marks_of = _by_participant(
        SourceVerification.objects.filter(participant_id__in=ids).select_related("verified_by").order_by("-id")
    )
    not_done_of = _by_participant(FormNotDone.objects.filter(participant_id__in=ids))
    freezes_of = _by_participant(FormFreeze.objects.filter(participant_id__in=ids, unfrozen_at__isnull=True))
    queries_of: dict[int, dict[tuple[int | None, str], int]] = {}
    for participant_id, visit_id, form in (
        DataQuery.objects.active()
        .filter(_NOT_CLOSED_QUERY, participant_id__in=ids)
        .values_list("participant_id", "visit_id", "form")
    ):
        counts = queries_of.setdefault(participant_id, {})
        counts[(visit_id, form)] = counts.get((visit_id, form), 0) + 1
    signature_of: dict[int, Signature] = {}
    for signature in Signature.objects.filter(participant_id__in=ids).select_related("signer"):
        signature_of.setdefault(signature.participant_id, signature)  # newest first (Meta.ordering)
    lock_of = {
        lock.participant_id: lock
        for lock in CasebookLock.objects.filter(participant_id__in=ids, unlocked_at__isnull=True).select_related(
            "locked_by", "unlock_requested_by"
        )
    }
    database_lock = database_locked()
    statuses = []
    for participant in participants:
        records = records_of[participant.pk]
        visit_names = {v.pk: v.definition.name for v in casebook_visits(records)}
        expected = expected_units(participant, records)
        keys = list(dict.fromkeys([*expected, *records]))
        marks = marks_of.get(participant.pk, [])
        not_done = {(n.visit_id, n.form): n for n in not_done_of.get(participant.pk, [])}
        freezes = {(f.visit_id, f.form): f for f in freezes_of.get(participant.pk, [])}
        queries = queries_of.get(participant.pk, {})
        units = []
        for key in keys:
            unit_records = records.get(key, [])
            mine = [m for m in marks if (m.visit_id, m.form) == (key.visit_id, key.form)]
            live = [m for m in mine if m.cleared_at is None]
            units.append(
                UnitStatus(
                    key=key,
                    records=unit_records,
                    expected=key in expected,
                    has_data=has_live_data(unit_records, key),
                    not_done=not_done.get((key.visit_id, key.form)),
                    verification=next((m for m in live if not m.field), None),
                    field_verifications=[m for m in live if m.field],
                    cleared=next((m for m in mine if m.cleared_at is not None), None),
                    freeze=freezes.get((key.visit_id, key.form)),
                    open_queries=queries.get((key.visit_id, key.form), 0),
                    visit_name=visit_names.get(key.visit_id, "") if key.visit_id is not None else "",
                )
            )
        status = CasebookStatus(
            participant=participant,
            units=units,
            sha256=casebook_sha256(records),
            signature=signature_of.get(participant.pk),
            lock=lock_of.get(participant.pk),
            database_lock=database_lock,
            open_queries=sum(queries.values()),
        )
        status.blockers = casebook_lock_blockers(status)
        statuses.append(status)
    return statuses


def casebook_lock_blockers(status: CasebookStatus) -> list[str]:
    """Why this casebook cannot be locked yet (ICH E6(R3): complete, queried, verified and signed)."""
    p = status.participant
    blockers = []
    if p.status not in CLOSED_STATUSES:
        blockers.append(f"The participant has not finished the study (status: {p.get_status_display()}).")
    missing = [u.label + _at(u) for u in status.units if u.expected and not u.complete]
    if missing:
        blockers.append("Expected forms neither done nor marked not done: " + ", ".join(missing) + ".")
    if status.open_queries:
        blockers.append(f"{status.open_queries} data queries are not closed.")
    unverified = [u.label + _at(u) for u in status.units if u.needs_verification]
    if unverified:
        blockers.append("Source data verification is not complete: " + ", ".join(unverified) + ".")
    if not status.signature_valid:
        if status.signature is not None and not status.signature.is_valid:
            blockers.append(
                f"The investigator's signature is {status.signature.void_reason}; the casebook must be signed again."
            )
        else:
            blockers.append("The investigator has not signed the casebook.")
    return blockers


def _at(unit: UnitStatus) -> str:
    return f" ({unit.visit_name})" if unit.visit_name else ""


def unit_content_sha256(participant: Participant, unit: UnitKey) -> tuple[list[Model], str]:
    records = casebook_records(participant).get(unit, [])
    return records, content_sha256(records)


@dataclass(frozen=True)
class WorklistRow:
    participant: Participant
    unit: UnitStatus
    since: Any


def sdv_worklist(*, user: Any) -> list[WorklistRow]:
    """Every form with data and no live verification, oldest change first (the monitor's worklist),
    at the sites this user may reach."""
    rows = []
    participants = list(
        participants_for(user)
        .exclude(status=Participant.Status.SCREENING)
        .filter(~Q(pk__in=CasebookLock.objects.filter(unlocked_at__isnull=True).values("participant_id")))
        .select_related("site")
    )
    for status in casebook_statuses(participants):
        participant = status.participant
        for unit in status.units:
            if unit.needs_verification:
                since = max(r.updated_at for r in unit.records)  # type: ignore[attr-defined]  # clinical records
                rows.append(WorklistRow(participant, unit, since))
    return sorted(rows, key=lambda r: (r.since, r.participant.participant_id))


@dataclass(frozen=True)
class StudyOverview:
    casebooks: list[CasebookStatus]
    lock: DatabaseLock | None
    unblinding: StudyUnblinding | None
    blockers: list[str]

    @property
    def locked(self) -> bool:
        return self.lock is not None and self.lock.locked_at is not None


def database_lock_blockers(casebooks: list[CasebookStatus] | None = None, *, user: Any = None) -> list[str]:
    """Why the database cannot be locked yet: every participant closed and locked, no open queries.

    With a user, for display: only the participants of the sites that user may reach are named."""
    everyone = Participant.objects.active() if user is None else participants_for(user)
    participants = list(everyone.order_by("participant_id"))
    blockers = []
    if not participants:
        blockers.append("There are no participants.")
    not_closed = [p.participant_id for p in participants if p.status not in CLOSED_STATUSES]
    if not_closed:
        blockers.append("Participants not closed: " + ", ".join(not_closed) + ".")
    locked = set(CasebookLock.objects.filter(unlocked_at__isnull=True).values_list("participant_id", flat=True))
    unlocked = [p.participant_id for p in participants if p.pk not in locked]
    if unlocked:
        blockers.append("Casebooks not locked: " + ", ".join(unlocked) + ".")
    open_queries = DataQuery.objects.active().filter(_NOT_CLOSED_QUERY).count()
    if open_queries:
        blockers.append(f"{open_queries} data queries are not closed.")
    return blockers


def study_overview(*, user: Any, with_casebooks: bool = True) -> StudyOverview:
    """The casebooks of the sites this user may reach; the lock and the unblinding are trial-wide."""
    participants = participants_for(user).order_by("participant_id").select_related("site")
    casebooks = casebook_statuses(list(participants)) if with_casebooks else []
    return StudyOverview(
        casebooks=casebooks,
        lock=database_lock_live(),
        unblinding=study_unblinding(),
        blockers=database_lock_blockers(user=user),
    )


# --- The monitor's read-only review of a casebook ---------------------------------------------------

_META_FIELDS = {
    "id",
    "version",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "voided_at",
    "voided_by",
    "void_reason",
    "participant",
    "visit",
}


@dataclass(frozen=True)
class FieldRow:
    name: str
    label: str
    value: Any
    queries: list[DataQuery]


@dataclass(frozen=True)
class HistoryRow:
    when: Any
    who: Any
    reason: str
    changes: list[tuple[str, Any, Any]]


@dataclass(frozen=True)
class RecordView:
    record: Model
    title: str
    fields: list[FieldRow]
    history: list[HistoryRow]


@dataclass(frozen=True)
class UnitView:
    status: UnitStatus
    records: list[RecordView]
    visit_name: str


def _display(record: Model, f: Any) -> Any:
    display = getattr(record, f"get_{f.name}_display", None)
    if callable(display):
        return display()
    return getattr(record, f.name)


def _history(record: Any) -> list[HistoryRow]:
    rows = list(record.history.order_by("history_date", "history_id").select_related("history_user"))
    out = []
    for previous, row in zip([None, *rows[:-1]], rows, strict=True):
        changes = []
        if previous is not None:
            delta = row.diff_against(previous)
            changes = [(c.field, c.old, c.new) for c in delta.changes if c.field not in ("version", "updated_at")]
        out.append(HistoryRow(row.history_date, row.history_user, row.history_change_reason or "", changes))
    return out


def _query_field(record: Model, name: str) -> str:
    # A lab query names the analyte (e.g. "hs_crp"): it belongs beside the result's value.
    analyte = getattr(record, "analyte", None)
    return str(analyte) if analyte and name == "value" else name


def casebook_review(*, participant: Participant, user: Any) -> dict[str, Any]:
    """Every CRF of one casebook, read-only, with each field's queries and edit-check results and each
    record's history. The arm is not part of a casebook (units.py); raters' hidden analytes stay
    hidden, asked of trial.blinding."""
    from trial.blinding import hidden_lab_analytes_for
    from trial.visits.models import Visit

    status = casebook_status(participant)
    visits = {v.pk: v for v in Visit.objects.filter(participant=participant).select_related("definition")}
    hidden = hidden_lab_analytes_for(user)
    queries: dict[tuple[int | None, str, str], list[DataQuery]] = {}
    # The queries this reviewer may read (trial.queries.selectors): not the pharmacy-only ones.
    for q in queries_visible_to(user).filter(participant=participant).order_by("created_at"):
        queries.setdefault((q.visit_id, q.form, q.field), []).append(q)
    units = []
    for unit in status.units:
        visit = visits.get(unit.key.visit_id) if unit.key.visit_id else None
        records = []
        for record in unit.records:
            if visit is not None and visit.definition.week > 0 and getattr(record, "analyte", None) in hidden:
                continue
            fields = [
                FieldRow(
                    f.name,
                    str(f.verbose_name),
                    _display(record, f),
                    queries.get((unit.key.visit_id, unit.key.form, _query_field(record, f.name)), []),
                )
                for f in record._meta.concrete_fields
                if f.name not in _META_FIELDS
            ]
            records.append(RecordView(record, str(record), fields, _history(record)))
        units.append(UnitView(unit, records, visit.definition.name if visit else ""))
    return {"casebook": status, "units": units, "participant": participant}
