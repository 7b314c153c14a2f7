"""The audited base of every clinical record.

Every clinical model inherits `ClinicalRecord`:
- django-simple-history keeps a full snapshot per change (who, when in UTC, why); old -> new is the
  diff of consecutive snapshots. The history tables are append-only at the database level
  (`trial.core.audit_triggers`).
- The default manager refuses the queryset writes that skip `save()` and so skip the audit
  (`update`, `delete`, `bulk_create`, `bulk_update`), and `Model.delete()` is refused: records are
  voided with a reason, never deleted (`trial.core.services.record_void`).
- `version` gives optimistic concurrency: a save that started from an older version is a conflict,
  never a silent overwrite (`trial.core.services.record_save`).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any, NoReturn, Self, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, router
from simple_history.manager import HistoryManager
from simple_history.models import HistoricalRecords

from trial.core.validators import INT32_MAX, stored_range


class AuditHistoryManager(HistoryManager):  # type: ignore[misc]  # the library is untyped
    """django-simple-history's manager, whose class is built once per queryset class, not once per access.

    The library builds a new manager class each time `instance.history` is read, and it reads it on
    every audited save: a few hundred microseconds of class construction per record, which a large
    trial's data entry (and its seeding) pays hundreds of thousands of times.
    """

    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class: type, class_name: str | None = None) -> Any:
        return super().from_queryset(queryset_class, class_name)


def audit_history() -> HistoricalRecords:
    """The history every audited model keeps (a full snapshot per change: who, when, why)."""
    return HistoricalRecords(inherit=True, history_manager=AuditHistoryManager)


class User(AbstractUser):
    """Stratum's own user model (Django's advice: one from the start, so it can grow without a
    migration of every foreign key). Site memberships and two-factor state belong here. A role is
    a group membership (`trial.core.roles`)."""

    class Meta:
        db_table = "core_user"


_M = TypeVar("_M", bound=models.Model)


class AuditBypassError(Exception):
    """A write that would not pass through save(), and so would not be audited."""


def _refuse(what: str) -> NoReturn:
    raise AuditBypassError(
        f"{what} is refused on clinical records: it would bypass the audit trail. "
        "Save each record through its service; void instead of deleting."
    )


class AuditedQuerySet(models.QuerySet[_M, _M]):
    def update(self, **kwargs: Any) -> int:
        _refuse("QuerySet.update()")

    def delete(self) -> tuple[int, dict[str, int]]:
        _refuse("QuerySet.delete()")

    def bulk_create(self, *args: Any, **kwargs: Any) -> list[Any]:
        _refuse("bulk_create()")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        _refuse("bulk_update()")

    def active(self) -> Self:
        """Records that have not been voided."""
        return self.filter(voided_at__isnull=True)


AuditedManager = models.Manager.from_queryset(AuditedQuerySet)


class ClinicalRecord(models.Model):
    version = models.PositiveIntegerField(default=1, editable=False, validators=stored_range(0, INT32_MAX))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, editable=False
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, editable=False
    )
    voided_at = models.DateTimeField(null=True, blank=True, editable=False)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True, editable=False
    )
    void_reason = models.TextField(blank=True, editable=False)

    history = audit_history()
    objects = AuditedManager()

    class Meta:
        abstract = True

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"Deleting a {type(self).__name__}")

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        """Validate the fields, except a foreign key whose object the service already holds, saved.

        Django checks a foreign key with one query per field on every save; a service passes the
        visit, participant or user it has just read, so that query can only confirm what is known, and
        the database's own foreign-key constraint still refuses a row that points nowhere. A bare id
        (a form, the API) is still checked, with its message. The audit fields (who created, changed or
        voided it) are never entered: record_save sets them from the signed-in user."""
        skip = set(exclude or ())
        for f in self._meta.concrete_fields:
            if not isinstance(f, models.ForeignKey) or f.remote_field.limit_choices_to:
                continue
            if not f.editable:
                # Who created, changed or voided the record: set by record_save from the signed-in user.
                skip.add(f.name)
            elif f.is_cached(self):
                related = f.get_cached_value(self)
                if related is not None and not related._state.adding and related.pk == getattr(self, f.attname):
                    skip.add(f.name)
        super().clean_fields(exclude=skip)

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        """Django's constraint validation, with the conditions of conditional unique constraints
        ("one live result per analyte": not voided, not wasted) decided on this row's own values.

        Django asks the database to evaluate such a condition: a savepoint and a SELECT per
        constraint per save, a quarter of the time of saving a record (profiled over a seeding). A
        condition on this row's own fields needs no database, so it is decided here
        (`condition_holds`), and only the uniqueness itself is asked, with one EXISTS. A clash, or
        a condition this cannot read, goes to Django's own check, so the refusal and its message are
        Django's, word for word.
        """
        skip = set(exclude or ())
        rest: list[tuple[type[models.Model], models.BaseConstraint]] = []
        for model_class, constraints in self.get_constraints():
            for constraint in constraints:
                if not _unique_clash_possible(self, model_class, constraint, skip):
                    continue
                rest.append((model_class, constraint))
        if not rest:
            return
        errors: dict[str, Any] = {}
        using = router.db_for_write(type(self), instance=self)
        for model_class, constraint in rest:
            try:
                constraint.validate(model_class, self, exclude=exclude, using=using)  # type: ignore[attr-defined]  # every concrete constraint has it
            except ValidationError as e:
                fields: tuple[str, ...] = tuple(getattr(constraint, "fields", ()))
                if getattr(e, "code", None) == "unique" and len(fields) == 1:
                    errors.setdefault(fields[0], []).append(e)
                else:
                    errors = e.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


_UNDECIDED = object()


def condition_holds(condition: models.Q, instance: models.Model) -> bool | None:
    """Whether a constraint's condition is true of this row, from its values in memory; None when
    it cannot tell (a lookup other than exact or isnull, a field it does not hold, a NULL compared).

    SQL's three-valued logic is kept by answering None rather than guessing: a comparison with NULL
    is neither true nor false, and Django's own check (in the database) then decides.
    """
    result = _q_value(condition, instance)
    return None if result is _UNDECIDED else bool(result)


def _q_value(q: models.Q, instance: models.Model) -> object:
    if q.connector not in (models.Q.AND, models.Q.OR):
        return _UNDECIDED  # XOR: left to the database
    values = []
    for child in q.children:
        if isinstance(child, models.Q):
            value = _q_value(child, instance)
        elif isinstance(child, tuple) and len(child) == 2:
            value = _lookup_value(child[0], child[1], instance)
        else:
            value = _UNDECIDED
        if value is _UNDECIDED:
            return _UNDECIDED
        values.append(bool(value))
    combined = all(values) if q.connector == models.Q.AND else any(values)
    return not combined if q.negated else combined


def _lookup_value(lookup: str, expected: Any, instance: models.Model) -> object:
    name, _, kind = lookup.partition("__")
    kind = kind or "exact"
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist:
        return _UNDECIDED
    attname = getattr(field, "attname", None)
    if (
        not getattr(field, "concrete", False)
        or attname is None
        or kind not in ("exact", "isnull")
        or hasattr(expected, "resolve_expression")
        or isinstance(expected, models.Model)  # an object for a foreign key: left to the database
    ):
        return _UNDECIDED
    value = getattr(instance, attname)
    if kind == "isnull":
        return (value is None) == bool(expected)
    if value is None or expected is None:
        return _UNDECIDED
    return value == expected


def _unique_clash_possible(
    instance: models.Model, model_class: type[models.Model], constraint: models.BaseConstraint, skip: set[str]
) -> bool:
    """False when a conditional unique constraint cannot refuse this row: its condition is false for
    the row, or no other row that meets it shares the row's values. True sends the constraint to
    Django's check (also every constraint this does not read)."""
    if not isinstance(constraint, models.UniqueConstraint) or constraint.condition is None or not constraint.fields:
        return True
    if constraint.expressions or constraint.nulls_distinct is False or any(f in skip for f in constraint.fields):
        return True
    holds = condition_holds(constraint.condition, instance)
    if holds is None:
        return True
    if not holds:
        return False
    lookup = {}
    for name in constraint.fields:
        field = model_class._meta.get_field(name)
        attname = getattr(field, "attname", None)
        if attname is None or getattr(field, "generated", False):
            return True  # a value only the database computes: Django's check asks it
        value = getattr(instance, attname)
        if value is None:
            return False  # NULL is distinct from NULL: no clash (as Django's own check)
        lookup[attname] = value
    using = router.db_for_write(type(instance), instance=instance)
    others = model_class._default_manager.db_manager(using).filter(constraint.condition, **lookup)
    if not instance._state.adding and instance.pk is not None:
        others = others.exclude(pk=instance.pk)
    return bool(others.exists())


