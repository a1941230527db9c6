"""GPU routing with real workers: gpu while a GPU worker serves it, cpu when none does."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.media import capabilities, services
from jobs.media.models import MediaJob
from jobs.models import WorkerHost
from tests.jobs.media.conftest import submit_media, wait_for_media

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECORDED_SMI = "0, NVIDIA L4, 12, 2048, 23034\n"


@pytest.fixture
def fake_gpu_path(tmp_path: Path) -> str:
    """A PATH whose nvidia-smi answers like a host with one L4 GPU."""
    folder = tmp_path / "fake-gpu-bin"
    folder.mkdir()
    program = folder / "nvidia-smi"
    program.write_text(f"#!/bin/sh\ncat <<'EOF'\n{RECORDED_SMI}EOF\n")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    return f"{folder}:{os.environ['PATH']}"


def _wait_for_workers(count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while WorkerHost.objects.count() < count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert WorkerHost.objects.count() >= count, "the workers did not register"


def _queue_of(job: MediaJob) -> str:
    return ProcrastinateJob.objects.get(args__media_job_id=str(job.id)).queue_name


def test_gpu_work_runs_on_the_gpu_worker_and_falls_back_to_cpu_without_one(
    user, short_video, start_worker_process, fake_gpu_path, settings
):
    gpu_worker = start_worker_process(queues="gpu", PATH=fake_gpu_path)
    start_worker_process(queues="cpu")
    _wait_for_workers(2)
    gpu_host = WorkerHost.objects.get(queues=["gpu"])
    assert (gpu_host.gpu_count, gpu_host.gpu_names) == (1, "1 × NVIDIA L4")
    assert WorkerHost.objects.get(queues=["cpu"]).gpu_count == 0
    # Each worker lists its ffmpeg's encoders at start: NVENC only where it really encodes.
    assert "libx264" in gpu_host.encoders["h264"]
    assert "h264_nvenc" not in gpu_host.encoders["h264"]  # nvidia-smi alone is not a GPU
    assert capabilities.media_capabilities()["codecs"]["av1"]["encoders"]

    on_gpu = submit_media(short_video, user, "transcribe")
    preview = submit_media(short_video, user, "preview")
    assert (on_gpu.queue, preview.queue) == ("gpu", "cpu")
    on_gpu, preview = wait_for_media([on_gpu.id, preview.id], timeout=120)
    assert on_gpu.status == preview.status == MediaJob.Status.COMPLETED, on_gpu.error
    ran_on = ProcrastinateJob.objects.get(args__media_job_id=str(on_gpu.id)).worker_id
    assert ran_on is None or ran_on == gpu_host.worker_id  # finished jobs may drop the link
    assert _queue_of(on_gpu) == "gpu"

    gpu_worker.terminate()
    gpu_worker.wait(timeout=60)
    with connection.cursor() as cursor:  # a stopped worker leaves no heartbeat row
        cursor.execute("DELETE FROM procrastinate_workers WHERE id = %s", [gpu_host.worker_id])
    fallback = submit_media(short_video, user, "transcode")
    assert fallback.queue == "cpu" and "sent to cpu instead" in fallback.queue_reason
    [fallback] = wait_for_media([fallback.id], timeout=120)
    assert fallback.status == MediaJob.Status.COMPLETED, fallback.error


def test_jobs_left_waiting_on_gpu_are_moved_to_cpu_after_the_set_time(
    user, short_video, start_worker_process, settings
):
    settings.SLIDECAST = {**settings.SLIDECAST, "MEDIA_GPU_FALLBACK": False}
    stuck = submit_media(short_video, user, "transcode")
    assert stuck.queue == "gpu"
    settings.SLIDECAST = {**settings.SLIDECAST, "MEDIA_GPU_FALLBACK": True,
                          "MEDIA_GPU_FALLBACK_SECONDS": 5}  # fmt: skip
    assert services.gpu_waiting_jobs_to_cpu() == 0  # it has not waited 5 s yet
    MediaJob.objects.filter(id=stuck.id).update(created_at=stuck.created_at.replace(year=2020))
    assert services.gpu_waiting_jobs_to_cpu() == 1
    stuck.refresh_from_db()
    assert stuck.queue == "cpu" and "moved to cpu" in stuck.queue_reason
    assert _queue_of(stuck) == "cpu"
    start_worker_process(queues="cpu")
    [stuck] = wait_for_media([stuck.id], timeout=120)
    assert stuck.status == MediaJob.Status.COMPLETED, stuck.error


def test_with_fallback_forbidden_waiting_gpu_jobs_stay_on_gpu(user, short_video, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "MEDIA_GPU_FALLBACK": False}
    job = submit_media(short_video, user, "hls")
    MediaJob.objects.filter(id=job.id).update(created_at=job.created_at.replace(year=2020))
    assert services.gpu_waiting_jobs_to_cpu() == 0
    assert _queue_of(job) == "gpu"
