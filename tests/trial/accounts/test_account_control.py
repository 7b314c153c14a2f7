"""Accounts that could reveal an arm, or approve its revelation, are a superuser's alone: a blinded
administrator can neither list, change, reset nor log in as them. Superusers are invisible to
everyone else. Nobody changes their own roles; every grant and revoke is recorded and e-mailed to
the other superusers (ICH E6(R3) 4.2; 21 CFR 11.10(d), (e))."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from trial.accounts.models import RoleChange
from trial.accounts.users import DEMO_PASSWORD
from trial.core.models import User

pytestmark = pytest.mark.django_db

PROTECTED = ["pharmacist", "unblinded", "dsmb", "monitor"]


@pytest.fixture
def root(users: Any) -> User:
    return User.objects.create_superuser("root", "root@example.org", "root-pass-long-enough")


@pytest.fixture
def root2(users: Any) -> User:
    return User.objects.create_superuser("root2", "root2@example.org", "root-pass-long-enough")


def _form(user: User, groups: list[Group], **extra: Any) -> dict[str, Any]:
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "is_staff": "on",
        "groups": [g.pk for g in groups],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    } | extra


def _reset(client: Any, target: User) -> Any:
    url = reverse("admin:auth_user_password_change", args=[target.pk])
    return client.post(url, {"password1": "Taken-over-123!", "password2": "Taken-over-123!", "usable_password": "true"})


@pytest.mark.parametrize("name", PROTECTED)
def test_the_administrator_cannot_reset_an_unblinded_or_approving_account(client: Any, users: Any, name: str) -> None:
    target = users[name]
    client.force_login(users["admin"])
    assert client.get(reverse("admin:auth_user_password_change", args=[target.pk])).status_code == 404
    assert _reset(client, target).status_code == 404
    target.refresh_from_db()
    assert target.check_password(DEMO_PASSWORD) and not target.check_password("Taken-over-123!")
    # Nor change or deactivate it, nor even see it listed.
    client.post(reverse("admin:core_user_change", args=[target.pk]), _form(target, [], is_active=""))
    target.refresh_from_db()
    assert target.is_active and target.groups.exists()
    listing = client.get(reverse("admin:core_user_changelist")).content.decode()
    assert f"/admin/core/user/{target.pk}/change/" not in listing


def test_the_administrator_cannot_see_or_reset_a_superuser(client: Any, users: Any, root: User) -> None:
    client.force_login(users["admin"])
    assert _reset(client, root).status_code == 404
    root.refresh_from_db()
    assert root.check_password("root-pass-long-enough")
    listing = client.get(reverse("admin:core_user_changelist")).content.decode()
    assert f"/admin/core/user/{root.pk}/change/" not in listing
    # Blinded accounts remain the administrator's to manage.
    assert f"/admin/core/user/{users['rater'].pk}/change/" in listing
    assert _reset(client, users["rater"]).status_code == 302


def test_a_superuser_manages_protected_accounts(client: Any, users: Any, root: User) -> None:
    client.force_login(root)
    assert _reset(client, users["pharmacist"]).status_code == 302


def test_nobody_changes_their_own_roles_not_even_a_superuser(client: Any, users: Any, root: User) -> None:
    root.groups.add(Group.objects.get(name="coordinator"))
    client.force_login(root)
    page = client.get(reverse("admin:core_user_change", args=[root.pk])).content.decode()
    assert 'name="groups"' not in page
    dsmb = Group.objects.get(name="dsmb")
    client.post(reverse("admin:core_user_change", args=[root.pk]), _form(root, [dsmb], is_superuser="on"))
    assert list(root.groups.values_list("name", flat=True)) == ["coordinator"]
    assert not RoleChange.objects.exists()


def test_every_grant_and_revoke_is_recorded_and_told_to_the_other_superusers(
    client: Any, users: Any, root: User, root2: User, django_capture_on_commit_callbacks: Any
) -> None:
    target = users["coordinator"]
    client.force_login(root)
    dsmb = Group.objects.get(name="dsmb")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:core_user_change", args=[target.pk]), _form(target, [dsmb]))
    assert response.status_code == 302
    changes = {(c.role, c.action, c.by_id, c.user_id) for c in RoleChange.objects.all()}
    assert changes == {("dsmb", "granted", root.pk, target.pk), ("coordinator", "revoked", root.pk, target.pk)}
    assert [m.to for m in mail.outbox] == [["root2@example.org"]]
    assert "dsmb" in mail.outbox[0].body and "coordinator" in mail.outbox[0].body


def test_a_blinded_grant_by_the_administrator_is_recorded_too(client: Any, users: Any) -> None:
    target = users["coordinator"]
    client.force_login(users["admin"])
    rater = Group.objects.get(name="rater")
    client.post(reverse("admin:core_user_change", args=[target.pk]), _form(target, [rater]))
    assert set(RoleChange.objects.values_list("role", "action", "by__username")) == {
        ("rater", "granted", "admin"),
        ("coordinator", "revoked", "admin"),
    }
