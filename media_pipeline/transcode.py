"""Re-encoding an uploaded video: codec, size, aspect (with a blurred or plain background),
quality, frame rate and burned-in captions, in one ffmpeg run with progress.

The "p" of a resolution is the short side, as phones and video sites count it: 1080p is
1920x1080 landscape and 1080x1920 portrait.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from media_pipeline.encoders import CODECS, EncoderChoice, audio_encoder, choose_encoder
from media_pipeline.errors import InvalidMediaError, MediaProcessingError
from media_pipeline.ffmpeg_run import FfmpegTimeoutError, ProgressCallback, run_ffmpeg
from media_pipeline.frame_rate import frame_rate_argument, frame_rate_from_text
from media_pipeline.probe import SAFE_INPUT_OPTIONS, MediaInfo, read_media
from media_pipeline.tools import StopCheck, never_stop

logger = logging.getLogger("media_pipeline.transcode")

QUALITIES = ("high", "balanced", "small")
ASPECTS = ("source", "16:9", "9:16", "1:1")
HEIGHTS = {"720p": 720, "1080p": 1080, "4k": 2160}
MAX_FRAME_RATE = 60
# Constant-quality level per encoder (CRF; CQ for NVENC; QP 0-255 for rav1e). "balanced" is
# where each encoder's default or common streaming advice lies (x264 23, x265 26, VP9 33 as
# YouTube suggests for 1080p); "high" is visually lossless for slides and talking heads; "small"
# roughly halves the size again with soft but clean detail.
CRF = {
    "libx264": {"high": 18, "balanced": 23, "small": 28},
    "libx265": {"high": 20, "balanced": 26, "small": 30},
    "libvpx-vp9": {"high": 28, "balanced": 33, "small": 38},
    "libsvtav1": {"high": 24, "balanced": 32, "small": 40},
    "libaom-av1": {"high": 24, "balanced": 32, "small": 40},
    "librav1e": {"high": 60, "balanced": 90, "small": 130},
    "h264_nvenc": {"high": 19, "balanced": 24, "small": 29},
    "hevc_nvenc": {"high": 21, "balanced": 27, "small": 31},
    "av1_nvenc": {"high": 26, "balanced": 33, "small": 40},
}
# Speed settings: uploads are re-encoded while a user waits, on a few CPU cores. x264/x265
# "veryfast" are 2-4x faster than "medium" for 5-15 % more bits at the same CRF; SVT-AV1
# preset 8 and libvpx cpu-used 4 sit at the same point of their curves; libaom and rav1e,
# used only where SVT-AV1 is missing, get their fast real-time modes or they'd take hours.
ENCODER_OPTIONS = {
    "libx264": ("-preset", "veryfast"),
    "libx265": ("-preset", "veryfast", "-x265-params", "log-level=error"),
    "libvpx-vp9": ("-b:v", "0", "-deadline", "good", "-cpu-used", "4", "-row-mt", "1"),
    "libsvtav1": ("-preset", "8"),
    "libaom-av1": ("-b:v", "0", "-usage", "realtime", "-cpu-used", "8", "-row-mt", "1"),
    "librav1e": ("-speed", "10"),
    "h264_nvenc": ("-preset", "p4", "-rc", "vbr", "-b:v", "0"),
    "hevc_nvenc": ("-preset", "p4", "-rc", "vbr", "-b:v", "0"),
    "av1_nvenc": ("-preset", "p4", "-rc", "vbr", "-b:v", "0"),
}
_QUALITY_FLAG = {"librav1e": "-qp", "h264_nvenc": "-cq", "hevc_nvenc": "-cq", "av1_nvenc": "-cq"}
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_NAMED_COLOURS = ("black", "white")
_CAPTION_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa")


@dataclass(frozen=True)
class TranscodeSpec:
    codec: str = "h264"
    resolution: str | None = None  # "720p" | "1080p" | "4k" | None: the source's size
    aspect: str = "source"
    background: str = "blur"  # "blur", "#RRGGBB", "black" or "white"
    quality: str = "balanced"
    frame_rate: float | None = None  # None keeps the source's (at most 60)
    audio_bitrate_kbps: int = 128
    allow_hardware: bool = True
    captions: Path | None = None  # SRT or WebVTT, burned into the picture

    def validate(self) -> None:
        """Raise ValueError naming the first field that can't be used."""
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {', '.join(CODECS)}, not {self.codec!r}")
        if self.resolution is not None and self.resolution not in HEIGHTS:
            raise ValueError(
                f"resolution must be one of {', '.join(HEIGHTS)} or None, not {self.resolution!r}"
            )
        if self.aspect not in ASPECTS:
            raise ValueError(f"aspect must be one of {', '.join(ASPECTS)}, not {self.aspect!r}")
        if not (self.background in ("blur", *_NAMED_COLOURS) or _COLOUR.fullmatch(self.background)):
            raise ValueError(
                f"background must be blur, black, white or a colour like #1A2B3C, "
                f"not {self.background!r}"
            )
        if self.quality not in QUALITIES:
            raise ValueError(f"quality must be one of {', '.join(QUALITIES)}, not {self.quality!r}")
        if self.frame_rate is not None:
            frame_rate_from_text(str(self.frame_rate))  # raises ValueError saying why
        if not 32 <= self.audio_bitrate_kbps <= 320:
            raise ValueError(
                f"audio_bitrate_kbps must be from 32 to 320, not {self.audio_bitrate_kbps!r}"
            )
        if self.captions is not None and Path(self.captions).suffix.lower() not in (
            _CAPTION_SUFFIXES
        ):
            raise ValueError(f"captions must be an SRT or WebVTT file, not {self.captions.name!r}")


