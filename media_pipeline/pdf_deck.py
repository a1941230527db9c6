"""Checking an uploaded PDF deck under limits before anything renders it: one page, one slide.

pypdf reads only the file's structure here (the cross-reference table, the page tree and
each page's size); page contents are decoded by poppler, in the sandbox, when rendering.
A PDF has no speaker notes: its slides are silent unless a notes file comes with it.
"""

from __future__ import annotations

import logging
import math
import zipfile
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from media_pipeline.archive import check_upload_size
from media_pipeline.deck import DeckLimits, DeckSummary, SlideNotes
from media_pipeline.errors import InvalidDeckError

logger = logging.getLogger("media_pipeline.pdf_deck")

PDF_MAGIC = b"%PDF-"
# A PDF ends with %%EOF; writers may add a little after it (a newline, padding).
_EOF_SEARCH_BYTES = 1024
# PDF's own limit on a page side: 14,400 units (200 inches at the default unit).
MAX_PAGE_UNITS = 14_400
# A page much longer than it is wide would be a thin strip in a 16:9 video.
MAX_PAGE_ASPECT = 10


def validate_pdf(path: Path, limits: DeckLimits) -> DeckSummary:
    """Return the PDF's pages as slides without notes after checking every limit."""
    size = check_upload_size(path, limits.max_file_bytes)
    with path.open("rb") as handle:
        head = handle.read(len(PDF_MAGIC))
        handle.seek(max(0, size - _EOF_SEARCH_BYTES))
        tail = handle.read()
    if head != PDF_MAGIC:
        raise InvalidDeckError("The file is not a PDF: it does not start with %PDF-.")
    if _is_zip(path):
        raise InvalidDeckError(
            "The file is a PDF and a ZIP archive at once (it has other data before the ZIP "
            "archive), so it is not a plain deck. Export the PDF again and upload that file."
        )
    if b"%%EOF" not in tail:
        raise InvalidDeckError(
            "The PDF is cut short: it does not end the way every PDF ends (%%EOF). The upload "
            "or the download it came from was interrupted; upload the complete file."
        )
    page_count = _checked_page_count(path, limits)
    return DeckSummary(
        slide_count=page_count,
        uncompressed_bytes=size,
        slides=tuple(SlideNotes(number=number, notes="") for number in range(1, page_count + 1)),
    )


def _checked_page_count(path: Path, limits: DeckLimits) -> int:
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise InvalidDeckError(
                "The PDF is encrypted (password-protected or locked against changes). Save or "
                "export it again without a password or restrictions and upload that file."
            )
        declared = _declared_page_count(reader)
        if declared > limits.max_slides:
            raise _too_many_pages(declared, limits)
        pages = reader.pages
        count = len(pages)
        if count > limits.max_slides:
            raise _too_many_pages(count, limits)
        for number, page in enumerate(pages, start=1):
            _check_page_size(number, page)
    except InvalidDeckError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError,
            OSError, IndexError, ZeroDivisionError) as exc:  # fmt: skip
        logger.info("pypdf could not read %s: %r", path, exc)
        raise InvalidDeckError(
            "The PDF is damaged and cannot be read: its structure (the table of objects or "
            "the list of pages) is missing or broken. Export the PDF again and upload it."
        ) from exc
    if count == 0:
        raise InvalidDeckError("The PDF has no pages. Upload a PDF with at least one page.")
    return count


def _declared_page_count(reader: PdfReader) -> int:
    # The page tree's own count, read before its pages are gathered: a small file can
    # declare (or reference) more pages than are worth walking.
    declared = reader.trailer["/Root"]["/Pages"].get("/Count", 0)
    return int(declared) if isinstance(declared, int | float) else 0


def _too_many_pages(count: int, limits: DeckLimits) -> InvalidDeckError:
    return InvalidDeckError(
        f"The PDF has {count:,} pages; the limit is {limits.max_slides:,}. Split it into "
        "shorter ones."
    )


def _check_page_size(number: int, page) -> None:
    # Sizes in the page's own units: pdftoppm scales every page to the video's size, so
    # only shapes that cannot become a picture, or a usable one, are refused.
    box = page.mediabox
    width, height = abs(float(box.width)), abs(float(box.height))
    if not all(math.isfinite(side) and side >= 1 for side in (width, height)):
        raise InvalidDeckError(
            f"Page {number} of the PDF has no usable size ({width:g} × {height:g} points). "
            "Export the PDF again and upload it."
        )
    if max(width, height) > MAX_PAGE_UNITS:
        raise InvalidDeckError(
            f"Page {number} of the PDF is {width:,.0f} × {height:,.0f} points, larger than a "
            f"PDF page may be ({MAX_PAGE_UNITS:,} points a side). Export the PDF again and "
            "upload it."
        )
    if max(width, height) / min(width, height) > MAX_PAGE_ASPECT:
        raise InvalidDeckError(
            f"Page {number} of the PDF is {width:,.0f} × {height:,.0f} points: more than "
            f"{MAX_PAGE_ASPECT} times as long as it is wide, it would be a thin strip in the "
            "video. Use slide-shaped pages."
        )


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except Exception:  # zipfile raises several kinds on hostile end records
        return False
