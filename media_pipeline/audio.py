"""WAV helpers: reading, writing, silence, frame-aligned padding, concatenation (16-bit mono)."""

from __future__ import annotations

import contextlib
import math
import wave
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from media_pipeline.errors import VideoAssemblyError


def silence(seconds: float, sample_rate: int) -> np.ndarray:
    return np.zeros(int(round(seconds * sample_rate)), dtype=np.int16)


def frame_aligned_length(samples: int, sample_rate: int, fps: int | Fraction) -> int:
    """Return the sample count >= samples nearest to a whole number of video frames.

    At NTSC rates a frame is not a whole number of samples (22050 Hz at 30000/1001 fps:
    735.735), so the length is the nearest sample; the arithmetic is exact, so a slide's
    audio never comes out a frame short or long from float rounding.
    """
    rate = Fraction(fps)
    frames = max(1, math.ceil(samples * rate / sample_rate))
    return round(frames * sample_rate / rate)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Return a 16-bit mono WAV's samples and its sample rate."""
    with wave.open(str(path), "rb") as reader:
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
        return samples, reader.getframerate()


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    with wav_writer(path, sample_rate) as out:
        out.writeframes(samples.astype(np.int16).tobytes())


@contextlib.contextmanager
def wav_writer(path: Path, sample_rate: int) -> Iterator[wave.Wave_write]:
    """Yield a 16-bit mono WAV open for writing, for audio written a piece at a time."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        yield out


def wav_duration(path: Path) -> float:
    return float(exact_wav_duration(path))


def exact_wav_duration(path: Path) -> Fraction:
    """Return a WAV's duration in seconds as an exact fraction (samples / sample rate)."""
    with wave.open(str(path), "rb") as wav:
        return Fraction(wav.getnframes(), wav.getframerate())


def concatenate_wavs(paths: Sequence[Path], out: Path) -> float:
    """Write the WAVs one after another into out and return its duration in seconds."""
    params = None
    with wave.open(str(out), "wb") as writer:
        for path in paths:
            with wave.open(str(path), "rb") as reader:
                current = (reader.getnchannels(), reader.getsampwidth(), reader.getframerate())
                if params is None:
                    params = current
                    writer.setnchannels(current[0])
                    writer.setsampwidth(current[1])
                    writer.setframerate(current[2])
                elif current != params:
                    raise VideoAssemblyError(
                        f"The narration of {path.name} has a different audio format "
                        f"({current}) from the others ({params})."
                    )
                writer.writeframes(reader.readframes(reader.getnframes()))
    if params is None:
        raise VideoAssemblyError("There is no narration audio to assemble.")
    return wav_duration(out)
