from __future__ import annotations

from pathlib import Path

import pytest

from media_pipeline.asr import transcribe, whisper_language, word_error_rate
from media_pipeline.audio import wav_duration
from media_pipeline.errors import ModelNotFoundError, UnsupportedEngineError
from media_pipeline.tts import EngineRegistry, NarrationOptions, PiperEngine, narrate

VOICE = "en_US-joe-medium"


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    return EngineRegistry().get("piper")


def test_narration_speaks_the_notes_with_a_cue_per_sentence(piper, tmp_path: Path):
    text = "The quarterly review went well. Sales grew in every region."
    narration = narrate(
        text, engine=piper, voice=VOICE, options=NarrationOptions(), out_wav=tmp_path / "a.wav"
    )
    assert [cue.text for cue in narration.cues] == [
        "The quarterly review went well.",
        "Sales grew in every region.",
    ]
    first, second = narration.cues
    assert 0 <= first.start < first.end < second.start < second.end < narration.duration
    # Two short sentences take a few seconds to say, plus the half-second pause after them.
    assert 2.5 < narration.duration < 8
    assert narration.duration - second.end == pytest.approx(0.5, abs=0.05)
    heard = transcribe(narration.wav_path).text
    assert word_error_rate(text, heard) < 0.15, heard


def test_audio_lasts_a_whole_number_of_video_frames(piper, tmp_path: Path):
    narration = narrate(
        "One sentence.",
        engine=piper,
        voice=VOICE,
        options=NarrationOptions(fps=25),
        out_wav=tmp_path / "a.wav",
    )
    frames = wav_duration(narration.wav_path) * 25
    assert frames == pytest.approx(round(frames), abs=1e-9)


def test_empty_notes_slide_gets_silence_of_the_configured_length(piper, tmp_path: Path):
    narration = narrate(
        "  \n ",
        engine=piper,
        voice=VOICE,
        options=NarrationOptions(empty_slide_seconds=2.0),
        out_wav=tmp_path / "a.wav",
    )
    assert narration.cues == ()
    assert wav_duration(narration.wav_path) == pytest.approx(2.0, abs=0.04)


def test_faster_speaking_rate_gives_shorter_audio(piper, tmp_path: Path):
    text = "Speaking faster makes the narration shorter than before."
    normal = narrate(
        text,
        engine=piper,
        voice=VOICE,
        options=NarrationOptions(speaking_rate=1.0, padding_seconds=0),
        out_wav=tmp_path / "normal.wav",
    )
    fast = narrate(
        text,
        engine=piper,
        voice=VOICE,
        options=NarrationOptions(speaking_rate=1.5, padding_seconds=0),
        out_wav=tmp_path / "fast.wav",
    )
    assert fast.duration < normal.duration * 0.8


def test_missing_voice_names_the_setting_to_fix(tmp_path: Path):
    engine = PiperEngine(voice_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="SLIDECAST_PIPER_VOICE_DIR"):
        engine.speak("Hello.", voice=VOICE, speaking_rate=1.0)


def test_unknown_engine_lists_the_available_ones():
    registry = EngineRegistry()
    with pytest.raises(
        UnsupportedEngineError,
        match="'acme' is not available here; choose one of piper, xtts",
    ):
        registry.get("acme")
    assert registry.queue_for("piper") == "cpu"


def test_missing_whisper_model_names_the_setting_to_fix(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="SLIDECAST_WHISPER_MODEL_DIR"):
        transcribe(tmp_path / "x.wav", model_dir=tmp_path)


def test_a_personas_language_becomes_whispers_and_english_only_models_say_so(tmp_path: Path):
    assert [whisper_language(tag) for tag in ("en-US", "de-DE", "nb-NO", "pt-BR")] == [
        "en", "de", "no", "pt"]  # fmt: skip
    with pytest.raises(ValueError, match="does not recognise the language 'tlh'"):
        whisper_language("tlh")
    # tiny.en, the model shipped, hears only English: German is refused, not misheard.
    with pytest.raises(ModelNotFoundError, match="knows only English and cannot transcribe de-DE"):
        transcribe(tmp_path / "x.wav", language="de-DE")


def test_word_error_rate_counts_edits_per_reference_word():
    assert word_error_rate("the cat sat", "The cat sat!") == 0
    assert word_error_rate("the cat sat down", "the dog sat") == pytest.approx(0.5)
