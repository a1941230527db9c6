"""Transcoding uploads (codecs, sizes, aspects, captions), the encoder choice, and run_ffmpeg's
progress, cancelling and clean-up."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from media_pipeline import encoders
from media_pipeline import transcode as transcode_module
from media_pipeline.encoders import (
    CODECS,
    EncoderChoice,
    choose_encoder,
    codec_support,
    parse_encoder_list,
    usable_hardware_encoders,
)
from media_pipeline.errors import EncoderUnavailableError, InvalidMediaError, MediaProcessingError
from media_pipeline.ffmpeg_run import last_out_time, run_ffmpeg
from media_pipeline.probe import MediaInfo, StreamInfo, probe_media
from media_pipeline.tools import find_ffmpeg
from media_pipeline.transcode import TranscodeSpec, output_frame_size, transcode
from tests.media import ffprobe

PROBED_CODEC = {"h264": "h264", "h265": "hevc", "vp9": "vp9", "av1": "av1"}


def ffmpeg(*args: str | Path) -> None:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", *map(str, args)], check=True)


def lavfi_clip(path: Path, *, size: str, seconds: float, rate: int = 25) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}", "-f", "lavfi",
           "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", path)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, tuple[Path, MediaInfo]]:
    folder = tmp_path_factory.mktemp("sources")
    made = {
        "small": lavfi_clip(folder / "small.mp4", size="320x180", seconds=2),
        "tiny": lavfi_clip(folder / "tiny.mp4", size="160x90", seconds=1, rate=5),
        "tone": folder / "tone.wav",
    }
    ffmpeg("-f", "lavfi", "-i", "sine=sample_rate=16000", "-t", "1", made["tone"])
    return {name: (path, probe_media(path)) for name, path in made.items()}


def gray_frame(path: Path, at: float = 1.0) -> np.ndarray:
    """Return the luma of the frame shown at `at` seconds, as rows of pixels."""
    probed = ffprobe(path)["streams"][0]
    raw = subprocess.run(
        [find_ffmpeg(), "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(probed["height"], probed["width"]).astype(float)


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "out"


def sharpness(pixels: np.ndarray) -> float:
    """Return how much neighbouring pixels differ: low for a blurred picture."""
    return float(np.abs(np.diff(pixels, axis=1)).mean())


def children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


@pytest.mark.parametrize("codec", CODECS)
def test_each_available_codec_writes_a_playable_file(clips, out, codec):
    if not codec_support()[codec]:
        pytest.skip(f"this ffmpeg has no {codec} encoder")
    source, info = clips["small"]

    result = transcode(source, out, TranscodeSpec(codec=codec), info=info)

    probed = ffprobe(result.path)
    video, audio = probed["streams"]
    assert (video["codec_name"], video["width"], video["height"]) == (PROBED_CODEC[codec], 320, 180)
    assert video["pix_fmt"] == "yuv420p"
    assert float(probed["format"]["duration"]) == pytest.approx(2.0, abs=0.2)
    assert (result.width, result.height, result.codec) == (320, 180, codec)
    assert result.duration == pytest.approx(2.0, abs=0.2)
    assert result.size_bytes == result.path.stat().st_size and not result.hardware
    if codec == "vp9":
        assert result.path.suffix == ".webm" and audio["codec_name"] == "opus"
    else:
        assert result.path.suffix == ".mp4" and audio["codec_name"] == "aac"
        data = result.path.read_bytes()
        assert data.find(b"moov") < data.find(b"mdat")  # +faststart: plays while loading
    if codec == "h265":
        assert video["codec_tag_string"] == "hvc1"
    assert [p.name for p in out.iterdir()] == [result.path.name]  # no partial file left


@pytest.mark.parametrize("encoder", ["libaom-av1", "librav1e"])
def test_the_fallback_av1_encoders_work_too(clips, out, monkeypatch, encoder):
    if encoder not in encoders.available_encoders():
        pytest.skip(f"this ffmpeg has no {encoder}")
    choice = EncoderChoice("av1", encoder, False, "mp4")
    monkeypatch.setattr(transcode_module, "choose_encoder", lambda *a, **k: choice)
    source, info = clips["tiny"]

    result = transcode(source, out, TranscodeSpec(codec="av1", quality="small"), info=info)

    assert ffprobe(result.path)["streams"][0]["codec_name"] == "av1"
    assert result.encoder == encoder


def test_vertical_video_is_1080x1920_over_a_blurred_copy_with_steady_progress(clips, out):
    source, info = clips["small"]
    progress: list[float] = []
    spec = TranscodeSpec(aspect="9:16", resolution="1080p", quality="small")

    result = transcode(source, out, spec, info=info, on_progress=progress.append)

    assert (result.width, result.height) == (1080, 1920)
    frame = gray_frame(result.path)
    above, picture = frame[:600], frame[700:1200]  # the 1080x608 picture starts at row 656
    assert above.mean() > 30 and above.std() > 5  # an image, not black or a flat colour
    assert sharpness(above) < sharpness(picture) / 3  # and a blurred one
    assert len(progress) >= 3 and progress == sorted(progress) and progress[-1] == 1.0
    assert all(0 <= value <= 1 for value in progress)


def test_a_square_video_on_a_plain_colour(clips, out):
    source, info = clips["small"]

    result = transcode(source, out, TranscodeSpec(aspect="1:1", background="#808080"),
                       info=info)  # fmt: skip

    assert (result.width, result.height) == (180, 180)
    band = gray_frame(result.path)[:36]  # the 180x102 picture starts at row 38
    assert band.std() < 2 and band.mean() == pytest.approx(128, abs=4)


def test_4k_output_from_a_tiny_input(clips, out):
    source, info = clips["tiny"]

    result = transcode(source, out, TranscodeSpec(resolution="4k", quality="small"),
                       info=info)  # fmt: skip

    video = ffprobe(result.path)["streams"][0]
    assert (video["width"], video["height"]) == (3840, 2160)
    assert result.duration == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize("suffix", [".srt", ".vtt"])
def test_burned_captions_mark_the_bottom_of_the_picture(clips, tmp_path, suffix):
    source, info = clips["small"]
    # Every character filtergraphs treat specially, in the folder the captions live in.
    folder = tmp_path / "it's: [a], b; c"
    folder.mkdir()
    captions = folder / f"talk{suffix}"
    if suffix == ".srt":
        captions.write_text("1\n00:00:00,000 --> 00:00:02,000\nWelcome to the quarterly review\n")
    else:
        captions.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nWelcome to the quarterly review\n")

    plain = transcode(source, tmp_path / "plain", TranscodeSpec(), info=info)
    captioned = transcode(source, tmp_path / "captioned", TranscodeSpec(captions=captions),
                          info=info)  # fmt: skip

    difference = np.abs(gray_frame(plain.path) - gray_frame(captioned.path))
    assert difference[135:].mean() > 5  # the caption, above a 7 % bottom margin
    assert difference[:90].mean() < 1


def test_a_frame_rate_can_be_set(clips, out):
    source, info = clips["small"]

    result = transcode(source, out, TranscodeSpec(frame_rate=10), info=info)

    assert ffprobe(result.path)["streams"][0]["avg_frame_rate"] == "10/1"


def test_cancelling_kills_ffmpeg(clips, out):
    source, info = clips["small"]
    started = time.monotonic()
    seen: set[int] = set()

    def cancel_after_half_a_second() -> None:
        seen.update(children())
        if time.monotonic() - started > 0.5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transcode(source, out, TranscodeSpec(resolution="4k", codec="h265"), info=info,
                  check=cancel_after_half_a_second)  # fmt: skip

    assert time.monotonic() - started < 3
    assert seen and not any(psutil.pid_exists(pid) for pid in seen)
    assert list(out.iterdir()) == []


def test_a_failing_hardware_encoder_falls_back_to_the_cpu(clips, out, monkeypatch):
    if "h264_nvenc" in usable_hardware_encoders():
        pytest.skip("NVENC works here: nothing to fall back from")
    picks = iter([EncoderChoice("h264", "h264_nvenc", True, "mp4"), choose_encoder("h264")])
    monkeypatch.setattr(transcode_module, "choose_encoder", lambda *a, **k: next(picks))
    source, info = clips["small"]

    result = transcode(source, out, TranscodeSpec(), info=info)

    assert (result.encoder, result.hardware) == ("libx264", False)


@pytest.mark.parametrize(
    "spec",
    [
        TranscodeSpec(codec="mpeg2"), TranscodeSpec(resolution="8k"), TranscodeSpec(aspect="4:3"),
        TranscodeSpec(background="blue"), TranscodeSpec(quality="best"),
        TranscodeSpec(frame_rate=0), TranscodeSpec(frame_rate=120),
        TranscodeSpec(audio_bitrate_kbps=8), TranscodeSpec(captions=Path("notes.txt")),
    ],
)  # fmt: skip
def test_a_bad_spec_is_refused_before_ffmpeg_runs(clips, out, spec):
    source, info = clips["small"]

    with pytest.raises(ValueError):
        transcode(source, out, spec, info=info)

    assert not out.exists()


def test_audio_alone_cannot_be_transcoded(clips, out):
    source, info = clips["tone"]

    with pytest.raises(InvalidMediaError, match="no video"):
        transcode(source, out, TranscodeSpec(), info=info)


def fake_info(width: int, height: int) -> MediaInfo:
    video = StreamInfo(0, "video", "h264", width, height, 25.0, None, None, "", 10.0)
    return MediaInfo("mov,mp4", 10.0, 1000, None, (video,))


@pytest.mark.parametrize(
    ("source", "resolution", "aspect", "expected"),
    [
        ((1920, 1080), "1080p", "9:16", (1080, 1920)),
        ((1920, 1080), "1080p", "1:1", (1080, 1080)),
        ((1280, 720), "1080p", "16:9", (1920, 1080)),
        ((320, 180), "4k", "source", (3840, 2160)),
        ((1080, 1920), "720p", "source", (720, 1280)),
        ((1440, 1080), "720p", "source", (960, 720)),
        ((321, 181), None, "source", (320, 180)),
        ((1920, 1080), None, "9:16", (1080, 1920)),
    ],
)
def test_output_frame_sizes(source, resolution, aspect, expected):
    spec = TranscodeSpec(resolution=resolution, aspect=aspect)

    assert output_frame_size(fake_info(*source), spec) == expected


RECORDED_ENCODERS = """Encoders:
 V..... = Video
 A..... = Audio
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 V....D libx265              libx265 H.265 / HEVC (codec hevc)
 V....D libvpx-vp9           libvpx VP9 (codec vp9)
 A..... aac                  AAC (Advanced Audio Coding)
