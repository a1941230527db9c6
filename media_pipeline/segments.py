"""Cutting a document's text into overlapping segments of whole sentences, sized in tokens.

A segment is what gets embedded and searched, so it should read as a unit: it starts and
ends at sentence boundaries, keeps a paragraph together when one fits, and repeats the last
sentence or two of the segment before it, so that an idea cut in two is still found whole.
Sentences are found by rules rather than a model (blingfire, pysbd): a 10 MB book splits
in about a second, with no native code, and every offset points into the original text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Segment", "approximate_tokens", "segment_text", "split_sentences"]

# Pieces that a subword tokenizer rarely splits further: one CJK character (these scripts
# have no spaces and take about a token a character), a run of up to 10 letters (longer
# words are split by every vocabulary), one digit (Llama's tokenizer, which the embedding
# model uses, splits numbers into digits), or any other visible character (punctuation).
_TOKEN_PIECE = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
    r"|[^\W\d_]{1,10}|\d|\S"
)
# A word, or a piece of a longer one, so that no count ever reads a megabyte "word" whole.
_WORD_PART = re.compile(r"\S{1,256}")
_VISIBLE = re.compile(r"\S")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")

# Where a sentence may end: a word, its stop punctuation and any closing quotes or brackets,
# then a space (so "3.5", "example.com" and "U.S.-led" never end one); or a blank line.
# The word starts after a space and ends in a letter, digit or mark that is no stop, and
# the stops are matched possessively: each attempt reads at most a word of 100 characters
# and one run of stops, so a megabyte of "!!!" is read once. What follows is captured in a
# lookahead, for the rules in _ends_sentence.
_SENTENCE_BREAK = re.compile(
    r"(?<!\S)(?P<word>\S{0,99}?[^\s.!?\u2026])(?P<stop>[.!?\u2026]++)"
    r"[\"'\u201d\u2019\u00bb)\]]*+(?=(?P<space>\s++)(?P<next>\S?))"
    r"|\n[ \t]*+\n\s*+"
)
# Abbreviations that come before a name or a phrase, never at the end of a sentence.
_TITLES = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "rev", "hon", "gen", "col", "capt", "lt", "sgt",
    "gov", "sen", "rep", "pres", "st", "mt", "ft", "vs", "cf", "viz", "approx",
})  # fmt: skip
# Abbreviations that come before a number ("No. 5", "pp. 12-14", "Jan. 3", "ca. 1900").
_BEFORE_NUMBERS = frozenset({
    "no", "nos", "fig", "figs", "vol", "vols", "p", "pp", "ch", "sec", "art", "eq", "op", "ca",
    "ed", "eds", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec",
})  # fmt: skip
_DOTTED = re.compile(r"(?:[^\W\d_]{1,2}\.)+[^\W\d_]{1,2}")  # U.S, a.m, Ph.D, e.g
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
_OPENERS = "\"'([\u201c\u2018\u00ab"


def split_sentences(text: str) -> list[str]:
    """Return the text's sentences, stripped, in order."""
    return [text[start:end] for start, end in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Return (start, end) character offsets of each sentence, without surrounding space."""
    spans = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(text):
        if match.group("stop") is None or _ends_sentence(text, match):
            spans.append(_stripped(text, start, match.end()))
            start = match.end()
    spans.append(_stripped(text, start, len(text)))
    return [(start, end) for start, end in spans if start < end]


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    chunk = text[start:end]
    return start + len(chunk) - len(chunk.lstrip()), start + len(chunk.rstrip())


def _ends_sentence(text: str, match: re.Match) -> bool:
    following = match.group("next")
    if not following or match.group("space").count("\n") > 1:
        return True  # the end of the text, or of a paragraph
    if following in _OPENERS:
        following = text[match.end("next") : match.end("next") + 8].lstrip(_OPENERS)[:1]
    if following.islower():
        return False  # '"Go!" she said', 'e.g. this', 'and so... we left'
    stop = match.group("stop")
    if stop != ".":
        return "?" in stop or "!" in stop or following.isupper() or following.isdigit()
    word = match.group("word").lstrip(_OPENERS)
    if not _LETTER_OR_DIGIT.search(word):
        return False  # a stray "--." is no sentence of its own
    lowered = word.lower()
    if lowered in _TITLES or _DOTTED.fullmatch(word):
        return False
    if len(word) == 1 and word.isupper():
        return False  # an initial: "J. R. R. Tolkien"
    if following.isdigit() and lowered in _BEFORE_NUMBERS:
        return False
    # A numbered list item ("1. Gather the notes") is not a sentence of its own.
    line_start = text[match.start() - 1 : match.start()] in "\n"
    return not (word.isdigit() and len(word) <= 3 and line_start)


def approximate_tokens(text: str) -> int:
    """Return an estimate, slightly high, of how many subword tokens `text` makes.

    On English prose, BPE and WordPiece vocabularies give about 1.3 tokens a word; counting
    punctuation as pieces of its own already covers part of that, and the remaining 20%
    covers rarer words split in two. Erring high keeps segments under a real model's limit.
    """
    pieces = len(_TOKEN_PIECE.findall(text))
    return (pieces * 6 + 4) // 5  # pieces × 1.2, rounded up, in integers


@dataclass(frozen=True)
class Segment:
    position: int
    text: str
    start: int  # character offsets into the text given: text[start:end] == segment.text
    end: int
    token_count: int


class _Unit(NamedTuple):
    """A sentence, or a piece of one too long for a segment."""

    start: int
    end: int
    tokens: int
    opens_paragraph: bool


def segment_text(
    text: str,
    *,
    count_tokens: Callable[[str], int] = approximate_tokens,
    target_tokens: int = 200,
    max_tokens: int = 256,
    overlap_tokens: int = 40,
) -> list[Segment]:
    """Return the text's segments in order, each about target_tokens and at most max_tokens."""
    if not 0 < target_tokens <= max_tokens or not 0 <= overlap_tokens < target_tokens:
        raise ValueError(
            "segment_text needs 0 < target_tokens <= max_tokens and "
            f"0 <= overlap_tokens < target_tokens (got {target_tokens}, {max_tokens}, "
            f"{overlap_tokens})"
        )
    units = list(_units(text, count_tokens, max_tokens))
    paragraph_rest = _paragraph_rest(units)
    segments: list[Segment] = []
    first = fresh = 0  # the segment starts at `first`; units from `fresh` on are new
    while fresh < len(units):
        while first < fresh and _tokens(units, first, fresh + 1) > max_tokens:
            first += 1  # the overlap leaves no room for the next sentence
        total = _tokens(units, first, fresh + 1)
        stop = fresh + 1
        while stop < len(units):
            unit = units[stop]
            # Past the target, a segment may still grow up to max_tokens to end its paragraph.
            if total + unit.tokens > target_tokens and (
                unit.opens_paragraph or total + paragraph_rest[stop] > max_tokens
            ):
                break
            # A new paragraph that will not fit whole starts the next segment instead.
            if (
                unit.opens_paragraph
                and total >= target_tokens // 2
                and paragraph_rest[stop] > target_tokens - total
            ):
                break
            total += unit.tokens
            stop += 1
        first, stop, tokens = _measured(text, units, first, fresh, stop, count_tokens, max_tokens)
        start, end = units[first].start, units[stop - 1].end
        segments.append(Segment(len(segments), text[start:end], start, end, tokens))
        first, fresh = _overlap_start(units, first, stop, overlap_tokens), stop
    return segments


def _tokens(units: list[_Unit], first: int, stop: int) -> int:
    return sum(unit.tokens for unit in units[first:stop])


def _measured(
    text: str,
    units: list[_Unit],
    first: int,
    fresh: int,
    stop: int,
    count_tokens: Callable[[str], int],
    max_tokens: int,
) -> tuple[int, int, int]:
    """Return (first, stop, tokens) for units[first:stop], shortened if counted over the limit.

    A tokenizer may count a joined text a little differently from its sentences one by one;
    dropping a sentence from the end (or, at the last, from the overlap) keeps the promise.
    """
    while True:
        start, end = units[first].start, units[stop - 1].end
        tokens = count_tokens(text[start:end])
        if tokens <= max_tokens or (stop == fresh + 1 and first == fresh):
            return first, stop, tokens
        if stop > fresh + 1:
            stop -= 1
        else:
            first += 1


def _overlap_start(units: list[_Unit], first: int, stop: int, overlap_tokens: int) -> int:
    """Return where the next segment starts: whole sentences from this one's end, never all."""
    start, total = stop, 0
    while start - 1 > first and total + units[start - 1].tokens <= overlap_tokens:
        start -= 1
        total += units[start].tokens
    return start


def _paragraph_rest(units: list[_Unit]) -> list[int]:
    """Return, for each unit, the tokens from it to the end of its paragraph."""
    rest = [0] * len(units)
    running = 0
    for index in range(len(units) - 1, -1, -1):
        running += units[index].tokens
        rest[index] = running
        if units[index].opens_paragraph:
            running = 0
    return rest


def _units(text: str, count_tokens: Callable[[str], int], max_tokens: int) -> Iterator[_Unit]:
    previous_end = 0
    for start, end in sentence_spans(text):
        opens = previous_end == 0 or _BLANK_LINE.search(text, previous_end, start) is not None
        previous_end = end
        tokens = count_tokens(text[start:end])
        if tokens <= max_tokens:
            yield _Unit(start, end, tokens, opens)
            continue
        for index, (piece_start, piece_end, piece_tokens) in enumerate(
            _cut(text, start, end, count_tokens, max_tokens)
        ):
            yield _Unit(piece_start, piece_end, piece_tokens, opens and index == 0)


def _cut(
    text: str, start: int, end: int, count_tokens: Callable[[str], int], max_tokens: int
) -> Iterator[tuple[int, int, int]]:
    """Yield (start, end, tokens) pieces of an over-long sentence, each within max_tokens.

    A piece is cut after a group of words; a single word over the limit is cut by characters.
    Counting groups of about 64 characters and adding them up, instead of bisecting over
    ever longer prefixes, reads each character about twice: a 10 MB text without a full
    stop (a word list, a hostile file) is cut in seconds. A piece ends at a line break when
    one falls in its second half, since lists and verse have lines but no full stops.
    """
    position = start
    while (position := _skip_space(text, position, end)) < end:
        word_end = _WORD_PART.match(text, position).end()
        for stops in (
            _word_ends(text, position, end, group_chars=64),
            _word_ends(text, position, end, group_chars=0),
            [*range(position + 16, word_end, 16), word_end],
            range(position + 1, word_end + 1),
        ):
            piece_end = _fill(text, position, stops, end, count_tokens, max_tokens)
            if piece_end > position:
                break
        piece_end = _at_line_break(text, position, max(piece_end, position + 1))
        yield position, piece_end, count_tokens(text[position:piece_end])
        position = piece_end


def _word_ends(text: str, start: int, end: int, *, group_chars: int) -> Iterator[int]:
    """Yield word ends from start, each at least group_chars after the one before."""
    group_start = stop = start
    for match in _WORD_PART.finditer(text, start, end):
        stop = match.end()
        if stop - group_start >= group_chars:
            yield stop
            group_start = stop
    if stop > group_start:
        yield stop


def _fill(
    text: str,
    start: int,
    stops: Iterable[int],
    end: int,
    count_tokens: Callable[[str], int],
    max_tokens: int,
) -> int:
    """Return the furthest stop that text[start:stop] reaches within max_tokens; start if none.

    The parts between stops are counted one by one; a tokenizer that counts the joined text
    higher than the sum of its parts is caught by the check at the end, which backs off.
    """
    reached, total = [start], 0
    for stop in stops:
        stop = min(stop, end)
        if stop <= reached[-1]:
            break
        total += count_tokens(text[reached[-1] : stop])
        if total > max_tokens:
            break
        reached.append(stop)
    fits = _last_fitting(reached, lambda stop: count_tokens(text[start:stop]) <= max_tokens)
    return reached[max(fits, 0)]


def _last_fitting(candidates: list[int], fits: Callable[[int], bool]) -> int:
    """Return the index of the last candidate that fits (-1 if none); fitting is monotone.

    The last candidate is tried first: with an additive count it is the answer.
    """
    if candidates and fits(candidates[-1]):
        return len(candidates) - 1
    low, high = -1, len(candidates) - 2
    while low < high:
        middle = (low + high + 1) // 2
        if fits(candidates[middle]):
            low = middle
        else:
            high = middle - 1
    return low


def _at_line_break(text: str, start: int, end: int) -> int:
    newline = text.rfind("\n", start, end)
    if newline > start + (end - start) // 2:
        return len(text[start:newline].rstrip()) + start
    return end


def _skip_space(text: str, position: int, end: int) -> int:
    match = _VISIBLE.search(text, position, end)
    return match.start() if match else end
