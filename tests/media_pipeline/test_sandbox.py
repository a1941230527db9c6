"""Linked content never reaches out: the sanitized copy, and the sandbox on its own.

A local HTTP listener is the canary for server-side requests, and a magenta picture on
this machine is the canary for local file reads: none of either may show up.
"""

from __future__ import annotations

import http.server
import subprocess
import threading
import time
from pathlib import Path

import pytest

from media_pipeline.deck import DeckLimits, validate_deck
from media_pipeline.errors import DeckRenderError, RenderLimitError
from media_pipeline.render import RenderOptions, render_slides
from media_pipeline.sandbox import SandboxOptions, sandbox_mode, sandbox_prefix
from media_pipeline.sanitize import sanitize_deck
from media_pipeline.tools import run_program
from tests.linked_decks import (
    magenta_png,
    magenta_share,
    make_internal_uri_picture_deck,
    make_linked_ole_deck,
    make_linked_picture_deck,
    make_svg_reference_deck,
)

pytestmark = pytest.mark.slow
HAS_BWRAP = sandbox_mode("auto") == "bwrap"


class Canary:
    def __init__(self, picture: Path) -> None:
        self.requests: list[str] = []
        canary = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                canary.requests.append(self.path)
                data = picture.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_HEAD = do_GET

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    # Outside every job folder, like any file on the worker host.
    return magenta_png(tmp_path / "secret-magenta.png")


@pytest.fixture
def canary(picture: Path):
    listener = Canary(picture)
    yield listener
    listener.server.shutdown()


def _hostile_decks(folder: Path, canary: Canary, picture: Path) -> dict[str, Path]:
    return {
        "http picture": make_linked_picture_deck(folder / "a.pptx", f"{canary.url}/pic.png"),
        "file picture": make_linked_picture_deck(folder / "b.pptx", picture.as_uri()),
        "ole object": make_linked_ole_deck(folder / "c.pptx", f"{canary.url}/book.xlsx"),
        "svg image": make_svg_reference_deck(folder / "d.pptx", picture.as_uri()),
        "uri part": make_internal_uri_picture_deck(folder / "e.pptx", picture.as_uri()),
    }


def _render(deck: Path, job: Path, mode: str) -> list[Path]:
    job.mkdir()
    local = job / "deck.pptx"
    local.write_bytes(deck.read_bytes())
    options = RenderOptions(sandbox=SandboxOptions(mode=mode), profile_root=job.parent / "p")
    return render_slides(local, job / "slides", options)


def test_linked_content_is_dropped_and_never_fetched_or_read(tmp_path, canary, picture):
    for name, deck in _hostile_decks(tmp_path, canary, picture).items():
        assert len(validate_deck(deck, DeckLimits()).slides) == 1, name
        sanitized = sanitize_deck(deck, tmp_path / f"{name}-clean.pptx")
        assert sanitized.removed_links, name
        images = _render(sanitized.path, tmp_path / f"job-{name}", "auto")
        assert len(images) == 1, name
        assert canary.requests == [], name
        assert magenta_share(images[0]) == 0, name


def test_sanitized_copy_names_what_it_dropped(tmp_path, canary, picture):
    decks = _hostile_decks(tmp_path, canary, picture)
    removed = sanitize_deck(decks["http picture"], tmp_path / "x.pptx").removed_links
    assert removed == (f"a linked picture ({canary.url}/pic.png) in ppt/slides/slide1.xml",)
    svg = sanitize_deck(decks["svg image"], tmp_path / "y.pptx").removed_links
    assert all("SVG picture ppt/media/canary.svg" in line for line in svg) and len(svg) == 2
    ole = sanitize_deck(decks["ole object"], tmp_path / "z.pptx").removed_links
    assert ole[0].startswith("a linked OLE object (http://127.0.0.1:")


@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not usable on this host")
def test_the_sandbox_alone_stops_requests_and_file_reads(tmp_path, canary, picture):
    decks = _hostile_decks(tmp_path, canary, picture)
    # The canaries work: without sanitizing or sandbox, LibreOffice fetches and reads.
    _render(decks["ole object"], tmp_path / "open-ole", "none")
    assert canary.requests, "LibreOffice did not fetch the linked object without a sandbox"
    leaked = _render(decks["svg image"], tmp_path / "open-svg", "none")
    assert magenta_share(leaked[0]) > 0.3
    canary.requests.clear()
    # The same unsanitized decks inside bubblewrap: nothing goes out, nothing is read.
    for name in ("ole object", "svg image", "file picture", "http picture"):
        images = _render(decks[name], tmp_path / f"boxed-{name}", "auto")
        assert canary.requests == [], name
        assert magenta_share(images[0]) == 0, name


def test_sandboxed_program_over_its_memory_limit_is_stopped_with_a_clear_message(tmp_path):
    prefix = sandbox_prefix(SandboxOptions(memory_bytes=300 * 1024**2), writable=[tmp_path])
    hog = ["/usr/bin/python3", "-c", "b = bytearray(1024 ** 3)"]
    with pytest.raises(DeckRenderError, match=r"^hog failed \(exit status 1\)\.$"):
        run_program(hog, timeout=30, error=DeckRenderError, what="hog", prefix=prefix)
    # A program the limit kills outright is a limit the deck hit: not worth a retry.
    crasher = ["/usr/bin/python3", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    with pytest.raises(RenderLimitError, match="needed more memory or disk.*SIGSEGV"):
        run_program(crasher, timeout=30, error=DeckRenderError, what="crasher", prefix=prefix,
                    limit_error=RenderLimitError)  # fmt: skip


def test_a_stop_request_kills_the_program_and_its_children_at_once(tmp_path):
    marker = tmp_path / "started"
    script = f"touch {marker}; sleep 60 & sleep 60; wait"
    asked = time.monotonic() + 1.0

    def check() -> None:
        if time.monotonic() > asked:
            raise KeyboardInterrupt("stop")

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_program(["sh", "-c", script], timeout=60, error=DeckRenderError, what="sleeper",
                    check=check)  # fmt: skip
    assert time.monotonic() - started < 2.0
    assert marker.exists()
    # SIGKILL is delivered at once, but a loaded machine may take a moment to end the process.
    deadline = time.monotonic() + 2.0
    while (left := _running("sleep 60")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == ""


def _running(pattern: str) -> str:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.strip()


def test_an_unknown_sandbox_mode_is_a_configuration_error():
    from media_pipeline.errors import ToolMissingError

    with pytest.raises(ToolMissingError, match="SLIDECAST_RENDER_SANDBOX is 'jail'"):
        sandbox_prefix(SandboxOptions(mode="jail"), writable=[])
