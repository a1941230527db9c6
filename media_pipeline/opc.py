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
# The largest slide PowerPoint writes with thousands of shapes is a few MB of XML.
MAX_XML_PART_BYTES = 50 * MB
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
    """The parts of an opened .pptx, parsed on demand and kept for the life of the object."""

    def __init__(self, archive: zipfile.ZipFile, *, max_xml_depth: int) -> None:
        self.archive = archive
        self.max_xml_depth = max_xml_depth
        self._names = set(archive.namelist())
        self._parsed: dict[str, etree._Element] = {}

    def has(self, name: str) -> bool:
        return name in self._names

    def check_all_xml(self) -> None:
        """Parse every XML part once, so that none reaches LibreOffice malformed or hostile."""
        for name in sorted(self._names):
            if name.lower().endswith(XML_SUFFIXES) and not is_foreign_entry(name):
                self._parse(name)

    def xml(self, name: str) -> etree._Element:
        if name not in self._parsed:
            if not self.has(name):
                raise InvalidDeckError(
                    f"The deck is incomplete: the part {name} is missing. Save the deck "
                    "again and upload the new file."
                )
            self._parsed[name] = self._parse(name)
        return self._parsed[name]

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
            external = element.get("TargetMode") == "External"
            found[element.get("Id", "")] = Relationship(
                id=element.get("Id", ""),
                type=element.get("Type", ""),
                target=target,
                part=None if external else resolve_target(part, target),
            )
        return found

    def _parse(self, name: str) -> etree._Element:
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
        return _parse_bounded(name, data, self.max_xml_depth)


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


def _parse_bounded(name: str, data: bytes, max_depth: int) -> etree._Element:
    depth = deepest = 0
    root = None
    try:
        for event, element in etree.iterparse(
            BytesIO(data),
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        ):
            if event == "start":
                depth += 1
                deepest = max(deepest, depth)
                if depth > max_depth:
                    raise _too_deep(name, max_depth)
                root = root if root is not None else element
            else:
                depth -= 1
    except etree.XMLSyntaxError as exc:
        if "depth" in str(exc).lower():
            raise _too_deep(name, max_depth) from exc
        raise InvalidDeckError(
            f"The part {name} is not well-formed XML (line {exc.lineno or '?'}). The deck "
            "is damaged: save it again and upload the new file."
        ) from exc
    if root is None:
        raise InvalidDeckError(f"The part {name} is not well-formed XML: it is empty.")
    return root


def _too_deep(name: str, max_depth: int) -> InvalidDeckError:
    return InvalidDeckError(
        f"The part {name} is nested more than {max_depth} levels deep (groups within "
        "groups); PowerPoint decks are far flatter. Ungroup the shapes and upload it again."
    )
