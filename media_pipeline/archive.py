"""The first look at an upload: what kind of file it is, and whether its ZIP is safe to open.

Everything here reads the ZIP's central directory or streams parts in small chunks under
the limits, so a hostile file costs a bounded amount of memory and time before any
parser (python-pptx, LibreOffice) sees it.
"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from media_pipeline.errors import InvalidDeckError

MB = 1024 * 1024
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A ZIP starts with its first part's local header, or, when empty, its end record.
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")
_SUPPORTED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# A single part expanding more than this many times is a decompression bomb, not a deck.
MAX_COMPRESSION_RATIO = 200
_RATIO_CHECK_MIN_BYTES = 10 * MB
_CHUNK = 1024 * 1024
# The end record sits in the last 22 bytes plus a comment of at most 64 KiB; a zip64 end
# record and locator come just before it.
_END_SEARCH_BYTES = 22 + 65535 + 76
# A whole deck expanding more than this is a bomb even if each part stays under the
# per-part ratio (XML compresses about 10 times, pictures not at all).
MAX_TOTAL_RATIO = 100
_TOTAL_RATIO_MIN_BYTES = 50 * MB
# General-purpose flags: 0 encrypted, 5 compressed patched data, 6 strong encryption.
_ENCRYPTION_FLAGS = 0x1 | 0x40
_PATCHED_DATA_FLAG = 0x20


@dataclass(frozen=True)
class ArchiveLimits:
    max_file_bytes: int = 100 * MB
    max_uncompressed_bytes: int = 500 * MB
    max_entries: int = 10_000


def check_archive(path: Path, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """Return the deck's ZIP entries once the file is known to be a sound .pptx container."""
    return zip_container_entries(
        path, limits, what="deck",
        not_zip=lambda head: _not_a_deck_message(path, head),
        check_names=lambda names: _check_kind(path, names),
    )  # fmt: skip


def check_upload_size(path: Path, max_bytes: int) -> int:
    """Return the file's size once it is neither empty nor over the limit."""
    size = path.stat().st_size
    if size == 0:
        raise InvalidDeckError("The file is empty.")
    if size > max_bytes:
        raise InvalidDeckError(
            f"The file is {size_text(size, max_bytes)}; the limit is {size_text(max_bytes)}."
        )
    return size


def zip_container_entries(
    path: Path,
    limits: ArchiveLimits,
    *,
    what: str,
    not_zip: Callable[[bytes], str],
    check_names: Callable[[set[str]], None] | None = None,
) -> list[zipfile.ZipInfo]:
    """Return a ZIP container's entries (a .pptx, an .odp) once every limit is checked.

    The declared sizes are read before the archive is opened, so a bomb is refused without
    being inflated; `check_names` checks the kind of document before its contents are read.
    """
    size = check_upload_size(path, limits.max_file_bytes)
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head.startswith(_ZIP_STARTS):
        raise InvalidDeckError(not_zip(head))
    _check_declared_entries(path, limits)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (
        zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
        NotImplementedError,
    ) as exc:  # fmt: skip
        raise InvalidDeckError(
            f"The file is a damaged ZIP archive and cannot be read as a {what}: its table of "
            f"contents is missing or corrupt. Save the {what} again and upload the new file."
        ) from exc
    _check_entries(members, limits)
    if check_names is not None:
        check_names({member.filename for member in members})
    _check_expansion(members, limits, size)
    _check_contents(path, members)
    return members


def _check_declared_entries(path: Path, limits: ArchiveLimits) -> None:
    """Refuse an archive whose end record declares too many entries, before reading them.

    Listing entries costs memory and time per entry, and a small file can declare millions
    (every directory record pointing at the same data).
    """
    with path.open("rb") as handle:
        handle.seek(0, 2)
        end = handle.tell()
        handle.seek(max(0, end - _END_SEARCH_BYTES))
        tail = handle.read()
    found = tail.rfind(b"PK\x05\x06")
    if found < 0 or len(tail) < found + 22:
        return  # zipfile reports the damage itself
    declared, directory_size = struct.unpack_from("<HL", tail, found + 10)
    directory_end = found
    zip64 = tail.rfind(b"PK\x06\x06", 0, found)
    if declared == 0xFFFF and zip64 >= 0 and len(tail) >= zip64 + 48:
        declared, directory_size = struct.unpack_from("<QQ", tail, zip64 + 32)
        directory_end = zip64
    # zipfile walks the directory by its size, not by the declared count: count it too.
    directory_start = end - len(tail) + directory_end - directory_size
    counted = _count_directory_records(path, directory_start, limits.max_entries + 1)
    entries = max(declared, counted)
    if entries > limits.max_entries:
        raise InvalidDeckError(
            f"The file has {entries:,} ZIP entries; the limit is {limits.max_entries:,}. "
            "A PowerPoint deck has far fewer parts."
        )


