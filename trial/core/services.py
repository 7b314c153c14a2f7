"""Audited writes shared by every clinical record: save with reason and version check, void."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from trial.core.audit_chain import audit_keys_written
from trial.core.models import ClinicalRecord, User, condition_holds
from trial.core.rows import converters_for, insert_fields, rows_insert, rows_update, values_insert
from trial.core.types import Actor
from trial.core.validators import ReasonForChangeRequired, reads_held

R = TypeVar("R", bound=ClinicalRecord)

INITIAL_ENTRY = "Initial entry"


class RecordLockedError(ValidationError):
    """The record belongs to data that are frozen, locked or signed off: no write path may change it."""


# Guards run before any clinical record is validated and saved; a guard raises
# RecordLockedError to refuse. Steps run after the save with (instance=, by=). An app above core
# (trial.closeout) registers both from its AppConfig.ready, so forms, API, services, management
# commands and seeding are all covered by this one save path (21 CFR 11.10(a), (d); ICH E6(R3) data
# integrity: locked data cannot change, and a change after verification or signing is flagged).
_WRITE_GUARDS: list[Callable[[ClinicalRecord], object]] = []
_AFTER_RECORD_SAVE: list[Callable[..., object]] = []
# The same guards and steps for many records at once (records_create), when their app gives one:
# called with the list of records (and by=); a guard or step without one is called per record.
_WRITE_GUARDS_MANY: dict[Callable[..., object], Callable[..., object]] = {}
_AFTER_RECORD_SAVE_MANY: dict[Callable[..., object], Callable[..., object]] = {}


def record_write_guard_register(
    guard: Callable[[ClinicalRecord], object], *, many: Callable[..., object] | None = None
) -> None:
    if guard not in _WRITE_GUARDS:
        _WRITE_GUARDS.append(guard)
    if many is not None:
        _WRITE_GUARDS_MANY[guard] = many


def after_record_save_register(step: Callable[..., object], *, many: Callable[..., object] | None = None) -> None:
    if step not in _AFTER_RECORD_SAVE:
        _AFTER_RECORD_SAVE.append(step)
    if many is not None:
        _AFTER_RECORD_SAVE_MANY[step] = many


class ConflictError(Exception):
    """Someone saved the record after this user loaded it. Carries both versions for the conflict page."""

    def __init__(self, *, current: ClinicalRecord, attempted: ClinicalRecord) -> None:
        self.current = current
        self.attempted = attempted
        super().__init__(
            f"{type(current).__name__} was changed by {current.updated_by} at {current.updated_at:%Y-%m-%d %H:%M} UTC"
            f" (version {current.version}) after you opened it (version {attempted.version})."
        )


class VersionMissingError(ValidationError):
    """An edit of a saved record that does not say which version it started from: without it no
    conflict could ever be seen, so the change is refused as a conflict would be."""

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


def record_save(instance: R, *, by: User, reason: str = "", locked: bool = False) -> R:
    """Validate and save a clinical record, auditing who, when and why.

    A new record needs no reason. A change to a saved record needs one (Part 11: the reason for
    change is part of the audit trail), and must start from the version now in the database;
    otherwise ConflictError, so two people cannot silently overwrite each other.

    `locked=True` is for a service that read this saved record with `select_for_update()` (or wrote
    it) in the transaction it is still in, changed none of its unique fields, and lets any failure
    here fail that whole transaction (the allocation, the end of study and the screening: the
    participant's status). The row lock (or the uncommitted insert, which no one else can see)
    then already guarantees what the checks would ask again: nobody saved a newer version or
    voided the record since it was read. So: no second read of the row, no savepoint, and the uniqueness is left to
    the database's unique constraints (a clash is an IntegrityError, which the caller reports).
    The write guards, the field validation, the version increment and the history row are the same.
    """
    reason = (reason or "").strip()
    is_new = instance._state.adding
    if not is_new and not reason:
        raise ValidationError(ReasonForChangeRequired()({"version": instance.version, "reason": reason}))
    if locked and (is_new or not transaction.get_connection().in_atomic_block):
        raise ValueError("record_save(locked=True) takes a saved record read under a row lock in this transaction.")
    # First, so a locked record says so rather than listing what else is wrong with the change.
    for guard in _WRITE_GUARDS:
        guard(instance)
    _floats_to_decimals(instance)
    if locked:
        instance.full_clean(validate_unique=False, validate_constraints=False)
        if instance.is_voided:
            raise ValidationError("This record has been voided and can no longer be changed.")
        instance.version += 1
        instance.updated_by = by
        instance._history_user = by  # type: ignore[attr-defined]  # simple-history hook, as below
        instance._change_reason = reason  # type: ignore[attr-defined]  # simple-history hook
        with transaction.atomic(savepoint=False):
            _row_write(instance, by=by, reason=reason)
            for step in _AFTER_RECORD_SAVE:
                step(instance=instance, by=by)
        return instance
    with transaction.atomic():
        current = None
        if not is_new:
            # Lock the row so two concurrent saves of one version cannot both pass the check. Read
            # before validating, so the validation need not ask the database again about what the change
            # leaves as it is (`_unchanged_exempt`).
            current = type(instance)._default_manager.select_for_update().get(pk=instance.pk)
        instance.full_clean(**_unchanged_exempt(instance, current))
        if current is not None:
            if current.version != instance.version:
                raise ConflictError(current=current, attempted=instance)
            if current.is_voided:
                raise ValidationError("This record has been voided and can no longer be changed.")
            instance.version = current.version + 1
        else:
            instance.created_by = by
        instance.updated_by = by
        # simple-history's documented hooks for the history row's user and reason (not model fields).
        instance._history_user = by  # type: ignore[attr-defined]  # simple-history hook, see above
        instance._change_reason = reason or INITIAL_ENTRY  # type: ignore[attr-defined]  # simple-history hook
        _row_write(instance, by=by, reason=reason or INITIAL_ENTRY)
        for step in _AFTER_RECORD_SAVE:
            step(instance=instance, by=by)
    return instance


def _row_write(instance: ClinicalRecord, *, by: User, reason: str) -> None:
    """Write one validated record and its history snapshot, sealed: what `Model.save` and
    django-simple-history's post_save hook would write (every field; "+" for a new record, "~" for a
    change), through the same row writes as the bulk paths (trial.core.rows), which cost a third of
    the ORM's per-statement compiling (profiled over a seeding)."""
    now = timezone.now()
    if instance._state.adding:
        rows_insert([instance])
        changed = False
    else:
        instance.updated_at = now
        rows_update([instance], [f.name for f in instance._meta.concrete_fields if not f.primary_key])
        changed = True
    audit_keys_written(*_history_rows_insert([instance], by=by, reason=reason, changed=changed, when=now))


