from __future__ import annotations

import os
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from jobs.models import Incident, Job
from jobs.operations import alerts, cleanup, monitoring, queue_actions, rescue
from tests.conftest import clear_queue
from tests.jobs.queue_helpers import backdate_events, cancel, defer, finish, start, status_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_queue(transactional_db):
    clear_queue()


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "ops-pass-1")
    client.force_login(admin)
    return client


def test_dashboard_figures_match_the_jobs_created(staff_client):
    cpu = [defer(queue="cpu") for _ in range(8)]
    gpu = [defer(queue="gpu") for _ in range(2)]
    for job_id in cpu[:3]:
        finish(job_id, "succeeded")
    finish(cpu[3], "failed")
    cancel(cpu[4])
    start(cpu[5])
    finish(gpu[0], "succeeded")
    backdate_events(cpu[6], timedelta(minutes=10))  # waiting for ten minutes

    figures = {queue.name: queue for queue in monitoring.queue_overview()}
    assert figures["cpu"].counts == {
        "todo": 2, "doing": 1, "failed": 1, "succeeded": 3, "cancelled": 1, "aborted": 0,
    }  # fmt: skip
    assert figures["gpu"].counts["todo"] == 1 and figures["gpu"].counts["succeeded"] == 1
    assert 595 < figures["cpu"].latency_seconds < 660
    assert (figures["cpu"].succeeded_5m, figures["cpu"].failed_5m) == (3, 1)
    assert (figures["cpu"].succeeded_1h, figures["gpu"].succeeded_1h) == (3, 1)
    series = monitoring.minute_series()
    assert len(series) == 60 and sum(ok for _, ok, _ in series) == 4
    assert sum(bad for *_, bad in series) == 1

    page = staff_client.get(reverse("oversight-dashboard")).content.decode()
    assert 'data-queue="cpu"' in page
    assert 'data-status="succeeded">3<' in page and 'data-status="cancelled">1<' in page
    assert "4 completed and 1 failed jobs in the last hour" in page
    assert "rescue stalled jobs" in page and "<code>* * * * *</code>" in page
    panel = staff_client.get(reverse("oversight-dashboard"), {"panel": 1}).content.decode()
    assert "<html" not in panel and 'data-queue="gpu"' in panel


