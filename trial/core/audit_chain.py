"""Tamper evidence for the audit trail: a SHA-256 hash chain, and its verification.

The append-only triggers (`trial.core.audit_triggers`) stop the application's database role from
changing history. Someone who can disable triggers (a database owner, or a restored backup edited
offline) could still change it; the chain makes that detectable (21 CFR 11.10(c) protection of
records, 11.10(e) audit trails that cannot obscure earlier entries).

- Every append-only audit row (each django-simple-history snapshot, each access-log entry, list
  event and query message) is sealed when it is written: its stored values are read back and
  hashed, and the hash is chained to the previous seal (`AuditSeal`). Seals are append-only too.
- `audit_verify()` walks the chain and every sealed table and reports seals that were forged,
  altered, removed or reordered; rows altered, deleted, or inserted without a seal; and clinical
  rows whose current values differ from their last history snapshot (a direct SQL UPDATE).

One limit, stated plainly: deleting the newest rows together with their seals leaves a shorter
chain that is still valid. `manage.py audit_verify` prints the chain's head (count and hash);
production keeps each night's head outside the database (the run log), and a later run is checked
with `--expect-at-least COUNT:HASH`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.utils import timezone
from simple_history.models import HistoricalChanges

from trial.core.models import AuditSeal, ClinicalRecord
from trial.core.rows import rows_insert

GENESIS = "0" * 64
# PostgreSQL advisory lock key for the chain ("STRATUM" in ASCII): two transactions that seal at the
# same time must not both chain to the same previous seal. SQLite takes its write lock at BEGIN
# (transaction_mode IMMEDIATE, trial.settings.base), which serialises them already.
_CHAIN_LOCK_KEY = 0x53545241545548


def _is_sealed(model: type[models.Model]) -> bool:
    if model is AuditSeal:
        return False
    audited = issubclass(model, HistoricalChanges) or getattr(model, "append_only", False)
    # A model whose rows are written in bulk (and so without a per-row hook) declares
    # `audit_chain = False` and says what protects it instead.
    return bool(audited and getattr(model, "audit_chain", True))


@functools.cache
def _sealed_model_set() -> frozenset[type[models.Model]]:
    return frozenset(m for m in apps.get_models() if _is_sealed(m))


def sealed_models() -> list[type[models.Model]]:
    return sorted(_sealed_model_set(), key=lambda m: m._meta.db_table)


def row_sha256(values: dict[str, Any]) -> str:
    """The hash of a row as the database returns it (`.values()`), so that hashing at write time and
    at verification read the same representation of decimals, dates and times."""
    canonical = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain_sha256(previous: str, table: str, row_id: str, row_hash: str) -> str:
    return hashlib.sha256(f"{previous}|{table}|{row_id}|{row_hash}".encode()).hexdigest()


def _stored_row_hashes(by_model: dict[type[models.Model], list[Any]]) -> dict[tuple[str, str], str]:
    """The hash of each row as stored, keyed by (table, row id): one query per table (per 500 rows).

    The rows are read as `.values()` reads them at verification (`_verify_rows`): the same columns,
    through the same converters, which `_ReadBack` takes from the ORM's own compiler once per model
    and connection; only the statement is written once instead of compiled for every read."""
    hashes: dict[tuple[str, str], str] = {}
    for model, pks in by_model.items():
        table = model._meta.db_table
        read = _read_back(model)
        for start in range(0, len(pks), 500):
            for values in read(pks[start : start + 500]):
                hashes[(table, str(values[read.key]))] = row_sha256(values)
    return hashes


class _ReadBack:
    """Reads rows of one model by key as `model._base_manager.filter(pk__in=...).values()` would: the
    column list and the converters come from the ORM's compiler of that very query."""

    def __init__(self, model: type[models.Model], db: Any) -> None:
        query = model._base_manager.using(db.alias).filter(pk__in=[0]).order_by().values().query
        compiler = query.get_compiler(connection=db)
        sql, _ = compiler.as_sql()
        select, where = sql.split(" WHERE ", 1)
        if " FROM " not in select or where.count("%s") != 1:  # pragma: no cover - the ORM's own shape of this query
            raise RuntimeError(f"Unexpected read-back statement for {model.__name__}: {sql}")
        expressions = [s[0] for s in compiler.select[: compiler.col_count]]
        self.names = [*query.extra_select, *query.values_select, *query.annotation_select]
        self.converters = [
            (i, funcs, expression) for i, (funcs, expression) in compiler.get_converters(expressions).items()
        ]
        self.key = model._meta.pk.attname
        self.select = select + " WHERE {} IN ".format(
            f"{db.ops.quote_name(model._meta.db_table)}.{db.ops.quote_name(model._meta.pk.column)}"
        )
        self.pk = model._meta.pk
        self.db = db

    def __call__(self, pks: Sequence[Any]) -> list[dict[str, Any]]:
        db = self.db
        params = [self.pk.get_db_prep_value(pk, db) for pk in pks]
        with db.cursor() as cursor:
            cursor.execute(self.select + "({})".format(", ".join(["%s"] * len(params))), params)
            rows = cursor.fetchall()
        out = []
        for row in rows:
            values = list(row)
            for i, funcs, expression in self.converters:
                value = values[i]
                for convert in funcs:
                    value = convert(value, expression, db)
                values[i] = value
            out.append(dict(zip(self.names, values, strict=True)))
        return out


