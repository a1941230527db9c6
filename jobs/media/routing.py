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


def _live_hosts(within_seconds: float | None) -> list[tuple[list, int, dict]]:
    """(queues, GPU count, encoders) of each worker with a recent heartbeat.

    Read from procrastinate's worker table and the registry the workers write (operations
    shows the same rows on its dashboard); a json column comes back as its text here.
    """
    seconds = within_seconds or settings.SLIDECAST["MEDIA_GPU_FALLBACK_SECONDS"]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT hosts.queues, hosts.gpu_count, hosts.encoders
              FROM procrastinate_workers AS workers
              JOIN jobs_workerhost AS hosts ON hosts.worker_id = workers.id
             WHERE workers.last_heartbeat > now() - make_interval(secs => %s)
            """,
            [seconds],
        )
        rows = cursor.fetchall()

    def decoded(value):
        return json.loads(value) if isinstance(value, str) else value

    return [(decoded(queues), gpus, decoded(encoders)) for queues, gpus, encoders in rows]


def served_queues(*, within_seconds: float | None = None) -> set[str]:
    """Queues a worker with a recent heartbeat takes jobs from ("*": a worker takes every queue)."""
    served: set[str] = set()
    for queues, gpu_count, _ in _live_hosts(within_seconds):
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
    merged: dict[str, list[str]] = {}
    for _, _, encoders in _live_hosts(within_seconds):
        for codec, names in (encoders or {}).items():
            known = merged.setdefault(codec, [])
            known += [name for name in names if name not in known]
    return merged or None
