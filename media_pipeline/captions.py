"""Caption cues from narration timing, written as SubRip (SRT) and WebVTT."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Broadcast and streaming guidelines: at most two lines of about 42 characters, and
# a cue on screen for no more than about 7 seconds.
MAX_LINE_CHARS = 42
MAX_CUE_CHARS = 2 * MAX_LINE_CHARS

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str

    def shifted(self, offset: float) -> Cue:
        return Cue(self.start + offset, self.end + offset, self.text)

    def as_dict(self) -> dict[str, float | str]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}

    @classmethod
    def from_dict(cls, data: dict) -> Cue:
        return cls(float(data["start"]), float(data["end"]), str(data["text"]))


def split_sentences(text: str) -> list[str]:
    """Return the sentences of the text; a line break always ends a sentence."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        sentences.extend(part for part in _SENTENCE_END.split(line) if part.strip())
    return [sentence.strip() for sentence in sentences]


def sentence_cues(text: str, start: float, end: float) -> list[Cue]:
    """Return cues covering one spoken sentence, split where it is too long to read at once."""
    chunks = _chunk_words(text.split(), MAX_CUE_CHARS)
    total_chars = sum(len(chunk) for chunk in chunks)
    cues, cursor = [], start
    for index, chunk in enumerate(chunks):
        # Reading time follows length: share the sentence's time by characters.
        share = (end - start) * len(chunk) / total_chars
        chunk_end = end if index == len(chunks) - 1 else cursor + share
        cues.append(Cue(cursor, chunk_end, chunk))
        cursor = chunk_end
    return cues


def place_cues(slide_cues: Iterable[Iterable[Cue]], slide_starts: Iterable[float]) -> list[Cue]:
    """Return every slide's cues moved from slide time to video time."""
    return [
        cue.shifted(start)
        for cues, start in zip(slide_cues, slide_starts, strict=True)
        for cue in cues
    ]


def to_srt(cues: Iterable[Cue]) -> str:
    """Return SubRip captions; cue text can never become markup, timing or a new cue."""
    blocks = []
    for number, cue in enumerate(cues, start=1):
        timing = f"{timestamp(cue.start, ',')} --> {timestamp(cue.end, ',')}"
        blocks.append(f"{number}\n{timing}\n{_srt_text(cue.text)}\n")
    return "\n".join(blocks)


def to_webvtt(cues: Iterable[Cue], *, language: str = "") -> str:
    """Return WebVTT captions; cue text is escaped, so it is always shown as written.

    `language` (BCP 47) goes into the header, where players and editors look for it.
    """
    header = "WEBVTT\nKind: captions\n" + (f"Language: {language}\n" if language else "")
    blocks = [header]
    for number, cue in enumerate(cues, start=1):
        timing = f"{timestamp(cue.start, '.')} --> {timestamp(cue.end, '.')}"
        blocks.append(f"{number}\n{timing}\n{_webvtt_text(cue.text)}\n")
    return "\n".join(blocks)


def _webvtt_text(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return wrap_lines(escaped)


# SubRip has no escapes, and players read <b>, <font> and {\an8} in it as markup; the
# look-alike characters show the same text without it. "-->" loses its ">" the same way.
_SRT_LOOKALIKES = str.maketrans({"<": "‹", ">": "›", "{": "(", "}": ")"})


def _srt_text(text: str) -> str:
    return wrap_lines(text.translate(_SRT_LOOKALIKES))


def wrap_lines(text: str) -> str:
    """Return the text on at most two balanced lines."""
    if len(text) <= MAX_LINE_CHARS:
        return text
    words = text.split()
    best_split, best_score = 1, None
    for split in range(1, len(words)):
        first, second = " ".join(words[:split]), " ".join(words[split:])
        score = max(len(first), len(second))
        if best_score is None or score < best_score:
            best_split, best_score = split, score
    return " ".join(words[:best_split]) + "\n" + " ".join(words[best_split:])


def _chunk_words(words: Sequence[str], limit: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    for word in words:
        candidate = " ".join([*current, word])
        if current and len(candidate) > limit:
            chunks.append(" ".join(current))
            current = [word]
        else:
            current.append(word)
    if current:
        chunks.append(" ".join(current))
    return _rebalance_tail(chunks, limit)


def _rebalance_tail(chunks: list[str], limit: int) -> list[str]:
    # A last cue of one or two words flashes by; move words into it from the one before.
    if len(chunks) < 2 or len(chunks[-1]) >= limit // 3:
        return chunks
    words = (chunks[-2] + " " + chunks[-1]).split()
    half = len(words) // 2
    return [*chunks[:-2], " ".join(words[:half]), " ".join(words[half:])]


def timestamp(seconds: float, separator: str) -> str:
    """Return hh:mm:ss and milliseconds after `separator` ("," for SubRip, "." for WebVTT)."""
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"
