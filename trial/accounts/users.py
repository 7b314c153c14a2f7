"""One named demo user per role (README: demo logins). Used by seed_demo and the test fixtures."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.utils import timezone

from trial.core.models import User
from trial.core.roles import Role
from trial.participants.models import SiteMembership
from trial.participants.scope import site_ids_forget
from trial.protocol.models import Site

DEMO_PASSWORD = "stratum-demo"  # noqa: S105 - demo only; README says so; production has no demo users

DEMO_USERS: dict[Role, str] = {
    Role.COORDINATOR: "coordinator",
    Role.RATER: "rater",
    Role.PHARMACIST: "pharmacist",
    Role.INVESTIGATOR: "investigator",
    Role.DATA_MANAGER: "datamanager",
    Role.STATISTICIAN_BLINDED: "statistician",
    Role.STATISTICIAN_UNBLINDED: "unblinded",
    Role.DSMB: "dsmb",
    Role.ADMINISTRATOR: "admin",
    Role.MEDICAL_MONITOR: "monitor",
}

# The pharmacy's second check is signed by a different pharmacist (21 CFR 11.200(a); Design: infusions
# prepared by unblinded pharmacists), so the demo has two.
SECOND_PHARMACIST = "pharmacist2"


# With more than one site, a coordinator who works at the first site only, so the demo shows that
# sites matter (README: demo logins). The named demo users above are members of every site.
SITE_DEMO_COORDINATOR = "coordinator-site1"
DEMO_SETUP_REASON = "Demo set-up: demo users work at every site of the protocol"


def site_memberships_ensure(user: User, sites: Iterable[Site], reason: str = DEMO_SETUP_REASON) -> None:
    """Demo and test set-up only (a script, no signed-in administrator): add the missing memberships.

    Screens grant memberships through `trial.accounts.services.site_membership_grant`."""
    have = set(SiteMembership.objects.filter(user=user, revoked_at__isnull=True).values_list("site_id", flat=True))
    for site in sites:
        if site.pk not in have:
            membership = SiteMembership(user=user, site=site, granted_at=timezone.now(), grant_reason=reason)
            membership._change_reason = reason  # type: ignore[attr-defined]  # simple-history hook
            membership.save()
    site_ids_forget(user)


def user_create_with_role(
    *, username: str, role: Role, password: str, email: str = "", sites: Iterable[Site] | None = None
) -> User:
    """A demo or test account with one role, a member of `sites` (default: every site there is)."""
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": email or f"{username}@example.org"}
    )
    # Everyone reaches the admin site; model permissions decide what they see there.
    user.is_staff = True
    if created:
        user.set_password(password)
    user.save()
    group, _ = Group.objects.get_or_create(name=role.value)
    user.groups.set([group])
    site_memberships_ensure(user, Site.objects.order_by("code") if sites is None else sites)
    return user


def demo_users_ensure(password: str = DEMO_PASSWORD) -> dict[Role, User]:
    """The named demo users, members of every site of the protocol in force, and the second
    pharmacist (`second_pharmacist`)."""
    made = {
        role: user_create_with_role(username=name, role=role, password=password) for role, name in DEMO_USERS.items()
    }
    user_create_with_role(username=SECOND_PHARMACIST, role=Role.PHARMACIST, password=password)
    return made


def second_pharmacist() -> User:
    return User.objects.get(username=SECOND_PHARMACIST)


def demo_site_users_ensure(password: str = DEMO_PASSWORD) -> list[User]:
    """With more than one site: a coordinator bound to the first site only."""
    sites = list(Site.objects.order_by("code"))
    if len(sites) < 2:
        return []
    user = user_create_with_role(
        username=SITE_DEMO_COORDINATOR, role=Role.COORDINATOR, password=password, sites=sites[:1]
    )
    return [user]
