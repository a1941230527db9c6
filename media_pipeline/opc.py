"""Reading an Office Open XML package (a .pptx) safely: its XML parts and relationships.

Every XML part is parsed without DTDs, entities or network access, with a size and a
nesting limit, so that a hostile part costs bounded memory here and never reaches
LibreOffice's own parser.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from io import BytesIO
from urllib.parse import unquote

from lxml import etree

from media_pipeline.archive import MB, size_text
from media_pipeline.errors import InvalidDeckError

NS = {
    "p": "http://schemas.openxmlformats.org/presentationml/2006/main",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
REL_NOTES_SLIDE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/notesSlide"
XML_SUFFIXES = (".xml", ".rels", ".vml")
# The largest slide PowerPoint writes with thousands of shapes is a few MB of XML, with
# some tens of thousands of elements; these bound what parsing one part may cost (the
# element count applies to the parts read into a tree: presentation, relationships, notes).
MAX_XML_PART_BYTES = 20 * MB
MAX_XML_ELEMENTS = 250_000
_HEAD_BYTES = 64 * 1024
_SAFE = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}

_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY", b"<\x00!\x00D\x00O\x00C\x00")


@dataclass(frozen=True)
class Relationship:
    id: str
    type: str
    target: str
    # The package part it points at, or None when it points outside the package.
    part: str | None


class Package:
    """The parts of an opened .pptx, checked once and parsed again each time they are read.

    Parsed trees are never kept: memory stays at one part's worth however many slides
    the deck has.
    """

    def __init__(self, archive: zipfile.ZipFile, *, max_xml_depth: int) -> None:
        self.archive = archive
        self.max_xml_depth = max_xml_depth
        self._names = set(archive.namelist())

    def has(self, name: str) -> bool:
        return name in self._names

    def check_all_xml(self) -> None:
        """Scan every XML part, so that none reaches LibreOffice malformed or hostile.

        LibreOffice reads a part as XML whatever its name, so any part that looks like text
        markup is scanned; SVG pictures are left to the sanitizer, which rewrites them.
        """
        for name in sorted(self._names):
            if is_foreign_entry(name):
                continue
            by_name = name.lower().endswith(XML_SUFFIXES)
            data = self._bounded_read(name) if by_name else self._head(name)
            if not by_name and (not looks_like_markup(data) or looks_like_svg(data)):
                continue
            data = data if by_name else self._bounded_read(name)
            _scan(name, data, self.max_xml_depth)
            if name.endswith(".rels"):
                self._check_relationship_ids(name, data)

    def xml(self, name: str) -> etree._Element:
        if not self.has(name):
            raise InvalidDeckError(
                f"The deck is incomplete: the part {name} is missing. Save the deck "
                "again and upload the new file."
            )
        data = self._bounded_read(name)
        # A part read into a tree here costs memory per element: those are bounded too.
        _scan(name, data, self.max_xml_depth, max_elements=MAX_XML_ELEMENTS)
        return etree.fromstring(data, safe_parser())

    def root_attribute(self, name: str, attribute: str) -> str | None:
        """Return an attribute of a part's root element, reading no further than that."""
        events = etree.iterparse(BytesIO(self._bounded_read(name)), events=("start",), **_SAFE)
        try:
            _, root = next(events)
        except (StopIteration, etree.XMLSyntaxError) as exc:
            raise _malformed(name, exc) from exc
        return root.get(attribute)

    def rels_name(self, part: str) -> str:
        folder, file_name = posixpath.split(part)
        return posixpath.join(folder, "_rels", f"{file_name}.rels")

    def relationships(self, part: str) -> dict[str, Relationship]:
        """Return the part's relationships by id (none when it has no .rels part)."""
        rels = self.rels_name(part)
        if not self.has(rels):
            return {}
        found = {}
        for element in self.xml(rels).iterfind("rel:Relationship", NS):
            target = element.get("Target", "")
            found[element.get("Id", "")] = Relationship(
                id=element.get("Id", ""),
                type=element.get("Type", ""),
                target=target,
                part=resolve_target(part, target) if is_internal(element) else None,
            )
        return found

    def _check_relationship_ids(self, name: str, data: bytes) -> None:
        # LibreOffice keeps the first of two relationships with one id, Python the last:
        # such a file would show different slides from the notes read here.
        root = etree.fromstring(data, safe_parser())
        ids = [element.get("Id") for element in root.iter(f"{{{NS['rel']}}}Relationship")]
        if len(ids) != len(set(ids)):
            duplicate = next(rel_id for rel_id in ids if ids.count(rel_id) > 1)
            raise InvalidDeckError(
                f"The part {name} defines the relationship {duplicate!r} more than once. The "
                "deck is damaged: save it again and upload the new file."
            )

    def _head(self, name: str) -> bytes:
        with self.archive.open(name) as part:
            return part.read(_HEAD_BYTES)

    def _bounded_read(self, name: str) -> bytes:
        info = self.archive.getinfo(name)
        if info.file_size > MAX_XML_PART_BYTES:
            raise InvalidDeckError(
                f"The part {name} is {size_text(info.file_size)} of XML; parts of a deck may "
                f"be at most {size_text(MAX_XML_PART_BYTES)}."
            )
        data = self.archive.read(name)
        if any(marker in data for marker in _DTD_MARKERS):
            raise InvalidDeckError(
                f"The part {name} contains a DTD (document type or entity declarations), "
                "which PowerPoint never writes and which can hide attacks. Save the deck "
                "from PowerPoint and upload it again."
            )
        return data


