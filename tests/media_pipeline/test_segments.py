"""Sentences and segments: boundaries, overlap, limits and offsets."""

from __future__ import annotations

import random
import time

import pytest

from media_pipeline.segments import (
    Segment,
    approximate_tokens,
    segment_text,
    split_sentences,
)

WORDS = [
    "the", "persona", "wrote", "about", "rivers", "bridges", "cities", "music", "weather",
    "markets", "gardens", "and", "long", "winter", "that", "followed", "a", "quiet", "year",
    "of", "building", "small", "things", "with", "patient", "hands",
]  # fmt: skip


def prose(sentences: int, *, seed: int = 1, paragraph_every: int = 0) -> str:
    """Return sentences of 8 to 20 words, with a blank line every `paragraph_every` of them."""
    chooser = random.Random(seed)
    parts = []
    for index in range(sentences):
        words = [chooser.choice(WORDS) for _ in range(chooser.randint(8, 20))]
        sentence = " ".join(words).capitalize() + chooser.choice((".", ".", "?", "!"))
        separator = "\n\n" if paragraph_every and index % paragraph_every == 0 and index else " "
        parts.append((separator if parts else "") + sentence)
    return "".join(parts)


def sentence_starts(text: str) -> set[int]:
    starts, position = set(), 0
    for sentence in split_sentences(text):
        position = text.index(sentence, position)
        starts.add(position)
        position += len(sentence)
    return starts


def count_words(text: str) -> int:
    return len(text.split())


# --- Sentences ---------------------------------------------------------------------------------


def test_abbreviations_initials_and_decimals_do_not_end_sentences():
    text = (
        "Dr. Smith said the rate rose 3.5 percent in the U.S. last year. "
        "J. R. R. Tolkien wrote it, e.g. in letters. See No. 5 and pp. 12-14 on Jan. 3. "
        "Mr. Jones agreed."
    )
    assert split_sentences(text) == [
        "Dr. Smith said the rate rose 3.5 percent in the U.S. last year.",
        "J. R. R. Tolkien wrote it, e.g. in letters.",
        "See No. 5 and pp. 12-14 on Jan. 3.",
        "Mr. Jones agreed.",
    ]


def test_quotes_questions_ellipses_and_paragraphs_end_sentences_where_they_should():
    text = (
        '"Go!" she said. Was it late? "It was," he wrote. And so... we left. '
        "I wondered... Then it rained.\n\nA heading without a stop\n\nThe end"
    )
    assert split_sentences(text) == [
        '"Go!" she said.',
        "Was it late?",
        '"It was," he wrote.',
        "And so... we left.",
        "I wondered...",
        "Then it rained.",
        "A heading without a stop",
        "The end",
    ]


def test_numbered_list_items_keep_their_numbers():
    assert split_sentences("Steps:\n1. Gather the notes.\n2. Write the talk.") == [
        "Steps:\n1. Gather the notes.",
        "2. Write the talk.",
    ]


def test_splitting_a_long_run_of_stops_takes_linear_time():
    started = time.perf_counter()
    split_sentences("!" * 300_000 + "x " + ". " * 300_000 + "?" * 300_000 + "y")
    assert time.perf_counter() - started < 5


def test_approximate_tokens_counts_words_and_punctuation_with_a_margin():
    assert approximate_tokens("") == 0
    assert approximate_tokens("Hello, world.") == 5  # 4 pieces × 1.2, rounded up
    assert approximate_tokens("antidisestablishmentarianism") == 4  # 3 pieces of ≤ 10 letters
    assert approximate_tokens("2024") == 5  # one piece a digit


# --- Segments ----------------------------------------------------------------------------------


def test_empty_text_has_no_segments():
    assert segment_text("") == []
    assert segment_text(" \n\n \t") == []


def test_short_text_is_one_segment():
    text = "Dr. Smith said hello. The rate rose 3.5 percent."
    assert segment_text(text) == [
        Segment(position=0, text=text, start=0, end=len(text), token_count=approximate_tokens(text))
    ]


