"""Reading an uploaded audio or video file with ffprobe, and refusing what Slidecast can't use.

probe_media() answers with a MediaInfo or an InvalidMediaError whose message tells the user
what is wrong with their file: empty, too big, too long, too large a picture, a still image,
not media at all, or cut short. Cut-short files are found cheaply: ffprobe's own complaints,
the WAV header's promised length, and decoding only the last two seconds.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from media_pipeline.errors import InvalidMediaError, ToolMissingError
from media_pipeline.ffmpeg_run import last_out_time, run_capture
from media_pipeline.tools import StopCheck, find_ffmpeg, never_stop
from media_pipeline.units import format_bytes, format_duration

# Input options for every ffmpeg/ffprobe run on an upload: a file may only read itself, never
# make ffmpeg fetch URLs or open other files (HLS and concat playlists, "subfile:" tricks).
SAFE_INPUT_OPTIONS = ("-protocol_whitelist", "file")

_IMAGE_CODECS = {"png", "mjpeg", "jpeg2000", "bmp", "gif", "webp", "tiff", "jpegls", "qoi"}
_PLAYLIST_FORMATS = {"hls", "concat", "dash", "ffconcat", "tee"}
# What ffmpeg says when a file ends before its own headers say it should.
_CUT_SHORT = re.compile(
    r"partial file|moov atom not found|invalid data found|invalid nal unit size|"
    r"error splitting the input|truncat|unexpected end|end of file|packet too small|"
    r"invalid pcm packet|incomplete frame|corrupt",
    re.IGNORECASE,
)
_TAIL_SECONDS = 2.0
# Decoding may stop this much before the promised end without the file being cut short:
# the last frame's length, audio priming and container rounding.
_TAIL_TOLERANCE_SECONDS = 0.5
_GB = 1024**3
_NOT_MEDIA = "{} is not an audio or video file Slidecast can read."
_CUT_SHORT_MESSAGE = (
    "{} is incomplete: it ends early, probably cut off while uploading or copying. "
    "Upload the whole file again."
)


@dataclass(frozen=True)
class ProbeLimits:
    max_bytes: int = 2 * _GB
    max_duration_seconds: float = 4 * 3600
    # Either orientation: a 4320x7680 portrait video passes too.
    max_width: int = 7680
    max_height: int = 4320
    timeout_seconds: float = 60


@dataclass(frozen=True)
class StreamInfo:
    index: int
    kind: str  # "video" | "audio" | "subtitle" | "data" | "attachment"
    codec: str
    # As displayed: rotation (phones) and non-square pixels applied, so 1080x1920 portrait.
    width: int | None
    height: int | None
    frame_rate: float | None
    sample_rate: int | None
    channels: int | None
    language: str  # ISO 639-2 from the file's tags, "" when unknown
    duration: float | None
    # Cover art in a music file: a video stream of one picture, not a video.
    attached_picture: bool = False


@dataclass(frozen=True)
class MediaInfo:
    format_name: str
    duration: float
    size_bytes: int
    bit_rate: int | None
    streams: tuple[StreamInfo, ...]

    @property
    def video(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "video" and not s.attached_picture), None)

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "audio"), None)

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary, for storing on a job."""
        fields = ("format_name", "duration", "size_bytes", "bit_rate", "has_video", "has_audio")
        summary = {name: getattr(self, name) for name in fields}
        return {**summary, "streams": [asdict(stream) for stream in self.streams]}


def ffprobe_path(ffmpeg: str | None = None) -> str:
    """Return the ffprobe that sits next to the ffmpeg in use (or the system one)."""
    beside = Path(find_ffmpeg(ffmpeg)).with_name("ffprobe")
    if beside.is_file():
        return str(beside)
    if found := shutil.which("ffprobe"):
        return found
    raise ToolMissingError(
        "ffprobe was not found next to ffmpeg. Install ffmpeg (apt-get install ffmpeg) or "
        "set SLIDECAST_FFMPEG_BINARY to an ffmpeg that has ffprobe beside it."
    )


def probe_media(
    path: Path,
    *,
    limits: ProbeLimits = ProbeLimits(),  # noqa: B008 - frozen, so sharing it is safe
    ffmpeg: str | None = None,
    check: StopCheck = never_stop,
    name: str = "",
) -> MediaInfo:
    """Return what the file holds, or raise InvalidMediaError saying why it can't be used.

    `name` is the file's name as the user knows it, used in messages.
    """
    label = name or path.name
    size = path.stat().st_size
    if size == 0:
        raise InvalidMediaError(f"{label} is empty.")
    if size > limits.max_bytes:
        raise InvalidMediaError(
            f"{label} is {format_bytes(size, up=True)}; the limit is "
            f"{format_bytes(limits.max_bytes)} (SLIDECAST_MEDIA_MAX_MB)."
        )
    check()
    data = _read_probe(path, label=label, limits=limits, ffmpeg=ffmpeg, check=check)
    info = parse_probe(data, size_bytes=size)
    _refuse_unusable(info, data, label=label, limits=limits)
    if _wav_cut_short(path, info.format_name, size):
        raise InvalidMediaError(_CUT_SHORT_MESSAGE.format(label))
    _check_ending(path, info, label=label, limits=limits, ffmpeg=ffmpeg, check=check)
    return info


