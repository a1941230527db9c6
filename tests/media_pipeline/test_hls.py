"""HLS ladders: which renditions a source gets, and a ladder players can open and switch in."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from media_pipeline import hls
from media_pipeline.encoders import EncoderChoice, choose_encoder, usable_hardware_encoders
from media_pipeline.errors import InvalidMediaError
from media_pipeline.hls import DEFAULT_LADDER, Rendition, hls_ladder, ladder_for
from media_pipeline.probe import MediaInfo, StreamInfo, ffprobe_path, probe_media
from media_pipeline.tools import find_ffmpeg

TWO_RENDITIONS = [Rendition("360p", 360, 700, 96), Rendition("240p", 240, 400, 64)]


def ffmpeg(*args: str | Path) -> None:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", *map(str, args)], check=True)


def probe_json(*args: str | Path) -> dict:
    result = subprocess.run([ffprobe_path(), "-v", "error", "-of", "json", *map(str, args)],
                            capture_output=True, check=True)  # fmt: skip
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, tuple[Path, MediaInfo]]:
    folder = tmp_path_factory.mktemp("sources")
    talk, silent = folder / "talk.mp4", folder / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi",
           "-i", "sine=frequency=440:sample_rate=48000", "-t", "3", "-c:v", "libx264",
           "-preset", "ultrafast", "-c:a", "aac", talk)  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "2", "-c:v", "libx264",
           "-preset", "ultrafast", silent)  # fmt: skip
    return {"talk": (talk, probe_media(talk)), "silent": (silent, probe_media(silent))}


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "hls"


def master_variants(master: Path) -> list[tuple[dict[str, str], str]]:
    """Return each variant's attributes and URI, as a player reads the master playlist."""
    lines = master.read_text().splitlines()
    variants = []
    for line, uri in zip(lines, lines[1:], strict=False):
        if line.startswith("#EXT-X-STREAM-INF:"):
            pairs = re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1])
            variants.append(({key: value.strip('"') for key, value in pairs}, uri))
    return variants


def test_a_two_rendition_ladder_plays_and_switches(sources, out):
    source, info = sources["talk"]
    progress: list[float] = []

    result = hls_ladder(source, out, info=info, renditions=TWO_RENDITIONS, segment_seconds=1,
                        on_progress=progress.append)  # fmt: skip

    assert result.master == out / "master.m3u8" and result.renditions == TWO_RENDITIONS
    variants = master_variants(result.master)
    assert [(attrs["RESOLUTION"], uri) for attrs, uri in variants] == [
        ("640x360", "360p/index.m3u8"), ("426x240", "240p/index.m3u8"),
    ]  # fmt: skip
    for attrs, _ in variants:
        assert int(attrs["BANDWIDTH"]) > 0
        assert attrs["CODECS"].startswith("avc1.") and "mp4a.40.2" in attrs["CODECS"]
    written = sorted(path for path in out.rglob("*") if path.is_file())
    assert sorted(result.files) == written and result.files[0] == result.master
    for rendition in TWO_RENDITIONS:
        playlist = out / rendition.name / "index.m3u8"
        text = playlist.read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text
        segments = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert len(segments) == 3 and all((playlist.parent / s).is_file() for s in segments)
        # Every segment opens on a keyframe, so a player can switch renditions there.
        for segment in segments:
            first = probe_json("-select_streams", "v", "-show_entries", "packet=flags",
                               "-read_intervals", "%+#1", playlist.parent / segment)  # fmt: skip
            assert first["packets"][0]["flags"].startswith("K")
        duration = probe_json("-show_entries", "format=duration", playlist)["format"]["duration"]
        assert float(duration) == pytest.approx(info.duration, abs=0.5)
    streams = probe_json("-show_entries", "stream=codec_name,width", result.master)["streams"]
    assert {(s["codec_name"], s.get("width")) for s in streams} == {
        ("h264", 640), ("h264", 426), ("aac", None),
    }  # fmt: skip
    assert progress and progress == sorted(progress) and progress[-1] == 1.0


def test_a_video_without_sound_gets_a_video_only_ladder(sources, out):
    source, info = sources["silent"]

    result = hls_ladder(source, out, info=info, segment_seconds=1)

    (attrs, uri), = master_variants(result.master)  # fmt: skip
    assert attrs["RESOLUTION"] == "320x180" and "mp4a" not in attrs["CODECS"]
    assert result.renditions[0].height == 180
    duration = probe_json("-show_entries", "format=duration", out / uri)["format"]["duration"]
    assert float(duration) == pytest.approx(info.duration, abs=0.5)
    assert all(path.is_file() for path in result.files) and len(result.files) == 4


def test_a_failing_hardware_encoder_falls_back_to_the_cpu(sources, out, monkeypatch):
    if "h264_nvenc" in usable_hardware_encoders():
        pytest.skip("NVENC works here: nothing to fall back from")
    picks = iter([EncoderChoice("h264", "h264_nvenc", True, "mp4"), choose_encoder("h264")])
    monkeypatch.setattr(hls, "choose_encoder", lambda *a, **k: next(picks))
    source, info = sources["silent"]

    result = hls_ladder(source, out, info=info, segment_seconds=1)

    assert all(path.is_file() for path in result.files) and len(result.files) == 4


def test_a_stopped_ladder_leaves_nothing_behind(sources, out):
    source, info = sources["talk"]

    def stop() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hls_ladder(source, out, info=info, renditions=TWO_RENDITIONS, check=stop)

    assert list(out.iterdir()) == []


def fake_info(width: int, height: int) -> MediaInfo:
    video = StreamInfo(0, "video", "h264", width, height, 25.0, None, None, "", 10.0)
    return MediaInfo("mov,mp4", 10.0, 1000, None, (video,))


@pytest.mark.parametrize(
    ("size", "names"),
    [
        ((1920, 1080), ["1080p", "720p", "480p", "360p"]),
        ((1080, 1920), ["1080p", "720p", "480p", "360p"]),
        ((1280, 720), ["720p", "480p", "360p"]),
        ((3840, 2160), ["1080p", "720p", "480p", "360p"]),
        ((640, 480), ["480p", "360p"]),
    ],
)
def test_the_ladder_never_upscales(size, names):
    assert [rendition.name for rendition in ladder_for(fake_info(*size))] == names


def test_a_source_smaller_than_the_ladder_keeps_its_own_size():
    (rendition,) = ladder_for(fake_info(320, 181))

    assert (rendition.name, rendition.height) == ("180p", 180)
    assert rendition.video_kbps < DEFAULT_LADDER[-1].video_kbps  # fewer pixels, fewer bits


def test_audio_alone_cannot_be_streamed_as_video(tmp_path):
    tone = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine", "-t", "1", tone)

    with pytest.raises(InvalidMediaError, match="no video"):
        hls_ladder(tone, tmp_path / "hls", info=probe_media(tone))


@pytest.mark.parametrize(
    ("renditions", "segment_seconds"),
    [
        ([], 4),
        ([Rendition("a", 360, 700, 96), Rendition("a", 240, 400, 64)], 4),
        ([Rendition("../up", 360, 700, 96)], 4),
        ([Rendition("360p", 360, 0, 96)], 4),
        (TWO_RENDITIONS, 0),
    ],
)
def test_bad_ladders_are_refused(sources, out, renditions, segment_seconds):
    source, info = sources["talk"]

    with pytest.raises(ValueError):
        hls_ladder(source, out, info=info, renditions=renditions, segment_seconds=segment_seconds)

    assert not out.exists()