def safe_parser() -> etree.XMLParser:
    """A parser that loads no DTD, expands no entity and opens no URL (one per use)."""
    return etree.XMLParser(**_SAFE)


def is_internal(relationship: etree._Element) -> bool:
    """True when a relationship targets a package part (LibreOffice's reading of TargetMode).

    LibreOffice treats every TargetMode but "Internal" as external, so anything else is.
    """
    return relationship.get("TargetMode", "Internal") == "Internal"


def looks_like_markup(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        return True  # UTF-16, which XML parsers (LibreOffice's too) read as well as UTF-8
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


RASTER_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")


def looks_like_svg(data: bytes) -> bool:
    """True when LibreOffice would take the part for an SVG picture.

    It looks for "<svg" in the first bytes, whatever the encoding around it, so any part
    that is not a known raster picture and holds those bytes early counts.
    """
    head = data[:_HEAD_BYTES]
    if head.startswith(RASTER_MAGIC):
        return False
    if b"<svg" in head[:4096].lower():
        return True
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        return "<svg" in head.decode("utf-16", "ignore").lower()
    return looks_like_markup(head) and b"<svg" in head.lower()


def is_foreign_entry(name: str) -> bool:
    """True for files a ZIP tool added that are no part of the deck (macOS resource forks)."""
    return name.startswith("__MACOSX/")


def resolve_target(source_part: str, target: str) -> str | None:
    """Return the part a relationship target names, or None when it leaves the package."""
    if not target or _URI_SCHEME.match(target) or target.startswith("//"):
        return None
    target = unquote(target.split("#", 1)[0])
    if target.startswith("/"):
        joined = target.lstrip("/")
    else:
        joined = posixpath.join(posixpath.dirname(source_part), target)
    normal = posixpath.normpath(joined)
    if normal in (".", "..") or normal.startswith("../") or normal.startswith("/"):
        return None
    return normal


def _scan(name: str, data: bytes, max_depth: int, *, max_elements: int | None = None) -> None:
    """Parse a part as a stream, in constant memory, checking nesting (and element count)."""
    depth = elements = 0
    try:
        for event, element in etree.iterparse(BytesIO(data), events=("start", "end"), **_SAFE):
            if event == "start":
                depth += 1
                elements += 1
                if depth > max_depth:
                    raise _too_deep(name, max_depth)
                if max_elements is not None and elements > max_elements:
                    raise InvalidDeckError(
                        f"The part {name} has more than {max_elements:,} XML elements; a deck "
                        "that busy cannot be read. Simplify it and upload it again."
                    )
                continue
            depth -= 1
            element.clear()
            parent = element.getparent()
            # Siblings already seen are dropped; comments or instructions before the root
            # have no parent to drop them from.
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        if "depth" in str(exc).lower():
            raise _too_deep(name, max_depth) from exc
        raise _malformed(name, exc) from exc
    if elements == 0:
        raise InvalidDeckError(f"The part {name} is not well-formed XML: it is empty.")


def _malformed(name: str, exc: Exception) -> InvalidDeckError:
    line = getattr(exc, "lineno", None) or "?"
    return InvalidDeckError(
        f"The part {name} is not well-formed XML (line {line}). The deck is damaged: save "
        "it again and upload the new file."
    )


def _too_deep(name: str, max_depth: int) -> InvalidDeckError:
    return InvalidDeckError(
        f"The part {name} is nested more than {max_depth} levels deep (groups within "
        "groups); PowerPoint decks are far flatter. Ungroup the shapes and upload it again."
    )
