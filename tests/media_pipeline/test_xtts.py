"""The XTTS engine without a GPU: its clear errors, its latent cache, its languages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from media_pipeline.errors import ModelNotFoundError, SpeechSynthesisError
from media_pipeline.tts import EngineRegistry
from media_pipeline.xtts import (
    MODEL_FILES,
    EngineUnavailableError,
    XttsEngine,
    xtts_language,
)


def _model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "xtts"
    folder.mkdir()
    for name in MODEL_FILES:
        (folder / name).write_text("{}")
    return folder


class CountingModel:
    """Stands in for XTTS where no GPU and no weights exist: counts what it is asked."""

    def __init__(self) -> None:
        self.latent_calls: list[list[str]] = []
        self.spoken: list[tuple[str, str, float]] = []

    def get_conditioning_latents(self, audio_path):
        self.latent_calls.append(audio_path)
        return ("gpt-latent", "speaker-embedding")

    def inference(self, text, language, gpt_latent, speaker_embedding, speed=1.0):
        assert (gpt_latent, speaker_embedding) == ("gpt-latent", "speaker-embedding")
        self.spoken.append((text, language, speed))
        return {"wav": np.full(2400, 0.5, dtype=np.float32)}


def test_a_missing_model_names_the_setting(tmp_path):
    engine = XttsEngine(tmp_path / "nowhere")
    with pytest.raises(ModelNotFoundError, match="SLIDECAST_XTTS_MODEL_DIR") as error:
        engine.model()
    assert error.value.permanent
    assert "config.json, model.pth, vocab.json" in error.value.message


@pytest.mark.skipif(
    importlib.util.find_spec("TTS") is not None, reason="the gpu extra is installed here"
)
def test_a_worker_without_the_gpu_extra_says_which_extra(tmp_path):
    engine = XttsEngine(_model_dir(tmp_path), device="cpu")
    with pytest.raises(EngineUnavailableError, match=r"pip install '\.\[gpu\]'") as error:
        engine.model()
    assert error.value.permanent


def test_speaker_latents_are_computed_once_per_recording(tmp_path):
    model = CountingModel()
    engine = XttsEngine(_model_dir(tmp_path), loader=lambda folder, device: model)
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    for _ in range(3):
        samples = engine.speak("Hello.", voice=str(first), speaking_rate=1.1, language="de-DE")
    engine.speak("Hallo.", voice=str(second), speaking_rate=1.0, language="en-US")
    assert model.latent_calls == [[str(first)], [str(second)]]
    assert model.spoken[0] == ("Hello.", "de", 1.1)
    assert samples.dtype == np.int16 and samples.max() == 16383
    first.write_bytes(b"a new take")  # the persona's recording was replaced
    engine.speak("Hello.", voice=str(first), speaking_rate=1.0)
    assert len(model.latent_calls) == 3
    engine.release()
    engine.speak("Hello.", voice=str(first), speaking_rate=1.0)
    assert len(model.latent_calls) == 4, "release drops the cached latents with the model"


def test_languages_map_to_xtts_codes_and_others_are_refused():
    assert [xtts_language(t) for t in ("en-US", "de-DE", "zh-Hans-CN", "pt-BR")] == [
        "en", "de", "zh-cn", "pt",
    ]  # fmt: skip
    with pytest.raises(SpeechSynthesisError, match="does not speak sw-KE"):
        xtts_language("sw-KE")


def test_the_registry_sends_xtts_to_the_gpu_queue_and_its_voice_is_the_recording():
    registry = EngineRegistry()
    assert (registry.queue_for("xtts"), registry.queue_for("piper")) == ("gpu", "cpu")
    assert registry.default_voice("xtts", "fr-FR") == "reference"
    assert registry.default_voice("xtts", "sw-KE") is None
