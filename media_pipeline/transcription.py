"""Transcribing uploaded audio and video with Whisper: timed segments and words, the captions,
text and JSON made from them, and a check of a transcript against the script it should say."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import TypeVar

from media_pipeline import asr
from media_pipeline.captions import MAX_CUE_CHARS, Cue, sentence_cues, to_srt, to_webvtt
from media_pipeline.errors import InvalidMediaError, MediaProcessingError, PipelineError
from media_pipeline.tools import StopCheck, never_stop

# Caption guidelines: a cue is read in one go, so no longer than about seven seconds.
MAX_CUE_SECONDS = 7.0
# A one-word cue that vanishes as it appears cannot be read; give it this long where free.
MIN_CUE_SECONDS = 1.0
# A silence this long inside a segment should not stay captioned with the words before it.
CUE_BREAK_PAUSE_SECONDS = 1.0
# A pause this long between segments is a new paragraph in the plain-text transcript.
PARAGRAPH_PAUSE_SECONDS = 2.0

# Whisper's words in these languages carry no spaces between them.
_UNSPACED_LANGUAGES = frozenset({"zh", "yue", "ja", "th", "lo", "my", "km", "bo"})

_MAX_LISTED_WORDS = 20

T = TypeVar("T")


@dataclass(frozen=True)
class TimedWord:
    start: float
    end: float
    text: str
    probability: float


@dataclass(frozen=True)
class TranscriptSegment:
    start: float
    end: float
    text: str
    words: tuple[TimedWord, ...]

    @property
    def speech_start(self) -> float:
        # Whisper's segment bounds often take in the silence around the words; words don't.
        return self.words[0].start if self.words else self.start

    @property
    def speech_end(self) -> float:
        return self.words[-1].end if self.words else self.end


@dataclass(frozen=True)
class TranscriptionOptions:
    model_dir: Path | None = None
    device: str = "cpu"  # cpu, cuda or auto
    compute_type: str | None = None  # None: int8 on cpu, float16 on cuda
    language: str | None = None  # BCP 47 tag; None = detect
    beam_size: int = 1
    vad_filter: bool = False
    word_timestamps: bool = True


@dataclass(frozen=True)
class TranscriptionResult:
    language: str  # Whisper's code: en, de, no ...
    language_probability: float
    duration: float
    segments: tuple[TranscriptSegment, ...]
    model: str

    @property
    def text(self) -> str:
        return self._join(segment.text for segment in self.segments)

    @property
    def word_count(self) -> int:
        return sum(
            len(segment.words) if segment.words else len(segment.text.split())
            for segment in self.segments
        )

    def cues(self) -> list[Cue]:
        """Return readable caption cues: at most two lines and about seven seconds each."""
        cues = [cue for segment in self.segments for cue in self._segment_cues(segment)]
        return _tidy(cues, self.duration)

    def to_srt(self) -> str:
        return to_srt(self.cues())

    def to_webvtt(self) -> str:
        return to_webvtt(self.cues(), language=self.language)

    def to_text(self) -> str:
        """Return the transcript as paragraphs, split where the speaker pauses for a while."""
        paragraphs: list[list[str]] = []
        previous: TranscriptSegment | None = None
        for segment in self.segments:
            if not segment.text:
                continue
            pause = segment.speech_start - previous.speech_end if previous else 0.0
            if previous is None or pause > PARAGRAPH_PAUSE_SECONDS:
                paragraphs.append([])
            paragraphs[-1].append(segment.text)
            previous = segment
        if not paragraphs:
            return ""
        return "\n\n".join(self._join(paragraph) for paragraph in paragraphs) + "\n"

    def to_json(self) -> dict:
        return {
            "language": self.language,
            "language_probability": round(self.language_probability, 3),
            "duration": _ms(self.duration),
            "model": self.model,
            "text": self.text,
            "segments": [
                {
                    "id": number,
                    "start": _ms(segment.start),
                    "end": _ms(segment.end),
                    "text": segment.text,
                    "words": [
                        {
                            "start": _ms(word.start),
                            "end": _ms(word.end),
                            "word": word.text,
                            "probability": round(word.probability, 3),
                        }
                        for word in segment.words
                    ],
                }
                for number, segment in enumerate(self.segments)
            ],
        }

    def _join(self, parts: Iterator[str] | Sequence[str]) -> str:
        separator = "" if self.language in _UNSPACED_LANGUAGES else " "
        return separator.join(part for part in parts if part)

    def _segment_cues(self, segment: TranscriptSegment) -> list[Cue]:
        if not segment.words:
            # No word timings: share the segment's time out by characters instead.
            if not segment.text:
                return []
            return sentence_cues(segment.text, segment.start, segment.end)
        groups: list[list[TimedWord]] = [[]]
        for word in segment.words:
            current = groups[-1]
            if current and (
                len(self._join([*(w.text for w in current), word.text])) > MAX_CUE_CHARS
                or word.end - current[0].start > MAX_CUE_SECONDS
                or word.start - current[-1].end > CUE_BREAK_PAUSE_SECONDS
            ):
                groups.append([])
            groups[-1].append(word)
        groups = _rebalance_tail(groups)
        return [
            Cue(group[0].start, group[-1].end, self._join([w.text for w in group]))
            for group in groups
        ]


def transcribe_media(
    media: Path,
    *,
    options: TranscriptionOptions = TranscriptionOptions(),
    on_progress: Callable[[float], None] | None = None,
    check: StopCheck = never_stop,
) -> TranscriptionResult:
    """Return what Whisper hears in an audio or video file, segment by segment.

    `on_progress` gets the share of the media decoded so far (rising, ending at 1.0);
    `check` is called between segments, and whatever it raises stops the decoding.
    Media without speech gives a result with no segments.
    """
    model = asr.load_model(
        options.model_dir, device=options.device, compute_type=options.compute_type
    )
    language = asr.model_language(model, options.language) if options.language else None
    if language is None and not model.model.is_multilingual:
        # An English-only model cannot detect anything; faster-whisper would assume English.
        language = "en"
    media = Path(media)
    _require_audio_track(media)
    check()
    segments = None
    try:
        segments, info = _decoding(
            media,
            lambda: model.transcribe(
                str(media),
                language=language,
                beam_size=options.beam_size,
                vad_filter=options.vad_filter,
                word_timestamps=options.word_timestamps,
            ),
        )
        progress = _Progress(info.duration, on_progress)
        decoded: list[TranscriptSegment] = []
        while (segment := _decoding(media, lambda: next(segments, None))) is not None:
            decoded.append(_segment(segment))
            progress.reached(segment.end)
            check()
    finally:
        # Stop the lazy decoder now (a cancel) rather than whenever it is collected.
        close = getattr(segments, "close", None)
        if close is not None:
            close()
    progress.reached(info.duration)
    return TranscriptionResult(
        language=info.language,
        language_probability=1.0 if options.language else float(info.language_probability),
        duration=float(info.duration),
        segments=tuple(decoded),
        model=asr.model_name(options.model_dir),
    )


def script_check(script: str, result: TranscriptionResult) -> dict:
    """Return how far what Whisper heard is from a script: word error rate and the words
    missed or added (a misheard word is both), for checking narration says its notes."""
    reference = asr.normalized_words(script)
    heard = asr.normalized_words(result.text)
    missing: list[str] = []
    extra: list[str] = []
    matcher = SequenceMatcher(None, reference, heard, autojunk=False)
    for tag, ref_from, ref_to, heard_from, heard_to in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            missing.extend(reference[ref_from:ref_to])
        if tag in ("replace", "insert"):
            extra.extend(heard[heard_from:heard_to])
    return {
        "word_error_rate": asr.word_error_rate(script, result.text),
        "reference_words": len(reference),
        "heard_words": len(heard),
        "missing": missing[:_MAX_LISTED_WORDS],
        "extra": extra[:_MAX_LISTED_WORDS],
    }


class _Progress:
    """Reports the share decoded, only when it grows, so callers see a rising series."""

    def __init__(self, duration: float, on_progress: Callable[[float], None] | None) -> None:
        self.duration = duration
        self.on_progress = on_progress
        self.reported = 0.0

    def reached(self, seconds: float) -> None:
        share = 1.0 if self.duration <= 0 else min(1.0, max(0.0, seconds / self.duration))
        if self.on_progress is not None and share > self.reported:
            self.reported = share
            self.on_progress(share)


def _require_audio_track(media: Path) -> None:
    if not media.is_file():
        raise InvalidMediaError(f"There is no media file at {media}.")
    import av

    try:
        with av.open(str(media), metadata_errors="ignore") as container:
            has_audio = bool(container.streams.audio)
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaProcessingError(
            f"{media.name} could not be read as audio or video: {exc}"
        ) from exc
    if not has_audio:
        raise InvalidMediaError(f"{media.name} has no audio track, so there is nothing to hear.")


def _decoding(media: Path, step: Callable[[], T]) -> T:
    # Only faster-whisper, PyAV and CTranslate2 run in here, so anything else they raise is a
    # failure to decode this media, reported as such rather than as a bare library error.
    try:
        return step()
    except PipelineError:
        raise
    except Exception as exc:
        raise MediaProcessingError(f"Whisper could not transcribe {media.name}: {exc}") from exc


def _segment(segment) -> TranscriptSegment:
    words = tuple(
        TimedWord(float(word.start), float(word.end), word.word.strip(), float(word.probability))
        for word in segment.words or ()
        if word.word.strip()
    )
    return TranscriptSegment(float(segment.start), float(segment.end), segment.text.strip(), words)


def _rebalance_tail(groups: list[list[TimedWord]]) -> list[list[TimedWord]]:
    # A last cue of a word or two flashes by; share the words of the last two cues evenly,
    # unless that would make either half too long to read.
    if len(groups) < 2 or sum(len(w.text) + 1 for w in groups[-1]) >= MAX_CUE_CHARS // 3:
        return groups
    words = groups[-2] + groups[-1]
    half = len(words) // 2
    first, second = words[:half], words[half:]
    if any(part[-1].end - part[0].start > MAX_CUE_SECONDS for part in (first, second)):
        return groups
    return [*groups[:-2], first, second]


def _tidy(cues: list[Cue], duration: float) -> list[Cue]:
    """Return the cues in order, none overlapping the next, short ones held a little longer."""
    cues = sorted(cues, key=lambda cue: cue.start)
    tidy: list[Cue] = []
    for index, cue in enumerate(cues):
        limit = cues[index + 1].start if index + 1 < len(cues) else max(duration, cue.end)
        end = cue.end
        if limit > cue.start:
            end = min(max(end, min(cue.start + MIN_CUE_SECONDS, limit)), limit)
        tidy.append(Cue(cue.start, max(end, cue.start + 0.001), cue.text))
    return tidy


def _ms(seconds: float) -> float:
    return round(float(seconds), 3)
