"""Small real decks generated with python-pptx for tests, benchmarks and the sample."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Pt

WIDE_WIDTH, WIDE_HEIGHT = Emu(12192000), Emu(6858000)  # 13.333 in x 7.5 in: 16:9


def make_deck(
    path: Path,
    slides: Sequence[tuple[str, str]],
    *,
    hidden: Sequence[int] = (),
    widescreen: bool = True,
) -> Path:
    """Write a deck with one slide per (title, notes) pair; hidden holds 1-based numbers."""
    presentation = Presentation()
    if widescreen:
        presentation.slide_width, presentation.slide_height = WIDE_WIDTH, WIDE_HEIGHT
    layout = presentation.slide_layouts[1]
    for number, (title, notes) in enumerate(slides, start=1):
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = f"Slide {number}"
        body.paragraphs[0].runs[0].font.size = Pt(28)
        body.paragraphs[0].runs[0].font.color.rgb = RGBColor(0x33, 0x55, 0x99)
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
        if number in hidden:
            slide._element.set("show", "0")
    presentation.save(str(path))
    return path


def make_zip_bomb(path: Path, *, expanded_bytes: int) -> Path:
    """Write a tiny ZIP with deck parts whose content expands to expanded_bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("ppt/presentation.xml", "<presentation/>")
        archive.writestr("ppt/slides/slide1.xml", "<sld/>")
        chunk = b"\0" * (1024 * 1024)
        with archive.open("ppt/media/padding.bin", "w", force_zip64=True) as member:
            for _ in range(expanded_bytes // len(chunk)):
                member.write(chunk)
    return path


def make_corrupt_zip(source: Path, path: Path) -> Path:
    """Write a copy of a real deck with bytes in the middle of its parts overwritten."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2048] = b"\xff" * 2048
    path.write_bytes(bytes(data))
    return path


def long_notes(sentences: int) -> str:
    """Speaker notes long enough to keep a voice busy for a couple of seconds of compute."""
    return " ".join(
        f"This is sentence number {number} of a long narration that keeps the voice busy."
        for number in range(1, sentences + 1)
    )


SAMPLE_SLIDES: list[tuple[str, str]] = [
    (
        "Welcome to Slidecast",
        "Welcome to Slidecast. This short deck shows how speaker notes become a narrated video.",
    ),
    (
        "How it works",
        "Each slide is rendered to an image. Its speaker notes are read aloud by a neural voice. "
        "Then every slide and its narration are joined into one video with captions.",
    ),
    ("A quiet slide", ""),
    (
        "Thank you",
        "That is all it takes. Upload a deck, choose a voice, and share the video.",
    ),
]
