"""Per task family limits: slots in PostgreSQL, jobs that wait for one, recycling, dashboard."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import queueing
from jobs.media import services as media_services
from jobs.media.models import MediaJob
from jobs.worker.limits import FamilyLimits, Slot, slot_wait, slots_in_use
from tests.conftest import REPO, database_url_for_other_processes
from tests.jobs.media.conftest import make_video, submit_media
from tests.jobs.queue_helpers import defer, start, status_of

TWO_IN_CLUSTER = FamilyLimits(family="transcode", host=0, cluster=2, recycle_tasks=0,
                              recycle_mb=0)  # fmt: skip
WAITING_FOR_TRANSCODE = "waiting for a free transcode slot"
TWO_OF_TWO = f"{WAITING_FOR_TRANSCODE} (2 of 2 in use)"


def wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def slots():
    """Slots taken by the test, each on its own connection; all released at the end."""
    taken: list[Slot] = []

    def take(limits: FamilyLimits, hostname: str = "test-host") -> Slot:
        slot = Slot(limits, hostname=hostname)
        taken.append(slot)
        return slot

    yield take
    for slot in taken:
        slot.release()


def test_every_family_has_limits_in_settings():
    assert set(django_settings.TASK_LIMITS) == set(queueing.FAMILIES)
    assert django_settings.TASK_LIMITS["transcode"]["HOST"] == 2
    # Recycling is off unless set (compose.yaml sets 10 renders / 50 previews).
    assert django_settings.TASK_LIMITS["rendering"]["RECYCLE_TASKS"] == 0


def test_two_cluster_slots_then_a_third_waits_until_one_is_released(db, settings, slots):
    settings.TASK_LIMITS = {**settings.TASK_LIMITS, "transcode": {
        "HOST": 0, "CLUSTER": 2, "RECYCLE_TASKS": 0, "RECYCLE_MB": 0}}  # fmt: skip
    first, second, third = (slots(TWO_IN_CLUSTER) for _ in range(3))
    assert first.try_take() and second.try_take()
    assert not third.try_take()
    assert third.full == TWO_OF_TWO
    third.release()

    told: list[str] = []
    got: list[Slot] = []
    waiter = threading.Thread(target=lambda: got.append(slot_wait(
        "transcode", check=lambda: None, on_wait=told.append, hostname="test-host",
        poll_seconds=0.05,
    )))  # fmt: skip
    waiter.start()
    wait_until(lambda: told, timeout=10, what="the waiter to say why it waits")
    time.sleep(0.3)
    assert not got, "a third holder got a slot while two were taken"
    first.release()
    waiter.join(timeout=10)
    assert got and told == [TWO_OF_TWO]
    assert slots_in_use()["transcode"] == {"test-host": 2}
    got[0].release()
    assert slots_in_use()["transcode"] == {"test-host": 1}


def test_a_freed_slot_goes_to_the_longest_waiter_not_to_a_newcomer(db, slots):
    holder, older = slots(TWO_IN_CLUSTER), slots(TWO_IN_CLUSTER)
    assert holder.try_take() and slots(TWO_IN_CLUSTER).try_take()
    assert not older.try_take()
    time.sleep(0.2)  # tickets count tenths of a second
    newcomer = slots(TWO_IN_CLUSTER)
    holder.release()
    assert not newcomer.try_take(), "a newcomer took the slot an older waiter waits for"
    assert newcomer.full == TWO_OF_TWO
    assert older.try_take()
    assert not newcomer.try_take()


def test_a_host_limit_counts_only_that_hosts_tasks(db, slots):
    one_per_host = FamilyLimits(family="transcode", host=1, cluster=0, recycle_tasks=0,
                                recycle_mb=0)  # fmt: skip
    assert slots(one_per_host, "host-a").try_take()
    second_on_a = slots(one_per_host, "host-a")
    assert not second_on_a.try_take()
    assert second_on_a.full == f"{WAITING_FOR_TRANSCODE} on this host (1 of 1 in use)"
    # A task waiting for host-a's slot does not hold back host-b's tasks.
    assert slots(one_per_host, "host-b").try_take()
    assert slots_in_use()["transcode"] == {"host-a": 1, "host-b": 1}


def test_a_crashed_workers_slot_is_free_again(db, slots):
    holder = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c",
         "from jobs.worker.limits import FamilyLimits, Slot\n"
         "slot = Slot(FamilyLimits(family='transcode', host=0, cluster=1, recycle_tasks=0,"
         " recycle_mb=0), hostname='doomed')\n"
         "assert slot.try_take()\n"
         "print('held', flush=True)\n"
         "import time; time.sleep(600)\n"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "DATABASE_URL": database_url_for_other_processes(),
             "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )  # fmt: skip
    try:
        for line in holder.stdout:  # Django's shell may say something of its own first
            if line.strip() == "held":
                break
        one = FamilyLimits(family="transcode", host=0, cluster=1, recycle_tasks=0, recycle_mb=0)
        mine = slots(one)
        assert not mine.try_take()
        assert slots_in_use()["transcode"] == {"doomed": 1}
    finally:
        holder.send_signal(signal.SIGKILL)  # no cleanup of its own: only its connection dies
        holder.wait(timeout=10)
    wait_until(mine.try_take, timeout=10, what="the dead holder's slot to be freed")
    assert slots_in_use()["transcode"] == {"test-host": 1}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_eleventh_transcode_waits_while_two_run(user, tmp_path, start_worker_process):
    clip = make_video(tmp_path / "clip.mp4", seconds=6, size="640x360")
    jobs = [submit_media(clip, user, "transcode", {"codec": "vp9", "quality": "high"})
            for _ in range(11)]  # fmt: skip
    ids = [job.id for job in jobs]
    # Two worker processes with room for six tasks: only the cluster limit holds them to two.
    limit = {"SLIDECAST_LIMIT_TRANSCODE_CLUSTER": "2", "SLIDECAST_LIMIT_TRANSCODE_HOST": "0"}
    workers = [
        start_worker_process(queues="cpu,gpu", concurrency=3, SLIDECAST_LOG_LEVEL="INFO", **limit)
        for _ in range(2)
    ]
    most_running = most_held = 0
    waiting_while_two_run: set[str] = set()
    deadline = time.monotonic() + 300
    while True:
        states = list(MediaJob.objects.filter(id__in=ids).values_list("id", "status", "stage"))
        running = sum(status == MediaJob.Status.RUNNING for _, status, _ in states)
        held = sum(slots_in_use().get("transcode", {}).values())
        most_running, most_held = max(most_running, running), max(most_held, held)
        if running == 2:
            waiting_while_two_run |= {
                str(job_id) for job_id, status, stage in states
                if status == MediaJob.Status.PENDING and stage == TWO_OF_TWO
            }  # fmt: skip
        if all(status in MediaJob.FINISHED for _, status, _ in states):
            break
        assert time.monotonic() < deadline, f"transcodes did not finish: {states}"
        time.sleep(0.2)

    done = list(MediaJob.objects.filter(id__in=ids))
    assert {job.status for job in done} == {MediaJob.Status.COMPLETED}, [j.error for j in done]
    assert most_running == 2 and most_held == 2
    # Nine jobs found both slots taken and said so; the sampling saw nearly all of them.
    logs = "".join(worker.log_path.read_text() for worker in workers)
    assert logs.count("took a transcode slot after waiting") == 9, logs
    assert len(waiting_while_two_run) >= 8, waiting_while_two_run
    waits = [(job.started_at - job.created_at).total_seconds() for job in done]
    runs = [(job.finished_at - job.started_at).total_seconds() for job in done]
    assert max(waits) > max(runs), (waits, runs)  # the last one waited out whole runs


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_cancelled_job_stops_waiting_for_a_slot(user, tmp_path, start_worker_process, slots):
    only_one = FamilyLimits(family="transcode", host=0, cluster=1, recycle_tasks=0, recycle_mb=0)
    assert slots(only_one).try_take()  # a transcode elsewhere holds the cluster's only slot
    job = submit_media(make_video(tmp_path / "clip.mp4", seconds=2), user, "transcode")
    start_worker_process(queues="cpu,gpu", SLIDECAST_LIMIT_TRANSCODE_CLUSTER="1",
                         SLIDECAST_LIMIT_TRANSCODE_HOST="0")  # fmt: skip
    queue_job = ProcrastinateJob.objects.get(args__media_job_id=str(job.id))

    def waiting() -> bool:
        job.refresh_from_db()
        return job.stage == f"{WAITING_FOR_TRANSCODE} (1 of 1 in use)"

    wait_until(waiting, timeout=60, what="the job to wait for a slot")
    assert job.status == MediaJob.Status.PENDING and status_of(queue_job.id) == "doing"
    assert media_services.media_job_cancel(media_job=job)
    wait_until(lambda: status_of(queue_job.id) == "aborted", timeout=15,
               what="the waiting run to stop")  # fmt: skip
    job.refresh_from_db()
    assert job.status == MediaJob.Status.CANCELLED and job.started_at is None
    assert not job.artifacts.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("variable", "says"),
    [
        ("SLIDECAST_RECYCLE_PREVIEW_TASKS", "it has run 1 preview tasks"),
        ("SLIDECAST_RECYCLE_PREVIEW_MB", "MB after a preview task"),
    ],
)
def test_a_worker_is_recycled_after_its_familys_quota(start_worker_process, variable, says):
    worker = start_worker_process(**{variable: "1"})
    ping = defer(queueing.PING, sent_at=time.time())
    wait_until(lambda: status_of(ping) == "succeeded", timeout=60, what="the ping")
    time.sleep(0.5)
    assert worker.poll() is None, "a task of no family recycled the worker"

    previews = [defer(queueing.NARRATION_PREVIEW, job_id=str(uuid.uuid4())) for _ in range(3)]
    assert worker.wait(timeout=60) == 0  # a graceful stop, for the supervisor to restart
    log = worker.log_path.read_text()
    assert "stops to be replaced" in log and says in log and f"({variable})" in log
    assert "succeeded" in {status_of(job_id) for job_id in previews}


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "ops-pass-1")
    client.force_login(admin)
    return client


def _figures(page: str, family: str) -> dict[str, str]:
    row = re.search(rf'<tr data-family="{family}">(.*?)</tr>', page, re.S).group(1)
    figures = re.findall(r'data-figure="([\w-]+)">(.*?)</td>', row, re.S)
    return {name: re.sub(r"<[^>]+>", "", text).strip() for name, text in figures}


def test_the_dashboard_shows_each_familys_limits_and_use(staff_client, slots, settings):
    settings.TASK_LIMITS = {
        **settings.TASK_LIMITS,
        "rendering": {**settings.TASK_LIMITS["rendering"], "RECYCLE_TASKS": 10},
    }
    per_host = FamilyLimits(family="transcode", host=2, cluster=0, recycle_tasks=0, recycle_mb=0)
    assert slots(per_host, "encoder-a").try_take() and slots(per_host, "encoder-b").try_take()
    for _ in range(3):  # two run, one waits for a slot in its worker
        start(defer(queueing.MEDIA_TRANSCODE, media_job_id=str(uuid.uuid4())))

    page = staff_client.get(reverse("oversight-dashboard")).content.decode()
    assert 'id="ov-limits"' in page
    assert _figures(page, "transcode") == {
        "host-limit": "2", "cluster-limit": "no limit",
        "in-use": "2 (encoder-a: 1, encoder-b: 1)", "waiting": "1",
    }  # fmt: skip
    assert _figures(page, "transcription")["host-limit"] == "1"
    assert re.search(r'data-family="rendering">.*?10 tasks</td>', page, re.S)
    panel = staff_client.get(reverse("oversight-dashboard"), {"panel": 1}).content.decode()
    assert _figures(panel, "transcode")["in-use"].startswith("2")
