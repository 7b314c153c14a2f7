"""The access audit log records logins, logouts and failures with the address, role changes, list
generation, activation and freezing, code breaks, analysis runs, exports and every unblinding; the
data manager and superusers can read it, nobody can change it (21 CFR 11.10(e))."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from trial.accounts.users import DEMO_PASSWORD
from trial.core.middleware import LAST_ACTIVITY_KEY
from trial.core.models import AccessEvent, User

pytestmark = pytest.mark.django_db
Kind = AccessEvent.Kind


def _events(kind: str) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(kind=kind).order_by("pk"))


def test_a_login_and_a_logout_are_recorded_with_the_address(client: Any, users: Any) -> None:
    client.post(reverse("login"), {"username": "rater", "password": DEMO_PASSWORD}, REMOTE_ADDR="10.4.4.4")
    client.post(reverse("logout"), REMOTE_ADDR="10.4.4.5")
    [login] = _events(Kind.LOGIN)
    assert (login.user, login.ip_address) == (users["rater"], "10.4.4.4")
    [logout] = _events(Kind.LOGOUT)
    assert (logout.user, logout.ip_address) == (users["rater"], "10.4.4.5")


def test_a_failed_login_is_recorded_with_the_typed_name_and_address(client: Any, users: Any) -> None:
    client.post(reverse("login"), {"username": "no-such-user", "password": "guess"}, REMOTE_ADDR="10.6.6.6")
    [failure] = _events(Kind.LOGIN_FAILED)
    assert (failure.user, failure.username, failure.ip_address) == (None, "no-such-user", "10.6.6.6")
    assert "guess" not in failure.detail


def test_a_lockout_is_recorded(client: Any, users: Any, settings: Any) -> None:
    settings.AXES_ENABLED = True
    for _ in range(5):
        client.post(reverse("login"), {"username": "dsmb", "password": "wrong"}, REMOTE_ADDR="10.7.7.7")
    assert [(e.username, e.ip_address) for e in _events(Kind.LOCKED_OUT)] == [("dsmb", "10.7.7.7")]


def test_an_idle_logout_says_why(login: Any) -> None:
    client = login("coordinator")
    session = client.session
    session[LAST_ACTIVITY_KEY] = int(timezone.now().timestamp()) - 3600
    session.save()
    client.get(reverse("dashboard"))
    [logout] = _events(Kind.LOGOUT)
    assert logout.detail == "idle timeout"


def test_role_grants_and_revocations_are_recorded() -> None:
    user = User.objects.create_user("newcomer", "n@example.org", "a long passphrase 42")
    group = Group.objects.get(name="statistician_unblinded")
    user.groups.add(group)
    user.groups.remove(group)
    group.user_set.add(user)
    user.groups.clear()
    assert [(e.kind, e.target) for e in AccessEvent.objects.filter(target__contains="newcomer").order_by("pk")] == [
        (Kind.ROLE_GRANTED, "user newcomer, role statistician_unblinded"),
        (Kind.ROLE_REVOKED, "user newcomer, role statistician_unblinded"),
        (Kind.ROLE_GRANTED, "user newcomer, role statistician_unblinded"),
        (Kind.ROLE_REVOKED, "user newcomer, role statistician_unblinded"),
    ]


def test_list_generation_activation_and_freezing_are_recorded(randomized: Any, users: Any) -> None:
    # The shared list fixture uploads a fixed list, as a list made outside Stratum would be.
    for kind in (Kind.LIST_UPLOADED, Kind.LIST_ACTIVATED, Kind.LIST_FROZEN):
        events = _events(kind)
        assert len(events) == 1, kind
        assert events[0].target.startswith("randomization list ")
    assert _events(Kind.LIST_UPLOADED)[0].user == users["unblinded"]
    assert _events(Kind.LIST_FROZEN)[0].user == users["coordinator"]


def test_an_immediate_code_break_is_recorded_as_an_unblinding(randomized: Any, users: Any) -> None:
    from trial.randomization.services import code_break_request

    code_break_request(
        participant=randomized,
        by=users["investigator"],
        reason="Anaphylaxis",
        immediate=True,
        justification="Emergency",
        password=DEMO_PASSWORD,
    )
    assert [e.user for e in _events(Kind.CODE_BREAK_IMMEDIATE)] == [users["investigator"]]
    [unblinding] = _events(Kind.UNBLINDING)
    assert unblinding.user == users["investigator"]
    assert randomized.participant_id in unblinding.target


def test_an_analysis_run_is_recorded(users: Any, protocol_loaded: Any) -> None:
    from analysis.services import analysis_run_request

    run = analysis_run_request(kind="dataset_summary", by=users["statistician"])
    [event] = _events(Kind.ANALYSIS_RUN)
    assert (event.user, event.target) == (users["statistician"], f"analysis run {run.pk}")
    assert _events(Kind.UNBLINDING) == []


def test_exports_are_recorded_and_one_with_the_arm_is_an_unblinding(login: Any, randomized: Any, users: Any) -> None:
    login("datamanager").get(reverse("export-dataset", args=["participants"]))
    login("unblinded").get(reverse("export-dataset", args=["participants"]) + "?unblinded=1")
    assert [(e.user.username, e.target) for e in _events(Kind.EXPORT)] == [
        ("datamanager", "participants.csv"),
        ("unblinded", "participants.csv"),
    ]
    assert [e.user.username for e in _events(Kind.UNBLINDING)] == ["unblinded"]


def test_the_log_cannot_be_changed_or_deleted(users: Any) -> None:
    from trial.core.access_log import access_event_record

    event = access_event_record(kind=Kind.EXPORT, user=users["datamanager"], target="labs.csv")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).update(target="nothing")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.parametrize(("who", "status"), [("datamanager", 200), ("admin", 403), ("coordinator", 403)])
def test_the_page_is_for_the_data_manager(login: Any, who: str, status: int) -> None:
    assert login(who).get(reverse("accounts:access_log")).status_code == status


def test_a_superuser_reads_the_log_and_can_filter_it(client: Any, users: Any) -> None:
    root = User.objects.create_superuser("root", "root@example.org", "a long passphrase 42")
    client.post(reverse("login"), {"username": "nobody", "password": "x"}, REMOTE_ADDR="10.8.8.8")
    client.force_login(root)
    html = client.get(reverse("accounts:access_log"), {"kind": "login_failed"}).content.decode()
    assert "nobody" in html and "10.8.8.8" in html
    assert 'href="/accounts/access-log/"' in client.get(reverse("dashboard")).content.decode()
