"""The export job page's progress bar follows the job without a reload (static JS polling the JSON
status; no inline script under the CSP), and the page offers the download when the job ends."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_export_progress_bar_updates_without_a_reload_and_the_download_appears(
    browse: Any, users: dict[str, Any], protocol_loaded: Any, settings: Any, tmp_path: Any
) -> None:
    from django.utils import timezone
    from playwright.sync_api import expect

    from trial.exports.models import ExportJob
    from trial.exports.services import export_job_execute

    settings.EXPORT_JOB_DIR = tmp_path / "export-jobs"
    job = ExportJob.objects.create(
        requested_by=users["datamanager"],
        requested_at=timezone.now(),
        format="csv",
        datasets=["dm"],
        step="Waiting for a worker",
    )
    s = browse("datamanager")
    page = s.go(f"/exports/jobs/{job.pk}/")
    expect(page.locator("#job-progress-step")).to_contain_text("Waiting for a worker")
    page.evaluate("window.__stratum_marker = 'same page'")
    # The worker reaches a step: the bar moves on the open page.
    ExportJob.objects.filter(pk=job.pk).update(
        status="running", step="Reading hamd: HAM-D-17 items and total", progress_done=2, progress_total=5
    )
    expect(page.locator("#job-progress-step")).to_contain_text("Reading hamd")
    expect(page.locator("#job-progress-bar")).to_have_js_property("value", 40)
    expect(page.locator("#job-status")).to_have_text("Running")
    assert page.evaluate("window.__stratum_marker") == "same page"  # no reload so far
    s.shot("export job in progress")
    ExportJob.objects.filter(pk=job.pk).update(status="queued", step="", progress_done=0, progress_total=0)
    export_job_execute(job_id=job.pk)
    # Finished: the page reloads itself and offers the bundle.
    expect(page.locator("#job-download")).to_be_visible()
    s.shot("export job done")