# Per thread (each has its own connection), per model; made again if the thread's connection object is new.
_read_backs = threading.local()


def _read_back(model: type[models.Model]) -> _ReadBack:
    db = connections[DEFAULT_DB_ALIAS]
    cache: dict[type[models.Model], _ReadBack] | None = getattr(_read_backs, "cache", None)
    if cache is None:
        cache = _read_backs.cache = {}
    read = cache.get(model)
    if read is None or read.db is not db:
        read = cache[model] = _ReadBack(model, db)
    return read


def _chain_head_sha256() -> str:
    # Written out: asked on every audited write, where the ORM's cost of building the query was most of it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT chain_sha256 FROM {connection.ops.quote_name(AuditSeal._meta.db_table)} ORDER BY id DESC LIMIT 1"  # noqa: S608  (the model's table name; no input)
        )
        row = cursor.fetchone()
    return str(row[0]) if row else GENESIS


def audit_row_seal(instance: models.Model) -> AuditSeal:
    """Seal one newly written audit row into the chain, in the transaction that wrote it."""
    return audit_rows_seal([instance])[0]


def audit_rows_seal(
    instances: Sequence[models.Model], *, hashes: dict[tuple[str, str], str] | None = None
) -> list[AuditSeal]:
    """Seal many newly written audit rows into the chain in one pass, in the transaction that wrote them.

    The stored values are read back with one query per table, and the seals are chained and written
    with one insert under one take of the chain lock (on PostgreSQL, by one call of a database
    function): the lock every auditing transaction queues on is held for a few statements, not for
    one round of them per row. A row that is no longer there
    (written in a savepoint that was rolled back) is not sealed: it is in no table to verify.
    `hashes` are rows already read back (`audit_seals_deferred`), keyed by (table, row id).
    """
    return _keys_seal([(type(i), i.pk) for i in instances], hashes=hashes)


def _keys_seal(
    keys: Sequence[tuple[type[models.Model], Any]], *, hashes: dict[tuple[str, str], str] | None = None
) -> list[AuditSeal]:
    """`audit_rows_seal` of rows given as (model, key)."""
    hashes = dict(hashes or {})
    by_model: dict[type[models.Model], list[Any]] = defaultdict(list)
    order = []
    for model, pk in keys:
        key = (model._meta.db_table, str(pk))
        order.append(key)
        if key not in hashes:
            by_model[model].append(pk)
    hashes.update(_stored_row_hashes(by_model))
    todo = [key for key in dict.fromkeys(order) if key in hashes]
    if not todo:
        return []
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _seals_write_postgresql(todo, hashes, now)
    # No savepoint: a failure here fails the transaction that wrote the rows, as it must.
    with transaction.atomic(savepoint=False):
        previous = _chain_head_sha256()
        seals = []
        for table, row_id in todo:
            row_hash = hashes[(table, row_id)]
            chained = chain_sha256(previous, table, row_id, row_hash)
            seals.append(
                AuditSeal(
                    table_name=table,
                    row_id=row_id,
                    row_sha256=row_hash,
                    previous_sha256=previous,
                    chain_sha256=chained,
                    sealed_at=now,
                )
            )
            previous = chained
        if len(seals) == 1:
            seals[0].save()
        else:
            # One multi-row INSERT: its ids follow the list's order (one statement under the chain lock),
            # which is the order verification walks the chain in.
            seals = rows_insert(seals)
    return seals


