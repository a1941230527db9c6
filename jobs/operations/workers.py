"""What each worker process tells about itself: its host and queues, and the host's resources."""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
from datetime import timedelta

import psutil
from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection
from django.utils import timezone

from jobs.operations.models import ResourceSample, WorkerHost
from media_pipeline.encoders import codec_support
from media_pipeline.errors import PipelineError
from media_pipeline.gpu import query_gpus
from media_pipeline.gpu import summary as gpu_summary

logger = logging.getLogger("slidecast.workers")

SAMPLE_INTERVAL_SECONDS = 60
_sampler_started = threading.Event()


class WorkerRegistryHandler(logging.Handler):
    """Listens for procrastinate's "start_worker" record, which carries the worker's id."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "action", None) != "start_worker":
            return
        worker = getattr(record, "worker", None) or {}
        if worker.get("worker_id") is None:
            return
        # The record is emitted on the worker's event loop, where the ORM may not run.
        threading.Thread(
            target=_register,
            args=(int(worker["worker_id"]), list(worker.get("queues") or [])),
            name="slidecast-worker-registry",
            daemon=True,
        ).start()


def _register(worker_id: int, queues: list[str]) -> None:
    try:
        worker_host_record(worker_id=worker_id, queues=queues)
        # Only a `manage.py procrastinate worker` process samples its host; a worker run
        # inside another program (the narrate command, the tests) leaves that to the hosts.
        if sys.argv[1:3] == ["procrastinate", "worker"]:
            start_resource_sampler()
    except Exception:
        logger.exception("could not record worker %s", worker_id)
    finally:
        connection.close()


@functools.cache
def host_gpus() -> tuple[int, str]:
    """How many GPUs this host has and what they are (asked once per process)."""
    found = query_gpus()
    return len(found), gpu_summary(found)


@functools.cache
def host_encoders() -> dict[str, list[str]]:
    """The encoders this worker's ffmpeg has, NVENC tried for real (once per process)."""
    try:
        return codec_support(settings.SLIDECAST["FFMPEG_BINARY"] or None)
    except PipelineError as exc:
        logger.warning("could not list ffmpeg's encoders: %s", exc)
        return {}


def worker_host_record(*, worker_id: int, queues: list[str], concurrency: int | None = None):
    gpu_count, gpu_names = host_gpus()
    defaults = {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "queues": queues,
        "started_at": timezone.now(),
        "concurrency": concurrency or settings.PROCRASTINATE_WORKER_DEFAULTS["concurrency"],
        "gpu_count": gpu_count,
        "gpu_names": gpu_names,
        "encoders": host_encoders(),
    }
    host, created = WorkerHost.objects.get_or_create(worker_id=worker_id, defaults=defaults)
    if not created and concurrency and host.concurrency != concurrency:
        WorkerHost.objects.filter(pk=host.pk).update(concurrency=concurrency)
    return host


def start_resource_sampler() -> None:
    """Sample this host every minute from a background thread (once per process)."""
    if _sampler_started.is_set():
        return
    _sampler_started.set()

    def loop() -> None:
        while True:
            try:
                close_old_connections()
                resource_sample_record()
            except Exception:
                logger.exception("resource sample failed")
            finally:
                connection.close()
            threading.Event().wait(SAMPLE_INTERVAL_SECONDS)

    threading.Thread(target=loop, name="slidecast-resource-sampler", daemon=True).start()


def resource_sample_record():
    """Store this host's CPU, memory, media disk and GPU memory for the current minute."""

    now = timezone.now().replace(second=0, microsecond=0)
    media = settings.MEDIA_ROOT if os.path.isdir(settings.MEDIA_ROOT) else "/"
    disk = psutil.disk_usage(str(media))
    memory = psutil.virtual_memory()
    gpus = query_gpus()
    used = [g.memory_used_bytes for g in gpus if g.memory_used_bytes is not None]
    total = [g.memory_total_bytes for g in gpus if g.memory_total_bytes is not None]
    busy = [g.utilisation_percent for g in gpus if g.utilisation_percent is not None]
    try:
        return ResourceSample.objects.create(
            hostname=socket.gethostname(),
            taken_at=now,
            cpu_percent=psutil.cpu_percent(interval=0.5),
            memory_percent=memory.percent,
            memory_used_bytes=memory.total - memory.available,
            disk_percent=disk.percent,
            disk_free_bytes=disk.free,
            gpu_memory_used_bytes=sum(used) if used else None,
            gpu_memory_total_bytes=sum(total) if total else None,
            gpu_utilisation_percent=sum(busy) / len(busy) if busy else None,
        )
    except IntegrityError:
        return None  # another worker on this host sampled this minute already


def resource_samples_prune() -> int:

    days = settings.OVERSIGHT["RESOURCE_SAMPLE_RETENTION_DAYS"]
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = ResourceSample.objects.filter(taken_at__lt=cutoff).delete()
    return deleted
