"""Speaker notes from a file uploaded beside the deck: one entry per slide (per PDF page).

Two forms:
- text (.txt): the entries in order, separated by lines that hold only `---`;
- JSON (.json): a list of strings, one per slide in order, or a list of
  {"page": n, "notes": "..."} objects (pages counted from 1; pages left out are silent).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from media_pipeline.archive import MB, size_text
from media_pipeline.deck import SlideNotes
from media_pipeline.errors import InvalidDeckError

NOTES_FILE_SUFFIXES = (".txt", ".json")
MAX_NOTES_FILE_BYTES = 1 * MB
SEPARATOR = "---"


def read_notes_file(
    path: Path, *, expected: int, noun: str, max_bytes: int = MAX_NOTES_FILE_BYTES
) -> list[str]:
    """Return one notes entry per slide, or raise InvalidDeckError saying what is wrong.

    `expected` is how many slides (or pages) the deck shows and `noun` what they are called
    ("page", "slide"); a file with another number of entries is refused, naming both.
    """
    suffix = path.suffix.lower()
    if suffix not in NOTES_FILE_SUFFIXES:
        raise InvalidDeckError(
            f"The notes file must be a .txt or .json file, not {suffix or 'a file without a type'}."
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidDeckError(
            f"The notes file is {size_text(size, max_bytes)}; the limit is {size_text(max_bytes)}."
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDeckError(
            "The notes file is not UTF-8 text. Save it as UTF-8 and upload it again."
        ) from exc
    if suffix == ".json":
        return _json_entries(text, expected=expected, noun=noun)
    return _text_entries(text, expected=expected, noun=noun)


def apply_notes_file(slides: Sequence[SlideNotes], notes: Sequence[str]) -> list[SlideNotes]:
    """Return the slides with their notes replaced by the file's entries, in order."""
    return [replace(slide, notes=entry) for slide, entry in zip(slides, notes, strict=True)]


def _count_mismatch(found: int, expected: int, noun: str, how: str) -> InvalidDeckError:
    return InvalidDeckError(
        f"The notes file has {found:,} {_plural(found, 'entry', 'entries')} but the deck has "
        f"{expected:,} {_plural(expected, noun, noun + 's')}; {how}"
    )


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _text_entries(text: str, *, expected: int, noun: str) -> list[str]:
    entries: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == SEPARATOR:
            entries.append([])
        else:
            entries[-1].append(line)
    found = ["\n".join(lines).strip() for lines in entries]
    if len(found) != expected:
        raise _count_mismatch(
            len(found), expected, noun,
            f"give one entry per {noun}, separated by lines holding only {SEPARATOR}.",
        )  # fmt: skip
    return found


def _json_entries(text: str, *, expected: int, noun: str) -> list[str]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        line = getattr(exc, "lineno", "?")
        raise InvalidDeckError(
            f"The notes file is not valid JSON (line {line}). It must be a list of strings, or "
            'of {"page": n, "notes": "..."} objects.'
        ) from exc
    if not isinstance(data, list):
        raise InvalidDeckError(
            'The notes file must hold a JSON list: of strings, or of {"page": n, "notes": '
            '"..."} objects.'
        )
    if all(isinstance(item, str) for item in data):
        if len(data) != expected:
            raise _count_mismatch(
                len(data), expected, noun, f"the list needs one string per {noun}."
            )
        return [item.strip() for item in data]
    if not all(isinstance(item, dict) for item in data):
        raise InvalidDeckError(
            "The notes file mixes strings with other values; use either a list of strings or "
            'a list of {"page": n, "notes": "..."} objects.'
        )
    if len(data) > expected:
        raise _count_mismatch(len(data), expected, noun, f"give at most one entry per {noun}.")
    notes = [""] * expected
    seen: set[int] = set()
    for position, item in enumerate(data, start=1):
        page, entry = item.get("page"), item.get("notes")
        if isinstance(page, bool) or not isinstance(page, int) or not isinstance(entry, str):
            raise InvalidDeckError(
                f'Entry {position} of the notes file needs a whole number "page" and a text '
                '"notes", like {"page": 1, "notes": "Welcome."}.'
            )
        if not 1 <= page <= expected:
            raise InvalidDeckError(
                f"Entry {position} of the notes file is for {noun} {page}, but the deck has "
                f"{expected:,} {_plural(expected, noun, noun + 's')}."
            )
        if page in seen:
            raise InvalidDeckError(f"The notes file has more than one entry for {noun} {page}.")
        seen.add(page)
        notes[page - 1] = entry.strip()
    return notes
