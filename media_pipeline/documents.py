"""The text of an uploaded document (plain text, Markdown, HTML, PDF, Word), read safely.

Files are untrusted. Each is refused early, with a message that names it, when it is
empty, too big, not what its name says, encrypted, or without text; PDFs and Word files
are opened by pypdf and python-docx only after the cheap checks, and a Word file's ZIP is
checked for bombs from its central directory before anything is decompressed.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docx
import lxml.etree
from pypdf import PasswordType, PdfReader

from media_pipeline.archive import (
    ENCRYPTED_OFFICE_STREAMS,
    MB,
    compound_file_streams,
    size_text,
)
from media_pipeline.document_formats import (
    DocumentProblem,
    decode_text,
    html_to_text,
    markdown_to_text,
    normalise_text,
)
from media_pipeline.errors import PipelineError

DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
_FORMATS = {
    ".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html",
    ".htm": "html", ".pdf": "pdf", ".docx": "docx",
}  # fmt: skip
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")
# A part of 10 MB or more expanding over 200 times is a decompression bomb, not a document.
_MAX_RATIO, _RATIO_MIN_BYTES = 200, 10 * MB
_ENCRYPTED_FLAGS = 0x1 | 0x40  # general-purpose bits: encrypted, strongly encrypted
_ELEMENTS_PER_CHECK = 5000
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_PARAGRAPH = f"{_W}p"
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# What each element adds to its paragraph's text; None: the element's own text.
_WORD_TEXT = {
    _PARAGRAPH: None, _FALLBACK: None, f"{_W}t": None, f"{_W}tab": "\t", f"{_W}br": "\n",
    f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-", f"{_W}softHyphen": "",
}  # fmt: skip


class InvalidDocumentError(PipelineError):
    """The upload is not a document we can learn from; the same file will always fail."""

    permanent = True
    code = "invalid_document"


@dataclass(frozen=True)
class DocumentLimits:
    max_file_bytes: int = 25 * MB
    max_text_chars: int = 12_000_000
    max_pdf_pages: int = 2000
    max_docx_uncompressed_bytes: int = 200 * MB
    max_docx_entries: int = 5000


@dataclass(frozen=True)
class ExtractedText:
    text: str
    format: str  # "text", "markdown", "html", "pdf" or "docx"
    pages: int | None  # a PDF's page count; None for the other formats


def extract_text(
    path: Path,
    *,
    name: str,
    limits: DocumentLimits = DocumentLimits(),
    check: Callable[[], None] | None = None,
) -> ExtractedText:
    """Return the normalised text of the document at `path`, uploaded as `name`.

    `check` is called between pages and chunks of work; it may raise to stop (a time limit).
    Raises InvalidDocumentError, whose message starts with `name`, for any unusable file.
    """
    check = check or _no_check
    suffix = Path(name).suffix.lower()
    if suffix not in _FORMATS:
        raise InvalidDocumentError(
            f"{name}: {f'{suffix} files' if suffix else 'files without an extension'} "
            f"cannot be read; upload one of {', '.join(DOCUMENT_SUFFIXES)}."
        )
    kind = _FORMATS[suffix]
    check_file_size(path, name=name, max_bytes=limits.max_file_bytes)
    pages = None
    try:
        if kind == "pdf":
            text, pages = _pdf_text(path, limits, check)
        elif kind == "docx":
            text = _docx_text(path, limits, check)
        else:
            text = _plain_text(path, kind, check)
    except DocumentProblem as problem:
        raise InvalidDocumentError(f"{name}: {problem}.") from problem
    text = normalise_text(text)
    if not text:
        advice = "; scanned PDFs need OCR first" if kind == "pdf" else ""
        raise InvalidDocumentError(f"{name}: has no text to learn from{advice}.")
    if len(text) > limits.max_text_chars:
        raise InvalidDocumentError(
            f"{name}: has {len(text):,} characters of text; the limit is {limits.max_text_chars:,}."
        )
    return ExtractedText(text=text, format=kind, pages=pages)


def check_file_size(path: Path, *, name: str, max_bytes: int) -> int:
    """The file's size, once it is known to be neither empty nor over `max_bytes`."""
    size = path.stat().st_size
    if size == 0:
        raise InvalidDocumentError(f"{name}: the file is empty.")
    if size > max_bytes:
        raise InvalidDocumentError(
            f"{name}: the file is {size_text(size, max_bytes)}; "
            f"the limit is {size_text(max_bytes)}."
        )
    return size


