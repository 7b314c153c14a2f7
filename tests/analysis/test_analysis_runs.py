"""Analysis runs through the pages: who may list, request and read pooled and final runs.

The Celery task runs eagerly in the SQLite suite (CELERY_TASK_ALWAYS_EAGER with memory://);
the service queues it on commit, so requests run inside django_capture_on_commit_callbacks.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from analysis.models import AnalysisRun
from analysis.services import analysis_run_execute, analysis_run_request

pytestmark = pytest.mark.django_db

ANALYSTS = {"statistician", "unblinded", "dsmb"}
FINAL_READERS = {"unblinded", "dsmb"}
EVERYONE = [
    "coordinator",
    "rater",
    "pharmacist",
    "investigator",
    "datamanager",
    "statistician",
    "unblinded",
    "dsmb",
    "admin",
]


@pytest.fixture
def final_run(users: dict[str, Any], django_capture_on_commit_callbacks: Any) -> AnalysisRun:
    with django_capture_on_commit_callbacks(execute=True):
        # Before database lock the DSMB closed-session report is the by-arm run (the final one needs the lock).
        run = analysis_run_request(kind=AnalysisRun.Kind.DSMB_CLOSED, by=users["unblinded"])
    run.refresh_from_db()
    return run


@pytest.mark.parametrize("username", EVERYONE)
def test_it_lists_runs_only_for_analysts(login: Any, username: str) -> None:
    response = login(username).get(reverse("analysis:list"))
    assert response.status_code == (200 if username in ANALYSTS else 403)


@pytest.mark.parametrize("username", EVERYONE)
def test_it_queues_a_pooled_run_only_for_analysts(
    login: Any, username: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = login(username).post(reverse("analysis:request"), {"kind": "mmrm_pooled"})
    if username in ANALYSTS:
        assert response.status_code == 302
        run = AnalysisRun.objects.get()
        assert response.url == reverse("analysis:detail", args=[run.pk])
        assert (run.kind, run.unblinded, run.requested_by.username) == ("mmrm_pooled", False, username)
        assert run.status in (AnalysisRun.Status.DONE, AnalysisRun.Status.FAILED)  # ran eagerly
    else:
        assert response.status_code == 403
        assert not AnalysisRun.objects.exists()


@pytest.mark.parametrize("username", EVERYONE)
def test_it_queues_a_by_arm_run_only_for_the_unblinded_statistician_and_dsmb(
    login: Any, username: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = login(username).post(reverse("analysis:request"), {"kind": "dsmb_closed"})
    if username in FINAL_READERS:
        assert response.status_code == 302
        assert AnalysisRun.objects.get().unblinded
        assert len(callbacks) == 1
    else:
        assert response.status_code == 403
        # Refused before anything was written or queued.
        assert not AnalysisRun.objects.exists()
        assert callbacks == []


@pytest.mark.parametrize("username", EVERYONE)
def test_only_unblinded_readers_see_a_final_run(login: Any, username: str, final_run: AnalysisRun) -> None:
    client = login(username)
    detail = client.get(reverse("analysis:detail", args=[final_run.pk]))
    if username in FINAL_READERS:
        assert detail.status_code == 200
    elif username in ANALYSTS:
        # The blinded statistician: the run does not exist for them.
        assert detail.status_code == 404
    else:
        assert detail.status_code == 403
    listing = client.get(reverse("analysis:list"))
    if listing.status_code == 200:
        shown = reverse("analysis:detail", args=[final_run.pk]) in listing.content.decode()
        assert shown == (username in FINAL_READERS)


def test_the_request_form_offers_only_allowed_kinds(login: Any) -> None:
    blinded = login("statistician").get(reverse("analysis:request")).content.decode()
    assert 'value="mmrm_pooled"' in blinded and 'value="mmrm_final"' not in blinded
    unblinded = login("unblinded").get(reverse("analysis:request")).content.decode()
    # Before database lock: the DSMB closed-session report, not the final analysis, and a reason why.
    assert 'value="dsmb_closed"' in unblinded and 'value="mmrm_final"' not in unblinded
    assert "only after database lock" in unblinded


def test_the_service_refuses_a_final_run_for_a_blinded_statistician(users: dict[str, Any]) -> None:
    with pytest.raises(PermissionDenied):
        analysis_run_request(kind=AnalysisRun.Kind.MMRM_FINAL, by=users["statistician"])
    assert not AnalysisRun.objects.exists()


def test_the_task_rechecks_the_requester(users: dict[str, Any]) -> None:
    # A final run whose requester is (no longer) allowed: e.g. a role changed while it was queued.
    run = AnalysisRun.objects.create(
        kind=AnalysisRun.Kind.MMRM_FINAL, unblinded=True, requested_by=users["statistician"]
    )
    run = analysis_run_execute(run_id=run.pk)
    assert run.status == AnalysisRun.Status.FAILED
    assert "PermissionDenied" in run.error
    assert run.result == {}


@pytest.mark.parametrize("username", ["statistician", "dsmb", "coordinator", "pharmacist"])
def test_the_nav_links_to_analysis_runs_only_for_analysts(login: Any, username: str) -> None:
    page = login(username).get(reverse("dashboard")).content.decode()
    assert (f'href="{reverse("analysis:list")}"' in page) == (username in ANALYSTS)
