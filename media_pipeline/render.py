"""Rendering slides to PNG images: LibreOffice headless to PDF, then poppler to PNG.

A PDF deck skips LibreOffice: poppler renders its pages, in the same sandbox.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from media_pipeline.errors import DeckRenderError, RenderLimitError
from media_pipeline.sandbox import SandboxOptions, sandbox_prefix
from media_pipeline.tools import (
    StopCheck,
    find_program,
    never_stop,
    run_program,
    split_evenly,
    usable_cores,
)

logger = logging.getLogger("media_pipeline.render")


@dataclass(frozen=True)
class RenderOptions:
    width: int = 1920
    height: int = 1080
    timeout_seconds: float = 300
    soffice_binary: str = "soffice"
    pdftoppm_binary: str = "pdftoppm"
    # LibreOffice keeps a user profile; two soffice processes sharing one collide, so each
    # worker thread gets its own directory below this one.
    profile_root: Path = Path("/tmp/slidecast-libreoffice")
    parallel_rasterizers: int = max(1, min(4, usable_cores()))
    sandbox: SandboxOptions = SandboxOptions()


def render_slides(
    deck: Path, out_dir: Path, options: RenderOptions, *, check: StopCheck = never_stop
) -> list[Path]:
    """Return one PNG per slide shown in a slideshow, in order, rendered into out_dir.

    The deck's folder is the only one the renderers may write to (or, with bubblewrap,
    read from besides the system's programs and fonts): keep nothing else in it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf = convert_to_pdf(deck, out_dir, options, check=check)
    return rasterize_pdf(pdf, out_dir, options, check=check)


def convert_to_pdf(
    deck: Path, out_dir: Path, options: RenderOptions, *, check: StopCheck = never_stop
) -> Path:
    """Return the PDF that LibreOffice exports from the deck (one page per visible slide)."""
    soffice = find_program(options.soffice_binary, setting="SLIDECAST_SOFFICE_BINARY")
    profile = _profile_dir(options.profile_root)
    run_program(
        [
            soffice,
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--nodefault",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            "pdf",
            "--outdir",
            out_dir,
            deck,
        ],
        timeout=options.timeout_seconds,
        error=DeckRenderError,
        limit_error=RenderLimitError,
        what="LibreOffice (rendering the slides)",
        check=check,
        prefix=sandbox_prefix(options.sandbox, writable=[deck.parent, profile]),
    )
    pdf = out_dir / f"{deck.stem}.pdf"
    if not pdf.exists() or pdf.stat().st_size == 0:
        raise DeckRenderError(
            "LibreOffice could not render the deck: it produced no PDF. "
            "Open the deck in PowerPoint or LibreOffice and save it again."
        )
    return pdf


def rasterize_pdf(
    pdf: Path, out_dir: Path, options: RenderOptions, *, check: StopCheck = never_stop
) -> list[Path]:
    """Return one PNG per PDF page, the longer side scaled to the video's longer side."""
    pdftoppm = find_program(options.pdftoppm_binary, setting="SLIDECAST_PDFTOPPM_BINARY")
    # The PDF came from an untrusted deck: poppler runs in the same sandbox.
    prefix = sandbox_prefix(options.sandbox, writable=[pdf.parent])
    page_count = pdf_page_count(pdf, pdftoppm, prefix=prefix)
    if page_count == 0:
        raise DeckRenderError("LibreOffice rendered the deck to an empty PDF.")
    long_side = max(options.width, options.height)
    ranges = split_evenly(page_count, options.parallel_rasterizers)

    def rasterize(pages: range) -> None:
        first, last = pages.start + 1, pages.stop  # pdftoppm counts pages from 1
        run_program(
            [
                pdftoppm,
                "-png",
                "-scale-to",
                str(long_side),
                "-f",
                str(first),
                "-l",
                str(last),
                pdf,
                out_dir / "slide",
            ],
            timeout=options.timeout_seconds,
            error=DeckRenderError,
            limit_error=RenderLimitError,
            what="pdftoppm (turning slides into images)",
            check=check,
            prefix=prefix,
        )

    # pdftoppm is single-threaded; page ranges in parallel use every core.
    with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
        list(pool.map(rasterize, ranges))
    images = sorted(out_dir.glob("slide-*.png"), key=_page_number)
    if len(images) != page_count:
        raise DeckRenderError(
            f"Rendering produced {len(images)} images for {page_count} pages of the PDF."
        )
    return images


