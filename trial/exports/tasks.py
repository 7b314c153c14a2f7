"""The Celery tasks of export jobs. They import the service inside their body, so the service can
import this module at load time and queue the task without an import cycle.

A job is an API (HackSoft): it takes the job's id and calls one service. Its limits are here, as for
analysis runs (analysis/tasks.py):
- a hard time limit, and a soft one a minute earlier so the service records why it stopped;
- acks_late with reject_on_worker_lost: a worker killed mid-job leaves the message in the broker,
  and it is delivered again; the service's claim decides whether the job starts again;
- `exports.jobs_sweep`, run periodically by celery beat (settings CELERY_BEAT_SCHEDULE), fails any
  job left running past its limit, or never started, with the reason.
"""

from typing import Any

from celery import shared_task

# Every format of a 10,000-participant trial takes minutes (benchmarks/exports.py); 30 is generous.
EXPORT_JOB_SOFT_LIMIT_S = 29 * 60
EXPORT_JOB_TIME_LIMIT_S = 30 * 60


@shared_task(  # type: ignore[untyped-decorator]  # celery has no stubs
    name="exports.job_execute",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=EXPORT_JOB_SOFT_LIMIT_S,
    time_limit=EXPORT_JOB_TIME_LIMIT_S,
)
def export_job_execute_task(self: Any, job_id: int) -> dict[str, object]:
    from trial.exports.services import export_job_execute

    redelivered = bool((getattr(self.request, "delivery_info", None) or {}).get("redelivered"))
    job = export_job_execute(job_id=job_id, redelivered=redelivered)
    return {"job_id": job.pk, "status": job.status}


@shared_task(name="exports.jobs_sweep")  # type: ignore[untyped-decorator]  # celery has no stubs
def export_jobs_sweep_task() -> int:
    from trial.exports.services import export_jobs_sweep

    return export_jobs_sweep()
