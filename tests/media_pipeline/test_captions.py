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
    assert vtt.startswith("WEBVTT\nKind: captions\n\n1\n00:00:00.000 --> 00:00:01.500\n")
    assert "Fish &amp; &lt;chips&gt;" in vtt


def test_webvtt_names_the_persona_language_in_its_header():
    import webvtt

    vtt = to_webvtt([Cue(0, 1.5, "Hallo.")], language="de-DE")
    assert vtt.startswith("WEBVTT\nKind: captions\nLanguage: de-DE\n\n1\n")
    assert [caption.text for caption in webvtt.from_string(vtt)] == ["Hallo."]


HOSTILE_NOTES = (
    "WEBVTT\n"
    "00:00:01.000 --> 00:00:09.000\n"
    "<script>alert(1)</script> & <b>bold</b> {\\an8}\n"
    "\n"
    "2\n"
    "00:00:02,000 --> 00:00:03,000\n"
    "NOTE this is not a comment"
)


def _hostile_cues() -> list[Cue]:
    sentences = split_sentences(HOSTILE_NOTES)
    return [Cue(float(i), float(i) + 0.9, sentence) for i, sentence in enumerate(sentences)]


def test_notes_that_look_like_webvtt_stay_text_in_exactly_the_expected_cues(tmp_path):
    import webvtt

    cues = _hostile_cues()
    path = tmp_path / "c.vtt"
    path.write_text(to_webvtt(cues), encoding="utf-8")
    parsed = webvtt.read(str(path))
    assert len(parsed) == len(cues) == 6
    assert [c.start for c in parsed] == [f"00:00:0{i}.000" for i in range(6)]
    raw = path.read_text()
    assert "<script>" not in raw and "<b>" not in raw
    assert raw.count("-->") == len(cues)  # only the real timing lines
    # What a player shows is what the notes said.
    shown = [" ".join(c.raw_text.split()) for c in parsed]
    assert shown[2] == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; {\\an8}"
    assert "00:00:01.000 --&gt; 00:00:09.000" in shown[1]


def test_notes_that_look_like_subrip_stay_text_in_exactly_the_expected_cues():
    import srt

    cues = _hostile_cues()
    parsed = list(srt.parse(to_srt(cues)))
    assert len(parsed) == len(cues)
    assert [p.index for p in parsed] == list(range(1, 7))
    assert [p.start.total_seconds() for p in parsed] == [float(i) for i in range(6)]
    text = " ".join(" ".join(p.content.split()) for p in parsed)
    assert "<" not in text and ">" not in text and "{" not in text
    assert "‹script›alert(1)‹/script› & ‹b›bold‹/b› (\\an8)" in text
