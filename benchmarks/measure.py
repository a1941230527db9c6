"""What the benchmarks share: the reference inputs and a memory sampler."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from media_pipeline.deck import read_speaker_notes
from media_pipeline.render import RenderOptions, render_slides
from media_pipeline.tts import EngineRegistry, Narration, NarrationOptions, narrate


def rendered_and_narrated(deck: Path, work: Path, fps: int = 25) -> list[tuple[Path, Narration]]:
    """Return each slide's image and narration, made with the pipeline's own steps."""
    notes = read_speaker_notes(deck)
    images = render_slides(deck, work / "slides", RenderOptions(profile_root=work / "lo"))
    engine = EngineRegistry().get("piper")
    return [
        (
            image,
            narrate(
                slide.notes,
                engine=engine,
                voice="en_US-joe-medium",
                options=NarrationOptions(fps=fps),
                out_wav=work / f"narration-{index:02d}.wav",
            ),
        )  # fmt: skip
        for index, (slide, image) in enumerate(zip(notes, images, strict=True), 1)
    ]


def timed_module(module: str, args: Sequence[str]) -> tuple[float, float]:
    """Run `python -m module args` in a fresh process; return seconds and peak tree RSS in MB.

    Raises SystemExit when it fails, so a benchmark never reports a failed run's time.
    """
    child = subprocess.Popen([sys.executable, "-m", module, *args])
    start = time.perf_counter()
    with PeakTreeMemory(child.pid) as memory:
        child.wait()
    elapsed = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed")
    return elapsed, memory.megabytes


class PeakTreeMemory:
    """Samples a process and its children every 50 ms; `megabytes` is the highest total RSS."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakTreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def megabytes(self) -> float:
        return self._peak / 1024**2

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self._process, *self._process.children(recursive=True)]
                self._peak = max(self._peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.05)


class MachineCpu:
    """CPU seconds every process on the machine used while inside (from /proc/stat).

    Counts LibreOffice and ffmpeg however they were started (a sandbox's children are not
    this process's to wait for); on a quiet machine that is the work being measured.
    """

    seconds: float = 0.0

    def __enter__(self) -> MachineCpu:
        self._start = self._busy()
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = self._busy() - self._start

    @staticmethod
    def _busy() -> float:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        idle, iowait = fields[3], fields[4]
        return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")
