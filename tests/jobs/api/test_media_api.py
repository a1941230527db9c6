"""The media endpoints: create from an upload or a narration, follow, download, owner-only."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.media.models import MediaArtifact, MediaJob
from jobs.models import Job
from tests.conftest import clear_queue
from tests.jobs.api.conftest import auth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_queue(transactional_db):
    clear_queue()


def _post(client, token, **data):
    return client.post(reverse("api:media_jobs"), data, **auth(token))


def test_a_media_job_is_created_from_an_upload_with_its_options(client, token):
    upload = SimpleUploadedFile("talk.mp4", b"\x00" * 2048, content_type="video/mp4")
    response = _post(client, token, operation="transcode", file=upload,
                     parameters=json.dumps({"codec": "vp9", "aspect": "1:1"}))  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["operation"] == "transcode"
    assert body["parameters"]["codec"] == "vp9" and body["parameters"]["aspect"] == "1:1"
    assert body["queue"] in ("cpu", "gpu") and body["queue_reason"]
    assert body["artifacts"] == [] and body["error"] is None
    got = client.get(f"/api/media/{body['id']}", **auth(token)).json()
    assert got["id"] == body["id"]


def test_bad_options_get_a_422_naming_the_field(client, token):
    upload = SimpleUploadedFile("talk.mp4", b"\x00" * 2048)
    response = _post(client, token, operation="transcode", file=upload,
                     parameters=json.dumps({"codec": "mpeg2"}))  # fmt: skip
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "codec" in error["message"]
    response = _post(client, token, operation="transcode", file=upload, parameters="{not json")
    assert response.status_code == 422 and "JSON object" in response.json()["error"]["message"]
    assert not MediaJob.objects.exists()


def test_an_empty_upload_is_refused(client, token):
    upload = SimpleUploadedFile("empty.wav", b"")
    response = _post(client, token, operation="transcribe", file=upload)
    assert response.status_code == 422
    assert "empty.wav is empty" in response.json()["error"]["message"]


def test_another_users_media_job_and_narration_are_invisible(client, token, other_token, user,
                                                             persona):  # fmt: skip
    upload = SimpleUploadedFile("talk.mp4", b"\x00" * 2048)
    created = _post(client, token, operation="preview", file=upload).json()
    for path in (f"/api/media/{created['id']}", f"/api/media/{created['id']}/files/poster.jpg"):
        assert client.get(path, **auth(other_token)).status_code == 404
    assert client.post(f"/api/media/{created['id']}/cancel", **auth(other_token)).status_code == 404
    assert client.get("/api/media", **auth(other_token)).json()["items"] == []
    narration = Job.objects.create(owner=user, title="d.pptx", persona=persona,
                                   status="completed", video="jobs/x/video.mp4")  # fmt: skip
    response = _post(client, other_token, operation="transcribe", source_job_id=str(narration.id))
    assert response.status_code == 422 and "among yours" in response.json()["error"]["message"]


def test_files_are_served_only_by_name_inside_the_jobs_outputs(client, token, user, media_root):
    job = MediaJob.objects.create(owner=user, title="t.mp4", operation="hls", status="completed")
    folder = media_root / "media" / str(job.id) / "out" / "hls"
    folder.mkdir(parents=True)
    (folder / "master.m3u8").write_text("#EXTM3U\n")
    (folder / "720p.m3u8").write_text("#EXTM3U\n")
    (media_root / "media" / str(job.id) / "source.mp4").write_bytes(b"secret")
    MediaArtifact.objects.create(media_job=job, kind="hls_master", name="hls/master.m3u8",
                                 file=f"media/{job.id}/out/hls/master.m3u8",
                                 content_type="application/vnd.apple.mpegurl")  # fmt: skip
    base = f"/api/media/{job.id}/files/"
    response = client.get(base + "hls/master.m3u8", **auth(token))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    assert client.get(base + "hls/720p.m3u8", **auth(token)).status_code == 200
    for bad in ("../source.mp4", "hls/../../source.mp4", "source.mp4", "hls/missing.ts"):
        assert client.get(base + bad, **auth(token)).status_code == 404, bad


def test_capabilities_list_codecs_encoders_and_option_schemas(client, token):
    body = client.get("/api/media/capabilities", **auth(token)).json()
    assert set(body["operations"]) == {"transcribe", "preview", "transcode", "hls"}
    assert "libx264" in body["codecs"]["h264"]["encoders"]
    assert body["limits"]["max_duration_seconds"] > 0
    assert "codec" in body["operations"]["transcode"]["parameters"]["properties"]


def test_the_openapi_document_describes_the_media_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/media", "/api/media/{media_job_id}", "/api/media/capabilities"} <= set(paths)
