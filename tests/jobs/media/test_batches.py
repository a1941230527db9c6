"""Batches: one call makes many outputs; a failed child spares the others; cancel; one ZIP."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from jobs.access.services import api_token_create
from jobs.media.models import MediaBatch
from jobs.worker.inprocess import in_process_worker
from tests.conftest import clear_queue
from tests.decks import make_zip_bomb
from tests.jobs.api.conftest import auth
from tests.media import ffprobe

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NOTES = [("Plan", "Our plan has three steps."), ("Close", "Thank you for listening.")]
VERTICAL = {"codec": "h264", "resolution": "720p", "aspect": "9:16"}
SQUARE = {"codec": "vp9", "resolution": "720p", "aspect": "1:1", "background": "#202020"}


@pytest.fixture
def token(user) -> str:
    return api_token_create(user=user, name="batch")[1]


def _post(client, token, decks: list[Path], persona_ids, presets, key: str = ""):
    headers = {**auth(token), **({"HTTP_IDEMPOTENCY_KEY": key} if key else {})}
    files = [path.open("rb") for path in decks]
    try:
        return client.post("/api/batches", {
            "decks": files, "persona_ids": json.dumps(persona_ids),
            "presets": json.dumps(presets), "resolution": "1280x720",
        }, **headers)  # fmt: skip
    finally:
        for handle in files:
            handle.close()


def _wait(client, token, batch_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/batches/{batch_id}", **auth(token)).json()
        if body["archive_url"]:
            return body
        time.sleep(0.5)
    raise AssertionError(f"the batch did not end: {body['progress']}")


def _zip(client, token, body) -> zipfile.ZipFile:
    response = client.get(body["archive_url"], **auth(token))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_one_deck_in_two_presets_makes_three_videos_in_one_zip(
    client, token, user, persona, deck_path, work_dir, tmp_path
):
    clear_queue()
    deck = deck_path(NOTES, name="Plan.pptx")
    response = _post(client, token, [deck], [persona.id], [VERTICAL, SQUARE], key="b-1")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["progress"]["expected"] == 3 and created["status"] == "running"
    again = _post(client, token, [deck], [persona.id], [VERTICAL, SQUARE], key="b-1")
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    other = _post(client, token, [deck], [persona.id], [VERTICAL], key="b-1")
    assert other.status_code == 409

    with in_process_worker(queues=["cpu", "gpu"], concurrency=3):
        body = _wait(client, token, created["id"])
    assert body["status"] == "completed", body["children"]
    assert body["progress"]["completed"] == 3 and body["progress"]["percent"] == 100
    archive = _zip(client, token, body)
    names = set(archive.namelist())
    folder = f"Plan/{persona.name}"
    assert {f"{folder}/video.mp4", f"{folder}/captions.srt", f"{folder}/captions.vtt",
            f"{folder}/h264-720p-9x16.mp4", f"{folder}/vp9-720p-1x1-202020.webm",
            "manifest.json"} <= names  # fmt: skip
    vertical = tmp_path / "vertical.mp4"
    vertical.write_bytes(archive.read(f"{folder}/h264-720p-9x16.mp4"))
    stream = next(s for s in ffprobe(vertical)["streams"] if s["codec_type"] == "video")
    assert (stream["width"], stream["height"]) == (720, 1280)
    manifest = json.loads(archive.read("manifest.json"))
    assert [entry["status"] for entry in manifest] == ["completed"] * 3


def test_a_broken_deck_fails_alone_and_the_batch_completes_with_failures(
    client, token, user, persona, deck_path, work_dir, tmp_path
):
    clear_queue()
    good = deck_path(NOTES, name="Good.pptx")
    bomb = make_zip_bomb(tmp_path / "Bomb.pptx", expanded_bytes=600 * 1024**2)
    response = _post(client, token, [good, bomb], [persona.id], [VERTICAL])
    assert response.status_code == 201, response.content
    with in_process_worker(queues=["cpu", "gpu"], concurrency=3):
        body = _wait(client, token, response.json()["id"])
    assert body["status"] == "partial"
    assert body["progress"] == {**body["progress"], "completed": 2, "failed": 1, "not_made": 1}
    failed = next(c for c in body["children"] if c["status"] == "failed")
    assert failed["title"] == "Bomb.pptx" and "expand" in failed["error"].lower()
    names = _zip(client, token, body).namelist()
    assert any(n.startswith("Good/") and n.endswith("9x16.mp4") for n in names)
    assert not any(n.startswith("Bomb/") for n in names)


def test_cancelling_a_batch_cancels_its_children_and_still_gives_a_zip(
    client, token, user, persona, deck_path, work_dir, other_user
):
    clear_queue()
    decks = [deck_path(NOTES, name=f"Deck {n}.pptx") for n in range(3)]
    created = _post(client, token, decks, [persona.id], [VERTICAL]).json()
    cancelled = client.post(f"/api/batches/{created['id']}/cancel", **auth(token)).json()
    assert cancelled["status"] == "cancelled"
    assert {c["status"] for c in cancelled["children"]} == {"cancelled"}
    with in_process_worker(queues=["cpu"]):
        body = _wait(client, token, created["id"], timeout=60)
    assert body["status"] == "cancelled" and body["progress"]["done"] is True
    manifest = json.loads(_zip(client, token, body).read("manifest.json"))
    assert {entry["status"] for entry in manifest} == {"cancelled"}
    mallory = api_token_create(user=other_user, name="m")[1]
    assert client.get(f"/api/batches/{created['id']}", **auth(mallory)).status_code == 404
    assert client.get(body["archive_url"], **auth(mallory)).status_code == 404
    assert MediaBatch.objects.get(id=created["id"]).archive
    assert default_storage.exists(MediaBatch.objects.get(id=created["id"]).archive.name)


def test_presets_that_differ_only_in_quality_or_captions_get_their_own_zip_names():
    from jobs.media.batch_archive import _preset_label, _unique

    labels = {_preset_label(p) for p in (
        VERTICAL, {**VERTICAL, "quality": "small"}, {**VERTICAL, "burn_captions": True},
        {**VERTICAL, "frame_rate": 30}, {**VERTICAL, "background": "#202020"},
    )}  # fmt: skip
    assert len(labels) == 5
    taken: set[str] = set()
    assert [_unique("a/x.mp4", taken) for _ in range(3)] == ["a/x.mp4", "a/x-2.mp4", "a/x-3.mp4"]
