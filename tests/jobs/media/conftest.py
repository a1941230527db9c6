"""Inputs and a real worker for media job tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from django.core.files import File

from jobs.media import services
from jobs.media.models import MediaJob
from jobs.worker.inprocess import in_process_worker
from media_pipeline.tools import find_ffmpeg
from tests.conftest import clear_queue
from tests.media import spoken_take


def make_video(
    path: Path,
    *,
    seconds: float = 3,
    size: str = "640x360",
    audio: Path | None = None,
    extra: Iterable[str] = (),
) -> Path:
    """A small H.264/AAC MP4: a moving test picture, with the given audio or a tone."""
    sound = (
        ["-i", str(audio)]
        if audio
        else ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    )
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size={size}:rate=25:duration={seconds}", *sound, "-shortest",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         *extra, str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def spoken_video(tmp_path_factory) -> Path:
    """About eight seconds of real speech (Piper) over a test picture, as an MP4."""
    folder = tmp_path_factory.mktemp("spoken")
    speech = spoken_take(folder / "speech.wav")
    return make_video(folder / "spoken.mp4", seconds=9, audio=speech)


@pytest.fixture(scope="session")
def short_video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("short") / "short.mp4", seconds=3)


def submit_media(path: Path, user, operation: str, parameters: dict | None = None) -> MediaJob:
    with path.open("rb") as handle:
        return services.media_job_create(
            owner=user, operation=operation, parameters=parameters,
            upload=File(handle, name=path.name), title=path.name,
        )  # fmt: skip


def wait_for_media(ids: Iterable, *, timeout: float = 180) -> list[MediaJob]:
    wanted = [str(i) for i in ids]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = {str(j.id): j for j in MediaJob.objects.filter(id__in=wanted)}
        if len(jobs) == len(wanted) and all(j.is_finished for j in jobs.values()):
            return [jobs[i] for i in wanted]
        time.sleep(0.2)
    states = list(MediaJob.objects.filter(id__in=wanted).values_list("status", "stage", "error"))
    raise AssertionError(f"media jobs did not finish in {timeout} s: {states}")


@pytest.fixture
def run_media(transactional_db, work_dir) -> Callable[..., list[MediaJob]]:
    """Run a real in-process worker on both queues until the media jobs have finished."""
    clear_queue()

    def run(ids: Iterable, *, timeout: float = 180, queues=("cpu", "gpu")) -> list[MediaJob]:
        with in_process_worker(queues=list(queues)):
            return wait_for_media(ids, timeout=timeout)

    return run
