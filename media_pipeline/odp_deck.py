"""Checking an uploaded OpenDocument presentation (.odp) under limits; its notes and titles.

An .odp is a ZIP archive like a .pptx, and gets the same limits (size, entries, expansion,
names, checksums, XML depth, DTDs, pictures) before anything parses it. Its slides are the
draw:page elements of content.xml; LibreOffice leaves hidden ones out of the PDF, so they
are left out here too. A page's speaker notes are the paragraphs of its presentation:notes
frame of class "notes"; its title is its frame of class "title".
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from lxml import etree

from media_pipeline.archive import (
    ArchiveLimits,
    _check_declared_entries,
    zip_container_entries,
)
from media_pipeline.deck import DeckLimits, DeckSummary, SlideNotes, check_notes
from media_pipeline.errors import InvalidDeckError
from media_pipeline.opc import Package
from media_pipeline.pictures import check_pictures

ODP_MIMETYPE = "application/vnd.oasis.opendocument.presentation"
ODF = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
}
_OTHER_KINDS = {
    "text": "an OpenDocument text document (.odt)",
    "spreadsheet": "an OpenDocument spreadsheet (.ods)",
    "graphics": "an OpenDocument drawing (.odg)",
}
_CLASS = f"{{{ODF['presentation']}}}class"
_NOTES = f"{{{ODF['presentation']}}}notes"
_PARAGRAPH = f"{{{ODF['text']}}}p"
_HEADING = f"{{{ODF['text']}}}h"
_SPACE = f"{{{ODF['text']}}}s"
_TAB = f"{{{ODF['text']}}}tab"
_LINE_BREAK = f"{{{ODF['text']}}}line-break"
# Footnotes and annotations sit inside paragraphs but are not read as part of them.
_SKIPPED = {f"{{{ODF['text']}}}note", f"{{{ODF['office']}}}annotation"}
_MAX_SPACES = 100


def check_zip_container(path: Path, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """Return the ZIP's entries once the file is a sound archive under the limits.

    The same checks a .pptx gets (media_pipeline.archive), without asking for PowerPoint's
    parts.
    """
    return zip_container_entries(
        path, limits, what="presentation",
        not_zip=lambda head: (
            "The file is not an OpenDocument presentation (.odp): it is not a ZIP archive."
        ),
    )  # fmt: skip


def looks_like_opendocument(path: Path, limits: ArchiveLimits) -> bool:
    """True when a ZIP archive is an OpenDocument file by its parts (not by its name).

    Reads only the table of contents, once its declared size is known to be within the
    limits; an archive that cannot be read is left to the .pptx checks, which say why.
    """
    _check_declared_entries(path, limits)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except Exception:  # zipfile raises several kinds on hostile archives
        return False
    if "ppt/presentation.xml" in names:
        return False
    return "mimetype" in names or "content.xml" in names


def leading_mimetype(head: bytes) -> str:
    """Return the mimetype an OpenDocument file declares at its very start, or "".

    The format puts it first, stored uncompressed, so that the first bytes of the file
    tell its kind without reading the archive's table of contents.
    """
    if len(head) < 30 or not head.startswith(b"PK\x03\x04"):
        return ""
    method, size, name_length, extra_length = struct.unpack_from("<H8xI4xHH", head, 8)
    name_end = 30 + name_length
    if method != zipfile.ZIP_STORED or head[30:name_end] != b"mimetype":
        return ""
    start = name_end + extra_length
    return head[start : start + min(size, 100)].decode("ascii", "replace")


def validate_odp(path: Path, limits: DeckLimits) -> DeckSummary:
    """Return the presentation's shown slides with notes and titles, or raise InvalidDeckError."""
    members = check_zip_container(path, limits.archive_limits())
    with zipfile.ZipFile(path) as archive:
        _check_mimetype(archive, {member.filename for member in members})
        package = Package(archive, max_xml_depth=limits.max_xml_depth)
        package.check_all_xml()
        if package.has("META-INF/manifest.xml"):
            _check_not_encrypted(package.xml("META-INF/manifest.xml"))
        check_pictures(archive, members, max_pixels=limits.max_image_pixels)
        content = package.xml("content.xml")
    pages = content.findall("office:body/office:presentation/draw:page", ODF)
    if not pages:
        raise InvalidDeckError(
            "The OpenDocument presentation (.odp) has no slides. Add at least one slide."
        )
    if len(pages) > limits.max_slides:
        raise InvalidDeckError(
            f"The presentation has {len(pages):,} slides; the limit is {limits.max_slides:,}."
        )
    hidden = _hidden_page_styles(content)
    style_name = f"{{{ODF['draw']}}}style-name"
    visible = [
        SlideNotes(number=number, notes=_notes_of(page), title=_title_of(page))
        for number, page in enumerate(pages, start=1)
        if page.get(style_name) not in hidden
    ]
    if not visible:
        raise InvalidDeckError("Every slide in the presentation is hidden; nothing would be shown.")
    check_notes(visible, limits)
    return DeckSummary(
        slide_count=len(pages),
        uncompressed_bytes=sum(member.file_size for member in members),
        slides=tuple(visible),
    )


