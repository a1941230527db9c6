"""An HLS ladder for adaptive streaming: several H.264 + AAC renditions from one ffmpeg run.

The source is decoded once and split into one scaled copy per rendition. Every rendition
gets a keyframe at the same instants, exactly at each segment boundary, so a player can
switch between renditions at any segment. Like transcode, a rendition's height is the short
side of the picture: a portrait "720p" is 720x1280.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from media_pipeline.encoders import EncoderChoice, choose_encoder
from media_pipeline.errors import InvalidMediaError, MediaProcessingError
from media_pipeline.ffmpeg_run import FfmpegTimeoutError, ProgressCallback, run_ffmpeg
from media_pipeline.probe import SAFE_INPUT_OPTIONS, MediaInfo
from media_pipeline.tools import StopCheck, never_stop

logger = logging.getLogger("media_pipeline.hls")

MASTER_PLAYLIST = "master.m3u8"
RENDITION_PLAYLIST = "index.m3u8"
MAX_FRAME_RATE = 60
# Peaks above the average rate that players must be ready for (the VBV): Apple's HLS
# authoring advice keeps the peak within 110 % of the average and the buffer at two seconds.
_PEAK = 1.1
_BUFFER_SECONDS = 2
_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Rendition:
    name: str  # also the folder its playlist and segments are written to
    height: int
    video_kbps: int
    audio_kbps: int


DEFAULT_LADDER = (
    Rendition("1080p", 1080, 5000, 128),
    Rendition("720p", 720, 2800, 128),
    Rendition("480p", 480, 1200, 96),
    Rendition("360p", 360, 700, 96),
)


@dataclass(frozen=True)
class HlsResult:
    master: Path
    renditions: list[Rendition]
    # Every file written, under out_dir: the master playlist, then each rendition's playlist
    # followed by its segments in playing order.
    files: list[Path]


def ladder_for(info: MediaInfo, ladder: Sequence[Rendition] = DEFAULT_LADDER) -> list[Rendition]:
    """Return the renditions that need no upscaling; for a source smaller than all of them,
    the smallest one at the source's own size."""
    short = _short_side(info)
    fitting = [rendition for rendition in ladder if rendition.height <= short]
    if fitting:
        return fitting
    height = max(2, short - short % 2)
    smallest = min(ladder, key=lambda rendition: rendition.height)
    # Fewer pixels need fewer bits: the rate shrinks with the picture's area.
    kbps = max(100, round(smallest.video_kbps * (height / smallest.height) ** 2))
    return [replace(smallest, name=f"{height}p", height=height, video_kbps=kbps)]


def hls_ladder(
    source: Path,
    out_dir: Path,
    *,
    info: MediaInfo,
    renditions: Sequence[Rendition] | None = None,
    segment_seconds: int = 4,
    ffmpeg: str | None = None,
    on_progress: ProgressCallback | None = None,
    check: StopCheck = never_stop,
    timeout: float = 3600,
) -> HlsResult:
    """Write out_dir/master.m3u8 and out_dir/<rendition name>/ for each rendition.

    `renditions` defaults to ladder_for(info). Folders of the renditions' names already in
    out_dir are replaced. NVENC is used where it works; where it fails at run time the
    ladder is encoded again on the CPU.
    """
    chosen = list(renditions) if renditions is not None else ladder_for(info)
    _validate(chosen, segment_seconds, out_dir)
    _short_side(info)
    choice = choose_encoder("h264", ffmpeg=ffmpeg)
    encode = functools.partial(
        _encode, source=source, out_dir=out_dir, info=info, renditions=chosen,
        segment_seconds=segment_seconds, ffmpeg=ffmpeg, on_progress=on_progress, check=check,
        timeout=timeout,
    )  # fmt: skip
    try:
        return encode(choice)
    except FfmpegTimeoutError:
        raise
    except MediaProcessingError:
        if not choice.hardware:
            raise
        logger.warning("%s failed; encoding the HLS ladder on the CPU instead", choice.encoder)
    return encode(choose_encoder("h264", ffmpeg=ffmpeg, allow_hardware=False))


def rendition_size(info: MediaInfo, rendition: Rendition) -> tuple[int, int]:
    """Return the frame size of a rendition: its height on the short side, even numbers."""
    video = info.video
    assert video is not None and video.width and video.height  # _short_side checked it
    scale = rendition.height / min(video.width, video.height)
    return _even(video.width * scale), _even(video.height * scale)


def _encode(
    choice: EncoderChoice,
    *,
    source: Path,
    out_dir: Path,
    info: MediaInfo,
    renditions: list[Rendition],
    segment_seconds: int,
    ffmpeg: str | None,
    on_progress: ProgressCallback | None,
    check: StopCheck,
    timeout: float,
) -> HlsResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_output(out_dir, renditions)
    for rendition in renditions:
        (out_dir / rendition.name).mkdir()
    args: list[str | Path] = [
        *SAFE_INPUT_OPTIONS, "-i", f"file:{source}",
        "-filter_complex", _filter_graph(info, renditions),
        *_stream_arguments(info, renditions, choice),
        *_keyframe_arguments(info, choice, segment_seconds),
        "-map_metadata", "-1", "-max_muxing_queue_size", "4096",
        "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
        "-hls_segment_filename", out_dir / "%v" / "segment_%05d.ts",
        "-master_pl_name", MASTER_PLAYLIST,
        "-var_stream_map", " ".join(
            f"v:{i},a:{i},name:{r.name}" if info.has_audio else f"v:{i},name:{r.name}"
            for i, r in enumerate(renditions)
        ),
        out_dir / "%v" / RENDITION_PLAYLIST,
    ]  # fmt: skip
    try:
        run_ffmpeg(
            args, duration=info.duration, on_progress=on_progress, check=check,
            timeout=timeout, what="Preparing the video for streaming", ffmpeg=ffmpeg,
        )  # fmt: skip
        return HlsResult(
            master=out_dir / MASTER_PLAYLIST,
            renditions=renditions,
            files=_written_files(out_dir, renditions),
        )
    except BaseException:
        _remove_output(out_dir, renditions)
        raise


