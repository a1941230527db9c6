"""The procrastinate app, queue names, the retry strategy, and deferring a task by its name.

Services queue work here by task name, never by importing a task module: tasks sit above
services, so a service that imported them would close a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping

import attr
from django.conf import settings
from procrastinate import App, RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.jobs import Job as QueueJob
from procrastinate.manager import JobManager
from procrastinate.periodic import PeriodicTask

__all__ = ["app"]

CPU = "cpu"
GPU = "gpu"
QUEUES = (CPU, GPU)

DECOMPOSE = "slidecast.decompose"
NARRATE_SLIDE = "slidecast.narrate_slide"
ASSEMBLE = "slidecast.assemble"
DELIVER_WEBHOOK = "slidecast.deliver_webhook"
PROCESS_INBOUND_EVENT = "slidecast.process_inbound_event"
RESCUE_STALLED_JOBS = "slidecast.rescue_stalled_jobs"
SAMPLE_RESOURCES = "slidecast.sample_resources"
CLEANUP = "slidecast.cleanup"
ACCOUNT_FILES_SWEEP = "slidecast.account_files_sweep"
CHECK_ALERTS = "slidecast.check_alerts"
PING = "slidecast.ping"
PREPARE_VOICE_REFERENCE = "slidecast.prepare_voice_reference"
INGEST_PROFILE = "slidecast.ingest_profile"
INGEST_DOCUMENT = "slidecast.ingest_document"
INGEST_QUOTES = "slidecast.ingest_quotes"
# One task name per kind of media work, so that limits and dashboards can tell them apart.
MEDIA_TRANSCRIBE = "slidecast.media_transcribe"
MEDIA_PREVIEW = "slidecast.media_preview"
MEDIA_TRANSCODE = "slidecast.media_transcode"
NARRATION_PREVIEW = "slidecast.narration_preview"
REROUTE_GPU_JOBS = "slidecast.reroute_gpu_jobs"
BATCH_ADVANCE = "slidecast.batch_advance"
BATCH_ARCHIVE = "slidecast.batch_archive"
ADS_FATIGUE = "slidecast.ads_fatigue"
ADS_WINNERS = "slidecast.ads_winners"
ADS_BUDGETS = "slidecast.ads_budgets"

# The queue each task runs on unless the caller names another (narration follows its engine).
TASK_QUEUES: Mapping[str, str] = {
    DECOMPOSE: CPU,
    NARRATE_SLIDE: CPU,
    ASSEMBLE: CPU,
    DELIVER_WEBHOOK: CPU,
    PROCESS_INBOUND_EVENT: CPU,
    RESCUE_STALLED_JOBS: CPU,
    SAMPLE_RESOURCES: CPU,
    CLEANUP: CPU,
    ACCOUNT_FILES_SWEEP: CPU,
    CHECK_ALERTS: CPU,
    PING: CPU,
    PREPARE_VOICE_REFERENCE: CPU,
    INGEST_PROFILE: CPU,
    INGEST_DOCUMENT: CPU,
    INGEST_QUOTES: CPU,
    # Media jobs name their queue when deferred (jobs.media.routing).
    MEDIA_TRANSCRIBE: CPU,
    MEDIA_PREVIEW: CPU,
    MEDIA_TRANSCODE: CPU,
    NARRATION_PREVIEW: CPU,
    REROUTE_GPU_JOBS: CPU,
    BATCH_ADVANCE: CPU,
    BATCH_ARCHIVE: CPU,
    ADS_FATIGUE: CPU,
    ADS_WINNERS: CPU,
    ADS_BUDGETS: CPU,
}

# Task families: each has its own concurrency limits and recycling (jobs.worker.limits).
TASK_FAMILIES: Mapping[str, str] = {
    DECOMPOSE: "rendering",
    NARRATE_SLIDE: "narration",
    ASSEMBLE: "assembly",
    MEDIA_TRANSCRIBE: "transcription",
    MEDIA_PREVIEW: "preview",
    NARRATION_PREVIEW: "preview",
    MEDIA_TRANSCODE: "transcode",
    INGEST_PROFILE: "ingestion",
    INGEST_DOCUMENT: "ingestion",
    INGEST_QUOTES: "ingestion",
}
FAMILIES = ("rendering", "narration", "assembly", "transcription", "preview", "transcode",
            "ingestion")  # fmt: skip

PRIORITY_NORMAL = 0
# procrastinate runs higher numbers first; maintenance goes ahead of narration work.
PRIORITY_MAINTENANCE = 10
# Periodic upkeep and analyses: on the cpu queue, ahead of narration work.
MAINTENANCE = {"queue": CPU, "priority": PRIORITY_MAINTENANCE}


@attr.dataclass(kw_only=True)
class RunLimitedRetry(RetryStrategy):
    """Exponential backoff for at most `runs` runs in all; permanent errors never retry.

    procrastinate's max_attempts counts retries and reads 0 as "no limit"; counting runs
    here makes "1" mean one run, and lets a task know when its run is the last one.
    """

    runs: int = 1

    def is_last_run(self, job: QueueJob) -> bool:
        return job.attempts + 1 >= self.runs  # job.attempts counts the runs before this one

    def get_retry_decision(self, *, exception: BaseException, job: QueueJob):
        if getattr(exception, "permanent", False) or self.is_last_run(job):
            return None
        return super().get_retry_decision(exception=exception, job=job)


MAX_ATTEMPTS: int = settings.SLIDECAST["TASK_MAX_ATTEMPTS"]
RETRY = RunLimitedRetry(
    runs=MAX_ATTEMPTS, exponential_wait=settings.SLIDECAST["TASK_RETRY_BASE_SECONDS"]
)

# A worker process swaps the app's connector for a psycopg pool, whose connections are not
# Django's. Deferring through Django's own connection instead makes the new queue rows part
# of the same transaction as the state change that asked for them: both commit, or neither.
_transactional_app = App(connector=DjangoConnector())


def _deferrer(
    task_name: str,
    *,
    queue: str | None,
    queueing_lock: str | None,
    priority: int,
    schedule_in_seconds: float | None = None,
):
    if task_name not in TASK_QUEUES:
        raise ValueError(f"Unknown task {task_name!r}: add it to jobs.queueing.TASK_QUEUES.")
    return _transactional_app.configure_task(
        task_name,
        queue=queue or TASK_QUEUES[task_name],
        queueing_lock=queueing_lock,
        priority=priority,
        schedule_in=None if schedule_in_seconds is None else {"seconds": schedule_in_seconds},
    )


def defer(
    task_name: str,
    *,
    queue: str | None = None,
    queueing_lock: str | None = None,
    priority: int = PRIORITY_NORMAL,
    schedule_in_seconds: float | None = None,
    **task_kwargs,
) -> int:
    """Queue one run of the task inside the caller's transaction; return the queue job's id.

    With `schedule_in_seconds`, no worker takes it before then. Raises procrastinate's
    AlreadyEnqueued when `queueing_lock` is held by a waiting job.
    """
    deferrer = _deferrer(
        task_name, queue=queue, queueing_lock=queueing_lock, priority=priority,
        schedule_in_seconds=schedule_in_seconds,
    )  # fmt: skip
    return deferrer.defer(**task_kwargs)


def batch_defer(
    task_name: str,
    *task_kwargs: dict,
    queue: str | None = None,
    priority: int = PRIORITY_NORMAL,
) -> list[int]:
    """Queue one run per set of arguments, in one statement; return the queue jobs' ids."""
    deferrer = _deferrer(task_name, queue=queue, queueing_lock=None, priority=priority)
    return deferrer.batch_defer(*task_kwargs)


def periodic_tasks() -> list[PeriodicTask]:
    """The periodic tasks every worker schedules (importing the task modules first)."""
    app.perform_import_paths()
    return list(app.periodic_registry.periodic_tasks.values())


def job_manager() -> JobManager:
    """procrastinate's job manager on Django's connection (usable in any sync code)."""
    return _transactional_app.job_manager
