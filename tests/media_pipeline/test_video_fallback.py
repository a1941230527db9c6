"""Where repeated frames cannot be hand-written, the video is still made: x264 encodes them all."""

from __future__ import annotations

import json
import logging
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from media_pipeline import still_video
from media_pipeline import video as video_module
from media_pipeline.h264 import (
    NAL_SPS,
    StillPicture,
    UnsupportedStream,
    nal_units,
    split_access_units,
)
from media_pipeline.tools import find_ffmpeg, run_program
from media_pipeline.video import AssembledVideo, VideoOptions, assemble_video
from tests.media import ffprobe, strict_decode
from tests.media_pipeline.test_frame_rate import frame_colors
from tests.media_pipeline.test_frame_rate import make_clip as make_colour_clip
from tests.media_pipeline.test_video import encode_one_frame, make_clip

FALLBACK = "encoding every frame with x264"


def frame_kinds(video: Path) -> list[str]:
    """Return each decoded frame's picture type (I, P), in order."""
    ffprobe_bin = str(Path(find_ffmpeg()).with_name("ffprobe"))
    out = subprocess.run(
        [ffprobe_bin, "-v", "error", "-select_streams", "v", "-show_entries",
         "frame=pict_type", "-of", "json", str(video)],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    return [frame["pict_type"] for frame in json.loads(out)["frames"]]


def assert_plays(video: AssembledVideo, frames: int, fps: Fraction) -> None:
    """The MP4 decodes without an error, with `frames` frames, as long as they last."""
    strict = strict_decode(video.path)
    assert strict.returncode == 0, strict.stderr
    info = ffprobe(video.path)
    stream = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (stream["codec_name"], stream["field_order"]) == ("h264", "progressive")
    assert int(stream["nb_read_frames"]) == video.frame_count == frames
    assert float(stream["duration"]) == pytest.approx(float(frames / fps), abs=1e-3)
    assert stream["avg_frame_rate"] == f"{fps.numerator}/{fps.denominator}"


@pytest.mark.parametrize(
    ("x264_params", "reason"),
    [
        ("interlaced=1", "interlaced"),
        ("fake-interlaced=1", "interlaced"),
        ("slices=4", "several slices"),
        ("cabac=1", "cabac=0"),
        ("nal-hrd=vbr:vbv-maxrate=500:vbv-bufsize=500", "HRD"),
        ("pic-struct=1", "picture timing"),
        ("keyint=1", "no reference frames"),
    ],
)
def test_keyframes_the_copies_cannot_follow_fall_back_to_x264(
    tmp_path: Path, monkeypatch, caplog, x264_params: str, reason: str
):
    # The pinned options make such keyframes impossible; an override stands for an encoder
    # that ignores or changes them.
    monkeypatch.setattr(
        video_module, "KEYFRAME_X264_PARAMS", f"{video_module.KEYFRAME_X264_PARAMS}:{x264_params}"
    )
    clips = [make_colour_clip(tmp_path, "red", 29106), make_colour_clip(tmp_path, "blue", 20286)]
    # 96 lines: x264 refuses interlaced video whose height is not a multiple of 4.
    options = VideoOptions(width=160, height=96, fps=25, gop_seconds=0.5)
    with caplog.at_level(logging.WARNING, logger="media_pipeline.video"):
        video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    assert not video.skip_frames
    assert any(FALLBACK in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    assert_plays(video, 33 + 23, Fraction(25))
    assert frame_colors(video.path) == ["red"] * 33 + ["blue"] * 23
    # The same keyframes as the copies would have had: every GOP, never a slide's last frame.
    kinds = frame_kinds(video.path)
    assert [i for i, kind in enumerate(kinds) if kind == "I"] == [0, 12, 24, 33, 45]


def test_pinned_options_outweigh_encoder_flags_so_copies_are_still_written(
    tmp_path: Path, monkeypatch
):
    def keyframes_with_other_defaults(args, **kwargs):
        args = list(args)
        if "libx264" in args:
            at = args.index("libx264") + 1
            args[at:at] = ["-flags", "+ildct+ilme", "-x264opts", "slices=4:cabac=1:weightp=2"]
        return run_program(args, **kwargs)

    monkeypatch.setattr(still_video, "run_program", keyframes_with_other_defaults)
    clips = [make_clip(tmp_path, "red", "#ff0000", 1.0), make_clip(tmp_path, "blue", "#00f", 1.0)]
    options = VideoOptions(width=160, height=90, fps=25)
    video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    assert video.skip_frames
    assert_plays(video, 50, Fraction(25))


def test_a_slide_of_one_frame_falls_back_to_x264(tmp_path: Path, monkeypatch, caplog):
    # slide_frame_counts gives every slide two frames at least; a one-frame slide would put
    # two keyframes side by side, which the copies never do.
    monkeypatch.setattr(video_module, "slide_frame_counts", lambda durations, fps: [1, 30])
    clips = [make_colour_clip(tmp_path, "red", 882), make_colour_clip(tmp_path, "blue", 26460)]
    options = VideoOptions(width=160, height=90, fps=25)
    with caplog.at_level(logging.WARNING, logger="media_pipeline.video"):
        video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    assert not video.skip_frames
    assert any("one frame" in record.getMessage() for record in caplog.records)
    assert_plays(video, 31, Fraction(25))
    assert frame_colors(video.path) == ["red"] + ["blue"] * 30


def test_both_writers_show_the_same_slides_on_the_same_frames(tmp_path: Path):
    ntsc = Fraction(30000, 1001)
    clips = [
        make_colour_clip(tmp_path, "red", 37485),  # 1.7 s: longer than a GOP
        make_colour_clip(tmp_path, "green", 11025),
        make_colour_clip(tmp_path, "blue", 50715),
    ]
    made = {}
    for skip_frames in (True, False):
        options = VideoOptions(
            width=160, height=90, fps=ntsc, gop_seconds=1.0, skip_frames=skip_frames
        )
        out = tmp_path / f"skip-{skip_frames}.mp4"
        video = assemble_video(clips, out, tmp_path / f"work-{skip_frames}", options)
        assert video.skip_frames is skip_frames
        assert_plays(video, video.frame_count, ntsc)
        made[skip_frames] = (video.frame_count, frame_colors(out), frame_kinds(out))
    assert made[True] == made[False]


def with_truncated_sps(stream: bytes) -> bytes:
    """Return the stream with its first SPS cut after the profile byte, where its fields begin."""
    sps = next(unit for unit in nal_units(stream) if unit.nal_type == NAL_SPS)
    return stream[: sps.start + 6] + stream[sps.end :]


def test_parameter_sets_that_cannot_be_read_are_refused_not_misread(tmp_path: Path):
    stream = with_truncated_sps(encode_one_frame(tmp_path, "cabac=0:weightp=0"))
    with pytest.raises(UnsupportedStream, match="could not be read"):
        StillPicture.from_stream(stream)


def test_keyframes_whose_parameter_sets_cannot_be_read_fall_back_to_x264(
    tmp_path: Path, monkeypatch, caplog
):
    # No encoder writes such a stream; a damaged one stands for what the parser can't read.
    monkeypatch.setattr(
        video_module,
        "split_access_units",
        lambda stream: [with_truncated_sps(p) for p in split_access_units(stream)],
    )
    clips = [make_clip(tmp_path, "red", "#ff0000", 0.6), make_clip(tmp_path, "blue", "#00f", 0.6)]
    with caplog.at_level(logging.WARNING, logger="media_pipeline.video"):
        video = assemble_video(
            clips, tmp_path / "out.mp4", tmp_path / "work", VideoOptions(width=160, height=90)
        )
    assert not video.skip_frames
    assert any("could not be read" in record.getMessage() for record in caplog.records)
    assert_plays(video, 30, Fraction(25))
