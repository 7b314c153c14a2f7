"""Formal unblinding after database lock, with a second person; then the protocol's roles see arms,
and the final analysis runs only after lock."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from analysis.models import AnalysisRun
from analysis.services import analysis_kinds_allowed, analysis_run_request
from trial import blinding
from trial.closeout.services import study_unblind_approve, study_unblind_declare


def test_it_refuses_before_database_lock(locked_casebook: Any, users: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="only after database lock"):
        study_unblind_declare(by=users["unblinded"])


def test_it_needs_a_second_person(locked_database: Any, users: dict[str, Any]) -> None:
    event = study_unblind_declare(by=users["unblinded"])
    assert not blinding.study_is_unblinded()
    with pytest.raises(ValidationError, match="second person"):
        _approve_as_declarer(event)
    with pytest.raises(PermissionDenied):
        study_unblind_approve(by=users["coordinator"])
    approved = study_unblind_approve(by=users["datamanager"])
    assert (approved.declared_by, approved.approved_by) == (users["unblinded"], users["datamanager"])
    assert approved.approved_at is not None and blinding.study_is_unblinded()


def _approve_as_declarer(event: Any) -> None:
    # The declarer holds APPROVE_UNBLINDING only through a second role; give it, to reach the two-person rule.
    from django.contrib.auth.models import Group

    from trial.core.roles import Role

    declarer = event.declared_by
    declarer.groups.add(Group.objects.get(name=Role.DATA_MANAGER.value))
    declarer.__dict__.pop("_stratum_roles", None)
    study_unblind_approve(by=declarer)


def test_after_unblinding_the_protocols_roles_see_arms(locked_database: Any, users: dict[str, Any]) -> None:
    participant = _participant()
    assert blinding.arm_code(users["coordinator"], participant) is None
    assert blinding.arm_code(users["datamanager"], participant) is None
    study_unblind_declare(by=users["unblinded"])
    study_unblind_approve(by=users["investigator"])
    for name in ("coordinator", "rater", "investigator", "datamanager", "statistician"):
        assert blinding.arm_code(users[name], participant) in ("IFX", "PBO"), name
    assert blinding.arm_code(users["admin"], participant) is None  # not listed by the protocol


def _participant() -> Any:
    from trial.participants.models import Participant

    return Participant.objects.get(status="withdrawn")


def test_the_final_analysis_is_refused_before_lock_with_the_reason(locked_casebook: Any, users: dict[str, Any]) -> None:
    assert AnalysisRun.Kind.MMRM_FINAL not in analysis_kinds_allowed(users["unblinded"])
    with pytest.raises(PermissionDenied, match="only after database lock"):
        analysis_run_request(kind=AnalysisRun.Kind.MMRM_FINAL, by=users["unblinded"])
    assert not AnalysisRun.objects.exists()


def test_the_final_analysis_is_offered_after_lock(locked_database: Any, users: dict[str, Any]) -> None:
    assert AnalysisRun.Kind.MMRM_FINAL in analysis_kinds_allowed(users["unblinded"])
    assert analysis_run_request(kind=AnalysisRun.Kind.MMRM_FINAL, by=users["unblinded"]).unblinded


def test_the_dsmb_closed_report_is_labelled_and_only_for_the_dsmb_and_unblinded_statistician(
    randomized: Any, users: dict[str, Any], login: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.urls import reverse

    assert AnalysisRun.Kind.DSMB_CLOSED in analysis_kinds_allowed(users["dsmb"])
    assert AnalysisRun.Kind.DSMB_CLOSED not in analysis_kinds_allowed(users["statistician"])
    with django_capture_on_commit_callbacks(execute=True):
        run = analysis_run_request(kind=AnalysisRun.Kind.DSMB_CLOSED, by=users["dsmb"])
    run.refresh_from_db()
    assert run.unblinded
    if run.status == AnalysisRun.Status.DONE:
        assert "DSMB closed-session report" in run.result["label"]
    url = reverse("analysis:detail", args=[run.pk])
    assert "DSMB closed-session report" in login("unblinded").get(url).content.decode()
    assert login("statistician").get(url).status_code == 404