class AccessEvent(models.Model):
    """The access audit log: who logged in or failed to, from where; who was given a role; who made,
    activated or froze a list; code breaks; analysis runs; exports; every unblinding.

    21 CFR 11.10(e) asks for computer-generated, time-stamped audit trails of the actions that
    create, modify or reveal records; ICH E6(R3) asks that access to the randomization code be
    traceable. Append-only (trigger) and sealed into the hash chain (`AuditSeal`). Written only by
    `trial.core.access_log.access_event_record`. The detail never names an arm.
    """

    append_only = True

    class Kind(models.TextChoices):
        LOGIN = "login", "Logged in"
        LOGOUT = "logout", "Logged out"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOCKED_OUT = "locked_out", "Locked out after repeated failures"
        ROLE_GRANTED = "role_granted", "Role granted"
        ROLE_REVOKED = "role_revoked", "Role revoked"
        LIST_GENERATED = "list_generated", "Randomization list generated"
        LIST_UPLOADED = "list_uploaded", "Randomization list uploaded"
        LIST_ACTIVATED = "list_activated", "Randomization list activated"
        LIST_FROZEN = "list_frozen", "Randomization list frozen (first allocation)"
        CODE_BREAK_REQUESTED = "code_break_requested", "Code break requested"
        CODE_BREAK_IMMEDIATE = "code_break_immediate", "Immediate code break"
        CODE_BREAK_DECIDED = "code_break_decided", "Code break decided"
        CODE_BREAK_REVIEWED = "code_break_reviewed", "Code break reviewed"
        ANALYSIS_RUN = "analysis_run", "Analysis run requested"
        EXPORT = "export", "Dataset exported"
        UNBLINDING = "unblinding", "Treatment arm revealed"
        TWO_FACTOR_ENROLLED = "two_factor_enrolled", "Two-factor authenticator set up"
        TWO_FACTOR_FAILED = "two_factor_failed", "Two-factor code refused"
        TWO_FACTOR_RESET = "two_factor_reset", "Two-factor authenticator reset"
        # A token lets a script read as its owner: issuing and ending one is access control (11.10(d)).
        API_TOKEN_CREATED = "api_token_created", "API token created"
        API_TOKEN_REVOKED = "api_token_revoked", "API token revoked"

    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The name typed at a failed login (there may be no such user), or the acting user's name, kept
    # as it was at the time.
    username = models.CharField(max_length=150, blank=True)
    ip_address = models.CharField(max_length=45, blank=True)
    target = models.CharField(max_length=200, blank=True, help_text="What the event was about, e.g. a list or a run.")
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]


