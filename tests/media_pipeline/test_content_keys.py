"""Content keys change exactly when what they stand for changes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from media_pipeline.content_keys import audio_key, slide_image_keys, spoken_text
from media_pipeline.script import Lexicon
from media_pipeline.tts import NarrationOptions
from tests.decks import make_deck
from tests.media_pipeline.deck_files import edit_content, make_picture_pdf

SETTINGS = {"width": 1920, "height": 1080}
SLIDES = [("Intro", "Hello there."), ("Plan", "Three steps."), ("End", "Thanks.")]


def _keys(path: Path, kind: str = "pptx", numbers=(1, 2, 3), settings=None) -> list[str]:
    return slide_image_keys(path, kind, list(numbers), settings or SETTINGS)


def test_editing_notes_changes_no_slide_image_key(tmp_path):
    before = _keys(make_deck(tmp_path / "a.pptx", SLIDES))
    edited = [SLIDES[0], ("Plan", "Four steps, in a different order."), SLIDES[2]]
    assert _keys(make_deck(tmp_path / "b.pptx", edited)) == before
    assert len(set(before)) == 3


def test_editing_one_slide_changes_only_its_key(tmp_path):
    before = _keys(make_deck(tmp_path / "a.pptx", SLIDES))
    edited = [SLIDES[0], ("A new title", "Three steps."), SLIDES[2]]
    after = _keys(make_deck(tmp_path / "b.pptx", edited))
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1] != before[1]


def test_a_slide_added_at_the_end_keeps_the_others_keys(tmp_path):
    before = _keys(make_deck(tmp_path / "a.pptx", SLIDES))
    longer = _keys(make_deck(tmp_path / "b.pptx", [*SLIDES, ("More", "")]), numbers=(1, 2, 3, 4))
    assert longer[:3] == before


def test_a_changed_picture_changes_the_key_of_the_slide_showing_it(tmp_path):
    deck = make_deck(tmp_path / "a.pptx", SLIDES)
    before = _keys(deck)
    changed = tmp_path / "b.pptx"
    with zipfile.ZipFile(deck) as source, zipfile.ZipFile(changed, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "ppt/theme/theme1.xml":
                data = data.replace(b"Calibri", b"Cambria")
            target.writestr(info, data)
    # Every slide shows its theme: a changed theme changes every slide's key.
    assert all(a != b for a, b in zip(before, _keys(changed), strict=True))


def test_render_settings_are_part_of_the_key(tmp_path):
    deck = make_deck(tmp_path / "a.pptx", SLIDES)
    assert _keys(deck) != _keys(deck, settings={"width": 1280, "height": 720})


def test_pdf_pages_are_keyed_by_file_and_page(tmp_path):
    pdf = make_picture_pdf(tmp_path / "a.pdf", 3)
    keys = _keys(pdf, "pdf")
    assert len(set(keys)) == 3 and keys == _keys(pdf, "pdf")
    assert _keys(make_picture_pdf(tmp_path / "b.pdf", 4), "pdf", (1, 2, 3)) != keys


@pytest.mark.slow
def test_odp_keys_ignore_notes_but_not_slides(tmp_path):
    from tests.media_pipeline.deck_files import make_odp

    odp = make_odp(tmp_path / "odp", SLIDES)
    before = _keys(odp, "odp")
    notes_only = edit_content(
        odp, tmp_path / "notes.odp", lambda xml: xml.replace("Three steps.", "Four steps.")
    )
    assert _keys(notes_only, "odp") == before
    text = edit_content(odp, tmp_path / "text.odp", lambda xml: xml.replace(">Plan<", ">Agenda<"))
    assert _keys(text, "odp") != before


def test_audio_key_follows_everything_that_shapes_the_speech():
    options = NarrationOptions()
    base = {"engine": "piper", "voice_identity": "joe", "model_version": "1", "options": options}
    key = audio_key("Hello  there.\n", **base)
    assert key == audio_key("Hello there.", **base)  # spacing alone changes nothing
    changed = [
        audio_key("Hello there!", **base),
        audio_key("Hello there.", **{**base, "voice_identity": "amy"}),
        audio_key("Hello there.", **{**base, "model_version": "2"}),
        audio_key("Hello there.", **{**base, "engine": "xtts"}),
        audio_key("Hello there.", **{**base, "options": NarrationOptions(speaking_rate=1.1)}),
        audio_key(
            "Hello there.",
            **{**base, "options": NarrationOptions(lexicon=Lexicon.of([("there", "thair")]))},
        ),
        audio_key("Hello there.", **{**base, "options": NarrationOptions(padding_seconds=1)}),
    ]
    assert key not in changed and len(set(changed)) == len(changed)


def test_spoken_text_normalises_unicode_and_spacing():
    assert spoken_text("Cafe\u0301   au\tlait ") == "Caf\u00e9 au lait"
