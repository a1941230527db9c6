"""Content keys: a hash of everything that shapes a slide's audio, image or encoded keyframe.

Two slides with the same key make the same bytes, so a key found in the cache means the
work can be skipped. A key must change whenever anything that changes the output changes,
so each one hashes the inputs themselves plus a version of the code and programs that turn
them into output; bump a `*_FORMAT` constant when that code changes what it makes.

* audio: the notes as spoken (Unicode NFC, runs of whitespace made one space), the engine,
  the voice (for a cloning engine, the reference recording's bytes), the engine's model
  version (package version and the model file's hash), and every narration option
  (speaking rate, padding, pauses, frame rate, lexicon, language).
* slide image: for a .pptx, the slide's XML and every part it reaches through its
  relationships (layout, master, theme, pictures, charts, embedded objects) except its notes
  and links to other slides, the deck-wide parts that change how any slide looks (slide
  size, fonts, table styles), the content types of the parts reached, and the slide's
  position (slide-number fields); for an .odp, the deck with its notes left out, and the
  page; for a PDF, the file and the page. Plus the render settings (size, renderer versions).
* keyframe: the slide image's bytes and the encoder settings.
* spoken piece (one sentence, or part of a long one, inside a slide's audio): the text
  the engine was given (after the lexicon), the engine, the voice, the model version, the
  speaking rate and the language; what surrounds it (pauses, padding) is not in the piece.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, is_dataclass
from fractions import Fraction
from pathlib import Path

from lxml import etree

from media_pipeline.opc import NS, Package, safe_parser

AUDIO_FORMAT = 1
IMAGE_FORMAT = 3
KEYFRAME_FORMAT = 1
PIECE_FORMAT = 1

# Relationships that do not change how a slide looks: its notes, links to other slides.
_NOT_RENDERED = (
    "/notesSlide",
    "/slide",
    "/hyperlink",
    "/comments",
    "/commentAuthors",
    "/tags",
)
_PRESENTATION = "ppt/presentation.xml"
_DECK_WIDE_PARTS = ("ppt/tableStyles.xml", "ppt/presProps.xml")
_CONTENT_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# What an .odp holds that never shows on a slide, and that changes each time it is saved.
_ODP_UNRENDERED = ("meta.xml", "settings.xml", "Thumbnails/", "Configurations2/")
_ODP_NOTES = "{urn:oasis:names:tc:opendocument:xmlns:presentation:1.0}notes"
_WHITESPACE = re.compile(r"\s+")
_CHUNK = 1024 * 1024


def digest(*parts: object) -> str:
    """Return the SHA-256 (hex) of the parts, each written as canonical JSON or raw bytes."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else _canonical(part).encode()
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()


def file_digest(path: Path) -> str:
    """Return the SHA-256 (hex) of a file's bytes, read in chunks."""
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


@functools.lru_cache(maxsize=32)
def _package_version(package: str) -> str:
    # Looking it up scans the installed packages (about 40 ms); it changes only on restart.
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=32)
def _files_digest(paths: tuple[Path, ...], stamps: tuple[tuple[int, int], ...]) -> str:
    # Keyed by size and mtime as well: a model replaced in place is hashed again.
    return "+".join(file_digest(path)[:16] for path in paths)


def model_files_version(package: str, paths: Sequence[Path]) -> str:
    """The package's version and the model files' hashes (each file hashed once per process)."""
    version = _package_version(package)
    stamps = tuple((path.stat().st_size, path.stat().st_mtime_ns) for path in paths)
    return f"{package} {version}; {_files_digest(tuple(paths), stamps)}"


def program_stamp(path: str) -> tuple[str, int, int]:
    """What tells one build of a program from another: its path, size and modification time."""
    stat = Path(path).stat()
    return path, stat.st_size, stat.st_mtime_ns


def spoken_text(notes: str) -> str:
    """The notes as they reach the speech engine: edits to spacing alone change nothing."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", notes)).strip()


def piece_key(
    said: str, *, engine: str, voice_identity: str, model_version: str, speaking_rate: float,
    language: str,
) -> str:  # fmt: skip
    """Return the key of one spoken piece: the same text said the same way sounds the same."""
    return digest(
        "piece", PIECE_FORMAT, said, engine, voice_identity, model_version, speaking_rate, language
    )


def audio_key(
    notes: str, *, engine: str, voice_identity: str, model_version: str, options: object
) -> str:
    """Return the key of a slide's narration.

    `voice_identity` names the voice, or for a cloning engine is the hash of the reference
    recording; `options` is the NarrationOptions dataclass.
    """
    return digest(
        "audio", AUDIO_FORMAT, spoken_text(notes), engine, voice_identity, model_version, options
    )


def keyframe_key(image_digest: str, settings: object) -> str:
    """Return the key of one slide image's encoded keyframe under these encoder settings."""
    return digest("keyframe", KEYFRAME_FORMAT, image_digest, settings)


