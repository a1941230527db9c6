"""Pause markup and pronunciation lexicons: heard in the audio, never in the captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media_pipeline.asr import transcribe
from media_pipeline.audio import read_wav
from media_pipeline.script import (
    Lexicon,
    NarrationMarkupError,
    Pause,
    Speech,
    parse_script,
    spoken_text,
)
from media_pipeline.tts import EngineRegistry, NarrationOptions, PiperEngine, narrate

VOICE = "en_US-joe-medium"


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    return EngineRegistry().get("piper")


def test_pauses_are_read_from_the_notes_in_order():
    assert parse_script("Hello. [pause:1.5] World. [PAUSE: 2 s]") == [
        Speech("Hello. "), Pause(1.5), Speech(" World. "), Pause(2.0),
    ]  # fmt: skip
    assert spoken_text("First [pause:0.5] second").split() == ["First", "second"]


@pytest.mark.parametrize(
    "markup",
    ["[pause:abc]", "[pause:10.5]", "[pause:0.05]", "[pause]", "[pause:-1]", "[pause:1,5]"],
)
def test_markup_that_is_not_a_pause_says_how_to_write_one(markup):
    with pytest.raises(NarrationMarkupError) as error:
        parse_script(f"Before {markup} after.")
    assert markup in error.value.message
    assert "[pause:SECONDS]" in error.value.message and "0.1 to 10" in error.value.message
    assert error.value.permanent


def test_other_brackets_are_spoken_as_written():
    assert parse_script("Say [laughs] and [pauses] too.") == [
        Speech("Say [laughs] and [pauses] too.")
    ]


def test_lexicon_matches_whole_words_ignoring_case_longest_first():
    lexicon = Lexicon.of(
        [("SQL", "sequel"), ("SQL Server", "sequel server"), ("nginx", "engine x")]
    )
    assert lexicon.apply("Run sql  server and NGINX, not SQLite.") == (
        "Run sequel server and engine x, not SQLite."
    )
    assert Lexicon().apply("unchanged") == "unchanged"


def test_a_lexicon_beyond_its_limits_is_refused():
    with pytest.raises(NarrationMarkupError, match="1 to 100 characters"):
        Lexicon.of([("x" * 101, "y")])


def _longest_silence(wav: Path, start: float, end: float) -> float:
    samples, rate = read_wav(wav)
    window = samples[int(start * rate) : int(end * rate)].astype(np.float64)
    quiet = np.abs(window) < 300
    longest = run = 0
    for is_quiet in quiet:
        run = run + 1 if is_quiet else 0
        longest = max(longest, run)
    return longest / rate


def test_a_pause_is_silence_in_the_audio_and_absent_from_the_captions(piper, tmp_path: Path):
    narration = narrate(
        "We start here. [pause:2] Then we go on.",
        engine=piper, voice=VOICE, options=NarrationOptions(), out_wav=tmp_path / "p.wav",
    )  # fmt: skip
    first, second = narration.cues
    assert [first.text, second.text] == ["We start here.", "Then we go on."]
    assert second.start - first.end == pytest.approx(2.0, abs=0.02)
    assert _longest_silence(narration.wav_path, first.end - 0.1, second.start + 0.1) >= 1.9
    assert "pause" not in transcribe(narration.wav_path).text.lower()


def test_notes_of_only_a_pause_give_that_silence_then_the_padding(piper, tmp_path: Path):
    narration = narrate(
        "[pause:1.2]", engine=piper, voice=VOICE,
        options=NarrationOptions(padding_seconds=0.5, empty_slide_seconds=3.0),
        out_wav=tmp_path / "q.wav",
    )  # fmt: skip
    assert narration.cues == ()
    assert narration.duration == pytest.approx(1.7, abs=0.05)


def test_the_lexicon_changes_what_is_heard_but_not_the_captions(piper, tmp_path: Path):
    text = "Our product is called Slidecast."
    plain = narrate(
        text, engine=piper, voice=VOICE, options=NarrationOptions(), out_wav=tmp_path / "a.wav"
    )
    respelt = narrate(
        text, engine=piper, voice=VOICE, out_wav=tmp_path / "b.wav",
        options=NarrationOptions(lexicon=Lexicon.of([("slidecast", "banana bread")])),
    )  # fmt: skip
    assert [cue.text for cue in respelt.cues] == [text] == [cue.text for cue in plain.cues]
    heard_plain = transcribe(plain.wav_path).text.lower()
    heard_respelt = transcribe(respelt.wav_path).text.lower()
    assert "banana" not in heard_plain
    assert "banana" in heard_respelt, heard_respelt
