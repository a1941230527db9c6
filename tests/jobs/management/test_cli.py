from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from media_pipeline.tools import find_ffmpeg
from tests.conftest import clear_queue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_narrate_command_runs_the_queue_and_writes_video_and_captions(
    tmp_path: Path, persona, deck_path, work_dir
):
    clear_queue()
    deck = deck_path([("One", "Hello from the command line."), ("Two", "")])
    out = tmp_path / "out" / "talk.mp4"
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(
        "narrate", str(deck), "-o", str(out), "--padding", "0", stdout=stdout, stderr=stderr
    )
    assert f"Video:    {out}" in stdout.getvalue()
    assert "100% Completed" in stderr.getvalue()
    assert "starting one here" in stderr.getvalue()
    assert out.with_suffix(".srt").read_text().startswith("1\n00:00:00,000 --> ")
    assert "Hello from the command line." in out.with_suffix(".vtt").read_text()
    probe = subprocess.run(
        [
            str(Path(find_ffmpeg()).with_name("ffprobe")),
            "-v",
            "error",
            "-show_format",
            "-of",
            "json",
            str(out),
        ],
        capture_output=True,
        check=True,
    )
    # Two slides: the spoken one (a second or two) and three seconds of silence.
    assert 4.0 < float(json.loads(probe.stdout)["format"]["duration"]) < 7.0


def test_narrate_command_reports_a_failed_job(tmp_path: Path, persona, work_dir):
    clear_queue()
    fake = tmp_path / "fake.pptx"
    fake.write_text("not a deck")
    with pytest.raises(CommandError, match="ended failed: .*not a ZIP archive"):
        call_command("narrate", str(fake), stdout=io.StringIO(), stderr=io.StringIO())


def test_narrate_command_explains_invalid_options(deck_path, persona):
    deck = deck_path([("One", "Hello.")])
    with pytest.raises(CommandError, match="padding_seconds: Ensure this value is less than"):
        call_command("narrate", str(deck), "--padding", "99", stderr=io.StringIO())
