"""Hostile and broken uploads, built in code at test time, each with the outcome it must get.

A case writes one file into a folder and says what must happen to it: `Refused` (validation
fails with a message containing each phrase) or `Rendered` (the job completes with that many
visible slides and, if `warning` is set, stores a warning containing it). Decks start from
python-pptx (`tests.decks.make_deck`); what python-pptx would never write is done afterwards,
on the parts (lxml, bytes) or on the ZIP records themselves, with a small writer that lets any
header field lie. Every file is small on disk; the one over the size limit is sparse.

A case's name is the name of the function that builds it.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from PIL import Image
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches

from tests.decks import make_deck


@dataclass(frozen=True)
class Refused:
    """Validation fails with a message that contains each phrase."""

    contains: tuple[str, ...]


@dataclass(frozen=True)
class Rendered:
    """The job completes with this many slides; `warning` is part of a stored warning, or None."""

    slides: int
    warning: str | None = None


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]  # writes the file into the given folder, returns its path
    expect: Refused | Rendered


CASES: list[Case] = []

MB = 1024 * 1024
NS = {
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "p": "http://schemas.openxmlformats.org/presentationml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
}
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
CT_SLIDE = "application/vnd.openxmlformats-officedocument.presentationml.slide+xml"
PRESENTATION = "ppt/presentation.xml"
PRESENTATION_RELS = "ppt/_rels/presentation.xml.rels"
SLIDE1 = "ppt/slides/slide1.xml"
NOTES1 = "ppt/notesSlides/notesSlide1.xml"
ONE_SLIDE = [("A slide", "Narration for the slide.")]
TWO_SLIDES = [("First", "The first slide."), ("Second", "The second slide.")]
LOCAL_PORT = "http://127.0.0.1:9"  # the discard port: nothing may ever fetch from it
# What a refusal must never show a user: the Python, zlib or lxml error underneath it.
INTERNALS = ("Traceback", "zlib", "Error -3", "BadZipFile", "KeyError", "lxml", "Errno")


def _writer(name: str, make: Callable[[Path], bytes]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / f"{name}.pptx"
        path.write_bytes(make(folder))
        return path

    return build


def _register(expect: Refused | Rendered) -> Callable:
    def register(make: Callable[[Path], bytes]) -> Callable[[Path], bytes]:
        CASES.append(Case(make.__name__, _writer(make.__name__, make), expect))
        return make

    return register


def refused(*contains: str) -> Callable:
    """Register the decorated `folder -> bytes` function as a case that must be refused."""
    return _register(Refused(contains))


def rendered(slides: int, warning: str | None = None) -> Callable:
    """Register the decorated `folder -> bytes` function as a case that must render."""
    return _register(Rendered(slides, warning))


# --- Writing ZIP archives record by record ------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One ZIP member as written byte by byte, so that any field can be made to lie."""

    name: str | bytes
    data: bytes = b""
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0
    mode: int = 0  # Unix st_mode, kept in the external attributes; 0: none
    payload: bytes | None = None  # the bytes as stored; default: data packed by `method`
    crc: int | None = None
    size: int | None = None  # declared unpacked size; default: len(data)
    local_name: bytes | None = None  # name in the local header; default: `name`
    zip64: bool = False  # sizes in a ZIP64 extra field of both headers


def _pack(data: bytes, method: int) -> bytes:
    if method == zipfile.ZIP_DEFLATED:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush()
    if method == zipfile.ZIP_BZIP2:
        return bz2.compress(data)
    return data


def _zip_bytes(entries: Iterable[Entry], *, comment: bytes = b"") -> bytes:
    """Return a ZIP archive holding the entries exactly as described, lies included."""
    body, directory, count = bytearray(), bytearray(), 0
    for entry in entries:
        name = entry.name.encode() if isinstance(entry.name, str) else entry.name
        local_name = entry.local_name or name
        payload = _pack(entry.data, entry.method) if entry.payload is None else entry.payload
        crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
        size = len(entry.data) if entry.size is None else entry.size
        sizes, extra, version = (len(payload), size), b"", 20
        if entry.zip64:
            sizes, version = (0xFFFFFFFF, 0xFFFFFFFF), 45
            extra = struct.pack("<HHQQ", 1, 16, size, len(payload))
        fields = (version, entry.flags, entry.method, 0, 0x21, crc, *sizes)  # 0x21: 1 Jan 1980
        offset = len(body)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields, len(local_name), len(extra))
        body += local_name + extra + payload
        directory += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 0x0300 | version, *fields,
            len(name), len(extra), 0, 0, 0, entry.mode << 16, offset,
        )  # fmt: skip
        directory += name + extra
        count += 1
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), len(comment)
    )
    return bytes(body + directory + end + comment)


def _entries(parts: dict[str, bytes | Entry]) -> list[Entry]:
    return [data if isinstance(data, Entry) else Entry(name, data) for name, data in parts.items()]


def _zip(parts: dict[str, bytes | Entry], *extra: Entry) -> bytes:
    """Return a ZIP of the parts (an Entry value replaces a part's record) and extra entries."""
    return _zip_bytes([*_entries(parts), *extra])


# --- Decks and their parts ----------------------------------------------------------------------


def _deck(
    folder: Path,
    slides=ONE_SLIDE,
    *,
    edit: Callable[[Presentation], object] | None = None,
    **options,
) -> dict[str, bytes]:
    """Return the parts of a python-pptx deck (name -> bytes, in ZIP order), edited if asked."""
    path = make_deck(folder / "source.pptx", slides, **options)
    if edit is not None:
        presentation = Presentation(str(path))
        edit(presentation)
        presentation.save(str(path))
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    path.unlink()
    return parts


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _edit_xml(parts: dict, name: str, change: Callable[[etree._Element], object]) -> None:
    """Parse a part, let `change` alter it in place, and store it back."""
    root = etree.fromstring(parts[name])
    change(root)
    parts[name] = _xml(root)


def _snippet(xml: str) -> list[etree._Element]:
    """Return the elements of an XML snippet that uses the a:, p: and r: prefixes."""
    declarations = " ".join(f'xmlns:{prefix}="{NS[prefix]}"' for prefix in ("a", "p", "r"))
    return list(etree.fromstring(f"<snippet {declarations}>{xml}</snippet>"))