@dataclass(frozen=True)
class TranscodeResult:
    path: Path
    encoder: str
    hardware: bool
    width: int
    height: int
    duration: float
    size_bytes: int
    codec: str


def output_frame_size(info: MediaInfo, spec: TranscodeSpec) -> tuple[int, int]:
    """Return the output's width and height in pixels (even numbers)."""
    source_width, source_height = _source_size(info)
    short = HEIGHTS[spec.resolution] if spec.resolution else min(source_width, source_height)
    if spec.aspect == "source":
        if spec.resolution is None:
            return max(2, source_width - source_width % 2), max(
                2, source_height - source_height % 2
            )
        scale = short / min(source_width, source_height)
        return _even(source_width * scale), _even(source_height * scale)
    across, down = (int(part) for part in spec.aspect.split(":"))
    if across >= down:
        return _even(short * across / down), _even(short)
    return _even(short), _even(short * down / across)


def transcode(
    source: Path,
    out_dir: Path,
    spec: TranscodeSpec,
    *,
    info: MediaInfo,
    ffmpeg: str | None = None,
    on_progress: ProgressCallback | None = None,
    check: StopCheck = never_stop,
    timeout: float = 3600,
    stem: str = "output",
) -> TranscodeResult:
    """Encode `source` as `spec` says into out_dir/<stem>.mp4 (or .webm for VP9).

    `info` is the source's probe_media() answer. Where NVENC fails at run time (no free
    encoder session, a driver problem), the same encode runs again on the CPU.
    """
    spec.validate()
    _source_size(info)
    if "/" in stem or os.sep in stem or stem.startswith("."):
        raise ValueError(f"stem must be a plain file name, not {stem!r}")
    if spec.captions is not None and not Path(spec.captions).is_file():
        raise ValueError(f"captions file {spec.captions} does not exist")
    choice = choose_encoder(spec.codec, ffmpeg=ffmpeg, allow_hardware=spec.allow_hardware)
    encode = functools.partial(
        _encode, source, out_dir, spec, info=info, ffmpeg=ffmpeg, on_progress=on_progress,
        check=check, timeout=timeout, stem=stem,
    )  # fmt: skip
    try:
        return encode(choice)
    except FfmpegTimeoutError:
        raise
    except MediaProcessingError:
        if not choice.hardware:
            raise
        logger.warning("%s failed; encoding %s on the CPU instead", choice.encoder, spec.codec)
    return encode(choose_encoder(spec.codec, ffmpeg=ffmpeg, allow_hardware=False))