def test_segments_start_at_sentences_and_point_into_the_text():
    text = prose(400)
    segments = segment_text(text)
    starts = sentence_starts(text)
    assert [segment.position for segment in segments] == list(range(len(segments)))
    for segment in segments:
        assert text[segment.start : segment.end] == segment.text
        assert segment.start in starts
        assert segment.end == len(text) or text[segment.end] == " "
        assert segment.token_count == approximate_tokens(segment.text) <= 256
    assert segments[-1].end == len(text)


def test_segments_are_about_the_target_size():
    segments = segment_text(prose(400))
    sizes = [segment.token_count for segment in segments[:-1]]
    assert min(sizes) > 150 and max(sizes) <= 200


def test_consecutive_segments_overlap_by_whole_sentences_but_never_all_of_one():
    text = prose(400)
    segments = segment_text(text, overlap_tokens=40)
    starts = sentence_starts(text)
    for previous, current in zip(segments, segments[1:], strict=False):
        assert previous.start < current.start < previous.end  # overlap, and progress
        assert current.start in starts
        shared = text[current.start : previous.end]
        assert 0 < approximate_tokens(shared) <= 40 + 5  # whole sentences, about the overlap


def test_no_overlap_when_asked_for_none():
    segments = segment_text(prose(200), overlap_tokens=0)
    for previous, current in zip(segments, segments[1:], strict=False):
        assert current.start > previous.end


def test_paragraph_boundaries_are_preferred():
    text = prose(40, paragraph_every=6)
    segments = segment_text(text, count_tokens=count_words, target_tokens=120, max_tokens=150)
    paragraph_ends = {index for index in range(len(text)) if text.startswith("\n\n", index)}
    ends = [segment.end for segment in segments[:-1]]
    assert sum(end in paragraph_ends for end in ends) >= len(ends) - 1


def test_a_sentence_over_the_limit_is_cut_between_words():
    sentence = " ".join(f"word{index}" for index in range(1000)) + "."
    text = f"A short opening. {sentence} A short close."
    segments = segment_text(text, count_tokens=count_words, target_tokens=80, max_tokens=100)
    assert max(segment.token_count for segment in segments) <= 100
    for segment in segments:
        assert text[segment.start : segment.end] == segment.text
        assert segment.start == 0 or text[segment.start - 1] == " "
        assert segment.end == len(text) or text[segment.end] == " "
    covered = " ".join(segment.text for segment in segments)
    assert all(f"word{index} " in covered for index in range(999))


def test_a_word_over_the_limit_is_cut_by_characters():
    text = "Before. " + "x" * 5000 + " after."
    segments = segment_text(
        text, count_tokens=len, target_tokens=300, max_tokens=400, overlap_tokens=0
    )
    assert all(segment.token_count <= 400 for segment in segments)
    assert "".join(segment.text for segment in segments if "x" in segment.text).count("x") == 5000


def test_an_overlong_unpunctuated_text_is_cut_in_time():
    text = " ".join(random.Random(3).choice(WORDS) for _ in range(200_000))
    started = time.perf_counter()
    segments = segment_text(text)
    assert time.perf_counter() - started < 10
    assert max(segment.token_count for segment in segments) <= 256


def test_a_tokenizer_that_counts_joined_text_higher_is_still_kept_under_the_limit():
    def strict_count(text: str) -> int:
        return count_words(text) + text.count(". ") * 3  # joins cost extra tokens

    segments = segment_text(prose(200), count_tokens=strict_count, target_tokens=60, max_tokens=64)
    assert all(segment.token_count == strict_count(segment.text) <= 64 for segment in segments)


@pytest.mark.parametrize(
    "options",
    [
        {"target_tokens": 0},
        {"target_tokens": 300, "max_tokens": 256},
        {"overlap_tokens": 200},
        {"overlap_tokens": -1},
    ],
)
def test_nonsense_sizes_are_refused(options):
    with pytest.raises(ValueError):
        segment_text("Some text.", **options)