class AuditSeal(models.Model):
    """One link of the hash chain over every append-only audit row (history snapshots, the access
    log, list events, query messages).

    21 CFR 11.10(e) and (c): the audit trail must be protected and an alteration must be detectable.
    Each seal holds the SHA-256 of its row's stored values and a chain hash over the previous seal's
    chain hash and its own fields, so a row altered, deleted or inserted behind the application's
    back, or a seal removed or forged, breaks the chain (`manage.py audit_verify`).
    """

    append_only = True

    table_name = models.CharField(max_length=100)
    row_id = models.CharField(max_length=40)
    row_sha256 = models.CharField(max_length=64)
    previous_sha256 = models.CharField(max_length=64)
    # Not unique, and not indexed: nothing looks a seal up by its chain hash, and the hash is fixed by
    # (previous, table, row id, row hash), so a second seal of one row, the only way to repeat it, is
    # refused by one_seal_per_audit_row. Forks are prevented by the chain lock and found by
    # audit_verify's walk in id order. An index of random hashes costs a random B-tree page per seal
    # (a seeded 10,000-participant trial holds 840,000 seals).
    chain_sha256 = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["table_name", "row_id"], name="one_seal_per_audit_row")]


class FormSubmission(models.Model):
    """A one-time token of a form that was saved, and where its record is shown.

    Each record form carries a fresh token. A double click or a resent POST brings the same token
    back: the second submission shows the record the first one saved instead of making another
    (ICH E6(R3) data integrity: one event, one record). Not a clinical record: the record it led to
    is, with its own audit trail.
    """

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    result_url = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return self.token
