"""A copy of an OpenDocument presentation with every reference to the outside removed.

An .odp names what it links to in xlink:href attributes (pictures, embedded objects,
floating frames, fonts, linked sections) and DDE links; LibreOffice follows them while it
renders. The copy keeps only references to parts inside the package, and hyperlinks, which
are followed only when clicked. Pictures and embedded Office files get the treatment a
.pptx gets (media_pipeline.sanitize). What was dropped is reported.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import zipfile
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from media_pipeline.archive import MB
from media_pipeline.odp_deck import ODF
from media_pipeline.opc import (
    XML_SUFFIXES,
    Package,
    is_foreign_entry,
    looks_like_markup,
    looks_like_svg,
)
from media_pipeline.sanitize import SanitizedDeck, _rewritten_part, _shorten

# Followed only when someone clicks them in a slideshow, never while rendering.
_HYPERLINKS = {
    f"{{{ODF['text']}}}a",
    f"{{{ODF['draw']}}}a",
    f"{{{ODF['office']}}}event-listener",
    f"{{{ODF['presentation']}}}event-listener",
    "{urn:oasis:names:tc:opendocument:xmlns:script:1.0}event-listener",
}
# Links to other applications' data, refreshed when the document loads.
_DDE = {
    f"{{{ODF['office']}}}dde-source",
    f"{{{ODF['text']}}}dde-connection-decl",
    "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}dde-link",
}
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# LibreOffice's own names for parts of the package it is reading.
_PACKAGE_SCHEMES = ("vnd.sun.star.Package:", "vnd.sun.star.GraphicObject:")
_HEAD = 64 * 1024


def sanitize_odp(source: Path, out: Path, *, max_xml_depth: int = 100) -> SanitizedDeck:
    """Return a copy of the presentation at `out` that refers to nothing outside itself."""
    removed: list[str] = []
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(out, "w") as copy:
        package = Package(archive, max_xml_depth=max_xml_depth)
        # OpenDocument readers expect the mimetype first, stored, as the format requires.
        infos = sorted(archive.infolist(), key=lambda info: info.filename != "mimetype")
        for info in infos:
            if is_foreign_entry(info.filename):
                continue
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            entry.compress_type = (
                zipfile.ZIP_STORED if info.filename == "mimetype" else info.compress_type
            )
            entry.external_attr = (0o755 if info.is_dir() else 0o644) << 16
            if info.is_dir():
                copy.writestr(entry, b"")
                continue
            replacement = _replacement(package, info, removed)
            if replacement is not None:
                copy.writestr(entry, replacement)
                continue
            with archive.open(info) as part, copy.open(entry, "w") as target:
                shutil.copyfileobj(part, target, MB)
    return SanitizedDeck(out, tuple(removed))


def _replacement(package: Package, info: zipfile.ZipInfo, removed: list[str]) -> bytes | None:
    """Return the part's safe replacement, or None when it can be copied as it is."""
    name = info.filename
    if name == "mimetype":
        return None
    with package.archive.open(info) as part:
        head = part.read(_HEAD)
    by_name = name.lower().endswith(XML_SUFFIXES)
    if by_name or (looks_like_markup(head) and not looks_like_svg(head)):
        return _local_xml(package, name, removed)
    return _rewritten_part(package.archive, info, removed, depth=0)


def _local_xml(package: Package, name: str, removed: list[str]) -> bytes | None:
    root = package.xml(name)
    found: list[str] = []
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        if element.tag in _DDE:
            found.append(f"a DDE link ({etree.QName(element).localname}) in {name}")
            element.getparent().remove(element)
            continue
        if element.tag in _HYPERLINKS:
            continue
        for attribute, value in list(element.attrib.items()):
            if etree.QName(attribute).localname == "href" and not _is_internal(value):
                kind = etree.QName(element).localname
                found.append(f"a linked {kind} ({_shorten(value)}) in {name}")
                del element.attrib[attribute]
    if not found:
        return None
    removed.extend(found)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _is_internal(value: str) -> bool:
    """True when a reference names a part of the package (or a place in the document)."""
    value = unquote(value.strip())
    if value.startswith("#"):
        return True
    for scheme in _PACKAGE_SCHEMES:
        if value.startswith(scheme):
            value = value[len(scheme) :]
            break
    else:
        if _URI_SCHEME.match(value):
            return False
    if not value or value.startswith(("/", "\\")) or "\\" in value or "\0" in value:
        return False
    normal = posixpath.normpath(value)
    return normal != ".." and not normal.startswith("../")
