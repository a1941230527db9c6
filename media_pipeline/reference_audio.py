"""A voice-cloning reference recording, checked and prepared: mono, trimmed, EBU R128 loud.

An upload is decoded by ffmpeg (in the job's folder, with a time limit) to mono PCM at the
cloning engine's rate, then measured before anything else is done with it: too short, too
long, clipped or silent recordings are refused with a message that says which and by how
much. What is kept is trimmed of leading and trailing silence and normalised to -23 LUFS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media_pipeline.audio import read_wav, write_wav
from media_pipeline.errors import PipelineError
from media_pipeline.tools import StopCheck, find_ffmpeg, never_stop, run_program

FULL_SCALE = 32768.0
FRAME_SECONDS = 0.02
EDGE_MARGIN_SECONDS = 0.1


class ReferenceAudioError(PipelineError):
    """A reference recording that cannot make a good voice clone."""

    permanent = True
    code = "invalid_reference_audio"


@dataclass(frozen=True)
class ReferenceLimits:
    min_seconds: float = 6.0
    max_seconds: float = 60.0
    max_file_bytes: int = 50 * 1024 * 1024
    sample_rate: int = 24_000
    # Share of samples at full scale above which the recording counts as clipped.
    max_clipped_share: float = 0.001
    # Quieter than this everywhere, it is silence.
    silence_dbfs: float = -50.0
    timeout_seconds: float = 120.0


@dataclass(frozen=True)
class PreparedReference:
    path: Path
    duration: float
    peak_dbfs: float
    snr_db: float
    loudness_lufs: float


def prepare_reference_audio(
    source: Path,
    out_wav: Path,
    limits: ReferenceLimits = ReferenceLimits(),
    *,
    ffmpeg_binary: str | None = None,
    check: StopCheck = never_stop,
) -> PreparedReference:
    """Return the prepared recording written to out_wav; raise ReferenceAudioError if unfit."""
    size = source.stat().st_size
    if size > limits.max_file_bytes:
        raise ReferenceAudioError(
            f"The recording is {size / 2**20:.0f} MB; the limit is "
            f"{limits.max_file_bytes / 2**20:.0f} MB."
        )
    ffmpeg = find_ffmpeg(ffmpeg_binary)
    decoded = out_wav.with_name("decoded.wav")
    # Decode a little past the longest accepted length: enough to say how long it is.
    run_program(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y", "-i", source,
            "-t", f"{limits.max_seconds * 3:g}", "-vn", "-ac", "1",
            "-ar", str(limits.sample_rate), "-c:a", "pcm_s16le", "-f", "wav", decoded,
        ],
        timeout=limits.timeout_seconds,
        error=ReferenceAudioError,
        what="ffmpeg (reading the recording: use WAV, MP3, M4A or OGG)",
        check=check,
    )  # fmt: skip
    samples, _ = read_wav(decoded)
    if samples.size == 0:
        raise ReferenceAudioError("The recording holds no audio.")
    peak = float(np.max(np.abs(samples.astype(np.int32)))) / FULL_SCALE
    peak_dbfs = _dbfs(peak)
    if peak_dbfs < limits.silence_dbfs:
        raise ReferenceAudioError(
            f"The recording is silent (its loudest moment is {peak_dbfs:.0f} dBFS)."
        )
    clipped = float(np.mean(np.abs(samples.astype(np.int32)) >= FULL_SCALE - 2))
    if clipped > limits.max_clipped_share:
        raise ReferenceAudioError(
            f"The recording is clipped: {clipped:.1%} of it is at full scale. Record it again "
            "with the input level lower."
        )
    start, end = _voiced_span(samples, limits.sample_rate, peak_dbfs, limits.silence_dbfs)
    duration = (end - start) / limits.sample_rate
    if not limits.min_seconds <= duration <= limits.max_seconds:
        length = "too short" if duration < limits.min_seconds else "too long"
        raise ReferenceAudioError(
            f"The recording is {length}: {duration:.1f} s without its leading and trailing "
            f"silence; a reference needs {limits.min_seconds:g} to {limits.max_seconds:g} s."
        )
    check()
    trimmed = out_wav.with_name("trimmed.wav")
    write_wav(trimmed, samples[start:end], limits.sample_rate)
    loudness = _normalise(ffmpeg, trimmed, out_wav, limits, check)
    decoded.unlink(missing_ok=True)
    trimmed.unlink(missing_ok=True)
    return PreparedReference(
        path=out_wav,
        duration=round(duration, 3),
        peak_dbfs=round(peak_dbfs, 1),
        snr_db=round(_snr_db(samples[start:end], limits.sample_rate), 1),
        loudness_lufs=loudness,
    )


def _dbfs(amplitude: float) -> float:
    return 20 * float(np.log10(max(amplitude, 1e-9)))


def _frame_levels(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    frame = max(1, int(sample_rate * FRAME_SECONDS))
    count = samples.size // frame
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame) / FULL_SCALE
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-9))


def _voiced_span(
    samples: np.ndarray, sample_rate: int, peak_dbfs: float, silence_dbfs: float
) -> tuple[int, int]:
    """Return the sample range from the first to the last frame that is not silence."""
    levels = _frame_levels(samples, sample_rate)
    # Relative to the recording's own peak, so a quiet but clean take is not cut away.
    threshold = max(silence_dbfs, peak_dbfs - 45)
    voiced = np.flatnonzero(levels > threshold)
    if voiced.size == 0:
        return 0, 0
    frame = int(sample_rate * FRAME_SECONDS)
    margin = int(sample_rate * EDGE_MARGIN_SECONDS)
    start = max(0, int(voiced[0]) * frame - margin)
    end = min(samples.size, (int(voiced[-1]) + 1) * frame + margin)
    return start, end


def _snr_db(samples: np.ndarray, sample_rate: int) -> float:
    """Estimate signal to noise: loud frames (speech) against the quietest (the room)."""
    levels = _frame_levels(samples, sample_rate)
    if levels.size < 10:
        return 0.0
    return float(np.percentile(levels, 95) - np.percentile(levels, 10))


def _normalise(
    ffmpeg: str, trimmed: Path, out_wav: Path, limits: ReferenceLimits, check: StopCheck
) -> float:
    """Write the EBU R128 normalised recording; return the loudness it had (LUFS)."""
    result = run_program(
        [
            ffmpeg, "-nostdin", "-hide_banner", "-y", "-i", trimmed,
            "-af", "loudnorm=I=-23:TP=-2:LRA=11:print_format=json",
            "-ar", str(limits.sample_rate), "-ac", "1", "-c:a", "pcm_s16le", out_wav,
        ],
        timeout=limits.timeout_seconds,
        error=ReferenceAudioError,
        what="ffmpeg (normalising the loudness)",
        check=check,
    )  # fmt: skip
    report = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    try:
        measured = json.loads(report[report.rindex("{") : report.rindex("}") + 1])
        return round(float(measured["input_i"]), 1)
    except (ValueError, KeyError):
        return float("nan")
