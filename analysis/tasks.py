from celery import shared_task

from analysis.services import analysis_run_execute


@shared_task(name="analysis.run_execute", acks_late=True)
def analysis_run_execute_task(run_id: int) -> dict[str, object]:
    run = analysis_run_execute(run_id=run_id)
    return {"run_id": run.pk, "status": run.status, "worker": run.worker}
