"""Narration speed: the edit loop (content cache), narration beside rendering, big decks.

    .venv/bin/python -m benchmarks.narration_speed [--parts cache overlap memory]
        [--sizes 10 50 100 200] [--runs 3]

Every deck goes through `manage.py procrastinate worker --queues=cpu` as the README runs it
(its default concurrency), on the embedded PostgreSQL unless DATABASE_URL is set; each
part prints its figure beside a baseline from the same run.

cache    A full render of the 10-slide reference deck, then the same deck with a sentence
         added to one slide's notes (the presenter's loop), then with another slide's
         notes rewritten, by one user whose cache starts empty; the same for a 100-slide
         deck. Targets: the edit ≤ 15 % (10 slides), ≤ 5 % (100) of the full render. The
         worker is warmed first with another user's deck.
overlap  The reference deck through the queue with the cache off (warm worker, median of
         --runs) against the same steps one after another in this process (warm: the
         second of two runs). Target ratio ≤ 0.6. Also as a fraction of the video's length,
         and `manage.py narrate` from a cold process (no worker running).
memory   Decks of --sizes slides, cache off, each in a fresh worker: peak memory of the
         worker's process tree and seconds; a least-squares line through the seconds.
         Target: 200 slides under 1 GB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.django_setup import django_ready
from benchmarks.measure import MachineCpu, PeakTreeMemory
from benchmarks.worker_run import (
    REPO,
    benchmark_user,
    numbered_notes,
    queue_idle,
    queue_worker,
    timed_job,
)

CACHE_OFF = {"SLIDECAST_CONTENT_CACHE": "0"}
MEMORY_TARGET_MB = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["cache", "overlap", "memory"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    django_ready()
    print(f"# narration speed: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="slidecast-speed-") as tmp:
        folder = Path(tmp)
        if "cache" in args.parts:
            _cache(folder, min(args.runs, len(_WORDS)))
        if "overlap" in args.parts:
            _overlap(folder, args.runs)
        if "memory" in args.parts:
            _memory(folder, args.sizes)


def _deck(folder: Path, name: str, notes) -> Path:
    from tests.decks import make_deck

    return make_deck(folder / f"{name}.pptx", notes)


def _distinct(notes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(title, f"Part {number}. {text}") for number, (title, text) in enumerate(notes, 1)]


_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def _edited(notes: list[tuple[str, str]], run: int = 0) -> list[tuple[str, str]]:
    """A sentence added to one slide's notes (slide 2, 3, … for later runs)."""
    index = 1 + run
    title, text = notes[index]
    added = f" One more sentence was added, the {_WORDS[run]} time."
    return [*notes[:index], (title, text + added), *notes[index + 1 :]]


def _rewritten(notes: list[tuple[str, str]], run: int = 0) -> list[tuple[str, str]]:
    """One slide's notes written anew (the last slide, the one before it for later runs)."""
    index = len(notes) - 1 - run
    title, _ = notes[index]
    text = (
        f"This slide was written again from the start, for the {_WORDS[run]} time. The plan "
        "changed in the spring, and the new targets are lower, but the teams are larger."
    )
    return [*notes[:index], (title, text), *notes[index + 1 :]]


def _cache(folder: Path, runs: int) -> None:
    from benchmarks.reference_deck import REFERENCE_NOTES

    print("\n## content cache: one slide's notes edited, then rendered again")
    with queue_worker():
        timed_job(_deck(folder, "warm-up", REFERENCE_NOTES[:2]), benchmark_user("speed-warm-up"))
        for count, target in ((10, 0.15), (100, 0.05)):
            # Every slide's notes its own, as in a real deck: repeated notes would be
            # narrated once and make the full render look cheaper than it is.
            notes = REFERENCE_NOTES if count == 10 else _distinct(numbered_notes(count))
            user = benchmark_user(f"speed-cache-{count}")
            full, _ = timed_job(_deck(folder, f"full-{count}", notes), user)
            for edit_name, edit in (
                ("one sentence added to one slide", _edited),
                ("one slide's notes rewritten", _rewritten),
            ):
                # Each run edits another slide, so no run finds the previous one's result.
                results = [
                    timed_job(_deck(folder, f"edit-{count}-{run}", edit(notes, run)), user)
                    for run in range(runs)
                ]
                seconds = statistics.median(time for time, _ in results)
                job = results[0][1]
                reused = job.slides.filter(audio_cached=True).count()
                images = job.slides.filter(image_cached=True).count()
                ratio = seconds / full
                print(
                    f"{count:3d} slides, {edit_name}: {seconds:5.2f} s (median of "
                    f"{', '.join(f'{time:.2f}' for time, _ in results)}) = {ratio:6.1%} of the "
                    f"full render's {full:.2f} s (target ≤ {target:.0%}: "
                    f"{'met' if ratio <= target else 'NOT met'}); from the cache: "
                    f"{images}/{count} images, {reused}/{count} narrations"
                )


