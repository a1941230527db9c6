"""A copy of a deck with every reference to the outside removed, made for LibreOffice.

LibreOffice follows linked pictures, linked OLE objects, external data and SVG references
while it renders: to URLs (server-side requests) and to local paths (file reads whose
content would end up in the video). The copy keeps only relationships whose target is a
part inside the package, read the way LibreOffice reads them; every part that is an SVG
picture by its content (whatever its name, gzipped or not) loses every reference that is
not an embedded raster picture; Office packages embedded in the deck get the same
treatment. What was dropped is reported so the job can tell its owner.
"""

from __future__ import annotations

import base64
import binascii
import io
import posixpath
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from media_pipeline.archive import MB
from media_pipeline.opc import (
    MAX_XML_PART_BYTES,
    NS,
    RASTER_MAGIC,
    is_foreign_entry,
    is_internal,
    looks_like_svg,
    resolve_target,
    safe_parser,
)

_HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
_RELATIONSHIP = f"{{{NS['rel']}}}Relationship"
_LINK_KINDS = {
    "image": "a linked picture",
    "oleObject": "a linked OLE object",
    "video": "linked video",
    "audio": "linked audio",
    "media": "linked media",
    "externalData": "linked chart data",
    "package": "a linked embedded file",
}
_RASTER_DATA_URL = re.compile(r"^data:image/(png|jpe?g|gif|webp|bmp)[;,]", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*(?!['\"]?\s*#)", re.IGNORECASE)
_SVG_DROPPED_TAGS = {"script", "foreignObject", "include", "iframe", "audio", "video"}
_GZIP = b"\x1f\x8b"
_EMPTY_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
_EMPTY_RELATIONSHIPS = (
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>'
)
# An Office file embedded in a deck is sanitized in memory: larger ones are left out.
MAX_EMBEDDED_BYTES = 50 * MB
_MAX_EMBEDDED_ENTRIES = 2_000
_HEAD = 64 * 1024
# An Office file embedded in a deck may embed another; deeper than this is dropped.
_MAX_NESTING = 2


@dataclass(frozen=True)
class SanitizedDeck:
    path: Path
    # One line per reference dropped, hyperlinks aside: "a linked picture (http://…)".
    removed_links: tuple[str, ...]


def sanitize_deck(source: Path, out: Path) -> SanitizedDeck:
    """Return a copy of the deck at `out` that refers to nothing outside itself."""
    removed: list[str] = []
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(out, "w") as copy:
        _copy_package(archive, copy, removed, depth=0)
    return SanitizedDeck(out, tuple(removed))


def _copy_package(
    archive: zipfile.ZipFile, copy: zipfile.ZipFile, removed: list[str], *, depth: int
) -> None:
    for info in archive.infolist():
        if is_foreign_entry(info.filename) or info.is_dir():
            continue
        entry = zipfile.ZipInfo(info.filename, info.date_time)
        entry.compress_type = info.compress_type
        entry.external_attr = 0o644 << 16
        if info.filename.lower().endswith(".rels"):
            copy.writestr(entry, _local_relationships(info.filename, archive, removed))
            continue
        replacement = _rewritten_part(archive, info, removed, depth=depth)
        if replacement is not None:
            copy.writestr(entry, replacement)
            continue
        with archive.open(info) as part, copy.open(entry, "w") as target:
            shutil.copyfileobj(part, target, MB)


def _rewritten_part(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, removed: list[str], *, depth: int
) -> bytes | None:
    """Return the part's safe replacement, or None when it can be copied as it is."""
    with archive.open(info) as part:
        head = part.read(_HEAD)
    if head.startswith(_GZIP):
        with archive.open(info) as part:
            head = _gunzip(part.read(MAX_XML_PART_BYTES), limit=_HEAD)
    if looks_like_svg(head):
        return _embedded_svg(info, archive, removed)
    if head.startswith(b"PK\x03\x04"):
        return _embedded_package(info, archive, removed, depth=depth)
    return None


def _local_relationships(rels_name: str, archive: zipfile.ZipFile, removed: list[str]) -> bytes:
    """Return the relationships rebuilt from scratch, keeping only those inside the package."""
    if archive.getinfo(rels_name).file_size > MAX_XML_PART_BYTES:
        removed.append(f"relationships too large to check ({rels_name})")
        return _EMPTY_RELATIONSHIPS
    root = etree.fromstring(archive.read(rels_name), safe_parser())
    owner = _owner_part(rels_name)
    clean = etree.Element(_RELATIONSHIP.replace("Relationship", "Relationships"),
                          nsmap={None: NS["rel"]})  # fmt: skip
    for relationship in root.iter(_RELATIONSHIP):
        target = relationship.get("Target", "")
        kind = relationship.get("Type", "")
        attributes = {"Id": relationship.get("Id", ""), "Type": kind, "Target": target}
        # LibreOffice also reads relationships nested deeper; a package never has them.
        direct = relationship.getparent() is root
        if direct and is_internal(relationship) and resolve_target(owner, target) is not None:
            etree.SubElement(clean, _RELATIONSHIP, attributes)
            continue
        if direct and kind == _HYPERLINK:
            # A hyperlink is only followed when clicked, never while rendering; keeping it
            # keeps the linked text's look.
            etree.SubElement(clean, _RELATIONSHIP, attributes, TargetMode="External")
            continue
        removed.append(f"{_describe(kind)} ({_shorten(target)}) in {owner or 'the package'}")
    return etree.tostring(clean, xml_declaration=True, encoding="UTF-8", standalone=True)


def _owner_part(rels_name: str) -> str:
    # ppt/slides/_rels/slide1.xml.rels describes ppt/slides/slide1.xml; _rels/.rels the package.
    folder = posixpath.dirname(posixpath.dirname(rels_name))
    return posixpath.join(folder, posixpath.basename(rels_name)[: -len(".rels")]).lstrip("/")


def _describe(relationship_type: str) -> str:
    tail = relationship_type.rsplit("/", 1)[-1]
    return _LINK_KINDS.get(tail, f"a linked {tail or 'object'}")


def _gunzip(data: bytes, *, limit: int) -> bytes:
    try:
        return zlib.decompressobj(wbits=31).decompress(data, limit)
    except zlib.error:
        return b""


def _embedded_svg(info: zipfile.ZipInfo, archive: zipfile.ZipFile, removed: list[str]) -> bytes:
    name = info.filename
    with archive.open(info) as part:
        data = part.read(MAX_XML_PART_BYTES + 1)
    if data.startswith(_GZIP):
        data = _gunzip(data, limit=MAX_XML_PART_BYTES + 1)
    if len(data) > MAX_XML_PART_BYTES:
        removed.append(f"an SVG picture too large to check ({name})")
        return _EMPTY_SVG
    try:
        # Drawing programs write styles as internal entities (&st0;): expand those, which
        # libxml2 bounds against amplification; external ones are never loaded.
        root = etree.fromstring(data, _svg_parser())
    except etree.XMLSyntaxError:
        removed.append(f"an unreadable SVG picture ({name})")
        return _EMPTY_SVG
    if etree.QName(root).localname != "svg":
        removed.append(f"an SVG picture whose content is not a picture ({name})")
        return _EMPTY_SVG
    dropped = _strip_svg_references(root)
    removed.extend(f"a reference in the SVG picture {name} ({item})" for item in dropped)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _svg_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities="internal", no_network=True, load_dtd=False, huge_tree=False,
        remove_pis=True, remove_comments=True,
    )  # fmt: skip


def _strip_svg_references(root: etree._Element) -> list[str]:
    dropped: list[str] = []
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local in _SVG_DROPPED_TAGS and element is not root:
            dropped.append(f"<{local}>")
            element.getparent().remove(element)
            continue
        for attribute, value in list(element.attrib.items()):
            is_href = etree.QName(attribute).localname == "href"
            if (is_href and not _embedded_reference(value)) or _CSS_URL.search(value):
                dropped.append(_shorten(value))
                del element.attrib[attribute]
        css = "".join(element.itertext()) if local == "style" else ""
        if "@import" in css or _CSS_URL.search(css):
            dropped.append("a style sheet with external references")
            element.clear()
    return dropped


def _embedded_reference(value: str) -> bool:
    # Fragments point inside the picture; only raster pictures may be embedded as data
    # (an SVG in a data URL would be a second picture, with references of its own), and
    # they are judged by their bytes, as LibreOffice judges them, not by their label.
    value = value.strip()
    if value.startswith("#"):
        return True
    if not _RASTER_DATA_URL.match(value):
        return False
    header, _, payload = value.partition(",")
    try:
        head = base64.b64decode(payload[:64], validate=False) if ";base64" in header else b""
    except (binascii.Error, ValueError):
        return False
    return head.startswith(RASTER_MAGIC)


def _embedded_package(
    info: zipfile.ZipInfo, archive: zipfile.ZipFile, removed: list[str], *, depth: int
) -> bytes:
    """Return an embedded Office file given the same treatment, or nothing in its place.

    LibreOffice shows an embedded object's preview picture when the object itself is
    missing, so whatever cannot be checked within bounds is left out rather than kept.
    """
    name = info.filename
    if info.file_size > MAX_EMBEDDED_BYTES or depth >= _MAX_NESTING:
        removed.append(f"an embedded file too large or nested too deeply to check ({name})")
        return b""
    try:
        inner = zipfile.ZipFile(io.BytesIO(archive.read(info)))
        entries = inner.infolist()
        names = {entry.filename for entry in entries}
        if "mimetype" in names or "[Content_Types].xml" not in names:
            # OpenDocument files keep links in their content, not in relationships.
            raise ValueError("not an Office Open XML package")
        unpacked = sum(entry.file_size for entry in entries)
        if len(entries) > _MAX_EMBEDDED_ENTRIES or unpacked > MAX_EMBEDDED_BYTES:
            raise ValueError("too large to check")
        buffer = io.BytesIO()
        inner_removed: list[str] = []
        with inner, zipfile.ZipFile(buffer, "w") as copy:
            _copy_package(inner, copy, inner_removed, depth=depth + 1)
    except Exception:  # whatever an embedded file does wrong, it is left out
        removed.append(f"an embedded file that could not be checked ({name})")
        return b""
    removed.extend(f"{line}, inside the embedded file {name}" for line in inner_removed)
    return buffer.getvalue()


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
