"""Model downloads: streamed, checked against published digests, never half-kept."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from media_pipeline.model_download import (
    MANIFEST_NAME,
    ModelDownloadError,
    ModelFile,
    ModelManifest,
    fetch_model,
    hub_manifest,
    verify_model_dir,
    with_pinned_digests,
)

REPO_ID = "coqui/XTTS-v2"
COMMIT = "a" * 40


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """A local stand-in for the Hugging Face Hub: its revision API and its file URLs.

    Large files are "LFS" (published with their SHA-256) and are served through a redirect,
    as the Hub hands them to its CDN; the JSON files are published with their git blob id.
    """

    def __init__(self, files: dict[str, bytes], *, revision: str = "v2.0.3") -> None:
        self.files = dict(files)
        self.published = dict(files)  # what the digests describe
        self.revision = revision
        self.requests: Counter[str] = Counter()
        self.failures: dict[str, int] = {}  # file name -> HTTP status to answer
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hub.serve(self)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def downloads(self) -> int:
        return sum(n for path, n in self.requests.items() if "/cdn/" in path or "/resolve/" in path)

    def sibling(self, name: str) -> dict:
        data = self.published[name]
        if name.endswith(".json"):
            return {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
        lfs = {"sha256": sha256(data), "size": len(data), "pointerSize": 134}
        return {"rfilename": name, "size": len(data), "blobId": "b" * 40, "lfs": lfs}

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        path = unquote(urlsplit(request.path).path)
        self.requests[path] += 1
        if path == f"/api/models/{REPO_ID}/revision/{self.revision}":
            siblings = [self.sibling(name) for name in self.published]
            return self.answer(request, 200, json.dumps({"sha": COMMIT, "siblings": siblings}))
        name = path.rsplit("/", 1)[-1]
        if name in self.failures:
            return self.answer(request, self.failures[name], b"")
        if path == f"/{REPO_ID}/resolve/{COMMIT}/{name}" and name in self.files:
            if name.endswith(".json"):
                return self.answer(request, 200, self.files[name])
            request.send_response(302)
            request.send_header("Location", f"{self.url}/cdn/{name}")
            request.send_header("Content-Length", "0")
            return request.end_headers()
        if path == f"/cdn/{name}" and name in self.files:
            return self.answer(request, 200, self.files[name])
        self.answer(request, 404, b"not found")

    @staticmethod
    def answer(request: BaseHTTPRequestHandler, status: int, body: bytes | str) -> None:
        body = body.encode() if isinstance(body, str) else body
        request.send_response(status)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


MODEL_FILES = {
    "config.json": b'{"model": "xtts"}',
    "model.pth": bytes(range(256)) * 9000,  # a little over 2 MiB: several chunks
    "vocab.json": b'{"vocab": ["a", "b"]}',
}


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(MODEL_FILES) as server:
        yield server


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "xtts"


def manifest_from(hub: FakeHub, files=tuple(MODEL_FILES)) -> ModelManifest:
    return hub_manifest(name="XTTS", repo=REPO_ID, revision="v2.0.3", files=files, endpoint=hub.url)


def test_files_are_downloaded_checked_and_listed_in_the_manifest(hub, target):
    seen: list[tuple[str, int, int | None]] = []
    paths = fetch_model(manifest_from(hub), target, progress=lambda *step: seen.append(step))

    assert [path.name for path in paths] == list(MODEL_FILES)
    for name, data in MODEL_FILES.items():
        assert (target / name).read_bytes() == data
    assert (target / MANIFEST_NAME).read_text() == "".join(
        f"{sha256(data)}  {name}\n" for name, data in MODEL_FILES.items()
    )
    assert sorted(p.name for p in target.iterdir()) == sorted([*MODEL_FILES, MANIFEST_NAME])
    size = len(MODEL_FILES["model.pth"])
    assert [step for step in seen if step[0] == "model.pth"][-1] == ("model.pth", size, size)
    assert len([step for step in seen if step[0] == "model.pth"]) == 3  # 1 MiB chunks


def test_the_manifest_points_at_the_resolved_commit(hub):
    manifest = manifest_from(hub)
    assert COMMIT in manifest.source
    model = {file.name: file for file in manifest.files}["model.pth"]
    assert model.url == f"{hub.url}/{REPO_ID}/resolve/{COMMIT}/model.pth"
    assert model.sha256 == sha256(MODEL_FILES["model.pth"])
    assert model.git_blob_id is None


def test_a_file_that_is_not_the_published_one_is_refused_and_nothing_is_left(hub, target):
    tampered = b"X" + MODEL_FILES["model.pth"][1:]
    hub.files["model.pth"] = tampered

    with pytest.raises(ModelDownloadError) as refused:
        fetch_model(manifest_from(hub), target)

    message = refused.value.message
    assert "model.pth" in message
    assert sha256(MODEL_FILES["model.pth"]) in message and sha256(tampered) in message
    assert not (target / "model.pth").exists()
    assert not list(target.glob("*.part"))
    assert not (target / MANIFEST_NAME).exists()


def test_a_small_file_is_checked_against_its_git_blob_id(hub, target):
    hub.files["vocab.json"] = b'{"vocab": ["a", "c"]}'  # same size, other bytes

    with pytest.raises(ModelDownloadError, match="vocab.json .* git blob id expected"):
        fetch_model(manifest_from(hub), target)
    assert not (target / "vocab.json").exists()


def test_a_download_cut_short_is_refused(hub, target):
    hub.files["model.pth"] = MODEL_FILES["model.pth"][:-10]

    with pytest.raises(ModelDownloadError, match="has 2303990 bytes where 2304000"):
        fetch_model(manifest_from(hub), target)
    assert not list(target.glob("model.pth*"))


def test_verified_files_already_there_are_not_downloaded_again(hub, target):
    fetch_model(manifest_from(hub), target)
    assert hub.downloads() == 4  # three files, model.pth through a redirect

    fetch_model(manifest_from(hub), target)
    assert hub.downloads() == 4
    assert (target / MANIFEST_NAME).exists()

    fetch_model(manifest_from(hub), target, force=True)
    assert hub.downloads() == 8


def test_a_damaged_file_already_there_is_downloaded_again(hub, target):
    fetch_model(manifest_from(hub), target)
    (target / "model.pth").write_bytes(b"damaged")

    fetch_model(manifest_from(hub), target)

    assert (target / "model.pth").read_bytes() == MODEL_FILES["model.pth"]
    assert verify_model_dir(target, MODEL_FILES) == []


def test_an_http_error_names_the_file_and_the_address(hub, target):
    hub.failures["model.pth"] = 503

    with pytest.raises(ModelDownloadError) as failed:
        fetch_model(manifest_from(hub), target)

    assert f"{hub.url}/{REPO_ID}/resolve/{COMMIT}/model.pth" in failed.value.message
    assert "503" in failed.value.message
    assert not failed.value.permanent
    assert not list(target.glob("model.pth*"))


def test_an_unreachable_host_is_a_clear_error():
    with FakeHub(MODEL_FILES) as closed:
        url = closed.url
    with pytest.raises(ModelDownloadError, match=f"Could not read the file list .* {url}/api"):
        hub_manifest(name="XTTS", repo=REPO_ID, revision="v2.0.3", files=["a"], endpoint=url)


def test_a_file_the_revision_lacks_is_reported(hub):
    with pytest.raises(ModelDownloadError, match="has no dvae.pth at 'v2.0.3'"):
        manifest_from(hub, files=("config.json", "dvae.pth"))


def test_a_revision_the_hub_does_not_have_is_reported(hub):
    with pytest.raises(ModelDownloadError, match="404"):
        hub_manifest(name="XTTS", repo=REPO_ID, revision="v9", files=["a"], endpoint=hub.url)


def test_files_without_any_digest_are_not_downloaded(hub, target):
    manifest = ModelManifest(
        name="XTTS",
        files=(ModelFile("model.pth", f"{hub.url}/cdn/model.pth", sha256=None, size=None),),
        source="a mirror",
    )
    with pytest.raises(ModelDownloadError, match="no published digest to check model.pth"):
        fetch_model(manifest, target)
    assert hub.downloads() == 0

    pinned = with_pinned_digests(manifest, {"model.pth": sha256(MODEL_FILES["model.pth"])})
    fetch_model(pinned, target)
    assert (target / "model.pth").read_bytes() == MODEL_FILES["model.pth"]


def test_a_pin_that_contradicts_the_published_digest_is_refused(hub):
    with pytest.raises(ModelDownloadError, match="is not the one .* publishes"):
        with_pinned_digests(manifest_from(hub), {"model.pth": "0" * 64})
    with pytest.raises(ModelDownloadError, match="has no file named dvae.pth"):
        with_pinned_digests(manifest_from(hub), {"dvae.pth": "0" * 64})
    with pytest.raises(ModelDownloadError, match="not 64 hex digits"):
        with_pinned_digests(manifest_from(hub), {"config.json": "abc"})


def test_verify_finds_a_damaged_a_missing_and_an_unlisted_file(hub, target):
    fetch_model(manifest_from(hub), target)
    assert verify_model_dir(target, ["config.json", "model.pth"]) == []

    with (target / "model.pth").open("r+b") as model:
        model.write(b"\xff")
    (target / "vocab.json").unlink()
    problems = verify_model_dir(target, ["model.pth", "speakers_xtts.pth"])

    assert problems[0] == "speakers_xtts.pth is not listed in MANIFEST.sha256."
    assert problems[1].startswith("model.pth is damaged or was replaced: sha256 expected")
    assert problems[2] == f"vocab.json is missing from {target}."


def test_verify_needs_the_manifest(tmp_path):
    (tmp_path / "model.pth").write_bytes(b"weights")
    [problem] = verify_model_dir(tmp_path, ["model.pth"])
    assert "has no MANIFEST.sha256" in problem
    assert verify_model_dir(tmp_path / "nowhere", ["model.pth"]) == [
        f"{tmp_path / 'nowhere'} is not a folder."
    ]