def _count_directory_records(path: Path, start: int, stop_at: int) -> int:
    """Return how many central-directory records follow `start`, counting up to stop_at."""
    if start < 0:
        return 0
    count = 0
    with path.open("rb") as handle:
        handle.seek(start)
        while count < stop_at:
            header = handle.read(46)
            if len(header) < 46 or not header.startswith(b"PK\x01\x02"):
                break
            name, extra, comment = struct.unpack_from("<HHH", header, 28)
            handle.seek(name + extra + comment, 1)
            count += 1
    return count


def size_text(size: int, compared_to: int | None = None) -> str:
    """Return a size in MB (or KB), precise enough to tell it apart from `compared_to`."""
    if compared_to is not None and compared_to != size:
        unit = MB if max(size, compared_to) >= MB else 1024
        if f"{size / unit:.2f}" == f"{compared_to / unit:.2f}":
            return f"{size:,} bytes"
    return _rounded_size(size)


def _rounded_size(size: int) -> str:
    for unit, name in ((MB, "MB"), (1024, "KB")):
        if size >= unit or unit == 1024:
            if size % unit == 0:
                return f"{size // unit:,} {name}"
            if size >= unit:
                return f"{size / unit:,.2f} {name}"
    return f"{size:,} bytes"


def _not_a_deck_message(path: Path, head: bytes) -> str:
    if head.startswith(_CFB_MAGIC):
        return _compound_file_message(path)
    if _is_zip(path):
        # A PDF/ZIP polyglot, or an installer with an archive appended: whatever reads
        # the file first decides what it is, so such files are never decks.
        return (
            "The file has other data before the ZIP archive, so it is not a plain "
            "PowerPoint deck (.pptx). Save the deck from PowerPoint and upload that file."
        )
    if head.startswith(b"%PDF"):
        return "The file is a PDF, not a PowerPoint deck (.pptx). Upload the .pptx it came from."
    if head.startswith(b"PK"):
        return "The file is a damaged ZIP archive and cannot be read as a PowerPoint deck."
    return "The file is not a PowerPoint deck (.pptx): it is not a ZIP archive."


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except Exception:  # zipfile raises several kinds on hostile end records
        return False


ENCRYPTED_OFFICE_STREAMS = frozenset({"EncryptionInfo", "EncryptedPackage"})


def compound_file_streams(path: Path) -> set[str]:
    """The stream names of an Office 97-2003 or password-protected file; none if damaged."""
    import olefile  # imported late: only legacy and encrypted Office files need it

    try:
        with olefile.OleFileIO(str(path)) as ole:
            return {"/".join(entry) for entry in ole.listdir(streams=True, storages=True)}
    except Exception:  # olefile raises many kinds on damaged files
        return set()


def _compound_file_message(path: Path) -> str:
    streams = compound_file_streams(path)
    if streams >= ENCRYPTED_OFFICE_STREAMS:
        return (
            "This presentation is password-protected; save it without a password "
            "(File ▸ Info ▸ Protect Presentation) and upload it again."
        )
    if "PowerPoint Document" in streams:
        return (
            "The file is an old PowerPoint 97-2003 (.ppt) file. Save it as .pptx "
            "(File ▸ Save As ▸ PowerPoint Presentation) and upload it again."
        )
    return (
        "The file is an old Office 97-2003 file, not a PowerPoint deck (.pptx). "
        "Save the presentation as .pptx and upload it again."
    )


