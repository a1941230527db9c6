"""probe_media: what it reads from real files, and the sentence it refuses each bad upload with."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psutil
import pytest

from media_pipeline import probe as probe_module
from media_pipeline.errors import InvalidMediaError
from media_pipeline.probe import (
    ProbeLimits,
    parse_frame_rate,
    parse_probe,
    probe_media,
)
from media_pipeline.tools import find_ffmpeg
from media_pipeline.units import format_bytes, format_duration

AV = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi",
      "-i", "sine=frequency=440:sample_rate=48000", "-t", "2"]  # fmt: skip
TONE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3"]
NOT_MEDIA = "is not an audio or video file Slidecast can read"
FAST_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]


def ffmpeg(*args: str | Path) -> None:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", *map(str, args)], check=True)


def cut(source: Path, fraction: float, name: str) -> Path:
    """Return a copy of the file's first part, as an interrupted upload leaves it."""
    data = source.read_bytes()
    length = int(len(data) * fraction) & ~1  # even, so a WAV stops at a whole sample
    target = source.with_name(name)
    target.write_bytes(data[:length])
    return target


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("probe")
    files = {name: folder / name for name in (
        "faststart.mp4", "moov_at_end.mp4", "tone.wav", "tone.mp3", "still.png", "still.jpg",
        "cover.mp3", "rotated.mp4", "talk.mkv",
    )}  # fmt: skip
    ffmpeg(*AV, *FAST_H264, "-movflags", "+faststart", files["faststart.mp4"])
    ffmpeg(*AV, *FAST_H264, files["moov_at_end.mp4"])
    ffmpeg(*TONE, files["tone.wav"])
    ffmpeg(*TONE, files["tone.mp3"])
    for still in ("still.png", "still.jpg"):
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180", "-frames:v", "1", files[still])
    ffmpeg("-i", files["tone.mp3"], "-i", files["still.png"], "-map", "0", "-map", "1",
           "-c", "copy", "-disposition:v", "attached_pic", files["cover.mp3"])  # fmt: skip
    # A phone's portrait video: stored landscape, shown turned by its display matrix.
    ffmpeg("-i", files["faststart.mp4"], "-c", "copy", "-metadata:s:v:0", "rotate=90",
           files["rotated.mp4"])  # fmt: skip
    ffmpeg(*AV, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus",
           "-metadata:s:a:0", "language=deu", files["talk.mkv"])  # fmt: skip
    return files


def test_a_video_with_sound_is_described(media):
    info = probe_media(media["faststart.mp4"])

    assert "mp4" in info.format_name
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.size_bytes == media["faststart.mp4"].stat().st_size
    assert info.bit_rate and info.bit_rate > 0
    assert (info.video.codec, info.video.width, info.video.height) == ("h264", 320, 180)
    assert info.video.frame_rate == pytest.approx(25)
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 48000, 1)
    summary = json.loads(json.dumps(info.as_dict()))
    assert summary["has_video"] and summary["has_audio"]
    assert [stream["kind"] for stream in summary["streams"]] == ["video", "audio"]


@pytest.mark.parametrize("name", ["tone.wav", "tone.mp3", "cover.mp3"])
def test_audio_files_have_audio_and_no_video(media, name):
    info = probe_media(media[name])

    assert info.has_audio and not info.has_video
    assert info.duration == pytest.approx(3.0, abs=0.1)


def test_cover_art_is_kept_as_an_attached_picture_not_a_video(media):
    info = probe_media(media["cover.mp3"])

    assert [(s.kind, s.attached_picture) for s in info.streams] == [
        ("audio", False), ("video", True),
    ]  # fmt: skip


def test_a_rotated_phone_video_reports_its_upright_size(media):
    info = probe_media(media["rotated.mp4"])

    assert (info.video.width, info.video.height) == (180, 320)
    # Either orientation fits the limits: portrait 180x320 within landscape 320x180.
    assert probe_media(media["rotated.mp4"], limits=ProbeLimits(max_width=320, max_height=180))


def test_language_and_matroska_durations_are_read(media):
    info = probe_media(media["talk.mkv"])

    assert info.audio.language == "deu"
    assert info.video.language == ""
    assert info.audio.duration == pytest.approx(2.0, abs=0.1)  # from the DURATION tag


def test_an_empty_file_is_refused_by_its_users_name(tmp_path):
    empty = tmp_path / "upload-1234"
    empty.touch()

    with pytest.raises(InvalidMediaError, match=r"^talk\.mp4 is empty\.$"):
        probe_media(empty, name="talk.mp4")


def test_a_file_over_the_size_limit_is_refused_before_ffprobe_runs(tmp_path, monkeypatch):
    huge = tmp_path / "huge.mp4"
    with huge.open("wb") as sparse:
        sparse.truncate(int(3.1 * 1024**3))
    monkeypatch.setattr(probe_module, "run_capture", pytest.fail)

    with pytest.raises(InvalidMediaError) as refused:
        probe_media(huge)

    assert refused.value.message == (
        "huge.mp4 is 3.1 GB; the limit is 2 GB (SLIDECAST_MEDIA_MAX_MB)."
    )
    assert refused.value.permanent and refused.value.code == "invalid_media"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"Dear team,\nthe slides are attached.\n",
            "is not an audio or video file Slidecast can read",
        ),
        (os.urandom(4096), "is not an audio or video file Slidecast can read"),
        (b"1\n00:00:00,000 --> 00:00:01,000\nHello\n", "has no audio or video in it"),
    ],
    ids=["text", "random-bytes", "subtitles-only"],
)
def test_files_that_are_not_media_are_refused(tmp_path, content, message):
    path = tmp_path / "upload"
    path.write_bytes(content)

    with pytest.raises(InvalidMediaError, match=f"^notes.srt {message}"):
        probe_media(path, name="notes.srt")


