"""A copy of a deck with every reference to the outside removed, made for LibreOffice.

LibreOffice follows linked pictures, linked OLE objects, external data and SVG references
while it renders: to URLs (server-side requests) and to local paths (file reads whose
content would end up in the video). The copy keeps only relationships whose target is a
part inside the package, and SVG pictures lose every reference that is not embedded data.
What was dropped is reported so the job can tell its owner.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from media_pipeline.opc import NS, is_foreign_entry, resolve_target

_HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
_LINK_KINDS = {
    "image": "a linked picture",
    "oleObject": "a linked OLE object",
    "video": "linked video",
    "audio": "linked audio",
    "media": "linked media",
    "externalData": "linked chart data",
    "package": "a linked embedded file",
}
_EXTERNAL_URL = re.compile(r"url\(\s*['\"]?(?!#|data:)", re.IGNORECASE)
_SVG_DROPPED_TAGS = {"script", "foreignObject", "include", "iframe", "audio", "video"}
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class SanitizedDeck:
    path: Path
    # One line per reference dropped, hyperlinks aside: "a linked picture (http://…)".
    removed_links: tuple[str, ...]


def sanitize_deck(source: Path, out: Path) -> SanitizedDeck:
    """Return a copy of the deck at `out` that refers to nothing outside itself."""
    removed: list[str] = []
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(out, "w") as copy:
        for info in archive.infolist():
            if is_foreign_entry(info.filename):
                continue
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            entry.compress_type = info.compress_type
            entry.external_attr = 0o644 << 16
            name = info.filename.lower()
            if name.endswith(".rels"):
                copy.writestr(entry, _local_relationships(info.filename, archive, removed))
            elif name.endswith(".svg"):
                copy.writestr(entry, _embedded_svg(info.filename, archive, removed))
            else:
                with archive.open(info) as part, copy.open(entry, "w") as target:
                    shutil.copyfileobj(part, target, 1024 * 1024)
    return SanitizedDeck(out, tuple(removed))


def _local_relationships(rels_name: str, archive: zipfile.ZipFile, removed: list[str]) -> bytes:
    root = etree.fromstring(archive.read(rels_name), _SAFE_PARSER)
    owner = _owner_part(rels_name)
    for relationship in list(root.iterfind("rel:Relationship", NS)):
        target = relationship.get("Target", "")
        internal = relationship.get("TargetMode") != "External"
        if internal and resolve_target(owner, target) is not None:
            continue
        root.remove(relationship)
        kind = relationship.get("Type", "")
        if kind != _HYPERLINK:
            removed.append(f"{_describe(kind)} ({_shorten(target)}) in {owner or 'the package'}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _owner_part(rels_name: str) -> str:
    # ppt/slides/_rels/slide1.xml.rels describes ppt/slides/slide1.xml; _rels/.rels the package.
    folder = posixpath.dirname(posixpath.dirname(rels_name))
    return posixpath.join(folder, posixpath.basename(rels_name)[: -len(".rels")]).lstrip("/")


def _describe(relationship_type: str) -> str:
    tail = relationship_type.rsplit("/", 1)[-1]
    return _LINK_KINDS.get(tail, f"a linked {tail or 'object'}")


def _embedded_svg(name: str, archive: zipfile.ZipFile, removed: list[str]) -> bytes:
    try:
        root = etree.fromstring(archive.read(name), _SAFE_PARSER)
    except etree.XMLSyntaxError:
        removed.append(f"an unreadable SVG picture ({name})")
        return b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    dropped: list[str] = []
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        if etree.QName(element).localname in _SVG_DROPPED_TAGS:
            dropped.append(f"<{etree.QName(element).localname}>")
            element.getparent().remove(element)
            continue
        for attribute, value in list(element.attrib.items()):
            local = etree.QName(attribute).localname
            is_reference = local == "href" and not value.startswith(("#", "data:"))
            if is_reference or _EXTERNAL_URL.search(value):
                dropped.append(_shorten(value))
                del element.attrib[attribute]
        if etree.QName(element).localname == "style" and _mentions_outside(element.text):
            dropped.append("a style sheet with external references")
            element.text = ""
    removed.extend(f"a reference in the SVG picture {name} ({item})" for item in dropped)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _mentions_outside(css: str | None) -> bool:
    return bool(css) and ("@import" in css or bool(_EXTERNAL_URL.search(css)))


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
