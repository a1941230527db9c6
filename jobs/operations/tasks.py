"""Periodic maintenance tasks; they run on the cpu queue, ahead of narration work."""

from __future__ import annotations

from jobs import queueing
from jobs.operations import accounts, alerts, cleanup, rescue, workers
from jobs.queueing import app


@app.periodic(cron="* * * * *")
@app.task(name=queueing.RESCUE_STALLED_JOBS, **queueing.MAINTENANCE)
def rescue_stalled_jobs(timestamp: int) -> None:
    rescue.stalled_jobs_rescue()


@app.periodic(cron="* * * * *")
@app.task(name=queueing.SAMPLE_RESOURCES, **queueing.MAINTENANCE)
def sample_resources(timestamp: int) -> None:
    workers.resource_sample_record()


@app.periodic(cron="0 2 * * *")
@app.task(name=queueing.CLEANUP, **queueing.MAINTENANCE)
def cleanup_old_data(timestamp: int) -> None:
    cleanup.cleanup_run()


@app.periodic(cron="*/5 * * * *")
@app.task(name=queueing.CHECK_ALERTS, **queueing.MAINTENANCE)
def check_alerts(timestamp: int) -> None:
    alerts.alerts_check()


@app.task(name=queueing.ACCOUNT_FILES_SWEEP, **queueing.MAINTENANCE)
def account_files_sweep(*, user_id: int, folders: list[str]) -> None:
    accounts.account_folders_delete(user_id=user_id, folders=folders)


@app.task(name=queueing.PING, queue=queueing.CPU)
def ping(*, sent_at: float) -> float:
    """Do nothing: measures how fast the queue hands work to workers (benchmarks)."""
    return sent_at