"""


def test_the_encoder_list_is_parsed():
    assert parse_encoder_list(RECORDED_ENCODERS) == {
        "libx264", "h264_nvenc", "libx265", "libvpx-vp9", "aac",
    }  # fmt: skip


def test_a_codec_without_an_encoder_is_refused_naming_what_can_be_encoded(monkeypatch):
    monkeypatch.setattr(encoders, "available_encoders",
                        lambda ffmpeg=None: parse_encoder_list(RECORDED_ENCODERS))  # fmt: skip
    monkeypatch.setattr(encoders, "usable_hardware_encoders", lambda ffmpeg=None: {"h264_nvenc"})

    with pytest.raises(EncoderUnavailableError) as refused:
        choose_encoder("av1")

    assert refused.value.message == (
        "This host's ffmpeg cannot encode AV1; it can encode H.264, H.265, VP9."
    )
    assert codec_support()["h264"] == ["h264_nvenc", "libx264"]
    assert choose_encoder("h264") == EncoderChoice("h264", "h264_nvenc", True, "mp4")
    assert choose_encoder("h264", allow_hardware=False).encoder == "libx264"
    with pytest.raises(EncoderUnavailableError, match="choose one of h264, h265, vp9, av1"):
        choose_encoder("mpeg2")


def test_listed_nvenc_encoders_without_a_gpu_are_not_usable():
    if Path("/dev/nvidia0").exists():
        pytest.skip("this machine has an NVIDIA GPU")
    assert "h264_nvenc" not in usable_hardware_encoders()
    assert choose_encoder("h264").encoder == "libx264"


def test_run_ffmpeg_reports_progress_and_ends_at_one():
    progress: list[float] = []

    run_ffmpeg(["-re", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=25:duration=1.2",
                "-f", "null", "-"], duration=1.2, on_progress=progress.append, timeout=30,
               what="Test")  # fmt: skip

    assert len(progress) >= 3 and progress == sorted(progress) and progress[-1] == 1.0


def test_run_ffmpeg_cancel_and_timeout_leave_no_ffmpeg_behind():
    endless = ["-re", "-f", "lavfi", "-i", "testsrc2=size=64x36", "-f", "null", "-"]
    seen: set[int] = set()
    started = time.monotonic()

    def cancel() -> None:
        seen.update(children())
        if time.monotonic() - started > 0.5:
            raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        run_ffmpeg(endless, duration=None, check=cancel, timeout=30, what="Test")
    with pytest.raises(MediaProcessingError, match="^Waiting took longer than 0.5 seconds"):
        run_ffmpeg(endless, duration=None, check=lambda: seen.update(children()), timeout=0.5,
                   what="Waiting")  # fmt: skip

    assert time.monotonic() - started < 4
    assert len(seen) >= 2 and not any(psutil.pid_exists(pid) for pid in seen)


def test_run_ffmpeg_failure_names_the_step_not_the_paths(tmp_path):
    missing = tmp_path / "secret-upload-dir" / "in.mp4"

    with pytest.raises(MediaProcessingError) as failed:
        run_ffmpeg(["-i", missing, "-f", "null", "-"], duration=1, timeout=30, what="Encoding")

    assert failed.value.message.startswith("Encoding failed")
    assert "secret-upload-dir" not in failed.value.message


def test_progress_lines_are_read_in_every_unit():
    assert last_out_time("out_time_us=1500000\nprogress=continue\n") == 1.5
    assert last_out_time("out_time_ms=2500000\n") == 2.5
    assert last_out_time("out_time=00:01:02.250000\nout_time=N/A\n") == 62.25
    assert last_out_time("progress=end\n") is None
