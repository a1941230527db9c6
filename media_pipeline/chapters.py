"""Chapters of a narrated video: one per slide, named by its title.

The same chapters go into the MP4 (ffmpeg's FFMETADATA, muxed as the container's chapter
list) and into a WebVTT chapters track for web players.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from media_pipeline.captions import timestamp

MAX_TITLE_CHARS = 100
# Control, format (bidi overrides, zero-width), surrogate, private-use and unassigned
# characters: none of them reads as text in a player's chapter menu, and some reorder it.
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


@dataclass(frozen=True)
class Chapter:
    title: str
    start: float
    end: float


def clean_title(text: str) -> str:
    """Return the text as a one-line title: whitespace collapsed, no control characters,
    at most MAX_TITLE_CHARS characters (cut at a word, with an ellipsis)."""
    kept = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    title = " ".join(kept.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[: MAX_TITLE_CHARS - 1]
    if " " in cut and title[MAX_TITLE_CHARS - 1] != " ":
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def chapter_title(text: str, position: int) -> str:
    """Return the slide's cleaned title, or "Slide N" (its position in the video) if empty."""
    return clean_title(text) or f"Slide {position}"


def chapters_from(titles: Sequence[str], starts: Sequence[float], duration: float) -> list[Chapter]:
    """Return one chapter per slide, each ending where the next begins (the last at the end)."""
    if len(titles) != len(starts):
        raise ValueError(f"{len(titles)} titles for {len(starts)} slides")
    ends = [*starts[1:], duration]
    return [
        Chapter(title, start, end) for title, start, end in zip(titles, starts, ends, strict=True)
    ]


def to_ffmetadata(chapters: Sequence[Chapter]) -> str:
    """Return an FFMETADATA file that gives ffmpeg the chapters, in milliseconds."""
    lines = [";FFMETADATA1"]
    for chapter in chapters:
        lines += [
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={round(chapter.start * 1000)}",
            f"END={round(chapter.end * 1000)}",
            f"title={_ffmetadata_escape(chapter.title)}",
        ]
    return "\n".join(lines) + "\n"


def _ffmetadata_escape(text: str) -> str:
    # FFMETADATA gives these characters a meaning of their own: a backslash keeps them text.
    for char in ("\\", "=", ";", "#", "\n"):
        text = text.replace(char, "\\" + char)
    return text


def to_webvtt_chapters(chapters: Sequence[Chapter]) -> str:
    """Return a WebVTT chapters track; titles are escaped, so they are shown as written."""
    blocks = ["WEBVTT\nKind: chapters\n"]
    for number, chapter in enumerate(chapters, start=1):
        timing = f"{timestamp(chapter.start, '.')} --> {timestamp(chapter.end, '.')}"
        title = chapter.title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{number}\n{timing}\n{title}\n")
    return "\n".join(blocks)
