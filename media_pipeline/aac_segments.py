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


def pad_to_blocks(source: Path, out: Path) -> tuple[int, bool]:
    """Copy a 16-bit mono WAV padded with silence to whole blocks.

    Returns the sample count and whether its last block is silent (it can be joined).
    """
    with wave.open(str(source), "rb") as reader:
        rate, frames = reader.getframerate(), reader.getnframes()
        if reader.getnchannels() != 1 or reader.getsampwidth() != 2:
            raise VideoAssemblyError(f"{source.name} is not 16-bit mono audio.")
        data = reader.readframes(frames)
    padded = -(-frames // BLOCK_SAMPLES) * BLOCK_SAMPLES
    samples = np.frombuffer(data, dtype=np.int16)
    silent_tail = padded - frames + _trailing_zeros(samples)
    with wave.open(str(out), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(data + bytes(2 * (padded - frames)))
    return padded, silent_tail >= BLOCK_SAMPLES


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


def adts_frames(data: bytes) -> list[bytes]:
    """Split an ADTS stream into its frames (header included)."""
    frames, position = [], 0
    while position < len(data):
        header = data[position : position + 7]
        if len(header) < 7 or (header[0] << 4 | header[1] >> 4) != _ADTS_SYNC:
            raise VideoAssemblyError("The encoder wrote an AAC stream that could not be read.")
        length = (header[3] & 0x03) << 11 | header[4] << 3 | header[5] >> 5
        if length < 7 or position + length > len(data):
            raise VideoAssemblyError("The encoder wrote a truncated AAC frame.")
        frames.append(data[position : position + length])
        position += length
    return frames


def join_segments(segments: Sequence[bytes], block_counts: Sequence[int], out: Path) -> None:
    """Write the slides' AAC one after another, each but the last without its flush frame."""
    with out.open("wb") as stream:
        for index, (segment, blocks) in enumerate(zip(segments, block_counts, strict=True)):
            frames = adts_frames(segment)
            if len(frames) != blocks + 1:
                raise VideoAssemblyError(
                    f"The encoder wrote {len(frames)} AAC frames for {blocks} blocks of audio."
                )
            stream.write(b"".join(frames if index == len(segments) - 1 else frames[:-1]))
