"""Slide titles become chapters: the title rule, cleaning, and the chapters in MP4 and WebVTT."""

from __future__ import annotations

import html
import json
import subprocess
from pathlib import Path

import pytest
import webvtt
from pptx import Presentation
from pptx.util import Inches

from media_pipeline.chapters import (
    MAX_TITLE_CHARS,
    Chapter,
    chapter_title,
    chapters_from,
    clean_title,
    to_ffmetadata,
    to_webvtt_chapters,
)
from media_pipeline.deck import DeckLimits, validate_deck
from media_pipeline.tools import find_ffmpeg
from media_pipeline.video import VideoOptions, assemble_video
from tests.media_pipeline.test_video import make_clip

TITLE_ONLY, TITLE_AND_CONTENT, BLANK = 0, 1, 6  # python-pptx default template's layouts


def _text_box(slide, text: str):
    box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(2))
    box.text_frame.text = text
    return box


def _titles(path: Path) -> list[str]:
    return [slide.title for slide in validate_deck(path, DeckLimits()).slides]


def test_title_placeholder_and_centre_title_are_the_titles_python_pptx_finds(tmp_path: Path):
    presentation = Presentation()
    centre = presentation.slides.add_slide(presentation.slide_layouts[TITLE_ONLY])
    centre.shapes.title.text = "Quarterly review"
    centre.placeholders[1].text = "A subtitle, not the title"
    body = presentation.slides.add_slide(presentation.slide_layouts[TITLE_AND_CONTENT])
    body.shapes.title.text = "Sales by region"
    body.placeholders[1].text = "North\nSouth"
    # A text box placed before the title in the slide's shape order: the title still wins.
    early = presentation.slides.add_slide(presentation.slide_layouts[TITLE_AND_CONTENT])
    early.shapes.title.text = "Hiring"
    box = _text_box(early, "A caption drawn first")
    early.shapes._spTree.remove(box._element)
    early.shapes._spTree.insert(2, box._element)
    presentation.save(tmp_path / "deck.pptx")

    expected = [slide.shapes.title.text for slide in Presentation(tmp_path / "deck.pptx").slides]
    assert expected == ["Quarterly review", "Sales by region", "Hiring"]
    assert _titles(tmp_path / "deck.pptx") == expected


def test_slide_without_a_title_takes_its_first_non_empty_line(tmp_path: Path):
    presentation = Presentation()
    blank = presentation.slides.add_slide(presentation.slide_layouts[BLANK])
    _text_box(blank, "\n   \nRevenue grew 12%\nsecond line")
    empty_title = presentation.slides.add_slide(presentation.slide_layouts[TITLE_AND_CONTENT])
    empty_title.placeholders[1].text = "Body text stands in"
    presentation.save(tmp_path / "deck.pptx")

    assert _titles(tmp_path / "deck.pptx") == ["Revenue grew 12%", "Body text stands in"]


def test_slide_without_text_is_named_by_its_position_in_the_video(tmp_path: Path):
    presentation = Presentation()
    for _ in range(3):
        presentation.slides.add_slide(presentation.slide_layouts[BLANK])
    presentation.slides[0]._element.set("show", "0")  # hidden: not in the video
    presentation.save(tmp_path / "deck.pptx")

    titles = _titles(tmp_path / "deck.pptx")
    assert titles == ["", ""]
    assert [chapter_title(t, n) for n, t in enumerate(titles, 1)] == ["Slide 1", "Slide 2"]


def test_cleaning_collapses_whitespace_and_drops_control_characters():
    assert clean_title("  Sales\n\tby\u00a0 region  ") == "Sales by region"
    assert clean_title("Bell\x07 and\x00 escape\x1b[31m") == "Bell and escape[31m"
    assert clean_title("evil\u202eright-to-left\u200b") == "evilright-to-left"
    assert clean_title("\x00\x01 \n") == ""
    assert chapter_title("\x00 \n", 4) == "Slide 4"


def test_long_titles_are_cut_at_a_word_to_the_limit():
    title = clean_title("word " * 40)
    assert len(title) <= MAX_TITLE_CHARS and title.endswith("word…")
    unbroken = clean_title("x" * 300)
    assert unbroken == "x" * (MAX_TITLE_CHARS - 1) + "…"
    assert clean_title("y" * MAX_TITLE_CHARS) == "y" * MAX_TITLE_CHARS


def test_ffmetadata_escapes_what_the_format_gives_a_meaning():
    text = to_ffmetadata([Chapter("a=b; c#d \\ e", 0.0, 1.5)])
    assert text.splitlines() == [
        ";FFMETADATA1", "[CHAPTER]", "TIMEBASE=1/1000", "START=0", "END=1500",
        "title=a\\=b\\; c\\#d \\\\ e",
    ]  # fmt: skip


def test_webvtt_chapters_parse_back_with_their_titles_and_times(tmp_path: Path):
    chapters = chapters_from(["Intro", "Q&A <live> --> now", "Ende — “fin”"], [0, 2.5, 61.04], 75)
    path = tmp_path / "chapters.vtt"
    path.write_text(to_webvtt_chapters(chapters), encoding="utf-8")

    cues = webvtt.read(str(path))
    # The markup-like title is escaped in the file and reads as written once unescaped.
    assert cues[1].text == "Q&amp;A &lt;live&gt; --&gt; now"
    assert [html.unescape(cue.text) for cue in cues] == [
        "Intro",
        "Q&A <live> --> now",
        "Ende — “fin”",
    ]
    assert [(cue.start, cue.end) for cue in cues] == [
        ("00:00:00.000", "00:00:02.500"),
        ("00:00:02.500", "00:01:01.040"),
        ("00:01:01.040", "00:01:15.000"),
    ]


def _chapters(video: Path) -> list[dict]:
    ffprobe = str(Path(find_ffmpeg()).with_name("ffprobe"))
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_chapters", "-of", "json", str(video)],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)["chapters"]


def test_assembled_video_carries_one_chapter_per_slide_at_its_start(tmp_path: Path):
    clips = [
        make_clip(tmp_path, "red", "#ff0000", 1.3),
        make_clip(tmp_path, "blue", "#0000ff", 0.9),
        make_clip(tmp_path, "green", "#00ff00", 1.1),
    ]
    titles = ["Intro", "Q&A = 1; #2 \\ done", "Ünïcode — “quotes”"]
    options = VideoOptions(width=320, height=180, fps=25)
    video = assemble_video(
        clips, tmp_path / "out.mp4", tmp_path / "work", options, chapter_titles=titles
    )

    chapters = _chapters(video.path)
    assert [chapter["tags"]["title"] for chapter in chapters] == titles
    starts = [float(chapter["start_time"]) for chapter in chapters]
    assert starts == pytest.approx(list(video.slide_starts), abs=0.001)
    ends = [float(chapter["end_time"]) for chapter in chapters]
    assert ends == pytest.approx([*video.slide_starts[1:], video.duration], abs=0.001)


def test_video_without_titles_has_no_chapters(tmp_path: Path):
    clips = [make_clip(tmp_path, "red", "#ff0000", 1.0)]
    options = VideoOptions(width=320, height=180)
    video = assemble_video(clips, tmp_path / "out.mp4", tmp_path / "work", options)
    assert _chapters(video.path) == []
