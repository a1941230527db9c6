"""The narration track encoded slide by slide, so unchanged slides' AAC can be reused.

AAC codes audio in blocks of 1024 samples, each frame overlapping its neighbours; an
encoder run on its own starts with one block of silence (its priming) and ends with one
frame of flush. Slides are joined without a seam when every slide's audio is a whole
number of blocks and ends in at least one block of silence: each slide is encoded on its
own, the last (flush) frame of every slide but the last is dropped, and the frames are
written one after another. The frame that follows a dropped one starts from silence,
which is exactly what was there, so decoding the joined frames gives the whole track as
if it had been encoded at once (measured: the same length to the sample, the same error
as one encode). The track keeps one block of priming at its start, which the MP4's edit
list skips (see `priming_seconds`).

A slide's audio is padded with silence to whole blocks (at most 1023 samples, 46 ms at
22.05 kHz), so the video shows each slide that much longer; where a slide ends in less than
a block of silence (no pause after its narration), the track is encoded at once instead.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from media_pipeline.errors import VideoAssemblyError
from media_pipeline.tools import StopCheck, never_stop, run_program

BLOCK_SAMPLES = 1024
# ffmpeg's native AAC encoder delays its output by one block.
PRIMING_SAMPLES = 1024
_ADTS_SYNC = 0xFFF


def block_layout(source: Path) -> tuple[int, bool]:
    """Return a 16-bit mono WAV's length padded to whole blocks, and whether it joins.

    It joins when its last block, padding included, is silent. Only the tail is read.
    """
    with wave.open(str(source), "rb") as reader:
        frames = reader.getnframes()
        if reader.getnchannels() != 1 or reader.getsampwidth() != 2:
            raise VideoAssemblyError(f"{source.name} is not 16-bit mono audio.")
        tail = min(frames, BLOCK_SAMPLES)
        reader.setpos(frames - tail)
        samples = np.frombuffer(reader.readframes(tail), dtype=np.int16)
    padded = -(-frames // BLOCK_SAMPLES) * BLOCK_SAMPLES
    silent_tail = padded - frames + _trailing_zeros(samples)
    return padded, silent_tail >= BLOCK_SAMPLES


def write_padded(source: Path, out: Path, samples: int) -> Path:
    """Copy a WAV to `out` with silence added up to `samples` (from block_layout)."""
    with wave.open(str(source), "rb") as reader:
        rate, frames = reader.getframerate(), reader.getnframes()
        data = reader.readframes(frames)
    with wave.open(str(out), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(data + bytes(2 * (samples - frames)))
    return out


def _trailing_zeros(samples: np.ndarray) -> int:
    nonzero = np.flatnonzero(samples)
    return samples.size if nonzero.size == 0 else samples.size - 1 - int(nonzero[-1])


def priming_seconds(sample_rate: int) -> Fraction:
    """How far the joined track's first sample lies before the video's first frame."""
    return Fraction(PRIMING_SAMPLES, sample_rate)


def encode_segment(
    ffmpeg: str, wav: Path, out: Path, *, bitrate: str, timeout: float,
    check: StopCheck = never_stop,
) -> bytes:  # fmt: skip
    """Encode one slide's padded WAV to AAC frames (ADTS) and return them."""
    run_program(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y", "-i", wav,
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", bitrate, "-f", "adts", out,
        ],
        timeout=timeout,
        error=VideoAssemblyError,
        what="ffmpeg (encoding a slide's narration)",
        check=check,
    )  # fmt: skip
    data = out.read_bytes()
    out.unlink()
    return data


def adts_frame_starts(data: bytes) -> list[int]:
    """Return where each frame of an ADTS stream starts (at its header)."""
    starts, position, end = [], 0, len(data)
    while position < end:
        if position + 7 > end or (data[position] << 4 | data[position + 1] >> 4) != _ADTS_SYNC:
            raise VideoAssemblyError("The encoder wrote an AAC stream that could not be read.")
        length = (
            (data[position + 3] & 0x03) << 11 | data[position + 4] << 3 | data[position + 5] >> 5
        )
        if length < 7 or position + length > end:
            raise VideoAssemblyError("The encoder wrote a truncated AAC frame.")
        starts.append(position)
        position += length
    return starts


def join_segments(segments: Sequence[bytes], block_counts: Sequence[int], out: Path) -> None:
    """Write the slides' AAC one after another, each but the last without its flush frame."""
    with out.open("wb") as stream:
        for index, (segment, blocks) in enumerate(zip(segments, block_counts, strict=True)):
            starts = adts_frame_starts(segment)
            if len(starts) != blocks + 1:
                raise VideoAssemblyError(
                    f"The encoder wrote {len(starts)} AAC frames for {blocks} blocks of audio."
                )
            last = index == len(segments) - 1
            stream.write(memoryview(segment)[: len(segment) if last else starts[-1]])
