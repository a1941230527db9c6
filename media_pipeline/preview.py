"""Pictures that stand for a video before it plays: a poster frame and a short looping preview.

The storyboard (seek-bar thumbnails and their WebVTT track) lives in media_pipeline.storyboard
and is re-exported here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from media_pipeline.errors import MediaProcessingError
from media_pipeline.storyboard import Storyboard, storyboard
from media_pipeline.tools import StopCheck, find_ffmpeg, never_stop, run_program

__all__ = [
    "AnimatedPreviewResult",
    "PosterResult",
    "Storyboard",
    "animated_preview",
    "poster_frame",
    "storyboard",
]

# Only the opening of a video is searched for a poster: intros longer than this are rare, and
# decoding more would make the poster cost as much as a transcode.
POSTER_SEARCH_SECONDS = 30.0
# Sampled twice a second at 160 px wide: a fade is caught within half a second, and the
# analysis decodes but hardly scales or measures anything.
_SAMPLES_PER_SECOND = 2
_SAMPLE_WIDTH = 160
# Luma spread (8-bit, 16..235) between the 10th and 90th percentile that makes a frame a
# picture rather than a flat fill: compression noise and grain on black or white stay below.
_MIN_PERCENTILE_SPREAD = 16
# ...or between darkest and brightest pixel: dark text on a white slide barely moves the
# percentiles but is content.
_MIN_EXTREME_SPREAD = 96
# Where the poster comes from when every sampled frame is blank.
_FALLBACK_FRACTION = 0.10

PREVIEW_FORMATS = ("webp", "mp4")
# Videos shorter than this many preview lengths are previewed from their start: clips
# spread over them would overlap or show the same scene.
_SPREAD_MIN_RATIO = 3
_PREVIEW_CLIPS = 4
# Clips shorter than this flicker instead of showing anything.
_MIN_CLIP_SECONDS = 1.0
_WEBP_QUALITY = 60
_MP4_CRF = 28


@dataclass(frozen=True)
class PosterResult:
    path: Path
    time: float
    width: int
    height: int


@dataclass(frozen=True)
class AnimatedPreviewResult:
    path: Path
    format: str
    duration: float
    width: int
    height: int


def poster_frame(
    source: Path,
    out: Path,
    *,
    duration: float,
    at: float | None = None,
    max_width: int = 1280,
    ffmpeg: str | None = None,
    check: StopCheck = never_stop,
    timeout: float = 120,
) -> PosterResult:
    """Write a JPEG poster of the video to out: the frame at `at` seconds, or else the first
    frame in the opening seconds that is not blank (black, white or one flat colour).

    The picture keeps the display aspect ratio, with even dimensions at most max_width wide.
    `timeout` applies to each ffmpeg run. A time before the start or after the end raises
    ValueError.
    """
    if max_width < 2:
        raise ValueError(f"The poster must be at least 2 pixels wide, not {max_width}.")
    ffmpeg = find_ffmpeg(ffmpeg)
    if at is not None:
        if not 0 <= at <= max(duration, 0.0):
            raise ValueError(
                f"The poster time {at:g} s is outside the video, which lasts {duration:g} s."
            )
        time = float(at)
    else:
        time = first_content_time(source, duration=duration, ffmpeg=ffmpeg, check=check,
                                  timeout=timeout)  # fmt: skip
    # -update: one picture, rewritten by every frame that reaches it.
    encode = ["-an", "-sn", "-dn", "-vf", _display_scale(max_width), "-c:v", "mjpeg",
              "-q:v", "3", "-f", "image2", "-update", "1", out]  # fmt: skip
    out.unlink(missing_ok=True)
    run_program(
        [ffmpeg, "-nostdin", "-v", "error", "-y", "-ss", f"{time:.6f}", "-i", source,
         "-frames:v", "1", *encode],
        timeout=timeout, error=MediaProcessingError, what="ffmpeg (taking the poster frame)",
        check=check,
    )  # fmt: skip
    if not _written(out):
        # The container's duration can run past the last video frame (a longer audio track):
        # a time between the two seeks past every frame, so the last one is the poster.
        run_program(
            [ffmpeg, "-nostdin", "-v", "error", "-y", "-sseof", "-2", "-i", source,
             *encode],
            timeout=timeout, error=MediaProcessingError,
            what="ffmpeg (taking the last frame as poster)", check=check,
        )  # fmt: skip
        if not _written(out):
            raise MediaProcessingError("The video has no picture to take a poster frame from.")
    with Image.open(out) as picture:
        width, height = picture.size
    return PosterResult(path=out, time=time, width=width, height=height)


def first_content_time(
    source: Path,
    *,
    duration: float,
    ffmpeg: str | None = None,
    check: StopCheck = never_stop,
    timeout: float = 120,
) -> float:
    """Return the time of the first sampled frame that is not blank in the video's opening,
    or 10 % of the duration when all of them are."""
    window = min(duration, POSTER_SEARCH_SECONDS) if duration > 0 else POSTER_SEARCH_SECONDS
    rate = _SAMPLES_PER_SECOND
    # select, not fps: it keeps each sample's own timestamp, so seeking there finds that very
    # frame. Times count from the first frame, as -ss does.
    new_bucket = f"gte(floor(t*{rate})-floor(prev_selected_t*{rate})\\,1)"
    sample = f"select='isnan(prev_selected_t)+{new_bucket}'"
    result = run_program(
        [
            find_ffmpeg(ffmpeg), "-nostdin", "-v", "error", "-t", f"{window:.3f}", "-i", source,
            "-an", "-sn", "-dn",
            "-vf", f"setpts=PTS-STARTPTS,{sample},scale={_SAMPLE_WIDTH}:-2,signalstats,"
                   "metadata=mode=print:file=-",
            "-f", "null", "-",
        ],
        timeout=timeout, error=MediaProcessingError, what="ffmpeg (looking for a poster frame)",
        check=check,
    )  # fmt: skip
    for time, stats in parse_frame_metadata(result.stdout.decode("utf-8", "replace")):
        if not is_blank(stats):
            return time
    return max(duration, 0.0) * _FALLBACK_FRACTION


def parse_frame_metadata(text: str) -> list[tuple[float, dict[str, float]]]:
    """Return (time, {key: value}) per frame from ffmpeg's metadata=print output, keys without
    their `lavfi.signalstats.` prefix."""
    frames: list[tuple[float, dict[str, float]]] = []
    for line in text.splitlines():
        header = re.match(r"frame:\s*\d+\s+pts:\s*\S+\s+pts_time:\s*(\S+)", line)
        if header:
            frames.append((float(header.group(1)), {}))
        elif frames and "=" in line:
            key, _, value = line.strip().partition("=")
            try:
                frames[-1][1][key.rsplit(".", 1)[-1]] = float(value)
            except ValueError:
                continue
    return frames


def is_blank(stats: dict[str, float]) -> bool:
    """Whether signalstats' luma figures describe a flat frame: black, white, one colour."""
    try:
        percentile_spread = stats["YHIGH"] - stats["YLOW"]
        extreme_spread = stats["YMAX"] - stats["YMIN"]
    except KeyError:
        return True
    return percentile_spread < _MIN_PERCENTILE_SPREAD and extreme_spread < _MIN_EXTREME_SPREAD


