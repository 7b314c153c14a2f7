"""The one access policy: capabilities, the view mixin, the DRF permission, require() for services,
and the rule that only unblinded roles hold capabilities that show arms."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from trial import access, blinding
from trial.access import Capability, CapabilityRequiredMixin, can, require
from trial.accounts.checks import check_arm_revealing_capabilities, check_code_break_approvers
from trial.core.roles import Role

# Written out: who holds each capability. A change of policy is a visible change here.
EXPECTED = {
    "view_participants": set(Role),
    "enter_data": {Role.COORDINATOR, Role.INVESTIGATOR},
    "enter_revealing_labs": {Role.STATISTICIAN_UNBLINDED},
    "rate": {Role.RATER, Role.COORDINATOR, Role.INVESTIGATOR},
    "raise_queries": {Role.DATA_MANAGER},
    "answer_queries": {Role.COORDINATOR, Role.INVESTIGATOR},
    "view_allocations": set(Role) - {Role.RATER, Role.ADMINISTRATOR},
    "randomize": {Role.COORDINATOR, Role.INVESTIGATOR},
    "manage_lists": {Role.STATISTICIAN_UNBLINDED},
    "request_code_break": {Role.INVESTIGATOR},
    "decide_code_break": {Role.STATISTICIAN_UNBLINDED, Role.DSMB, Role.MEDICAL_MONITOR},
    "view_code_breaks": {Role.INVESTIGATOR, Role.STATISTICIAN_UNBLINDED, Role.DSMB, Role.MEDICAL_MONITOR},
    "view_pharmacy": {Role.PHARMACIST, Role.STATISTICIAN_UNBLINDED, Role.DSMB},
    "dispense": {Role.PHARMACIST},
    "export": {
        Role.ADMINISTRATOR,
        Role.DATA_MANAGER,
        Role.STATISTICIAN_BLINDED,
        Role.STATISTICIAN_UNBLINDED,
        Role.DSMB,
    },
    "use_api_tokens": set(Role) - {Role.MEDICAL_MONITOR},
    "pooled_analysis": {Role.STATISTICIAN_BLINDED, Role.STATISTICIAN_UNBLINDED, Role.DSMB},
    "final_analysis": {Role.STATISTICIAN_UNBLINDED, Role.DSMB},
    "manage_users": {Role.ADMINISTRATOR},
    "receive_sae_alerts": {Role.INVESTIGATOR},
    "view_access_log": {Role.DATA_MANAGER},
    "view_notification_failures": {Role.INVESTIGATOR, Role.DATA_MANAGER, Role.ADMINISTRATOR},
    "review_crfs": {Role.DATA_MANAGER},
    "freeze_forms": {Role.DATA_MANAGER},
    "lock_casebooks": {Role.DATA_MANAGER},
    "sign_casebooks": {Role.INVESTIGATOR},
    "approve_database_lock": {Role.DATA_MANAGER, Role.STATISTICIAN_UNBLINDED},
    "approve_unlock": {Role.DATA_MANAGER, Role.INVESTIGATOR, Role.STATISTICIAN_UNBLINDED},
    "unblind_study": {Role.STATISTICIAN_UNBLINDED},
    "approve_unblinding": {Role.DATA_MANAGER, Role.INVESTIGATOR},
    "dsmb_closed_report": {Role.STATISTICIAN_UNBLINDED, Role.DSMB},
    "view_edit_checks": {Role.DATA_MANAGER, Role.MEDICAL_MONITOR},
    "code_adverse_events": {Role.DATA_MANAGER},
}
# ...and, without any role, a superuser holds these.
EXPECTED_SUPERUSER = {"view_access_log"}


def test_the_policy_is_the_written_out_table() -> None:
    assert {c.value: set(roles) for c, roles in access.POLICY.items()} == EXPECTED
    assert {c.value for c in access.SUPERUSER_CAPABILITIES} == EXPECTED_SUPERUSER


@pytest.mark.django_db
def test_a_superuser_without_a_role_holds_only_the_superuser_capabilities() -> None:
    from trial.core.models import User

    root = User.objects.create_superuser("root", "root@example.org", "a long passphrase 42")
    assert {c.value for c in Capability if can(root, c)} == EXPECTED_SUPERUSER


def test_capabilities_that_show_arms_belong_to_unblinded_roles_only() -> None:
    for capability in access.ARM_REVEALING:
        assert access.POLICY[capability] <= blinding.UNBLINDED_ROLES, capability
    assert check_arm_revealing_capabilities(None) == []


def test_the_system_check_refuses_a_blinded_role_on_an_arm_revealing_capability(monkeypatch: Any) -> None:
    widened = dict(access.POLICY) | {Capability.DISPENSE: frozenset({Role.PHARMACIST, Role.COORDINATOR})}
    monkeypatch.setattr("trial.accounts.checks.POLICY", widened)
    errors = check_arm_revealing_capabilities(None)
    assert [e.id for e in errors] == ["stratum.E010"]
    assert "coordinator" in errors[0].msg


def test_the_system_check_refuses_an_approver_who_can_also_request(monkeypatch: Any) -> None:
    assert check_code_break_approvers(None) == []
    widened = dict(access.POLICY) | {
        Capability.DECIDE_CODE_BREAK: access.POLICY[Capability.DECIDE_CODE_BREAK] | {Role.INVESTIGATOR}
    }
    monkeypatch.setattr("trial.accounts.checks.POLICY", widened)
    # Shared with the requester (E011), and grantable by an administrator (E012).
    assert [e.id for e in check_code_break_approvers(None)] == ["stratum.E011", "stratum.E012"]


@pytest.mark.django_db
def test_can_and_require_follow_the_roles(users: Any) -> None:
    assert can(users["coordinator"], Capability.RANDOMIZE)
    assert not can(users["rater"], Capability.RANDOMIZE)
    assert require(users["pharmacist"], Capability.DISPENSE) is users["pharmacist"]
    with pytest.raises(PermissionDenied) as refused:
        require(users["coordinator"], Capability.DISPENSE)
    # The message names the capability only: never a participant or an arm.
    assert str(refused.value) == "Your role does not allow this: dispense."
    with pytest.raises(PermissionDenied):
        require(None, Capability.VIEW_PARTICIPANTS)


def test_anonymous_users_hold_no_capability() -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not any(can(AnonymousUser(), c) for c in Capability)


def _views(resolver: URLResolver, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            out += _views(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            out.append((prefix + str(entry.pattern), entry.callback))
    return out


# Pages that are open by design, each with its reason.
OPEN_BY_DESIGN = {
    "login/",  # the way in
    "logout/",  # the way out
    "healthz",  # load balancer probe: says only "ok" and the database vendor
    "session/keepalive",  # login required; only marks the user's own session active
    "login/two-factor/",  # login required; the second login step, for any role
    "login/two-factor/enrol/",  # login required; sets up the user's own authenticator
}


def test_every_page_and_endpoint_names_a_capability() -> None:
    unguarded = []
    for route, callback in _views(get_resolver()):
        if route.startswith("admin/") or route in OPEN_BY_DESIGN:
            continue  # the admin site has its own model permissions per role (trial.core.roles)
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if view is None:
            unguarded.append(route)
        elif issubclass(view, APIView):
            if not isinstance(getattr(view, "capability", None), Capability):
                unguarded.append(route)
        elif not (
            issubclass(view, CapabilityRequiredMixin) and isinstance(getattr(view, "capability", None), Capability)
        ):
            unguarded.append(route)
    assert unguarded == []


@pytest.mark.django_db
def test_a_form_page_that_names_no_capability_fails_closed(rf: Any, users: Any) -> None:
    from django import forms

    from trial.core.views import RecordFormView

    class Forgetful(RecordFormView):
        form_class = forms.Form

    request = rf.get("/")
    request.user = users["coordinator"]
    with pytest.raises(PermissionDenied):
        Forgetful.as_view()(request)


@pytest.mark.django_db
def test_an_endpoint_that_names_no_capability_is_refused(users: Any) -> None:
    from rest_framework.test import APIRequestFactory, force_authenticate

    class Forgetful(APIView):
        def get(self, request: Any) -> Any:  # pragma: no cover - must never run
            raise AssertionError("reached")

    request = APIRequestFactory().get("/")
    force_authenticate(request, users["admin"])
    assert Forgetful.as_view()(request).status_code == 403
