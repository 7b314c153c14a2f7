"""Site memberships are granted and revoked by an administrator only, with a reason, kept in the
membership's history and shown in the access log beside role grants."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer(bound: Any) -> Any:
    from trial.core.roles import Role

    return bound("coordinator-new", Role.COORDINATOR, [])


def test_it_records_a_grant_with_who_why_and_when(users: dict[str, Any], newcomer: Any, site: Any) -> None:
    from trial.accounts.services import site_membership_grant
    from trial.core.models import AccessEvent
    from trial.participants.scope import site_ids_for

    assert site_ids_for(newcomer) == frozenset()
    membership = site_membership_grant(by=users["admin"], account=newcomer, site=site, reason="Joined site 01")
    assert site_ids_for(newcomer) == {site.pk}
    snapshot = membership.history.get()
    assert snapshot.history_user == users["admin"] and snapshot.history_change_reason == "Joined site 01"
    event = AccessEvent.objects.get(
        kind=AccessEvent.Kind.ROLE_GRANTED, target=f"user coordinator-new, site {site.code}"
    )
    assert event.user == users["admin"] and event.detail == "Joined site 01"


def test_a_revoke_keeps_the_row_and_logs_it(users: dict[str, Any], newcomer: Any, site: Any) -> None:
    from trial.accounts.services import site_membership_grant, site_membership_revoke
    from trial.core.models import AccessEvent
    from trial.participants.models import SiteMembership
    from trial.participants.scope import site_ids_for

    site_membership_grant(by=users["admin"], account=newcomer, site=site, reason="Joined")
    site_membership_revoke(by=users["admin"], account=newcomer, site=site, reason="Left the site")
    assert site_ids_for(newcomer) == frozenset()
    row = SiteMembership.objects.get(user=newcomer)
    assert row.revoked_by == users["admin"] and row.revoke_reason == "Left the site"
    assert [h.history_change_reason for h in row.history.order_by("history_id")] == ["Joined", "Revoked: Left the site"]
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.ROLE_REVOKED, detail="Left the site").exists()
    with pytest.raises(PermissionError):
        row.delete()


@pytest.mark.parametrize("username", ["coordinator", "investigator", "datamanager", "monitor"])
def test_only_an_administrator_grants_a_site(users: dict[str, Any], newcomer: Any, site: Any, username: str) -> None:
    from trial.accounts.services import site_membership_grant

    with pytest.raises(PermissionDenied):
        site_membership_grant(by=users[username], account=newcomer, site=site, reason="Please")


def test_a_grant_needs_a_reason_and_another_person(users: dict[str, Any], newcomer: Any, site: Any) -> None:
    from trial.accounts.services import site_membership_grant

    with pytest.raises(ValidationError):
        site_membership_grant(by=users["admin"], account=newcomer, site=site, reason="  ")
    with pytest.raises(PermissionDenied):
        site_membership_grant(by=users["admin"], account=users["admin"], site=site, reason="Myself")


def test_the_admin_user_form_changes_sites_with_a_reason(client: Any, users: dict[str, Any], newcomer: Any) -> None:
    from trial.participants.scope import site_ids_for
    from trial.protocol.models import Site

    sites = list(Site.objects.order_by("code"))
    client.force_login(users["admin"])
    url = f"/admin/core/user/{newcomer.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("password", "groups", "sites")}
    data |= {"groups": [g.pk for g in newcomer.groups.all()], "sites": [sites[1].pk]}
    data |= {"last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01", "date_joined_1": "09:00:00"}
    refused = client.post(url, data)
    assert refused.status_code == 200 and "site_change_reason" in refused.context["adminform"].form.errors
    assert site_ids_for(type(newcomer).objects.get(pk=newcomer.pk)) == frozenset()
    done = client.post(url, data | {"site_change_reason": "Moved to the second site"})
    assert done.status_code == 302, done.context["adminform"].form.errors if done.context else done
    assert site_ids_for(type(newcomer).objects.get(pk=newcomer.pk)) == {sites[1].pk}


def test_the_demo_users_work_at_every_site_and_one_coordinator_at_the_first(protocol_loaded: Any) -> None:
    from trial.accounts.users import SITE_DEMO_COORDINATOR, demo_site_users_ensure, demo_users_ensure
    from trial.participants.models import SiteMembership
    from trial.participants.scope import site_ids_for

    every = set(protocol_loaded.sites.values_list("pk", flat=True))
    assert len(every) == 3
    for user in demo_users_ensure().values():
        live = SiteMembership.objects.filter(user=user, revoked_at__isnull=True)
        assert set(live.values_list("site_id", flat=True)) == every, user
    (site1,) = demo_site_users_ensure()
    assert site1.username == SITE_DEMO_COORDINATOR
    assert site_ids_for(site1) == {protocol_loaded.sites.order_by("code").first().pk}