def _unchanged_exempt(instance: ClinicalRecord, stored: ClinicalRecord | None) -> dict[str, Any]:
    """What the validation of a change need not ask the database again: a change that touches no field
    of a uniqueness rule cannot make a clash, and a foreign key it leaves as stored points where it
    did (the row it points to is protected from deletion). A new record, or a change to a field of a
    uniqueness rule, is validated in full."""
    if stored is None:
        return {}
    opts = instance._meta
    changed = {f.attname for f in opts.concrete_fields if getattr(instance, f.attname) != getattr(stored, f.attname)}
    if _uniqueness_may_change(type(instance), stored, instance, changed):
        return {}
    unchanged_keys = [
        f.name for f in opts.concrete_fields if isinstance(f, models.ForeignKey) and f.attname not in changed
    ]
    return {"exclude": unchanged_keys, "validate_unique": False, "validate_constraints": False}


def records_create(records: Sequence[R], *, by: User) -> list[R]:
    """Validate and create many new clinical records of one model, with their history rows, in bulk.

    The same audit as `record_save` for a new record, without a round of statements per record: the
    write guards and `full_clean` per record, then one INSERT of the records, one of their history
    snapshots (who, when, "Initial entry"), and one pass that seals the snapshots into the audit hash
    chain (21 CFR 11.10(e)); then the after-save steps. All or nothing. The per-record uniqueness
    queries of `full_clean` are left to the database's unique constraints, which refuse the whole
    insert (IntegrityError): the caller holds the lock that makes a clash an error, not a race.
    """
    records = list(records)
    if not records:
        return []
    model = type(records[0])
    if any(type(r) is not model or not r._state.adding for r in records):
        raise ValueError("records_create takes new records of one model.")
    _write_guards_many(records)
    # Validated together, nothing written in between: a value many of them read (their participant's
    # timeline) is read once per participant (trial.core.validators.reads_held).
    with reads_held():
        for instance in records:
            _floats_to_decimals(instance)
            instance.full_clean(validate_unique=False, validate_constraints=False)
    for instance in records:
        instance.created_by = by
        instance.updated_by = by
        instance._history_user = by  # type: ignore[attr-defined]  # simple-history hook, as in record_save
        instance._change_reason = INITIAL_ENTRY  # type: ignore[attr-defined]  # simple-history hook
    # No savepoint (two round trips fewer): the guards and validation have run above, so what can
    # fail here is the database refusing the insert (a unique constraint), and then the caller's
    # transaction must roll back as a whole anyway.
    with transaction.atomic(savepoint=False):
        # The audited manager refuses bulk_create (it would skip the history); this is the one path
        # that writes the history itself, so it uses a plain queryset of the model.
        created: list[R] = rows_insert(records)
        audit_keys_written(
            *_history_rows_insert(created, by=by, reason=INITIAL_ENTRY, changed=False, when=timezone.now())
        )
        _after_saves_many(created, by=by)
    return created


