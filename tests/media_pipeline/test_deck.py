from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from media_pipeline.deck import DeckLimits, read_speaker_notes, validate_deck
from media_pipeline.errors import InvalidDeckError
from tests.decks import make_corrupt_zip, make_deck, make_zip_bomb


@pytest.fixture
def real_deck(tmp_path: Path) -> Path:
    return make_deck(
        tmp_path / "talk.pptx",
        [("Intro", "Hello there."), ("Body", "Line one.\nLine two."), ("End", "")],
    )


def test_valid_deck_reports_its_slide_count(real_deck: Path):
    assert validate_deck(real_deck, DeckLimits()).slide_count == 3


def test_text_file_renamed_pptx_is_not_a_zip(tmp_path: Path):
    fake = tmp_path / "notes.pptx"
    fake.write_text("These are my speaker notes, not a deck.")
    with pytest.raises(InvalidDeckError, match="not a PowerPoint deck .*not a ZIP archive"):
        validate_deck(fake, DeckLimits())


def test_corrupt_zip_is_reported_as_damaged(real_deck: Path, tmp_path: Path):
    corrupt = make_corrupt_zip(real_deck, tmp_path / "corrupt.pptx")
    with pytest.raises(InvalidDeckError, match="damaged ZIP archive"):
        validate_deck(corrupt, DeckLimits())


def test_truncated_zip_is_reported_as_damaged(real_deck: Path, tmp_path: Path):
    truncated = tmp_path / "truncated.pptx"
    truncated.write_bytes(real_deck.read_bytes()[:4000])
    with pytest.raises(InvalidDeckError, match="damaged ZIP archive"):
        validate_deck(truncated, DeckLimits())


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path):
    bomb = make_zip_bomb(tmp_path / "bomb.pptx", expanded_bytes=64 * 1024 * 1024)
    assert bomb.stat().st_size < 1024 * 1024
    limits = DeckLimits(max_uncompressed_bytes=32 * 1024 * 1024)
    with pytest.raises(InvalidDeckError, match="expands to 64.00 MB.*limit of 32 MB.*ZIP bomb"):
        validate_deck(bomb, limits)


def test_single_part_with_extreme_ratio_is_a_bomb(tmp_path: Path):
    bomb = make_zip_bomb(tmp_path / "bomb.pptx", expanded_bytes=64 * 1024 * 1024)
    with pytest.raises(InvalidDeckError, match="padding.bin.*expands .* times.*ZIP bomb"):
        validate_deck(bomb, DeckLimits())


def test_deck_with_zero_slides_is_refused(tmp_path: Path):
    empty = make_deck(tmp_path / "empty.pptx", [])
    with pytest.raises(InvalidDeckError, match="no slides"):
        validate_deck(empty, DeckLimits())


def test_file_over_the_size_limit_is_refused(real_deck: Path):
    limits = DeckLimits(max_file_bytes=10_000)
    expected = r"The file is \d+\.\d\d KB; the limit is 9\.77 KB\."
    with pytest.raises(InvalidDeckError, match=expected):
        validate_deck(real_deck, limits)


def test_too_many_slides_is_refused(real_deck: Path):
    with pytest.raises(InvalidDeckError, match="has 3 slides; the limit is 2"):
        validate_deck(real_deck, DeckLimits(max_slides=2))


def test_word_document_is_named_as_such(tmp_path: Path):
    doc = tmp_path / "report.pptx"
    with zipfile.ZipFile(doc, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    with pytest.raises(InvalidDeckError, match="it is a Word document"):
        validate_deck(doc, DeckLimits())


def test_legacy_ppt_gets_advice_to_save_as_pptx(tmp_path: Path):
    legacy = tmp_path / "old.pptx"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    with pytest.raises(InvalidDeckError, match=r"97-2003 file.*Save the presentation as \.pptx"):
        validate_deck(legacy, DeckLimits())


def test_empty_file_is_refused(tmp_path: Path):
    empty = tmp_path / "empty.pptx"
    empty.write_bytes(b"")
    with pytest.raises(InvalidDeckError, match="empty"):
        validate_deck(empty, DeckLimits())


def test_notes_are_read_in_order_with_line_breaks_kept(real_deck: Path):
    notes = read_speaker_notes(real_deck)
    assert [(n.number, n.notes) for n in notes] == [
        (1, "Hello there."),
        (2, "Line one.\nLine two."),
        (3, ""),
    ]


def test_hidden_slides_are_left_out_like_in_a_slideshow(tmp_path: Path):
    deck = make_deck(
        tmp_path / "hidden.pptx",
        [("One", "First."), ("Two", "Hidden."), ("Three", "Third.")],
        hidden=[2],
    )
    assert [(n.number, n.notes) for n in read_speaker_notes(deck)] == [
        (1, "First."),
        (3, "Third."),
    ]


def test_all_slides_hidden_is_refused(tmp_path: Path):
    deck = make_deck(tmp_path / "hidden.pptx", [("One", "First.")], hidden=[1])
    with pytest.raises(InvalidDeckError, match="Every slide in the deck is hidden"):
        read_speaker_notes(deck)
