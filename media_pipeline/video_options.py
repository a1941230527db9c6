"""How a slideshow video is encoded: size, frame rate, GOP, x264 and AAC settings."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from media_pipeline.frame_rate import exact_frame_rate
from media_pipeline.tools import usable_cores


@dataclass(frozen=True)
class VideoOptions:
    width: int = 1920
    height: int = 1080
    # Exact: 30000/1001 (NTSC "29.97") is Fraction(30000, 1001); an int is taken as is.
    fps: Fraction | int = Fraction(25)
    # A keyframe every two seconds: what streaming services use, and seeking stays instant.
    gop_seconds: float = 2.0
    x264_preset: str = "veryfast"
    crf: int = 20
    # Speech needs no more; the native coder at twice the time gives no audible gain.
    audio_bitrate: str = "96k"
    # None keeps the narration's own rate (Piper: 22.05 kHz); resampling adds nothing.
    audio_sample_rate: int | None = None
    timeout_seconds: float = 900
    ffmpeg_binary: str | None = None
    parallel_encoders: int = usable_cores()
    # Write repeated frames as copies of the keyframe; False has x264 encode every frame:
    # 4-8x slower at 1920x1080 (docs/benchmarks.md), what happens anyway where copies are
    # not possible.
    skip_frames: bool = True

    # ISO 639-2 code of the narration's language (eng, deu), written on the audio track.
    audio_language: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", exact_frame_rate(self.fps))
