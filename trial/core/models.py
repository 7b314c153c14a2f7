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

from typing import Any, NoReturn, Self, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from simple_history.models import HistoricalRecords


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
    version = models.PositiveIntegerField(default=1, editable=False)
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

    history = HistoricalRecords(inherit=True)
    objects = AuditedManager()

    class Meta:
        abstract = True

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"Deleting a {type(self).__name__}")

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None


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
