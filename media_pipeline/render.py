"""Rendering slides to PNG images: LibreOffice headless to PDF, then poppler to PNG."""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from media_pipeline.errors import DeckRenderError
from media_pipeline.tools import find_program, run_program, split_evenly

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
    parallel_rasterizers: int = max(1, min(4, os.cpu_count() or 1))


def render_slides(deck: Path, out_dir: Path, options: RenderOptions) -> list[Path]:
    """Return one PNG per slide shown in a slideshow, in order, rendered into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf = convert_to_pdf(deck, out_dir, options)
    return rasterize_pdf(pdf, out_dir, options)


def convert_to_pdf(deck: Path, out_dir: Path, options: RenderOptions) -> Path:
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
        what="LibreOffice (rendering the slides)",
    )
    pdf = out_dir / f"{deck.stem}.pdf"
    if not pdf.exists() or pdf.stat().st_size == 0:
        raise DeckRenderError(
            "LibreOffice could not render the deck: it produced no PDF. "
            "Open the deck in PowerPoint or LibreOffice and save it again."
        )
    return pdf


def rasterize_pdf(pdf: Path, out_dir: Path, options: RenderOptions) -> list[Path]:
    """Return one PNG per PDF page, the longer side scaled to the video's longer side."""
    pdftoppm = find_program(options.pdftoppm_binary, setting="SLIDECAST_PDFTOPPM_BINARY")
    page_count = pdf_page_count(pdf, pdftoppm)
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
            what="pdftoppm (turning slides into images)",
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


def pdf_page_count(pdf: Path, pdftoppm: str) -> int:
    """Return the PDF's page count, asked of pdfinfo (shipped beside pdftoppm in poppler)."""
    pdfinfo = str(Path(pdftoppm).with_name("pdfinfo"))
    result = run_program(
        [pdfinfo, pdf], timeout=60, error=DeckRenderError, what="pdfinfo (counting pages)"
    )
    match = re.search(rb"^Pages:\s+(\d+)", result.stdout, re.MULTILINE)
    if match is None:
        raise DeckRenderError("The rendered PDF has no readable page count.")
    return int(match.group(1))


def _page_number(path: Path) -> int:
    return int(path.stem.rsplit("-", 1)[1])


_profile_lock = threading.Lock()
_profile_roots: set[Path] = set()


def _profile_dir(root: Path) -> Path:
    """Return this thread's LibreOffice profile, kept for the process's life (it starts faster)."""
    with _profile_lock:
        profile = root / f"{os.getpid()}-{threading.get_ident()}"
        profile.mkdir(parents=True, exist_ok=True)
        if not _profile_roots:
            atexit.register(_remove_profiles)
        _profile_roots.add(root)
    return profile


def _remove_profiles() -> None:
    for root in _profile_roots:
        for profile in root.glob(f"{os.getpid()}-*"):
            shutil.rmtree(profile, ignore_errors=True)
