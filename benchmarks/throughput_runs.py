"""What both halves of benchmarks/queue_throughput.py share: a run's result, worker processes."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import psutil

from benchmarks.django_setup import REPO

WARM_UP_JOBS = 50
READY_TIMEOUT = 60.0
DRAIN_TIMEOUT = 600.0


@dataclass
class Run:
    drain_rate: float  # jobs/s, from the first job's start to the last job's finish
    drain_seconds: float  # from the enqueue call to the last job's finish
    drain: list[float]  # each job's pickup: enqueue call to start, seconds
    idle: list[float] = field(default_factory=list)  # pickups of single jobs, seconds
    idle_wake: list[float] = field(default_factory=list)  # ... from the enqueue call's return
    worker_cpu: float | None = None  # CPU ms per job in the drain: worker processes
    server_cpu: float | None = None  # ... and the queue's server (PostgreSQL, Redis)


class CpuMeter:
    """CPU time that the workers (children included) and the queue's server use in a block."""

    def __init__(self, worker_pids: Sequence[int], server_pid: int | None) -> None:
        self._workers = [psutil.Process(pid) for pid in worker_pids]
        self._server = _process_or_none(server_pid)
        self.worker = self.server = 0.0  # seconds, once the block has ended

    def __enter__(self) -> CpuMeter:
        self._started = self._read()
        return self

    def __exit__(self, *exc_info) -> None:
        worker, server = self._read()
        self.worker, self.server = worker - self._started[0], server - self._started[1]

    def per_job_ms(self, jobs: int) -> tuple[float, float | None]:
        server = self.server / jobs * 1000 if self._server else None
        return self.worker / jobs * 1000, server

    def _read(self) -> tuple[float, float]:
        server = [self._server] if self._server else []
        return _cpu_seconds(self._workers), _cpu_seconds(server)


def _process_or_none(pid: int | None) -> psutil.Process | None:
    try:
        return psutil.Process(pid) if pid else None
    except psutil.Error:
        return None  # a server on another host: its CPU is not measured


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            for each in (process, *process.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    times = each.cpu_times()
                    total += times.user + times.system
    return total


@contextlib.contextmanager
def worker_processes(
    commands: Sequence[Sequence[str]], *, ready: Callable[[], bool], name: str
) -> Iterator[list[int]]:
    """Start the workers, wait until `ready()`, yield their pids, stop them (SIGTERM) after.

    Raises SystemExit with the workers' output when one exits or they are not ready in time.
    """
    with tempfile.TemporaryFile() as log:
        workers = [
            subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            for command in commands
        ]
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while not ready():
                if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-3000:]
                    raise SystemExit(f"{name} workers did not start:\n{tail}")
                time.sleep(0.1)
            time.sleep(1)  # a fresh worker has its own start-up work (periodic tasks, pools)
            yield [worker.pid for worker in workers]
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