def _no_check() -> None:
    return None


def _plain_text(path: Path, kind: str, check: Callable[[], None]) -> str:
    data = path.read_bytes()
    try:
        text = decode_text(data)
    except DocumentProblem as problem:
        if other := _other_kind(data[:8]):
            raise DocumentProblem(f"is not text: it is {other}") from problem
        raise
    check()
    if kind == "html":
        return html_to_text(text, check)
    return markdown_to_text(text) if kind == "markdown" else text


def _other_kind(head: bytes) -> str | None:
    if head.startswith(b"%PDF"):
        return "a PDF; upload it with the .pdf extension"
    if head.startswith(_ZIP_STARTS):
        return "a ZIP archive (a Word document is one; those end in .docx)"
    if head.startswith(_CFB_MAGIC):
        return "an Office 97-2003 file or a password-protected Office document"
    return None


def _what_it_is(head: bytes) -> str:
    if other := _other_kind(head[:8]):
        return f": it is {other}"
    try:
        decode_text(head)
    except DocumentProblem:
        return ""
    return ": it looks like plain text"


# --- PDF -----------------------------------------------------------------------------------


def _pdf_text(path: Path, limits: DocumentLimits, check: Callable[[], None]) -> tuple[str, int]:
    with path.open("rb") as handle:
        head = handle.read(1024)
    if b"%PDF" not in head:
        raise DocumentProblem(f"is not a PDF (it does not start with %PDF){_what_it_is(head)}")
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            _refuse_encrypted(reader)
        pages = len(reader.pages)
    except DocumentProblem:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged or hostile files
        raise DocumentProblem(f"could not be read as a PDF ({_reason(exc, path)})") from exc
    if pages > limits.max_pdf_pages:
        raise DocumentProblem(f"has {pages:,} pages; the limit is {limits.max_pdf_pages:,}")
    texts: list[str] = []
    total = 0
    for number in range(pages):
        check()
        try:
            text = reader.pages[number].extract_text() or ""
        except Exception as exc:  # as above: one bad page spoils the document
            raise DocumentProblem(
                f"could not be read as a PDF (page {number + 1}: {_reason(exc, path)})"
            ) from exc
        total += len(text)
        if total > limits.max_text_chars:
            raise DocumentProblem(
                f"has more than {limits.max_text_chars:,} characters of text by page "
                f"{number + 1:,} of {pages:,}; the limit is {limits.max_text_chars:,}"
            )
        texts.append(text)
    return "\n\n".join(texts), pages


def _refuse_encrypted(reader: PdfReader) -> None:
    try:
        opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:  # an unknown or damaged encryption dictionary: it needs a password too
        opened = False
    if opened:
        raise DocumentProblem(
            "is encrypted: it opens without a password but its author restricted copying "
            "its text; upload a copy saved without encryption"
        )
    raise DocumentProblem("is password-protected; save a copy without the password and upload that")


def _reason(exc: BaseException, path: Path) -> str:
    """Return the first line of a parser's complaint, without our copy's path in it."""
    lines = str(exc).replace(str(path), "the file").strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# --- Word ----------------------------------------------------------------------------------


def _docx_text(path: Path, limits: DocumentLimits, check: Callable[[], None]) -> str:
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_CFB_MAGIC):
        raise DocumentProblem(_compound_file_problem(path))
    if not head.startswith(_ZIP_STARTS):
        other = _other_kind(head) or "not a ZIP archive, as every .docx is"
        raise DocumentProblem(f"is not a Word document (.docx): it is {other}")
    members = _checked_zip(path, limits)
    if "word/document.xml" not in {member.filename for member in members}:
        raise DocumentProblem(
            "is not a Word document (.docx): it is a ZIP archive without word/document.xml"
        )
    check()
    try:
        body = docx.Document(str(path)).element.body
    except Exception as exc:  # python-docx and lxml raise many kinds on damaged files
        raise DocumentProblem(
            f"could not be read as a Word document ({_reason(exc, path)})"
        ) from exc
    if body is None:
        return ""  # a document without a body has no text; the caller says so
    return "\n\n".join(_paragraph_texts(body, check))


