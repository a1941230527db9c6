"""Checking an uploaded deck before anything parses it, and reading its speaker notes."""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from media_pipeline.errors import InvalidDeckError

logger = logging.getLogger("media_pipeline.deck")

_SLIDE_PART = re.compile(r"^ppt/slides/slide\d+\.xml$")
# A single part expanding more than this many times is a decompression bomb, not a deck.
_MAX_COMPRESSION_RATIO = 200
_RATIO_CHECK_MIN_BYTES = 10 * 1024 * 1024
_MB = 1024 * 1024


@dataclass(frozen=True)
class DeckLimits:
    max_file_bytes: int = 100 * _MB
    max_uncompressed_bytes: int = 500 * _MB
    max_slides: int = 200


@dataclass(frozen=True)
class DeckSummary:
    slide_count: int
    uncompressed_bytes: int


@dataclass(frozen=True)
class SlideNotes:
    """Speaker notes of one visible slide; `number` is its position in the deck as authored."""

    number: int
    notes: str


def validate_deck(path: Path, limits: DeckLimits) -> DeckSummary:
    """Return the deck's slide count after checking size, ZIP structure and limits, or raise."""
    size = path.stat().st_size
    if size == 0:
        raise InvalidDeckError("The file is empty.")
    if size > limits.max_file_bytes:
        raise InvalidDeckError(
            f"The file is {_megabytes(size)}; the limit is {_megabytes(limits.max_file_bytes)}."
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    if not zipfile.is_zipfile(path):
        raise InvalidDeckError(_not_a_zip_message(head))
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_expansion(members, limits)
            names = {member.filename for member in members}
            _check_is_presentation(names)
            slide_count = sum(1 for name in names if _SLIDE_PART.match(name))
            if slide_count == 0:
                raise InvalidDeckError("The deck has no slides. Add at least one slide.")
            if slide_count > limits.max_slides:
                raise InvalidDeckError(
                    f"The deck has {slide_count} slides; the limit is {limits.max_slides}."
                )
            damaged = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
        raise InvalidDeckError(
            f"The file is a damaged ZIP archive and cannot be read as a deck ({exc})."
        ) from exc
    except NotImplementedError as exc:
        raise InvalidDeckError(f"The deck uses an unsupported ZIP feature ({exc}).") from exc
    if damaged is not None:
        raise InvalidDeckError(
            f"The file is a damaged ZIP archive: the part {damaged!r} is corrupt."
        )
    return DeckSummary(
        slide_count=slide_count, uncompressed_bytes=sum(m.file_size for m in members)
    )


def read_speaker_notes(path: Path) -> list[SlideNotes]:
    """Return the notes of every slide that a slideshow shows, in order (hidden ones skipped)."""
    from pptx import Presentation  # imported late: importing python-pptx costs ~0.3 s

    try:
        presentation = Presentation(str(path))
    except Exception as exc:  # python-pptx raises many kinds on malformed XML
        raise InvalidDeckError(f"The deck could not be read: {exc}") from exc
    visible: list[SlideNotes] = []
    for number, slide in enumerate(presentation.slides, start=1):
        # LibreOffice leaves hidden slides out of the PDF, so they must be left out here too.
        if slide._element.get("show") in ("0", "false"):
            continue
        visible.append(SlideNotes(number=number, notes=_notes_text(slide)))
    if not visible:
        raise InvalidDeckError("Every slide in the deck is hidden; nothing would be shown.")
    return visible


def _notes_text(slide) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    if frame is None:
        return ""
    lines = [" ".join(paragraph.text.split()) for paragraph in frame.paragraphs]
    return "\n".join(line for line in lines if line)


def _check_expansion(members: list[zipfile.ZipInfo], limits: DeckLimits) -> None:
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise InvalidDeckError(
            f"The file expands to {_megabytes(total)} when unpacked, more than the limit of "
            f"{_megabytes(limits.max_uncompressed_bytes)}; it looks like a ZIP bomb."
        )
    for member in members:
        if member.file_size < _RATIO_CHECK_MIN_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > _MAX_COMPRESSION_RATIO:
            raise InvalidDeckError(
                f"The part {member.filename!r} expands {ratio:.0f} times "
                f"({_megabytes(member.file_size)}); it looks like a ZIP bomb."
            )


def _check_is_presentation(names: set[str]) -> None:
    if "ppt/presentation.xml" in names and "[Content_Types].xml" in names:
        return
    if "word/document.xml" in names:
        kind = "a Word document"
    elif "xl/workbook.xml" in names:
        kind = "an Excel workbook"
    else:
        kind = "a ZIP archive"
    raise InvalidDeckError(
        f"The file is not a PowerPoint deck (.pptx): it is {kind} without ppt/presentation.xml."
    )


def _not_a_zip_message(head: bytes) -> str:
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return (
            "The file is an old PowerPoint 97-2003 (.ppt) or other legacy Office file. "
            "Save it as .pptx and upload it again."
        )
    if head.startswith(b"%PDF"):
        return "The file is a PDF, not a PowerPoint deck (.pptx)."
    if head.startswith(b"PK"):
        return "The file is a damaged ZIP archive and cannot be read as a PowerPoint deck."
    return "The file is not a PowerPoint deck (.pptx): it is not a ZIP archive."


def _megabytes(size: int) -> str:
    return f"{size / _MB:.1f} MB"
