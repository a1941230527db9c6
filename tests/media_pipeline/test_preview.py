"""Poster frames, animated previews and storyboards, made by the real ffmpeg from tiny clips."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import webvtt
from PIL import Image, ImageStat

from media_pipeline import tools
from media_pipeline.errors import MediaProcessingError
from media_pipeline.preview import (
    animated_preview,
    is_blank,
    poster_frame,
    preview_clips,
    storyboard,
)
from media_pipeline.storyboard import default_interval, vtt_timestamp
from media_pipeline.tools import find_ffmpeg
from tests.media import ffprobe

SIZE = "320x180"


def encode(out: Path, *segments: str, seconds: float, audio: bool = True) -> Path:
    """Write an H.264 MP4 of lavfi video sources played one after another (and a tone)."""
    inputs = [arg for segment in segments for arg in ("-f", "lavfi", "-i", segment)]
    joined = "".join(f"[{i}:v]" for i in range(len(segments)))
    command = [
        find_ffmpeg(), "-v", "error", "-y", *inputs,
        *(["-f", "lavfi", "-i", f"sine=d={seconds}"] if audio else []),
        "-filter_complex", f"{joined}concat=n={len(segments)}:v=1:a=0[v]", "-map", "[v]",
        *(["-map", f"{len(segments)}:a", "-c:a", "aac"] if audio else []),
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def black_start(media) -> Path:
    """1.5 s of black, then 4.5 s of test pattern, with sound."""
    return encode(
        media / "black_start.mp4",
        f"color=black:s={SIZE}:r=25:d=1.5",
        f"testsrc2=s={SIZE}:r=25:d=4.5",
        seconds=6,
    )


@pytest.fixture(scope="module")
def clip25(media) -> Path:
    """25 s of test pattern with sound."""
    return encode(media / "clip25.mp4", f"testsrc2=s={SIZE}:r=10:d=25", seconds=25)


def mean_luma(path: Path) -> float:
    with Image.open(path) as picture:
        return ImageStat.Stat(picture.convert("L")).mean[0]


# Poster frames


def test_poster_skips_a_black_opening(black_start, tmp_path):
    poster = poster_frame(black_start, tmp_path / "poster.jpg", duration=6.0)

    assert poster.time >= 1.5
    assert poster.time < 2.5
    assert mean_luma(poster.path) > 60
    with Image.open(poster.path) as picture:
        assert picture.format == "JPEG"
        assert picture.size == (poster.width, poster.height) == (320, 180)


def test_poster_skips_a_white_fade_in(media, tmp_path):
    source = encode(
        media / "white_start.mp4",
        f"color=white:s={SIZE}:r=25:d=1",
        f"testsrc2=s={SIZE}:r=25:d=1",
        seconds=2,
        audio=False,
    )

    poster = poster_frame(source, tmp_path / "poster.jpg", duration=2.0)

    assert 1.0 <= poster.time < 1.6
    assert mean_luma(poster.path) < 200


def test_a_chosen_time_is_honoured_even_when_blank(black_start, tmp_path):
    dark = poster_frame(black_start, tmp_path / "dark.jpg", duration=6.0, at=0.5)
    bright = poster_frame(black_start, tmp_path / "bright.jpg", duration=6.0, at=4.0)

    assert dark.time == 0.5
    assert mean_luma(dark.path) < 25
    assert bright.time == 4.0
    assert mean_luma(bright.path) > 60


def test_a_time_at_the_very_end_still_gives_a_picture(black_start, tmp_path):
    # The container lasts past the last frame's start: seeking there finds no frame.
    poster = poster_frame(black_start, tmp_path / "end.jpg", duration=6.0, at=6.0)

    assert mean_luma(poster.path) > 60


@pytest.mark.parametrize("at", [-0.5, 6.5])
def test_a_time_outside_the_video_is_refused(black_start, tmp_path, at):
    with pytest.raises(ValueError, match="outside the video"):
        poster_frame(black_start, tmp_path / "p.jpg", duration=6.0, at=at)


def test_poster_keeps_the_aspect_ratio_within_the_width_with_even_sides(black_start, tmp_path):
    poster = poster_frame(black_start, tmp_path / "small.jpg", duration=6.0, max_width=101)

    with Image.open(poster.path) as picture:
        assert picture.size == (poster.width, poster.height) == (100, 56)


def test_an_all_black_video_falls_back_to_a_tenth_of_its_length(media, tmp_path):
    source = encode(media / "black.mp4", f"color=black:s={SIZE}:r=10:d=4", seconds=4, audio=False)

    poster = poster_frame(source, tmp_path / "poster.jpg", duration=4.0)

    assert poster.time == pytest.approx(0.4)
    assert poster.path.stat().st_size > 0


def test_blank_frames_are_flat_ones():
    black = {"YMIN": 16, "YLOW": 16, "YHIGH": 18, "YMAX": 30}
    white_with_text = {"YMIN": 20, "YLOW": 235, "YHIGH": 235, "YMAX": 235}
    dark_scene = {"YMIN": 16, "YLOW": 18, "YHIGH": 60, "YMAX": 90}

    assert is_blank(black)
    assert not is_blank(white_with_text)
    assert not is_blank(dark_scene)
    assert is_blank({})


# Animated previews


def test_webp_preview_is_an_animated_loop_of_the_asked_width(clip25, tmp_path):
    preview = animated_preview(clip25, tmp_path / "p.webp", duration=25.0, width=240)

    with Image.open(preview.path) as picture:
        assert picture.format == "WEBP"
        assert picture.is_animated
        assert picture.n_frames > 1
        assert picture.info.get("loop") == 0
        assert picture.size == (preview.width, preview.height) == (240, 134)
    assert preview.format == "webp"
    assert preview.duration == pytest.approx(4.0)


def test_mp4_preview_lasts_the_asked_seconds_without_sound(clip25, tmp_path):
    preview = animated_preview(
        clip25, tmp_path / "p.mp4", duration=25.0, format="mp4", seconds=3.0, fps=10
    )

    probe = ffprobe(preview.path)
    assert [stream["codec_type"] for stream in probe["streams"]] == ["video"]
    video = probe["streams"][0]
    assert video["codec_name"] == "h264"
    assert video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (preview.width, preview.height) == (320, 180)
    assert float(probe["format"]["duration"]) == pytest.approx(3.0, abs=0.15)
    data = preview.path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while loading


def test_a_short_video_is_previewed_from_its_start(black_start, tmp_path):
    preview = animated_preview(black_start, tmp_path / "p.mp4", duration=6.0, format="mp4")

    assert preview.duration == pytest.approx(4.0)
    assert float(ffprobe(preview.path)["format"]["duration"]) == pytest.approx(4.0, abs=0.15)


def test_clips_are_spread_over_the_middle_of_a_long_video():
    starts, clip = preview_clips(100.0, 4.0)

    assert clip == 1.0
    assert starts[0] == pytest.approx(10.0)
    assert starts[-1] + clip == pytest.approx(90.0)
    assert starts == sorted(starts)


def test_an_unknown_preview_format_is_refused(clip25, tmp_path):
    with pytest.raises(ValueError, match="gif"):
        animated_preview(clip25, tmp_path / "p.gif", duration=25.0, format="gif")


# Storyboards


def cue_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_storyboard_tiles_one_thumbnail_a_second_and_describes_them(clip25, tmp_path):
    (tmp_path / "storyboard-7.jpg").write_bytes(b"left from an earlier run")

    board = storyboard(
        clip25, tmp_path, duration=25.0, width=320, height=180, interval=1,
        sprite_url=lambda name: f"https://cdn.example/v/{name}",
    )  # fmt: skip

    assert board.sprites == [tmp_path / "storyboard-1.jpg"]
    assert not (tmp_path / "storyboard-7.jpg").exists()
    assert (board.count, board.columns, board.rows) == (25, 10, 3)
    assert (board.tile_width, board.tile_height) == (160, 90)
    with Image.open(board.sprites[0]) as sheet:
        assert sheet.format == "JPEG"
        assert sheet.size == (1600, 270)
        sprite_width, sprite_height = sheet.size
    cues = webvtt.from_string(board.vtt).captions
    assert len(cues) == 25
    assert cue_seconds(cues[0].start) == 0
    assert cue_seconds(cues[-1].end) == 25.0
    for index, cue in enumerate(cues):
        assert cue_seconds(cue.start) == index
        url, x, y, w, h = re.fullmatch(r"(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", cue.text).groups()
        assert url == "https://cdn.example/v/storyboard-1.jpg"
        assert (int(w), int(h)) == (160, 90)
        assert int(x) + int(w) <= sprite_width
        assert int(y) + int(h) <= sprite_height
    assert cues[12].text.endswith("#xywh=320,90,160,90")


def test_more_tiles_than_a_sheet_holds_go_on_further_sheets(clip25, tmp_path):
    board = storyboard(
        clip25, tmp_path, duration=25.0, width=320, height=180, interval=1,
        columns=5, max_rows_per_sheet=2,
    )  # fmt: skip

    assert [path.name for path in board.sprites] == [
        "storyboard-1.jpg", "storyboard-2.jpg", "storyboard-3.jpg",
    ]  # fmt: skip
    for sprite in board.sprites:
        with Image.open(sprite) as sheet:
            assert sheet.size == (800, 180)
    cues = webvtt.from_string(board.vtt).captions
    assert len(cues) == 25
    assert cues[9].text == "storyboard-1.jpg#xywh=640,90,160,90"
    assert cues[10].text == "storyboard-2.jpg#xywh=0,0,160,90"
    assert cues[24].text == "storyboard-3.jpg#xywh=640,0,160,90"
    # The last sheet's five thumbnails are pictures, not the black padding after them.
    with Image.open(board.sprites[2]) as sheet:
        assert ImageStat.Stat(sheet.crop((0, 0, 800, 90)).convert("L")).mean[0] > 60


def test_a_short_video_gets_a_narrow_sheet_and_a_last_cue_ending_at_its_end(black_start, tmp_path):
    board = storyboard(black_start, tmp_path, duration=5.5, width=320, height=180, interval=2)

    assert (board.count, board.columns, board.rows) == (3, 3, 1)
    with Image.open(board.sprites[0]) as sheet:
        assert sheet.size == (480, 90)
    cues = webvtt.from_string(board.vtt).captions
    assert [(cue.start, cue.end) for cue in cues] == [
        ("00:00:00.000", "00:00:02.000"),
        ("00:00:02.000", "00:00:04.000"),
        ("00:00:04.000", "00:00:05.500"),
    ]


def test_default_interval_keeps_thumbnails_to_a_few_hundred_at_round_steps():
    assert default_interval(25) == 1
    assert default_interval(600) == 5
    assert default_interval(3600) == 30
    assert default_interval(10 * 3600) == 240
    assert default_interval(100 * 3600) == 2400
    for duration in (1, 25, 149, 151, 600, 3600, 7200, 36000):
        assert duration / default_interval(duration) <= 150


def test_vtt_timestamps():
    assert vtt_timestamp(0) == "00:00:00.000"
    assert vtt_timestamp(3725.5) == "01:02:05.500"
    assert vtt_timestamp(59.9996) == "00:01:00.000"


# Cancelling


@pytest.mark.parametrize("make", ["poster", "preview", "storyboard"])
def test_a_stop_check_that_raises_kills_ffmpeg(tmp_path, make):
    # ffmpeg waits forever for a writer on a FIFO: only the stop check can end it.
    source = tmp_path / "stuck.mp4"
    os.mkfifo(source)
    calls = 0

    class Cancelled(Exception):
        pass

    def check() -> None:
        nonlocal calls
        calls += 1
        if calls >= 3:
            raise Cancelled

    started = time.monotonic()
    with pytest.raises(Cancelled):
        if make == "poster":
            poster_frame(source, tmp_path / "p.jpg", duration=6.0, check=check, timeout=30)
        elif make == "preview":
            animated_preview(source, tmp_path / "p.webp", duration=6.0, check=check, timeout=30)
        else:
            storyboard(
                source, tmp_path / "sb", duration=6.0, width=320, height=180, check=check,
                timeout=30,
            )  # fmt: skip

    assert time.monotonic() - started < 5
    assert calls == 3
    assert not tools._running


def test_ffmpeg_failing_raises_a_media_error(tmp_path):
    source = tmp_path / "not-a-video.mp4"
    source.write_bytes(b"this is not a video")

    with pytest.raises(MediaProcessingError):
        storyboard(source, tmp_path / "sb", duration=6.0, width=320, height=180)
