from __future__ import annotations

from media_pipeline.captions import (
    MAX_CUE_CHARS,
    Cue,
    sentence_cues,
    split_sentences,
    to_srt,
    to_webvtt,
    wrap_lines,
)


def test_sentences_split_at_end_punctuation_and_line_breaks():
    text = "Hello there. How are you?  Fine!\nA new line without a stop"
    assert split_sentences(text) == [
        "Hello there.",
        "How are you?",
        "Fine!",
        "A new line without a stop",
    ]


def test_short_sentence_is_one_cue_spanning_its_audio():
    assert sentence_cues("Hello there.", 1.0, 2.5) == [Cue(1.0, 2.5, "Hello there.")]


def test_long_sentence_is_split_into_readable_cues_that_tile_its_time():
    sentence = " ".join(["word"] * 60)
    cues = sentence_cues(sentence, 0.0, 12.0)
    assert len(cues) > 1
    assert all(len(cue.text) <= MAX_CUE_CHARS for cue in cues)
    assert cues[0].start == 0.0 and cues[-1].end == 12.0
    assert all(a.end == b.start for a, b in zip(cues, cues[1:], strict=False))
    assert " ".join(cue.text for cue in cues) == sentence


def test_lines_wrap_at_two_balanced_lines():
    wrapped = wrap_lines("Each slide is rendered to an image and read aloud by a voice.")
    first, second = wrapped.split("\n")
    assert abs(len(first) - len(second)) < 12


def test_srt_uses_commas_and_counts_from_one():
    srt = to_srt([Cue(0, 1.5, "Hello."), Cue(61.25, 3725.004, "Bye.")])
    assert srt == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n2\n00:01:01,250 --> 01:02:05,004\nBye.\n"
    )


def test_webvtt_has_header_dots_and_escapes_markup():
    vtt = to_webvtt([Cue(0, 1.5, "Fish & <chips>")])
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\n")
    assert "Fish &amp; &lt;chips>" in vtt
