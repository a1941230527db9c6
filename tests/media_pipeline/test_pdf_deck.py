"""PDF decks: every page a slide, checked with pypdf before poppler renders it in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import NameObject, NumberObject

from media_pipeline.archive import MB
from media_pipeline.deck import DeckLimits
from media_pipeline.deck_kinds import PDF, check_deck, render_deck
from media_pipeline.errors import InvalidDeckError
from media_pipeline.pdf_deck import validate_pdf
from media_pipeline.render import RenderOptions
from tests.decks import make_deck
from tests.media_pipeline.deck_files import (
    encrypted_pdf,
    make_picture_pdf,
    make_text_pdf,
    truncated,
)


@pytest.fixture
def options(tmp_path: Path) -> RenderOptions:
    return RenderOptions(width=640, height=360, profile_root=tmp_path / "profiles")


def _refusal(path: Path, limits: DeckLimits | None = None) -> str:
    with pytest.raises(InvalidDeckError) as refused:
        check_deck(path, limits or DeckLimits())
    return refused.value.message


def _blank_pages_pdf(path: Path, *sizes: tuple[float, float]) -> Path:
    writer = PdfWriter()
    for width, height in sizes:
        writer.add_blank_page(width=width, height=height)
    writer.write(path)
    return path


def test_each_page_is_a_silent_slide(tmp_path: Path):
    checked = check_deck(make_picture_pdf(tmp_path / "talk.pdf", 3), DeckLimits())

    assert checked.kind == PDF
    assert [(slide.number, slide.notes) for slide in checked.slides] == [(1, ""), (2, ""), (3, "")]


def test_pages_render_with_poppler_at_the_video_size(tmp_path: Path, options):
    pdf = make_picture_pdf(tmp_path / "talk.pdf", 3, size=(1600, 900))
    checked = check_deck(pdf, DeckLimits())

    rendered = render_deck(pdf, checked, tmp_path / "render", options)

    assert [Image.open(slide.image).size for slide in rendered.slides] == [(640, 360)] * 3
    # Pictures without text have no title: the job names them by position.
    assert [slide.title for slide in rendered.slides] == ["", "", ""]
    assert not (tmp_path / "render" / "slides").exists(), "LibreOffice is not involved"
    assert rendered.removed_links == ()


def test_a_page_s_first_line_of_text_is_its_title(tmp_path: Path, options):
    pdf = make_text_pdf(tmp_path, [("Welcome aboard", ""), ("Numbers & plans", "")])
    checked = check_deck(pdf, DeckLimits())

    rendered = render_deck(pdf, checked, tmp_path / "render", options)

    assert [slide.title for slide in rendered.slides] == ["Welcome aboard", "Numbers & plans"]


@pytest.mark.parametrize("user_password", ["secret", ""], ids=["password", "restrictions-only"])
def test_encrypted_pdf_is_refused(tmp_path: Path, user_password: str):
    source = make_picture_pdf(tmp_path / "plain.pdf", 2)
    locked = encrypted_pdf(source, tmp_path / "locked.pdf", user_password=user_password)

    message = _refusal(locked)

    assert "The PDF is encrypted" in message and "without a password" in message


def test_truncated_pdf_is_refused_as_cut_short(tmp_path: Path):
    cut = truncated(make_picture_pdf(tmp_path / "whole.pdf", 3), tmp_path / "cut.pdf")
    assert "The PDF is cut short" in _refusal(cut)


def test_pdf_with_a_broken_structure_is_refused_as_damaged(tmp_path: Path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 9 0 R>>endobj\n" + b"\x00" * 64
                       + b"\ntrailer<</Root 7 0 R>>\n%%EOF\n")  # fmt: skip
    message = _refusal(broken)
    assert "The PDF is damaged" in message
    assert "Traceback" not in message and "pypdf" not in message


def test_pdf_without_pages_is_refused(tmp_path: Path):
    empty = _blank_pages_pdf(tmp_path / "empty.pdf")
    assert "The PDF has no pages" in _refusal(empty)


def test_page_count_over_the_limit_is_refused_before_rendering(tmp_path: Path):
    pdf = make_picture_pdf(tmp_path / "long.pdf", 4)
    message = _refusal(pdf, DeckLimits(max_slides=3))
    assert message.startswith("The PDF has 4 pages; the limit is 3.")


def test_a_page_tree_declaring_too_many_pages_is_refused_unwalked(tmp_path: Path):
    writer = PdfWriter()
    writer.add_blank_page(width=800, height=450)
    # One page, declared as five million: the declaration alone is refused.
    writer._root_object["/Pages"][NameObject("/Count")] = NumberObject(5_000_000)
    writer.write(tmp_path / "declared.pdf")
    assert "The PDF has 5,000,000 pages; the limit is 200." in _refusal(tmp_path / "declared.pdf")


@pytest.mark.parametrize(
    ("size", "phrase"),
    [
        ((2000, 20), "thin strip"),
        ((20000, 12000), "larger than a PDF page may be"),
        ((0.5, 300), "no usable size"),
    ],
    ids=["strip", "huge", "degenerate"],
)
def test_pages_of_no_usable_shape_are_refused(tmp_path: Path, size, phrase):
    pdf = _blank_pages_pdf(tmp_path / "odd.pdf", (800, 450), size)
    message = _refusal(pdf)
    assert message.startswith("Page 2 of the PDF") and phrase in message


def test_pdf_that_is_also_a_zip_archive_is_refused(tmp_path: Path):
    deck = make_deck(tmp_path / "inner.pptx", [("A", "")])
    polyglot = tmp_path / "polyglot.pdf"
    polyglot.write_bytes(make_picture_pdf(tmp_path / "p.pdf", 1).read_bytes() + deck.read_bytes())
    assert "before the ZIP archive" in _refusal(polyglot)


def test_pdf_over_the_size_limit_is_refused(tmp_path: Path):
    pdf = make_picture_pdf(tmp_path / "big.pdf", 1)
    message = _refusal(pdf, DeckLimits(max_file_bytes=100))
    assert message.startswith("The file is ") and "the limit is 100 bytes" in message


def test_validation_reads_structure_only(tmp_path: Path):
    summary = validate_pdf(make_picture_pdf(tmp_path / "talk.pdf", 2), DeckLimits())
    assert summary.slide_count == 2 and summary.uncompressed_bytes < MB
