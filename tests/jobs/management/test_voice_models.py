"""`manage.py voice_models`: fetch XTTS checked, verify it offline, list what is where.

The Hub is a local HTTP server (tests.media_pipeline.test_model_download.FakeHub), reached
through --endpoint, the option meant for mirrors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import grimp
import pytest
from django.core.management import CommandError, call_command

from tests.media_pipeline.test_model_download import FakeHub

XTTS_FILES = {
    "config.json": b'{"model": {"model": "xtts"}}',
    "model.pth": b"\x80\x02weights" * 200_000,
    "vocab.json": b'{"model": {"vocab": {}}}',
    "speakers_xtts.pth": b"speakers" * 1000,
    "hash.md5": b"10f92b55c512af7a8d39d650547a15a7",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(XTTS_FILES) as server:
        yield server


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "models" / "xtts"


def voice_models(*args: str) -> str:
    out = StringIO()
    call_command("voice_models", *args, stdout=out)
    return out.getvalue()


def fetch(hub: FakeHub, target: Path, *extra: str) -> str:
    return voice_models("fetch", "xtts", "--target", str(target), "--endpoint", hub.url, *extra)


def test_fetch_downloads_every_file_checked_and_prints_their_digests(hub, target):
    output = fetch(hub, target)

    for name, data in XTTS_FILES.items():
        assert (target / name).read_bytes() == data
        assert f"{sha256(data)}  {name}" in output
    assert "Coqui Public Model License" in output
    assert "model.pth: 1.8 MB of 1.8 MB" in output
    assert "config.json: 28 bytes of 28 bytes" in output
    assert "SLIDECAST_XTTS_MODEL_DIR=" in output
    assert "every file verified" in voice_models("verify", "xtts", "--target", str(target))


def test_fetch_goes_to_the_workers_folder_by_default(hub, target, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "XTTS_MODEL_DIR": str(target)}

    voice_models("fetch", "xtts", "--endpoint", hub.url)

    assert (target / "model.pth").read_bytes() == XTTS_FILES["model.pth"]


def test_without_a_folder_the_command_says_what_to_set(settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "XTTS_MODEL_DIR": None}
    for action in ("fetch", "verify"):
        with pytest.raises(CommandError, match="Set SLIDECAST_XTTS_MODEL_DIR or pass --target"):
            voice_models(action, "xtts")


def test_a_file_that_is_not_the_published_one_is_refused_and_not_kept(hub, target):
    hub.files["model.pth"] = XTTS_FILES["model.pth"][:-1] + b"!"

    with pytest.raises(CommandError) as refused:
        fetch(hub, target)

    message = str(refused.value)
    assert "model.pth" in message
    assert f"expected {sha256(XTTS_FILES['model.pth'])}" in message
    assert f"got {sha256(hub.files['model.pth'])}" in message
    assert not list(target.glob("model.pth*"))
    assert not (target / "MANIFEST.sha256").exists()


def test_verified_files_are_kept_and_force_downloads_them_again(hub, target):
    fetch(hub, target)
    downloads = hub.downloads()

    fetch(hub, target)
    assert hub.downloads() == downloads

    fetch(hub, target, "--force")
    assert hub.downloads() == 2 * downloads


def test_verify_catches_a_corrupted_file(hub, target):
    fetch(hub, target)
    with (target / "model.pth").open("r+b") as model:
        model.seek(1000)
        model.write(b"\xff")

    with pytest.raises(CommandError, match="model.pth is damaged or was replaced"):
        voice_models("verify", "xtts", "--target", str(target))


def test_verify_refuses_a_folder_that_was_not_fetched_by_the_command(target):
    target.mkdir(parents=True)
    for name in ("config.json", "model.pth", "vocab.json"):
        (target / name).write_bytes(b"copied by hand")

    with pytest.raises(CommandError, match="has no MANIFEST.sha256"):
        voice_models("verify", "xtts", "--target", str(target))


def test_a_pinned_digest_must_agree_with_the_published_one(hub, target):
    pinned = f"model.pth={sha256(XTTS_FILES['model.pth'])}"
    fetch(hub, target, "--sha256", pinned)
    assert (target / "model.pth").exists()

    with pytest.raises(CommandError, match="The SHA-256 given for model.pth"):
        fetch(hub, target, "--force", "--sha256", f"model.pth={'0' * 64}")
    with pytest.raises(CommandError, match="--sha256 takes NAME=HEX"):
        fetch(hub, target, "--sha256", "model.pth")


def test_an_unknown_revision_is_reported_with_the_address(hub, target):
    with pytest.raises(CommandError, match=f"{hub.url}/api/models/coqui/XTTS-v2/revision/v9.*404"):
        fetch(hub, target, "--revision", "v9")
    assert not target.exists()


def test_list_shows_each_model_its_folder_and_what_is_missing(hub, target, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "XTTS_MODEL_DIR": None}
    assert "xtts\tCoqui XTTS v2\tno folder (SLIDECAST_XTTS_MODEL_DIR is not set)" in (
        voice_models("list")
    )

    settings.SLIDECAST = {**settings.SLIDECAST, "XTTS_MODEL_DIR": str(target)}
    assert f"{target}\tmissing config.json, model.pth, vocab.json" in voice_models("list")

    fetch(hub, target)
    assert f"{target}\tpresent" in voice_models("list")


def test_only_the_command_can_start_a_download():
    """Workers, web and API never fetch models: the downloader has one way in, this command."""
    graph = grimp.build_graph("jobs", "media_pipeline")
    assert graph.find_modules_that_directly_import("media_pipeline.model_download") == {
        "jobs.personas.voice_models",
        "jobs.management.commands.voice_models",
    }
    assert graph.find_modules_that_directly_import("jobs.personas.voice_models") == {
        "jobs.management.commands.voice_models"
    }
