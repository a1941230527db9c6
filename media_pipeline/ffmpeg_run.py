"""Running ffmpeg and ffprobe under supervision: progress, stop checks, time limits, cleanup.

Every program starts in a session of its own and is killed as a whole process group when
the caller's stop check raises, when it runs out of time, or when it has finished, so no
ffmpeg outlives the step that started it. Output pipes are drained by threads: a program
that writes a lot to stderr can never block on a full pipe while we wait for it.
"""

from __future__ import annotations

import collections
import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO

from media_pipeline.errors import MediaProcessingError, PipelineError, ToolMissingError

# The registry tools.kill_running_programs() empties when a worker exits hard: ffmpeg runs
# started here must be in it too, so its private parts are shared rather than copied.
from media_pipeline.tools import (
    StopCheck,
    _kill_leftovers,
    _running,
    _running_lock,
    find_ffmpeg,
    never_stop,
)

logger = logging.getLogger("media_pipeline.ffmpeg_run")

# Fraction done, 0.0..1.0.
ProgressCallback = Callable[[float], None]

# How often the stop check runs, and the least time between two progress reports: a
# callback that writes to a database must not be called for every ffmpeg status line.
_POLL_SECONDS = 0.1
_CHECK_SECONDS = 0.25
_REPORT_SECONDS = 0.25
_STDERR_TAIL_LINES = 60
_LAST_REPORT_BEFORE_END = 0.99


class FfmpegTimeoutError(MediaProcessingError):
    """ffmpeg ran past its time limit: running it again (on other hardware) would not help."""


def run_ffmpeg(
    args: Sequence[str | Path],
    *,
    duration: float | None,
    on_progress: ProgressCallback | None = None,
    check: StopCheck = never_stop,
    timeout: float,
    what: str,
    ffmpeg: str | None = None,
) -> None:
    """Run ffmpeg with `args`, reporting the fraction done of an output `duration` seconds long.

    `on_progress` is called in the caller's thread, with values that never decrease, at
    most about four times a second, and with 1.0 once ffmpeg succeeded. `check` is called
    at least every quarter second; when it raises, ffmpeg is killed and the exception
    propagates. A failure raises MediaProcessingError naming `what`; ffmpeg's own words,
    which name temporary paths, go to the log only.
    """
    command = [
        find_ffmpeg(ffmpeg), "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1",
        "-nostats", *(str(arg) for arg in args),
    ]  # fmt: skip
    state = _ProgressState()
    process = _start(command, what)
    stdout_reader = _reader(process.stdout, state.feed)
    stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
    stderr_reader = _reader(process.stderr, stderr_tail.append)
    reported = -1.0
    last_report = 0.0
    try:
        deadline = time.monotonic() + timeout
        last_check = 0.0
        while True:
            now = time.monotonic()
            if now - last_check >= _CHECK_SECONDS:
                check()
                last_check = now
            if process.poll() is not None:
                break
            if now >= deadline:
                _stop(process)
                raise FfmpegTimeoutError(
                    f"{what} took longer than {timeout:g} seconds and was stopped."
                )
            # 1.0 only once ffmpeg succeeded: after its last frame it may still spend long
            # on the file (moving an MP4's index to the front), or fail.
            fraction = state.fraction(duration)
            fraction = None if fraction is None else min(fraction, _LAST_REPORT_BEFORE_END)
            if (
                on_progress is not None
                and fraction is not None
                and fraction > reported
                and now - last_report >= _REPORT_SECONDS
            ):
                on_progress(fraction)
                reported, last_report = fraction, now
            time.sleep(_POLL_SECONDS)
    except BaseException:
        _stop(process)
        raise
    finally:
        _kill_leftovers(process)
        with _running_lock:
            _running.discard(process)
        _finish_readers(process, stdout_reader, stderr_reader)
    if process.returncode != 0:
        logger.warning(
            "%s: ffmpeg exited with status %s: %s",
            what, process.returncode, "".join(stderr_tail).strip()[-3000:],
        )  # fmt: skip
        raise MediaProcessingError(f"{what} failed (ffmpeg exit status {process.returncode}).")
    if on_progress is not None:
        on_progress(1.0)


