"""Checking an uploaded deck under limits, and reading the speaker notes and titles of its slides.

A deck's slides are what ppt/presentation.xml lists, resolved through its relationships:
that is what PowerPoint and LibreOffice show, so it is what the limits count. Parts that
are not listed are never rendered and never counted.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from lxml import etree

from media_pipeline.archive import MB, ArchiveLimits, check_archive
from media_pipeline.errors import InvalidDeckError
from media_pipeline.opc import (
    NS,
    REL_NOTES_SLIDE,
    Package,
)
from media_pipeline.pictures import check_pictures

logger = logging.getLogger("media_pipeline.deck")

# Scripts written without spaces between words (Chinese, Japanese, Korean, Thai) are not
# one long word: their characters separate words for this limit.
_WORD = re.compile(r"[^\s\u0e00-\u0e7f\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+")


@dataclass(frozen=True)
class DeckLimits:
    max_file_bytes: int = 100 * MB
    max_uncompressed_bytes: int = 500 * MB
    max_entries: int = 10_000
    max_slides: int = 200
    max_notes_chars_per_slide: int = 5_000
    max_notes_chars_per_deck: int = 100_000
    max_word_chars: int = 100
    max_image_pixels: int = 100_000_000
    max_xml_depth: int = 100

    def archive_limits(self) -> ArchiveLimits:
        return ArchiveLimits(
            max_file_bytes=self.max_file_bytes,
            max_uncompressed_bytes=self.max_uncompressed_bytes,
            max_entries=self.max_entries,
        )


@dataclass(frozen=True)
class SlideNotes:
    """Speaker notes of one visible slide; `number` is its position in the deck as authored.

    `title` is the slide's title as written (its title placeholder, else its first line of
    text), uncleaned; empty when the slide has no text.
    """

    number: int
    notes: str
    title: str = ""


@dataclass(frozen=True)
class DeckSummary:
    # Slides the deck lists, hidden ones included; `slides` holds the visible ones.
    slide_count: int
    uncompressed_bytes: int
    slides: tuple[SlideNotes, ...] = ()


def validate_deck(path: Path, limits: DeckLimits) -> DeckSummary:
    """Return the deck's slides and notes after checking every limit, or raise InvalidDeckError."""
    members = check_archive(path, limits.archive_limits())
    with zipfile.ZipFile(path) as archive:
        package = Package(archive, max_xml_depth=limits.max_xml_depth)
        package.check_all_xml()
        slide_parts = _listed_slides(package, limits)
        check_pictures(archive, members, max_pixels=limits.max_image_pixels)
        visible = []
        for number, part in enumerate(slide_parts, start=1):
            # LibreOffice leaves hidden slides out of the PDF, so they are left out here too.
            if package.root_attribute(part, "show") in ("0", "false"):
                continue
            visible.append(
                SlideNotes(
                    number=number,
                    notes=_notes_of(package, part),
                    title=_title_of(archive.read(part)),
                )
            )
    if not visible:
        raise InvalidDeckError("Every slide in the deck is hidden; nothing would be shown.")
    check_notes(visible, limits)
    return DeckSummary(
        slide_count=len(slide_parts),
        uncompressed_bytes=sum(member.file_size for member in members),
        slides=tuple(visible),
    )


def read_speaker_notes(path: Path, limits: DeckLimits | None = None) -> list[SlideNotes]:
    """Return the notes of every slide that a slideshow shows, in order (hidden ones skipped)."""
    return list(validate_deck(path, limits or DeckLimits()).slides)


def _listed_slides(package: Package, limits: DeckLimits) -> list[str]:
    presentation = "ppt/presentation.xml"
    relationships = package.relationships(presentation)
    listed = package.xml(presentation).findall("p:sldIdLst/p:sldId", NS)
    parts: list[str] = []
    seen: set[str] = set()
    for entry in listed:
        rel_id = entry.get(f"{{{NS['r']}}}id", "")
        relationship = relationships.get(rel_id)
        if relationship is None:
            raise InvalidDeckError(
                f"The slide list in {presentation} names the relationship {rel_id!r}, which "
                f"{package.rels_name(presentation)} does not define. The deck is damaged: "
                "save it again and upload the new file."
            )
        if relationship.part is None:
            raise InvalidDeckError(
                f"The slide list names a slide outside the file ({relationship.target!r}); "
                "a deck's slides must be inside it."
            )
        if not package.has(relationship.part):
            raise InvalidDeckError(
                f"The slide list names {relationship.part}, which is not in the file. The "
                "deck is damaged: save it again and upload the new file."
            )
        if relationship.part in seen:
            raise InvalidDeckError(
                f"{relationship.part} is listed more than once in the slide list; a slide "
                "can appear only once. Save the deck again and upload the new file."
            )
        seen.add(relationship.part)
        parts.append(relationship.part)
    if not parts:
        raise InvalidDeckError("The deck has no slides. Add at least one slide.")
    if len(parts) > limits.max_slides:
        raise InvalidDeckError(
            f"The deck has {len(parts):,} slides; the limit is {limits.max_slides:,}."
        )
    return parts


