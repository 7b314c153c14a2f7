"""The record of every role grant and revoke: who, to whom, which role, when (21 CFR 11.10(d), (e))."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RoleChange(models.Model):
    """Append-only (a trigger refuses UPDATE and DELETE: trial.core.audit_triggers)."""

    append_only = True

    class Action(models.TextChoices):
        GRANTED = "granted", "Granted"
        REVOKED = "revoked", "Revoked"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="role_changes")
    role = models.CharField(max_length=50)
    action = models.CharField(max_length=10, choices=Action.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.role} {self.action} for {self.user} by {self.by}"
