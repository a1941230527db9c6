"""The persona knowledge endpoints: create, upload, ingest on a real worker, follow, search."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.worker.inprocess import in_process_worker
from tests.conftest import clear_queue
from tests.jobs.api.conftest import auth

ORCHARD = " ".join(f"The orchard's apple trees blossom in April, row {n}." for n in range(30))
TIDES = " ".join(f"Tides follow the moon twice a day, at the harbour wall {n}." for n in range(30))


def _create(client, token, name="Ada Quill"):
    answer = client.post("/api/personas", {"name": name, "language": "en-GB"},
                         content_type="application/json", **auth(token))  # fmt: skip
    assert answer.status_code == 201, answer.content
    return answer.json()


def _upload(client, token, persona_id, part, *files):
    return client.post(
        f"/api/personas/{persona_id}/documents",
        {"part": part, "files": [SimpleUploadedFile(name, data) for name, data in files]},
        **auth(token),
    )


def test_a_user_builds_a_persona_with_knowledge_and_searches_it(
    client, transactional_db, token, other_token
):
    clear_queue()
    persona = _create(client, token)
    assert persona["status"] == "draft"
    pid = persona["id"]
    profile = _upload(client, token, pid, "profile", ("ada.md", b"# Ada\nAda grows apples."))
    assert profile.status_code == 201 and profile.json()["documents"][0]["status"] == "pending"
    works = _upload(client, token, pid, "works", ("orchard.txt", ORCHARD.encode()),
                    ("tides.txt", TIDES.encode()))  # fmt: skip
    assert works.status_code == 201 and len(works.json()["documents"]) == 2
    csv = b"quote,source\nApples remember the spring.,Interview\n"
    quotes = _upload(client, token, pid, "quotes", ("q.csv", csv))
    assert quotes.status_code == 201
    again = _upload(client, token, pid, "works", ("tides.txt", TIDES.encode()))
    assert again.json()["unchanged"] == ["tides.txt"]

    # Another user can neither see nor use it.
    assert client.get(f"/api/personas/{pid}/knowledge", **auth(other_token)).status_code == 404
    assert client.post(f"/api/personas/{pid}/ingest", **auth(other_token)).status_code == 404
    hidden = client.get(f"/api/personas/{pid}/search", {"q": "tides"}, **auth(other_token))
    assert hidden.status_code == 404

    started = client.post(f"/api/personas/{pid}/ingest", **auth(token))
    assert started.status_code == 202 and started.json()["status"] == "ingesting"
    twice = client.post(f"/api/personas/{pid}/ingest", **auth(token))
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "ingestion_running"
    with in_process_worker(queues=["cpu"]):
        deadline = time.monotonic() + 60
        while (state := client.get(f"/api/personas/{pid}/knowledge", **auth(token)).json())[
            "status"
        ] == "ingesting":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert state["status"] == "active", state["error"]
    parts = {part["part"]: part for part in state["parts"]}
    assert [parts[k]["status"] for k in ("profile", "works", "quotes")] == ["done"] * 3
    assert parts["works"]["segment_count"] == parts["works"]["vector_count"] > 0
    assert parts["quotes"]["segment_count"] == 1

    hits = client.get(f"/api/personas/{pid}/search", {"q": "moon and tides", "k": 3},
                      **auth(token)).json()  # fmt: skip
    assert hits[0]["document"] == "tides.txt" and hits[0]["part"] == "works"
    assert {"position", "score", "similarity", "text_rank", "text"} <= set(hits[0])
    only = {"q": "apples spring", "part": "quotes"}
    quotes_only = client.get(f"/api/personas/{pid}/search", only, **auth(token)).json()
    assert [hit["source"] for hit in quotes_only] == ["Interview"]
    bad_k = client.get(f"/api/personas/{pid}/search", {"q": "x", "k": 500}, **auth(token))
    assert bad_k.status_code == 422

    archived = client.post(f"/api/personas/{pid}/archive", **auth(token))
    assert archived.json()["status"] == "archived"
    restored = client.post(f"/api/personas/{pid}/restore", **auth(token))
    assert restored.json()["status"] == "active"  # all of its knowledge is in

    document_id = parts["quotes"]["documents"][0]["id"]
    assert client.delete(f"/api/personas/{pid}/documents/{document_id}",
                         **auth(token)).status_code == 204  # fmt: skip
    empty = client.get(f"/api/personas/{pid}/search", {"q": "apples spring", "part": "quotes"},
                       **auth(token)).json()  # fmt: skip
    assert empty == []


@pytest.mark.django_db
def test_bad_uploads_are_refused_with_the_file_and_reason(client, token):
    pid = _create(client, token)["id"]
    answer = _upload(client, token, pid, "works", ("notes.pages", b"zip?"))
    assert answer.status_code == 422
    assert "notes.pages: works take .txt, .md, .markdown, .html, .htm, .pdf, .docx" in (
        answer.json()["error"]["message"] + str(answer.json()["error"]["details"])
    )
    wrong_part = _upload(client, token, pid, "letters", ("a.txt", b"a"))
    assert wrong_part.status_code == 422


def test_the_openapi_schema_documents_the_knowledge_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for action in ("documents", "ingest", "knowledge", "retry", "archive", "restore", "search"):
        assert f"/api/personas/{{persona_id}}/{action}" in paths, action
