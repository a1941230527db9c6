"""XTTS on a real GPU with real weights: runs only where both are present.

Set SLIDECAST_XTTS_MODEL_DIR to XTTS v2's files and install the gpu extra; otherwise each
test is skipped and says why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from media_pipeline.asr import transcribe, word_error_rate
from media_pipeline.reference_audio import prepare_reference_audio
from media_pipeline.tts import EngineRegistry, NarrationOptions, narrate
from media_pipeline.xtts import MODEL_FILES


def _skip_reason() -> str | None:
    try:
        import torch
    except ImportError:
        return "torch is not installed (pip install '.[gpu]')"
    if not torch.cuda.is_available():
        return "no CUDA device on this machine"
    folder = os.environ.get("SLIDECAST_XTTS_MODEL_DIR")
    if not folder or not all((Path(folder) / name).exists() for name in MODEL_FILES):
        return "SLIDECAST_XTTS_MODEL_DIR does not hold XTTS v2's files"
    return None


REASON = _skip_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"XTTS on GPU: {REASON}")


def test_xtts_speaks_the_notes_in_the_cloned_voice(tmp_path):
    registry = EngineRegistry(xtts_model_dir=Path(os.environ["SLIDECAST_XTTS_MODEL_DIR"]))
    piper_take = narrate(
        "This is my voice. I am reading a few sentences so that a model can learn it. "
        "The weather is fine and the coffee is hot.",
        engine=registry.get("piper"), voice="en_US-joe-medium",
        options=NarrationOptions(), out_wav=tmp_path / "take.wav",
    )  # fmt: skip
    reference = prepare_reference_audio(piper_take.wav_path, tmp_path / "reference.wav")
    text = "Welcome to the quarterly review."
    narration = narrate(
        text, engine=registry.get("xtts"), voice=str(reference.path),
        options=NarrationOptions(language="en-US"), out_wav=tmp_path / "xtts.wav",
    )  # fmt: skip
    assert word_error_rate(text, transcribe(narration.wav_path).text) < 0.25
