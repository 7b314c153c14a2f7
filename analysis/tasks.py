"""The Celery tasks of analysis runs. They import the service inside their body, so the service can
import this module at load time and queue the task without an import cycle.

A run is an API (HackSoft): it takes the run's id and calls one service. Its limits are here:
- a hard time limit, and a soft one a minute earlier so the service records why it stopped;
- acks_late with reject_on_worker_lost: a worker killed mid-run leaves the message in the broker,
  and it is delivered again; the service's claim decides whether the run starts again;
- `analysis.runs_sweep`, run periodically by celery beat (settings CELERY_BEAT_SCHEDULE), fails
  any run left running past its limit, or never started, with the reason.
"""

from typing import Any

from celery import shared_task

# A run of the SAP on the trial's 60 participants takes seconds; 10 minutes is generous.
ANALYSIS_RUN_SOFT_LIMIT_S = 9 * 60
ANALYSIS_RUN_TIME_LIMIT_S = 10 * 60


@shared_task(  # type: ignore[untyped-decorator]  # celery has no stubs
    name="analysis.run_execute",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=ANALYSIS_RUN_SOFT_LIMIT_S,
    time_limit=ANALYSIS_RUN_TIME_LIMIT_S,
)
def analysis_run_execute_task(self: Any, run_id: int) -> dict[str, object]:
    from analysis.services import analysis_run_execute

    redelivered = bool((getattr(self.request, "delivery_info", None) or {}).get("redelivered"))
    run = analysis_run_execute(run_id=run_id, redelivered=redelivered)
    return {"run_id": run.pk, "status": run.status, "worker": run.worker}


@shared_task(name="analysis.runs_sweep")  # type: ignore[untyped-decorator]  # celery has no stubs
def analysis_runs_sweep_task() -> int:
    from analysis.services import analysis_runs_sweep

    return analysis_runs_sweep()


# One chunk of the power simulation: a few dozen MMRM fits; the run's limits are ample for it.
@shared_task(  # type: ignore[untyped-decorator]  # celery has no stubs
    name="analysis.power_simulation_chunk",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=ANALYSIS_RUN_SOFT_LIMIT_S,
    time_limit=ANALYSIS_RUN_TIME_LIMIT_S,
)
def power_simulation_chunk_task(run_id: int, n_per_arm: int, first: int, count: int) -> dict[str, object]:
    from analysis.powersim import power_simulation_chunk, power_simulation_chunk_failed

    try:
        return power_simulation_chunk(run_id=run_id, n_per_arm=n_per_arm, first=first, count=count)
    except Exception as exc:
        # The chord's callback never runs when a chunk fails: fail the run here, with the reason.
        power_simulation_chunk_failed(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(  # type: ignore[untyped-decorator]  # celery has no stubs
    name="analysis.power_simulation_finish",
    soft_time_limit=ANALYSIS_RUN_SOFT_LIMIT_S,
    time_limit=ANALYSIS_RUN_TIME_LIMIT_S,
)
def power_simulation_finish_task(chunk_results: list[dict[str, object]], run_id: int) -> dict[str, object]:
    from analysis.powersim import power_simulation_finish

    run = power_simulation_finish(run_id=run_id, chunk_results=chunk_results)
    return {"run_id": run.pk, "status": run.status}