def animated_preview(
    source: Path,
    out: Path,
    *,
    duration: float,
    format: str = "webp",
    seconds: float = 4.0,
    width: int = 480,
    fps: int = 12,
    ffmpeg: str | None = None,
    check: StopCheck = never_stop,
    timeout: float = 300,
) -> AnimatedPreviewResult:
    """Write a short silent looping preview of the video to out, as animated WebP or MP4.

    A video longer than three previews is shown as a few short clips spread over 10 %..90 %
    of it; a shorter one by its first `seconds`. The preview is `width` pixels wide (never
    wider than the video), keeps the display aspect ratio and has even dimensions.
    """
    if format not in PREVIEW_FORMATS:
        raise ValueError(
            f"Unknown preview format {format!r}: use one of {', '.join(PREVIEW_FORMATS)}."
        )
    if not seconds > 0 or fps <= 0 or width < 2:
        raise ValueError("A preview needs a positive length and frame rate and a width of 2+.")
    ffmpeg = find_ffmpeg(ffmpeg)
    per_clip = f"fps={fps},{_display_scale(width)}"
    if duration > _SPREAD_MIN_RATIO * seconds:
        starts, clip = preview_clips(duration, seconds)
        inputs = [
            arg
            for start in starts
            for arg in ("-ss", f"{start:.3f}", "-t", f"{clip:.3f}", "-i", source)
        ]
        labels = "".join(f"[v{i}]" for i in range(len(starts)))
        graph = ";".join(
            [*(f"[{i}:v]{per_clip},setpts=PTS-STARTPTS[v{i}]" for i in range(len(starts))),
             f"{labels}concat=n={len(starts)}:v=1:a=0[v]"]
        )  # fmt: skip
        length = clip * len(starts)
    else:
        length = min(seconds, duration) if duration > 0 else seconds
        inputs = ["-t", f"{length:.3f}", "-i", source]
        graph = f"[0:v]{per_clip}[v]"
    if format == "webp":
        encode = ["-c:v", "libwebp_anim", "-lossless", "0", "-quality", str(_WEBP_QUALITY),
                  "-pix_fmt", "yuv420p", "-loop", "0", "-f", "webp"]  # fmt: skip
    else:
        encode = ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(_MP4_CRF),
                  "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4"]  # fmt: skip
    # Info level, without the progress lines, for the output stream's size.
    result = run_program(
        [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "info", "-y", *inputs,
         "-filter_complex", graph, "-map", "[v]", "-an", "-sn", "-dn", *encode, out],
        timeout=timeout, error=MediaProcessingError,
        what=f"ffmpeg (making the {format} preview)", check=check,
    )  # fmt: skip
    if not _written(out):
        raise MediaProcessingError("The video has no picture to make a preview from.")
    width_out, height_out = encoded_size(result.stderr.decode("utf-8", "replace"))
    return AnimatedPreviewResult(
        path=out, format=format, duration=length, width=width_out, height=height_out
    )