@pytest.mark.parametrize("name", ["still.png", "still.jpg"])
def test_still_images_are_refused(media, name):
    with pytest.raises(InvalidMediaError, match=f"{name} is a still image, not audio or video"):
        probe_media(media[name])


@pytest.mark.parametrize(
    "playlist",
    ["#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{}\n#EXT-X-ENDLIST\n",
     "ffconcat version 1.0\nfile '{}'\n"],
    ids=["hls", "ffconcat"],
)  # fmt: skip
def test_a_playlist_pointing_at_other_files_is_refused(media, tmp_path, playlist):
    upload = tmp_path / "talk.mp4"
    upload.write_text(playlist.format(media["faststart.mp4"]))

    # ffconcat refuses an absolute path itself, before Slidecast sees it is a playlist.
    with pytest.raises(InvalidMediaError, match="^talk.mp4 is (a playlist|not an audio or video)"):
        probe_media(upload)


def test_a_recording_over_the_duration_limit_is_refused(media):
    limits = ProbeLimits(max_duration_seconds=1)

    with pytest.raises(InvalidMediaError) as refused:
        probe_media(media["tone.wav"], limits=limits)

    assert refused.value.message == (
        "tone.wav is 3 s long; the limit is 1 s (SLIDECAST_MEDIA_MAX_DURATION_SECONDS)."
    )


def test_a_video_larger_than_the_limit_is_refused(media):
    limits = ProbeLimits(max_width=160, max_height=90)

    with pytest.raises(InvalidMediaError, match="320×180 video; the largest .* is 160×90"):
        probe_media(media["faststart.mp4"], limits=limits)


@pytest.mark.parametrize(
    ("name", "fraction"),
    [
        ("faststart.mp4", 0.5),
        ("faststart.mp4", 0.95),
        ("moov_at_end.mp4", 0.5),
        ("tone.wav", 0.5),
        ("tone.mp3", 0.5),
    ],
)
def test_files_cut_short_are_refused(media, name, fraction):
    truncated = cut(media[name], fraction, f"cut-{fraction}-{name}")

    with pytest.raises(InvalidMediaError, match=f"^{name} is incomplete: it ends early"):
        probe_media(truncated, name=name)


def test_a_hanging_ffprobe_is_stopped_and_refused(tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "ffmpeg").symlink_to(find_ffmpeg())
    hanging = tools / "ffprobe"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    hanging.chmod(0o755)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\0" * 100)

    with pytest.raises(InvalidMediaError, match="took longer than 0.5 seconds"):
        probe_media(path, ffmpeg=str(tools / "ffmpeg"), limits=ProbeLimits(timeout_seconds=0.5))

    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


def test_a_stop_check_stops_probing(media):
    def stop() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        probe_media(media["faststart.mp4"], check=stop)


def test_recorded_ffprobe_output_is_parsed():
    data = {
        "format": {"format_name": "matroska,webm", "bit_rate": "N/A"},
        "streams": [
            {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 1440,
             "height": 1080, "sample_aspect_ratio": "4:3", "avg_frame_rate": "0/0",
             "r_frame_rate": "30000/1001", "side_data_list": [{"rotation": -90}],
             "tags": {"DURATION": "00:01:02.500000000"}},
            {"index": 1, "codec_type": "audio", "codec_name": "opus", "sample_rate": "48000",
             "channels": 2, "duration": "61.9", "tags": {"language": "und"}},
            {"index": 2, "codec_type": "attachment", "codec_name": "ttf"},
        ],
    }  # fmt: skip

    info = parse_probe(data, size_bytes=1000)

    video, audio, font = info.streams
    assert (video.width, video.height) == (1080, 1920)  # 1440 * 4/3 = 1920 wide, turned
    assert video.frame_rate == pytest.approx(29.97, abs=0.01)
    assert video.duration == 62.5 and info.duration == 62.5
    assert (audio.language, audio.channels, audio.duration) == ("", 2, 61.9)
    assert font.kind == "attachment" and info.bit_rate is None


def test_frame_rates_sizes_and_durations_are_written_for_people():
    assert parse_frame_rate("30000/1001") == pytest.approx(29.97, abs=0.001)
    assert parse_frame_rate("25") == 25.0
    assert parse_frame_rate("0/0") is None and parse_frame_rate("") is None
    assert format_bytes(int(3.1 * 1024**3)) == "3.1 GB"
    assert format_bytes(2 * 1024**3) == "2 GB"
    assert format_bytes(2 * 1024**3 + 1, up=True) == "2.1 GB"
    assert format_bytes(300 * 1024**2) == "300 MB"
    assert format_duration(5 * 3600 + 2 * 60) == "5 h 2 min"
    assert format_duration(4 * 3600) == "4 h"
    assert format_duration(4 * 3600 + 10, up=True) == "4 h 1 min"
    assert format_duration(754) == "12 min 34 s"
    assert format_duration(45) == "45 s"


def test_a_text_file_named_mp4_is_not_media_rather_than_cut_short(tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("These are my meeting notes, not a video.\n" * 50)
    with pytest.raises(InvalidMediaError, match="notes.mp4 is not an audio or video file"):
        probe_media(notes, name="notes.mp4")
