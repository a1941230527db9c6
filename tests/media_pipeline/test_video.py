from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media_pipeline.audio import write_wav
from media_pipeline.h264 import StillPicture, UnsupportedStream, split_access_units
from media_pipeline.tools import find_ffmpeg
from media_pipeline.video import (
    IMAGES_PER_ENCODE,
    SlideClip,
    VideoOptions,
    assemble_video,
    slide_frame_counts,
)
from tests.media import ffprobe, strict_decode

FPS = 25
RATE = 22050


def frame_color(video: Path, frame_number: int) -> tuple[int, int, int]:
    """Return the average colour of one decoded frame."""
    result = subprocess.run(
        [
            find_ffmpeg(),
            "-v",
            "error",
            "-i",
            str(video),
            "-vf",
            f"select=eq(n\\,{frame_number}),scale=16:9",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    pixels = np.frombuffer(result.stdout, dtype=np.uint8).reshape(-1, 3)
    return tuple(int(v) for v in pixels.mean(axis=0))


def make_clip(tmp_path: Path, name: str, color: str, seconds: float) -> SlideClip:
    image = tmp_path / f"{name}.png"
    Image.new("RGB", (800, 450), color).save(image)
    audio = tmp_path / f"{name}.wav"
    tone = (np.sin(np.arange(int(seconds * RATE)) * 0.05) * 8000).astype(np.int16)
    write_wav(audio, tone, RATE)
    return SlideClip(image, audio)


def test_frame_counts_put_each_change_on_the_nearest_frame():
    assert slide_frame_counts([1.0, 0.47, 2.02], 25) == [25, 12, 50]
    assert sum(slide_frame_counts([0.333] * 30, 25)) == round(0.333 * 30 * 25)


def test_video_has_h264_and_aac_and_lasts_as_long_as_the_narration(tmp_path: Path):
    # Slide lengths that are not whole frames, and longer than one two-second GOP.
    clips = [
        make_clip(tmp_path, "red", "#ff0000", 2.53),
        make_clip(tmp_path, "blue", "#0000ff", 4.71),
        make_clip(tmp_path, "green", "#00ff00", 1.03),
    ]
    options = VideoOptions(width=640, height=360, fps=FPS)
    video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    info = ffprobe(video.path)
    streams = {stream["codec_type"]: stream for stream in info["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert streams["audio"]["codec_name"] == "aac"
    assert (streams["video"]["width"], streams["video"]["height"]) == (640, 360)
    assert streams["video"]["avg_frame_rate"] == streams["video"]["r_frame_rate"] == "25/1"
    narration = 2.53 + 4.71 + 1.03
    assert int(streams["video"]["nb_read_frames"]) == round(narration * FPS)
    assert float(info["format"]["duration"]) == pytest.approx(narration, abs=1 / FPS)
    assert video.slide_starts == (0.0, 2.52, 7.24)


def test_slide_changes_fall_on_the_audio_boundary_frame(tmp_path: Path):
    clips = [
        make_clip(tmp_path, "red", "#ff0000", 2.4),
        make_clip(tmp_path, "blue", "#0000ff", 2.0),
    ]
    options = VideoOptions(width=320, height=180, fps=FPS)
    video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    boundary = round(2.4 * FPS)  # frame 60 is the first blue one
    red, blue = frame_color(video.path, boundary - 1), frame_color(video.path, boundary)
    assert red[0] > 200 and red[2] < 60
    assert blue[2] > 200 and blue[0] < 60


def test_moov_atom_comes_first_for_streaming(tmp_path: Path):
    clips = [make_clip(tmp_path, "red", "#ff0000", 1.0)]
    video = assemble_video(
        clips, tmp_path / "out.mp4", tmp_path / "work", VideoOptions(width=320, height=180)
    )
    head = video.path.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 4096)


def test_repeated_frames_decode_cleanly_and_equal_their_keyframe(tmp_path: Path):
    clips = [
        make_clip(tmp_path, "red", "#ff0000", 3.1),  # longer than one GOP: keyframe repeats
        make_clip(tmp_path, "blue", "#0000ff", 0.6),
    ]
    options = VideoOptions(width=640, height=360, fps=FPS, gop_seconds=1.0)
    video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    strict = strict_decode(video.path)
    assert strict.returncode == 0, strict.stderr
    hashes = subprocess.run(
        [find_ffmpeg(), "-v", "error", "-i", str(video.path), "-an", "-f", "framemd5", "-"],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    frames = [line.split(",")[-1].strip() for line in hashes.splitlines() if line[:1] == "0"]
    runs = [frames.count(digest) for digest in dict.fromkeys(frames)]
    # The slides' audio lasts 3.7 s exactly: 92.5 frames, a tie a float sum would not see.
    assert runs == slide_frame_counts([Fraction("3.1"), Fraction("0.6")], FPS) == [78, 14]


def test_slide_ending_on_a_gop_boundary_ends_with_a_copy_not_a_keyframe(tmp_path: Path):
    clips = [
        make_clip(tmp_path, "red", "#ff0000", 2.04),  # 51 frames: frame 50 starts a GOP
        make_clip(tmp_path, "blue", "#0000ff", 1.0),
    ]
    options = VideoOptions(width=320, height=180, fps=FPS, gop_seconds=2.0)
    video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    ffprobe_bin = str(Path(find_ffmpeg()).with_name("ffprobe"))
    frames = subprocess.run(
        [ffprobe_bin, "-v", "error", "-select_streams", "v", "-show_entries",
         "frame=pict_type", "-of", "json", str(video.path)],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    kinds = [frame["pict_type"] for frame in json.loads(frames)["frames"]]
    assert len(kinds) == 76
    assert [i for i, kind in enumerate(kinds) if kind == "I"] == [0, 51]


def test_keyframe_sequence_allows_the_reference_the_copies_need(tmp_path: Path):
    from media_pipeline.video import _encode_keyframes

    images = [make_clip(tmp_path, name, color, 1.0).image for name, color in
              (("red", "#ff0000"), ("blue", "#0000ff"))]  # fmt: skip
    out = tmp_path / "keys.h264"
    _encode_keyframes(find_ffmpeg(), images, out, VideoOptions(width=320, height=180))
    stills = [StillPicture.from_stream(p) for p in split_access_units(out.read_bytes())]
    assert len(stills) == 2
    assert all(still.sps.max_num_ref_frames >= 1 for still in stills)


def encode_one_frame(tmp_path: Path, x264_params: str) -> bytes:
    """Return a one-frame Annex B stream x264 wrote with the given parameters."""
    out = tmp_path / "one.h264"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=128x96:r=25",
         "-frames:v", "1", "-c:v", "libx264", "-x264-params", x264_params,
         "-f", "h264", str(out)],
        capture_output=True, check=True,
    )  # fmt: skip
    return out.read_bytes()


@pytest.mark.parametrize(
    ("x264_params", "message"),
    [
        ("cabac=0:weightp=0:interlaced=1", "interlaced"),
        ("cabac=0:weightp=0:slices=4:threads=1", "several slices"),
        ("cabac=1:weightp=0", "cabac=0"),
        ("cabac=0:weightp=0:pic-struct=1", "picture timing"),
        ("cabac=0:weightp=0:nal-hrd=vbr:vbv-maxrate=500:vbv-bufsize=500", "HRD"),
    ],
)
def test_keyframes_the_copies_cannot_follow_are_refused(tmp_path: Path, x264_params, message):
    stream = encode_one_frame(tmp_path, x264_params)
    # UnsupportedStream: assemble_video then has x264 encode every frame (test_video_fallback).
    with pytest.raises(UnsupportedStream, match=message):
        [StillPicture.from_stream(picture) for picture in split_access_units(stream)]


def test_keyframe_sps_states_the_rate_it_was_encoded_at(tmp_path: Path):
    stream = encode_one_frame(tmp_path, "cabac=0:weightp=0")
    assert StillPicture.from_stream(split_access_units(stream)[0]).sps.frame_rate == 25


def test_more_slides_than_one_encoder_takes_keep_their_order(tmp_path: Path):
    count = IMAGES_PER_ENCODE + 2
    grey = [round(255 * i / (count - 1)) for i in range(count)]
    clips = []
    for index, level in enumerate(grey):
        clip = make_clip(tmp_path, f"slide{index}", f"rgb({level},{level},{level})", 0.2)
        clips.append(clip)
    options = VideoOptions(width=160, height=90, fps=FPS, parallel_encoders=1)
    video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    starts = [round(start * FPS) for start in video.slide_starts]
    shown = [frame_color(video.path, start)[0] for start in starts]
    assert all(abs(seen - level) <= 8 for seen, level in zip(shown, grey, strict=True))


class Stopped(Exception):
    pass


def test_a_stop_before_any_encoding_writes_nothing(tmp_path: Path):
    def stop() -> None:
        raise Stopped

    clips = [make_clip(tmp_path, "red", "#ff0000", 1.0)]
    options = VideoOptions(width=160, height=90)
    with pytest.raises(Stopped):
        assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options, check=stop)
    assert not (tmp_path / "out.mp4").exists()


def test_a_stop_once_the_slides_are_encoded_skips_writing_the_mp4(tmp_path: Path):
    work = tmp_path / "work"

    def stop_after_encoding() -> None:
        if (work / "video.h264").exists():
            raise Stopped

    clips = [make_clip(tmp_path, "red", "#ff0000", 1.0), make_clip(tmp_path, "blue", "#00f", 1.0)]
    options = VideoOptions(width=160, height=90)
    with pytest.raises(Stopped):
        assemble_video(clips, tmp_path / "out.mp4", work, options, check=stop_after_encoding)
    assert not (tmp_path / "out.mp4").exists()
