"""Export jobs: the page queues the bundle for a worker, shows its progress, and hands out the file
only to who may have it; the engine's output is the same with or without a progress callback."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from tests.trial.exports.conftest import unzip
from trial.core.models import AccessEvent
from trial.core.roles import Role
from trial.exports.models import ExportJob


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_the_page_queues_a_job_whose_page_offers_the_bundle_with_its_digest(
    login: Any, randomized: Any, export_on_page: Any
) -> None:
    client = login("datamanager")
    job, download = export_on_page(client, {"datasets": ["dm", "sv"], "format": "xlsx"})
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE and job.requested_by.username == "datamanager"
    assert job.datasets == ["dm", "sv"] and job.format == "xlsx" and job.error == ""
    assert job.progress_total > 0 and job.progress_done == job.progress_total
    content = _body(download)
    assert download["Content-Disposition"].startswith(f'attachment; filename="{job.filename}"')
    assert hashlib.sha256(content).hexdigest() == job.file_sha256 and len(content) == job.file_size
    assert json.loads(unzip(content)["manifest.json"])["made_by"] == "datamanager"
    page = client.get(f"/exports/jobs/{job.pk}/").content.decode()
    assert f"/exports/jobs/{job.pk}/download/" in page and job.file_sha256 in page
    assert "<progress" not in page and 'http-equiv="refresh"' not in page
    # Listed among the user's recent exports on the exports page.
    assert f'href="/exports/jobs/{job.pk}/"' in client.get("/exports/").content.decode()
    # Made (by the worker, as the user) and downloaded: both in the access log.
    details = [json.loads(e.detail) for e in AccessEvent.objects.filter(kind=AccessEvent.Kind.EXPORT)]
    assert [d.get("download", False) for d in details] == [True, False]  # newest first
    assert details[0]["job"] == job.pk and details[0]["sha256"] == job.file_sha256


def test_a_queued_job_shows_a_progress_bar_that_refreshes_without_javascript(login: Any, randomized: Any) -> None:
    client = login("statistician")
    # Without running the commit callbacks the job stays queued, as before a worker takes it.
    response = client.post("/exports/", {"datasets": ["dm"], "format": "csv"})
    job = ExportJob.objects.get()
    assert response["Location"] == f"/exports/jobs/{job.pk}/" and job.status == ExportJob.Status.QUEUED
    page = client.get(f"/exports/jobs/{job.pk}/").content.decode()
    assert '<progress id="job-progress-bar" max="100" value="0">' in page
    assert '<noscript><meta http-equiv="refresh"' in page and "js/export_progress.js" in page
    assert "/download/" not in page
    status = client.get(f"/exports/jobs/{job.pk}/status/").json()
    assert status == {
        "status": "queued",
        "status_label": "Queued",
        "step": "Waiting for a worker",
        "done": 0,
        "total": 0,
        "percent": 0,
        "finished": False,
    }
    assert "nothing to download" in client.get(f"/exports/jobs/{job.pk}/download/", follow=True).content.decode()


def test_a_double_click_queues_one_job(login: Any, randomized: Any) -> None:
    client = login("statistician")
    page = client.get("/exports/").content.decode()
    token = page.split('name="submission_token" value="')[1].split('"')[0]
    data = {"datasets": ["dm"], "format": "csv", "submission_token": token}
    first, second = client.post("/exports/", data), client.post("/exports/", data)
    assert first["Location"] == second["Location"] and ExportJob.objects.count() == 1


def test_the_progress_callback_reports_every_dataset_and_file_and_changes_nothing(
    randomized: Any, users: Any, monkeypatch: Any
) -> None:
    from trial.exports import services

    calls: list[tuple[int, int, str]] = []
    fixed = timezone.now()
    monkeypatch.setattr(services.timezone, "now", lambda: fixed)
    plain = services.export_bundle(by=users["datamanager"], fmt="csv", datasets=["dm", "sv", "hamd"])
    followed = services.export_bundle(
        by=users["datamanager"],
        fmt="csv",
        datasets=["dm", "sv", "hamd"],
        progress=lambda done, total, step: calls.append((done, total, step)),
    )
    assert followed.content == plain.content and followed.filename == plain.filename
    steps = [step for _done, _total, step in calls]
    assert [s.split(":")[0] for s in steps[:3]] == ["Reading dm", "Reading sv", "Reading hamd"]
    assert steps[3] == "Writing the csv files"
    assert steps[4:] == [f"Packing {n}" for n in ["codebook.csv", "dm.csv", "hamd.csv", "sv.csv", "manifest.json"]]
    assert [done for done, _total, _step in calls] == list(range(len(calls)))
    assert all(done < total for done, total, _step in calls) and calls[-1][1] == len(calls)


def test_a_failed_job_shows_the_reason_on_its_page_and_in_the_list(
    login: Any, randomized: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from trial.exports import formats

    def broken(tables: Any, **kwargs: Any) -> dict[str, bytes]:
        raise OSError("No space left on device")

    monkeypatch.setitem(formats.WRITERS, "csv", broken)
    client = login("statistician")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/exports/", {"datasets": ["dm"], "format": "csv"})
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.FAILED and job.file_path == "" and job.finished_at is not None
    page = client.get(f"/exports/jobs/{job.pk}/").content.decode()
    assert "The export failed: OSError: No space left on device" in page and "/download/" not in page
    assert "No space left on device" in client.get("/exports/").content.decode()
    assert client.get(f"/exports/jobs/{job.pk}/status/").json()["finished"] is True


def test_a_job_runs_with_the_requesters_blind_at_the_time_it_runs(
    users: Any, randomized: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from trial.exports.services import export_job_execute, export_job_request

    blinded = export_job_request(by=users["statistician"], fmt="csv", datasets=["dm"])
    export_job_execute(job_id=blinded.pk)
    blinded.refresh_from_db()
    assert blinded.status == ExportJob.Status.DONE and not blinded.unblinded and not blinded.holds_arm
    files = unzip((blinded_path(blinded)).read_bytes())
    assert "ARM" not in files["dm.csv"].decode().splitlines()[0].split(",")
    assert json.loads(files["manifest.json"])["blinded"] is True

    # Asked with the arm by the unblinded statistician, whose role is then taken away before it runs:
    # the worker refuses, as the page would now, and says why.
    with_arm = export_job_request(by=users["unblinded"], fmt="csv", datasets=["dm"], include_arm=True)
    users["unblinded"].groups.remove(Group.objects.get(name=Role.STATISTICIAN_UNBLINDED.value))
    users["unblinded"].groups.add(Group.objects.get(name=Role.STATISTICIAN_BLINDED.value))
    export_job_execute(job_id=with_arm.pk)
    with_arm.refresh_from_db()
    assert with_arm.status == ExportJob.Status.FAILED and "treatment arm" in with_arm.error
    assert with_arm.file_path == ""


def blinded_path(job: ExportJob) -> Any:
    from trial.exports.services import export_job_dir

    return export_job_dir() / job.file_path


def test_a_blinded_user_may_not_ask_for_the_arm_and_nothing_is_queued(users: Any, randomized: Any) -> None:
    from trial.exports.services import export_job_request

    with pytest.raises(PermissionDenied):
        export_job_request(by=users["statistician"], fmt="csv", datasets=["dm"], include_arm=True)
    with pytest.raises(PermissionDenied):
        export_job_request(by=users["statistician"], fmt="csv", datasets=["pharm"])
    assert not ExportJob.objects.exists()


def _done_job(users: Any, username: str, **kwargs: Any) -> ExportJob:
    from trial.exports.services import export_job_execute, export_job_request

    job = export_job_request(by=users[username], fmt="csv", **kwargs)
    return export_job_execute(job_id=job.pk)


@pytest.mark.parametrize("viewer", ["statistician", "datamanager"])
def test_a_blinded_user_cannot_see_or_download_another_users_job(
    login: Any, users: Any, randomized: Any, viewer: str
) -> None:
    theirs = _done_job(users, "datamanager" if viewer != "datamanager" else "statistician", datasets=["dm"])
    client = login(viewer)
    for url in ("", "status/", "download/"):
        assert client.get(f"/exports/jobs/{theirs.pk}/{url}").status_code == 404
    assert f"/exports/jobs/{theirs.pk}/" not in client.get("/exports/").content.decode()
    assert not AccessEvent.objects.filter(kind=AccessEvent.Kind.EXPORT, username=viewer).exists()


def test_an_unblinded_job_is_never_handed_to_a_blinded_user_not_even_the_administrator(
    login: Any, users: Any, randomized: Any
) -> None:
    unblinded = _done_job(users, "unblinded", datasets=["dm", "pharm"], include_arm=True)
    assert unblinded.holds_arm and unblinded.unblinded
    for viewer in ("admin", "statistician", "datamanager"):
        client = login(viewer)
        for url in ("", "status/", "download/"):
            response = client.get(f"/exports/jobs/{unblinded.pk}/{url}")
            assert response.status_code == 404, (viewer, url)
            # Not even the dataset list or the arm box of the job are shown.
            assert b"pharm" not in response.content
    # Its owner downloads it, and that is an unblinding in the access log.
    response = login("unblinded").get(f"/exports/jobs/{unblinded.pk}/download/")
    assert response.status_code == 200 and "pharm.csv" in unzip(_body(response))
    assert AccessEvent.objects.filter(kind=AccessEvent.Kind.UNBLINDING, username="unblinded", target=unblinded.filename)
    # The owner's blind is asked again at download: made blinded since, they no longer get the file.
    users["unblinded"].groups.remove(Group.objects.get(name=Role.STATISTICIAN_UNBLINDED.value))
    users["unblinded"].groups.add(Group.objects.get(name=Role.STATISTICIAN_BLINDED.value))
    assert login("unblinded").get(f"/exports/jobs/{unblinded.pk}/download/").status_code == 404


def test_the_administrator_may_download_another_users_blinded_job_and_it_is_logged(
    login: Any, users: Any, randomized: Any
) -> None:
    job = _done_job(users, "statistician", datasets=["dm", "hamd"])
    response = login("admin").get(f"/exports/jobs/{job.pk}/download/")
    assert response.status_code == 200 and hashlib.sha256(_body(response)).hexdigest() == job.file_sha256
    event = AccessEvent.objects.filter(kind=AccessEvent.Kind.EXPORT, username="admin").get()
    assert json.loads(event.detail)["job"] == job.pk


def test_a_role_without_the_export_capability_gets_nothing(login: Any, users: Any, randomized: Any) -> None:
    job = _done_job(users, "datamanager", datasets=["dm"])
    for url in ("", "status/", "download/"):
        assert login("coordinator").get(f"/exports/jobs/{job.pk}/{url}").status_code == 403


def test_a_bundle_altered_on_the_server_is_not_handed_out(login: Any, users: Any, randomized: Any) -> None:
    job = _done_job(users, "datamanager", datasets=["dm"])
    blinded_path(job).write_bytes(b"not the bundle")
    page = login("datamanager").get(f"/exports/jobs/{job.pk}/download/", follow=True).content.decode()
    assert "does not match its SHA-256" in page
    assert not AccessEvent.objects.filter(
        kind=AccessEvent.Kind.EXPORT, username="datamanager", detail__contains="download"
    )


def test_a_job_delivered_again_after_it_finished_is_not_run_twice(users: Any, randomized: Any) -> None:
    from trial.exports.services import export_job_execute

    job = _done_job(users, "datamanager", datasets=["dm"])
    events = AccessEvent.objects.count()
    again = export_job_execute(job_id=job.pk, redelivered=True)
    assert again.file_sha256 == job.file_sha256 and again.finished_at == job.finished_at
    assert AccessEvent.objects.count() == events  # no second export made


def test_a_job_whose_worker_was_lost_is_taken_again_when_redelivered(users: Any, randomized: Any) -> None:
    from trial.exports.services import export_job_execute, export_job_request

    job = export_job_request(by=users["datamanager"], fmt="csv", datasets=["dm"])
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, worker="gone-host pid 1")
    # Not redelivered and another host's worker: it may still be running there, so it is left alone.
    assert export_job_execute(job_id=job.pk).status == ExportJob.Status.RUNNING
    done = export_job_execute(job_id=job.pk, redelivered=True)
    assert done.status == ExportJob.Status.DONE and "gone-host" not in done.worker


def test_the_sweep_fails_jobs_left_running_or_never_started_with_the_reason(users: Any, randomized: Any) -> None:
    from trial.exports.services import JOB_STALE_AFTER, export_job_request, export_jobs_sweep

    now = timezone.now()
    stuck, lost, fresh = (export_job_request(by=users["datamanager"], fmt="csv", datasets=["dm"]) for _ in range(3))
    ExportJob.objects.filter(pk=stuck.pk).update(
        status=ExportJob.Status.RUNNING, started_at=now - JOB_STALE_AFTER - timedelta(minutes=1), worker="w pid 2"
    )
    ExportJob.objects.filter(pk=lost.pk).update(requested_at=now - timedelta(hours=7))
    ExportJob.objects.filter(pk=fresh.pk).update(status=ExportJob.Status.RUNNING, started_at=now, worker="w pid 3")
    assert export_jobs_sweep(now=now) == 2
    stuck.refresh_from_db(), lost.refresh_from_db(), fresh.refresh_from_db()
    assert stuck.status == ExportJob.Status.FAILED and "past its time limit" in stuck.error
    assert lost.status == ExportJob.Status.FAILED and "never started" in lost.error
    assert fresh.status == ExportJob.Status.RUNNING and fresh.error == ""


def test_the_command_still_exports_at_once_without_a_job(randomized: Any, users: Any, tmp_path: Any) -> None:
    from django.core.management import call_command

    call_command("export", format="csv", out=str(tmp_path / "out"), username="datamanager", datasets="dm")
    assert (tmp_path / "out" / "dm.csv").is_file() and not ExportJob.objects.exists()
