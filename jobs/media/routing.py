"""Which queue a media job goes to: `gpu` when a worker serves it, else `cpu` (if allowed).

Transcription and encoding run faster on a GPU but run everywhere; a job should not wait
for a GPU host that is not there. The choice and its reason are kept on the job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from jobs import queueing

# Operations that gain from a GPU (Whisper on CUDA, NVENC); the others are cpu work.
GPU_OPERATIONS = frozenset({"transcribe", "transcode", "hls"})


@dataclass(frozen=True)
class QueueChoice:
    queue: str
    reason: str


def served_queues(*, within_seconds: float | None = None) -> set[str]:
    """Queues a worker with a recent heartbeat takes jobs from ("*": a worker takes every queue).

    Read from procrastinate's worker table and the registry the workers write; operations
    shows the same rows on its dashboard.
    """
    seconds = within_seconds or settings.SLIDECAST["MEDIA_GPU_FALLBACK_SECONDS"]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT hosts.queues, hosts.gpu_count
              FROM procrastinate_workers AS workers
              JOIN jobs_workerhost AS hosts ON hosts.worker_id = workers.id
             WHERE workers.last_heartbeat > now() - make_interval(secs => %s)
            """,
            [seconds],
        )
        rows = cursor.fetchall()
    served: set[str] = set()
    for queues, gpu_count in rows:
        # Through Django's connection a json column comes back as its text.
        queues = json.loads(queues) if isinstance(queues, str) else queues
        # A worker on every queue is a gpu worker only where it has a GPU: otherwise GPU
        # work would wait behind its cpu work for no gain.
        served |= set(queues) if queues else ({"*", queueing.GPU} if gpu_count else {"*"})
    return served


def queue_for(operation: str) -> QueueChoice:
    """Return the queue for a new job of this operation, and why."""
    if operation not in GPU_OPERATIONS:
        return QueueChoice(queueing.CPU, "runs on CPU workers")
    served = served_queues()
    if queueing.GPU in served:
        return QueueChoice(queueing.GPU, "a GPU worker serves the gpu queue")
    if not settings.SLIDECAST["MEDIA_GPU_FALLBACK"]:
        return QueueChoice(
            queueing.GPU,
            "no worker serves the gpu queue now; it waits for one "
            "(SLIDECAST_MEDIA_GPU_FALLBACK is off)",
        )
    return QueueChoice(queueing.CPU, "no worker serves the gpu queue now: sent to cpu instead")


def worker_encoders(*, within_seconds: float | None = None) -> dict[str, list[str]] | None:
    """Codec -> encoders over the live workers (what they found at start); None: no worker."""
    seconds = within_seconds or settings.SLIDECAST["MEDIA_GPU_FALLBACK_SECONDS"]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT hosts.encoders
              FROM procrastinate_workers AS workers
              JOIN jobs_workerhost AS hosts ON hosts.worker_id = workers.id
             WHERE workers.last_heartbeat > now() - make_interval(secs => %s)
            """,
            [seconds],
        )
        rows = [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in cursor.fetchall()]
    rows = [row for row in rows if row]
    if not rows:
        return None
    merged: dict[str, list[str]] = {}
    for row in rows:
        for codec, names in row.items():
            merged.setdefault(codec, [])
            merged[codec] += [name for name in names if name not in merged[codec]]
    return merged
