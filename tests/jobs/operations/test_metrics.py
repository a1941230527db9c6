from __future__ import annotations

import ipaddress
import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs import queueing
from jobs.models import (
    CachedArtifact,
    DeadLetter,
    Job,
    MediaArtifact,
    MediaJob,
    QueuePause,
    Slide,
    WorkerHost,
)
from jobs.worker.inprocess import in_process_worker
from tests.conftest import clear_queue
from tests.jobs.queue_helpers import backdate_events, defer, finish, status_of

pytestmark = pytest.mark.django_db(transaction=True)

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "slidecast-dashboard.json"
TOKEN = "metrics-token-0123456789"


@pytest.fixture(autouse=True)
def empty_queue(transactional_db):
    clear_queue()


@pytest.fixture
def clear_of_the_hour():
    """Wait out the end of an hour: task durations count the runs of the current hour."""
    now = timezone.now()
    if now.minute == 59 and now.second >= 30:
        time.sleep(61 - now.second)


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS = {
        "TOKEN": TOKEN,
        "ALLOWED_NETWORKS": [ipaddress.ip_network("127.0.0.1/32")],
    }
    return settings.METRICS


def scrape(client, **extra) -> dict[tuple[str, frozenset], float]:
    response = client.get(reverse("metrics"), **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


def run(task_name: str, *, seconds: float, outcome: str = "succeeded", ended_ago=None) -> int:
    """A queue job that ran once for `seconds` and ended now (or `ended_ago`)."""
    job_id = defer(task_name)
    if outcome == "retried":
        with connection.cursor() as cursor:
            cursor.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", [job_id])
            cursor.execute("UPDATE procrastinate_jobs SET status = 'todo' WHERE id = %s", [job_id])
    else:
        finish(job_id, outcome)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE procrastinate_events
               SET at = (SELECT MAX(at) FROM procrastinate_events WHERE job_id = %(job)s) - %(took)s
             WHERE job_id = %(job)s AND type = 'started'
            """,
            {"job": job_id, "took": timedelta(seconds=seconds)},
        )
    if ended_ago:
        backdate_events(job_id, ended_ago)
    return job_id


def worker(*, heartbeat_age: float, hostname: str, queues: list[str]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - %s) RETURNING id",
            [timedelta(seconds=heartbeat_age)],
        )
        [(worker_id,)] = cursor.fetchall()
    WorkerHost.objects.create(
        worker_id=worker_id, hostname=hostname, pid=100, queues=queues, started_at=timezone.now()
    )
    return worker_id


def test_task_durations_are_a_histogram_per_family_and_outcome(client, clear_of_the_hour):
    run(queueing.NARRATE_SLIDE, seconds=3, ended_ago=timedelta(days=2))  # before this hour
    for seconds in (2, 2, 45):
        run(queueing.NARRATE_SLIDE, seconds=seconds)
    run(queueing.DECOMPOSE, seconds=700, outcome="failed")
    run(queueing.ASSEMBLE, seconds=12, outcome="retried")
    run(queueing.CLEANUP, seconds=0.05)

    samples = scrape(client)
    narration = {"family": "narration", "outcome": "succeeded"}
    assert value(samples, "slidecast_task_duration_seconds_count", **narration) == 3
    assert value(samples, "slidecast_task_duration_seconds_sum", **narration) == pytest.approx(49)
    buckets = {"1.0": 0, "2.5": 2, "30.0": 2, "60.0": 3, "+Inf": 3}
    for le, count in buckets.items():
        assert value(samples, "slidecast_task_duration_seconds_bucket", le=le, **narration) == count
    rendering = {"family": "rendering", "outcome": "failed"}
    assert value(samples, "slidecast_task_duration_seconds_bucket", le="600.0", **rendering) == 0
    assert value(samples, "slidecast_task_duration_seconds_bucket", le="1800.0", **rendering) == 1
    retried = {"family": "assembly", "outcome": "retried"}
    assert value(samples, "slidecast_task_duration_seconds_sum", **retried) == pytest.approx(12)
    other = {"family": "other", "outcome": "succeeded"}
    assert value(samples, "slidecast_task_duration_seconds_bucket", le="0.1", **other) == 1
    # Every family is there from the start of the hour, so a first run is a visible increase.
    idle = {"family": "transcode", "outcome": "succeeded"}
    assert value(samples, "slidecast_task_duration_seconds_count", **idle) == 0


def test_queue_depth_oldest_wait_pauses_and_dead_letters(client):
    waiting = [defer(queue="cpu") for _ in range(2)]
    backdate_events(waiting[0], timedelta(minutes=10))
    finish(defer(queue="cpu"), "failed")
    QueuePause.objects.create(queue_name="gpu")
    defer(queue="gpu")  # held by the pause: waiting, but not due
    dead = {"task_name": "slidecast.assemble", "queue_name": "cpu", "exception_class": "E"}
    DeadLetter.objects.create(procrastinate_job_id=1, attempts=3, failed_at=timezone.now(), **dead)
    DeadLetter.objects.create(
        procrastinate_job_id=2, attempts=3, failed_at=timezone.now() - timedelta(days=2), **dead
    )

    samples = scrape(client)
    assert value(samples, "slidecast_queue_jobs", queue="cpu", status="todo") == 2
    assert value(samples, "slidecast_queue_jobs", queue="cpu", status="failed") == 1
    assert value(samples, "slidecast_queue_jobs", queue="cpu", status="doing") == 0
    assert value(samples, "slidecast_queue_jobs", queue="gpu", status="todo") == 1
    assert 595 < value(samples, "slidecast_queue_oldest_job_age_seconds", queue="cpu") < 660
    assert value(samples, "slidecast_queue_oldest_job_age_seconds", queue="gpu") == 0
    assert value(samples, "slidecast_queue_paused", queue="gpu") == 1
    assert value(samples, "slidecast_queue_paused", queue="cpu") == 0
    assert value(samples, "slidecast_dead_letters_24h") == 1


def test_workers_per_queue_and_heartbeat_ages(client):
    late = worker(heartbeat_age=45, hostname="render-1", queues=["cpu"])
    fresh = worker(heartbeat_age=1, hostname="render-2", queues=[])  # every queue
    gpu = worker(heartbeat_age=2, hostname="gpu-1", queues=["gpu"])

    samples = scrape(client)
    assert value(samples, "slidecast_workers", queue="cpu") == 1  # the late one does not count
    assert value(samples, "slidecast_workers", queue="gpu") == 2
    age = "slidecast_worker_heartbeat_age_seconds"
    assert 44 < value(samples, age, worker=str(late), host="render-1") < 60
    assert value(samples, age, worker=str(fresh), host="render-2") < 15
    assert value(samples, age, worker=str(gpu), host="gpu-1") < 15


def test_app_jobs_cache_ratio_and_bytes_stored(client, user, persona):
    def job(status: str, *, stored_bytes: int = 0, **fields) -> Job:
        return Job.objects.create(
            owner=user, title="t.pptx", deck="d.pptx", persona=persona, status=status,
            stored_bytes=stored_bytes, **fields,
        )  # fmt: skip

    recent = job(Job.Status.COMPLETED, stored_bytes=1000)
    job(Job.Status.COMPLETED, stored_bytes=500)
    job(Job.Status.FAILED, stored_bytes=999, files_deleted_at=timezone.now())
    job(Job.Status.SYNTHESIZING_AUDIO)
    old = job(Job.Status.COMPLETED, stored_bytes=250)
    Job.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=2))
    slides = [  # (audio, audio_cached, image, image_cached)
        ("a1.wav", True, "i1.png", True),
        ("a2.wav", True, "i2.png", False),
        ("a3.wav", False, "i3.png", False),
        ("", False, "i4.png", False),  # not narrated yet: not a cache lookup
    ]
    for index, (audio, audio_cached, image, image_cached) in enumerate(slides, start=1):
        Slide.objects.create(
            job=recent, index=index, source_number=index, audio=audio, image=image,
            audio_cached=audio_cached, image_cached=image_cached,
        )  # fmt: skip
    Slide.objects.create(
        job=old, index=1, source_number=1, audio="o.wav", audio_cached=True, image="o.png"
    )
    for kind, key, size in (("audio", "a" * 64, 100), ("audio", "b" * 64, 200), ("image", "c", 50)):
        CachedArtifact.objects.create(owner=user, kind=kind, key=key, file=key, size_bytes=size)
    media = MediaJob.objects.create(
        owner=user, title="talk.mp4", operation="transcode", status=MediaJob.Status.RUNNING
    )
    MediaArtifact.objects.create(
        media_job=media, kind="video", name="out.mp4", file="out.mp4",
        content_type="video/mp4", size_bytes=4096,
    )  # fmt: skip

    samples = scrape(client)
    assert value(samples, "slidecast_deck_jobs", status="completed") == 3
    assert value(samples, "slidecast_deck_jobs", status="failed") == 1
    assert value(samples, "slidecast_deck_jobs", status="synthesizing_audio") == 1
    assert value(samples, "slidecast_deck_jobs", status="cancelled") == 0
    assert value(samples, "slidecast_media_jobs", status="running") == 1
    assert value(samples, "slidecast_media_jobs", status="completed") == 0
    ratio = "slidecast_content_cache_hit_ratio"
    assert value(samples, ratio, kind="audio") == pytest.approx(2 / 3)
    assert value(samples, ratio, kind="image") == pytest.approx(1 / 4)
    assert value(samples, "slidecast_content_cache_entries", kind="audio") == 2
    assert value(samples, "slidecast_content_cache_entries", kind="keyframe") == 0
    assert value(samples, "slidecast_stored_bytes", what="cache", kind="audio") == 300
    assert value(samples, "slidecast_stored_bytes", what="cache", kind="image") == 50
    assert value(samples, "slidecast_stored_bytes", what="jobs") == 1750
    assert value(samples, "slidecast_stored_bytes", what="media") == 4096


def test_cache_hit_ratio_is_absent_without_slides(client):
    samples = scrape(client)
    assert not any(name == "slidecast_content_cache_hit_ratio" for name, _ in samples)


def test_a_real_worker_run_is_counted(client, clear_of_the_hour):
    ping = queueing.defer(queueing.PING, sent_at=time.time())
    with in_process_worker(queues=["cpu"]):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and status_of(ping) != "succeeded":
            time.sleep(0.1)
        ages = [
            age
            for (name, _), age in scrape(client).items()
            if name == "slidecast_worker_heartbeat_age_seconds"
        ]
        assert ages and min(ages) < 30
    samples = scrape(client)
    runs = sum(
        count
        for (name, labels), count in samples.items()
        if name == "slidecast_task_duration_seconds_count" and ("outcome", "succeeded") in labels
    )
    # Periodic tasks may have run too: every job that succeeded is one run, the ping included.
    assert runs == _count("status = 'succeeded'") >= 1
    other = {"family": "other", "outcome": "succeeded"}
    assert value(samples, "slidecast_task_duration_seconds_count", **other) >= 1


def _count(condition: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM procrastinate_jobs WHERE {condition}")
        return cursor.fetchone()[0]


def test_access_needs_the_token_or_an_allowed_network(client, metrics_settings):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    refused = client.get(reverse("metrics"), **outside)
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"
    assert b"slidecast_" not in refused.content
    wrong = client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer nope", **outside)
    assert wrong.status_code == 403 and b"slidecast_" not in wrong.content
    right = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside)
    assert right.status_code == 200 and b"slidecast_queue_jobs" in right.content
    assert client.get(reverse("metrics")).status_code == 200  # 127.0.0.1, no token
    # A presented token must be right, even from an allowed network.
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer nope").status_code == 403
    assert client.post(reverse("metrics")).status_code == 405


def test_allowed_networks_take_cidrs_and_mapped_ipv4(client, metrics_settings, settings):
    settings.METRICS = {
        **metrics_settings,
        "ALLOWED_NETWORKS": [ipaddress.ip_network("10.0.0.0/8")],
    }
    for address, status in (
        ("10.1.2.3", 200), ("::ffff:10.1.2.3", 200), ("11.0.0.1", 401), ("127.0.0.1", 401),
        ("not-an-address", 401),
    ):  # fmt: skip
        assert client.get(reverse("metrics"), REMOTE_ADDR=address).status_code == status, address


def test_no_token_configured_refuses_every_bearer(client, metrics_settings, settings):
    settings.METRICS = {**metrics_settings, "TOKEN": None}
    response = client.get(
        reverse("metrics"), HTTP_AUTHORIZATION="Bearer ", REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 403


def test_bad_allowed_networks_setting_says_what_to_set(monkeypatch):
    from project import settings as project_settings

    monkeypatch.setenv("SLIDECAST_METRICS_ALLOWED_NETWORKS", "10.0.0.0/8, intranet")
    with pytest.raises(ImproperlyConfigured, match="SLIDECAST_METRICS_ALLOWED_NETWORKS"):
        project_settings._networks("SLIDECAST_METRICS_ALLOWED_NETWORKS", [])


def _panels(panels: list[dict]) -> list[dict]:
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels", [])))
    return found


def test_grafana_board_queries_only_metrics_the_endpoint_exposes(client):
    response = client.get(reverse("metrics"))
    exposed = set()
    for family in text_string_to_metric_families(response.content.decode()):
        exposed.add(family.name)
        exposed.update(sample.name for sample in family.samples)
    board = json.loads(DASHBOARD.read_text())

    variables = {item["name"]: item for item in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    panels = [panel for panel in _panels(board["panels"]) if panel["type"] != "row"]
    assert len({panel["id"] for panel in _panels(board["panels"])}) == len(_panels(board["panels"]))
    used = set()
    for panel in panels:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"\bslidecast_[a-z0-9_]+", target["expr"]))
            assert names, (panel["title"], target["expr"])
            assert names <= exposed, (panel["title"], names - exposed)
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            used |= names
    wanted = {
        "slidecast_queue_jobs", "slidecast_queue_oldest_job_age_seconds",
        "slidecast_task_duration_seconds_bucket", "slidecast_deck_jobs", "slidecast_workers",
        "slidecast_worker_heartbeat_age_seconds", "slidecast_content_cache_hit_ratio",
        "slidecast_stored_bytes",
    }  # fmt: skip
    assert wanted <= used
