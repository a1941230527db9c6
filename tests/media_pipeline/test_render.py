from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from media_pipeline.errors import DeckRenderError, ToolMissingError
from media_pipeline.render import RenderOptions, render_slides
from tests.decks import make_deck


def test_each_visible_slide_becomes_a_png_at_the_video_width(tmp_path: Path):
    deck = make_deck(
        tmp_path / "deck.pptx",
        [("One", ""), ("Two", ""), ("Hidden", ""), ("Four", "")],
        hidden=[3],
    )
    options = RenderOptions(width=1280, height=720, profile_root=tmp_path / "profiles")
    images = render_slides(deck, tmp_path / "out", options)
    assert [image.name for image in images] == ["slide-1.png", "slide-2.png", "slide-3.png"]
    assert {Image.open(image).size for image in images} == {(1280, 720)}


def test_four_by_three_deck_keeps_its_shape(tmp_path: Path):
    deck = make_deck(tmp_path / "deck.pptx", [("Square-ish", "")], widescreen=False)
    options = RenderOptions(width=1920, height=1080, profile_root=tmp_path / "profiles")
    [image] = render_slides(deck, tmp_path / "out", options)
    width, height = Image.open(image).size
    assert width / height == pytest.approx(4 / 3, abs=0.01)


def test_render_timeout_is_a_clear_error(tmp_path: Path):
    deck = make_deck(tmp_path / "deck.pptx", [("One", "")])
    options = RenderOptions(timeout_seconds=0.05, profile_root=tmp_path / "profiles")
    with pytest.raises(DeckRenderError, match=r"LibreOffice .* took longer than 0\.05 seconds"):
        render_slides(deck, tmp_path / "out", options)


def test_missing_libreoffice_names_the_setting(tmp_path: Path):
    deck = make_deck(tmp_path / "deck.pptx", [("One", "")])
    options = RenderOptions(soffice_binary="no-such-soffice", profile_root=tmp_path / "p")
    with pytest.raises(ToolMissingError, match="SLIDECAST_SOFFICE_BINARY"):
        render_slides(deck, tmp_path / "out", options)