def records_update(records: Sequence[R], *, by: User, reason: str) -> list[R]:
    """Save changes to many saved clinical records of one model, with their history rows, in bulk.

    The same audit as `record_save` for a change, without a round of statements per record: a reason
    for the change is required (21 CFR 11.10(e)); the rows are read once under a row lock, and a record
    someone saved since it was read (its version is not the one in the database) is a ConflictError,
    a voided one is refused; the write guards and `full_clean` run per record. Then one UPDATE, one
    INSERT of the history snapshots (who, when, old -> new through the snapshots, the reason), one pass
    that seals them into the audit hash chain, and the after-save steps. All or nothing.

    A record whose change touches a field of a unique constraint (or its condition) is validated for
    uniqueness as `record_save` validates it; the others need not ask the database again.
    """
    reason = (reason or "").strip()
    records = list(records)
    if not records:
        return []
    if not reason:
        raise ValidationError(ReasonForChangeRequired()({"version": records[0].version, "reason": reason}))
    model = type(records[0])
    if any(type(r) is not model or r._state.adding or r.pk is None for r in records):
        raise ValueError("records_update takes saved records of one model.")
    if len({r.pk for r in records}) != len(records):
        raise ValueError("records_update takes each record once.")
    with transaction.atomic():
        # Locked first, so the version check and the update see the same rows (as record_save's
        # select_for_update), and so what changed is known before validating.
        current = model._default_manager.select_for_update().in_bulk([r.pk for r in records])
        _write_guards_many(records)
        changed: set[str] = set()
        with reads_held():
            changes = [_validated_change(instance, current.get(instance.pk)) for instance in records]
        for instance, (stored, mine) in zip(records, changes, strict=True):
            if stored.version != instance.version:
                raise ConflictError(current=stored, attempted=instance)
            if stored.is_voided:
                raise ValidationError("This record has been voided and can no longer be changed.")
            changed |= mine
        now = timezone.now()
        for instance in records:
            instance.version += 1
            instance.updated_at = now
            instance.updated_by = by
            instance._history_user = by  # type: ignore[attr-defined]  # simple-history hook, as in record_save
            instance._change_reason = reason  # type: ignore[attr-defined]  # simple-history hook
        names = {f.attname: f.name for f in model._meta.concrete_fields}
        fields = sorted({names[a] for a in changed} | {"version", "updated_at", "updated_by"})
        rows_update(records, fields)
        audit_keys_written(*_history_rows_insert(records, by=by, reason=reason, changed=True, when=now))
        _after_saves_many(records, by=by)
    return records


