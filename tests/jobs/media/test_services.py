"""Creating media jobs: what is refused before anything is stored, and where jobs are sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.media import services
from jobs.media.models import MediaJob
from jobs.models import Job, WorkerHost
from tests.conftest import clear_queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_queue(transactional_db):
    clear_queue()


def _create(user, operation="transcribe", parameters=None, content=b"x" * 100, name="a.mp4"):
    return services.media_job_create(
        owner=user, operation=operation, parameters=parameters,
        upload=ContentFile(content, name=name), title=name,
    )  # fmt: skip


def _messages(exc: pytest.ExceptionInfo) -> str:
    return " ".join(exc.value.messages)


def test_a_job_stores_its_input_and_is_queued_with_its_checked_options(user):
    job = _create(user, "transcode", {"codec": "h264", "aspect": "9:16"})
    assert job.status == MediaJob.Status.PENDING
    assert job.parameters["aspect"] == "9:16" and job.parameters["quality"] == "balanced"
    assert job.source.name == f"media/{job.id}/source.mp4"
    [queued] = ProcrastinateJob.objects.filter(args__media_job_id=str(job.id))
    assert queued.task_name == "slidecast.media_transcode" and queued.queue_name == job.queue


def test_an_empty_upload_is_refused_naming_the_file(user):
    with pytest.raises(ValidationError) as exc:
        _create(user, content=b"", name="talk.mp4")
    assert "talk.mp4 is empty" in _messages(exc)
    assert not MediaJob.objects.exists()


def test_an_upload_over_the_size_limit_is_refused_naming_the_setting(user, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "MEDIA_MAX_BYTES": 1024**2}
    with pytest.raises(ValidationError) as exc:
        _create(user, content=b"x" * (2 * 1024**2), name="big.mov")
    assert "big.mov is 2.0 MB; the limit is 1.0 MB (SLIDECAST_MEDIA_MAX_MB)" in _messages(exc)


@pytest.mark.parametrize(
    ("operation", "parameters", "expected"),
    [
        ("transcode", {"codec": "mpeg2"}, "codec: Input should be 'h264', 'h265', 'vp9' or 'av1'"),
        ("transcode", {"background": "url(x)"}, "background: must be blur, black, white"),
        ("transcode", {"frame_rate": 1000}, "frame_rate"),
        ("hls", {"renditions": ["720p", "720p"]}, "renditions: names a rendition twice"),
        ("preview", {"animated_seconds": 60}, "animated_seconds: Input should be less than"),
        ("transcribe", {"speed": 2}, "speed: Extra inputs are not permitted"),
        ("karaoke", {}, "Unknown operation 'karaoke'"),
        ("transcode", {"burn_captions": True}, "only a Slidecast narration's video has captions"),
    ],
)
def test_bad_options_are_refused_field_by_field(user, operation, parameters, expected):
    with pytest.raises(ValidationError) as exc:
        _create(user, operation, parameters)
    assert expected in _messages(exc)
    assert not MediaJob.objects.exists()


def test_a_codec_this_host_cannot_encode_is_refused_listing_those_it_can(user, monkeypatch):
    from jobs.media import capabilities

    monkeypatch.setattr(
        capabilities, "_encoders", lambda: {"h264": ["libx264"], "vp9": ["libvpx-vp9"]}
    )
    with pytest.raises(ValidationError) as exc:
        _create(user, "transcode", {"codec": "av1"})
    assert "cannot encode av1; it can encode: h264, vp9" in _messages(exc)


def test_another_users_or_an_unfinished_narration_cannot_be_the_input(user, other_user, persona):
    theirs = Job.objects.create(owner=other_user, title="t.pptx", persona=persona,
                                status=Job.Status.COMPLETED, video="jobs/x/video.mp4")  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        services.media_job_create(owner=user, operation="transcribe", source_job=theirs)
    assert "no such narration job among yours" in _messages(exc)
    running = Job.objects.create(owner=user, title="r.pptx", persona=persona)
    with pytest.raises(ValidationError) as exc:
        services.media_job_create(owner=user, operation="transcribe", source_job=running)
    assert "only a completed job's video can be the input" in _messages(exc)


def _register_worker(worker_id: int, queues: list[str], *, age_seconds: float = 0) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (id, last_heartbeat) OVERRIDING SYSTEM VALUE "
            "VALUES (%s, now() - make_interval(secs => %s))",
            [worker_id, age_seconds],
        )
    WorkerHost.objects.create(
        worker_id=worker_id, hostname="h", pid=1, queues=queues, started_at=timezone.now()
    )


def test_gpu_work_goes_to_gpu_while_a_gpu_worker_is_alive_and_to_cpu_when_none_is(user, settings):
    job = _create(user, "transcribe")
    assert (job.queue, job.queue_reason) == (
        "cpu",
        "no worker serves the gpu queue now: sent to cpu instead",
    )
    _register_worker(901, ["gpu"])
    job = _create(user, "transcribe")
    assert (job.queue, job.queue_reason) == ("gpu", "a GPU worker serves the gpu queue")
    preview = _create(user, "preview")
    assert preview.queue == "cpu"


def test_a_gpu_worker_silent_for_longer_than_the_setting_no_longer_counts(user, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "MEDIA_GPU_FALLBACK_SECONDS": 60}
    _register_worker(902, ["gpu"], age_seconds=120)
    assert _create(user, "transcode").queue == "cpu"


def test_with_fallback_forbidden_gpu_work_waits_for_a_gpu_worker(user, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "MEDIA_GPU_FALLBACK": False}
    job = _create(user, "hls")
    assert job.queue == "gpu"
    assert "SLIDECAST_MEDIA_GPU_FALLBACK is off" in job.queue_reason


def test_cancel_retry_and_delete(user, media_root):
    job = _create(user, "preview")
    assert services.media_job_cancel(media_job=job)
    assert not services.media_job_cancel(media_job=job)
    job.refresh_from_db()
    assert job.status == MediaJob.Status.CANCELLED
    assert ProcrastinateJob.objects.get(args__media_job_id=str(job.id)).status == "cancelled"
    services.media_job_retry(media_job=job)
    job.refresh_from_db()
    assert job.status == MediaJob.Status.PENDING
    assert ProcrastinateJob.objects.filter(args__media_job_id=str(job.id), status="todo").exists()
    with pytest.raises(ValidationError, match="cancel it first"):
        services.media_job_delete(media_job=job)
    services.media_job_cancel(media_job=job)
    job.refresh_from_db()
    services.media_job_delete(media_job=job)
    assert not MediaJob.objects.exists()
    assert not (media_root / "media" / str(job.id)).exists()


def test_a_narration_gets_one_preview_when_it_completes(user, persona, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "AUTO_PREVIEW": True}
    job = Job.objects.create(
        owner=user, title="d.pptx", persona=persona, status=Job.Status.COMPLETED,
        video="jobs/x/video.mp4", finished_at=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip
    first = services.narration_preview_create(job_id=str(job.id))
    again = services.narration_preview_create(job_id=str(job.id))
    assert first is not None and first.id == again.id
    assert (first.operation, first.source_job_id, first.owner_id) == ("preview", job.id, user.id)


@pytest.mark.parametrize(
    ("priority", "preview_priority"),
    [(Job.Priority.NORMAL, -1), (Job.Priority.HIGH, 9), (Job.Priority.BACKGROUND, -11)],
)
def test_a_completed_narrations_preview_waits_behind_jobs_of_its_priority(
    user, persona, settings, priority, preview_priority
):
    from procrastinate.contrib.django.models import ProcrastinateJob

    from jobs.narration import progress

    settings.SLIDECAST = {**settings.SLIDECAST, "AUTO_PREVIEW": True}
    job = Job.objects.create(
        owner=user, title="d.pptx", persona=persona, status=Job.Status.ASSEMBLING_VIDEO,
        priority=priority,
    )  # fmt: skip
    assert progress.job_complete(
        job_id=str(job.id), video_name="v.mp4", srt_name="c.srt", vtt_name="c.vtt",
        duration_seconds=3.0,
    )  # fmt: skip
    [preview] = ProcrastinateJob.objects.filter(task_name="slidecast.narration_preview")
    assert preview.args == {"job_id": str(job.id)}
    assert preview.priority == preview_priority
    # The preview's own work waits behind that priority too.
    Job.objects.filter(id=job.id).update(finished_at=timezone.now() - timedelta(seconds=1))
    media_job = services.narration_preview_create(job_id=str(job.id))
    assert media_job.priority == preview_priority
    queued = ProcrastinateJob.objects.exclude(id=preview.id).get()
    assert queued.priority == preview_priority
