"""Emergency unblinding: request, second-person approval, immediate break with review;
one participant's arm, to the requester only; logged, notified, flagged."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from trial import blinding
from trial.accounts.users import DEMO_PASSWORD, user_create_with_role
from trial.core.roles import Role
from trial.randomization.selectors import code_broken_participant_ids
from trial.randomization.services import code_break_decide, code_break_request, code_break_review, participant_randomize


@pytest.fixture
def two_randomized(make_participant: Any, active_list: Any, coordinator: Any) -> list[Any]:
    people = [make_participant(), make_participant(sex="M")]
    for p in people:
        participant_randomize(participant=p, by=coordinator)
        p.refresh_from_db()
    return people


@pytest.fixture
def investigator2(users: Any) -> Any:
    return user_create_with_role(username="investigator2", role=Role.INVESTIGATOR, password="x")


@pytest.mark.django_db
def test_an_approved_break_reveals_one_arm_to_the_requester_only(
    two_randomized: list[Any], users: Any, investigator2: Any, django_capture_on_commit_callbacks: Any
) -> None:
    p, other = two_randomized
    inv = users["investigator"]
    with django_capture_on_commit_callbacks(execute=True):
        cb = code_break_request(
            password=DEMO_PASSWORD, participant=p, by=inv, reason="Anaphylaxis; treating physician needs the arm"
        )
    assert blinding.arm_code(inv, p) is None  # not before approval
    with pytest.raises(PermissionDenied):
        code_break_decide(code_break=cb, by=inv, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        code_break_decide(code_break=cb, by=users["monitor"], approve=True, note="Agreed")
    assert blinding.arm_code(inv, p) in ("IFX", "PBO")
    assert blinding.arm_label(inv, p) is not None
    assert blinding.arm_code(inv, other) is None  # exactly one participant
    assert blinding.arm_code(users["monitor"], p) is None  # the approver sees nothing
    assert blinding.arm_code(users["coordinator"], p) is None
    assert code_broken_participant_ids() == {p.participant_id}
    assert blinding.is_code_broken(p) and not blinding.is_code_broken(other)
    # Logged (audit history) and notified by email, without the arm.
    assert cb.history.count() == 2
    assert len(mail.outbox) == 2
    for m in mail.outbox:
        assert p.participant_id in m.subject
        assert not any(w in (m.subject + m.body).lower() for w in ("infliximab", "placebo", "ifx", "pbo"))


@pytest.mark.django_db
def test_a_rejected_request_reveals_nothing(two_randomized: list[Any], users: Any, investigator2: Any) -> None:
    p = two_randomized[0]
    cb = code_break_request(password=DEMO_PASSWORD, participant=p, by=users["investigator"], reason="Query")
    with pytest.raises(ValidationError):
        code_break_decide(code_break=cb, by=users["dsmb"], approve=False)  # a rejection needs a note
    code_break_decide(code_break=cb, by=users["dsmb"], approve=False, note="Not an emergency")
    assert blinding.arm_code(users["investigator"], p) is None
    assert code_broken_participant_ids() == set()


@pytest.mark.django_db
def test_an_immediate_break_needs_a_justification_reveals_at_once_and_is_reviewed(
    two_randomized: list[Any], users: Any
) -> None:
    p = two_randomized[0]
    inv = users["investigator"]
    with pytest.raises(ValidationError, match="justification"):
        code_break_request(password=DEMO_PASSWORD, participant=p, by=inv, reason="Collapse", immediate=True)
    cb = code_break_request(
        password=DEMO_PASSWORD, participant=p, by=inv, reason="Collapse", immediate=True, justification="Out of hours"
    )
    assert blinding.arm_code(inv, p) is not None and cb.needs_review
    with pytest.raises(PermissionDenied):
        code_break_review(code_break=cb, by=inv, note="Fine")  # not the requester, nor an approver
    reviewed = code_break_review(code_break=cb, by=users["unblinded"], note="Justified")
    assert not reviewed.needs_review and reviewed.reviewed_by == users["unblinded"]


@pytest.mark.django_db
def test_only_investigators_request_and_only_randomized_participants(
    two_randomized: list[Any], users: Any, make_participant: Any
) -> None:
    for name in ("coordinator", "rater", "pharmacist", "datamanager"):
        with pytest.raises(PermissionDenied):
            code_break_request(password=DEMO_PASSWORD, participant=two_randomized[0], by=users[name], reason="x")
    with pytest.raises(ValidationError, match="not been randomized"):
        code_break_request(password=DEMO_PASSWORD, participant=make_participant(), by=users["investigator"], reason="x")


@pytest.mark.django_db
def test_the_requester_sees_the_arm_on_the_page_and_the_approver_does_not(
    client: Any, two_randomized: list[Any], users: Any, investigator2: Any
) -> None:
    p = two_randomized[0]
    client.force_login(users["investigator"])
    response = client.post(
        f"/randomization/participants/{p.pk}/code-break/", {"reason": "Severe reaction", "password": DEMO_PASSWORD}
    )
    cb_url = response["Location"]
    assert 'id="revealed-arm"' not in client.get(cb_url).content.decode()
    client.force_login(users["monitor"])
    client.post(cb_url + "decide/", {"decision": "approve", "note": "ok"})
    assert 'id="revealed-arm"' not in client.get(cb_url).content.decode()
    client.force_login(users["investigator"])
    page = client.get(cb_url).content.decode()
    assert 'id="revealed-arm"' in page and ("Infliximab 5 mg/kg IV" in page or "Placebo (saline)" in page)
