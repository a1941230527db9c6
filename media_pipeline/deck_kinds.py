"""Decks of three kinds, told apart by their content: PowerPoint (.pptx), PDF, OpenDocument (.odp).

The name a file was uploaded under never decides: a PDF named deck.pptx is a PDF. A file
that starts with %PDF- is a PDF; a ZIP archive with an OpenDocument mimetype (or the
parts of one) is an .odp; anything else gets the .pptx checks, which say what it is when it
is not a deck. Each kind then has its own checks and its own way to slide images:
LibreOffice for .pptx and .odp (each first copied without external links), poppler alone
for a PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from media_pipeline.deck import DeckLimits, SlideNotes, check_notes, validate_deck
from media_pipeline.errors import SlideCountMismatchError
from media_pipeline.notes_file import apply_notes_file, read_notes_file
from media_pipeline.odp_deck import (
    ODP_MIMETYPE,
    leading_mimetype,
    looks_like_opendocument,
    validate_odp,
)
from media_pipeline.odp_sanitize import sanitize_odp
from media_pipeline.pdf_deck import PDF_MAGIC, validate_pdf
from media_pipeline.render import RenderOptions, render_pdf, render_slides
from media_pipeline.sanitize import sanitize_deck
from media_pipeline.tools import StopCheck, never_stop

PPTX, PDF, ODP = "pptx", "pdf", "odp"
DECK_SUFFIXES = {".pptx": PPTX, ".pdf": PDF, ".odp": ODP}
# Enough of a file's start to tell its kind: a ZIP's first entry header and an
# OpenDocument mimetype after it.
SNIFF_BYTES = 256
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")


def sniff_deck_kind(head: bytes) -> str:
    """Return the kind a file's first SNIFF_BYTES say it is; unknown content counts as .pptx.

    Good for naming a stored upload; `deck_kind` decides for good when the deck is read.
    """
    if head.startswith(PDF_MAGIC):
        return PDF
    if leading_mimetype(head) == ODP_MIMETYPE:
        return ODP
    return PPTX


def deck_kind(path: Path, limits: DeckLimits) -> str:
    """Return the deck's kind by its content, reading its ZIP table of contents if need be."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(PDF_MAGIC):
        return PDF
    if head.startswith(_ZIP_STARTS) and looks_like_opendocument(path, limits.archive_limits()):
        return ODP
    return PPTX


@dataclass(frozen=True)
class CheckedDeck:
    kind: str
    # The shown slides (a PDF's pages), with the notes they will be narrated with.
    slides: tuple[SlideNotes, ...]


def check_deck(path: Path, limits: DeckLimits, *, notes_file: Path | None = None) -> CheckedDeck:
    """Return the deck's kind and shown slides after every check, or raise InvalidDeckError.

    A `notes_file` (see media_pipeline.notes_file) replaces the deck's own notes, one entry
    per shown slide, and gets the same limits.
    """
    kind = deck_kind(path, limits)
    validate = {PPTX: validate_deck, PDF: validate_pdf, ODP: validate_odp}[kind]
    slides = list(validate(path, limits).slides)
    if notes_file is not None:
        notes = read_notes_file(
            notes_file, expected=len(slides), noun="page" if kind == PDF else "slide"
        )
        slides = apply_notes_file(slides, notes)
        check_notes(slides, limits)
    return CheckedDeck(kind, tuple(slides))


@dataclass(frozen=True)
class RenderedSlide:
    number: int
    notes: str
    # As written on the slide (uncleaned); "" when it has no text.
    title: str
    image: Path


@dataclass(frozen=True)
class RenderedDeck:
    slides: tuple[RenderedSlide, ...]
    # What the copy for the renderer left out: see media_pipeline.sanitize.
    removed_links: tuple[str, ...]


def render_deck(
    path: Path,
    checked: CheckedDeck,
    folder: Path,
    options: RenderOptions,
    *,
    check: StopCheck = never_stop,
) -> RenderedDeck:
    """Return every shown slide as an image with its notes and title, rendered in `folder`.

    `folder` must be new: it is the only one the renderers may write to (or, with
    bubblewrap, read from besides the system's programs and fonts).
    """
    folder.mkdir(parents=True)
    removed: tuple[str, ...] = ()
    if checked.kind == PDF:
        pages = render_pdf(path, folder / "pages", options, check=check)
        images, titles = pages.images, pages.first_lines
        renderer = "poppler"
    else:
        # LibreOffice gets a copy that links to nothing, in a folder holding nothing else.
        if checked.kind == ODP:
            sanitized = sanitize_odp(path, folder / "deck.odp")
        else:
            sanitized = sanitize_deck(path, folder / "deck.pptx")
        removed = sanitized.removed_links
        images = render_slides(sanitized.path, folder / "slides", options, check=check)
        titles = [slide.title for slide in checked.slides]
        renderer = "LibreOffice"
    if len(images) != len(checked.slides):
        raise SlideCountMismatchError(
            f"The deck shows {len(checked.slides)} slides but {renderer} rendered "
            f"{len(images)}. Open and save the deck again, then upload it once more."
        )
    slides = tuple(
        RenderedSlide(slide.number, slide.notes, title, image)
        for slide, title, image in zip(checked.slides, titles, images, strict=True)
    )
    return RenderedDeck(slides, removed)


def removed_links(path: Path, checked: CheckedDeck, folder: Path) -> tuple[str, ...]:
    """What the renderer's copy of the deck would leave out (see render_deck), without rendering.

    For a deck whose slide images all come from a cache: the warning is the deck's own.
    """
    if checked.kind == PDF:
        return ()
    folder.mkdir(parents=True)
    if checked.kind == ODP:
        return sanitize_odp(path, folder / "deck.odp").removed_links
    return sanitize_deck(path, folder / "deck.pptx").removed_links
