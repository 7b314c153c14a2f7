"""The analysis run page's progress bar follows the run without a reload (static JS polling the
JSON status; no inline script under the CSP), and the page shows the result when the run ends."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_progress_bar_updates_without_a_reload_and_the_result_appears(browse: Any, users: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    from analysis.models import AnalysisRun
    from analysis.services import analysis_run_execute

    run = AnalysisRun.objects.create(kind=AnalysisRun.Kind.DATASET_SUMMARY, requested_by=users["statistician"])
    s = browse("statistician")
    page = s.go(f"/analysis/{run.pk}/")
    expect(page.locator("#run-progress-stage")).to_contain_text("Queued")
    page.evaluate("window.__stratum_marker = 'same page'")
    # The worker reaches a stage: the bar moves on the open page.
    AnalysisRun.objects.filter(pk=run.pk).update(status="running", stage="Fitting the pooled MMRM", progress=40)
    expect(page.locator("#run-progress-stage")).to_contain_text("Fitting the pooled MMRM")
    expect(page.locator("#run-progress-bar")).to_have_js_property("value", 40)
    assert page.evaluate("window.__stratum_marker") == "same page"  # no reload so far
    s.shot("analysis run in progress")
    AnalysisRun.objects.filter(pk=run.pk).update(status="queued", stage="", progress=0)
    analysis_run_execute(run_id=run.pk)
    # Finished: the page reloads itself and shows the downloads.
    expect(page.locator("#downloads")).to_be_visible()
    expect(page.locator("#provenance")).to_contain_text("Analysis dataset SHA-256")
    s.shot("analysis run done")