def run_capture(
    command: Sequence[str | Path],
    *,
    timeout: float,
    what: str,
    error: type[PipelineError] = MediaProcessingError,
    check: StopCheck = never_stop,
) -> subprocess.CompletedProcess[bytes]:
    """Run a program to its end and return its status and output, whatever the status.

    Unlike tools.run_program, a non-zero exit is the caller's to judge (ffprobe's refusal
    of a file is an answer, not a failure). Running past `timeout` raises `error`; a stop
    check that raises kills the program and propagates.
    """
    args = [str(arg) for arg in command]
    process = _start(args, what)
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    readers = [_reader(process.stdout, stdout.append, text=False),
               _reader(process.stderr, stderr.append, text=False)]  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while True:
            check()
            try:
                process.wait(timeout=max(0.0, min(_CHECK_SECONDS, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    _stop(process)
                    raise error(
                        f"{what} took longer than {timeout:g} seconds and was stopped."
                    ) from None
    except BaseException:
        _stop(process)
        raise
    finally:
        _kill_leftovers(process)
        with _running_lock:
            _running.discard(process)
        _finish_readers(process, *readers)
    return subprocess.CompletedProcess(args, process.returncode, b"".join(stdout),
                                       b"".join(stderr))  # fmt: skip


class _ProgressState:
    """What ffmpeg's -progress lines said so far; written by the reader thread."""

    def __init__(self) -> None:
        self.out_seconds: float | None = None
        self.ended = False

    def feed(self, line: str) -> None:
        key, _, value = line.strip().partition("=")
        seconds = _progress_seconds(key, value.strip())
        if seconds is not None:
            self.out_seconds = max(seconds, self.out_seconds or 0.0)
        elif key == "progress" and value.strip() == "end":
            self.ended = True

    def fraction(self, duration: float | None) -> float | None:
        if self.ended:
            return 1.0
        if self.out_seconds is None or not duration or duration <= 0:
            return None
        return min(1.0, max(0.0, self.out_seconds / duration))


def last_out_time(progress_text: str) -> float | None:
    """Return the last output time in a finished run's -progress text, in seconds."""
    times = []
    for line in progress_text.splitlines():
        key, _, value = line.strip().partition("=")
        seconds = _progress_seconds(key, value.strip())
        if seconds is not None:
            times.append(seconds)
    return max(times) if times else None


def _progress_seconds(key: str, value: str) -> float | None:
    """Return the output time a -progress line gives, or None for other lines and N/A."""
    try:
        # out_time_ms is in microseconds too: a long-standing ffmpeg naming mistake.
        if key in ("out_time_us", "out_time_ms"):
            return int(value) / 1_000_000
        if key == "out_time":
            sign = -1 if value.startswith("-") else 1
            hours, minutes, seconds = value.lstrip("-").split(":")
            return sign * (int(hours) * 3600 + int(minutes) * 60 + float(seconds))
    except ValueError:
        return None
    return None


def _start(command: Sequence[str], what: str) -> subprocess.Popen[bytes]:
    logger.debug("running %s", " ".join(command))
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ToolMissingError(f"{what} could not start: {command[0]} is not installed.") from exc
    with _running_lock:
        _running.add(process)
    return process


def _reader(stream: IO[bytes] | None, sink: Callable, *, text: bool = True) -> threading.Thread:
    def drain(lines: Iterable[bytes]) -> None:
        for line in lines:
            sink(line.decode("utf-8", "replace") if text else line)

    thread = threading.Thread(target=drain, args=(stream or (),), daemon=True)
    thread.start()
    return thread


def _finish_readers(process: subprocess.Popen[bytes], *readers: threading.Thread) -> None:
    # A descendant that left the group could hold a pipe open: do not wait for it forever.
    for reader in readers:
        reader.join(timeout=5)
    if any(reader.is_alive() for reader in readers):
        return
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill the program's whole process group and reap it, so no zombie stays behind."""
    _kill_leftovers(process)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        logger.warning("process %s did not exit after SIGKILL", process.pid)
