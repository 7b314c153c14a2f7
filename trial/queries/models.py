"""Data queries: a question on one field of one record, answered by the site, closed by data management.

A query is raised by a data manager / monitor (manual) or by an automatic edit check
(`trial.queries.checks`). Its thread (`QueryMessage`) is append-only, and the query itself is an
audited clinical record, so the full history of who asked, answered, closed and re-opened is kept.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from trial.core.models import ClinicalRecord
from trial.participants.models import Participant
from trial.visits.models import Visit


class DataQuery(ClinicalRecord):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"

    class Source(models.TextChoices):
        MANUAL = "manual", "Data manager"
        EDIT_CHECK = "edit_check", "Edit check"
        RECONCILIATION = "reconciliation", "Pharmacy reconciliation"

    class Audience(models.TextChoices):
        # Whoever may see the participant's data, less what trial.blinding hides from them.
        ALL = "all", "Everyone who may see the participant"
        # The unblinded pharmacy only: a query on the pharmacy's own records (its kits, its dispensing)
        # is raised where blinded staff must not read it (ICH E6(R3) 4.2; trial.blinding).
        PHARMACY = "pharmacy", "Unblinded pharmacy only"

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="data_queries")
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="data_queries")
    # Which form and which field of it the question is about, e.g. ("hamd17", "item_3"), ("labs", "hs_crp").
    form = models.CharField(max_length=30)
    field = models.CharField(max_length=60)
    text = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    audience = models.CharField(max_length=20, choices=Audience.choices, default=Audience.ALL, db_index=True)
    # For edit-check queries: which check raised it, so a re-run finds it again instead of duplicating it.
    check_code = models.CharField(max_length=40, blank=True, db_index=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # None on a closed query means the edit check closed it because the data were corrected.
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "data query"
        verbose_name_plural = "data queries"

    def __str__(self) -> str:
        return f"Query {self.pk} on {self.participant} {self.form}.{self.field}"


class QueryMessage(models.Model):
    """One step of a query's thread. Never changed or deleted (a trigger refuses it: audit_triggers)."""

    append_only = True

    class Action(models.TextChoices):
        OPENED = "opened", "Opened"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"
        REOPENED = "reopened", "Re-opened"
        AUTO_CLOSED = "auto_closed", "Closed by edit check (data corrected)"
        AUTO_REOPENED = "auto_reopened", "Re-opened by edit check"

    query = models.ForeignKey(DataQuery, on_delete=models.PROTECT, related_name="messages")
    action = models.CharField(max_length=20, choices=Action.choices)
    text = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