def _write_guards_many(records: Sequence[ClinicalRecord]) -> None:
    """The write guards for many records at once: a guard's own many-records form when its app gives
    one, else the guard per record."""
    for guard in _WRITE_GUARDS:
        if guard in _WRITE_GUARDS_MANY:
            _WRITE_GUARDS_MANY[guard](records)
        else:
            for instance in records:
                guard(instance)


def _after_saves_many(records: Sequence[ClinicalRecord], *, by: User) -> None:
    """The after-save steps for many records at once, as `_write_guards_many` runs the guards."""
    for step in _AFTER_RECORD_SAVE:
        if step in _AFTER_RECORD_SAVE_MANY:
            _AFTER_RECORD_SAVE_MANY[step](instances=records, by=by)
        else:
            for instance in records:
                step(instance=instance, by=by)


def _validated_change(instance: R, stored: R | None) -> tuple[R, set[str]]:
    """Validate one record of `records_update` as `record_save` would, and say which columns change."""
    if stored is None:
        raise ValueError(f"{type(instance).__name__} {instance.pk} is not in the database.")
    _floats_to_decimals(instance)
    mine = {
        f.attname for f in instance._meta.concrete_fields if getattr(instance, f.attname) != getattr(stored, f.attname)
    }
    touches_unique = _uniqueness_may_change(type(instance), stored, instance, mine)
    instance.full_clean(validate_unique=touches_unique, validate_constraints=touches_unique)
    return stored, mine


def _uniqueness_may_change(
    model: type[models.Model], stored: models.Model, instance: models.Model, changed: set[str]
) -> bool:
    """Whether a change of a stored row (`changed`: the attnames whose values differ) could make it clash
    with another row under a uniqueness rule, so that the rules must be checked again.

    The stored row met every rule (the database enforces them). A unique field, or a unique-together
    group, can newly clash only if one of its fields changes. A conditional unique constraint also
    when the row comes under its condition: so it is checked again when its fields change, or when
    its condition held not before or cannot be decided from the two rows in memory (`condition_holds`),
    unless it is decided false now. Any other constraint (an expression, a check) is always checked."""
    if not changed:
        return False
    opts = model._meta
    by_name = {f.name: f.attname for f in opts.concrete_fields} | {f.attname: f.attname for f in opts.concrete_fields}
    if any(f.unique and not f.primary_key and f.attname in changed for f in opts.concrete_fields):
        return True
    for group in opts.unique_together:
        if any(by_name[n] in changed for n in group):
            return True
    for constraint in opts.constraints:
        if not isinstance(constraint, models.UniqueConstraint) or constraint.expressions or not constraint.fields:
            return True
        if any(by_name[n] in changed for n in constraint.fields):
            return True
        if constraint.condition is None:
            continue
        if not changed & {by_name.get(n, n) for n in _q_field_names(constraint.condition)}:
            continue
        now = condition_holds(constraint.condition, instance)
        if now is False:
            continue
        if now is None or condition_holds(constraint.condition, stored) is not True:
            return True
    return False


def _q_field_names(q: models.Q) -> set[str]:
    names: set[str] = set()
    for child in q.children:
        if isinstance(child, models.Q):
            names |= _q_field_names(child)
        elif isinstance(child, tuple):
            names.add(child[0].split("__")[0])
    return names


class _HistoryExtras:
    """The columns of a history row that are not the record's: who, when, why, and what kind of change."""

    __slots__ = ("history_change_reason", "history_date", "history_relation_id", "history_type", "history_user_id")

    def __init__(self, *, date: Any, user_id: Any, reason: str, kind: str, relation_id: Any) -> None:
        self.history_date = date
        self.history_user_id = user_id
        self.history_change_reason = reason
        self.history_type = kind
        self.history_relation_id = relation_id