@dataclass(frozen=True)
class RenderedPdf:
    images: list[Path]
    # Each page's first non-empty line of text ("" for a page without text).
    first_lines: list[str]


def render_pdf(
    pdf: Path, out_dir: Path, options: RenderOptions, *, check: StopCheck = never_stop
) -> RenderedPdf:
    """Return one PNG per page of a PDF deck, and each page's first line of text.

    The PDF is copied into out_dir, the only folder poppler may write to: keep nothing
    else there.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = out_dir / "deck.pdf"
    shutil.copyfile(pdf, copy)
    images = rasterize_pdf(copy, out_dir, options, check=check)
    return RenderedPdf(images, pdf_first_lines(copy, len(images), options, check=check))


# A line of pdftotext's output read at once; a title needs far less.
_MAX_LINE_CHARS = 4096


def pdf_first_lines(
    pdf: Path, pages: int, options: RenderOptions, *, check: StopCheck = never_stop
) -> list[str]:
    """Return the first non-empty line of text of each page, as poppler reads it.

    Text only names chapters: when poppler cannot read it, every page gets "" and the
    video is made all the same.
    """
    pdftoppm = find_program(options.pdftoppm_binary, setting="SLIDECAST_PDFTOPPM_BINARY")
    pdftotext = str(Path(pdftoppm).with_name("pdftotext"))  # shipped beside it in poppler
    text = pdf.with_name("pages.txt")
    try:
        run_program(
            [pdftotext, "-enc", "UTF-8", "-l", str(pages), pdf, text],
            timeout=options.timeout_seconds,
            error=DeckRenderError,
            what="pdftotext (reading the pages' titles)",
            check=check,
            prefix=sandbox_prefix(options.sandbox, writable=[pdf.parent]),
        )
    except DeckRenderError as exc:
        logger.warning("the PDF's titles could not be read: %s", exc.message)
        return [""] * pages
    lines, page = [""] * pages, 0
    # pdftotext ends each page with a form feed; the file is read a bounded line at a time.
    with text.open(encoding="utf-8", errors="replace") as handle:
        while page < pages and (line := handle.readline(_MAX_LINE_CHARS)):
            for offset, part in enumerate(line.split("\f")):
                page += 1 if offset else 0
                if page < pages and not lines[page] and part.strip():
                    lines[page] = part.strip()
    return lines


def pdf_page_count(pdf: Path, pdftoppm: str, *, prefix: Sequence[str] = ()) -> int:
    """Return the PDF's page count, asked of pdfinfo (shipped beside pdftoppm in poppler)."""
    pdfinfo = str(Path(pdftoppm).with_name("pdfinfo"))
    result = run_program(
        [pdfinfo, pdf],
        timeout=60,
        error=DeckRenderError,
        what="pdfinfo (counting pages)",
        prefix=prefix,
    )
    match = re.search(rb"^Pages:\s+(\d+)", result.stdout, re.MULTILINE)
    if match is None:
        raise DeckRenderError("The rendered PDF has no readable page count.")
    return int(match.group(1))


def _page_number(path: Path) -> int:
    return int(path.stem.rsplit("-", 1)[1])


# Macros never run and linked content is never updated (Writer: 0 = never; Calc: 1 = never),
# even if a link survived the sanitizer; the sandbox is what guarantees it, this keeps
# LibreOffice from trying.
_LOCKED_DOWN_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="UseOpenCL" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""  # noqa: E501

_profile_lock = threading.Lock()
_profile_roots: set[Path] = set()


def _profile_dir(root: Path) -> Path:
    """Return this thread's LibreOffice profile, kept for the process's life (it starts faster)."""
    with _profile_lock:
        profile = root / f"{os.getpid()}-{threading.get_ident()}"
        settings = profile / "user" / "registrymodifications.xcu"
        if not settings.exists():
            settings.parent.mkdir(parents=True, exist_ok=True)
            settings.write_text(_LOCKED_DOWN_SETTINGS, encoding="utf-8")
        if not _profile_roots:
            atexit.register(_remove_profiles)
        _profile_roots.add(root)
    return profile


def _remove_profiles() -> None:
    for root in _profile_roots:
        for profile in root.glob(f"{os.getpid()}-*"):
            shutil.rmtree(profile, ignore_errors=True)