def _check_mimetype(archive: zipfile.ZipFile, names: set[str]) -> None:
    if "mimetype" not in names:
        raise InvalidDeckError(
            "The file is not a valid OpenDocument presentation (.odp): it has no mimetype "
            "entry, which every OpenDocument file has. Save it again from LibreOffice "
            "Impress and upload the new file."
        )
    try:
        with archive.open("mimetype") as part:
            mimetype = part.read(200).decode("ascii").strip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, UnicodeDecodeError) as exc:
        raise InvalidDeckError(
            "The presentation's mimetype entry cannot be read. Save it again and upload it."
        ) from exc
    if mimetype == ODP_MIMETYPE:
        return
    family = mimetype.removeprefix("application/vnd.oasis.opendocument.").split("-")[0]
    kind = _OTHER_KINDS.get(family)
    if kind:
        raise InvalidDeckError(f"The file is {kind}, not a presentation.")
    raise InvalidDeckError(
        f"The file is not an OpenDocument presentation (.odp): its mimetype entry says "
        f"{mimetype[:80]!r} instead of {ODP_MIMETYPE!r}."
    )


def _check_not_encrypted(manifest: etree._Element) -> None:
    if manifest.find(".//manifest:encryption-data", ODF) is not None:
        raise InvalidDeckError(
            "This presentation is password-protected; save it without a password "
            "(File ▸ Properties ▸ Security in LibreOffice) and upload it again."
        )


def _hidden_page_styles(content: etree._Element) -> set[str]:
    hidden = set()
    for style in content.iterfind("office:automatic-styles/style:style", ODF):
        properties = style.find("style:drawing-page-properties", ODF)
        visibility = f"{{{ODF['presentation']}}}visibility"
        if properties is not None and properties.get(visibility) == "hidden":
            hidden.add(style.get(f"{{{ODF['style']}}}name"))
    return hidden


def _notes_of(page: etree._Element) -> str:
    notes = page.find("presentation:notes", ODF)
    if notes is None:
        return ""
    lines = []
    for frame in notes.iter(f"{{{ODF['draw']}}}frame"):
        if frame.get(_CLASS) != "notes":
            continue
        for paragraph in _paragraphs(frame):
            # A line break inside a paragraph reads as a space, as in a .pptx's notes.
            line = " ".join(_paragraph_text(paragraph).split())
            if line:
                lines.append(line)
    return "\n".join(lines)


def _title_of(page: etree._Element) -> str:
    """Return the text of the page's title frame, else its first non-empty line."""
    for frame in _outside_notes(page, f"{{{ODF['draw']}}}frame"):
        if frame.get(_CLASS) == "title":
            title = " ".join(_paragraph_text(p) for p in _paragraphs(frame))
            if title.strip():
                return title
    for paragraph in _outside_notes(page, _PARAGRAPH, _HEADING):
        line = next((line for line in _paragraph_text(paragraph).splitlines() if line.strip()), "")
        if line:
            return line
    return ""


def _outside_notes(page: etree._Element, *tags: str):
    for element in page.iter(*tags):
        if not any(ancestor.tag == _NOTES for ancestor in element.iterancestors()):
            yield element


def _paragraphs(element: etree._Element):
    return element.iter(_PARAGRAPH, _HEADING)


def _paragraph_text(paragraph: etree._Element) -> str:
    """Return a text:p's text as shown: spaces expanded, line breaks as newlines."""
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if child.tag == _SPACE:
                count = child.get(f"{{{ODF['text']}}}c", "1")
                parts.append(" " * min(int(count) if count.isdigit() else 1, _MAX_SPACES))
            elif child.tag == _TAB:
                parts.append("\t")
            elif child.tag == _LINE_BREAK:
                parts.append("\n")
            elif child.tag not in _SKIPPED and isinstance(child.tag, str):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(paragraph)
    return "".join(parts)
