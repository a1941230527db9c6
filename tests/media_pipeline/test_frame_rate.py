"""Videos at any frame rate from 1 to 60, NTSC rates included, play at the narration's speed."""

from __future__ import annotations

import json
import math
import subprocess
from fractions import Fraction
from itertools import accumulate
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image

from media_pipeline.audio import frame_aligned_length, write_wav
from media_pipeline.h264 import StillPicture, split_access_units
from media_pipeline.tools import find_ffmpeg
from media_pipeline.video import (
    IMAGES_PER_ENCODE,
    SlideClip,
    VideoOptions,
    assemble_video,
    keyframe_batches,
    slide_frame_counts,
)
from project.env import env_frame_rate
from tests.media import ffprobe

RATE = 22050
COLORS = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 255, 0)}


def make_clip(folder: Path, color: str, samples: int) -> SlideClip:
    image = folder / f"{color}.png"
    Image.new("RGB", (800, 450), COLORS[color]).save(image)
    audio = folder / f"{color}.wav"
    write_wav(audio, (np.sin(np.arange(samples) * 0.05) * 8000).astype(np.int16), RATE)
    return SlideClip(image, audio)


def frame_colors(video: Path) -> list[str]:
    """Return the name of the colour nearest each decoded frame's average, in order."""
    raw = subprocess.run(
        [find_ffmpeg(), "-v", "error", "-i", str(video), "-an", "-vf", "scale=4:4",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    means = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 16, 3).mean(axis=1)
    return [
        min(COLORS, key=lambda name: float(np.abs(mean - COLORS[name]).sum())) for mean in means
    ]


def packet_times(video: Path) -> list[Fraction]:
    """Return each video packet's presentation time, exactly (no B-frames: display order)."""
    ffprobe_bin = str(Path(find_ffmpeg()).with_name("ffprobe"))
    info = json.loads(
        subprocess.run(
            [
                ffprobe_bin,
                "-v",
                "error",
                "-select_streams",
                "v",
                "-show_entries",
                "stream=time_base:packet=pts",
                "-of",
                "json",
                str(video),
            ],
            capture_output=True,
            check=True,
        ).stdout  # fmt: skip
    )
    time_base = Fraction(info["streams"][0]["time_base"])
    return [packet["pts"] * time_base for packet in info["packets"]]


def sps_frame_rate(video: Path) -> Fraction | None:
    """Return the frame rate the H.264 stream's own SPS timing states."""
    stream = subprocess.run(
        [find_ffmpeg(), "-v", "error", "-i", str(video), "-map", "0:v", "-c", "copy",
         "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return StillPicture.from_stream(split_access_units(stream)[0]).sps.frame_rate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("25", Fraction(25)),
        ("29.97", Fraction(30000, 1001)),
        ("23.976", Fraction(24000, 1001)),
        ("59.94", Fraction(60000, 1001)),
        ("30000/1001", Fraction(30000, 1001)),
        (" 60 ", Fraction(60)),
        ("12.5", Fraction(25, 2)),
        ("1", Fraction(1)),
    ],
)
def test_frame_rate_setting_is_read_exactly(monkeypatch, raw, expected):
    monkeypatch.setenv("SLIDECAST_VIDEO_FPS", raw)
    assert env_frame_rate("SLIDECAST_VIDEO_FPS", 25) == expected


def test_frame_rate_setting_defaults_to_a_fraction(monkeypatch):
    monkeypatch.delenv("SLIDECAST_VIDEO_FPS", raising=False)
    assert env_frame_rate("SLIDECAST_VIDEO_FPS", 25) == Fraction(25)
    assert isinstance(env_frame_rate("SLIDECAST_VIDEO_FPS", 25), Fraction)


@pytest.mark.parametrize("raw", ["0", "61", "abc", "-25", "1/0", "", "29.1234567"])
def test_unusable_frame_rate_setting_says_what_to_set(monkeypatch, raw):
    monkeypatch.setenv("SLIDECAST_VIDEO_FPS", raw)
    with pytest.raises(ImproperlyConfigured, match=r"SLIDECAST_VIDEO_FPS must be a frame rate"):
        env_frame_rate("SLIDECAST_VIDEO_FPS", 25)


@pytest.mark.parametrize("fps", [0, 61, 29.97, Fraction(-30)])
def test_video_options_refuse_rates_the_encoder_cannot_carry(fps):
    with pytest.raises(ValueError, match="fps must be from 1 to 60"):
        VideoOptions(fps=fps)


def test_video_options_keep_the_rate_exact():
    assert VideoOptions(fps=30).fps == Fraction(30)
    assert VideoOptions(fps=Fraction(30000, 1001)).fps == Fraction(30000, 1001)


@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(30000, 1001), Fraction(25)])
def test_frame_aligned_audio_lasts_whole_frames_without_drift(fps):
    # Many slides one after another (each of two frames or more, the shortest a slide
    # lasts): each must still change on the frame its audio asks for.
    narrations = range(2000, 90000, 997)
    requested = [math.ceil(Fraction(samples) * fps / RATE) for samples in narrations]
    lengths = [frame_aligned_length(samples, RATE, fps) for samples in narrations]
    assert all(length >= samples for length, samples in zip(lengths, narrations, strict=True))
    assert slide_frame_counts([Fraction(n, RATE) for n in lengths], fps) == requested


