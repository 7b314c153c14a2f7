"""API tokens for scripts. Only the SHA-256 of a token is stored; the token itself is shown once.

A token is never deleted: revoking it stamps who and when, so the record of which scripts could
read the data stays (21 CFR 11.10(d) limits access to authorised individuals, 11.10(e) audit
trail). A token acts with its owner's roles, through the same capability checks as a session.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. the script that uses it.")
    key_prefix = models.CharField(max_length=8, help_text="The first characters of the token, to recognise it.")
    key_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The owner's roles and superuser status when the token was issued: any change of role ends the
    # token, so a token never carries rights (or a blind) its owner did not have when it was made.
    roles_at_issue = models.CharField(max_length=400, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def roles_fingerprint(user: object) -> str:
    from trial.core.roles import user_roles

    names = sorted(str(getattr(r, "value", r)) for r in user_roles(user))  # type: ignore[arg-type]
    return ",".join(names) + ("|superuser" if getattr(user, "is_superuser", False) else "")


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ExportJob(models.Model):
    """One export bundle made by a Celery worker, as the user who asked for it (their capability and
    blind, checked again when it runs and when it is downloaded).

    Not a clinical record: the data it holds is. Kept, never deleted, as the record of who took which
    data out of the system and when (21 CFR 11.10(e)); the bundle's SHA-256 lets anyone prove later
    that a file in hand is the one made here (21 CFR 11.10(b), accurate and complete copies).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(db_index=True)
    format = models.CharField(max_length=20)
    # The dataset codes asked for; empty means every dataset the user may export.
    datasets = models.JSONField(default=list, blank=True)
    include_arm = models.BooleanField(default=False)
    # Whether the requester saw the trial unblinded when the bundle was made: such a bundle (the
    # pharmacy dataset, post-baseline inflammatory labs) is never handed to a blinded user.
    unblinded = models.BooleanField(default=False)
    # The bundle holds the arm (asked for, or the pharmacy dataset): its download is an unblinding.
    holds_arm = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # Progress for the job page's bar: steps done of the steps known so far, and the current step.
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The bundle: its file under settings.EXPORT_JOB_DIR (a relative path), its download name, size
    # and digest (the same SHA-256 a recipient computes on the ZIP).
    file_path = models.CharField(max_length=300, blank=True)
    filename = models.CharField(max_length=200, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(99, int(100 * self.progress_done / self.progress_total))
