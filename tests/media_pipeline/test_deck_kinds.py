"""A deck's kind comes from its content, not its name; a notes file replaces its notes."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from media_pipeline.deck import DeckLimits
from media_pipeline.deck_kinds import (
    ODP,
    PDF,
    PPTX,
    SNIFF_BYTES,
    check_deck,
    deck_kind,
    sniff_deck_kind,
)
from media_pipeline.errors import InvalidDeckError
from tests.decks import make_deck
from tests.media_pipeline.deck_files import make_odp, make_picture_pdf, rewrite_odp

LIMITS = DeckLimits()


@pytest.fixture(scope="module")
def odp(tmp_path_factory) -> Path:
    return make_odp(tmp_path_factory.mktemp("odp"), [("One", "First."), ("Two", "")])


def _head(path: Path) -> bytes:
    return path.read_bytes()[:SNIFF_BYTES]


def test_first_bytes_tell_the_three_kinds_apart(tmp_path: Path, odp: Path):
    pdf = make_picture_pdf(tmp_path / "a.pdf", 1)
    pptx = make_deck(tmp_path / "a.pptx", [("A", "")])

    assert [sniff_deck_kind(_head(path)) for path in (pdf, odp, pptx)] == [PDF, ODP, PPTX]
    assert sniff_deck_kind(b"plain text") == PPTX  # the .pptx checks say what it is


def test_the_name_never_decides(tmp_path: Path, odp: Path):
    pptx_named_pdf = shutil.copy(make_deck(tmp_path / "a.pptx", [("A", "")]), tmp_path / "a.pdf")
    pdf_named_pptx = shutil.copy(make_picture_pdf(tmp_path / "b.pdf", 2), tmp_path / "b.pptx")
    odp_named_pptx = shutil.copy(odp, tmp_path / "c.pptx")

    assert check_deck(Path(pptx_named_pdf), LIMITS).kind == PPTX
    assert check_deck(Path(pdf_named_pptx), LIMITS).kind == PDF
    assert check_deck(Path(odp_named_pptx), LIMITS).kind == ODP


def test_opendocument_parts_make_an_odp_even_with_the_mimetype_out_of_place(
    tmp_path: Path, odp: Path
):
    late = tmp_path / "late.odp"
    with zipfile.ZipFile(odp) as archive, zipfile.ZipFile(late, "w") as copy:
        for info in sorted(archive.infolist(), key=lambda info: info.filename == "mimetype"):
            copy.writestr(info, archive.read(info))

    assert sniff_deck_kind(_head(late)) == PPTX  # the first bytes alone cannot tell
    assert deck_kind(late, LIMITS) == ODP
    assert [s.notes for s in check_deck(late, LIMITS).slides] == ["First.", ""]


def test_an_odp_without_its_mimetype_gets_the_odp_message(tmp_path: Path, odp: Path):
    bare = rewrite_odp(odp, tmp_path / "bare.odp", drop={"mimetype"})
    with pytest.raises(InvalidDeckError, match="it has no mimetype entry"):
        check_deck(bare, LIMITS)


# --- Notes files -------------------------------------------------------------------------------


def _notes(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    return make_picture_pdf(tmp_path / "talk.pdf", 3)


def test_text_notes_file_gives_each_page_its_entry(tmp_path: Path, pdf: Path):
    notes = _notes(
        tmp_path, "notes.txt",
        "\ufeffWelcome to the talk.\nTwo lines here.\n---\n\n  ---  \nThe last page.\n",
    )  # fmt: skip
    slides = check_deck(pdf, LIMITS, notes_file=notes).slides
    assert [s.notes for s in slides] == [
        "Welcome to the talk.\nTwo lines here.",
        "",
        "The last page.",
    ]


def test_json_notes_file_of_strings_or_of_pages(tmp_path: Path, pdf: Path):
    strings = _notes(tmp_path, "a.json", json.dumps(["One.", "", "Three."]))
    pages = _notes(tmp_path, "b.json", json.dumps([{"page": 3, "notes": "Third."},
                                                    {"page": 1, "notes": "First."}]))  # fmt: skip
    assert [s.notes for s in check_deck(pdf, LIMITS, notes_file=strings).slides] == [
        "One.", "", "Three."
    ]  # fmt: skip
    assert [s.notes for s in check_deck(pdf, LIMITS, notes_file=pages).slides] == [
        "First.", "", "Third."
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("n.txt", "One\n---\nTwo",
         "The notes file has 2 entries but the deck has 3 pages; give one entry per page"),
        ("n.txt", "A\n---\nB\n---\nC\n---\nD",
         "The notes file has 4 entries but the deck has 3 pages"),
        ("n.json", json.dumps(["a", "b", "c", "d"]),
         "The notes file has 4 entries but the deck has 3 pages"),
        ("n.json", json.dumps([{"page": 4, "notes": "x"}]),
         "Entry 1 of the notes file is for page 4, but the deck has 3 pages."),
        ("n.json", json.dumps([{"page": 1, "notes": "x"}, {"page": 1, "notes": "y"}]),
         "more than one entry for page 1"),
        ("n.json", json.dumps(["a", {"page": 2, "notes": "b"}]), "mixes strings"),
        ("n.json", json.dumps({"1": "a"}), "must hold a JSON list"),
        ("n.json", "[\"unclosed", "not valid JSON (line 1)"),
        ("n.txt", b"caf\xe9", "not UTF-8 text"),
        ("n.md", "One", "must be a .txt or .json file"),
    ],
    ids=["too-few", "too-many", "json-too-many", "page-out-of-range", "page-twice",
         "mixed", "not-a-list", "bad-json", "not-utf8", "other-type"],
)  # fmt: skip
def test_notes_file_that_does_not_fit_is_refused(tmp_path: Path, pdf: Path, name, content, message):
    with pytest.raises(InvalidDeckError) as refused:
        check_deck(pdf, LIMITS, notes_file=_notes(tmp_path, name, content))
    assert message in refused.value.message


def test_notes_file_replaces_a_pptx_s_notes_and_meets_its_limits(tmp_path: Path):
    deck = make_deck(tmp_path / "talk.pptx", [("A", "Old notes."), ("B", "")], hidden=[2])
    notes = _notes(tmp_path, "n.txt", "New notes.")
    assert [s.notes for s in check_deck(deck, LIMITS, notes_file=notes).slides] == ["New notes."]

    long = _notes(tmp_path, "long.txt", "word " * 2000)
    with pytest.raises(InvalidDeckError, match="Slide 1's speaker notes are 9,999 characters"):
        check_deck(deck, LIMITS, notes_file=long)
    with pytest.raises(InvalidDeckError, match="has 2 entries but the deck has 1 slide;"):
        check_deck(deck, LIMITS, notes_file=_notes(tmp_path, "two.txt", "a\n---\nb"))
