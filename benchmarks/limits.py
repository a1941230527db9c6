"""Peak memory and time of the largest decks the limits allow, through a real worker.

    .venv/bin/python -m benchmarks.limits [--only reference,200-slides,longest-notes,largest]

Starts `manage.py procrastinate worker --queues=cpu` (concurrency 2, the default) and runs
each deck as a job from upload to stored video, sampling the worker's process tree
(LibreOffice, poppler and ffmpeg included). The 10-slide reference deck runs first in the
same worker as the baseline. The goal is a peak under 1.5 GB for every deck.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.django_setup import django_ready
from benchmarks.measure import PeakTreeMemory
from benchmarks.worker_run import benchmark_user, queue_worker, timed_job

GOAL_MB = 1536
NEXT_GOAL_MB = 1024
SENTENCE = "This sentence is part of the notes that make a long deck about the limits. "


def _notes(characters: int) -> str:
    text = SENTENCE * (characters // len(SENTENCE) + 1)
    return text[:characters].rsplit(" ", 1)[0] + "."


def _decks(folder: Path, limits: dict) -> dict[str, tuple[Path, str]]:
    from benchmarks.reference_deck import write_reference_deck
    from tests.decks import make_deck

    slides, per_slide = limits["MAX_SLIDES"], limits["MAX_NOTES_CHARS_PER_SLIDE"]
    per_deck_share = limits["MAX_NOTES_CHARS_PER_DECK"] // slides
    return {
        "reference": (write_reference_deck(folder / "reference.pptx"), "10 slides, 75 s"),
        "200-slides": (
            make_deck(
                folder / "200.pptx",
                [(f"Slide {n}", "One short line.") for n in range(1, slides + 1)],
            ),
            f"{slides} slides, one short sentence each",
        ),  # fmt: skip
        "longest-notes": (
            make_deck(folder / "longest.pptx", [("Long", _notes(per_slide))]),
            f"1 slide with {per_slide:,} characters of notes (the per-slide limit)",
        ),
        "largest": (
            make_deck(
                folder / "largest.pptx",
                [(f"Slide {n}", _notes(per_deck_share)) for n in range(1, slides + 1)],
            ),
            f"{slides} slides, {per_deck_share * slides:,} characters of notes (the deck limit)",
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="reference,200-slides,longest-notes,largest")
    args = parser.parse_args()
    django_ready()
    from django.conf import settings

    wanted = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="slidecast-limits-") as tmp:
        decks = _decks(Path(tmp), settings.SLIDECAST)
        user = benchmark_user("benchmark")
        # Each deck does all its work: nothing comes from the content cache.
        with queue_worker({"SLIDECAST_CONTENT_CACHE": "0"}) as worker:
            rows = [(name, *decks[name], *_run(worker, decks[name][0], user)) for name in wanted]
    print("Largest decks the limits allow, through one worker (concurrency 2), 1920x1080")
    print(f"{'deck':15} {'seconds':>8} {'video s':>8} {'peak MB':>8}  goal {GOAL_MB} MB")
    for name, _, described, seconds, video, peak in rows:
        verdict = "met" if peak <= GOAL_MB else "MISSED"
        print(f"{name:15} {seconds:8.1f} {video:8.1f} {peak:8.0f}  {verdict}  ({described})")
    baseline = rows[0][5] if rows and rows[0][0] == "reference" else None
    if baseline:
        worst = max(row[5] for row in rows)
        print(f"largest peak / reference peak: {worst / baseline:.2f}x")
    print(f"next goal: {NEXT_GOAL_MB} MB")


def _run(worker, deck: Path, user) -> tuple[float, float, float]:
    """Return seconds from upload to stored video, the video's length and the peak MB."""
    with PeakTreeMemory(worker.pid) as memory:
        seconds, job = timed_job(deck, user)
    return seconds, job.duration_seconds, memory.megabytes


if __name__ == "__main__":
    main()