def _history_rows_insert(
    records: Sequence[ClinicalRecord], *, by: User, reason: str, changed: bool, when: Any
) -> tuple[type[models.Model], list[Any]]:
    """The history snapshots of records just written, as django-simple-history writes them (its
    `bulk_history_create`: every tracked field, who, when, why, "+" for a new record and "~" for a
    change), inserted in one statement per batch; returns the history model and the snapshots' keys.

    Each tracked column is converted by the history model's own field from the record's attribute of
    the same name (simple-history copies each field, without auto_now), so no history instance is
    built: building them cost more than inserting them (profiled over a seeding)."""
    history = _history_manager(type(records[0])).model
    fields = insert_fields(history)
    converters = converters_for(fields, history)
    tracked = {f.attname for f in history.tracked_fields}
    extras = set(_HistoryExtras.__slots__)
    unknown = [f.attname for f in fields if f.attname not in tracked and f.attname not in extras]
    if unknown:
        raise RuntimeError(f"{history.__name__}: no value for the history columns {unknown}.")
    from_record = [f.attname in tracked for f in fields]
    kind = "~" if changed else "+"
    rows = []
    for instance in records:
        user = getattr(instance, "_history_user", by)
        extra = _HistoryExtras(
            date=getattr(instance, "_history_date", when),
            user_id=None if user is None else user.pk,
            reason=getattr(instance, "_change_reason", "") or reason,
            kind=kind,
            relation_id=instance.pk,
        )
        rows.append([convert(instance if own else extra) for convert, own in zip(converters, from_record, strict=True)])
    return history, values_insert(history, fields, rows)


@functools.cache
def _history_manager(model: type[ClinicalRecord]) -> Any:
    # `model.history` (added by HistoricalRecords(inherit=True)) builds a new manager class on every
    # access; without an instance the manager holds nothing but the model, so one per model serves.
    return model.history


def record_apply(instance: R, data: Mapping[str, Any], *, version: int | None) -> R:
    """Copy entered values onto a record before record_save.

    An edit of a saved record must say which version the user started from: without it the check
    in record_save would compare the record with itself and could never see a conflict.
    """
    if not instance._state.adding and version is None:
        raise VersionMissingError(
            "This record was saved before, but the version you started from is missing. "
            "Reload the form and apply your change again.",
            current_version=instance.version,
        )
    for key, value in data.items():
        setattr(instance, key, value)
    if version is not None:
        instance.version = version
    return instance


def _floats_to_decimals(instance: ClinicalRecord) -> None:
    # A float like 3.4 becomes Decimal('3.399999...') and fails "at most 2 decimal places";
    # through str() it is the 3.4 the user (or the demo generator) meant.
    for f in instance._meta.concrete_fields:
        if isinstance(f, models.DecimalField):
            value = getattr(instance, f.attname)
            if isinstance(value, float):
                setattr(instance, f.attname, Decimal(str(value)))


def record_void(instance: R, *, by: User, reason: str) -> R:
    """Void instead of delete: the record stays, marked, with who, when and why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required to void a record."})
    if instance.is_voided:
        raise ValidationError("This record is already voided.")
    instance.voided_at = timezone.now()
    instance.voided_by = by
    instance.void_reason = reason
    return record_save(instance, by=by, reason=f"Voided: {reason}")


# --- Saving one form's records -------------------------------------------------------------------

T = TypeVar("T")
# Run after every form's records are saved, in the same transaction, with (participant, by). An app
# above core adds its step here from its AppConfig.ready (the edit checks: trial.queries), so the
# data-entry apps below it need not import it. ICH E6(R3) data integrity: a saved value and the
# query it raises (or closes) are never out of step.
_AFTER_FORM_SAVE: list[Callable[..., object]] = []


def after_form_save_register(step: Callable[..., object]) -> None:
    if step not in _AFTER_FORM_SAVE:
        _AFTER_FORM_SAVE.append(step)


def form_entry_save(*, participant: Any, by: Actor, write: Callable[[], T]) -> T:
    """Save one form's records, then run the registered after-save steps, in one transaction.

    `write` calls the domain services (hamd_record, visit_complete, ...). If any step fails, the
    write is rolled back with it.
    """
    with transaction.atomic():
        result = write()
        for step in _AFTER_FORM_SAVE:
            step(participant=participant, by=by)
    return result
