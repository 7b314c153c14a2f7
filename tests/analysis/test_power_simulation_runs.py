"""The power simulation run without a trial's data: who may run it before database lock, its input
checks, its tasks' limits, and the sweep's longer patience with its many chunks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from analysis.models import AnalysisRun
from analysis.powersim import power_simulation_finish, power_simulation_parameters
from analysis.services import POWER_SIM_STALE_AFTER, RUN_STALE_AFTER, analysis_runs_sweep, power_simulation_allowed
from analysis.tasks import power_simulation_chunk_task

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("username", "allowed"),
    [
        ("coordinator", False),
        ("rater", False),
        ("pharmacist", False),  # unblinded, but not an analyst
        ("investigator", False),
        ("datamanager", False),
        ("statistician", False),  # the blinded statistician
        ("unblinded", True),
        ("dsmb", True),
        ("admin", False),
        ("monitor", False),
    ],
)
def test_before_lock_only_the_closed_session_roles_may_run_it(users: Any, username: str, allowed: bool) -> None:
    assert power_simulation_allowed(users[username]) is allowed


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sizes": []}, "sizes"),
        ({"sizes": [2]}, "sizes"),
        ({"sizes": [10, 2000]}, "sizes"),
        ({"crp_threshold_mg_l": -1.0}, "crp_threshold_mg_l"),
        ({"crp_threshold_mg_l": float("nan")}, "crp_threshold_mg_l"),
        ({"n_sims": 0}, "n_sims"),
    ],
)
def test_the_inputs_are_checked_with_a_reason(kwargs: dict[str, Any], field: str) -> None:
    good: dict[str, Any] = {"sizes": [20, 40], "crp_threshold_mg_l": 3.0, "n_sims": 100}
    assert power_simulation_parameters(**good)["sizes"] == [20, 40]
    with pytest.raises(ValidationError) as raised:
        power_simulation_parameters(**(good | kwargs))
    assert field in raised.value.message_dict


def test_a_chunk_task_has_limits_and_survives_a_lost_worker() -> None:
    assert power_simulation_chunk_task.acks_late and power_simulation_chunk_task.reject_on_worker_lost
    assert 0 < power_simulation_chunk_task.soft_time_limit < power_simulation_chunk_task.time_limit


def _power_run(users: Any, started_ago: timedelta) -> AnalysisRun:
    return AnalysisRun.objects.create(
        kind=AnalysisRun.Kind.POWER_SIM,
        requested_by=users["unblinded"],
        unblinded=True,
        status=AnalysisRun.Status.RUNNING,
        worker="w pid 1",
        started_at=timezone.now() - started_ago,
        parameters={"sizes": [10], "n_sims": 2},
    )


def test_the_sweep_waits_longer_for_a_power_simulation(users: Any) -> None:
    busy = _power_run(users, RUN_STALE_AFTER * 2)
    lost = _power_run(users, POWER_SIM_STALE_AFTER + timedelta(minutes=1))
    assert analysis_runs_sweep() == 1
    busy.refresh_from_db()
    lost.refresh_from_db()
    assert (busy.status, lost.status) == (AnalysisRun.Status.RUNNING, AnalysisRun.Status.FAILED)
    # The chord's late callback does not overwrite the failure the sweep recorded.
    assert power_simulation_finish(run_id=lost.pk, chunk_results=[]).status == AnalysisRun.Status.FAILED


def test_a_run_missing_simulations_fails_rather_than_reporting_less_power(users: Any) -> None:
    run = _power_run(users, timedelta(minutes=1))
    done = power_simulation_finish(run_id=run.pk, chunk_results=[{"n_per_arm": 10, "first": 0, "p_values": [0.01]}])
    assert done.status == AnalysisRun.Status.FAILED
    assert "returned no simulations" in done.error