def read_media(
    path: Path, *, ffmpeg: str | None = None, check: StopCheck = never_stop, timeout: float = 60
) -> MediaInfo:
    """Return what a file Slidecast wrote itself holds, without the checks for uploads."""
    data = _read_probe(path, label=path.name, limits=ProbeLimits(timeout_seconds=timeout),
                       ffmpeg=ffmpeg, check=check)  # fmt: skip
    return parse_probe(data, size_bytes=path.stat().st_size)


def parse_probe(data: dict[str, Any], *, size_bytes: int) -> MediaInfo:
    """Return the MediaInfo for ffprobe's -show_format -show_streams JSON."""
    fmt = data.get("format") or {}
    streams = tuple(_stream_info(stream) for stream in data.get("streams") or ())
    duration = _float(fmt.get("duration"))
    if duration is None:
        durations = [s.duration for s in streams if s.duration]
        duration = max(durations) if durations else 0.0
    return MediaInfo(
        format_name=str(fmt.get("format_name") or "unknown"),
        duration=duration,
        size_bytes=size_bytes,
        bit_rate=_int(fmt.get("bit_rate")),
        streams=streams,
    )


def parse_frame_rate(text: str | None) -> float | None:
    """Return a rate written "30000/1001" or "25" as a float; None for "0/0" and the like."""
    if not text:
        return None
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return float(rate) if rate > 0 else None


def _read_probe(
    path: Path, *, label: str, limits: ProbeLimits, ffmpeg: str | None, check: StopCheck
) -> dict[str, Any]:
    result = run_capture(
        [ffprobe_path(ffmpeg), "-hide_banner", "-v", "error", *SAFE_INPUT_OPTIONS,
         "-show_format", "-show_streams", "-of", "json", f"file:{path}"],
        timeout=limits.timeout_seconds, what=f"Reading {label}", error=InvalidMediaError,
        check=check,
    )  # fmt: skip
    complaints = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0:
        # ffprobe picks the MP4 reader by the file's name: any file called .mp4 without an
        # index gets "moov atom not found". Only one that starts as an MP4 was cut short.
        cut = re.search("moov atom not found|partial file", complaints, re.IGNORECASE)
        if cut and _starts_as_iso_media(path):
            raise InvalidMediaError(_CUT_SHORT_MESSAGE.format(label))
        raise InvalidMediaError(_NOT_MEDIA.format(label))
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise InvalidMediaError(_NOT_MEDIA.format(label)) from None
    if not data.get("format"):
        raise InvalidMediaError(_NOT_MEDIA.format(label))
    if _CUT_SHORT.search(complaints):
        raise InvalidMediaError(_CUT_SHORT_MESSAGE.format(label))
    return data


