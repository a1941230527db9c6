"""Seek-bar thumbnails: JPEG sprite sheets of evenly spaced frames and their WebVTT track.

The track is the one video.js, Plyr, Vidstack and Mux players read: a cue per thumbnail
whose text is the sprite's URL with a `#xywh=x,y,w,h` fragment naming the tile.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from media_pipeline.errors import MediaProcessingError
from media_pipeline.tools import StopCheck, find_ffmpeg, never_stop, run_program

SPRITE_NAME = "storyboard-{number}.jpg"
# At most this many thumbnails by default: enough to find a scene along any seek bar, few
# enough that the sprites stay a few hundred kilobytes.
TARGET_THUMBNAILS = 150
# Intervals people recognise on a seek bar; beyond the last, whole multiples of it.
_NICE_INTERVALS = (1, 2, 3, 5, 10, 15, 20, 30, 60, 90, 120, 180, 240, 300)
_JPEG_QUALITY = 5  # ffmpeg's mjpeg qscale: 2 best .. 31 worst


@dataclass(frozen=True)
class Storyboard:
    sprites: list[Path]
    vtt: str
    columns: int
    rows: int
    tile_width: int
    tile_height: int
    interval: float
    count: int


def storyboard(
    source: Path,
    out_dir: Path,
    *,
    duration: float,
    width: int,
    height: int,
    interval: float | None = None,
    tile_width: int = 160,
    columns: int = 10,
    max_rows_per_sheet: int = 10,
    sprite_url: Callable[[str], str] = lambda name: name,
    ffmpeg: str | None = None,
    check: StopCheck = never_stop,
    timeout: float = 600,
) -> Storyboard:
    """Write sprite sheets storyboard-1.jpg, storyboard-2.jpg ... into out_dir, a thumbnail
    every `interval` seconds, and return them with their WebVTT thumbnails track.

    width and height are the video's display size, for the tiles' aspect ratio. `sprite_url`
    turns a sheet's file name into the URL the player fetches it from. The whole video is
    decoded once, so `timeout` must allow for a long one.
    """
    if not duration > 0 or width <= 0 or height <= 0:
        raise ValueError("A storyboard needs the video's duration, width and height.")
    if tile_width < 2 or columns < 1 or max_rows_per_sheet < 1:
        raise ValueError("A storyboard needs tiles 2+ pixels wide, 1+ columns and 1+ rows.")
    if interval is None:
        interval = default_interval(duration)
    elif not interval > 0:
        raise ValueError(f"The thumbnail interval must be positive, not {interval:g}.")
    layout = SheetLayout.plan(duration, width, height, interval, tile_width, columns,
                          max_rows_per_sheet)  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    # A sheet left from an earlier, longer storyboard would be taken for one of this one's.
    for stale in out_dir.glob(SPRITE_NAME.format(number="*")):
        stale.unlink()
    rate = Fraction(1) / Fraction(str(interval)).limit_denominator(1000)
    run_program(
        [
            find_ffmpeg(ffmpeg), "-nostdin", "-v", "error", "-y", "-i", source,
            "-an", "-sn", "-dn",
            # select caps the thumbnails at the track's cue count: fps may add one for a
            # last frame that rounds up to the video's end.
            "-vf", f"setpts=PTS-STARTPTS,fps={rate.numerator}/{rate.denominator},"
                   f"select='lt(n\\,{layout.count})',"
                   f"scale={layout.tile_width}:{layout.tile_height},setsar=1,"
                   f"tile={layout.columns}x{layout.rows}",
            "-c:v", "mjpeg", "-q:v", str(_JPEG_QUALITY), "-f", "image2", "-start_number", "1",
            out_dir / SPRITE_NAME.format(number="%d"),
        ],
        timeout=timeout, error=MediaProcessingError, what="ffmpeg (making the storyboard)",
        check=check,
    )  # fmt: skip
    sprites = []
    for number in range(1, layout.sheets + 1):
        sheet = out_dir / SPRITE_NAME.format(number=number)
        if not sheet.is_file():
            break
        sprites.append(sheet)
    if not sprites:
        raise MediaProcessingError("The video has no picture to make a storyboard from.")
    # A video stream shorter than the container ends the sheets early: the track stops with
    # the last sheet, its final cue stretched to the end.
    count = min(layout.count, len(sprites) * layout.per_sheet)
    return Storyboard(
        sprites=sprites,
        vtt=thumbnails_vtt(layout, count, duration, sprite_url),
        columns=layout.columns,
        rows=layout.rows,
        tile_width=layout.tile_width,
        tile_height=layout.tile_height,
        interval=float(interval),
        count=count,
    )


def default_interval(duration: float) -> float:
    """Return the shortest round interval, at least a second, that keeps a video of this
    length to TARGET_THUMBNAILS thumbnails."""
    wanted = duration / TARGET_THUMBNAILS
    for interval in _NICE_INTERVALS:
        if interval >= wanted:
            return float(interval)
    largest = _NICE_INTERVALS[-1]
    return float(math.ceil(wanted / largest) * largest)


@dataclass(frozen=True)
class SheetLayout:
    """Where each thumbnail goes: tile size, grid of a sheet, how many of them."""

    interval: float
    count: int
    tile_width: int
    tile_height: int
    columns: int
    rows: int

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    @property
    def sheets(self) -> int:
        return math.ceil(self.count / self.per_sheet)

    @classmethod
    def plan(cls, duration, width, height, interval, tile_width, columns, max_rows) -> SheetLayout:
        # Rounded first: 25 s at 1 s intervals must not become 26 thumbnails from float error.
        count = max(1, math.ceil(round(duration / interval, 6)))
        columns = min(columns, count)
        return cls(
            interval=interval,
            count=count,
            tile_width=tile_width,
            tile_height=max(2, 2 * round(tile_width * height / width / 2)),
            columns=columns,
            rows=min(max_rows, math.ceil(count / columns)),
        )


def thumbnails_vtt(
    layout: SheetLayout, count: int, duration: float, sprite_url: Callable[[str], str]
) -> str:
    """Return the WebVTT track: a cue per thumbnail, the last one ending at the duration."""
    lines = ["WEBVTT", ""]
    for index in range(count):
        start = index * layout.interval
        end = duration if index == count - 1 else min((index + 1) * layout.interval, duration)
        sheet, place = divmod(index, layout.per_sheet)
        row, column = divmod(place, layout.columns)
        url = sprite_url(SPRITE_NAME.format(number=sheet + 1))
        lines += [
            f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}",
            f"{url}#xywh={column * layout.tile_width},{row * layout.tile_height},"
            f"{layout.tile_width},{layout.tile_height}",
            "",
        ]
    return "\n".join(lines)


def vtt_timestamp(seconds: float) -> str:
    """Return seconds as a WebVTT timestamp, HH:MM:SS.mmm."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"
