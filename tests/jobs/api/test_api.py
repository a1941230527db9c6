"""The REST API through HTTP (Django's test client) against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.access.services import api_token_create
from jobs.models import ApiToken, Job, Persona
from tests.jobs.api.conftest import auth

pytestmark = pytest.mark.django_db


def upload(client, token, deck_path, *, key: str | None = None, **fields):
    data = {"persona_id": fields.pop("persona_id"), **fields}
    headers = auth(token) | ({"HTTP_IDEMPOTENCY_KEY": key} if key else {})
    with _same_deck(deck_path, fields.get("name", "talk.pptx")).open("rb") as deck:
        return client.post("/api/jobs", {**data, "deck": deck}, **headers)


def _same_deck(deck_path, name: str):
    # Built once per test: a deck saved a second later differs in its ZIP timestamps, which
    # an idempotent retry must not see as another deck.
    cache = deck_path.__dict__.setdefault("built", {})
    if name not in cache:
        cache[name] = deck_path([("One", "Hello from the API.")], name=name)
    return cache[name]


def make_job(user, persona, **fields) -> Job:
    return Job.objects.create(owner=user, title="t.pptx", persona=persona, **fields)


def test_requests_without_a_valid_token_get_401_in_the_error_shape(client, user, token):
    for headers in ({}, auth("sc_not-a-token")):
        response = client.get("/api/jobs", **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
    ApiToken.objects.update(revoked_at=timezone.now())
    assert client.get("/api/jobs", **auth(token)).status_code == 401


def test_token_is_stored_hashed(user):
    record, token = api_token_create(user=user, name="x")
    assert token.startswith("sc_") and token not in (record.key_hash, record.prefix)
    assert token.startswith(record.prefix)


def test_rate_limit_answers_429_with_retry_after(client, token, settings):
    settings.API = {**settings.API, "RATE_LIMIT_PER_MINUTE": 3}
    codes = [client.get("/api/jobs", **auth(token)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/jobs", **auth(token))
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"


@pytest.mark.django_db(transaction=True)
def test_create_job_queues_it_and_shows_it(client, token, persona, deck_path):
    response = upload(client, token, deck_path, persona_id=persona.id, resolution="1280x720",
                      priority="high")  # fmt: skip
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["status"] == "pending" and job["resolution"] == "1280x720"
    assert job["priority"] == "high" and job["artifacts"]["video"] is None
    assert job["artifacts"]["deck"] == f"/api/jobs/{job['id']}/artifacts/deck"
    queued = ProcrastinateJob.objects.get(args__job_id=job["id"])
    assert (queued.task_name, queued.priority) == ("slidecast.decompose", 10)
    fetched = client.get(f"/api/jobs/{job['id']}", **auth(token)).json()
    assert fetched["id"] == job["id"] and fetched["slides"] == []


def test_validation_errors_name_the_field(client, token, persona, deck_path):
    bad = upload(client, token, deck_path, persona_id=persona.id, resolution="640x480")
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == "resolution" and "resolution" in error["message"]
    unknown = upload(client, token, deck_path, persona_id=999_999)
    assert unknown.status_code == 422 and "no persona 999999" in unknown.json()["error"]["message"]
    wrong_type = upload(client, token, deck_path, persona_id=persona.id, name="talk.key")
    assert wrong_type.status_code == 422 and "*.pptx" in wrong_type.json()["error"]["message"]
    missing = client.post("/api/jobs", {"persona_id": persona.id}, **auth(token))
    assert missing.status_code == 422
    assert [d["field"] for d in missing.json()["error"]["details"]] == ["deck"]


def test_callback_urls_to_private_addresses_are_refused(client, token, persona, deck_path):
    for url in ("http://127.0.0.1:8000/hook", "http://10.1.2.3/hook", "http://[::1]/x"):
        response = upload(client, token, deck_path, persona_id=persona.id, callback_url=url)
        assert response.status_code == 422, url
        assert "private or loopback" in response.json()["error"]["message"]
    ftp = upload(client, token, deck_path, persona_id=persona.id, callback_url="ftp://x.org/a")
    assert "http:// or https://" in ftp.json()["error"]["message"]


@pytest.mark.django_db(transaction=True)
def test_idempotency_key_returns_the_same_job_or_409(client, token, persona, deck_path):
    first = upload(client, token, deck_path, persona_id=persona.id, key="order-42")
    again = upload(client, token, deck_path, persona_id=persona.id, key="order-42")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and Job.objects.count() == 1
    different = upload(client, token, deck_path, persona_id=persona.id, key="order-42",
                       resolution="1280x720")  # fmt: skip
    assert different.status_code == 409
    assert different.json()["error"]["code"] == "idempotency_key_reused"
    assert Job.objects.count() == 1


def test_list_is_paginated_by_cursor_and_filtered(client, token, user, other_user, persona):
    now = timezone.now()
    mine = []
    for minutes in range(5):
        job = make_job(user, persona, status="completed" if minutes % 2 else "failed")
        Job.objects.filter(id=job.id).update(created_at=now - timedelta(minutes=minutes))
        mine.append(str(job.id))
    make_job(other_user, persona)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/jobs", params, **auth(token)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == mine  # newest first, every job once, none of another user's
    failed = client.get("/api/jobs", {"status": "failed"}, **auth(token)).json()["items"]
    assert {item["status"] for item in failed} == {"failed"} and len(failed) == 3
    recent = client.get(
        "/api/jobs", {"created_after": (now - timedelta(minutes=1, seconds=30)).isoformat()},
        **auth(token),
    ).json()["items"]  # fmt: skip
    assert [item["id"] for item in recent] == mine[:2]
    bad = client.get("/api/jobs", {"cursor": "garbage"}, **auth(token))
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "cursor"


def test_another_users_job_is_404_everywhere(client, other_token, user, persona):
    job = make_job(user, persona, status="completed", video="jobs/x/output/video.mp4")
    calls = [
        ("get", f"/api/jobs/{job.id}"), ("post", f"/api/jobs/{job.id}/cancel"),
        ("post", f"/api/jobs/{job.id}/retry"), ("delete", f"/api/jobs/{job.id}"),
        ("get", f"/api/jobs/{job.id}/artifacts/video"),
        ("get", f"/api/jobs/{job.id}/slides/1/image"),
    ]  # fmt: skip
    for method, url in calls:
        response = getattr(client, method)(url, **auth(other_token))
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    assert Job.objects.filter(id=job.id).exists()


@pytest.mark.django_db(transaction=True)
def test_cancel_retry_and_delete(client, token, user, persona, media_root):
    job = make_job(user, persona)
    cancelled = client.post(f"/api/jobs/{job.id}/cancel", **auth(token))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/jobs/{job.id}/cancel", **auth(token))
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_finished"
    retried = client.post(f"/api/jobs/{job.id}/retry", **auth(token))
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    done = make_job(user, persona, status="completed")
    refused = client.post(f"/api/jobs/{done.id}/retry", **auth(token))
    assert refused.status_code == 409
    assert "Only failed or cancelled" in refused.json()["error"]["message"]

    stored = media_root / done.storage_prefix() / "output" / "video.mp4"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"video")
    assert client.delete(f"/api/jobs/{done.id}", **auth(token)).status_code == 204
    assert not stored.exists() and not Job.objects.filter(id=done.id).exists()
    assert client.get(f"/api/jobs/{done.id}", **auth(token)).status_code == 404


def test_artifacts_download_with_range_support(client, token, user, persona, media_root):
    job = make_job(user, persona, status="completed")
    job.video = f"{job.storage_prefix()}/output/video.mp4"
    job.save()
    path = media_root / job.video.name
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(range(100)))
    url = f"/api/jobs/{job.id}/artifacts/video"
    whole = client.get(url, **auth(token))
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == bytes(range(100))
    part = client.get(url, HTTP_RANGE="bytes=10-19", **auth(token))
    assert part.status_code == 206 and part["Content-Range"] == "bytes 10-19/100"
    assert b"".join(part.streaming_content) == bytes(range(10, 20))
    assert client.get(url, HTTP_RANGE="bytes=500-", **auth(token)).status_code == 416
    missing = client.get(f"/api/jobs/{job.id}/artifacts/srt", **auth(token))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_ready"


def test_personas_are_listed_for_all_and_each_user_manages_their_own(
    client, token, staff_token, persona, user
):
    Persona.objects.create(name="Retired", status="archived")
    names = [p["name"] for p in client.get("/api/personas", **auth(token)).json()]
    assert names == ["Joe (US English)"]
    assert len(client.get("/api/personas", **auth(staff_token)).json()) == 2
    body = {"name": "Ava", "speaking_rate": 1.2}
    created = client.post("/api/personas", body, content_type="application/json", **auth(token))
    assert created.status_code == 201 and created.json()["speaking_rate"] == 1.2
    assert created.json()["status"] == "draft" and created.json()["shared"] is False
    ava = created.json()["id"]
    assert Persona.objects.get(id=ava).owner == user
    duplicate = client.post("/api/personas", body, content_type="application/json", **auth(token))
    assert duplicate.status_code == 409
    shared = client.post("/api/personas", {**body, "shared": True},
                         content_type="application/json", **auth(token))  # fmt: skip
    assert shared.status_code == 403 and shared.json()["error"]["code"] == "staff_only"
    # Staff may change anyone's persona; a user may not change a shared one.
    patched = client.patch(f"/api/personas/{ava}", {"speaking_rate": 0.9},
                           content_type="application/json", **auth(staff_token))  # fmt: skip
    assert patched.json()["speaking_rate"] == 0.9
    not_theirs = client.patch(f"/api/personas/{persona.id}", {"speaking_rate": 0.9},
                              content_type="application/json", **auth(token))  # fmt: skip
    assert not_theirs.status_code == 403
    make_job(user, persona)
    in_use = client.delete(f"/api/personas/{persona.id}", **auth(staff_token))
    assert in_use.status_code == 409 and "used by 1 jobs" in in_use.json()["error"]["message"]
    assert "archive it instead" in in_use.json()["error"]["message"]
    assert client.delete(f"/api/personas/{ava}", **auth(token)).status_code == 204


def test_system_endpoints_are_for_staff(client, token, staff_token):
    assert client.get("/api/system/queues", **auth(token)).status_code == 403
    queues = client.get("/api/system/queues", **auth(staff_token)).json()["queues"]
    assert {"cpu", "gpu"} <= {queue["name"] for queue in queues}
    assert client.get("/api/system/workers", **auth(staff_token)).json() == {"workers": []}


def test_openapi_and_docs_are_served(client):
    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "Slidecast API"
    assert "Slidecast-Signature" in schema["info"]["description"]
    assert "/api/jobs/{job_id}/artifacts/{kind}" in schema["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn." not in page and "https://" not in page  # works offline, no third party


def test_text_postgresql_cannot_store_is_a_422_not_a_500(client, staff_token):
    body = {"name": "ñ\f", "voice": "ñ", "language": "\u0000ä"}
    response = client.post("/api/personas", body, content_type="application/json",
                           **auth(staff_token))  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "language"


def test_malformed_input_is_4xx_never_5xx(client, token, user, persona, deck_path, media_root):
    bad_port = upload(client, token, deck_path, persona_id=persona.id,
                      callback_url="http://example.com:99999/hook")  # fmt: skip
    assert bad_port.status_code == 422 and "not a valid URL" in bad_port.json()["error"]["message"]
    job = make_job(user, persona, status="completed")
    job.video = f"{job.storage_prefix()}/output/video.mp4"
    job.save()
    (media_root / job.video.name).parent.mkdir(parents=True)
    (media_root / job.video.name).write_bytes(b"0123456789")
    huge_range = "bytes=" + "9" * 5000 + "-"
    response = client.get(f"/api/jobs/{job.id}/artifacts/video", HTTP_RANGE=huge_range,
                          **auth(token))  # fmt: skip
    assert response.status_code == 200  # an unparseable range is ignored, as HTTP allows
    for header in ("t=" + "9" * 400 + ",v1=ab", "t=1,v1=é", "garbage"):
        answer = client.post("/api/webhooks/crm", b"{}", content_type="application/json",
                             HTTP_SLIDECAST_SIGNATURE=header)  # fmt: skip
        assert answer.status_code == 401, header


def test_running_job_must_be_cancelled_before_delete(client, token, user, persona):
    job = make_job(user, persona, status=Job.Status.SYNTHESIZING_AUDIO)
    response = client.delete(f"/api/jobs/{job.id}", **auth(token))
    assert response.status_code == 409 and "cancel it first" in response.json()["error"]["message"]
    assert Job.objects.filter(id=job.id).exists()


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=x"],
)
def test_malformed_multipart_gets_the_json_error_envelope(client, token, content_type):
    body = b"--y\r\nContent-Disposition: form-data; name=deck\r\n\r\ntruncated"
    response = client.post("/api/jobs", body, content_type=content_type, **auth(token))
    # No usable boundary is a malformed body; a boundary that matches nothing, a missing field.
    assert response.status_code == (422 if content_type.endswith("=x") else 400)
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] in {"malformed_request", "validation_error"}, error
    assert "multipart" in error["message"] or "deck" in error["message"]


def test_unknown_paths_and_wrong_methods_answer_in_the_error_envelope(client, token):
    missing = client.get("/api/no-such-thing", **auth(token))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = client.put("/api/jobs", **auth(token))
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong["Allow"] and "POST" in wrong["Allow"]


def test_staff_replace_a_persona_lexicon_everyone_reads_it(client, token, staff_token, persona):
    url = f"/api/personas/{persona.id}/lexicon"
    body = {"entries": [{"phrase": "SQL", "say": "sequel"}]}
    refused = client.put(url, body, content_type="application/json", **auth(token))
    assert refused.status_code == 403
    replaced = client.put(url, body, content_type="application/json", **auth(staff_token))
    assert replaced.status_code == 200 and replaced.json() == body
    assert client.get(url, **auth(token)).json() == body
    twice = {"entries": [{"phrase": "a", "say": "b"}, {"phrase": "A", "say": "c"}]}
    conflict = client.put(url, twice, content_type="application/json", **auth(staff_token))
    assert conflict.status_code == 422
    assert "listed twice" in conflict.json()["error"]["message"]


def test_persona_voice_defaults_to_the_language_and_unknown_voices_are_422(client, staff_token):
    created = client.post("/api/personas", {"name": "Kim", "language": "en-us"},
                          content_type="application/json", **auth(staff_token))  # fmt: skip
    assert created.status_code == 201
    assert (created.json()["language"], created.json()["voice"]) == ("en-US", "en_US-joe-medium")
    unknown = client.post("/api/personas", {"name": "Lee", "voice": "fr_FR-siwis-low"},
                          content_type="application/json", **auth(staff_token))  # fmt: skip
    assert unknown.status_code == 422
    [detail] = unknown.json()["error"]["details"]
    assert detail["field"] == "voice" and "en_US-joe-medium" in detail["message"]


def test_storage_use_counts_only_your_own_jobs_and_cache(client, token, user, other_user, persona):
    from jobs.models import CachedArtifact, Job

    Job.objects.create(owner=user, title="a", deck="d", persona=persona, stored_bytes=1000)
    Job.objects.create(owner=other_user, title="b", deck="d", persona=persona, stored_bytes=5)
    CachedArtifact.objects.create(owner=user, kind="audio", key="k" * 64, file="f", size_bytes=300)
    CachedArtifact.objects.create(
        owner=other_user, kind="audio", key="k" * 64, file="g", size_bytes=7
    )
    response = client.get("/api/jobs/storage", **auth(token))
    assert response.status_code == 200
    assert response.json() == {"jobs": 1000, "cache": 300, "total": 1300}


def test_clearing_the_cache_removes_only_your_entries_and_their_files(
    client, token, user, other_user
):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from jobs.models import CachedArtifact

    mine = default_storage.save("cache/test/mine.wav", ContentFile(b"x" * 300))
    theirs = default_storage.save("cache/test/theirs.wav", ContentFile(b"y" * 7))
    CachedArtifact.objects.create(owner=user, kind="audio", key="a" * 64, file=mine, size_bytes=300)
    CachedArtifact.objects.create(
        owner=other_user, kind="audio", key="a" * 64, file=theirs, size_bytes=7
    )
    response = client.delete("/api/jobs/storage/cache", **auth(token))
    assert response.status_code == 200 and response.json() == {"removed": 1, "bytes": 300}
    assert not default_storage.exists(mine) and default_storage.exists(theirs)
    assert list(CachedArtifact.objects.values_list("owner", flat=True)) == [other_user.id]
    default_storage.delete(theirs)
