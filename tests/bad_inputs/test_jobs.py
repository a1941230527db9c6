"""The corpus through a real worker: renderable decks complete, refusals fail once and cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import Job
from tests.bad_inputs.corpus import CASES, INTERNALS, Refused, Rendered
from tests.conftest import submit_deck, wait_for_jobs

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# One refusal from each family; test_validation covers every case's message.
REFUSED_ONE_OF_EACH = (
    "empty_file",
    "plain_text_renamed",
    "pdf_zip_polyglot",
    "legacy_powerpoint_97_2003",
    "opendocument_presentation",
    "slide_part_fails_its_crc",
    "zip_bomb_in_one_part",
    "path_traversal_entry",
    "billion_laughs_in_slide",
    "groups_nested_150_deep",
    "two_hundred_and_one_slides",
    "every_slide_hidden",
    "notes_over_limit_on_slide_2",
    "png_declares_50000_by_50000",
)


def _problems(job: Job, expect: Refused | Rendered) -> list[str]:
    """Return what is wrong with a finished job, given what its deck should have got."""
    if isinstance(expect, Rendered):
        if job.status != Job.Status.COMPLETED:
            return [f"status {job.status}: {job.error}"]
        problems = []
        if job.slide_count != expect.slides:
            problems.append(f"{job.slide_count} slides, expected {expect.slides}")
        if expect.warning is None:
            problems += [f"unexpected warning {w!r}" for w in job.warnings if "linked" in w]
        elif not any(expect.warning in warning for warning in job.warnings):
            problems.append(f"no warning mentions {expect.warning!r}: {job.warnings}")
        return problems
    problems = [
        f"message lacks {phrase!r}" for phrase in expect.contains if phrase not in job.error
    ]
    problems += [f"message shows {internal!r}" for internal in INTERNALS if internal in job.error]
    if job.status != Job.Status.FAILED or job.error_code != "invalid_deck":
        problems.append(f"status {job.status}, error code {job.error_code!r}")
    # Bad input is not retried: one attempt, marked failed in the queue.
    queued = ProcrastinateJob.objects.get(args__job_id=str(job.id))
    if (queued.status, queued.attempts) != ("failed", 1):
        problems.append(f"queue job {queued.status} after {queued.attempts} attempts")
    return problems


def test_corpus_decks_end_as_expected_and_the_worker_keeps_serving(
    tmp_path: Path, user, persona, worker_process
):
    names = {case.name for case in CASES}
    assert set(REFUSED_ONE_OF_EACH) <= names
    cases = [
        case
        for case in CASES
        if isinstance(case.expect, Rendered) or case.name in REFUSED_ONE_OF_EACH
    ]
    submitted = {}
    for case in cases:
        folder = tmp_path / case.name
        folder.mkdir()
        submitted[case.name] = submit_deck(case.build(folder), user, persona)

    finished = wait_for_jobs([job.id for job in submitted.values()], timeout=1200)

    by_id = {job.id: job for job in finished}
    problems = {
        case.name: found
        for case in cases
        if (found := _problems(by_id[submitted[case.name].id], case.expect))
    }
    assert not problems
    assert worker_process.poll() is None, "the worker process died"
