"""The deck job's procrastinate tasks: each runs one step and turns its errors into job state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from procrastinate import JobContext
from procrastinate.exceptions import JobAborted
from procrastinate.job_context import AbortReason

from jobs import queueing
from jobs.log_context import task_run_started
from jobs.narration import progress, steps
from jobs.narration.models import Slide
from jobs.queueing import RETRY, app
from media_pipeline.errors import PipelineError, TimeLimitReached
from media_pipeline.tools import StopCheck

logger = logging.getLogger("slidecast.tasks")


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
    # From the end of any wait for the family's slot (set by the worker middleware).
    started = task_run_started.get() or context.start_timestamp
    deadline = started + max(budget, 0.5) if margin else float("inf")

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
            progress.job_note_retry(job_id=job_id, message=exc.message)
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
            progress.job_note_retry(job_id=job_id, message=f"internal error ({type(exc).__name__})")
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
        progress.job_fail(job_id=job_id, message=message, code=code, assembly_claim=assembly_claim)
        return False
    if not permanent and settings.SLIDECAST["PARTIAL_RESULTS"]:
        try:
            steps.narrate_job_slide_silently(slide_id=slide_id, reason=message)
            return True
        except Exception:
            logger.exception("job %s: could not leave slide %s silent", job_id, slide_id)
    index = Slide.objects.values_list("index", flat=True).get(id=slide_id)
    progress.job_fail(
        job_id=job_id, message=f"Slide {index}: {message}", code=code, slide_id=slide_id
    )
    return False


@app.task(name=queueing.DECOMPOSE, queue=queueing.CPU, retry=RETRY, pass_context=True)
def decompose(context: JobContext, *, job_id: str) -> None:
    _run_step(
        context,
        job_id=job_id,
        doing="reading and rendering the slides",
        step=lambda check: steps.decompose_job(job_id=job_id, check=check),
    )


# The queue is chosen per job when deferring: each speech engine names the queue it needs.
@app.task(name=queueing.NARRATE_SLIDE, queue=queueing.CPU, retry=RETRY, pass_context=True)
def narrate_slide(context: JobContext, *, job_id: str, slide_id: int) -> None:
    _run_step(
        context,
        job_id=job_id,
        doing="narrating a slide",
        step=lambda check: steps.narrate_job_slide(slide_id=slide_id, check=check),
        slide_id=slide_id,
    )


@app.task(name=queueing.ASSEMBLE, queue=queueing.CPU, retry=RETRY, pass_context=True)
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