def test_dashboard_is_for_staff_only(client, user):
    assert client.get(reverse("oversight-dashboard")).status_code == 302
    client.force_login(user)
    response = client.get(reverse("oversight-dashboard"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_bulk_retry_touches_exactly_the_filtered_set_after_confirmation(staff_client):
    cpu_failed = [defer(queue="cpu") for _ in range(3)]
    gpu_failed = [defer(queue="gpu") for _ in range(2)]
    cpu_ok = defer(queue="cpu")
    for job_id in [*cpu_failed, *gpu_failed]:
        finish(job_id, "failed")
    finish(cpu_ok, "succeeded")
    url = (
        reverse("admin:procrastinate_procrastinatejob_changelist") + "?queue_name=cpu&status=failed"
    )
    form = {"action": "retry_queue_jobs", "select_across": "1", "index": "0",
            "_selected_action": [str(cpu_failed[0])]}  # fmt: skip

    confirmation = staff_client.post(url, form)
    assert confirmation.status_code == 200
    assert "Retry 3 queue jobs" in confirmation.content.decode()
    assert all(status_of(job_id) == "failed" for job_id in cpu_failed)  # nothing yet

    done = staff_client.post(url, {**form, "confirmed": "yes"}, follow=True)
    assert "Retry: 3 of 3 queue jobs." in done.content.decode()
    assert [status_of(job_id) for job_id in cpu_failed] == ["todo"] * 3
    assert [status_of(job_id) for job_id in gpu_failed] == ["failed"] * 2
    assert status_of(cpu_ok) == "succeeded"


def test_queue_jobs_are_searchable_by_arguments_and_error_class(staff_client, user, persona):
    from jobs.models import DeadLetter

    wanted = defer(queue="cpu", job_id="3f2a-find-me")
    other = defer(queue="cpu", job_id="something-else")
    DeadLetter.objects.create(
        procrastinate_job_id=other, task_name="tests.noop", queue_name="cpu",
        exception_class="media_pipeline.errors.DeckRenderError", attempts=3,
        failed_at=timezone.now(),
    )  # fmt: skip
    url = reverse("admin:procrastinate_procrastinatejob_changelist")
    by_args = staff_client.get(url, {"q": "find-me"}).content.decode()
    assert f">{wanted}<" in by_args and f">{other}<" not in by_args
    by_error = staff_client.get(url, {"q": "DeckRenderError"}).content.decode()
    assert f">{other}<" in by_error and f">{wanted}<" not in by_error


def test_pause_holds_waiting_jobs_and_resume_releases_them(staff_client):
    before = defer(queue="cpu")
    staff_client.post(reverse("oversight-queue-pause", args=["cpu"]))
    during = defer(queue="cpu")
    other_queue = defer(queue="gpu")
    with_fetch = _fetch("cpu")
    assert with_fetch is None, "a paused queue gave a job to a worker"
    assert _fetch("gpu") == other_queue
    page = staff_client.get(reverse("oversight-dashboard")).content.decode()
    assert "paused, 2 held" in page

    staff_client.post(reverse("oversight-queue-resume", args=["cpu"]))
    assert {_fetch("cpu"), _fetch("cpu")} == {before, during}


def _fetch(queue: str) -> int | None:
    """Ask for a job the way a worker does (procrastinate's own fetch function)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM procrastinate_fetch_job_v2(%s, NULL)", [[queue]])
        row = cursor.fetchone()
    return row[0] if row and row[0] else None


def test_alert_is_sent_once_per_incident_and_resolves(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.OVERSIGHT = {**settings.OVERSIGHT, "ALERT_LATENCY_SECONDS": 300}
    waiting = defer(queue="cpu")
    backdate_events(waiting, timedelta(minutes=10))

    assert len(alerts.alerts_check()) == 1
    assert alerts.alerts_check() == []  # five minutes later: same incident, no mail
    assert len(mail.outbox) == 1
    assert "Queue latency on cpu" in mail.outbox[0].subject
    assert "has waited 6" in mail.outbox[0].body

    cancel(waiting)
    alerts.alerts_check()
    incident = Incident.objects.get()
    assert incident.resolved_at is not None and len(mail.outbox) == 1


def test_failure_rate_alert(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    for status in ["failed", "failed", "failed", "succeeded"]:
        finish(defer(queue="gpu"), status)
    [incident] = alerts.alerts_check()
    assert incident.kind == "failure_rate" and incident.queue_name == "gpu"
    assert "75% of the jobs" in incident.detail


def test_cleanup_removes_only_what_is_past_retention(settings, user, persona, media_root, work_dir):
    settings.OVERSIGHT = {**settings.OVERSIGHT, "OUTPUT_RETENTION_DAYS": 30,
                          "QUEUE_RETENTION_DAYS": 14, "TEMP_MAX_AGE_HOURS": 24}  # fmt: skip
    now = timezone.now()

    def job_with_files(title: str, status: str, finished_days_ago: int | None) -> Job:
        job = Job.objects.create(owner=user, title=title, persona=persona, status=status,
                                 video=f"jobs/{title}/output/video.mp4")  # fmt: skip
        job.video = f"{job.storage_prefix()}/output/video.mp4"
        if finished_days_ago is not None:
            job.finished_at = now - timedelta(days=finished_days_ago)
        job.save()
        for name in ("deck.pptx", "output/video.mp4", "slides/slide-001.png"):
            path = media_root / job.storage_prefix() / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"data")
        return job

    old = job_with_files("old", Job.Status.COMPLETED, 40)
    recent = job_with_files("recent", Job.Status.COMPLETED, 5)
    running = job_with_files("running", Job.Status.SYNTHESIZING_AUDIO, None)
    old_queue_job, new_queue_job = defer(), defer()
    finish(old_queue_job, "succeeded")
    finish(new_queue_job, "succeeded")
    backdate_events(old_queue_job, timedelta(days=20))
    old_temp = work_dir / "slidecast-assemble-old"
    new_temp = work_dir / "slidecast-assemble-new"
    old_temp.mkdir()
    new_temp.mkdir()
    two_days_ago = time.time() - 48 * 3600
    os.utime(old_temp, (two_days_ago, two_days_ago))

    report = cleanup.cleanup_run()

    assert report.jobs_expired == [str(old.id)] and report.job_files == 3
    assert not (media_root / old.storage_prefix()).exists() or not any(
        p.is_file() for p in (media_root / old.storage_prefix()).rglob("*")
    )
    for kept in (recent, running):
        assert (media_root / kept.storage_prefix() / "output/video.mp4").exists()
    old.refresh_from_db()
    assert old.files_deleted_at and not old.video
    assert report.queue_jobs == 1
    with pytest.raises(TypeError):
        status_of(old_queue_job)  # deleted
    assert status_of(new_queue_job) == "succeeded"
    assert report.temp_folders == 1 and not old_temp.exists() and new_temp.exists()


def test_health_live_and_ready(client):
    assert client.get("/health/live").json() == {"status": "ok"}
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"] == {"ok": True}
    assert "no worker with a fresh heartbeat for: cpu, gpu" in body["checks"]["workers"]["detail"]


def test_ready_once_workers_serve_every_queue(client):
    from jobs.worker.inprocess import in_process_worker

    with in_process_worker(queues=["cpu", "gpu"], concurrency=1):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            response = client.get("/health/ready")
            if response.status_code == 200:
                break
            time.sleep(0.2)
        [worker] = monitoring.worker_overview()
    assert response.status_code == 200, response.json()
    assert worker.hostname == socket.gethostname() and worker.pid == os.getpid()
    assert worker.queues == ["cpu", "gpu"] and not worker.late
    assert all(job["task"].startswith("slidecast.") for job in worker.running)


def test_monitoring_json_needs_staff_or_the_token(client, settings, staff_client):
    settings.OVERSIGHT = {**settings.OVERSIGHT, "MONITORING_TOKEN": "s3cret-token"}
    defer(queue="cpu")
    from django.test import Client

    anonymous = Client()
    assert anonymous.get("/health/queues").status_code == 401
    assert anonymous.get("/health/workers", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    body = anonymous.get("/health/queues", HTTP_AUTHORIZATION="Bearer s3cret-token").json()
    cpu = next(queue for queue in body["queues"] if queue["name"] == "cpu")
    assert cpu["counts"]["todo"] == 1 and "s3cret" not in str(body)
    assert staff_client.get("/health/workers").json() == {"workers": []}


def test_run_now_queues_a_periodic_task(staff_client):
    from procrastinate.contrib.django.models import ProcrastinateJob

    response = staff_client.post(
        reverse("oversight-periodic-run", args=["slidecast.check_alerts"]), follow=True
    )
    assert "slidecast.check_alerts queued now" in response.content.decode().lower()
    queued = ProcrastinateJob.objects.get(task_name="slidecast.check_alerts")
    assert queued.status == "todo" and "timestamp" in queued.args
    assert Path  # keep import for readability of helpers above


def test_resource_sample_of_this_host_shows_on_the_dashboard(staff_client):
    from jobs.models import ResourceSample
    from jobs.operations.workers import resource_sample_record

    # A worker started by an earlier test in this process may have sampled this minute.
    sample = resource_sample_record() or ResourceSample.objects.get(
        hostname=socket.gethostname(), taken_at=timezone.now().replace(second=0, microsecond=0)
    )
    assert sample.hostname == socket.gethostname()
    assert 0 <= sample.cpu_percent <= 100 and 0 < sample.memory_percent < 100
    assert sample.disk_free_bytes > 0
    assert resource_sample_record() is None  # one sample per host and minute
    page = staff_client.get(reverse("oversight-dashboard")).content.decode()
    assert f"<td>{sample.hostname}</td>" in page


def test_rescue_gives_up_on_a_job_whose_worker_keeps_dying(user, persona, settings):
    from django.db import connection

    from jobs.models import DeadLetter
    from jobs.queueing import MAX_ATTEMPTS

    job = Job.objects.create(owner=user, title="t.pptx", persona=persona,
                             status=Job.Status.SYNTHESIZING_AUDIO)  # fmt: skip
    queue_job = defer("slidecast.narrate_slide", queue="cpu", job_id=str(job.id), slide_id=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour')"
            " RETURNING id"
        )
        worker_id = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s, attempts = %s "
            "WHERE id = %s",
            [worker_id, MAX_ATTEMPTS - 1, queue_job],
        )
    assert rescue.stalled_jobs_rescue() == [queue_job]
    assert status_of(queue_job) == "failed"
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error_code == "worker_lost"
    assert DeadLetter.objects.get(procrastinate_job_id=queue_job).job_id == job.id


def test_bulk_retry_leaves_what_procrastinate_cannot_retry(staff_client):
    failed, cancelled = defer(), defer()
    finish(failed, "failed")
    cancel(cancelled)
    assert queue_actions.queue_jobs_retry([failed, cancelled]) == 1
    assert (status_of(failed), status_of(cancelled)) == ("todo", "cancelled")
