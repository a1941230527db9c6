"""Coqui XTTS v2: speech in a persona's own voice, cloned from its reference recording (GPU).

Needs the optional `gpu` extra (coqui-tts, which needs a CUDA build of torchaudio) and the
model's files in a folder (SLIDECAST_XTTS_MODEL_DIR); nothing is downloaded at run time.
The model is loaded once per worker process; the speaker latents computed from a reference
recording are kept per recording, so a deck's slides do not recompute them.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np

from media_pipeline.content_keys import model_files_version
from media_pipeline.errors import ModelNotFoundError, PipelineError, SpeechSynthesisError

logger = logging.getLogger("media_pipeline.xtts")

MODEL_FILES = ("config.json", "model.pth", "vocab.json")
SAMPLE_RATE = 24_000
# The persona's own recording is its only voice.
REFERENCE_VOICE = "reference"
LATENT_CACHE_SIZE = 32
# XTTS v2 speaks these; a persona's BCP 47 tag is reduced to one of them.
LANGUAGES = {
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu",
    "ko", "ja", "hi",
}  # fmt: skip


class EngineUnavailableError(PipelineError):
    """The engine's software is not installed on this worker."""

    permanent = True
    code = "engine_unavailable"


def xtts_language(tag: str) -> str:
    """Return XTTS's code for a BCP 47 tag (de-DE -> de, zh-Hans-CN -> zh-cn)."""
    base = tag.split("-")[0].lower()
    code = "zh-cn" if base == "zh" else base
    if code not in LANGUAGES:
        raise SpeechSynthesisError(
            f"XTTS does not speak {tag}; it speaks {', '.join(sorted(LANGUAGES))}."
        )
    return code


def load_xtts_model(model_dir: Path, device: str):
    """Return the XTTS model from its folder, on `device` (the gpu extra must be installed)."""
    try:
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts
    except ImportError as exc:
        raise EngineUnavailableError(
            "The xtts engine needs the gpu extra on this worker: pip install '.[gpu]' "
            f"(coqui-tts with a CUDA build of torch and torchaudio). {exc}"
        ) from exc
    config = XttsConfig()
    config.load_json(str(model_dir / "config.json"))
    model = Xtts.init_from_config(config)
    model.load_checkpoint(config, checkpoint_dir=str(model_dir), use_deepspeed=False)
    return model.to(device)


class XttsEngine:
    """Speaks with the voice of the reference recording given as `voice` (a local WAV path)."""

    name: ClassVar[str] = "xtts"
    queue: ClassVar[str] = "gpu"
    clones_voice: ClassVar[bool] = True

    def __init__(
        self,
        model_dir: Path | None,
        *,
        device: str = "cuda",
        loader: Callable[[Path, str], object] = load_xtts_model,
    ) -> None:
        self.model_dir, self.device, self._loader = model_dir, device, loader
        self._model = None
        self._latents: OrderedDict[tuple[str, int, int], tuple] = OrderedDict()
        self._lock = threading.Lock()

    def voices(self) -> list[str]:
        return [REFERENCE_VOICE]

    def default_voice(self, language: str) -> str | None:
        return (
            REFERENCE_VOICE
            if language.split("-")[0].lower() in {code.split("-")[0] for code in LANGUAGES}
            else None
        )

    def sample_rate(self, voice: str) -> int:
        return SAMPLE_RATE

    def model_version(self, voice: str) -> str:
        # The checkpoint is gigabytes: its size and time stand in for its hash.
        folder = self.model_dir
        if folder is None or any(not (folder / name).exists() for name in MODEL_FILES):
            raise ModelNotFoundError(f"The XTTS model is not installed here ({folder}).")
        stamp = (folder / "model.pth").stat()
        config = model_files_version("coqui-tts", [folder / "config.json", folder / "vocab.json"])
        return f"{config}; model.pth {stamp.st_size} {stamp.st_mtime_ns}"

    def model(self):
        """Return the loaded model, loading it on first use in this process."""
        with self._lock:
            if self._model is None:
                folder = self.model_dir
                missing = [n for n in MODEL_FILES if folder is None or not (folder / n).exists()]
                if missing:
                    raise ModelNotFoundError(
                        f"The XTTS model is not installed: {folder or 'no folder set'} lacks "
                        f"{', '.join(missing)}. Set SLIDECAST_XTTS_MODEL_DIR to the folder "
                        "with XTTS v2's files; on a host with internet, `python manage.py "
                        "voice_models fetch xtts` puts them there."
                    )
                logger.info("loading XTTS from %s on %s", folder, self.device)
                self._model = self._loader(folder, self.device)
            return self._model

    def speaker_latents(self, reference: Path) -> tuple:
        """Return the conditioning latents of a reference recording, computed once per file."""
        stat = reference.stat()
        key = (str(reference), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._latents:
                self._latents.move_to_end(key)
                return self._latents[key]
        latents = self.model().get_conditioning_latents(audio_path=[str(reference)])
        with self._lock:
            self._latents[key] = latents
            while len(self._latents) > LATENT_CACHE_SIZE:
                self._latents.popitem(last=False)
        return latents

    def speak(
        self, text: str, *, voice: str, speaking_rate: float, language: str = "en"
    ) -> np.ndarray:
        reference = Path(voice)
        if not reference.is_file():
            raise SpeechSynthesisError(f"The reference recording {voice!r} is not on this worker.")
        gpt_latent, speaker_embedding = self.speaker_latents(reference)
        try:
            out = self.model().inference(
                text, xtts_language(language), gpt_latent, speaker_embedding, speed=speaking_rate
            )
        except PipelineError:
            raise
        except Exception as exc:
            raise SpeechSynthesisError(f"XTTS could not speak {text[:60]!r}: {exc}") from exc
        samples = np.clip(np.asarray(out["wav"], dtype=np.float32), -1.0, 1.0)
        return (samples * 32767).astype(np.int16)

    def release(self) -> None:
        """Drop the model and the latents, and give the GPU memory back (worker recycling)."""
        with self._lock:
            self._model = None
            self._latents.clear()
        try:
            import torch
        except ImportError:
            return
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
