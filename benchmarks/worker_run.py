"""A worker as users run it, and decks timed through it: what the speed benchmarks share."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.django_setup import REPO


@contextmanager
def queue_worker(env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Run `manage.py procrastinate worker --queues=cpu` (README's set-up) while inside.

    Yields the worker's process (sample its tree's memory with measure.PeakTreeMemory).
    """
    from jobs.worker.inprocess import live_worker_count

    before = live_worker_count()
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "procrastinate", "worker", "--queues=cpu"],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while live_worker_count() <= before:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("the worker did not start")
            time.sleep(0.2)
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=120)


def benchmark_user(name: str):
    """A user of its own: its cache starts empty (its earlier entries are removed)."""
    from django.contrib.auth import get_user_model

    from jobs.models import CachedArtifact

    user, _ = get_user_model().objects.get_or_create(username=name)
    CachedArtifact.objects.filter(owner=user).delete()
    return user


def timed_job(deck: Path, user, *, timeout: float = 1800):
    """Submit the deck as the upload form does; return (seconds until done, the job)."""
    from django.core.files import File

    from jobs.models import Job, Persona
    from jobs.narration import services

    persona = Persona.objects.filter(status="active", tts_engine="piper").order_by("id").first()
    # What an earlier job left (its preview, on the same queue) must not share this one's time.
    queue_idle()
    start = time.perf_counter()
    with deck.open("rb") as handle:
        job = services.job_create(
            owner=user, deck=File(handle, name=deck.name), title=deck.name, persona=persona
        )
    deadline = time.monotonic() + timeout
    while not Job.objects.filter(id=job.id, status__in=Job.FINISHED).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job.id} did not finish in {timeout:g} s")
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    job.refresh_from_db()
    if job.status != Job.Status.COMPLETED:
        raise SystemExit(f"job failed: {job.error}")
    return elapsed, job


def queue_idle(timeout: float = 600) -> None:
    """Wait until no queue job waits or runs."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    deadline = time.monotonic() + timeout
    while ProcrastinateJob.objects.filter(status__in=["todo", "doing"]).exists():
        if time.monotonic() > deadline:
            raise SystemExit("the queue did not drain")
        time.sleep(0.05)


def queue_jobs_finished(job_ids: list[int], *, poll: float = 0.01, timeout: float = 600) -> None:
    """Wait until none of these queue jobs waits or runs."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    deadline = time.monotonic() + timeout
    unfinished = ProcrastinateJob.objects.filter(id__in=job_ids, status__in=["todo", "doing"])
    while unfinished.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(job_ids)} queue jobs did not finish in {timeout:.0f} s")
        time.sleep(poll)


def numbered_notes(count: int) -> list[tuple[str, str]]:
    """`count` slides of the reference deck's notes, repeated with their numbers."""
    from benchmarks.reference_deck import REFERENCE_NOTES

    return [
        (f"{title} {n + 1}", notes)
        for n, (title, notes) in enumerate(
            REFERENCE_NOTES[i % len(REFERENCE_NOTES)] for i in range(count)
        )
    ]
