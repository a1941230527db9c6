"""Decks that refer to content outside themselves, the way attackers build them."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from PIL import Image

from tests.decks import make_deck

MAGENTA = (255, 0, 255)
_SLIDE = "ppt/slides/slide1.xml"
_SLIDE_RELS = "ppt/slides/_rels/slide1.xml.rels"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def magenta_png(path: Path, size: int = 400) -> Path:
    """A picture of one known colour: if any of it reaches a slide, the test sees it."""
    Image.new("RGB", (size, size), MAGENTA).save(path)
    return path


def magenta_share(image: Path) -> float:
    """Return the share of the image's pixels that are (nearly) the canary's magenta."""
    with Image.open(image) as picture:
        pixels = list(picture.convert("RGB").getdata())
    hits = sum(1 for r, g, b in pixels if r > 200 and g < 80 and b > 200)
    return hits / len(pixels)


def _rewrite(source: Path, out: Path, changes: dict[str, bytes], extra: dict[str, bytes]):
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w") as copy:
        for info in original.infolist():
            data = changes.get(info.filename, original.read(info.filename))
            copy.writestr(info.filename, data, zipfile.ZIP_DEFLATED)
        for name, data in extra.items():
            copy.writestr(name, data, zipfile.ZIP_DEFLATED)
    return out


def _one_slide(tmp: Path) -> Path:
    return make_deck(tmp, [("Linked content", "This slide links to something outside itself.")])


def _add(slide_xml: bytes, shape: str) -> bytes:
    return slide_xml.replace(b"</p:spTree>", shape.encode() + b"</p:spTree>", 1)


def _add_rel(rels_xml: bytes, rel_id: str, kind: str, target: str, external: bool) -> bytes:
    mode = ' TargetMode="External"' if external else ""
    rel = f'<Relationship Id="{rel_id}" Type="{_REL}/{kind}" Target="{target}"{mode}/>'
    return rels_xml.replace(b"</Relationships>", rel.encode() + b"</Relationships>", 1)


def _picture(rel_attr: str) -> str:
    return (
        '<p:pic><p:nvPicPr><p:cNvPr id="90" name="Canary"/><p:cNvPicPr/><p:nvPr/></p:nvPicPr>'
        f"<p:blipFill><a:blip {rel_attr}/><a:stretch><a:fillRect/></a:stretch></p:blipFill>"
        '<p:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="12192000" cy="6858000"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:pic>'
    )


def make_linked_picture_deck(path: Path, target: str) -> Path:
    """A slide covered by a picture that is linked (not embedded) to `target`."""
    shape = _picture('r:link="rIdCanary"')
    return _slide_with(path, shape, ("rIdCanary", "image", target, True))


def make_internal_uri_picture_deck(path: Path, target: str) -> Path:
    """A picture 'embedded' from a part whose name is an absolute URI (no TargetMode)."""
    shape = _picture('r:embed="rIdCanary"')
    return _slide_with(path, shape, ("rIdCanary", "image", target, False))


def make_linked_ole_deck(path: Path, target: str) -> Path:
    """A slide with an OLE object linked to `target`, set to update automatically."""
    frame = (
        '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="91" name="Linked object"/>'
        "<p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr>"
        '<p:xfrm><a:off x="0" y="0"/><a:ext cx="6000000" cy="4000000"/></p:xfrm>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/presentationml/2006/ole">'
        '<p:oleObj name="Sheet" r:id="rIdOle" imgW="6000000" imgH="4000000" '
        'progId="Excel.Sheet.12">'
        '<p:link updateAutomatic="1"/></p:oleObj></a:graphicData></a:graphic></p:graphicFrame>'
    )
    return _slide_with(path, frame, ("rIdOle", "oleObject", target, True))


def make_svg_reference_deck(path: Path, referenced: str) -> Path:
    """A slide covered by an embedded SVG picture whose <image> points at `referenced`."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="1920" height="1080" viewBox="0 0 1920 1080">'
        f'<image x="0" y="0" width="1920" height="1080" href="{referenced}" '
        f'xlink:href="{referenced}"/></svg>'
    )
    return _slide_with(
        path,
        _picture('r:embed="rIdSvg"'),
        ("rIdSvg", "image", "../media/canary.svg", False),
        extra={"ppt/media/canary.svg": svg.encode()},
    )


def _slide_with(
    path: Path,
    shape: str,
    relationship: tuple[str, str, str, bool],
    *,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Write a one-slide deck with `shape` added and the relationship (id, kind, target,
    external) it uses; `extra` parts are added, and SVG gets its content type."""
    source = _one_slide(path.with_suffix(".base.pptx"))
    with zipfile.ZipFile(source) as deck:
        slide, rels = deck.read(_SLIDE), deck.read(_SLIDE_RELS)
        types = deck.read("[Content_Types].xml")
    rel_id, kind, target, external = relationship
    changes = {
        _SLIDE: _add(slide, shape),
        _SLIDE_RELS: _add_rel(rels, rel_id, kind, target, external=external),
    }
    if extra and any(name.endswith(".svg") for name in extra) and b'Extension="svg"' not in types:
        changes["[Content_Types].xml"] = re.sub(
            rb"(<Types[^>]*>)",
            rb'\1<Default Extension="svg" ContentType="image/svg+xml"/>',
            types,
            count=1,
        )
    return _rewrite(source, path, changes, extra or {})
