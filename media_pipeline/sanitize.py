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

import io
import posixpath
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from media_pipeline.opc import (
    MAX_XML_PART_BYTES,
    NS,
    is_foreign_entry,
    is_internal,
    looks_like_markup,
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
_CSS_URL = re.compile(r"url\(\s*['\"]?(?!#)", re.IGNORECASE)
_SVG_DROPPED_TAGS = {"script", "foreignObject", "include", "iframe", "audio", "video"}
_GZIP = b"\x1f\x8b"
_EMPTY_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
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
            shutil.copyfileobj(part, target, 1024 * 1024)


def _rewritten_part(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, removed: list[str], *, depth: int
) -> bytes | None:
    """Return the part's safe replacement, or None when it can be copied as it is."""
    with archive.open(info) as part:
        head = part.read(_HEAD)
    if head.startswith(_GZIP):
        head = _gunzip(archive.read(info), limit=_HEAD)
    if _is_svg(head):
        return _embedded_svg(info, archive, removed)
    if head.startswith(b"PK\x03\x04") and info.file_size <= MAX_XML_PART_BYTES * 5:
        return _embedded_package(info, archive, removed, depth=depth)
    return None


def _local_relationships(rels_name: str, archive: zipfile.ZipFile, removed: list[str]) -> bytes:
    """Return the relationships rebuilt from scratch, keeping only those inside the package."""
    root = etree.fromstring(archive.read(rels_name), safe_parser())
    owner = _owner_part(rels_name)
    clean = etree.Element(_RELATIONSHIP.replace("Relationship", "Relationships"),
                          nsmap={None: NS["rel"]})  # fmt: skip
    for relationship in root.iter(_RELATIONSHIP):
        target = relationship.get("Target", "")
        kind = relationship.get("Type", "")
        direct = relationship.getparent() is root
        if direct and is_internal(relationship) and resolve_target(owner, target) is not None:
            etree.SubElement(
                clean, _RELATIONSHIP, Id=relationship.get("Id", ""), Type=kind, Target=target
            )
        elif kind != _HYPERLINK:
            removed.append(f"{_describe(kind)} ({_shorten(target)}) in {owner or 'the package'}")
    return etree.tostring(clean, xml_declaration=True, encoding="UTF-8", standalone=True)


def _owner_part(rels_name: str) -> str:
    # ppt/slides/_rels/slide1.xml.rels describes ppt/slides/slide1.xml; _rels/.rels the package.
    folder = posixpath.dirname(posixpath.dirname(rels_name))
    return posixpath.join(folder, posixpath.basename(rels_name)[: -len(".rels")]).lstrip("/")


def _describe(relationship_type: str) -> str:
    tail = relationship_type.rsplit("/", 1)[-1]
    return _LINK_KINDS.get(tail, f"a linked {tail or 'object'}")


def _is_svg(head: bytes) -> bool:
    # LibreOffice recognises pictures by their content, not their names: markup with
    # "<svg" near its start is an SVG picture to it, whatever the root element.
    return looks_like_markup(head) and b"<svg" in head.lower()


def _gunzip(data: bytes, *, limit: int) -> bytes:
    try:
        return zlib.decompressobj(wbits=31).decompress(data, limit)
    except zlib.error:
        return b""


def _embedded_svg(info: zipfile.ZipInfo, archive: zipfile.ZipFile, removed: list[str]) -> bytes:
    name = info.filename
    data = archive.read(info)
    if data.startswith(_GZIP):
        data = _gunzip(data, limit=MAX_XML_PART_BYTES + 1)
    if len(data) > MAX_XML_PART_BYTES:
        removed.append(f"an SVG picture too large to check ({name})")
        return _EMPTY_SVG
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError:
        removed.append(f"an unreadable SVG picture ({name})")
        return _EMPTY_SVG
    if etree.QName(root).localname != "svg":
        removed.append(f"an SVG picture whose content is not a picture ({name})")
        return _EMPTY_SVG
    dropped = _strip_svg_references(root)
    removed.extend(f"a reference in the SVG picture {name} ({item})" for item in dropped)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


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
        if local == "style" and element.text and ("@import" in element.text or
                                                   _CSS_URL.search(element.text)):  # fmt: skip
            dropped.append("a style sheet with external references")
            element.text = ""
    return dropped


def _embedded_reference(value: str) -> bool:
    # Fragments point inside the picture; only raster pictures may be embedded as data
    # (an SVG in a data URL would be a second picture, with references of its own).
    value = value.strip()
    return value.startswith("#") or bool(_RASTER_DATA_URL.match(value))


def _embedded_package(
    info: zipfile.ZipInfo, archive: zipfile.ZipFile, removed: list[str], *, depth: int
) -> bytes | None:
    """Return an embedded Office file with the same treatment, or None to copy it as is."""
    data = archive.read(info)
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
        names = set(inner.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        return None  # not an archive LibreOffice can open as a package either
    if "[Content_Types].xml" not in names:
        if "mimetype" in names:
            # OpenDocument links live in its content, not in relationships: LibreOffice
            # shows the object's preview picture instead.
            removed.append(f"an embedded OpenDocument file ({info.filename})")
            return b""
        return None
    if depth >= _MAX_NESTING:
        removed.append(f"an embedded file nested too deeply ({info.filename})")
        return b""
    buffer = io.BytesIO()
    inner_removed: list[str] = []
    try:
        with inner, zipfile.ZipFile(buffer, "w") as copy:
            _copy_package(inner, copy, inner_removed, depth=depth + 1)
    except (zipfile.BadZipFile, zlib.error, etree.XMLSyntaxError, EOFError, ValueError):
        removed.append(f"an unreadable embedded file ({info.filename})")
        return b""
    removed.extend(f"{line}, inside the embedded file {info.filename}" for line in inner_removed)
    return buffer.getvalue()


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