def _starts_as_iso_media(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(12)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def _refuse_unusable(
    info: MediaInfo, data: dict[str, Any], *, label: str, limits: ProbeLimits
) -> None:
    formats = set(info.format_name.split(","))
    if formats & _PLAYLIST_FORMATS:
        raise InvalidMediaError(f"{label} is a playlist, not an audio or video file.")
    if (
        "image2" in formats
        or any(f.endswith("_pipe") for f in formats)
        or _single_picture(info, data)
    ):
        raise InvalidMediaError(f"{label} is a still image, not audio or video.")
    if not info.has_video and not info.has_audio:
        raise InvalidMediaError(f"{label} has no audio or video in it.")
    if info.duration <= 0:
        raise InvalidMediaError(f"{label} does not say how long it is, so Slidecast can't use it.")
    if info.duration > limits.max_duration_seconds:
        raise InvalidMediaError(
            f"{label} is {format_duration(info.duration, up=True)} long; the limit is "
            f"{format_duration(limits.max_duration_seconds)} "
            "(SLIDECAST_MEDIA_MAX_DURATION_SECONDS)."
        )
    video = info.video
    if video and video.width and video.height:
        longest, shortest = max(video.width, video.height), min(video.width, video.height)
        if longest > max(limits.max_width, limits.max_height) or shortest > min(
            limits.max_width, limits.max_height
        ):
            raise InvalidMediaError(
                f"{label} is a {video.width}×{video.height} video; the largest picture "
                f"Slidecast takes is {limits.max_width}×{limits.max_height}."
            )


def _single_picture(info: MediaInfo, data: dict[str, Any]) -> bool:
    video = info.video
    if info.has_audio or video is None or video.codec not in _IMAGE_CODECS:
        return False
    raw = next((s for s in data.get("streams", ()) if s.get("index") == video.index), {})
    return str(raw.get("nb_frames", "")) in ("", "1") and (info.duration or 0) < 0.5


def _check_ending(
    path: Path,
    info: MediaInfo,
    *,
    label: str,
    limits: ProbeLimits,
    ffmpeg: str | None,
    check: StopCheck,
) -> None:
    """Decode the last seconds: a file cut short fails there or ends well before its promise."""
    start = max(0.0, info.duration - _TAIL_SECONDS)
    expected = info.duration - start
    result = run_capture(
        [find_ffmpeg(ffmpeg), "-hide_banner", "-nostdin", "-v", "error", *SAFE_INPUT_OPTIONS,
         "-ss", f"{start:.3f}", "-i", f"file:{path}", "-t", f"{_TAIL_SECONDS:g}",
         "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
        timeout=limits.timeout_seconds, what=f"Reading {label}", error=InvalidMediaError,
        check=check,
    )  # fmt: skip
    complaints = result.stderr.decode("utf-8", "replace")
    decoded = last_out_time(result.stdout.decode("utf-8", "replace"))
    short = decoded is None or decoded < expected - _TAIL_TOLERANCE_SECONDS
    if result.returncode != 0 or _CUT_SHORT.search(complaints) or short:
        raise InvalidMediaError(_CUT_SHORT_MESSAGE.format(label))


def _wav_cut_short(path: Path, format_name: str, size: int) -> bool:
    """Return whether a WAV's data chunk promises more bytes than the file has.

    ffprobe takes a WAV's length from the file size, so a cut-off WAV looks whole to it.
    """
    if format_name != "wav":
        return False
    with path.open("rb") as wav:
        if wav.read(12)[8:12] != b"WAVE":
            return False
        position = 12
        while position + 8 <= size:
            wav.seek(position)
            chunk_id, chunk_size = struct.unpack("<4sI", wav.read(8))
            if chunk_id == b"data":
                # 0 and 0xFFFFFFFF: written while streaming, the length was never known.
                return chunk_size not in (0, 0xFFFFFFFF) and position + 8 + chunk_size > size
            position += 8 + chunk_size + (chunk_size & 1)
    return False


def _stream_info(stream: dict[str, Any]) -> StreamInfo:
    kind = stream.get("codec_type") or "data"
    if kind not in ("video", "audio", "subtitle", "data", "attachment"):
        kind = "data"
    width, height = _display_size(stream) if kind == "video" else (None, None)
    tags = {str(key).lower(): value for key, value in (stream.get("tags") or {}).items()}
    language = str(tags.get("language") or "")
    is_audio = kind == "audio"
    return StreamInfo(
        index=int(stream.get("index", 0)),
        kind=kind,
        codec=str(stream.get("codec_name") or "unknown"),
        width=width,
        height=height,
        frame_rate=_frame_rate(stream) if kind == "video" else None,
        sample_rate=_int(stream.get("sample_rate")) if is_audio else None,
        channels=_int(stream.get("channels")) if is_audio else None,
        language="" if language == "und" else language,
        duration=_float(stream.get("duration")) or _clock_seconds(tags.get("duration")),
        attached_picture=bool((stream.get("disposition") or {}).get("attached_pic")),
    )


def _frame_rate(stream: dict[str, Any]) -> float | None:
    # avg_frame_rate is what plays; r_frame_rate is only a guess, and 0/0 for still covers.
    average = parse_frame_rate(stream.get("avg_frame_rate"))
    return average or parse_frame_rate(stream.get("r_frame_rate"))


def _display_size(stream: dict[str, Any]) -> tuple[int | None, int | None]:
    width, height = _int(stream.get("width")), _int(stream.get("height"))
    if not width or not height:
        return width, height
    sar = parse_frame_rate(str(stream.get("sample_aspect_ratio", "")).replace(":", "/"))
    if sar and abs(sar - 1) > 0.01:
        width = round(width * sar)
    if _rotation(stream) % 180 == 90:
        width, height = height, width
    return width, height


def _rotation(stream: dict[str, Any]) -> int:
    for side_data in stream.get("side_data_list") or ():
        if "rotation" in side_data:
            return round(_float(side_data["rotation"]) or 0) % 360
    return round(_float((stream.get("tags") or {}).get("rotate")) or 0) % 360


def _clock_seconds(text: Any) -> float | None:
    """Return seconds for Matroska's "00:01:02.500000000" duration tags."""
    match = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", str(text or "").strip())
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3]) if match else None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