def test_frame_aligned_length_is_unchanged_for_whole_rates():
    assert frame_aligned_length(22050, 22050, 25) == 22050
    assert frame_aligned_length(1, 22050, 25) == 882
    assert frame_aligned_length(883, 22050, 25) == 1764


def test_keyframe_batches_bound_each_encoder_and_use_every_core():
    batches = keyframe_batches(200, 2)
    assert [i for batch in batches for i in batch] == list(range(200))
    assert max(len(batch) for batch in batches) <= IMAGES_PER_ENCODE
    assert keyframe_batches(3, 2) == [range(0, 2), range(2, 3)]


@pytest.mark.parametrize(
    "fps", [Fraction(24), Fraction(24000, 1001), Fraction(30000, 1001), Fraction(30), Fraction(60)]
)
def test_video_plays_at_its_frame_rate_and_changes_slides_with_the_audio(tmp_path: Path, fps):
    # Audio lengths that are not whole frames at any of these rates.
    samples = {"red": 28_700, "blue": 19_900, "green": 24_300}
    clips = [make_clip(tmp_path, color, count) for color, count in samples.items()]
    options = VideoOptions(width=160, height=90, fps=fps)
    video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)

    info = ffprobe(video.path)
    stream = next(s for s in info["streams"] if s["codec_type"] == "video")
    rational = f"{fps.numerator}/{fps.denominator}"
    assert stream["r_frame_rate"] == stream["avg_frame_rate"] == rational
    assert sps_frame_rate(video.path) == fps

    audio_ends = list(accumulate(samples.values()))
    total_audio = Fraction(audio_ends[-1], RATE)
    counts = slide_frame_counts([Fraction(n, RATE) for n in samples.values()], fps)
    assert int(stream["nb_read_frames"]) == video.frame_count == sum(counts)
    assert abs(Fraction(stream["duration"]) - total_audio) < 1 / fps
    assert video.duration == pytest.approx(float(total_audio), abs=float(1 / fps))

    times = packet_times(video.path)
    assert times == [frame / fps for frame in range(len(times))]  # constant rate, no drift
    colors = frame_colors(video.path)
    boundaries = [0, *accumulate(counts)][:-1]
    assert [colors[b] for b in boundaries] == list(samples)
    assert [colors[b - 1] for b in boundaries[1:]] == list(samples)[:-1]
    for boundary, audio_end in zip(boundaries[1:], audio_ends[:-1], strict=True):
        # The change is shown on the frame nearest the moment the next slide's audio starts.
        assert abs(times[boundary] - Fraction(audio_end, RATE)) <= 1 / (2 * fps)
    assert video.slide_starts == tuple(float(b / fps) for b in boundaries)


@pytest.mark.parametrize(
    ("width", "height", "fps", "levels"),
    [(3840, 2160, Fraction(60), {52}), (1920, 1080, Fraction(25), {40, 41})],
)
def test_level_fits_the_frame_size_and_rate(tmp_path: Path, width, height, fps, levels):
    clips = [make_clip(tmp_path, "red", 22_050), make_clip(tmp_path, "blue", 15_435)]
    options = VideoOptions(width=width, height=height, fps=fps)
    video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    stream = next(s for s in ffprobe(video.path)["streams"] if s["codec_type"] == "video")
    assert stream["level"] in levels
    assert (stream["width"], stream["height"]) == (width, height)
    assert stream["r_frame_rate"] == f"{fps.numerator}/{fps.denominator}"
    assert abs(Fraction(stream["duration"]) - Fraction(22_050 + 15_435, RATE)) < 1 / fps
