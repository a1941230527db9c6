"""A slide's notes as a narration script: what is said, how words are pronounced, where it pauses.

Notes may hold `[pause:1.5]`: that many seconds of silence (0.1 to 10), in any engine, never
spoken and never in the captions. A persona's lexicon changes how words are said (a
respelling, or phonemes for engines that take them) and never what the captions show.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from media_pipeline.errors import PipelineError

MIN_PAUSE_SECONDS = 0.1
MAX_PAUSE_SECONDS = 10.0
MAX_LEXICON_ENTRIES = 2000
MAX_LEXICON_PHRASE_CHARS = 100
MAX_LEXICON_SAY_CHARS = 200

# Any bracketed word "pause", so a misspelt value is reported, not read aloud.
_PAUSE = re.compile(r"\[\s*pause\b([^\]]*)\]", re.IGNORECASE)
_PAUSE_VALUE = re.compile(r"^\s*:\s*([0-9]+(?:\.[0-9]+)?)\s*s?\s*$", re.IGNORECASE)


class NarrationMarkupError(PipelineError):
    """Markup in the speaker notes that Slidecast cannot follow."""

    permanent = True
    code = "invalid_markup"


@dataclass(frozen=True)
class Speech:
    text: str


@dataclass(frozen=True)
class Pause:
    seconds: float


def parse_script(notes: str) -> list[Speech | Pause]:
    """Return the notes as speech and pauses, in order; raise on markup that is not valid."""
    parts: list[Speech | Pause] = []
    cursor = 0
    for match in _PAUSE.finditer(notes):
        text = notes[cursor : match.start()]
        if text.strip():
            parts.append(Speech(text))
        parts.append(Pause(_pause_seconds(match)))
        cursor = match.end()
    if notes[cursor:].strip():
        parts.append(Speech(notes[cursor:]))
    return parts


def _pause_seconds(match: re.Match) -> float:
    value = _PAUSE_VALUE.match(match.group(1))
    seconds = float(value.group(1)) if value else math.nan
    if not MIN_PAUSE_SECONDS <= seconds <= MAX_PAUSE_SECONDS:
        raise NarrationMarkupError(
            f"{match.group(0)!r} is not a pause Slidecast can make: write [pause:SECONDS] "
            f"with SECONDS from {MIN_PAUSE_SECONDS:g} to {MAX_PAUSE_SECONDS:g}, e.g. [pause:1.5]."
        )
    return seconds


def spoken_text(notes: str) -> str:
    """Return the notes without their markup (what the captions show)."""
    return " ".join(part.text for part in parse_script(notes) if isinstance(part, Speech))


def phrase_key(phrase: str) -> str:
    """Return the form under which a lexicon compares phrases: lower case, single spaces."""
    return " ".join(phrase.lower().split())


def duplicate_phrases(phrases: Iterable[str]) -> list[str]:
    """Return the phrases (as compared) that a lexicon would hold more than once."""
    keys = [phrase_key(phrase) for phrase in phrases]
    return sorted({key for key in keys if keys.count(key) > 1})


@dataclass(frozen=True)
class Lexicon:
    """Phrases and how to say them; matched whole-word, ignoring case, longest phrase first."""

    entries: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if len(self.entries) > MAX_LEXICON_ENTRIES:
            raise NarrationMarkupError(
                f"The lexicon has {len(self.entries)} entries; the most is {MAX_LEXICON_ENTRIES}."
            )
        for phrase, say in self.entries:
            if not phrase.strip() or len(phrase) > MAX_LEXICON_PHRASE_CHARS:
                raise NarrationMarkupError(
                    f"Lexicon phrase {phrase[:40]!r} must have 1 to {MAX_LEXICON_PHRASE_CHARS} "
                    "characters."
                )
            if not say.strip() or len(say) > MAX_LEXICON_SAY_CHARS:
                raise NarrationMarkupError(
                    f"Say {phrase[:40]!r} with 1 to {MAX_LEXICON_SAY_CHARS} characters."
                )

    @classmethod
    def of(cls, entries: Iterable[tuple[str, str]]) -> Lexicon:
        return cls(tuple((phrase, say) for phrase, say in entries))

    @functools.cached_property
    def _sayings(self) -> dict[str, str]:
        return {phrase_key(phrase): say for phrase, say in self.entries}

    @functools.cached_property
    def _pattern(self) -> re.Pattern:
        # Compiled once per lexicon, not per sentence; whitespace inside a phrase matches
        # any run of whitespace in the notes.
        phrases = sorted(self._sayings, key=len, reverse=True)
        alternatives = "|".join(r"\s+".join(map(re.escape, p.split())) for p in phrases)
        return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    def apply(self, text: str) -> str:
        """Return the text with every lexicon phrase replaced by how it is said."""
        if not self.entries:
            return text
        return self._pattern.sub(lambda m: self._sayings[phrase_key(m.group(0))], text)
