"""Media jobs through a real worker: what a user gets back, and what bad input gets."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest
import srt
import webvtt
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from jobs.media import services
from jobs.media.models import MediaArtifact, MediaJob
from tests.jobs.media.conftest import make_video, submit_media
from tests.media import ffprobe

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _artifact(job: MediaJob, kind: str) -> MediaArtifact:
    return job.artifacts.get(kind=kind)


def _local(artifact: MediaArtifact, tmp_path: Path) -> Path:
    target = tmp_path / artifact.name.replace("/", "_")
    with default_storage.open(artifact.file.name, "rb") as handle:
        target.write_bytes(handle.read())
    return target


def test_transcription_gives_srt_vtt_text_and_json_with_word_timings(
    user, spoken_video, run_media, tmp_path
):
    job = submit_media(spoken_video, user, "transcribe")
    [job] = run_media([job.id])
    assert job.status == MediaJob.Status.COMPLETED, job.error
    length = float(ffprobe(spoken_video)["format"]["duration"])
    assert job.progress == 100 and job.media_info["duration"] == pytest.approx(length, abs=0.05)
    kinds = set(job.artifacts.values_list("kind", flat=True))
    assert kinds == {"transcript_srt", "transcript_vtt", "transcript_text", "transcript_json"}
    text = _local(_artifact(job, "transcript_text"), tmp_path).read_text()
    assert "quarter" in text.lower() and "welcome" in text.lower()
    cues = list(srt.parse(_local(_artifact(job, "transcript_srt"), tmp_path).read_text()))
    assert cues and cues[0].start.total_seconds() < 1.5
    vtt = webvtt.read(str(_local(_artifact(job, "transcript_vtt"), tmp_path)))
    assert len(vtt.captions) == len(cues)
    data = json.loads(_local(_artifact(job, "transcript_json"), tmp_path).read_text())
    assert data["language"] == "en"
    words = [w for s in data["segments"] for w in s["words"]]
    assert len(words) >= 20 and all(w["end"] >= w["start"] for w in words)
    assert _artifact(job, "transcript_json").details["model"] == "tiny.en"
    assert job.word_error_rate is None  # an upload has no notes to compare with


def test_transcode_to_vertical_video_with_a_blurred_background(user, short_video, run_media,
                                                               tmp_path):  # fmt: skip
    job = submit_media(short_video, user, "transcode",
                       {"codec": "h264", "resolution": "1080p", "aspect": "9:16"})  # fmt: skip
    [job] = run_media([job.id])
    assert job.status == MediaJob.Status.COMPLETED, job.error
    video = _artifact(job, "video")
    assert (video.width, video.height, video.codec) == (1080, 1920, "h264")
    probe = ffprobe(_local(video, tmp_path))
    stream = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert (stream["width"], stream["height"]) == (1080, 1920)
    assert float(probe["format"]["duration"]) == pytest.approx(3, abs=0.2)
    assert video.details["encoder"] == "libx264" and video.details["hardware"] is False


def test_hls_ladder_has_a_master_playlist_and_playable_renditions(user, short_video, run_media,
                                                                  tmp_path, client):  # fmt: skip
    job = submit_media(short_video, user, "hls", {"renditions": ["720p", "360p"]})
    [job] = run_media([job.id])
    assert job.status == MediaJob.Status.COMPLETED, job.error
    master = _artifact(job, "hls_master")
    # 360 p only: the input is 360 p high and is never scaled up.
    assert [r["name"] for r in master.details["renditions"]] == ["360p"]
    client.force_login(user)
    base = f"/media/{job.id}/files/hls/"
    playlist = client.get(base + "master.m3u8")
    assert playlist.status_code == 200
    text = b"".join(playlist.streaming_content).decode()
    assert "#EXT-X-STREAM-INF" in text and "RESOLUTION=640x360" in text
    variant = next(line for line in text.splitlines() if line.endswith(".m3u8"))
    variant_text = b"".join(client.get(base + variant).streaming_content).decode()
    segment = next(line for line in variant_text.splitlines() if line and not line.startswith("#"))
    assert client.get(base + str(Path(variant).parent / segment)).status_code == 200
    assert client.get(base + "../../source.mp4").status_code == 404


def test_preview_makes_a_poster_an_animation_and_a_storyboard_track(
    user, short_video, run_media, tmp_path
):
    job = submit_media(short_video, user, "preview", {"storyboard_interval": 1})
    [job] = run_media([job.id])
    assert job.status == MediaJob.Status.COMPLETED, job.error
    kinds = sorted(job.artifacts.values_list("kind", flat=True))
    assert kinds == ["animated_preview", "poster", "storyboard", "thumbnails_vtt"]
    track = webvtt.read(str(_local(_artifact(job, "thumbnails_vtt"), tmp_path)))
    assert len(track.captions) == 3
    assert track.captions[0].text.startswith("storyboard-1.jpg#xywh=0,0,")


OPERATIONS = ("transcribe", "preview", "transcode", "hls")


def _still_image(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(path, format="PNG")
    return path


def test_non_media_fails_at_the_probe_in_every_operation_and_is_never_retried(
    user, run_media, tmp_path
):
    notes = tmp_path / "notes.mp4"
    notes.write_bytes(b"These are my meeting notes, not a video.\n" * 50)
    photo = _still_image(tmp_path / "photo.mp4")
    jobs = {(path.name, op): submit_media(path, user, op) for path in (notes, photo)
            for op in OPERATIONS}  # fmt: skip
    finished = dict(zip(jobs, run_media([j.id for j in jobs.values()]), strict=True))
    expected = {"notes.mp4": "is not an audio or video file Slidecast can read",
                "photo.mp4": "is a still image, not audio or video"}  # fmt: skip
    for (name, operation), job in finished.items():
        assert job.status == MediaJob.Status.FAILED, (name, operation)
        assert job.error_code == "invalid_media" and expected[name] in job.error
        assert job.error.startswith(name)
    from procrastinate.contrib.django.models import ProcrastinateJob

    attempts = ProcrastinateJob.objects.filter(task_name__startswith="slidecast.media_")
    assert set(attempts.values_list("attempts", flat=True)) == {1}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_empty_file_is_refused_before_it_is_stored(user, tmp_path, operation, media_root):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValidationError, match="empty.mp4 is empty"):
        submit_media(empty, user, operation)
    assert not MediaJob.objects.exists() and not (media_root / "media").exists()


def test_a_truncated_video_is_refused_by_every_operation(user, run_media, tmp_path):
    whole = make_video(tmp_path / "whole.mp4", seconds=4)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    jobs = [submit_media(cut, user, op) for op in ("transcribe", "preview", "transcode", "hls")]
    for job in run_media([j.id for j in jobs]):
        assert job.status == MediaJob.Status.FAILED, job.operation
        assert job.error_code == "invalid_media" and "cut.mp4" in job.error


def test_an_input_over_the_length_limit_is_refused_naming_the_setting(
    user, run_media, settings, short_video
):
    settings.SLIDECAST = {**settings.SLIDECAST, "MEDIA_MAX_DURATION_SECONDS": 2}
    jobs = [submit_media(short_video, user, operation) for operation in OPERATIONS]
    for job in run_media([j.id for j in jobs]):
        assert job.status == MediaJob.Status.FAILED, job.operation
        assert "short.mp4 is 3 s long; the limit is 2 s" in job.error
        assert "SLIDECAST_MEDIA_MAX_DURATION_SECONDS" in job.error


def _ffmpeg_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name() == "ffmpeg"]


def test_cancel_stops_a_running_transcode_and_its_ffmpeg(user, run_media, tmp_path, work_dir):
    from jobs.worker.inprocess import in_process_worker
    from tests.conftest import clear_queue

    long_video = make_video(tmp_path / "long.mp4", seconds=40, size="1280x720")
    clear_queue()
    job = submit_media(long_video, user, "transcode", {"codec": "vp9", "quality": "high"})
    with in_process_worker(queues=["cpu", "gpu"]):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.progress > 5 and _ffmpeg_children():
                break
            time.sleep(0.2)
        assert _ffmpeg_children(), "ffmpeg never started"
        assert services.media_job_cancel(media_job=job)
        deadline = time.monotonic() + 15
        while _ffmpeg_children() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _ffmpeg_children()
    job.refresh_from_db()
    assert job.status == MediaJob.Status.CANCELLED and not job.artifacts.exists()
    assert not list(work_dir.glob("slidecast-media-*"))


def test_progress_is_reported_while_a_transcode_runs(user, run_media, tmp_path):
    from jobs.worker.inprocess import in_process_worker
    from tests.conftest import clear_queue

    video = make_video(tmp_path / "twenty.mp4", seconds=20, size="1280x720")
    clear_queue()
    job = submit_media(video, user, "transcode", {"codec": "h264", "quality": "high"})
    seen = set()
    with in_process_worker(queues=["cpu"]):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == "running":
                seen.add(job.progress)
            if job.is_finished:
                break
            time.sleep(0.1)
    assert job.status == MediaJob.Status.COMPLETED, job.error
    assert len([p for p in seen if 5 < p < 96]) >= 2, seen
