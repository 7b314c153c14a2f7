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
from django.db import models
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
    chain_sha256 = models.CharField(max_length=64, unique=True)
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