def _check_entries(members: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    if len(members) > limits.max_entries:
        raise InvalidDeckError(
            f"The file has {len(members):,} ZIP entries; the limit is {limits.max_entries:,}. "
            "A PowerPoint deck has far fewer parts."
        )
    seen: set[str] = set()
    for member in members:
        name = member.filename
        if name in seen:
            raise InvalidDeckError(
                f"The file holds the part {name!r} more than once; PowerPoint never writes "
                "such a file. Save the deck again and upload the new file."
            )
        seen.add(name)
        if not _is_safe_name(member):
            raise InvalidDeckError(
                f"The file holds a part with an unsafe name ({_printable(name)}): "
                "names that climb out of the archive are not allowed."
            )
        if stat.S_ISLNK(member.external_attr >> 16):
            raise InvalidDeckError(
                f"The part {name!r} is a symbolic link; a deck cannot contain links to files."
            )
        if member.flag_bits & _ENCRYPTION_FLAGS:
            raise InvalidDeckError(
                f"The part {name!r} is encrypted inside the ZIP archive. Save the deck "
                "without a password and upload it again."
            )
        if member.compress_type not in _SUPPORTED_METHODS or member.flag_bits & _PATCHED_DATA_FLAG:
            raise InvalidDeckError(
                f"The part {name!r} uses a compression method ({member.compress_type}) that "
                "PowerPoint does not use. Save the deck from PowerPoint and upload it again."
            )


def _is_safe_name(member: zipfile.ZipInfo) -> bool:
    # zipfile rewrites some names (it turns "\" into "/" on Windows only); judge the raw one.
    raw = member.orig_filename
    if not raw or "\0" in raw or "\\" in raw or raw.startswith("/") or ":" in raw.split("/")[0]:
        return False
    return ".." not in PurePosixPath(raw).parts


def _printable(name: str) -> str:
    return repr(name.replace("\0", "\\0"))


def _check_kind(path: Path, names: set[str]) -> None:
    if "ppt/presentation.xml" in names:
        if "[Content_Types].xml" not in names:
            raise InvalidDeckError(
                "The deck is incomplete: it has no [Content_Types].xml, which every .pptx "
                "needs. Save the deck again and upload the new file."
            )
        return
    kind = _opendocument_kind(path) if "mimetype" in names else _kind(names)
    raise InvalidDeckError(f"The file is not a PowerPoint deck (.pptx): it is {kind}.")


_OPENDOCUMENT_KINDS = {
    "presentation": "an OpenDocument presentation (.odp). Open it in LibreOffice Impress "
    "and save it as PowerPoint (.pptx)",
    "text": "an OpenDocument text document (.odt), not a presentation",
    "spreadsheet": "an OpenDocument spreadsheet (.ods), not a presentation",
}


def _opendocument_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive, archive.open("mimetype") as part:
            mimetype = part.read(100).decode("ascii", "replace")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError):
        mimetype = ""
    family = mimetype.removeprefix("application/vnd.oasis.opendocument.").split("-")[0]
    return _OPENDOCUMENT_KINDS.get(family, "an OpenDocument file, not a presentation")


def _kind(names: set[str]) -> str:
    if any(name.startswith(("Index/", "index.apxl")) for name in names):
        return "a Keynote presentation. Export it from Keynote as PowerPoint (.pptx)"
    if "word/document.xml" in names:
        return "a Word document, not a presentation"
    if "xl/workbook.xml" in names:
        return "an Excel workbook, not a presentation"
    return "a ZIP archive without ppt/presentation.xml"


def _check_expansion(members: list[zipfile.ZipInfo], limits: ArchiveLimits, size: int) -> None:
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise InvalidDeckError(
            f"The file expands to {size_text(total, limits.max_uncompressed_bytes)} when "
            f"unpacked, more than the limit of {size_text(limits.max_uncompressed_bytes)}; "
            "it looks like a ZIP bomb."
        )
    for member in members:
        if member.file_size < _RATIO_CHECK_MIN_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > MAX_COMPRESSION_RATIO:
            raise InvalidDeckError(
                f"The part {member.filename!r} expands {ratio:,.0f} times "
                f"({size_text(member.file_size)}); it looks like a ZIP bomb."
            )
    if total >= _TOTAL_RATIO_MIN_BYTES and total / size > MAX_TOTAL_RATIO:
        raise InvalidDeckError(
            f"The file expands {total / size:,.0f} times when unpacked "
            f"({size_text(total)}); it looks like a ZIP bomb."
        )


def _check_contents(path: Path, members: list[zipfile.ZipInfo]) -> None:
    """Decompress every part in small chunks, checking its checksum and declared size."""
    with zipfile.ZipFile(path) as archive:
        for member in members:
            try:
                with archive.open(member) as part:
                    while part.read(_CHUNK):
                        pass
            except (
                zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError,
            ) as exc:  # fmt: skip
                raise InvalidDeckError(
                    f"The file is a damaged ZIP archive: the part {member.filename!r} is "
                    f"damaged ({_damage(exc)}). Save the deck again and upload the new file."
                ) from exc


def _damage(exc: BaseException) -> str:
    text = str(exc)
    if "CRC" in text:
        return "its contents do not match their checksum"
    if "header" in text or "differ" in text:
        return "its entry in the archive does not match its table of contents"
    return "its contents cannot be decompressed"
