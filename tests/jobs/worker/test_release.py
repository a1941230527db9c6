"""A worker process that ends gives back its speech engines' memory, and loads nothing to."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jobs.worker import lifecycle
from media_pipeline import tts, xtts
from tests.jobs.queue_helpers import defer


class CountingXtts(xtts.XttsEngine):
    """The real engine with a stand-in for the model (loading XTTS needs a GPU and weights)."""

    made: list[CountingXtts] = []

    def __init__(self, model_dir: Path | None, *, device: str = "cuda") -> None:
        super().__init__(model_dir, device=device, loader=self.load)
        self.loads = 0
        CountingXtts.made.append(self)

    def load(self, folder: Path, device: str) -> object:
        self.loads += 1
        return object()


@pytest.fixture
def registry(tmp_path: Path, monkeypatch) -> tts.EngineRegistry:
    model_dir = tmp_path / "xtts"
    model_dir.mkdir()
    for name in xtts.MODEL_FILES:
        (model_dir / name).write_bytes(b"")
    CountingXtts.made = []
    monkeypatch.setattr(tts, "XttsEngine", CountingXtts)
    return tts.EngineRegistry(piper_voice_dir=tmp_path, xtts_model_dir=model_dir)


def test_release_drops_a_loaded_model_so_the_next_use_loads_it_again(registry):
    engine = registry.get("xtts")
    first = engine.model()
    assert engine.model() is first and engine.loads == 1

    registry.release()

    assert engine.loads == 1  # releasing loaded nothing
    assert engine.model() is not first and engine.loads == 2


def test_release_makes_no_engine_and_loads_no_model(registry):
    registry.get("piper")  # an engine without anything to release
    registry.release()
    assert CountingXtts.made == []

    engine = registry.get("xtts")  # made, its model never loaded
    registry.release()
    assert engine.loads == 0


def test_the_worker_shutdown_hook_releases_the_process_engines(registry, monkeypatch):
    engine = registry.get("xtts")
    loaded = engine.model()
    monkeypatch.setattr(lifecycle, "speech_engines", lambda: registry)

    lifecycle.release_speech_engines()

    assert engine.model() is not loaded and engine.loads == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_recycled_worker_process_releases_its_engines_as_it_ends(start_worker_process):
    for _ in range(4):
        defer("slidecast.ping", sent_at=time.time())
    worker = start_worker_process(SLIDECAST_WORKER_MAX_TASKS="2", SLIDECAST_LOG_LEVEL="INFO")

    assert worker.wait(timeout=60) == 0
    log = worker.log_path.read_text()
    assert "stops to be replaced: it has run 2 tasks" in log
    assert f"worker process {worker.pid} released its speech engines" in log
    assert log.index("stops to be replaced") < log.index("released its speech engines")
