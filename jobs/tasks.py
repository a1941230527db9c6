"""procrastinate tasks: thin wrappers that run a step and turn its errors into job state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import attr
from django.conf import settings
from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import JobAborted
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Job as QueueJob

from jobs import inbound, operations, services, steps, webhooks
from jobs.models import Job, Slide
from media_pipeline.errors import PipelineError, TimeLimitReached
from media_pipeline.tools import StopCheck

logger = logging.getLogger("slidecast.tasks")

MAX_ATTEMPTS: int = settings.SLIDECAST["TASK_MAX_ATTEMPTS"]


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


RETRY = RunLimitedRetry(
    runs=MAX_ATTEMPTS, exponential_wait=settings.SLIDECAST["TASK_RETRY_BASE_SECONDS"]
)


def stop_check(context: JobContext, *, doing: str) -> StopCheck:
    """Return the check a step calls between pieces of work: it raises when the step must stop.

    A cancel arrives as procrastinate's abort request (LISTEN/NOTIFY, so within moments);
    the soft time limit falls shortly before the worker's hard limit. A worker shutting
    down does not stop steps: they finish within the shutdown grace time.
    """
    limits = settings.WORKER_LIMITS
    margin = limits["TASK_SOFT_LIMIT_MARGIN_SECONDS"]
    hard_limit = limits["TASK_TIME_LIMIT_SECONDS"]
    budget = hard_limit - margin
    # A margin of 0 turns the soft limit off: only the worker's hard limit applies.
    deadline = context.start_timestamp + max(budget, 0.5) if margin else float("inf")

    def check() -> None:
        if context.abort_reason() == AbortReason.USER_REQUEST:
            raise JobAborted(f"stopped while {doing}: the job was cancelled")
        if time.time() > deadline:
            raise TimeLimitReached(
                f"Slidecast stopped {doing} as it neared the time limit of {hard_limit:g} "
                "seconds (SLIDECAST_TASK_TIME_LIMIT_SECONDS). Use a shorter deck or fewer slides."
            )

    return check


def _run_step(
    context: JobContext,
    *,
    job_id: str,
    doing: str,
    step: Callable[[StopCheck], object],
    slide_id: int | None = None,
    assembly_claim: int | None = None,
) -> None:
    final_attempt = RETRY.is_last_run(context.job)
    where = {"job_id": job_id, "slide_id": slide_id, "assembly_claim": assembly_claim}
    try:
        step(stop_check(context, doing=doing))
    except JobAborted:
        logger.info("job %s: stopped while %s (cancelled)", job_id, doing)
        raise
    except PipelineError as exc:
        if exc.permanent or final_attempt:
            if _give_up(**where, message=exc.message, code=exc.code, permanent=exc.permanent):
                return
        else:
            services.job_note_retry(job_id=job_id, message=exc.message)
        raise
    except Exception as exc:
        logger.exception("job %s: unexpected error while %s", job_id, doing)
        message = (
            f"Slidecast hit an internal error while {doing} ({type(exc).__name__}). "
            "Upload the deck again; if it fails again, tell the operators."
        )
        if final_attempt:
            if _give_up(**where, message=message, code="internal_error", permanent=False):
                return
        else:
            services.job_note_retry(job_id=job_id, message=f"internal error ({type(exc).__name__})")
        raise


def _give_up(
    *,
    job_id: str,
    message: str,
    code: str,
    slide_id: int | None,
    assembly_claim: int | None,
    permanent: bool,
) -> bool:
    """Fail the job; or leave one slide whose narration failed for good silent (True).

    Bad input (permanent) always fails the job: silence would hide the user's mistake.
    """
    if slide_id is None:
        services.job_fail(job_id=job_id, message=message, code=code, assembly_claim=assembly_claim)
        return False
    if not permanent and settings.SLIDECAST["PARTIAL_RESULTS"]:
        try:
            steps.narrate_job_slide_silently(slide_id=slide_id, reason=message)
            return True
        except Exception:
            logger.exception("job %s: could not leave slide %s silent", job_id, slide_id)
    index = Slide.objects.values_list("index", flat=True).get(id=slide_id)
    services.job_fail(
        job_id=job_id, message=f"Slide {index}: {message}", code=code, slide_id=slide_id
    )
    return False


@app.task(name="slidecast.decompose", queue="cpu", retry=RETRY, pass_context=True)
def decompose(context: JobContext, *, job_id: str) -> None:
    _run_step(
        context,
        job_id=job_id,
        doing="reading and rendering the slides",
        step=lambda check: steps.decompose_job(job_id=job_id, check=check),
    )


# The queue is chosen per job when deferring: each speech engine names the queue it needs.
@app.task(name="slidecast.narrate_slide", queue="cpu", retry=RETRY, pass_context=True)
def narrate_slide(context: JobContext, *, job_id: str, slide_id: int) -> None:
    _run_step(
        context,
        job_id=job_id,
        doing="narrating a slide",
        step=lambda check: steps.narrate_job_slide(slide_id=slide_id, check=check),
        slide_id=slide_id,
    )


@app.task(name="slidecast.assemble", queue="cpu", retry=RETRY, pass_context=True)
def assemble(context: JobContext, *, job_id: str) -> None:
    _run_step(
        context,
        job_id=job_id,
        doing="assembling the video",
        step=lambda check: steps.assemble_job_video(
            job_id=job_id, claim=context.job.id, check=check
        ),
        assembly_claim=context.job.id,
    )


# Maintenance. Periodic tasks run on the `cpu` queue, ahead of narration work.
MAINTENANCE = {"queue": "cpu", "priority": Job.Priority.HIGH}


@app.periodic(cron="* * * * *")
@app.task(name="slidecast.rescue_stalled_jobs", **MAINTENANCE)
def rescue_stalled_jobs(timestamp: int) -> None:
    operations.stalled_jobs_rescue()


@app.periodic(cron="* * * * *")
@app.task(name="slidecast.sample_resources", **MAINTENANCE)
def sample_resources(timestamp: int) -> None:
    from jobs.workers import resource_sample_record

    resource_sample_record()


@app.periodic(cron="0 2 * * *")
@app.task(name="slidecast.cleanup", **MAINTENANCE)
def cleanup(timestamp: int) -> None:
    operations.cleanup_run()


@app.periodic(cron="*/5 * * * *")
@app.task(name="slidecast.check_alerts", **MAINTENANCE)
def check_alerts(timestamp: int) -> None:
    operations.alerts_check()


# Webhooks.
WEBHOOK_RETRY = RunLimitedRetry(
    runs=settings.WEBHOOKS["MAX_ATTEMPTS"],
    exponential_wait=settings.WEBHOOKS["RETRY_BASE_SECONDS"],
    retry_exceptions={webhooks.WebhookDeliveryFailed},
)


@app.task(name="slidecast.deliver_webhook", queue="cpu", pass_context=True, retry=WEBHOOK_RETRY)
def deliver_webhook(context: JobContext, *, delivery_id: int) -> None:
    webhooks.deliver(delivery_id, final_attempt=WEBHOOK_RETRY.is_last_run(context.job))


@app.task(name="slidecast.process_inbound_event", queue="cpu", retry=RETRY)
def process_inbound_event(*, event_id: int) -> None:
    inbound.inbound_event_process(event_id=event_id)


@app.task(name="slidecast.ping", queue="cpu")
def ping(*, sent_at: float) -> float:
    """Do nothing: measures how fast the queue hands work to workers (benchmarks)."""
    return sent_at
