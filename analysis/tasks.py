"""The Celery task that runs an analysis. It imports the service inside its body, so the service can
import this module at load time and queue the task without an import cycle."""

from celery import shared_task


@shared_task(name="analysis.run_execute", acks_late=True)  # type: ignore[untyped-decorator]  # celery has no stubs
def analysis_run_execute_task(run_id: int) -> dict[str, object]:
    from analysis.services import analysis_run_execute

    run = analysis_run_execute(run_id=run_id)
    return {"run_id": run.pk, "status": run.status, "worker": run.worker}
