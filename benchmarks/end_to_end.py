"""End-to-end benchmark: upload to finished video with captions, through the queue.

    .venv/bin/python -m benchmarks.end_to_end [--runs 3]

Starts `manage.py procrastinate worker --queues=cpu` (the database is the embedded one unless
DATABASE_URL is set), submits the 10-slide reference deck (about 75 s of narration), and
times each job from upload until its video and captions are stored. The first job is also
reported on its own: it pays for loading the voice and starting LibreOffice. In the same
run, the baseline does the same work in one process without the queue, one step after the
other. Peak memory of the worker's process tree (LibreOffice and ffmpeg included) is shown.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.django_setup import django_ready
from benchmarks.measure import PeakTreeMemory, rendered_and_narrated

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 15.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    django_ready()

    with tempfile.TemporaryDirectory(prefix="slidecast-e2e-") as tmp:
        deck = _reference_deck(Path(tmp))
        baseline = _direct_pipeline(deck, Path(tmp))
        cold, warm, video_seconds, peak_mb = _through_queue(deck, args.runs)

    median = statistics.median(warm)
    print("End to end: 10 slides, upload to stored MP4 + SRT + WebVTT, 1920x1080")
    print(f"video length:                          {video_seconds:6.2f} s")
    print(f"baseline, one process, no queue:       {baseline:6.2f} s")
    print(f"through the queue, first job (cold):   {cold:6.2f} s")
    print(
        f"through the queue, warm worker:        {median:6.2f} s "
        f"(median of {len(warm)}: {', '.join(f'{t:.2f}' for t in warm)})"
    )
    print(f"warm / video length:                   {median / video_seconds:6.3f}x")
    print(f"speed-up of the queue over baseline:   {baseline / median:6.2f}x")
    print(
        f"target:                                {TARGET_SECONDS:6.2f} s "
        f"({'met' if median <= TARGET_SECONDS else 'MISSED'})"
    )
    print(f"worker peak memory (process tree):     {peak_mb:6.0f} MB")


def _reference_deck(folder: Path) -> Path:
    from benchmarks.reference_deck import write_reference_deck

    return write_reference_deck(folder / "reference.pptx")


def _direct_pipeline(deck: Path, folder: Path) -> float:
    """Return seconds for the same steps run one after another in this process."""
    from media_pipeline.captions import place_cues, to_srt, to_webvtt
    from media_pipeline.deck import DeckLimits, validate_deck
    from media_pipeline.video import SlideClip, VideoOptions, assemble_video

    start = time.perf_counter()
    validate_deck(deck, DeckLimits())
    slides = rendered_and_narrated(deck, folder / "direct")
    narrations = [narration for _, narration in slides]
    video = assemble_video(
        [SlideClip(image, narration.wav_path) for image, narration in slides],
        folder / "direct.mp4",
        folder / "direct-work",
        VideoOptions(),
    )
    cues = place_cues((n.cues for n in narrations), video.slide_starts)
    (folder / "direct.srt").write_text(to_srt(cues))
    (folder / "direct.vtt").write_text(to_webvtt(cues))
    return time.perf_counter() - start


def _through_queue(deck: Path, runs: int) -> tuple[float, list[float], float, float]:
    """Return the first job's seconds, the others', the video's length and peak worker MB."""
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "procrastinate", "worker", "--queues=cpu"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with PeakTreeMemory(worker.pid) as memory:
            first, others, video_seconds = _timed_jobs(worker, deck, runs)
        return first, others, video_seconds, memory.megabytes
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def _timed_jobs(worker: subprocess.Popen, deck: Path, runs: int):
    from django.contrib.auth import get_user_model
    from django.core.files import File

    from jobs.models import Job, Persona
    from jobs.narration import services
    from jobs.worker.inprocess import live_worker_count

    user, _ = get_user_model().objects.get_or_create(username="benchmark")
    persona = Persona.objects.filter(status="active").order_by("id").first()
    deadline = time.monotonic() + 60
    while live_worker_count() == 0:
        if time.monotonic() > deadline or worker.poll() is not None:
            raise SystemExit("the worker did not start")
        time.sleep(0.2)
    times: list[float] = []
    video_seconds = 0.0
    for _ in range(runs + 1):
        start = time.perf_counter()
        with deck.open("rb") as handle:  # what the upload form and the API call
            job = services.job_create(
                owner=user, deck=File(handle, name=deck.name), title=deck.name, persona=persona
            )
        while not Job.objects.filter(id=job.id, status__in=Job.FINISHED).exists():
            time.sleep(0.02)
        times.append(time.perf_counter() - start)
        job.refresh_from_db()
        if job.status != Job.Status.COMPLETED:
            raise SystemExit(f"job failed: {job.error}")
        video_seconds = job.duration_seconds
    return times[0], times[1:], video_seconds


if __name__ == "__main__":
    main()
