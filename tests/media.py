"""Looking at produced media the way a user's player would."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from media_pipeline.tools import find_ffmpeg


def ffprobe(path: Path) -> dict:
    """Return ffprobe's view of a file: streams (with counted frames) and format."""
    ffprobe_bin = str(Path(find_ffmpeg()).with_name("ffprobe"))
    out = subprocess.run(
        [ffprobe_bin, "-v", "error", "-count_frames", "-show_streams", "-show_format",
         "-of", "json", str(path)],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def strict_decode(path: Path) -> subprocess.CompletedProcess[bytes]:
    """Return ffmpeg's decoding of the whole file, stopped by the first error it finds."""
    return subprocess.run(
        [find_ffmpeg(), "-v", "error", "-err_detect", "explode", "-xerror",
         "-i", str(path), "-f", "null", "-"],
        capture_output=True,
    )  # fmt: skip


SPOKEN_TAKE = (
    "Good morning and welcome. Today I will walk you through the results of the last "
    "quarter, the plans for the next one, and what we learned along the way."
)


def spoken_take(path: Path, *, padding_seconds: float = 0.0) -> Path:
    """Write about eight seconds of a real voice (Piper) to path: a stand-in recording."""
    from media_pipeline.tts import EngineRegistry, NarrationOptions, narrate

    return narrate(
        SPOKEN_TAKE, engine=EngineRegistry().get("piper"), voice="en_US-joe-medium",
        options=NarrationOptions(padding_seconds=padding_seconds), out_wav=path,
    ).wav_path  # fmt: skip
