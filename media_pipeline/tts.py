"""Narration: text-to-speech engines, and a slide's narration with sentence-timed cues."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from media_pipeline.audio import frame_aligned_length, silence, wav_writer, write_wav
from media_pipeline.captions import Cue, sentence_cues, split_sentences
from media_pipeline.errors import UnsupportedEngineError
from media_pipeline.piper_engine import PiperEngine
from media_pipeline.script import Lexicon, Pause, parse_script
from media_pipeline.tools import StopCheck, never_stop, release_freed_memory
from media_pipeline.xtts import XttsEngine

logger = logging.getLogger("media_pipeline.tts")

_CLAUSE_END = re.compile(r"(?<=[,;:–—])\s+")
_WORD_GAP = re.compile(r"\s+")


@dataclass(frozen=True)
class NarrationOptions:
    speaking_rate: float = 1.0
    # A slide's audio ends with this much silence before the next slide appears.
    padding_seconds: float = 0.5
    # Slides without speaker notes stay on screen this long, in silence.
    empty_slide_seconds: float = 3.0
    sentence_pause_seconds: float = 0.25
    fps: int | Fraction = 25
    # The longest text given to the speech model at once (about 20 seconds of speech).
    max_piece_chars: int = 300
    # How the persona says particular words; captions keep the words as written.
    lexicon: Lexicon = Lexicon()
    language: str = "en-US"


@dataclass(frozen=True)
class SpokenPiece:
    """Where one spoken piece lies in a slide's WAV, in samples, under its content key."""

    key: str
    start: int
    end: int


@dataclass(frozen=True)
class Narration:
    """A slide's narration: a WAV lasting a whole number of video frames, and its cues."""

    wav_path: Path
    duration: float
    cues: tuple[Cue, ...] = field(default_factory=tuple)
    # Each spoken piece's place in the WAV, when narrate was given a PieceSource.
    pieces: tuple[SpokenPiece, ...] = ()


class PieceSource(Protocol):
    """Pieces spoken in earlier narrations: an edited slide re-speaks only what changed."""

    def key(self, said: str) -> str:
        """The content key of `said` (the text given to the engine) in this voice."""
        ...

    def samples(self, key: str) -> np.ndarray | None:
        """The int16 samples spoken for the key before, or None."""
        ...


class SpeechEngine(Protocol):
    name: ClassVar[str]
    # The procrastinate queue whose workers have what this engine needs (a GPU, say).
    queue: ClassVar[str]
    # True when `voice` is the path of a reference recording to clone, not a voice's name.
    clones_voice: ClassVar[bool]

    def speak(
        self, text: str, *, voice: str, speaking_rate: float, language: str = "en"
    ) -> np.ndarray:
        """Return int16 mono samples of one sentence spoken, at sample_rate(voice).

        `language` (BCP 47) matters to engines that speak several with one voice.
        """
        ...

    def sample_rate(self, voice: str) -> int: ...

    def model_version(self, voice: str) -> str:
        """What identifies the software and model that speak: a new one misses the cache."""
        ...

    def voices(self) -> list[str]:
        """The names of the voices this engine has here."""
        ...

    def default_voice(self, language: str) -> str | None:
        """The voice for a BCP 47 language, or None when the engine has none."""
        ...