def _rels_name(part: str) -> str:
    folder, _, file = part.rpartition("/")
    return f"{folder}/_rels/{file}.rels"


def _relate(parts: dict, source: str, rid: str, kind: str, target: str, *, external=False) -> None:
    """Add a relationship from `source`; `kind` is a type URI or a name under RT ("image")."""
    attributes = {"Id": rid, "Type": kind if "://" in kind else RT + kind, "Target": target}
    if external:
        attributes["TargetMode"] = "External"
    tag = f"{{{NS['rel']}}}Relationship"
    _edit_xml(parts, _rels_name(source), lambda root: etree.SubElement(root, tag, attributes))


def _retarget(parts: dict, source: str, kind: str, target: str, *, external=True) -> str:
    """Point `source`'s relationship of type `kind` at `target`; return the relationship's id."""
    name = _rels_name(source)
    root = etree.fromstring(parts[name])
    relationship = root.find(f"rel:Relationship[@Type='{RT + kind}']", NS)
    relationship.set("Target", target)
    if external:
        relationship.set("TargetMode", "External")
    parts[name] = _xml(root)
    return relationship.get("Id")


def _override(parts: dict, part: str, content_type: str) -> None:
    """Declare (or change) the content type of one part."""

    def change(root: etree._Element) -> None:
        for old in root.findall(f"ct:Override[@PartName='/{part}']", NS):
            root.remove(old)
        etree.SubElement(
            root, f"{{{NS['ct']}}}Override", PartName=f"/{part}", ContentType=content_type
        )

    _edit_xml(parts, "[Content_Types].xml", change)


def _default(parts: dict, extension: str, content_type: str) -> None:
    """Declare the content type of every part whose name ends with the extension."""
    tag = f"{{{NS['ct']}}}Default"
    _edit_xml(
        parts,
        "[Content_Types].xml",
        lambda root: etree.SubElement(root, tag, Extension=extension, ContentType=content_type),
    )


def _slide_rids(parts: dict) -> list[str]:
    slide_list = etree.fromstring(parts[PRESENTATION]).find("p:sldIdLst", NS)
    return [entry.get(f"{{{NS['r']}}}id") for entry in slide_list]


def _list_slides(parts: dict, rids: Iterable[str]) -> None:
    """Append entries naming these relationship ids to the slide list."""

    def change(root: etree._Element) -> None:
        slide_list = root.find("p:sldIdLst", NS)
        first = max(int(entry.get("id")) for entry in slide_list) + 1
        for offset, rid in enumerate(rids):
            attributes = {"id": str(first + offset), f"{{{NS['r']}}}id": rid}
            etree.SubElement(slide_list, f"{{{NS['p']}}}sldId", attributes)

    _edit_xml(parts, PRESENTATION, change)


def _copy_slide(parts: dict, names: Iterable[str], *, listed: bool) -> None:
    """Add copies of slide 1 (which must have no notes) as these parts, listed or not."""
    rids = []
    for number, name in enumerate(names, start=1):
        parts[name] = parts[SLIDE1]
        parts[_rels_name(name)] = parts[_rels_name(SLIDE1)]
        _override(parts, name, CT_SLIDE)
        if listed:
            rids.append(f"rIdCopy{number}")
            _relate(parts, PRESENTATION, rids[-1], "slide", name.removeprefix("ppt/"))
    _list_slides(parts, rids)


def _words(length: int) -> str:
    """Return exactly `length` characters of short words and single spaces."""
    text = ("narration " * (length // 10 + 1))[:length]
    return text[:-1] + "n" if text.endswith(" ") else text


def _with_doctype(xml: bytes, doctype: str) -> bytes:
    declaration_end = xml.index(b"?>") + 2
    return xml[:declaration_end] + doctype.encode() + xml[declaration_end:]


# --- Pictures -----------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    """Return a PNG whose header declares width x height; its data holds a single row."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", checksum)

    header = struct.pack(">2I5B", width, height, 8, 2, 0, 0, 0)
    row = b"\0" + b"\x33\x55\x99" * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row))
        + chunk(b"IEND", b"")
    )