def _overlap(folder: Path, runs: int) -> None:
    from benchmarks.reference_deck import write_reference_deck

    print("\n## narration beside rendering: the reference deck, cache off")
    deck = write_reference_deck(folder / "reference.pptx")
    _sequential(deck, folder / "first")
    with MachineCpu() as sequential_cpu:
        sequential = _sequential(deck, folder / "second")
    with queue_worker(CACHE_OFF):
        user = benchmark_user("speed-overlap")
        timed_job(deck, user)
        results, queue_cpu = [], []
        for _ in range(runs):
            queue_idle()  # the previous job's preview is not this job's work
            with MachineCpu() as used:
                results.append(timed_job(deck, user))
            queue_cpu.append(used.seconds)
    times = [seconds for seconds, _ in results]
    cores = os.cpu_count() or 1
    median = statistics.median(times)
    video = results[0][1].duration_seconds
    ratio = median / sequential
    print(f"one process, steps one after another (warm): {sequential:6.2f} s")
    print(
        f"through the queue, warm worker:              {median:6.2f} s "
        f"(median of {runs}: {', '.join(f'{t:.2f}' for t in times)})"
    )
    verdict = "met" if ratio <= 0.6 else "NOT met"
    print(f"ratio queue / one process:                   {ratio:6.2f}x (target ≤ 0.6x: {verdict})")
    # Whatever overlaps, the work's CPU seconds spread over every core is as fast as it goes.
    floor = sequential_cpu.seconds / cores
    print(
        f"CPU seconds, all processes: one process {sequential_cpu.seconds:.2f}, through the "
        f"queue {statistics.median(queue_cpu):.2f} (median); the one-process work spread over "
        f"{cores} cores would take {floor:.2f} s = {floor / sequential:.2f}x at best"
    )
    print(f"as a fraction of the video's {video:.1f} s:         {median / video:6.3f}x")
    cold = _cold_cli(deck, folder)
    print(f"cold `manage.py narrate` (process start incl.): {cold:6.2f} s = {cold / video:.3f}x")


def _sequential(deck: Path, folder: Path) -> float:
    """Seconds for the pipeline's steps one after another in this process, no queue."""
    from benchmarks.measure import rendered_and_narrated
    from media_pipeline.captions import place_cues, to_srt, to_webvtt
    from media_pipeline.deck import DeckLimits, validate_deck
    from media_pipeline.video import SlideClip, VideoOptions, assemble_video

    start = time.perf_counter()
    validate_deck(deck, DeckLimits())
    slides = rendered_and_narrated(deck, folder)
    video = assemble_video(
        [SlideClip(image, narration.wav_path) for image, narration in slides],
        folder / "video.mp4",
        folder / "encode",
        VideoOptions(),
    )
    cues = place_cues((narration.cues for _, narration in slides), video.slide_starts)
    (folder / "captions.srt").write_text(to_srt(cues))
    (folder / "captions.vtt").write_text(to_webvtt(cues))
    return time.perf_counter() - start


def _cold_cli(deck: Path, folder: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "narrate", str(deck), "-o", str(folder / "cli.mp4")],
        cwd=REPO,
        env={**os.environ, **CACHE_OFF},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def _memory(folder: Path, sizes: list[int]) -> None:
    print("\n## big decks: peak memory of the worker's process tree, and time")
    print("slides  seconds  peak MB  video s")
    points = []
    for count in sizes:
        deck = _deck(folder, f"size-{count}", numbered_notes(count))
        with queue_worker(CACHE_OFF) as worker, PeakTreeMemory(worker.pid) as memory:
            seconds, job = timed_job(deck, benchmark_user("speed-memory"))
        points.append((count, seconds))
        verdict = ""
        if count == 200:
            met = memory.megabytes < MEMORY_TARGET_MB
            verdict = f"  (target < {MEMORY_TARGET_MB} MB: {'met' if met else 'NOT met'})"
        peak = memory.megabytes
        print(f"{count:6d}  {seconds:7.1f}  {peak:7.0f}  {job.duration_seconds:7.1f}{verdict}")
    if len(points) >= 2:
        slope, intercept, r2 = _line(points)
        print(f"fit: seconds = {intercept:.2f} + {slope:.3f} × slides (R² = {r2:.4f})")


def _line(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in points)
    return slope, intercept, 1 - residual / total if total else 1.0


if __name__ == "__main__":
    main()