def _seals_write_postgresql(
    todo: list[tuple[str, str]], hashes: dict[tuple[str, str], str], now: Any
) -> list[AuditSeal]:
    """The seals chained and written by the database function `stratum_audit_seal` (migration
    core 0007): the chain lock, the chain's head and the insert in one statement instead of three, so
    an allocation holds its stratum's lock for two round trips fewer. Its statements each take a new
    snapshot (a VOLATILE function under READ COMMITTED), so the head is read once the lock is held,
    as `_chain_head_sha256` is; it chains with `chain_sha256`'s formula, and the ids follow the chain."""
    row_hashes = [hashes[key] for key in todo]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT seal_id, seal_previous, seal_chain FROM stratum_audit_seal(%s, %s, %s, %s, %s)",
            [_CHAIN_LOCK_KEY, [t for t, _ in todo], [r for _, r in todo], row_hashes, now],
        )
        written = cursor.fetchall()
    seals = []
    for (table, row_id), row_hash, (pk, previous, chained) in zip(todo, row_hashes, written, strict=True):
        seal = AuditSeal(
            pk=pk,
            table_name=table,
            row_id=row_id,
            row_sha256=row_hash,
            previous_sha256=previous,
            chain_sha256=chained,
            sealed_at=now,
        )
        seal._state.adding = False
        seal._state.db = connection.alias
        seals.append(seal)
    return seals


@dataclass
class _DeferredBlock:
    rows: list[tuple[type[models.Model], Any]] = field(default_factory=list)  # (model, key) to seal, in write order
    hashes: dict[tuple[str, str], str] = field(default_factory=dict)  # those already read back
    savepoints: int = 0  # savepoints open when the block began


# The `audit_seals_deferred()` blocks open now, per thread (each thread has its own connection and
# transaction): a stack, so a nested block seals its own rows when it ends.
_deferred = threading.local()


def _deferred_stack() -> list[_DeferredBlock]:
    stack: list[_DeferredBlock] | None = getattr(_deferred, "stack", None)
    if stack is None:
        stack = _deferred.stack = []
    return stack


def _open_savepoints() -> int:
    # Django keeps one entry per open atomic block, None for a block that made no savepoint.
    return sum(1 for sid in connection.savepoint_ids if sid is not None)


@contextmanager
def audit_seals_deferred() -> Iterator[None]:
    """Seal the audit rows written in this block all at once, when it ends, instead of one by one.

    For a service that writes many audit rows in one transaction (an allocation: the visit schedule,
    the allocation, the participant, the list's events): its rows are sealed in one pass at the end,
    so the chain lock is taken once and held only from there to the commit, not from the first audit
    row on. Use it inside the transaction (`transaction.atomic`): if the block raises, nothing is
    sealed, and the transaction rolls the rows back with it.

    A row written while no savepoint is open that was not open when the block began is read back
    (hashed) as it is written: it can then only be rolled back together with the seals the block
    writes at its end, and audit rows are append-only, so its stored values are final. The reading
    is then done before whatever lock the service takes later (the stratum's), not under it. A row
    written inside a newer savepoint is read back at the end, and not sealed if that savepoint was
    rolled back.
    """
    stack = _deferred_stack()
    stack.append(_DeferredBlock(savepoints=_open_savepoints()))
    try:
        yield
    except BaseException:
        stack.pop()
        raise
    block = stack.pop()
    if block.rows:
        _keys_seal(block.rows, hashes=block.hashes)


def audit_rows_written(instances: Sequence[models.Model]) -> None:
    """Seal audit rows written without a post_save signal (in bulk): now, or at the end of the
    enclosing `audit_seals_deferred()` block."""
    by_model: dict[type[models.Model], list[Any]] = defaultdict(list)
    for instance in instances:
        by_model[type(instance)].append(instance.pk)
    if len(by_model) == 1:
        ((model, pks),) = by_model.items()
        audit_keys_written(model, pks)
        return
    _keys_written([(type(i), i.pk) for i in instances], by_model)


def audit_keys_written(model: type[models.Model], pks: Sequence[Any]) -> None:
    """`audit_rows_written` of rows of one model given by their keys (rows written without an instance)."""
    _keys_written([(model, pk) for pk in pks], {model: list(pks)})