def _notes_of(package: Package, slide_part: str) -> str:
    notes_part = next(
        (
            rel.part
            for rel in package.relationships(slide_part).values()
            if rel.type == REL_NOTES_SLIDE and rel.part and package.has(rel.part)
        ),
        None,
    )
    if notes_part is None:
        return ""
    notes = package.xml(notes_part)
    for shape in notes.iterfind(".//p:sp", NS):
        placeholder = shape.find("p:nvSpPr/p:nvPr/p:ph", NS)
        if placeholder is None or placeholder.get("type") != "body":
            continue
        lines = []
        for paragraph in shape.iterfind("p:txBody/a:p", NS):
            # A line break inside a paragraph reads as a space.
            line = " ".join(_paragraph_text(paragraph).split())
            if line:
                lines.append(line)
        return "\n".join(lines)
    return ""


_RUN_TAGS = {f"{{{NS['a']}}}r", f"{{{NS['a']}}}fld", f"{{{NS['a']}}}br"}
_BREAK = f"{{{NS['a']}}}br"
_TITLE_TYPES = {"title", "ctrTitle"}
_SHAPE = f"{{{NS['p']}}}sp"
_SAFE_PARSE = {"resolve_entities": False, "no_network": True, "load_dtd": False}


def _paragraph_text(paragraph: etree._Element) -> str:
    """Return a paragraph's runs and fields in order, each line break as a newline."""
    return "".join(
        "\n" if node.tag == _BREAK else "".join(node.itertext())
        for node in paragraph
        if node.tag in _RUN_TAGS
    )


def _title_of(slide_xml: bytes) -> str:
    """Return the text of the slide's title placeholder, else its first non-empty line.

    Title and centre-title placeholders are what python-pptx's `shapes.title` and
    PowerPoint's outline take as the title. The slide is read as a stream, paragraphs
    dropped once read, so a slide of many shapes costs little memory (it was already
    checked for size, depth and DTDs).
    """
    first_line = ""
    title_lines: dict[etree._Element, list[str]] = {}
    paragraphs = etree.iterparse(
        BytesIO(slide_xml), events=("end",), tag=(f"{{{NS['a']}}}p", _SHAPE), **_SAFE_PARSE
    )
    for _, element in paragraphs:
        if element.tag == _SHAPE:
            title = " ".join(title_lines.pop(element, ()))
            if title.strip():
                return title
            continue
        text = _paragraph_text(element)
        element.clear()
        shape = next(element.iterancestors(_SHAPE), None)
        if shape is not None and _is_title_placeholder(shape):
            title_lines.setdefault(shape, []).append(text)
        elif not first_line:
            first_line = next((line for line in text.splitlines() if line.strip()), "")
    return first_line


def _is_title_placeholder(shape: etree._Element) -> bool:
    placeholder = shape.find("p:nvSpPr/p:nvPr/p:ph", NS)
    return placeholder is not None and placeholder.get("type") in _TITLE_TYPES


def check_notes(slides: Sequence[SlideNotes], limits: DeckLimits) -> None:
    """Raise InvalidDeckError when a slide's notes, or all of them, are over the limits."""
    total = 0
    for slide in slides:
        length = len(slide.notes)
        total += length
        if length > limits.max_notes_chars_per_slide:
            raise InvalidDeckError(
                f"Slide {slide.number}'s speaker notes are {length:,} characters long; the "
                f"limit is {limits.max_notes_chars_per_slide:,} per slide. Shorten them or "
                "spread them over more slides."
            )
        longest = max(_WORD.findall(slide.notes), key=len, default="")
        if len(longest) > limits.max_word_chars:
            raise InvalidDeckError(
                f"Slide {slide.number}'s speaker notes contain a {len(longest):,}-character "
                f"word ({longest[:24]!r}…); words may be at most {limits.max_word_chars:,} "
                "characters. Add spaces or remove it."
            )
    if total > limits.max_notes_chars_per_deck:
        raise InvalidDeckError(
            f"The deck's speaker notes are {total:,} characters long in all; the limit is "
            f"{limits.max_notes_chars_per_deck:,}. Split the deck into shorter ones."
        )
