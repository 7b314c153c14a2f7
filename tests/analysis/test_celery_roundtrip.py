"""One Celery task round-trips through a real worker process (CI's PostgreSQL + Redis run).

The test starts `celery -A trial worker` against the same broker and the test database, queues an
analysis run through the service (on commit), and waits for the worker to write its result.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from analysis.models import AnalysisRun
from analysis.services import analysis_run_request

ROOT = Path(__file__).resolve().parents[2]

# One xdist worker runs every real-worker test: two Celery workers on one Redis queue would take each
# other's tasks, each bound to another test database.
pytestmark = [pytest.mark.service, pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("celery-worker")]


def _needs_real_services() -> None:
    if not settings.CELERY_BROKER_URL.startswith("redis://") or connection.vendor != "postgresql":
        pytest.skip("needs CELERY_BROKER_URL=redis://... and DATABASE_URL=postgres://... (CI's service run)")


@pytest.fixture
def worker():
    yield from _worker("solo")


@pytest.fixture
def prefork_worker():
    """A worker whose task runs in a child process, so the child can be killed as a lost worker."""
    yield from _worker("prefork")


def _worker(pool: str):
    _needs_real_services()
    s = connection.settings_dict
    db_url = f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    env = os.environ | {"DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "trial.settings.test"}
    log = open(ROOT / "var" / "celery-test-worker.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "trial",
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "--loglevel=INFO",
            "--hostname=stratum-test@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # The suite runs tasks eagerly; this test alone sends them through the broker to the worker.
    from trial.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield proc
    finally:
        app.conf.task_always_eager = eager
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_it_runs_an_analysis_task_in_a_real_worker(worker, randomized, coordinator, users):
    from trial.visits.services import hamd_record, visit_complete

    w0 = randomized.visits.get(definition__week=0)
    visit_complete(visit=w0, actual_date=w0.scheduled_date, by=coordinator)
    hamd_record(visit=w0, items=dict.fromkeys(range(1, 18), 2), by=users["rater"])
    run = analysis_run_request(kind=AnalysisRun.Kind.DATASET_SUMMARY, by=users["statistician"])
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (AnalysisRun.Status.DONE, AnalysisRun.Status.FAILED):
            break
        assert worker.poll() is None, (ROOT / "var" / "celery-test-worker.log").read_text()[-3000:]
        time.sleep(0.5)
    assert run.status == AnalysisRun.Status.DONE, (
        run.error or (ROOT / "var" / "celery-test-worker.log").read_text()[-3000:]
    )
    # Executed by the worker process, not in this test process.
    assert run.worker.endswith(f" pid {worker.pid}"), run.worker
    result = {k: v for k, v in run.result.items() if k != "datasets"}
    assert result == {"participants": 1, "observations": 1, "by_week": {"0": {"n": 1, "mean_hamd": 34.0}}}
    assert run.provenance["worker_host"] == run.worker.rpartition(" pid ")[0]


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _a_backend_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        # Inside a transaction PostgreSQL keeps one snapshot of the statistics views: refresh it.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def test_a_run_whose_worker_is_killed_mid_run_ends_done_not_stuck(prefork_worker, users):
    """kill -9 of the process running the analysis: the message is delivered again and the run ends
    done (never left 'Running')."""
    import signal

    from django.db import transaction

    run = analysis_run_request(kind=AnalysisRun.Kind.DATASET_SUMMARY, by=users["statistician"])
    deadline = time.monotonic() + 60
    with transaction.atomic():
        # Hold the run's row: the worker's claim waits on it, so the kill lands mid-run.
        AnalysisRun.objects.select_for_update().get(pk=run.pk)
        while not _a_backend_waits_on_a_lock():
            assert time.monotonic() < deadline, (ROOT / "var" / "celery-test-worker.log").read_text()[-3000:]
            time.sleep(0.2)
        children = _children(prefork_worker.pid)
        assert children, "the prefork worker has no child process"
        for child in children:
            os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (AnalysisRun.Status.DONE, AnalysisRun.Status.FAILED):
            break
        time.sleep(0.5)
    assert run.status == AnalysisRun.Status.DONE, (
        f"{run.status} {run.error}\n" + (ROOT / "var" / "celery-test-worker.log").read_text()[-3000:]
    )
    assert all(str(c) not in run.worker for c in children)


def test_the_power_simulation_fans_out_over_a_real_worker(worker, users):
    """The run's task fits the by-arm model and sends a chord of 2 chunks; the worker runs them and the
    chord's callback finishes the run (a few simulated trials: this is about the fan-out, not power)."""
    from io import StringIO

    from django.core.management import call_command

    from analysis.powersim import power_simulation_request

    # Before database lock: the unblinded statistician's simulation from the DSMB closed-session fit.
    call_command("seed_demo", participants=16, seed=2013, stdout=StringIO())
    run = power_simulation_request(by=users["unblinded"], sizes=[6], crp_threshold_mg_l=0.5, n_sims=2, n_chunks=2)
    seen_progress = set()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        run.refresh_from_db()
        seen_progress.add(run.progress)
        if run.status in (AnalysisRun.Status.DONE, AnalysisRun.Status.FAILED):
            break
        assert worker.poll() is None, (ROOT / "var" / "celery-test-worker.log").read_text()[-3000:]
        time.sleep(0.2)
    log = (ROOT / "var" / "celery-test-worker.log").read_text()
    assert run.status == AnalysisRun.Status.DONE, run.error or log[-3000:]
    assert run.worker.endswith(f" pid {worker.pid}"), run.worker
    assert run.result["chunks"] == 2
    assert [(r["n_per_arm"], r["simulated"]) for r in run.result["power"]] == [(6, 2)]
    assert (run.progress, run.stage) == (100, "Done")
    # Both chunks and the chord's callback went through the worker, not this process.
    assert log.count("analysis.power_simulation_chunk[") >= 2, log[-3000:]
    assert "analysis.power_simulation_finish[" in log, log[-3000:]