def _paragraph_texts(body: lxml.etree._Element, check: Callable[[], None]) -> Iterator[str]:
    """Yield the text of every paragraph in the body, in document order.

    Read from the XML rather than python-docx's Paragraph.text, which skips tracked
    insertions, fields and content controls; paragraphs in tables and text boxes come too
    (a text box's before the paragraph that anchors it), deleted text and field codes do not,
    and a text box's fallback copy for old Word versions is skipped.
    """
    walker = lxml.etree.iterwalk(body, events=("start", "end"), tag=list(_WORD_TEXT))
    open_paragraphs: list[list[str]] = []
    for count, (event, element) in enumerate(walker):
        if count % _ELEMENTS_PER_CHECK == 0:
            check()
        if element.tag == _FALLBACK:
            if event == "start":
                walker.skip_subtree()
        elif element.tag == _PARAGRAPH:
            if event == "start":
                open_paragraphs.append([])
            else:
                yield "".join(open_paragraphs.pop())
        elif event == "start" and open_paragraphs:
            text = _WORD_TEXT[element.tag]
            open_paragraphs[-1].append((element.text or "") if text is None else text)


def _compound_file_problem(path: Path) -> str:
    streams = compound_file_streams(path)
    if streams >= ENCRYPTED_OFFICE_STREAMS:
        return (
            "is password-protected; save it without a password (File ▸ Info ▸ Protect "
            "Document) and upload it again"
        )
    if "WordDocument" in streams:
        return "is an old Word 97-2003 (.doc) file; save it as .docx and upload it again"
    return "is an old Office 97-2003 file, not a Word document (.docx)"


def _checked_zip(path: Path, limits: DocumentLimits) -> list[zipfile.ZipInfo]:
    """Return the ZIP's entries once its directory shows no bomb, encryption or oddity."""
    entries = _declared_entries(path, limits.max_docx_entries + 1)
    if entries > limits.max_docx_entries:
        raise DocumentProblem(
            f"has {entries:,} ZIP entries; the limit is {limits.max_docx_entries:,}"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise DocumentProblem(
            "is a damaged ZIP archive and cannot be read as a Word document; save it "
            "again and upload the new file"
        ) from exc
    total = sum(member.file_size for member in members)
    if total > limits.max_docx_uncompressed_bytes:
        raise DocumentProblem(
            f"expands to {size_text(total, limits.max_docx_uncompressed_bytes)} when "
            f"unpacked; the limit is {size_text(limits.max_docx_uncompressed_bytes)}, "
            "and a file that expands this much looks like a ZIP bomb"
        )
    for member in members:
        if member.flag_bits & _ENCRYPTED_FLAGS:
            raise DocumentProblem(
                f"has an encrypted part ({member.filename}); save it without a password "
                "and upload it again"
            )
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise DocumentProblem(
                f"has a part ({member.filename}) compressed in a way Word never uses; "
                "save it from Word and upload it again"
            )
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _RATIO_MIN_BYTES and ratio > _MAX_RATIO:
            raise DocumentProblem(
                f"has a part ({member.filename}) that expands {ratio:,.0f} times, to "
                f"{size_text(member.file_size)}; it looks like a ZIP bomb"
            )
    return members


def _declared_entries(path: Path, stop_at: int) -> int:
    """Return how many entries the ZIP's end record declares or its directory holds.

    Listing entries costs memory for each, and a small file can declare millions, so they
    are counted (up to stop_at) before zipfile lists them.
    """
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 22 - 65535))  # the end record and its longest comment
        tail = handle.read()
        found = tail.rfind(b"PK\x05\x06")
        if found < 0 or len(tail) < found + 22:
            return 0  # zipfile reports the damage itself
        declared, directory_size = struct.unpack_from("<HL", tail, found + 10)
        handle.seek(max(0, size - len(tail) + found - directory_size))
        counted = 0
        while counted < stop_at:
            record = handle.read(46)
            if len(record) < 46 or not record.startswith(b"PK\x01\x02"):
                break
            handle.seek(sum(struct.unpack_from("<HHH", record, 28)), 1)
            counted += 1
    return max(declared, counted)
