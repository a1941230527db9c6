"""`manage.py transcribe` and `manage.py transcode`: the queue, a progress bar, files beside."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import srt
from django.core.management import CommandError, call_command

from tests.conftest import clear_queue
from tests.jobs.media.conftest import make_video
from tests.media import ffprobe, spoken_take

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_transcribe_writes_the_transcripts_beside_the_file(tmp_path: Path, work_dir):
    clear_queue()
    talk = make_video(tmp_path / "talk.mp4", seconds=9, audio=spoken_take(tmp_path / "s.wav"))
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("transcribe", str(talk), stdout=stdout, stderr=stderr)
    assert "starting one here" in stderr.getvalue()
    for suffix in ("srt", "vtt", "txt", "json"):
        assert (tmp_path / f"talk.transcript.{suffix}").exists(), stdout.getvalue()
    cues = list(srt.parse((tmp_path / "talk.transcript.srt").read_text()))
    assert "welcome" in " ".join(cue.content for cue in cues).lower()
    assert "Transcript (SRT)" in stdout.getvalue()


def test_transcode_to_vertical_and_an_hls_ladder(tmp_path: Path, work_dir):
    clear_queue()
    clip = make_video(tmp_path / "clip.mp4", seconds=2)
    out = tmp_path / "out"
    out.mkdir()
    call_command("transcode", str(clip), "--aspect", "9:16", "--resolution", "720p",
                 "-o", str(out), stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    stream = ffprobe(out / "clip.video.mp4")["streams"][0]
    assert (stream["width"], stream["height"]) == (720, 1280)
    call_command("transcode", str(clip), "--hls", "-o", str(out), stdout=io.StringIO(),
                 stderr=io.StringIO())  # fmt: skip
    master = (out / "clip.hls" / "master.m3u8").read_text()
    assert "#EXT-X-STREAM-INF" in master


def test_a_non_media_file_is_reported_with_the_probe_message(tmp_path: Path, work_dir):
    clear_queue()
    notes = tmp_path / "notes.mp3"
    notes.write_text("not audio at all\n" * 20)
    with pytest.raises(CommandError, match="notes.mp3 is not an audio or video file"):
        call_command("transcribe", str(notes), stdout=io.StringIO(), stderr=io.StringIO())


def test_an_unknown_codec_choice_is_refused_by_the_parser(tmp_path: Path):
    with pytest.raises(CommandError, match="invalid choice: 'mpeg2'"):
        call_command("transcode", str(tmp_path / "x.mp4"), "--codec", "mpeg2")
