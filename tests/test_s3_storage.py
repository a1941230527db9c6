"""The whole pipeline with S3 as the storage: a real S3-speaking server (moto), no shared disk."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer

from jobs.access.services import api_token_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BUCKET = "slidecast-test"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_storage(settings):
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **KEYS)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "jobs.storage_backends.SlidecastS3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET, "endpoint_url": endpoint, "region_name": "us-east-1",
                # Browsers reach the bucket by another name than the workers do.
                "public_endpoint_url": f"http://localhost:{port}",
                "access_key": KEYS["aws_access_key_id"],
                "secret_key": KEYS["aws_secret_access_key"],
                "default_acl": "private", "querystring_auth": True, "querystring_expire": 120,
                "file_overwrite": True, "signature_version": "s3v4",
            },
        },
    }  # fmt: skip
    yield client
    server.stop()


def test_deck_is_rendered_and_downloaded_with_s3_as_the_storage(
    client, user, persona, deck_path, run_worker, s3_storage, media_root, work_dir
):
    token = api_token_create(user=user, name="s3")[1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    with deck_path([("One", "Stored in a bucket."), ("Two", "")]).open("rb") as deck:
        created = client.post("/api/jobs", {"deck": deck, "persona_id": persona.id,
                                            "resolution": "1280x720"}, **headers)  # fmt: skip
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    [job] = run_worker([job_id], timeout=180)
    assert job.status == "completed", job.error

    keys = {obj["Key"] for obj in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]}
    prefix = f"jobs/{job_id}"
    assert {f"{prefix}/deck.pptx", f"{prefix}/output/video.mp4",
            f"{prefix}/output/captions.vtt"} <= keys  # fmt: skip
    # Slides' images and narration are in the owner's content cache, in the bucket too.
    cached = {key.split("/")[2] for key in keys if key.startswith(f"cache/{user.id}/")}
    assert cached == {"image", "audio", "keyframe", "aac"}
    assert not any(p.is_file() for p in media_root.rglob("*")), "files were written locally"

    # The owner is sent to a short-lived signed URL; S3 serves ranges itself.
    response = client.get(f"/api/jobs/{job_id}/artifacts/video", **headers)
    assert response.status_code == 302
    signed = response["Location"]
    assert "X-Amz-Signature=" in signed and "X-Amz-Expires=120" in signed
    assert signed.startswith(f"http://localhost:{s3_storage.meta.endpoint_url.rsplit(':', 1)[1]}/")
    with urllib.request.urlopen(signed) as download:
        body = download.read()
        assert download.headers["Content-Type"] == "video/mp4"
    assert body[4:8] == b"ftyp" and len(body) > 10_000
    ranged = urllib.request.Request(signed, headers={"Range": "bytes=0-99"})
    with urllib.request.urlopen(ranged) as part:
        assert part.status == 206 and len(part.read()) == 100
    unsigned = signed.split("?")[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned)
    assert refused.value.code == 403  # the bucket is private

    # Deleting the job removes its objects.
    assert client.delete(f"/api/jobs/{job_id}", **headers).status_code == 204
    left = s3_storage.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert not [obj for obj in left if obj["Key"].startswith(prefix)]


def test_an_edited_deck_reuses_cached_slides_and_sentences_from_the_bucket(
    user, persona, deck_path, run_worker, s3_storage, media_root, work_dir, monkeypatch
):
    from jobs.models import Job
    from media_pipeline.tts import PiperEngine
    from tests.conftest import submit_deck

    slides = [("One", "Stored in a bucket."), ("Two", "Read back from it.")]
    first = submit_deck(deck_path(slides, name="a.pptx"), user, persona, resolution="1280x720")
    [first] = run_worker([first.id], timeout=180)
    assert first.status == Job.Status.COMPLETED, first.error

    spoken = []
    speak = PiperEngine.speak
    monkeypatch.setattr(
        PiperEngine,
        "speak",
        lambda self, text, **kw: spoken.append(text) or speak(self, text, **kw),
    )
    edited = [slides[0], ("Two", "Read back from it. Then spoken again.")]
    again = submit_deck(deck_path(edited, name="b.pptx"), user, persona, resolution="1280x720")
    [again] = run_worker([again.id], timeout=180)
    assert again.status == Job.Status.COMPLETED, again.error
    flags = [(s.image_cached, s.audio_cached) for s in again.slides.order_by("index")]
    # Existence of every cached object was asked of the bucket; only the new sentence spoken.
    assert flags == [(True, True), (True, False)]
    assert spoken == ["Then spoken again."]
    assert not any(p.is_file() for p in media_root.rglob("*")), "files were written locally"
