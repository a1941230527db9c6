"""Small real PDF and OpenDocument decks for tests, and broken ones, built at test time.

PDFs come from Pillow (pages of plain colour, no text) or from LibreOffice exporting a
generated .pptx (pages with the slides' text); .odp files from LibreOffice converting one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image
from pypdf import PdfWriter

from tests.decks import make_deck

COLOURS = ("#c0392b", "#27ae60", "#2980b9", "#8e44ad", "#f39c12")


def make_picture_pdf(path: Path, pages: int, *, size: tuple[int, int] = (800, 450)) -> Path:
    """Write a PDF of `pages` plain-coloured pages (no text) with Pillow."""
    images = [Image.new("RGB", size, COLOURS[n % len(COLOURS)]) for n in range(pages)]
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return path


def convert_with_libreoffice(source: Path, kind: str, out_dir: Path) -> Path:
    """Return `source` converted by LibreOffice to `kind` ("pdf", "odp") in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    profile = out_dir / ".profile"
    subprocess.run(
        ["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
         "--convert-to", kind, "--outdir", str(out_dir), str(source)],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    shutil.rmtree(profile, ignore_errors=True)
    return out_dir / f"{source.stem}.{kind}"


def make_text_pdf(folder: Path, slides: Sequence[tuple[str, str]], name: str = "talk") -> Path:
    """Write a PDF whose pages show the slides' titles (LibreOffice exports a .pptx)."""
    source_dir = folder / f"{name}-source"
    source_dir.mkdir(parents=True, exist_ok=True)
    source = make_deck(source_dir / f"{name}.pptx", slides)
    return shutil.move(
        convert_with_libreoffice(source, "pdf", source.parent), folder / f"{name}.pdf"
    )


def make_odp(
    folder: Path, slides: Sequence[tuple[str, str]], name: str = "talk", hidden: Sequence[int] = ()
) -> Path:
    """Write an .odp with one slide per (title, notes) pair, converted from a .pptx."""
    source_dir = folder / f"{name}-source"
    source_dir.mkdir(parents=True, exist_ok=True)
    source = make_deck(source_dir / f"{name}.pptx", slides, hidden=hidden)
    return shutil.move(convert_with_libreoffice(source, "odp", source_dir), folder / f"{name}.odp")


def encrypted_pdf(source: Path, path: Path, *, user_password: str = "secret") -> Path:
    writer = PdfWriter(clone_from=source)
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    writer.write(path)
    return path


def truncated(source: Path, path: Path) -> Path:
    """Write the first half of a file: an upload cut short."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def rewrite_odp(source: Path, path: Path, *, drop=(), replace=None, first=None) -> Path:
    """Copy an .odp leaving out the parts in `drop`, with `replace` {name: bytes} applied."""
    replace = replace or {}
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(path, "w") as copy:
        if first is not None:
            copy.writestr(first[0], first[1])
        for info in archive.infolist():
            if info.filename in drop:
                continue
            data = replace.get(info.filename, archive.read(info))
            copy.writestr(info, data)
    return path


def edit_content(source: Path, path: Path, change) -> Path:
    """Copy an .odp with content.xml passed through `change(text) -> text`."""
    with zipfile.ZipFile(source) as archive:
        content = archive.read("content.xml").decode()
    return rewrite_odp(source, path, replace={"content.xml": change(content).encode()})


def with_linked_picture(source: Path, path: Path, target: str) -> Path:
    """Copy an .odp whose first slide shows a picture linked from `target`."""
    frame = (
        '<draw:frame svg:width="4cm" svg:height="3cm" svg:x="1cm" svg:y="1cm">'
        f'<draw:image xlink:href="{target}" xlink:type="simple" xlink:show="embed" '
        'xlink:actuate="onLoad"/></draw:frame>'
    )
    return edit_content(
        source, path, lambda xml: re.sub(r"(<draw:page [^>]*>)", r"\1" + frame, xml, count=1)
    )


def odp_zip_bomb(path: Path, *, expanded_bytes: int) -> Path:
    """Write a tiny .odp whose one padding part expands to expanded_bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.presentation"
        )
        archive.writestr("content.xml", "<office:document-content/>")
        chunk = b"\0" * (1024 * 1024)
        with archive.open("Pictures/padding.bin", "w", force_zip64=True) as member:
            for _ in range(expanded_bytes // len(chunk)):
                member.write(chunk)
    return path