def _jpeg(width: int, height: int) -> bytes:
    """Return an 8 x 8 JPEG whose frame header claims width x height."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (51, 85, 153)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    frame = data.index(b"\xff\xc0")  # baseline frame: marker, length, precision, height, width
    data[frame + 5 : frame + 9] = struct.pack(">2H", height, width)
    return bytes(data)


def _picture_deck(folder: Path, image: bytes | None = None) -> dict[str, bytes]:
    """Return a one-slide deck with a small picture; its part is the only one in ppt/media/."""

    def add_picture(presentation: Presentation) -> None:
        blob = io.BytesIO(image or _png(1, 1))
        presentation.slides[0].shapes.add_picture(blob, Inches(6), Inches(2), Inches(2))

    return _deck(folder, edit=add_picture)


def _media(parts: dict) -> str:
    return next(name for name in parts if name.startswith("ppt/media/"))


def _linked_picture(folder: Path, target: str, *, external: bool = True) -> bytes:
    """Return a deck whose picture is to be fetched from `target` instead of stored in it."""
    parts = _picture_deck(folder)
    del parts[_media(parts)]
    rid = _retarget(parts, SLIDE1, "image", target, external=external)
    if external:
        parts[SLIDE1] = parts[SLIDE1].replace(
            f'r:embed="{rid}"'.encode(), f'r:link="{rid}"'.encode()
        )
    return _zip(parts)


# --- Other containers ---------------------------------------------------------------------------

FREE, END_OF_CHAIN, FAT_SECTOR = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


def _directory_entry(name: str, kind: int, *, child=FREE, right=FREE, start=0, size=0) -> bytes:
    encoded = (name + "\0").encode("utf-16-le") if name else b""
    return struct.pack(
        "<64sHBBLLL16sLQQLQ", encoded, len(encoded), kind, 1, FREE, right, child,
        b"", 0, 0, 0, start, size,
    )  # fmt: skip


def _compound_file(streams: dict[str, bytes]) -> bytes:
    """Return an OLE compound file (the pre-2007 Office container) with up to 3 root streams."""
    names = sorted(streams, key=lambda name: (len(name), name.upper()))  # CFB's name order
    # Streams under 4,096 bytes belong in a "mini stream"; padding them saves building one.
    bodies = [streams[name] for name in names]
    bodies = [body.ljust(max(4096, -(-len(body) // 512) * 512), b"\0") for body in bodies]
    fat, data = [FAT_SECTOR, END_OF_CHAIN], b""  # sector 0: this table; sector 1: the directory
    directory = [_directory_entry("Root Entry", 5, child=1, start=END_OF_CHAIN)]
    for index, (name, body) in enumerate(zip(names, bodies, strict=True), start=1):
        start, sectors = len(fat), len(body) // 512
        fat += [*range(start + 1, start + sectors), END_OF_CHAIN]
        right = index + 1 if index < len(names) else FREE  # the children form a chain
        directory.append(_directory_entry(name, 2, right=right, start=start, size=len(body)))
        data += body
    directory += [_directory_entry("", 0)] * (4 - len(directory))
    header = struct.pack(
        "<8s16s5H6s9L109L", bytes.fromhex("D0CF11E0A1B11AE1"), b"", 0x3E, 3, 0xFFFE, 9, 6, b"",
        0, 1, 1, 0, 4096, END_OF_CHAIN, 0, END_OF_CHAIN, 0, 0, *[FREE] * 108,
    )  # fmt: skip
    fat_sector = struct.pack(f"<{len(fat)}L", *fat).ljust(512, b"\xff")
    return header + fat_sector + b"".join(directory) + data


def _opendocument(kind: str) -> bytes:
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    return _zip_bytes(
        [
            # The mimetype comes first and stored, so that tools can sniff it at a fixed offset.
            Entry("mimetype", f"application/vnd.oasis.opendocument.{kind}".encode(), method=0),
            Entry("content.xml", f'<office:document-content xmlns:office="{office}"/>'.encode()),
            Entry("META-INF/manifest.xml", b"<manifest/>"),
        ]
    )


PDF = (
    b"%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


# --- The file itself ----------------------------------------------------------------------------


@refused("The file is empty.")
def empty_file(folder: Path) -> bytes:
    return b""


def _over_size_limit(folder: Path) -> Path:
    path = folder / "over_size_limit.pptx"
    with path.open("wb") as handle:
        handle.truncate(100 * MB + 30_000)  # sparse: nothing is written to disk
    return path


CASES.append(
    Case("over_size_limit", _over_size_limit, Refused(("the limit is 100 MB", "100.03 MB")))
)


# --- Not a ZIP archive, or not only one ---------------------------------------------------------


def _add_blob(name: str, blob: bytes, *contains: str) -> None:
    CASES.append(Case(name, _writer(name, lambda folder: blob), Refused(contains)))


for _name, _blob in {
    "plain_text_renamed": b"These are my speaker notes, not a deck.\n",
    "html_page_renamed": b"<!DOCTYPE html><html><body><h1>My talk</h1></body></html>\n",
    "png_image_renamed": _png(1, 1),
    "gzip_renamed": gzip.compress(b"a deck, gzipped " * 100, mtime=0),
    "rar_archive_renamed": b"Rar!\x1a\x07\x01\x00" + bytes(range(256)),
    "seven_zip_archive_renamed": b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(range(256)),
}.items():
    _add_blob(_name, _blob, "not a ZIP archive")

_add_blob("zip_signature_only", b"PK\x03\x04", "damaged ZIP archive")
_add_blob("pdf_renamed", PDF, "is a PDF")


@refused("before the ZIP archive")
def pdf_zip_polyglot(folder: Path) -> bytes:
    return PDF + _zip(_deck(folder))


@refused("before the ZIP archive")
def self_extractor_stub_before_zip(folder: Path) -> bytes:
    return b"#!/bin/sh\necho 'unpacking your deck'\nexit 0\n" + _zip(_deck(folder))


@refused("PowerPoint 97-2003")
def legacy_powerpoint_97_2003(folder: Path) -> bytes:
    return _compound_file(
        {
            "Current User": struct.pack("<HHL", 0, 0x0FF6, 20) + b"\x14\x00\x00\x00",
            "PowerPoint Document": struct.pack("<HHL", 0x000F, 0x03E8, 0),
        }
    )


@refused("password-protected")
def password_protected_ooxml(folder: Path) -> bytes:
    info = b'<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption"/>'
    return _compound_file(
        {
            "EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + info,  # "agile" version 4.4
            "EncryptedPackage": struct.pack("<Q", 4096) + bytes(range(256)) * 16,
        }
    )


# --- A ZIP archive of something else ------------------------------------------------------------


@refused("OpenDocument presentation (.odp)")
def opendocument_presentation(folder: Path) -> bytes:
    return _opendocument("presentation")


@refused("OpenDocument")
def opendocument_text(folder: Path) -> bytes:
    return _opendocument("text")


@refused("Keynote")
def keynote_presentation(folder: Path) -> bytes:
    return _zip(
        {
            "Index/Document.iwa": bytes(64),
            "Index/Slide.iwa": bytes(64),
            "Metadata/Properties.plist": b"bplist00" + bytes(32),
            "preview.jpg": _jpeg(8, 8),
        }
    )


def _office_package(main_part: str, root: bytes) -> bytes:
    """Return a minimal Office Open XML package whose main part is not a presentation."""
    parts = {"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>"}
    return _zip({**parts, main_part: root})


@refused("Word document")
def word_document(folder: Path) -> bytes:
    return _office_package("word/document.xml", b"<document/>")


@refused("Excel workbook")
def excel_workbook(folder: Path) -> bytes:
    return _office_package("xl/workbook.xml", b"<workbook/>")


@refused("without ppt/presentation.xml")
def zip_of_holiday_photos(folder: Path) -> bytes:
    return _zip({"readme.txt": b"Photos from the trip.", "photos/1.jpg": _jpeg(8, 8)})


@refused("without ppt/presentation.xml")
def empty_zip(folder: Path) -> bytes:
    return _zip_bytes([])


@refused("[Content_Types].xml")
def deck_without_content_types(folder: Path) -> bytes:
    parts = _deck(folder)
    del parts["[Content_Types].xml"]
    return _zip(parts)


# --- Damaged ZIP archives -----------------------------------------------------------------------


@refused("damaged ZIP archive")
def truncated_in_the_middle(folder: Path) -> bytes:
    data = _zip(_deck(folder))
    return data[: len(data) // 2]


@refused("damaged ZIP archive")
def central_directory_overwritten(folder: Path) -> bytes:
    data = bytearray(_zip(_deck(folder)))
    (start,) = struct.unpack_from("<L", data, len(data) - 6)  # the end record's directory offset
    data[start : start + 64] = b"\xff" * 64
    return bytes(data)


@refused("is damaged", SLIDE1)
def slide_part_fails_its_crc(folder: Path) -> bytes:
    parts = _deck(folder)
    flipped = bytearray(parts[SLIDE1])
    flipped[len(flipped) // 2] ^= 0x01
    parts[SLIDE1] = Entry(SLIDE1, bytes(flipped), method=0, crc=zlib.crc32(parts[SLIDE1]))
    return _zip(parts)


@refused("is damaged", SLIDE1)
def slide_part_deflate_stream_garbage(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[SLIDE1] = Entry(SLIDE1, parts[SLIDE1], payload=b"\xff" * 64)  # an invalid block type
    return _zip(parts)


@refused("is damaged", SLIDE1)
def zip64_sizes_disagree_with_data(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[SLIDE1] = Entry(SLIDE1, parts[SLIDE1], zip64=True, size=len(parts[SLIDE1]) - 100)
    return _zip(parts)


@refused("damaged")
def local_header_names_another_part(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[SLIDE1] = Entry(SLIDE1, parts[SLIDE1], local_name=b"ppt/slides/slide7.xml")
    return _zip(parts)


# --- ZIP bombs and hostile entries --------------------------------------------------------------


@refused("when unpacked")
def zip_bomb_of_many_small_parts(folder: Path) -> bytes:
    # 57 parts of 9 MiB: each under the single-part rule (10 MB), together 513 MiB.
    zeros = bytes(9 * MB)
    packed, crc = _pack(zeros, zipfile.ZIP_DEFLATED), zlib.crc32(zeros)
    padding = [
        Entry(f"ppt/media/padding{n}.bin", payload=packed, crc=crc, size=len(zeros))
        for n in range(57)
    ]
    return _zip(_deck(folder), *padding)


@refused("expands", "ppt/media/padding.bin")
def zip_bomb_in_one_part(folder: Path) -> bytes:
    parts = _deck(folder)
    parts["ppt/media/padding.bin"] = bytes(20 * MB)
    return _zip(parts)


@refused("ZIP entries", "10,000")
def ten_thousand_and_one_entries(folder: Path) -> bytes:
    entries = _entries(_deck(folder))
    filler = [Entry(f"ppt/x/{n}", method=0) for n in range(10_001 - len(entries))]
    return _zip_bytes([*entries, *filler])


@refused("more than once", SLIDE1)
def duplicate_entry_names(folder: Path) -> bytes:
    parts = _deck(folder)
    return _zip(parts, Entry(SLIDE1, parts[SLIDE1].replace(b"A slide", b"An evil twin")))


@refused("is encrypted", SLIDE1)
def entry_with_encryption_flag(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[SLIDE1] = Entry(SLIDE1, parts[SLIDE1], flags=0x1)
    return _zip(parts)


@refused("unsafe name")
def path_traversal_entry(folder: Path) -> bytes:
    return _zip(_deck(folder), Entry("../../evil.xml", b"<evil/>"))


@refused("unsafe name")
def absolute_path_entry(folder: Path) -> bytes:
    return _zip(_deck(folder), Entry("/etc/evil.xml", b"<evil/>"))


@refused("unsafe name")
def backslash_path_entry(folder: Path) -> bytes:
    return _zip(_deck(folder), Entry("ppt\\slides\\x.xml", b"<evil/>"))


@refused("unsafe name")
def drive_letter_entry(folder: Path) -> bytes:
    return _zip(_deck(folder), Entry("C:/Windows/evil.xml", b"<evil/>"))


@refused("unsafe name")
def nul_byte_in_entry_name(folder: Path) -> bytes:
    return _zip(_deck(folder), Entry(b"ppt/media/evil.xml\x00.png", b"<evil/>"))


@refused("symbolic link")
def symlink_entry(folder: Path) -> bytes:
    link = Entry("ppt/media/image9.png", b"/etc/passwd", method=0, mode=stat.S_IFLNK | 0o777)
    return _zip(_deck(folder), link)


@refused("compression method")
def bzip2_compressed_slide(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[SLIDE1] = Entry(SLIDE1, parts[SLIDE1], method=zipfile.ZIP_BZIP2)
    return _zip(parts)


@refused("compression method")
def deflate64_compressed_slide(folder: Path) -> bytes:
    # Windows Explorer writes method 9 for big files; a plain deflate stream is valid deflate64.
    parts = _deck(folder)
    parts[SLIDE1] = Entry(
        SLIDE1, parts[SLIDE1], method=9, payload=_pack(parts[SLIDE1], zipfile.ZIP_DEFLATED)
    )
    return _zip(parts)


# --- XML that is hostile or broken --------------------------------------------------------------


def _billion_laughs(root: str) -> str:
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    return f"<!DOCTYPE {root} [{''.join(entities)}]>"


@refused("DTD")
def billion_laughs_in_slide(folder: Path) -> bytes:
    parts = _deck(folder)
    slide = _with_doctype(parts[SLIDE1], _billion_laughs("p:sld"))
    parts[SLIDE1] = slide.replace(b">A slide<", b">&lol9;<")
    return _zip(parts)


@refused("DTD")
def external_entity_in_notes(folder: Path) -> bytes:
    parts = _deck(folder)
    doctype = '<!DOCTYPE p:notes [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'
    notes = _with_doctype(parts[NOTES1], doctype)
    parts[NOTES1] = notes.replace(b"Narration for the slide.", b"&secret;")
    return _zip(parts)


@refused("DTD")
def external_dtd_in_presentation(folder: Path) -> bytes:
    parts = _deck(folder)
    doctype = f'<!DOCTYPE p:presentation SYSTEM "{LOCAL_PORT}/evil.dtd">'
    parts[PRESENTATION] = _with_doctype(parts[PRESENTATION], doctype)
    return _zip(parts)


@refused("DTD")
def entity_hides_a_slide_target(folder: Path) -> bytes:
    parts = _deck(folder)
    doctype = '<!DOCTYPE Relationships [<!ENTITY target "slides/slide1.xml">]>'
    rels = parts[PRESENTATION_RELS].replace(b'"slides/slide1.xml"', b'"&target;"')
    parts[PRESENTATION_RELS] = _with_doctype(rels, doctype)
    return _zip(parts)


@refused("not well-formed XML", SLIDE1)
def slide_not_well_formed(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[SLIDE1] = parts[SLIDE1][:-40]
    return _zip(parts)


@refused("not well-formed XML", SLIDE1)
def slide_not_utf8(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[SLIDE1] = parts[SLIDE1].replace(b"A slide", b"Caf\xe9 slide")  # Latin-1 in UTF-8
    return _zip(parts)


@refused("not well-formed XML", PRESENTATION)
def presentation_not_well_formed(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[PRESENTATION] = parts[PRESENTATION].replace(b"</p:sldIdLst>", b"</p:sldIdList>")
    return _zip(parts)


@refused("not well-formed XML", PRESENTATION_RELS)
def presentation_rels_not_well_formed(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[PRESENTATION_RELS] = parts[PRESENTATION_RELS][:-30]
    return _zip(parts)


def _nested_groups(folder: Path, depth: int) -> bytes:
    group = (
        '<p:grpSp><p:nvGrpSpPr><p:cNvPr id="{id}" name="Group {id}"/><p:cNvGrpSpPr/><p:nvPr/>'
        "</p:nvGrpSpPr><p:grpSpPr/>"
    )
    nested = "".join(group.format(id=100 + n) for n in range(depth)) + "</p:grpSp>" * depth
    parts = _deck(folder)
    parts[SLIDE1] = parts[SLIDE1].replace(b"</p:spTree>", nested.encode() + b"</p:spTree>")
    return _zip(parts)


@refused("nested")
def groups_nested_150_deep(folder: Path) -> bytes:
    return _nested_groups(folder, 150)


@refused("nested")
def groups_nested_5000_deep(folder: Path) -> bytes:
    # Deeper than lxml's own limit (256): the depth rule must answer before the parser does.
    return _nested_groups(folder, 5000)


# --- The slide list -----------------------------------------------------------------------------


@refused("The deck has no slides")
def no_slides(folder: Path) -> bytes:
    return _zip(_deck(folder, []))


@refused("The deck has no slides")
def slide_parts_present_but_none_listed(folder: Path) -> bytes:
    parts = _deck(folder, TWO_SLIDES)
    _edit_xml(parts, PRESENTATION, lambda root: root.find("p:sldIdLst", NS).clear())
    return _zip(parts)


@refused("the limit is 200")
def two_hundred_and_one_slides(folder: Path) -> bytes:
    parts = _deck(folder, [("Copy me", "")])
    _copy_slide(parts, [f"ppt/slides/slide{n}.xml" for n in range(2, 202)], listed=True)
    return _zip(parts)


@refused("the limit is 200")
def three_hundred_oddly_named_slides(folder: Path) -> bytes:
    parts = _deck(folder, [("Copy me", "")])
    _copy_slide(parts, [f"ppt/foo/bar{n}.xml" for n in range(1, 301)], listed=True)
    return _zip(parts)


@refused("listed more than once")
def one_slide_listed_400_times(folder: Path) -> bytes:
    parts = _deck(folder)
    rids = [f"rIdAgain{n}" for n in range(399)]
    for rid in rids:
        _relate(parts, PRESENTATION, rid, "slide", "slides/slide1.xml")
    _list_slides(parts, rids)
    return _zip(parts)


@refused("listed more than once")
def same_relationship_listed_400_times(folder: Path) -> bytes:
    parts = _deck(folder)
    _list_slides(parts, _slide_rids(parts) * 399)
    return _zip(parts)


@refused("relationship")
def slide_list_names_an_undefined_relationship(folder: Path) -> bytes:
    parts = _deck(folder)
    _list_slides(parts, ["rId999"])
    return _zip(parts)


@refused("is not in the file", "ppt/slides/slide9.xml")
def slide_list_points_at_a_missing_part(folder: Path) -> bytes:
    parts = _deck(folder, TWO_SLIDES)
    rels = parts[PRESENTATION_RELS]
    parts[PRESENTATION_RELS] = rels.replace(b'"slides/slide2.xml"', b'"slides/slide9.xml"')
    return _zip(parts)


@refused("is not in the file", SLIDE1)
def only_listed_slide_is_missing(folder: Path) -> bytes:
    parts = _deck(folder)
    del parts[SLIDE1], parts[_rels_name(SLIDE1)]
    return _zip(parts)


@refused("hidden")
def every_slide_hidden(folder: Path) -> bytes:
    return _zip(_deck(folder, TWO_SLIDES, hidden=[1, 2]))


@refused("hidden")
def every_slide_hidden_spelled_false(folder: Path) -> bytes:
    parts = _deck(folder, TWO_SLIDES)
    for name in (SLIDE1, "ppt/slides/slide2.xml"):
        parts[name] = parts[name].replace(b"<p:sld ", b'<p:sld show="false" ')
    return _zip(parts)


# --- Speaker notes ------------------------------------------------------------------------------


@refused("Slide 2", "the limit is 5,000")
def notes_over_limit_on_slide_2(folder: Path) -> bytes:
    slides = [("One", "Short."), ("Two", _words(5_001)), ("Three", "Short.")]
    return _zip(_deck(folder, slides))


@refused("the limit is 100,000")
def notes_over_deck_limit(folder: Path) -> bytes:
    return _zip(_deck(folder, [(f"Part {n}", _words(4_500)) for n in range(1, 26)]))


@refused("the limit is 5,000")
def one_megabyte_of_notes(folder: Path) -> bytes:
    return _zip(_deck(folder, [("Long", _words(1_000_000))]))


@refused("4,000-character word")
def four_thousand_character_word(folder: Path) -> bytes:
    return _zip(_deck(folder, [("Word", "Listen to this: " + "a" * 4_000)]))


@refused("101-character word")
def word_of_101_characters(folder: Path) -> bytes:
    return _zip(_deck(folder, [("Word", "Almost: " + "b" * 101)]))


# --- Pictures too big to decode -----------------------------------------------------------------


@refused("pixels", "ppt/media/")
def png_declares_50000_by_50000(folder: Path) -> bytes:
    parts = _picture_deck(folder)
    parts[_media(parts)] = _png(50_000, 50_000)
    return _zip(parts)


@refused("pixels", "ppt/media/")
def jpeg_declares_120_megapixels(folder: Path) -> bytes:
    parts = _picture_deck(folder, _jpeg(8, 8))
    parts[_media(parts)] = _jpeg(12_000, 10_000)
    return _zip(parts)


# --- Rendered, with links dropped rather than fetched -------------------------------------------


@rendered(1, warning="linked")
def picture_linked_to_local_port(folder: Path) -> bytes:
    return _linked_picture(folder, f"{LOCAL_PORT}/x.png")


@rendered(1, warning="linked")
def picture_linked_to_local_file(folder: Path) -> bytes:
    return _linked_picture(folder, "file:///etc/hostname")


@rendered(1, warning="linked")
def internal_relationship_with_absolute_uri(folder: Path) -> bytes:
    # No TargetMode, so "Internal": a reader that trusts it opens file:///etc/passwd as a part.
    return _linked_picture(folder, "file:///etc/passwd", external=False)


@rendered(1, warning="linked")
def ole_object_linked_to_url(folder: Path) -> bytes:
    parts = _deck(folder)
    frame = (
        '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="90" name="Linked sheet"/>'
        "<p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr>"
        '<p:xfrm><a:off x="914400" y="914400"/><a:ext cx="1828800" cy="914400"/></p:xfrm>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/presentationml/2006/ole">'
        '<p:oleObj name="Budget" r:id="rIdOle" progId="Excel.Sheet.12">'
        '<p:link updateAutomatic="1"/></p:oleObj></a:graphicData></a:graphic></p:graphicFrame>'
    )
    _edit_xml(parts, SLIDE1, lambda root: root.find(".//p:spTree", NS).extend(_snippet(frame)))
    _relate(parts, SLIDE1, "rIdOle", "oleObject", f"{LOCAL_PORT}/budget.xlsx", external=True)
    return _zip(parts)


@rendered(1, warning="linked")
def chart_with_linked_data(folder: Path) -> bytes:
    def add_chart(presentation: Presentation) -> None:
        data = CategoryChartData()
        data.categories = ["Q1", "Q2"]
        data.add_series("Sales", (1, 2))
        presentation.slides[0].shapes.add_chart(
            XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(6), Inches(2), Inches(4), Inches(3), data
        )

    parts = _deck(folder, edit=add_chart)
    del parts["ppt/embeddings/Microsoft_Excel_Sheet1.xlsx"]
    chart = "ppt/charts/chart1.xml"
    _retarget(parts, chart, "package", f"{LOCAL_PORT}/sales.xlsx")
    rels = parts[_rels_name(chart)]
    parts[_rels_name(chart)] = rels.replace(b"relationships/package", b"relationships/oleObject")
    return _zip(parts)


@rendered(1, warning="linked")
def video_linked_to_url(folder: Path) -> bytes:
    parts = _picture_deck(folder)
    video = _snippet('<a:videoFile r:link="rIdVideo"/>')
    _edit_xml(parts, SLIDE1, lambda root: root.find(".//p:pic//p:nvPr", NS).extend(video))
    _relate(parts, SLIDE1, "rIdVideo", "video", f"{LOCAL_PORT}/clip.mp4", external=True)
    return _zip(parts)


@rendered(1, warning="linked")
def svg_picture_referencing_local_file(folder: Path) -> bytes:
    parts = _picture_deck(folder)
    parts["ppt/media/image2.svg"] = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        b' width="100" height="100"><image href="file:///etc/hostname" width="100" height="100"/>'
        + f'<image xlink:href="{LOCAL_PORT}/x.png" width="10" height="10"/></svg>'.encode()
    )
    _default(parts, "svg", "image/svg+xml")
    _relate(parts, SLIDE1, "rIdSvg", "image", "../media/image2.svg")
    svg_blip = _snippet(
        '<a:extLst><a:ext uri="{96DAC541-7B7A-43D3-8B79-37D633B846F1}">'
        '<asvg:svgBlip xmlns:asvg="http://schemas.microsoft.com/office/drawing/2016/SVG/main"'
        ' r:embed="rIdSvg"/></a:ext></a:extLst>'
    )
    _edit_xml(parts, SLIDE1, lambda root: root.find(".//a:blip", NS).extend(svg_blip))
    return _zip(parts)


# --- Rendered as they are -----------------------------------------------------------------------


@rendered(1)
def text_hyperlinks_only(folder: Path) -> bytes:
    def add_links(presentation: Presentation) -> None:
        frame = presentation.slides[0].placeholders[1].text_frame
        for address in ("https://example.com/talk", "mailto:speaker@example.com"):
            run = frame.add_paragraph().add_run()
            run.text = address
            run.hyperlink.address = address

    return _zip(_deck(folder, edit=add_links))


@rendered(1)
def caption_injection_in_notes(folder: Path) -> bytes:
    notes = (
        "-->\nWEBVTT\n\n00:00:00.000 --> 00:00:09.000\n<script>alert(1)</script> &amp; <b>bold</b>"
        "\n1\n00:00:01,000 --> 00:00:02,000\nThe end."
    )
    return _zip(_deck(folder, [("Captions", notes)]))


@rendered(1)
def right_to_left_emoji_and_cjk_notes(folder: Path) -> bytes:
    # Each run without spaces stays under 100 characters, the longest "word" allowed.
    notes = (
        "مرحبا بكم في هذا العرض. שלום לכולם. 你好，欢迎观看这个演示。 こんにちは、世界。 "
        "안녕하세요 여러분. 👋🏽 👩‍👩‍👧 🎉 Mixed \u202edesrever\u202c text."
    )
    return _zip(_deck(folder, [("مرحبا 你好 👋", notes)]))


@rendered(1)
def embedded_font_with_garbage_bytes(folder: Path) -> bytes:
    parts = _deck(folder)
    parts["ppt/fonts/font1.fntdata"] = bytes(range(256)) * 8
    _default(parts, "fntdata", "application/x-fontdata")
    _relate(parts, PRESENTATION, "rIdFont1", "font", "fonts/font1.fntdata")
    fonts = _snippet(
        '<p:embeddedFontLst><p:embeddedFont><p:font typeface="Hostile Sans"/>'
        '<p:regular r:id="rIdFont1"/></p:embeddedFont></p:embeddedFontLst>'
    )
    _edit_xml(parts, PRESENTATION, lambda root: root.find("p:notesSz", NS).addnext(fonts[0]))
    return _zip(parts)


@rendered(1)
def picture_with_garbage_bytes(folder: Path) -> bytes:
    parts = _picture_deck(folder)
    parts[_media(parts)] = b"this is not an image " * 10
    return _zip(parts)


@rendered(1)
def two_thousand_shapes(folder: Path) -> bytes:
    shape = (
        '<p:sp><p:nvSpPr><p:cNvPr id="{id}" name="Box {id}"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr>'
        '<p:spPr><a:xfrm><a:off x="{x}" y="{y}"/><a:ext cx="91440" cy="91440"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:sp>'
    )
    shapes = "".join(
        shape.format(id=100 + n, x=(n % 50) * 240_000, y=(n // 50) * 170_000) for n in range(2000)
    )
    parts = _deck(folder)
    _edit_xml(parts, SLIDE1, lambda root: root.find(".//p:spTree", NS).extend(_snippet(shapes)))
    return _zip(parts)


@rendered(1)
def macro_enabled_deck(folder: Path) -> bytes:
    parts = _deck(folder)
    parts["ppt/vbaProject.bin"] = _compound_file({"PROJECT": b'ID="{0}"\r\nModule=Module1\r\n'})
    _override(
        parts, PRESENTATION, "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"
    )
    _override(parts, "ppt/vbaProject.bin", "application/vnd.ms-office.vbaProject")
    vba = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
    _relate(parts, PRESENTATION, "rIdVba", vba, "vbaProject.bin")
    return _zip(parts)


def _saved_as(folder: Path, kind: str) -> bytes:
    """Return a deck whose presentation part is declared a slideshow (.ppsx) or template."""
    parts = _deck(folder)
    main = f"application/vnd.openxmlformats-officedocument.presentationml.{kind}.main+xml"
    _override(parts, PRESENTATION, main)
    return _zip(parts)


@rendered(1)
def slideshow_content_type(folder: Path) -> bytes:
    return _saved_as(folder, "slideshow")


@rendered(1)
def template_content_type(folder: Path) -> bytes:
    return _saved_as(folder, "template")


@rendered(1)
def three_hundred_unlisted_slide_parts(folder: Path) -> bytes:
    parts = _deck(folder, [("Copy me", "")])
    _copy_slide(parts, [f"ppt/slides/slide{n}.xml" for n in range(2, 302)], listed=False)
    return _zip(parts)


@rendered(1)
def two_of_three_slides_hidden(folder: Path) -> bytes:
    slides = [("Hidden", "Not shown."), ("Shown", "The only slide."), ("Hidden too", "")]
    return _zip(_deck(folder, slides, hidden=[1, 3]))


@rendered(1)
def slide_target_is_an_absolute_part_name(folder: Path) -> bytes:
    parts = _deck(folder)
    rels = parts[PRESENTATION_RELS]
    parts[PRESENTATION_RELS] = rels.replace(b'"slides/slide1.xml"', b'"/ppt/slides/slide1.xml"')
    return _zip(parts)


@rendered(1)
def word_of_100_characters(folder: Path) -> bytes:
    return _zip(_deck(folder, [("Word", "Just fits: " + "c" * 100)]))


@rendered(2)
def zipped_by_macos_finder(folder: Path) -> bytes:
    parts = _deck(folder, TWO_SLIDES)
    folders = sorted({name.rpartition("/")[0] + "/" for name in parts if "/" in name})
    directories = [Entry(name, method=0, mode=stat.S_IFDIR | 0o755) for name in folders]
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00" + bytes(74)
    return _zip_bytes(
        [
            *directories,
            *_entries(parts),
            Entry(".DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(64)),
            Entry("__MACOSX/._[Content_Types].xml", apple_double),
            Entry("__MACOSX/ppt/slides/._slide1.xml", apple_double),
        ]
    )


class _Unseekable(io.BytesIO):
    """A stream that zipfile cannot seek back in, as when a server streams a download."""

    def seek(self, *args) -> int:
        raise OSError("not seekable")


@rendered(2)
def streamed_zip_with_data_descriptors(folder: Path) -> bytes:
    stream = _Unseekable()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _deck(folder, TWO_SLIDES).items():
            archive.writestr(name, data)
    return stream.getvalue()


@rendered(1)
def zip_with_comment(folder: Path) -> bytes:
    return _zip_bytes(_entries(_deck(folder)), comment=b"Exported by a tool that likes comments")


# --- Found in review: what LibreOffice reads differently from a naive reader ------------------


@rendered(1, warning="linked")
def target_mode_spelled_in_lower_case(folder: Path) -> bytes:
    # LibreOffice reads any TargetMode but "Internal" as external: a path of another job's
    # files, marked "external", is a local file read.
    parts = _picture_deck(folder)
    del parts[_media(parts)]
    rid = _retarget(parts, SLIDE1, "image", "/etc/hostname", external=False)
    rels = _rels_name(SLIDE1)
    parts[rels] = parts[rels].replace(
        f'Id="{rid}"'.encode(), f'Id="{rid}" TargetMode="external"'.encode()
    )
    parts[SLIDE1] = parts[SLIDE1].replace(f'r:embed="{rid}"'.encode(), f'r:link="{rid}"'.encode())
    return _zip(parts)


@rendered(1, warning="linked")
def relationship_nested_in_a_second_relationships_element(folder: Path) -> bytes:
    parts = _picture_deck(folder)
    rels = _rels_name(SLIDE1)
    nested = (
        f'<Relationships><Relationship Id="rIdNested" Type="{RT}image" '
        f'Target="{LOCAL_PORT}/nested.png" TargetMode="External"/></Relationships>'
    )
    parts[rels] = parts[rels].replace(b"</Relationships>", nested.encode() + b"</Relationships>")
    return _zip(parts)


def _svg_as_picture(folder: Path, svg: bytes, name: str) -> dict[str, bytes]:
    parts = _picture_deck(folder)
    media = _media(parts)
    del parts[media]
    parts[f"ppt/media/{name}"] = svg
    rels = _rels_name(SLIDE1)
    parts[rels] = parts[rels].replace(
        f"../media/{media.rsplit('/', 1)[1]}".encode(), f"../media/{name}".encode()
    )
    return parts


_SVG_READING_A_FILE = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b'<image href="file:///etc/hostname" width="100" height="100"/></svg>'
)


@rendered(1, warning="linked")
def svg_picture_named_png(folder: Path) -> bytes:
    return _zip(_svg_as_picture(folder, _SVG_READING_A_FILE, "image1.png"))


@rendered(1, warning="linked")
def gzipped_svg_picture_named_emf(folder: Path) -> bytes:
    return _zip(_svg_as_picture(folder, gzip.compress(_SVG_READING_A_FILE), "image1.emf"))


@rendered(1, warning="linked")
def svg_inside_a_data_url_of_an_svg(folder: Path) -> bytes:
    inner = base64.b64encode(_SVG_READING_A_FILE).decode()
    outer = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        f'<image href="data:image/svg+xml;base64,{inner}" width="100" height="100"/></svg>'
    )
    return _zip(_svg_as_picture(folder, outer.encode(), "image1.svg"))


@rendered(1, warning="linked")
def svg_whose_root_is_a_script(folder: Path) -> bytes:
    return _zip(_svg_as_picture(folder, b"<svg:script xmlns:svg='x'>alert(1)</svg:script>",
                                "image1.svg"))  # fmt: skip


@refused("defines the relationship", "more than once")
def relationship_id_defined_twice(folder: Path) -> bytes:
    parts = _deck(folder, TWO_SLIDES)
    rids = _slide_rids(parts)
    _relate(parts, "ppt/presentation.xml", rids[1], "slide", "slides/slide1.xml")
    return _zip(parts)


@refused("ZIP entries", "10,000")
def end_record_declares_a_million_entries(folder: Path) -> bytes:
    data = bytearray(_zip(_deck(folder)))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 0xFFFF, 0xFFFF)  # 65,535 entries declared
    return bytes(data)


@refused("compression method")
def entry_with_compressed_patched_data(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[SLIDE1] = Entry(SLIDE1, parts[SLIDE1], flags=0x20)
    return _zip(parts)


@refused("is encrypted")
def entry_with_strong_encryption_flag(folder: Path) -> bytes:
    parts = _deck(folder)
    parts[SLIDE1] = Entry(SLIDE1, parts[SLIDE1], flags=0x40)
    return _zip(parts)


@refused("not well-formed XML", "ppt/slideLayouts/layout1.bin")
def malformed_xml_part_with_a_binary_name(folder: Path) -> bytes:
    parts = _deck(folder)
    parts["ppt/slideLayouts/layout1.bin"] = b"<p:sldLayout><unclosed></p:sldLayout>"
    return _zip(parts)


@refused("more than 250,000 XML elements", NOTES1)
def notes_with_300_thousand_empty_elements(folder: Path) -> bytes:
    # Notes are read into a tree here, so their size in elements is bounded too.
    parts = _deck(folder)
    parts[NOTES1] = parts[NOTES1].replace(b"</p:cSld>", b"<a:x/>" * 300_000 + b"</p:cSld>")
    return _zip(parts)


# --- Found in the second review ------------------------------------------------------------


@rendered(1)
def comment_before_the_root_of_content_types(folder: Path) -> bytes:
    parts = _deck(folder)
    types = parts["[Content_Types].xml"]
    parts["[Content_Types].xml"] = types.replace(b"?>", b"?><!-- saved by a tool -->", 1)
    return _zip(parts)


@rendered(1)
def custom_xml_part_with_a_processing_instruction(folder: Path) -> bytes:
    # SharePoint and OneDrive write these into decks they store.
    parts = _deck(folder)
    parts["customXml/item1.xml"] = (
        b'<?xml version="1.0"?><?mso-contentType?><FormTemplates xmlns="http://x"/>'
    )
    return _zip(parts)


@rendered(1, warning="linked")
def embedded_workbook_with_an_encrypted_entry(folder: Path) -> bytes:
    parts = _deck(folder)
    inner = _zip(
        {"[Content_Types].xml": b"<Types/>"},
        Entry("xl/workbook.xml", b"<workbook/>", flags=0x1),
    )
    parts["ppt/embeddings/Microsoft_Excel_Worksheet.xlsx"] = inner
    return _zip(parts)


@rendered(1)
def svg_with_a_quoted_fragment_gradient(folder: Path) -> bytes:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><defs>'
        b'<linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient></defs>'
        b"<style>.a{fill:url('#g')}</style>"
        b'<rect class="a" width="100" height="100" fill="url(\'#g\')"/></svg>'
    )
    return _zip(_svg_as_picture(folder, svg, "image1.svg"))


@rendered(1)
def svg_with_entity_styles_as_illustrator_writes_them(folder: Path) -> bytes:
    svg = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY st0 "fill:#336699;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<rect style="&st0;" width="100" height="100"/></svg>'
    )
    return _zip(_svg_as_picture(folder, svg, "image1.svg"))


@rendered(1, warning="linked")
def svg_data_url_labelled_png_holding_an_svg(folder: Path) -> bytes:
    inner = base64.b64encode(_SVG_READING_A_FILE).decode()
    outer = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        f'<image href="data:image/png;base64,{inner}" width="100" height="100"/></svg>'
    )
    return _zip(_svg_as_picture(folder, outer.encode(), "image1.svg"))


@rendered(1, warning="linked")
def utf16_svg_picture_named_png(folder: Path) -> bytes:
    svg = _SVG_READING_A_FILE.decode().encode("utf-16")
    return _zip(_svg_as_picture(folder, svg, "image1.png"))


@refused("ZIP entries", "10,000")
def directory_longer_than_its_declared_count(folder: Path) -> bytes:
    data = bytearray(_zip_bytes([Entry(f"x/{n}.xml", b"<x/>") for n in range(10_001)]))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)  # declares one entry
    return bytes(data)