def _filter_graph(info: MediaInfo, renditions: list[Rendition]) -> str:
    video = info.video
    assert video is not None
    rate = f"fps={MAX_FRAME_RATE}," if (video.frame_rate or 0) > MAX_FRAME_RATE + 0.5 else ""
    labels = "".join(f"[copy{i}]" for i in range(len(renditions)))
    chains = [f"[0:{video.index}]{rate}split={len(renditions)}{labels}"]
    for i, rendition in enumerate(renditions):
        width, height = rendition_size(info, rendition)
        chains.append(
            f"[copy{i}]scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p[video{i}]"
        )
    return ";".join(chains)


def _stream_arguments(
    info: MediaInfo, renditions: list[Rendition], choice: EncoderChoice
) -> list[str]:
    args = []
    audio = info.audio
    for i in range(len(renditions)):
        args += ["-map", f"[video{i}]"]
        if audio is not None:
            args += ["-map", f"0:{audio.index}"]
    args += ["-c:v", choice.encoder]
    args += ["-preset", "p4"] if choice.hardware else ["-preset", "veryfast"]
    for i, rendition in enumerate(renditions):
        kbps = rendition.video_kbps
        args += [f"-b:v:{i}", f"{kbps}k", f"-maxrate:v:{i}", f"{round(kbps * _PEAK)}k",
                 f"-bufsize:v:{i}", f"{kbps * _BUFFER_SECONDS}k"]  # fmt: skip
    if audio is not None:
        args += ["-c:a", "aac"]
        for i, rendition in enumerate(renditions):
            args += [f"-b:a:{i}", f"{rendition.audio_kbps}k"]
        if (audio.channels or 0) > 2:
            args += ["-ac", "2"]
    return args


def _keyframe_arguments(info: MediaInfo, choice: EncoderChoice, segment_seconds: int) -> list[str]:
    # A keyframe at every segment boundary, and nowhere the encoder's own scene detection
    # would put one differently in different renditions.
    args = ["-force_key_frames", f"expr:gte(t,n_forced*{segment_seconds})"]
    rate = (info.video.frame_rate if info.video else None) or 0
    if rate:
        frames = max(1, round(min(rate, MAX_FRAME_RATE) * segment_seconds))
        args += ["-g", str(frames), "-keyint_min", str(frames)]
    if choice.hardware:
        args += ["-forced-idr", "1", "-no-scenecut", "1"]
    else:
        args += ["-sc_threshold", "0"]
    return args


def _written_files(out_dir: Path, renditions: list[Rendition]) -> list[Path]:
    files = [out_dir / MASTER_PLAYLIST]
    for rendition in renditions:
        playlist = out_dir / rendition.name / RENDITION_PLAYLIST
        files.append(playlist)
        for line in playlist.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                files.append(playlist.parent / line.strip())
    missing = [path.relative_to(out_dir) for path in files if not path.is_file()]
    if missing:
        logger.warning("HLS output in %s lacks %s", out_dir, ", ".join(map(str, missing)))
        raise MediaProcessingError("Preparing the video for streaming left files missing.")
    return files


def _remove_output(out_dir: Path, renditions: list[Rendition]) -> None:
    (out_dir / MASTER_PLAYLIST).unlink(missing_ok=True)
    for rendition in renditions:
        shutil.rmtree(out_dir / rendition.name, ignore_errors=True)


def _validate(renditions: list[Rendition], segment_seconds: int, out_dir: Path) -> None:
    if not renditions:
        raise ValueError("an HLS ladder needs at least one rendition")
    names = [rendition.name for rendition in renditions]
    if len(set(names)) != len(names) or not all(_NAME.fullmatch(name) for name in names):
        raise ValueError(f"rendition names must be distinct letters, digits, - or _: {names}")
    if any(r.height < 2 or r.video_kbps <= 0 or r.audio_kbps <= 0 for r in renditions):
        raise ValueError("rendition heights and bit rates must be positive")
    if not 1 <= segment_seconds <= 60:
        raise ValueError(f"segment_seconds must be from 1 to 60, not {segment_seconds!r}")
    # ffmpeg reads % in the output paths as a pattern (%v, %05d).
    if "%" in str(out_dir):
        raise ValueError(f"out_dir must not contain %: {out_dir}")


def _short_side(info: MediaInfo) -> int:
    video = info.video
    if video is None or not video.width or not video.height:
        raise InvalidMediaError("This file has no video to stream; only a video can be streamed.")
    return min(video.width, video.height)


def _even(value: float) -> int:
    return max(2, int(value / 2 + 0.5) * 2)
