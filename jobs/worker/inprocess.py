"""A procrastinate worker running in a background thread of the current process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta

from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateWorker

from jobs.operations.monitoring import LATE_HEARTBEAT_SECONDS

logger = logging.getLogger("slidecast.worker")


def live_worker_count() -> int:
    """Return how many workers sent a heartbeat recently (procrastinate's workers table)."""
    cutoff = timezone.now() - timedelta(seconds=LATE_HEARTBEAT_SECONDS)
    return ProcrastinateWorker.objects.filter(last_heartbeat__gte=cutoff).count()


@contextlib.contextmanager
def in_process_worker(*, queues: Sequence[str], concurrency: int = 2) -> Iterator[None]:
    """Run a real worker (LISTEN/NOTIFY, heartbeats, retries) until the block exits."""
    started = threading.Event()
    loop = asyncio.new_event_loop()
    worker_task: asyncio.Task | None = None
    failure: list[BaseException] = []

    async def serve() -> None:
        nonlocal worker_task
        # Workers need LISTEN/NOTIFY, which Django's connection cannot do: like the
        # `procrastinate worker` command, use a psycopg pool on the same database.
        with app.replace_connector(app.connector.get_worker_connector()):
            async with app.open_async():
                worker_task = asyncio.current_task()
                started.set()
                await app.run_worker_async(
                    queues=list(queues),
                    concurrency=concurrency,
                    wait=True,
                    install_signal_handlers=False,
                )

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="slidecast-worker", daemon=True)
    thread.start()
    started.wait(timeout=30)
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        if worker_task is not None:
            loop.call_soon_threadsafe(worker_task.cancel)
        thread.join(timeout=60)
