"""OpenDocument presentations: the .pptx limits, notes and titles from content.xml, no links."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from PIL import Image

from media_pipeline.deck import DeckLimits
from media_pipeline.deck_kinds import ODP, check_deck, render_deck
from media_pipeline.errors import InvalidDeckError
from media_pipeline.odp_sanitize import sanitize_odp
from media_pipeline.render import RenderOptions
from tests.media_pipeline.deck_files import (
    edit_content,
    make_odp,
    odp_zip_bomb,
    rewrite_odp,
    with_linked_picture,
)

SLIDES = [
    ("Welcome", "Welcome to the review.\nIt is short."),
    ("Left out", "Nobody hears this."),
    ("Numbers", ""),
]
ODP_MIMETYPE = b"application/vnd.oasis.opendocument.presentation"


@pytest.fixture(scope="module")
def odp(tmp_path_factory) -> Path:
    """An .odp of three slides, the second hidden (LibreOffice converts once per module)."""
    return make_odp(tmp_path_factory.mktemp("odp"), SLIDES, hidden=[2])


def _refusal(path: Path, limits: DeckLimits | None = None) -> str:
    with pytest.raises(InvalidDeckError) as refused:
        check_deck(path, limits or DeckLimits())
    return refused.value.message


def test_shown_slides_keep_their_notes_and_titles(odp: Path):
    checked = check_deck(odp, DeckLimits())

    assert checked.kind == ODP
    assert [(s.number, s.title, s.notes) for s in checked.slides] == [
        (1, "Welcome", "Welcome to the review.\nIt is short."),
        (3, "Numbers", ""),
    ]


def test_slides_render_through_libreoffice(odp: Path, tmp_path: Path):
    checked = check_deck(odp, DeckLimits())
    options = RenderOptions(width=640, height=360, profile_root=tmp_path / "profiles")

    rendered = render_deck(odp, checked, tmp_path / "render", options)

    assert [Image.open(slide.image).size for slide in rendered.slides] == [(640, 360)] * 2
    assert [slide.title for slide in rendered.slides] == ["Welcome", "Numbers"]


def test_first_line_stands_in_for_a_missing_title_frame(odp: Path, tmp_path: Path):
    untitled = edit_content(
        odp, tmp_path / "untitled.odp",
        lambda xml: xml.replace('presentation:class="title"', 'presentation:class="subtitle"'),
    )  # fmt: skip
    # The title frame is now an ordinary frame: its text is still the first line.
    assert [s.title for s in check_deck(untitled, DeckLimits()).slides] == ["Welcome", "Numbers"]


def test_more_slides_than_the_limit_are_refused(odp: Path):
    assert "The presentation has 3 slides; the limit is 2." in _refusal(
        odp, DeckLimits(max_slides=2)
    )


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path):
    bomb = odp_zip_bomb(tmp_path / "bomb.odp", expanded_bytes=64 * 1024 * 1024)
    assert bomb.stat().st_size < 1024 * 1024
    assert "ZIP bomb" in _refusal(bomb)


def test_archive_without_a_mimetype_is_refused(odp: Path, tmp_path: Path):
    bare = rewrite_odp(odp, tmp_path / "bare.odp", drop={"mimetype"})
    message = _refusal(bare)
    assert "not a valid OpenDocument presentation (.odp): it has no mimetype entry" in message


def test_other_opendocument_kinds_are_named(odp: Path, tmp_path: Path):
    text = rewrite_odp(
        odp, tmp_path / "letter.odp",
        replace={"mimetype": b"application/vnd.oasis.opendocument.text"},
    )  # fmt: skip
    assert _refusal(text) == (
        "The file is an OpenDocument text document (.odt), not a presentation."
    )


def test_dtd_in_content_is_refused(odp: Path, tmp_path: Path):
    laughs = edit_content(
        odp, tmp_path / "laughs.odp",
        lambda xml: xml.replace("?>", '?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]>', 1),
    )  # fmt: skip
    assert "contains a DTD" in _refusal(laughs)


def test_password_protected_presentation_is_refused(odp: Path, tmp_path: Path):
    with zipfile.ZipFile(odp) as archive:
        manifest = archive.read("META-INF/manifest.xml").decode()
    locked = manifest.replace(
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>',
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        '<manifest:encryption-data manifest:checksum-type="SHA1" manifest:checksum="AAAA"/>'
        "</manifest:file-entry>",
    )
    assert locked != manifest
    path = rewrite_odp(odp, tmp_path / "locked.odp", replace={"META-INF/manifest.xml": locked})
    assert "password-protected" in _refusal(path)


def test_linked_pictures_are_left_out_of_the_copy_for_libreoffice(odp: Path, tmp_path: Path):
    linked = with_linked_picture(odp, tmp_path / "web.odp", "http://127.0.0.1:9/logo.png")
    local = with_linked_picture(linked, tmp_path / "local.odp", "/etc/hostname")
    inside = with_linked_picture(local, tmp_path / "inside.odp", "Pictures/kept.png")

    copy = sanitize_odp(inside, tmp_path / "copy.odp")

    assert sorted(copy.removed_links) == [
        "a linked image (/etc/hostname) in content.xml",
        "a linked image (http://127.0.0.1:9/logo.png) in content.xml",
    ]
    with zipfile.ZipFile(copy.path) as archive:
        content = archive.read("content.xml").decode()
        first = archive.infolist()[0]
    assert "127.0.0.1" not in content and "/etc/hostname" not in content
    assert 'xlink:href="Pictures/kept.png"' in content
    assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)
    assert check_deck(copy.path, DeckLimits()).kind == ODP


def test_copy_without_links_is_the_same_content(odp: Path, tmp_path: Path):
    copy = sanitize_odp(odp, tmp_path / "copy.odp")
    assert copy.removed_links == ()
    with zipfile.ZipFile(odp) as original, zipfile.ZipFile(copy.path) as cleaned:
        assert original.read("content.xml") == cleaned.read("content.xml")
        assert cleaned.read("mimetype") == ODP_MIMETYPE
