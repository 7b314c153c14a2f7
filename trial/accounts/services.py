"""Writes for accounts: changing a person's roles, checked and recorded, and told to the superusers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from trial.access import Capability, can
from trial.accounts.models import RoleChange
from trial.accounts.policy import SUPERUSER_STATUS, may_change_roles_of, may_grant_role, may_manage_account
from trial.core.access_log import access_event_record
from trial.core.models import AccessEvent, User
from trial.core.types import Actor
from trial.participants.models import SiteMembership
from trial.participants.scope import site_ids_forget
from trial.protocol.models import Site


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


# --- Site memberships (trial.participants.scope) ---------------------------------------------------
# Which site's participants a site-bound role may reach is an access right like a role: granted by an
# administrator only, never by oneself, with a reason, kept in the membership's history and shown in
# the access log beside role grants (21 CFR 11.10(d), (e); ICH E6(R3) section 2: site staff act for
# their own site).


def _site_membership_check(*, by: Actor | None, account: Any, reason: str) -> User:
    if not isinstance(by, User) or not (by.is_superuser or can(by, Capability.MANAGE_USERS)):
        raise PermissionDenied("Only an administrator may change site memberships.")
    if not may_manage_account(by, account):
        raise PermissionDenied("Only a superuser may change this account.")
    if not may_change_roles_of(by, account):
        raise PermissionDenied("Nobody may change their own site memberships.")
    if not reason.strip():
        raise ValidationError({"reason": "A reason is required to change a site membership."})
    return by


def _membership_logged(*, granted: bool, by: User, account: Any, site: Site, reason: str) -> None:
    access_event_record(
        kind=AccessEvent.Kind.ROLE_GRANTED if granted else AccessEvent.Kind.ROLE_REVOKED,
        user=by,
        target=f"user {account.get_username()}, site {site.code}",
        detail=reason,
    )


def site_membership_grant(*, by: Actor | None, account: Any, site: Site, reason: str) -> SiteMembership:
    """Make the account a member of the site (a no-op answer if it already is)."""
    granter = _site_membership_check(by=by, account=account, reason=reason)
    with transaction.atomic():
        live = SiteMembership.objects.select_for_update().filter(user=account, site=site, revoked_at__isnull=True)
        existing = live.first()
        if existing is not None:
            return existing
        membership = SiteMembership(
            user=account, site=site, granted_at=timezone.now(), granted_by=granter, grant_reason=reason.strip()
        )
        membership.full_clean()
        membership._history_user = granter  # type: ignore[attr-defined]  # simple-history hook
        membership._change_reason = reason.strip()  # type: ignore[attr-defined]  # simple-history hook
        membership.save()
        _membership_logged(granted=True, by=granter, account=account, site=site, reason=reason.strip())
    site_ids_forget(account)
    return membership


def site_membership_revoke(*, by: Actor | None, account: Any, site: Site, reason: str) -> SiteMembership | None:
    """End the account's membership of the site; the row stays, with who, when and why."""
    revoker = _site_membership_check(by=by, account=account, reason=reason)
    with transaction.atomic():
        membership = (
            SiteMembership.objects.select_for_update().filter(user=account, site=site, revoked_at__isnull=True).first()
        )
        if membership is None:
            return None
        membership.revoked_at = timezone.now()
        membership.revoked_by = revoker
        membership.revoke_reason = reason.strip()
        membership.full_clean()
        membership._history_user = revoker  # type: ignore[attr-defined]  # simple-history hook
        membership._change_reason = f"Revoked: {reason.strip()}"  # type: ignore[attr-defined]  # simple-history hook
        membership.save()
        _membership_logged(granted=False, by=revoker, account=account, site=site, reason=reason.strip())
    site_ids_forget(account)
    return membership


def site_memberships_set(*, by: Actor | None, account: Any, sites: Iterable[Site], reason: str) -> None:
    """Grant and revoke so the account is a member of exactly these sites (the user form)."""
    wanted = {s.pk: s for s in sites}
    current = {
        m.site_id: m.site
        for m in SiteMembership.objects.filter(user=account, revoked_at__isnull=True).select_related("site")
    }
    if wanted.keys() == current.keys():
        return
    with transaction.atomic():
        for pk in sorted(wanted.keys() - current.keys()):
            site_membership_grant(by=by, account=account, site=wanted[pk], reason=reason)
        for pk in sorted(current.keys() - wanted.keys()):
            site_membership_revoke(by=by, account=account, site=current[pk], reason=reason)
