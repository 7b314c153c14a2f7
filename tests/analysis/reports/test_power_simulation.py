"""The power simulation run on one small closed trial (seed_demo --closed, built once for the module):
it runs eagerly through the chord of chunks, finishes with a table and a figure, and only the
unblinded analysis roles can request it or see it (every role, every surface it adds)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from analysis import report
from analysis.models import AnalysisRun
from analysis.powersim import power_simulation_request

# The closed trial is built once for this package, on the one pytest worker that runs its tests.
# Slow like test_final_report.py, so the two files that share the closed trial (conftest.py) stay together.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("closed-trial"), pytest.mark.slow]

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
    "monitor",
]
RUNNERS = {"unblinded", "dsmb"}
# A few simulated trials only: the statistics are tested in tests/analysis/stats/test_powersim.py.
SMALL = {"sizes": [8, 12], "crp_threshold_mg_l": 1.0, "n_sims": 3, "n_chunks": 2}


@pytest.fixture
def power_run(closed_trial: dict[str, Any], django_capture_on_commit_callbacks: Any) -> AnalysisRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = power_simulation_request(by=closed_trial["unblinded"], **SMALL)
    run.refresh_from_db()
    return run


def test_it_runs_the_chunks_and_reports_power_against_sample_size(power_run: AnalysisRun) -> None:
    assert power_run.status == AnalysisRun.Status.DONE, power_run.error
    assert (power_run.unblinded, power_run.progress, power_run.stage) == (True, 100, "Done")
    assert power_run.result["chunks"] == 2
    power = power_run.result["power"]
    assert [r["n_per_arm"] for r in power] == [8, 12]
    for row in power:
        assert row["simulated"] == 3
        assert row["power"] == row["rejected"] / 3
        assert row["mc_ci_low"] <= row["power"] <= row["mc_ci_high"]
    # The assumptions are the fitted moderation model: its key term is among the coefficients.
    assert "trt:week:logcrp" in power_run.result["assumptions"]["coefficients"]
    assert power_run.provenance["seed"] == power_run.seed
    assert list(report.run_tables(power_run)) == ["power"]
    assert [f.name for f in report.run_figures(power_run)] == ["power_by_sample_size"]


def test_a_threshold_nobody_passes_fails_the_run_with_the_reason(
    closed_trial: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run = power_simulation_request(by=closed_trial["unblinded"], **(SMALL | {"crp_threshold_mg_l": 99.0}))
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.FAILED
    assert "above 99 mg/L" in run.error


@pytest.mark.parametrize("username", EVERYONE)
def test_only_unblinded_analysts_can_request_it(
    closed_trial: dict[str, Any], client: Any, username: str, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(closed_trial[username])
    page = client.get(reverse("analysis:power-request"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        posted = client.post(
            reverse("analysis:power-request"), {"sizes": "8", "crp_threshold_mg_l": "1", "n_sims": "1"}
        )
    if username in RUNNERS:
        assert page.status_code == 200
        assert posted.status_code == 302
        assert AnalysisRun.objects.get(kind=AnalysisRun.Kind.POWER_SIM).unblinded
        assert len(callbacks) == 1
    else:
        assert (page.status_code, posted.status_code) == (403, 403)
        assert not AnalysisRun.objects.filter(kind=AnalysisRun.Kind.POWER_SIM).exists()
        assert not callbacks
        with pytest.raises(PermissionDenied):
            power_simulation_request(by=closed_trial[username], **SMALL)


def test_only_unblinded_analysts_can_see_it(closed_trial: dict[str, Any], power_run: AnalysisRun, client: Any) -> None:
    # One run, every role (a run per role would cost a simulation each).
    for username in EVERYONE:
        client.force_login(closed_trial[username])
        listing = client.get(reverse("analysis:list"))
        pages = [
            client.get(reverse(f"analysis:{name}", args=[power_run.pk]))
            for name in ("detail", "status", "report", "bundle")
        ]
        if username in RUNNERS:
            assert [p.status_code for p in pages] == [200, 200, 200, 200], username
            body = pages[0].content.decode()
            assert 'id="figure-power_by_sample_size"' in body and "Power against sample size" in body
            assert "Power simulation" in listing.content.decode()
        else:
            expected = [404] * 4 if listing.status_code == 200 else [403] * 4
            assert [p.status_code for p in pages] == expected, username
            assert "Power simulation" not in listing.content.decode(), username
            assert "power/request" not in listing.content.decode(), username


def test_bad_input_is_shown_again_with_the_reason(closed_trial: dict[str, Any], client: Any) -> None:
    client.force_login(closed_trial["unblinded"])
    response = client.post(
        reverse("analysis:power-request"), {"sizes": "8, twelve", "crp_threshold_mg_l": "1", "n_sims": "7"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Sample sizes must be whole numbers" in body
    assert 'value="8, twelve"' in body and 'value="7"' in body
    assert not AnalysisRun.objects.filter(kind=AnalysisRun.Kind.POWER_SIM).exists()
