from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone
from procrastinate import jobs as queue_jobs
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import queueing
from jobs.models import DeadLetter, Job
from jobs.operations import dead_letters
from jobs.queueing import MAX_ATTEMPTS, RETRY, RunLimitedRetry
from media_pipeline.errors import DeckRenderError, InvalidDeckError
from tests.conftest import submit_deck


def queue_job(attempts: int) -> queue_jobs.Job:
    return queue_jobs.Job(
        id=1, queue="cpu", lock=None, queueing_lock=None, task_name="t", attempts=attempts
    )


def test_bad_input_is_never_retried():
    assert RETRY.get_retry_decision(exception=InvalidDeckError("bad"), job=queue_job(0)) is None


def test_transient_errors_back_off_exponentially_until_the_last_attempt():
    waits = [
        RETRY.get_retry_decision(exception=DeckRenderError("slow"), job=queue_job(n))
        for n in range(MAX_ATTEMPTS)
    ]
    assert waits[-1] is None
    base = settings.SLIDECAST["TASK_RETRY_BASE_SECONDS"]
    now = timezone.now()
    delays = [(decision.retry_at - now).total_seconds() for decision in waits[:-1]]
    expected = [base ** (attempt + 1) for attempt in range(MAX_ATTEMPTS - 1)]
    assert delays == pytest.approx(expected, abs=1)


def test_a_single_allowed_run_means_no_retry():
    one_run = RunLimitedRetry(runs=1, exponential_wait=2)
    assert one_run.get_retry_decision(exception=DeckRenderError("slow"), job=queue_job(0)) is None


def test_slide_count_mismatch_is_not_retried():
    from media_pipeline.errors import SlideCountMismatchError

    error = SlideCountMismatchError("3 slides, 2 images")
    assert RETRY.get_retry_decision(exception=error, job=queue_job(0)) is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_step_that_keeps_timing_out_is_retried_then_fails_with_the_reason(
    user, persona, deck_path, settings, run_worker
):
    settings.SLIDECAST = {**settings.SLIDECAST, "RENDER_TIMEOUT_SECONDS": 0.05}
    job = submit_deck(deck_path([("One", "Hello.")]), user, persona)
    [job] = run_worker([job.id], timeout=60)
    assert job.status == Job.Status.FAILED
    assert job.error_code == "render_failed"
    assert "LibreOffice (rendering the slides) took longer than 0.05 seconds" in job.error
    queued = ProcrastinateJob.objects.get(args__job_id=str(job.id), task_name=queueing.DECOMPOSE)
    assert (queued.status, queued.attempts) == ("failed", MAX_ATTEMPTS)

    # The last failure is kept as a dead letter, with what procrastinate does not keep.
    letter = DeadLetter.objects.get(procrastinate_job_id=queued.id)
    assert letter.exception_class == "media_pipeline.errors.DeckRenderError"
    assert letter.attempts == MAX_ATTEMPTS and letter.job_id == job.id
    assert "TimeoutExpired" in letter.traceback and "took longer than" in letter.message

    # Retrying it puts the job back at its failed step.
    settings.SLIDECAST = {**settings.SLIDECAST, "RENDER_TIMEOUT_SECONDS": 300}
    assert dead_letters.dead_letter_retry(letter=letter) == "job retried from decompose"
    [job] = run_worker([job.id], timeout=120)
    assert job.status == Job.Status.COMPLETED, job.error