def video_filter(info: MediaInfo, spec: TranscodeSpec) -> str:
    """Return the -filter_complex graph that turns input 0's video into the output's [v]."""
    video = info.video
    assert video is not None  # _source_size refuses audio-only input first
    width, height = output_frame_size(info, spec)
    source_width, source_height = _source_size(info)
    scale = min(width / source_width, height / source_height)
    fit_width, fit_height = (
        min(width, _even(source_width * scale)),
        min(height, _even(source_height * scale)),
    )
    fills = width - fit_width <= 2 and height - fit_height <= 2
    rate = _frame_rate_filter(video.frame_rate, spec.frame_rate)
    tail = f",format=yuv420p{_caption_filter(spec, width, height)}[v]"
    source = f"[0:{video.index}]{rate}"
    if fills:
        return f"{source}scale={width}:{height}:flags=bicubic,setsar=1{tail}"
    x, y = (width - fit_width) // 2 & ~1, (height - fit_height) // 2 & ~1
    front = f"scale={fit_width}:{fit_height}:flags=bicubic,setsar=1"
    if spec.background != "blur":
        colour = spec.background.replace("#", "0x")
        return f"{source}{front},pad={width}:{height}:{x}:{y}:color={colour}{tail}"
    # Blurring a frame 1/8 the size costs 1/64 of the work and looks the same once scaled up.
    small_width, small_height = _even(max(32, width / 8)), _even(max(32, height / 8))
    radius = max(1, min(10, min(small_width, small_height) // 4 - 1))
    back = (
        f"scale={small_width}:{small_height}:force_original_aspect_ratio=increase"
        f":flags=fast_bilinear,crop={small_width}:{small_height},boxblur={radius}:2,"
        f"eq=brightness=-0.08:saturation=0.8,scale={width}:{height}:flags=bilinear,setsar=1"
    )
    return (
        f"{source}split=2[front][back];[back]{back}[blurred];[front]{front}[fitted];"
        f"[blurred][fitted]overlay={x}:{y}{tail}"
    )


def encoder_arguments(choice: EncoderChoice, quality: str) -> list[str]:
    """Return the -c:v and rate-control arguments for an encoder at a quality."""
    flag = _QUALITY_FLAG.get(choice.encoder, "-crf")
    args = ["-c:v", choice.encoder, *ENCODER_OPTIONS.get(choice.encoder, ()), flag,
            str(CRF[choice.encoder][quality]), "-pix_fmt", "yuv420p"]  # fmt: skip
    if choice.codec == "h265":
        args += ["-tag:v", "hvc1"]  # Apple players only play HEVC in MP4 tagged so
    return args


def escape_filter_value(value: str) -> str:
    """Return a filter option value escaped for both levels of ffmpeg's filtergraph syntax."""
    option_level = re.sub(r"([\\':])", r"\\\1", value)
    return re.sub(r"([\\'\[\],;])", r"\\\1", option_level)


def _encode(
    source: Path,
    out_dir: Path,
    spec: TranscodeSpec,
    choice: EncoderChoice,
    *,
    info: MediaInfo,
    ffmpeg: str | None,
    on_progress: ProgressCallback | None,
    check: StopCheck,
    timeout: float,
    stem: str,
) -> TranscodeResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{stem}.{choice.container}"
    partial = out_dir / f".{stem}.{choice.container}.part"
    args: list[str | Path] = [
        *SAFE_INPUT_OPTIONS, "-i", f"file:{source}",
        "-filter_complex", video_filter(info, spec), "-map", "[v]",
        *encoder_arguments(choice, spec.quality),
        *_audio_arguments(info, spec, choice, ffmpeg),
        # Phone videos carry the place they were shot in their metadata: never pass it on.
        "-map_metadata", "-1", "-map_chapters", "-1", "-max_muxing_queue_size", "4096",
    ]  # fmt: skip
    if choice.container == "mp4":
        args += ["-movflags", "+faststart"]
    args += ["-f", choice.container, partial]
    try:
        run_ffmpeg(args, duration=info.duration, on_progress=on_progress, check=check,
                   timeout=timeout, what=f"Encoding the video as {spec.codec.upper()}",
                   ffmpeg=ffmpeg)  # fmt: skip
        os.replace(partial, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    written = read_media(final, ffmpeg=ffmpeg, check=check)
    video = written.video
    return TranscodeResult(
        path=final,
        encoder=choice.encoder,
        hardware=choice.hardware,
        width=video.width if video and video.width else 0,
        height=video.height if video and video.height else 0,
        duration=written.duration,
        size_bytes=final.stat().st_size,
        codec=spec.codec,
    )


def _audio_arguments(
    info: MediaInfo, spec: TranscodeSpec, choice: EncoderChoice, ffmpeg: str | None
) -> Sequence[str]:
    audio = info.audio
    if audio is None:
        return ()
    args = ["-map", f"0:{audio.index}", *audio_encoder(choice.container, ffmpeg),
            "-b:a", f"{spec.audio_bitrate_kbps}k"]  # fmt: skip
    if (audio.channels or 0) > 2:
        args += ["-ac", "2"]  # a talk needs no surround, and Opus needs a layout for more
    if audio.language:
        args += ["-metadata:s:a:0", f"language={audio.language}"]
    return args


def _frame_rate_filter(source_rate: float | None, wanted: float | None) -> str:
    if wanted is not None:
        return f"fps={frame_rate_argument(frame_rate_from_text(str(wanted)))},"
    if source_rate is not None and source_rate > MAX_FRAME_RATE + 0.5:
        return f"fps={MAX_FRAME_RATE},"
    return ""


def _caption_filter(spec: TranscodeSpec, width: int, height: int) -> str:
    if spec.captions is None:
        return ""
    font = max(12, round(min(width, height) * 0.055))
    # Vertical video is watched in apps whose buttons and descriptions cover the bottom
    # fifth of the picture; elsewhere a film-like margin is enough.
    bottom = 0.2 if height > width else 0.07
    side = round(width * 0.06)
    style = ",".join([
        f"PlayResX={width}", f"PlayResY={height}", "FontName=DejaVu Sans", f"FontSize={font}",
        "Bold=1", "PrimaryColour=&H00FFFFFF", "OutlineColour=&H00000000",
        "BackColour=&H80000000", "BorderStyle=1", f"Outline={max(1, round(font * 0.08))}",
        "Shadow=1", "Alignment=2", f"MarginV={round(height * bottom)}", f"MarginL={side}",
        f"MarginR={side}",
    ])  # fmt: skip
    path = escape_filter_value(str(Path(spec.captions).resolve()))
    return f",subtitles=filename={path}:force_style={escape_filter_value(style)}"


def _source_size(info: MediaInfo) -> tuple[int, int]:
    video = info.video
    if video is None or not video.width or not video.height:
        raise InvalidMediaError(
            "This file has no video to re-encode; only a video can be converted."
        )
    return video.width, video.height


def _even(value: float | Fraction) -> int:
    return max(2, int(value / 2 + 0.5) * 2)
