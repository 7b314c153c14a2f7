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
