"""Analysis runs under faults: a run started twice never overwrites a finished result, a run whose
worker was lost is taken again, and the sweep fails a run left past its limit with the reason."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from analysis.models import AnalysisRun
from analysis.services import RUN_STALE_AFTER, analysis_run_execute, analysis_runs_sweep
from analysis.tasks import analysis_run_execute_task

pytestmark = pytest.mark.django_db


def _run(users: Any, **fields: Any) -> AnalysisRun:
    return AnalysisRun.objects.create(
        kind=AnalysisRun.Kind.DATASET_SUMMARY, requested_by=users["statistician"], **fields
    )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_finished_run_is_never_run_again(users: Any) -> None:
    run = analysis_run_execute(run_id=_run(users).pk)
    assert run.status == AnalysisRun.Status.DONE
    AnalysisRun.objects.filter(pk=run.pk).update(result={"kept": True})
    again = analysis_run_execute(run_id=run.pk)
    assert again.status == AnalysisRun.Status.DONE and again.result == {"kept": True}


def test_a_run_another_worker_is_on_returns_at_once(users: Any) -> None:
    import os
    import socket

    worker = f"{socket.gethostname()} pid {os.getpid()}"  # alive: this process
    run = _run(users, status=AnalysisRun.Status.RUNNING, worker=worker, started_at=timezone.now())
    again = analysis_run_execute(run_id=run.pk)
    assert again.status == AnalysisRun.Status.RUNNING and again.result == {}


def test_a_run_whose_worker_died_is_run_again(users: Any) -> None:
    import socket

    lost = f"{socket.gethostname()} pid {_dead_pid()}"
    run = _run(users, status=AnalysisRun.Status.RUNNING, worker=lost, started_at=timezone.now())
    again = analysis_run_execute(run_id=run.pk)
    assert again.status == AnalysisRun.Status.DONE and again.worker != lost


def test_a_redelivered_message_takes_over_a_run_from_another_host(users: Any) -> None:
    run = _run(users, status=AnalysisRun.Status.RUNNING, worker="elsewhere pid 1", started_at=timezone.now())
    assert analysis_run_execute(run_id=run.pk).status == AnalysisRun.Status.RUNNING
    assert analysis_run_execute(run_id=run.pk, redelivered=True).status == AnalysisRun.Status.DONE


def test_the_task_has_time_limits_and_is_redelivered_when_its_worker_is_lost() -> None:
    assert analysis_run_execute_task.acks_late and analysis_run_execute_task.reject_on_worker_lost
    assert 0 < analysis_run_execute_task.soft_time_limit < analysis_run_execute_task.time_limit


def test_the_sweep_fails_a_run_past_its_limit_with_the_reason(users: Any) -> None:
    now = timezone.now()
    stuck = _run(users, status=AnalysisRun.Status.RUNNING, worker="w pid 1", started_at=now - RUN_STALE_AFTER * 2)
    fresh = _run(users, status=AnalysisRun.Status.RUNNING, worker="w pid 2", started_at=now - timedelta(minutes=1))
    done = _run(users, status=AnalysisRun.Status.DONE, started_at=now - RUN_STALE_AFTER * 2)
    assert analysis_runs_sweep(now=now) == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    done.refresh_from_db()
    assert stuck.status == AnalysisRun.Status.FAILED and "time limit" in stuck.error
    assert fresh.status == AnalysisRun.Status.RUNNING
    assert done.status == AnalysisRun.Status.DONE
    # A late result from the lost worker does not overwrite the failure the sweep recorded.
    assert analysis_run_execute(run_id=stuck.pk).status == AnalysisRun.Status.FAILED