def slide_image_keys(
    path: Path, kind: str, slide_numbers: Sequence[int], render_settings: object
) -> list[str]:
    """Return one key per shown slide (`slide_numbers`: positions in the deck as authored).

    The deck must have passed its checks (media_pipeline.deck_kinds.check_deck): its parts
    are read here under those limits.
    """
    if kind == "pdf":
        whole = file_digest(path)
        return [
            digest("image", IMAGE_FORMAT, "pdf", whole, n, render_settings) for n in slide_numbers
        ]
    if kind == "odp":
        whole = _odp_digest_without_notes(path)
        return [
            digest("image", IMAGE_FORMAT, "odp", whole, n, render_settings) for n in slide_numbers
        ]
    return _pptx_slide_keys(path, slide_numbers, render_settings)


def _pptx_slide_keys(path: Path, slide_numbers: Sequence[int], render_settings: object) -> list:
    with zipfile.ZipFile(path) as archive:
        package = Package(archive, max_xml_depth=100)
        relationships = package.relationships(_PRESENTATION)
        presentation = package.xml(_PRESENTATION)
        slide_parts = []
        for entry in presentation.findall("p:sldIdLst/p:sldId", NS):
            relationship = relationships.get(entry.get(f"{{{NS['r']}}}id", ""))
            slide_parts.append(relationship.part if relationship else None)
        # The list of slides is the slides' own business: adding one must not change the rest.
        for listed in presentation.findall("p:sldIdLst", NS):
            presentation.remove(listed)
        deck_wide = [etree.tostring(presentation, method="c14n")]
        deck_wide += [
            _part_digest(archive, rel.part)
            for rel in sorted(relationships.values(), key=lambda rel: rel.id)
            if rel.part and rel.type.endswith("/font") and package.has(rel.part)
        ]
        deck_wide += [archive.read(name) for name in _DECK_WIDE_PARTS if package.has(name)]
        shared = digest(*deck_wide)
        content_type = _content_types(archive)
        # Slides share their layouts, masters and themes: each part is read once per deck.
        shown_links = functools.cache(lambda name: _shown_links(package, name))

        # A part's content type says how it is read: each reached part's is in its key.
        @functools.cache
        def part_entry(name: str, links: tuple) -> str:
            return digest(name, content_type(name), links, _part_digest(archive, name))

        settings = digest(render_settings)
        keys = []
        for number in slide_numbers:
            part = slide_parts[number - 1]
            parts = [part_entry(name, links) for name, links in _reachable_parts(part, shown_links)]
            keys.append(digest("image", IMAGE_FORMAT, "pptx", shared, number, parts, settings))
    return keys


def _shown_links(package: Package, part: str) -> tuple:
    """The part's relationships that change how it looks, in id order."""
    return tuple(
        (rel.id, rel.type, rel.part)
        for rel in sorted(package.relationships(part).values(), key=lambda r: r.id)
        if not rel.type.endswith(_NOT_RENDERED) and (rel.part is None or package.has(rel.part))
    )


def _reachable_parts(start: str, shown_links) -> list[tuple[str, tuple]]:
    """The parts a slide shows, each with its relationships, in a stable order."""
    seen, order, stack = {start}, [], [start]
    while stack:
        part = stack.pop()
        links = shown_links(part)
        order.append((part, links))
        for _, _, target in links:
            if target is not None and target not in seen:
                seen.add(target)
                stack.append(target)
    return order


def _content_types(archive: zipfile.ZipFile):
    root = etree.fromstring(archive.read("[Content_Types].xml"), safe_parser())
    overrides = {
        element.get("PartName", "").lstrip("/"): element.get("ContentType")
        for element in root.iter(f"{_CONTENT_TYPES}Override")
    }
    defaults = {
        element.get("Extension", "").lower(): element.get("ContentType")
        for element in root.iter(f"{_CONTENT_TYPES}Default")
    }
    return lambda name: overrides.get(name) or defaults.get(name.rsplit(".", 1)[-1].lower())


def _part_digest(archive: zipfile.ZipFile, name: str) -> str:
    hasher = hashlib.sha256()
    with archive.open(name) as part:
        while chunk := part.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _odp_digest_without_notes(path: Path) -> str:
    parts = []
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            if name.startswith(_ODP_UNRENDERED):
                continue
            if name == "content.xml":
                root = etree.fromstring(archive.read(name), safe_parser())
                for notes in list(root.iter(_ODP_NOTES)):
                    notes.getparent().remove(notes)
                parts.append((name, digest(etree.tostring(root, method="c14n"))))
            else:
                parts.append((name, _part_digest(archive, name)))
    return digest(parts)


def _canonical(value: object) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__name__, **_plain(asdict(value))}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, Iterable) and not isinstance(value, str):
        return [_plain(item) for item in value]
    return value
