"""Bad uploads end as failed jobs with specific messages; the worker process keeps serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import Job
from tests.conftest import submit_deck, wait_for_jobs
from tests.decks import make_corrupt_zip, make_deck, make_zip_bomb

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_each_bad_upload_fails_with_its_reason_and_the_worker_keeps_serving(
    tmp_path: Path, user, persona, settings, worker_process
):
    good = make_deck(tmp_path / "good.pptx", [("Hello", "A good deck at last.")])
    text = tmp_path / "text.pptx"
    text.write_text("just some text, renamed to look like a deck")
    bad = {
        "text": (text, "not a ZIP archive"),
        "corrupt": (make_corrupt_zip(good, tmp_path / "corrupt.pptx"), "damaged ZIP archive"),
        "bomb": (
            make_zip_bomb(tmp_path / "bomb.pptx", expanded_bytes=600 * 1024 * 1024),
            "expands to 600.00 MB when unpacked, more than the limit of 500 MB",
        ),
        "empty": (make_deck(tmp_path / "empty.pptx", []), "The deck has no slides"),
        "huge": (tmp_path / "huge.pptx", "The file is 101 MB; the limit is 100 MB"),
    }
    with bad["huge"][0].open("wb") as huge:
        huge.truncate(101 * 1024 * 1024)

    bad_jobs = {name: submit_deck(path, user, persona) for name, (path, _) in bad.items()}
    good_job = submit_deck(good, user, persona)
    finished = wait_for_jobs([*[j.id for j in bad_jobs.values()], good_job.id], timeout=180)

    by_id = {job.id: job for job in finished}
    for name, (_, message) in bad.items():
        job = by_id[bad_jobs[name].id]
        assert job.status == Job.Status.FAILED, name
        assert message in job.error, (name, job.error)
        assert job.error_code == "invalid_deck"
        # Bad input is not retried: one attempt, marked failed in the queue.
        queued = ProcrastinateJob.objects.get(args__job_id=str(job.id))
        assert (queued.status, queued.attempts) == ("failed", 1), name
    assert by_id[good_job.id].status == Job.Status.COMPLETED, by_id[good_job.id].error
    assert worker_process.poll() is None, "the worker process died"

    # The worker logs JSON lines, each line a task writes naming both job ids. (procrastinate's
    # command also prints one plain "Launching a worker" line of its own.)
    output = worker_process.log_path.read_text().splitlines()
    lines = [json.loads(line) for line in output if line.startswith("{")]
    assert len(lines) >= len(output) - 1
    failure = next(
        line for line in lines
        if line.get("slidecast_job_id") == str(bad_jobs["text"].id) and "failed" in line["message"]
    )  # fmt: skip
    queued = ProcrastinateJob.objects.get(args__job_id=str(bad_jobs["text"].id))
    assert failure["procrastinate_job_id"] == queued.id
    assert failure["task"] == "slidecast.decompose" and failure["level"] == "WARNING"