def _keys_written(keys: list[tuple[type[models.Model], Any]], by_model: dict[type[models.Model], list[Any]]) -> None:
    stack = _deferred_stack()
    if not stack:
        _keys_seal(keys)
        return
    block = stack[-1]
    block.rows.extend(keys)
    if _open_savepoints() == block.savepoints:
        block.hashes.update(_stored_row_hashes(by_model))


def seal_after_save(sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any) -> None:
    """post_save hook (connected in trial.core.apps). A hook rather than a call in each service: audit
    rows are written by django-simple-history and by several apps, and a row that one path forgot to
    seal would look forged."""
    if created and sender in _sealed_model_set():
        audit_rows_written([instance])


# --- Verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str  # chain_broken | seal_altered | row_altered | row_deleted | row_unsealed | clinical_differs | ...
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


@dataclass(frozen=True)
class ChainHead:
    count: int
    sha256: str


def chain_head() -> ChainHead:
    last = AuditSeal.objects.order_by("-pk").values_list("chain_sha256", flat=True).first()
    return ChainHead(count=AuditSeal.objects.count(), sha256=last or GENESIS)


def _verify_chain() -> tuple[list[Finding], dict[str, dict[str, str]]]:
    findings: list[Finding] = []
    sealed: dict[str, dict[str, str]] = defaultdict(dict)
    previous = GENESIS
    for seal in AuditSeal.objects.order_by("pk").iterator():
        where = f"seal {seal.pk} ({seal.table_name} row {seal.row_id})"
        if seal.previous_sha256 != previous:
            findings.append(Finding("chain_broken", where, "does not follow the seal before it: seals were removed"))
        if seal.chain_sha256 != chain_sha256(seal.previous_sha256, seal.table_name, seal.row_id, seal.row_sha256):
            findings.append(
                Finding("seal_altered", where, "its chain hash does not match its fields: forged or edited")
            )
        previous = seal.chain_sha256
        sealed[seal.table_name][seal.row_id] = seal.row_sha256
    return findings, sealed


def _verify_rows(sealed: dict[str, dict[str, str]]) -> list[Finding]:
    findings: list[Finding] = []
    for model in sealed_models():
        table = model._meta.db_table
        expected = sealed.pop(table, {})
        for values in model._base_manager.order_by("pk").values().iterator():
            row_id = str(values[model._meta.pk.attname])
            digest = expected.pop(row_id, None)
            where = f"{table} row {row_id}"
            if digest is None:
                findings.append(Finding("row_unsealed", where, "has no seal: written outside the application"))
            elif digest != row_sha256(values):
                findings.append(Finding("row_altered", where, "its values differ from those sealed when written"))
        findings += [Finding("row_deleted", f"{table} row {r}", "sealed, but no longer in the table") for r in expected]
    for table, rows in sealed.items():
        findings += [Finding("row_deleted", f"{table} row {r}", "sealed, but the table is not audited") for r in rows]
    return findings


def _clinical_models() -> list[type[ClinicalRecord]]:
    return sorted(
        (m for m in apps.get_models() if issubclass(m, ClinicalRecord) and not m._meta.abstract),
        key=lambda m: m._meta.db_table,
    )


def _verify_clinical_rows() -> list[Finding]:
    """Each clinical row must equal its newest history snapshot: a row changed without a snapshot was
    changed outside `save()` (a direct SQL UPDATE), and its change is in no audit trail."""
    findings: list[Finding] = []
    for model in _clinical_models():
        fields = [f.attname for f in model._meta.concrete_fields]
        history_model: Any = model.history.model  # added by HistoricalRecords(inherit=True)
        latest: dict[Any, dict[str, Any]] = {}
        for snapshot in history_model._default_manager.order_by("history_id").values(*fields).iterator():
            latest[snapshot["id"]] = snapshot
        for row in model._base_manager.order_by("pk").values(*fields).iterator():
            where = f"{model._meta.db_table} row {row['id']}"
            snapshot = latest.get(row["id"])
            if snapshot is None:
                findings.append(Finding("clinical_without_history", where, "has no history snapshot"))
                continue
            changed = sorted(f for f in fields if row[f] != snapshot[f])
            if changed:
                findings.append(
                    Finding(
                        "clinical_differs", where, f"differs from its last history snapshot in {', '.join(changed)}"
                    )
                )
    return findings


def audit_verify() -> list[Finding]:
    """Everything wrong with the audit trail, or an empty list."""
    findings, sealed = _verify_chain()
    findings += _verify_rows(sealed)
    findings += _verify_clinical_rows()
    return findings