def preview_clips(duration: float, seconds: float) -> tuple[list[float], float]:
    """Return the start times of the clips a preview is cut from, and each clip's length:
    evenly spread, the first starting at 10 % of the video and the last ending at 90 %."""
    count = max(1, min(_PREVIEW_CLIPS, math.floor(seconds / _MIN_CLIP_SECONDS)))
    clip = seconds / count
    if count == 1:
        return [(duration - clip) / 2], clip
    first, last = 0.1 * duration, 0.9 * duration - clip
    step = (last - first) / (count - 1)
    return [first + i * step for i in range(count)], clip


def encoded_size(ffmpeg_log: str) -> tuple[int, int]:
    """Return the width and height of the first video stream ffmpeg's info log says it wrote."""
    _, _, output = ffmpeg_log.partition("Output #0")
    found = re.search(r"Stream #0:\d+.*?: Video: .*?, (\d+)x(\d+)[ ,\n]", output)
    if not found:
        raise MediaProcessingError("ffmpeg did not say the size of the preview it wrote.")
    return int(found.group(1)), int(found.group(2))


def _display_scale(max_width: int) -> str:
    # Sized by the display aspect ratio (anamorphic sources have non-square pixels), never
    # enlarged, even on both sides for yuv420p encoders.
    return f"scale='trunc(min({max_width},iw*sar)/2)*2':'max(2,trunc(ow/dar/2)*2)',setsar=1"


def _written(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0
