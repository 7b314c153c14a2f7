"""Every role grant and revoke reaches the access log with the person who made it, superuser status
included; a blinded administrator can grant none of the roles that reveal an arm or approve its
revelation, whichever way the form is posted (21 CFR 11.10(d), (e); ICH E6(R3) 4.2)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.trial.accounts.test_account_control import _form
from trial.accounts.models import RoleChange
from trial.accounts.policy import superuser_only_roles
from trial.core.access_log import NO_ACTOR
from trial.core.models import AccessEvent, User

pytestmark = pytest.mark.django_db
Kind = AccessEvent.Kind


@pytest.fixture
def root(users: Any) -> User:
    return User.objects.create_superuser("root", "root@example.org", "root-pass-long-enough")


def _role_events(target: str) -> set[tuple[str, str, str]]:
    return {
        (e.kind, e.target, e.username)
        for e in AccessEvent.objects.filter(kind__in=[Kind.ROLE_GRANTED, Kind.ROLE_REVOKED], target__contains=target)
    }


@pytest.mark.parametrize("granter", ["root", "admin"])
def test_a_grant_and_a_revoke_name_who_made_them_in_the_access_log(
    client: Any, users: Any, root: User, granter: str
) -> None:
    account = users["rater"]
    role = "dsmb" if granter == "root" else "coordinator"  # the administrator grants blinded roles only
    client.force_login(root if granter == "root" else users["admin"])
    response = client.post(
        reverse("admin:core_user_change", args=[account.pk]), _form(account, [Group.objects.get(name=role)])
    )
    assert response.status_code == 302
    assert _role_events("user rater,") >= {
        (Kind.ROLE_GRANTED, f"user rater, role {role}", granter),
        (Kind.ROLE_REVOKED, "user rater, role rater", granter),
    }
    by = root if granter == "root" else users["admin"]
    events = AccessEvent.objects.filter(target__in=[f"user rater, role {role}", "user rater, role rater"])
    assert {e.user_id for e in events.filter(username=granter)} == {by.pk}
    assert set(RoleChange.objects.values_list("role", "action", "by")) == {
        (role, "granted", by.pk),
        ("rater", "revoked", by.pk),
    }


def test_a_grant_made_outside_a_signed_in_screen_says_so(users: Any) -> None:
    account = User.objects.create_user("scripted", "s@example.org", "a long passphrase 42")
    account.groups.add(Group.objects.get(name="rater"))
    event = AccessEvent.objects.get(kind=Kind.ROLE_GRANTED, target="user scripted, role rater")
    assert event.user is None and event.detail == NO_ACTOR


@pytest.mark.parametrize("role", sorted(r.value for r in superuser_only_roles()))
def test_the_administrator_cannot_grant_a_role_that_reveals_or_approves(client: Any, users: Any, role: str) -> None:
    account = users["coordinator"]
    client.force_login(users["admin"])
    url = reverse("admin:core_user_change", args=[account.pk])
    assert f'value="{Group.objects.get(name=role).pk}"' not in client.get(url).content.decode()
    events_before = AccessEvent.objects.filter(kind__in=[Kind.ROLE_GRANTED, Kind.ROLE_REVOKED]).count()
    client.post(url, _form(account, [Group.objects.get(name=role)]))
    assert list(account.groups.values_list("name", flat=True)) == ["coordinator"]
    assert not RoleChange.objects.exists()
    assert AccessEvent.objects.filter(kind__in=[Kind.ROLE_GRANTED, Kind.ROLE_REVOKED]).count() == events_before


def test_superuser_status_is_a_superusers_to_grant_and_is_logged_with_the_granter(
    client: Any, users: Any, root: User
) -> None:
    account = users["datamanager"]
    url = reverse("admin:core_user_change", args=[account.pk])
    groups = [Group.objects.get(name="data_manager")]
    client.force_login(users["admin"])
    client.post(url, _form(account, groups, is_superuser="on"))
    account.refresh_from_db()
    assert not account.is_superuser and not RoleChange.objects.exists()
    client.force_login(root)
    assert client.post(url, _form(account, groups, is_superuser="on")).status_code == 302
    account.refresh_from_db()
    assert account.is_superuser
    assert list(RoleChange.objects.values_list("role", "action", "by")) == [("superuser", "granted", root.pk)]
    event = AccessEvent.objects.get(kind=Kind.ROLE_GRANTED, target="user datamanager, superuser status")
    assert event.user == root
    client.post(url, _form(account, groups))
    event = AccessEvent.objects.get(kind=Kind.ROLE_REVOKED, target="user datamanager, superuser status")
    assert event.user == root