class EngineRegistry:
    """The speech engines this process can use, created on first use."""

    def __init__(
        self,
        *,
        piper_voice_dir: Path | None = None,
        xtts_model_dir: Path | None = None,
        xtts_device: str = "cuda",
        parallel_syntheses: int = 1,
    ) -> None:
        self._factories = {
            PiperEngine.name: lambda: PiperEngine(piper_voice_dir, parallel=parallel_syntheses),
            XttsEngine.name: lambda: XttsEngine(xtts_model_dir, device=xtts_device),
        }
        self._queues = {PiperEngine.name: PiperEngine.queue, XttsEngine.name: XttsEngine.queue}
        self._engines: dict[str, SpeechEngine] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self._factories)

    def queue_for(self, name: str) -> str:
        try:
            return self._queues[name]
        except KeyError:
            raise self._unsupported(name) from None

    def default_voice(self, name: str, language: str) -> str | None:
        """The engine's voice for a BCP 47 language, or None when it has none."""
        return self.get(name).default_voice(language)

    def get(self, name: str) -> SpeechEngine:
        with self._lock:
            if name not in self._engines:
                if name not in self._factories:
                    raise self._unsupported(name)
                self._engines[name] = self._factories[name]()
            return self._engines[name]

    def release(self) -> None:
        """Have the engines made so far give back what they hold (XTTS: its GPU memory).

        An engine not made yet is not made now, so nothing is loaded only to be released.
        """
        with self._lock:
            engines = list(self._engines.values())
        for engine in engines:
            release = getattr(engine, "release", None)
            if release is None:
                continue
            try:
                release()
            except Exception:
                logger.exception("the %s engine could not release its resources", engine.name)

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
    check: StopCheck = never_stop,
    spoken_before: PieceSource | None = None,
) -> Narration:
    """Return the narration of a slide's notes written to out_wav, with one cue per sentence.

    `[pause:SECONDS]` markup becomes silence; the persona's lexicon changes what the engine
    is given, never the cues.

    Speech is made and written one bounded piece at a time, so memory does not grow with
    the length of the notes, and `check` is asked between pieces whether to stop. With
    `spoken_before`, a piece said before in the same voice is taken from there, not spoken.
    """
    sample_rate = engine.sample_rate(voice)
    cues: list[Cue] = []
    pieces: list[SpokenPiece] = []
    written = 0
    pending_pause: float | None = None  # from [pause:…] markup, replacing the sentence gap

    def write_silence(out, seconds: float) -> int:
        samples = silence(seconds, sample_rate)
        out.writeframes(samples.tobytes())
        return samples.size

    with wav_writer(out_wav, sample_rate) as out:
        for part in parse_script(text):
            if isinstance(part, Pause):
                pending_pause = (pending_pause or 0.0) + part.seconds
                continue
            for piece in speakable_pieces(part.text, options.max_piece_chars):
                check()
                said = options.lexicon.apply(piece)
                key = spoken_before.key(said) if spoken_before else ""
                samples = spoken_before.samples(key) if spoken_before else None
                if samples is None:
                    samples = engine.speak(
                        said,
                        voice=voice,
                        speaking_rate=options.speaking_rate,
                        language=options.language,
                    )
                if samples.size == 0:
                    continue
                if pending_pause is not None:
                    written += write_silence(out, pending_pause)
                    pending_pause = None
                elif written:
                    written += write_silence(out, options.sentence_pause_seconds)
                start = written
                out.writeframes(samples.astype(np.int16).tobytes())
                written += samples.size
                if key:
                    pieces.append(SpokenPiece(key, start, written))
                cues.extend(sentence_cues(piece, start / sample_rate, written / sample_rate))
        if pending_pause is not None:
            written += write_silence(out, pending_pause)
        tail = options.padding_seconds if written else options.empty_slide_seconds
        target = frame_aligned_length(
            written + silence(tail, sample_rate).size, sample_rate, options.fps
        )
        out.writeframes(np.zeros(target - written, dtype=np.int16).tobytes())
    release_freed_memory()
    return Narration(out_wav, target / sample_rate, tuple(cues), tuple(pieces))


def silent_narration(
    out_wav: Path, *, seconds: float, sample_rate: int, fps: int | Fraction
) -> Narration:
    """Return `seconds` of silence (rounded up to whole video frames) written to out_wav."""
    samples = frame_aligned_length(silence(seconds, sample_rate).size, sample_rate, fps)
    write_wav(out_wav, np.zeros(samples, dtype=np.int16), sample_rate)
    return Narration(out_wav, samples / sample_rate, ())


def speakable_pieces(text: str, max_chars: int) -> list[str]:
    """Return the text's sentences, long ones cut at clause or word boundaries.

    A speech model's memory and time grow faster than linearly with the length of what it
    is given at once; bounded pieces keep both flat however the notes are punctuated.
    """
    pieces: list[str] = []
    for sentence in split_sentences(text):
        pieces.extend(_cut(sentence, max_chars))
    return pieces


def _cut(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    for pattern in (_CLAUSE_END, _WORD_GAP):
        parts = [part for part in pattern.split(sentence) if part.strip()]
        if len(parts) > 1:
            return _pack(parts, max_chars)
    # One unbroken run of characters: cut it where it must be cut.
    return [sentence[i : i + max_chars] for i in range(0, len(sentence), max_chars)]


def _pack(parts: list[str], max_chars: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} {part}".strip()
        if current and len(candidate) > max_chars:
            pieces.extend(_cut(current, max_chars))
            current = part.strip()
        else:
            current = candidate
    if current:
        pieces.extend(_cut(current, max_chars))
    return pieces
