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
import tempfile
import time
from pathlib import Path

from benchmarks.django_setup import django_ready
from benchmarks.measure import PeakTreeMemory, rendered_and_narrated

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
    from benchmarks.worker_run import benchmark_user, queue_worker, timed_job

    user = benchmark_user("benchmark")
    # Every run does all the work: the same deck again would otherwise come from the cache.
    with (
        queue_worker({"SLIDECAST_CONTENT_CACHE": "0"}) as worker,
        PeakTreeMemory(worker.pid) as memory,
    ):
        results = [timed_job(deck, user) for _ in range(runs + 1)]
    times = [seconds for seconds, _ in results]
    return times[0], times[1:], results[-1][1].duration_seconds, memory.megabytes


if __name__ == "__main__":
    main()
