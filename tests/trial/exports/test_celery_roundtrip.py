"""An export job round-trips through a real worker process (CI's PostgreSQL + Redis run; skipped
elsewhere). The worker and this test share the job directory, as the web and worker processes do."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from tests.analysis.test_celery_roundtrip import ROOT, _worker
from trial.exports.models import ExportJob

# The same xdist group as the analysis round-trips: one Celery worker on the Redis queue at a time.
pytestmark = [pytest.mark.service, pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("celery-worker")]


@pytest.fixture
def export_worker(monkeypatch: Any, settings: Any, tmp_path: Any) -> Any:
    shared = tmp_path / "shared-export-jobs"
    monkeypatch.setenv("STRATUM_EXPORT_JOB_DIR", str(shared))  # read by the worker's settings
    settings.EXPORT_JOB_DIR = shared
    yield from _worker("solo")


def test_it_makes_an_export_bundle_in_a_real_worker(export_worker: Any, randomized: Any, users: Any) -> None:
    from trial.exports.services import export_job_dir, export_job_request

    job = export_job_request(by=users["datamanager"], fmt="csv", datasets=["dm", "sv"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.finished:
            break
        assert export_worker.poll() is None, (ROOT / "var" / "celery-test-worker.log").read_text()[-3000:]
        time.sleep(0.5)
    log = (ROOT / "var" / "celery-test-worker.log").read_text()
    assert job.status == ExportJob.Status.DONE, job.error or log[-3000:]
    # Made by the worker process, not in this test process, and written where the web process reads it.
    assert job.worker.endswith(f" pid {export_worker.pid}"), job.worker
    assert job.progress_done == job.progress_total > 0 and job.step == "Done"
    content = (export_job_dir() / job.file_path).read_bytes()
    assert hashlib.sha256(content).hexdigest() == job.file_sha256 and len(content) == job.file_size
