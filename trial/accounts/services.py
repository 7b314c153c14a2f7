"""Writes for accounts: changing a person's roles, checked and recorded, and told to the superusers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction

from trial.accounts.models import RoleChange
from trial.accounts.policy import SUPERUSER_STATUS, may_change_roles_of, may_grant_role, may_manage_account
from trial.core.access_log import access_event_record
from trial.core.models import AccessEvent, User
from trial.core.types import Actor


def role_change_check(*, by: Actor | None, account: Any, before: Iterable[str], after: Iterable[str]) -> None:
    """Raise PermissionDenied unless `by` may turn the account's roles from `before` into `after`."""
    changed = set(before) ^ set(after)
    if not changed:
        return
    if not may_manage_account(by, account):
        raise PermissionDenied("Only a superuser may change this account.")
    if not may_change_roles_of(by, account):
        raise PermissionDenied("Nobody may change their own roles.")
    for name in sorted(changed):
        if not may_grant_role(by, name):
            raise PermissionDenied(f"You may not grant or remove the role {name}.")


def role_changes_record(*, by: User, account: Any, before: Iterable[str], after: Iterable[str]) -> list[RoleChange]:
    """Record each grant and revoke, and e-mail the other superusers once the change commits."""
    before, after = set(before), set(after)
    changes = [
        RoleChange(user=account, role=name, action=RoleChange.Action.GRANTED, by=by) for name in sorted(after - before)
    ] + [
        RoleChange(user=account, role=name, action=RoleChange.Action.REVOKED, by=by) for name in sorted(before - after)
    ]
    for change in changes:
        change.full_clean()
        change.save()
        if change.role == SUPERUSER_STATUS:
            # Roles reach the access log through the group signal (trial.core.access_log); superuser
            # status is a flag on the account, so its grant is logged here, with who granted it.
            granted = change.action == RoleChange.Action.GRANTED
            access_event_record(
                kind=AccessEvent.Kind.ROLE_GRANTED if granted else AccessEvent.Kind.ROLE_REVOKED,
                user=by,
                target=f"user {account.get_username()}, superuser status",
            )
    if changes:
        recipients = sorted(
            set(
                get_user_model()
                .objects.filter(is_superuser=True, is_active=True)
                .exclude(pk=by.pk)
                .exclude(email="")
                .values_list("email", flat=True)
            )
        )
        lines = "\n".join(f"- {c.role}: {c.get_action_display().lower()}" for c in changes)
        message = f"{by} changed the roles of {account}:\n{lines}\nRecorded in Stratum's role-change log."
        if recipients:
            transaction.on_commit(
                lambda: send_mail(
                    subject=f"[Stratum] Roles changed for {account}",
                    message=message,
                    from_email=None,
                    recipient_list=recipients,
                )
            )
    return changes
