"""One named demo user per role (README: demo logins). Used by seed_demo and the test fixtures."""

from __future__ import annotations

from django.contrib.auth.models import Group

from trial.core.models import User
from trial.core.roles import Role

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


def user_create_with_role(*, username: str, role: Role, password: str, email: str = "") -> User:
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
    return user


def demo_users_ensure(password: str = DEMO_PASSWORD) -> dict[Role, User]:
    """One user per role (the returned map), and the second pharmacist (`second_pharmacist`)."""
    made = {
        role: user_create_with_role(username=name, role=role, password=password) for role, name in DEMO_USERS.items()
    }
    user_create_with_role(username=SECOND_PHARMACIST, role=Role.PHARMACIST, password=password)
    return made


def second_pharmacist() -> User:
    return User.objects.get(username=SECOND_PHARMACIST)
