"""Emergency unblinding cannot be worked by one person: the requester signs with their password, the
approver is a second person in a role only a superuser grants, immediate breaks are rationed and
alert every unblinded role, and a requester sees their own breaks only (ICH E6(R3) 4.2)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from trial import blinding
from trial.accounts.users import DEMO_PASSWORD, user_create_with_role
from trial.core.roles import Role
from trial.randomization.models import CodeBreak
from trial.randomization.services import code_break_decide, code_break_request, code_break_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_participant: Any, active_list: Any, coordinator: Any) -> list[Any]:
    from trial.randomization.services import participant_randomize

    made = [make_participant(), make_participant(), make_participant(), make_participant()]
    for p in made:
        participant_randomize(participant=p, by=coordinator)
        p.refresh_from_db()
    return made


@pytest.fixture
def second_investigator(users: Any) -> Any:
    # What a blinded administrator can make: another investigator account.
    return user_create_with_role(username="investigator2", role=Role.INVESTIGATOR, password=DEMO_PASSWORD)


def _request(p: Any, by: Any, **kwargs: Any) -> CodeBreak:
    return code_break_request(participant=p, by=by, reason="Anaphylaxis", password=DEMO_PASSWORD, **kwargs)


def test_an_investigator_cannot_approve_another_investigators_request(
    people: list[Any], users: Any, second_investigator: Any
) -> None:
    cb = _request(people[0], users["investigator"])
    with pytest.raises(PermissionDenied):
        code_break_decide(code_break=cb, by=second_investigator, approve=True, note="ok")
    assert blinding.arm_code(users["investigator"], people[0]) is None


def test_the_approver_may_not_share_a_role_with_the_requester(people: list[Any], users: Any) -> None:
    both = user_create_with_role(username="monitor-inv", role=Role.MEDICAL_MONITOR, password="x")
    both.groups.add(Group.objects.get(name=Role.INVESTIGATOR.value))
    cb = _request(people[0], users["investigator"])
    with pytest.raises(ValidationError, match="different role"):
        code_break_decide(code_break=cb, by=both, approve=True, note="ok")
    assert code_break_decide(code_break=cb, by=users["monitor"], approve=True, note="ok").reveals


@pytest.mark.parametrize("role", ["medical_monitor", "dsmb", "statistician_unblinded"])
def test_the_administrator_cannot_mint_an_approver(client: Any, users: Any, role: str) -> None:
    target = users["coordinator"]
    group = Group.objects.get(name=role)
    client.force_login(users["admin"])
    form = client.get(f"/admin/core/user/{target.pk}/change/").content.decode()
    assert f'value="{group.pk}"' not in form
    client.post(
        f"/admin/core/user/{target.pk}/change/",
        {"username": target.username, "email": target.email, "is_active": "on", "is_staff": "on", "groups": [group.pk]},
    )
    assert list(target.groups.values_list("name", flat=True)) == ["coordinator"]


def test_the_requester_signs_with_their_password(people: list[Any], users: Any) -> None:
    with pytest.raises(ValidationError, match="password"):
        code_break_request(participant=people[0], by=users["investigator"], reason="x", password="wrong")
    with pytest.raises(ValidationError, match="password"):
        code_break_request(
            participant=people[0], by=users["investigator"], reason="x", password="", immediate=True, justification="y"
        )
    assert not CodeBreak.objects.exists()


def test_the_request_page_asks_for_the_password(client: Any, people: list[Any], users: Any) -> None:
    client.force_login(users["investigator"])
    url = f"/randomization/participants/{people[0].pk}/code-break/"
    assert 'type="password"' in client.get(url).content.decode()
    client.post(url, {"reason": "Severe reaction", "immediate": "on", "justification": "Night"})
    assert not CodeBreak.objects.exists()


def test_one_person_gets_one_immediate_break_per_period(people: list[Any], users: Any) -> None:
    inv = users["investigator"]
    first = _request(people[0], inv, immediate=True, justification="Out of hours")
    code_break_review(code_break=first, by=users["monitor"], note="Justified")
    with pytest.raises(ValidationError, match="limit"):
        _request(people[1], inv, immediate=True, justification="Out of hours")
    assert blinding.arm_code(inv, people[1]) is None
    assert CodeBreak.objects.filter(immediate=True).count() == 1


def test_no_second_immediate_break_while_one_awaits_review(
    people: list[Any], users: Any, second_investigator: Any
) -> None:
    # Two breaks in a block of 4 plus the allocation order would reveal the other two arms.
    _request(people[0], users["investigator"], immediate=True, justification="Out of hours")
    with pytest.raises(ValidationError, match="awaiting its review"):
        _request(people[1], second_investigator, immediate=True, justification="Out of hours")
    assert blinding.arm_code(second_investigator, people[1]) is None
    # The standard route stays open: it needs an approver.
    assert _request(people[1], second_investigator).status == CodeBreak.Status.REQUESTED


def test_an_immediate_break_alerts_every_unblinded_role_at_once(
    people: list[Any], users: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _request(people[0], users["investigator"], immediate=True, justification="Out of hours")
    recipients = {r for m in mail.outbox for r in m.to}
    for name in ("pharmacist", "unblinded", "dsmb", "monitor"):
        assert users[name].email in recipients, name
    assert users["coordinator"].email not in recipients


def test_a_requester_sees_only_their_own_breaks(
    client: Any, people: list[Any], users: Any, second_investigator: Any
) -> None:
    theirs = code_break_request(
        participant=people[1], by=second_investigator, reason="Private reason XYZ", password=DEMO_PASSWORD
    )
    mine = _request(people[0], users["investigator"])
    client.force_login(users["investigator"])
    listing = client.get("/randomization/code-breaks/").content.decode()
    assert "Private reason XYZ" not in listing and people[1].participant_id not in listing
    assert client.get(f"/randomization/code-breaks/{theirs.pk}/").status_code == 404
    assert client.get(f"/randomization/code-breaks/{mine.pk}/").status_code == 200
    client.force_login(users["monitor"])
    assert people[1].participant_id in client.get("/randomization/code-breaks/").content.decode()
