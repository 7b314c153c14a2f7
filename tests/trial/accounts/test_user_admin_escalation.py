"""A blinded administrator cannot unblind anyone through user administration, least of all themselves."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from trial import blinding
from trial.accounts.users import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def _user_form(user, groups):
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [g.pk for g in groups],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }


def test_the_administrator_cannot_make_themselves_unblinded(client, users):
    admin_user = users["admin"]
    assert client.login(username="admin", password=DEMO_PASSWORD)
    pharmacist = Group.objects.get(name="pharmacist")
    client.post(reverse("admin:core_user_change", args=[admin_user.pk]), _user_form(admin_user, [pharmacist]))
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    assert list(admin_user.groups.values_list("name", flat=True)) == ["administrator"]
    assert not blinding.is_unblinded_role(admin_user)


def test_the_administrator_cannot_grant_an_unblinded_role_to_someone_else(client, users):
    target = users["coordinator"]
    assert client.login(username="admin", password=DEMO_PASSWORD)
    form = client.get(reverse("admin:core_user_change", args=[target.pk])).content.decode()
    assert 'name="is_superuser"' not in form
    unblinded = Group.objects.get(name="statistician_unblinded")
    assert f'value="{unblinded.pk}"' not in form
    response = client.post(reverse("admin:core_user_change", args=[target.pk]), _user_form(target, [unblinded]))
    assert response.status_code in (200, 403)  # the choice is refused by the form (or by save_related)
    assert list(target.groups.values_list("name", flat=True)) == ["coordinator"]


def test_the_administrator_may_grant_a_blinded_role(client, users):
    target = users["coordinator"]
    assert client.login(username="admin", password=DEMO_PASSWORD)
    rater = Group.objects.get(name="rater")
    response = client.post(reverse("admin:core_user_change", args=[target.pk]), _user_form(target, [rater]))
    assert response.status_code == 302
    assert list(target.groups.values_list("name", flat=True)) == ["rater"]


def test_roles_cannot_be_renamed_by_the_administrator(client, users):
    assert client.login(username="admin", password=DEMO_PASSWORD)
    group = Group.objects.get(name="administrator")
    client.post(reverse("admin:auth_group_change", args=[group.pk]), {"name": "pharmacist", "permissions": []})
    group.refresh_from_db()
    assert group.name == "administrator"


def test_protocol_rows_are_read_only_in_the_admin(client, users, protocol_loaded):
    from trial.protocol.models import VisitDefinition

    assert client.login(username="admin", password=DEMO_PASSWORD)
    visit = VisitDefinition.objects.get(code="W1")
    client.post(reverse("admin:protocol_visitdefinition_change", args=[visit.pk]), {"window_after_days": 30})
    visit.refresh_from_db()
    assert visit.window_after_days == 2
