"""Transcribing media with the shipped Whisper model (tiny.en) on real Piper speech."""

from __future__ import annotations

import subprocess
import wave
from itertools import pairwise
from pathlib import Path

import pytest
import srt
import webvtt

from media_pipeline import asr
from media_pipeline.captions import MAX_CUE_CHARS
from media_pipeline.errors import InvalidMediaError, MediaProcessingError, ModelNotFoundError
from media_pipeline.tools import find_ffmpeg
from media_pipeline.transcription import (
    MAX_CUE_SECONDS,
    TimedWord,
    TranscriptionOptions,
    TranscriptionResult,
    TranscriptSegment,
    script_check,
    transcribe_media,
)
from media_pipeline.tts import EngineRegistry, NarrationOptions, narrate
from tests.media import SPOKEN_TAKE, spoken_take

PAUSE_SECONDS = 3.0
# Another voice take after the pause: the same take twice would read to Whisper as a
# repetition loop (its compression-ratio check), and be decoded again and again.
CLOSING = "Thank you for listening. There will be time for your questions at the end."
BOTH = f"{SPOKEN_TAKE} {CLOSING}"


class Stop(Exception):
    """What a cancelled job's stop check raises."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("transcription")


@pytest.fixture(scope="module", autouse=True)
def model():
    # Loaded once here; every transcription below finds it in the per-process cache.
    return asr.load_model()


@pytest.fixture(scope="module")
def take(folder: Path) -> Path:
    return spoken_take(folder / "take.wav")


@pytest.fixture(scope="module")
def two_takes(folder: Path, take: Path) -> Path:
    """The take, a pause long enough to start a new paragraph, and a closing take."""
    closing = narrate(
        CLOSING, engine=EngineRegistry().get("piper"), voice="en_US-joe-medium",
        options=NarrationOptions(), out_wav=folder / "closing.wav",
    ).wav_path  # fmt: skip
    with wave.open(str(take)) as first, wave.open(str(closing)) as second:
        params = first.getparams()
        frames = first.readframes(first.getnframes()), second.readframes(second.getnframes())
    silence = b"\0" * int(PAUSE_SECONDS * params.framerate) * params.sampwidth * params.nchannels
    path = folder / "two_takes.wav"
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(frames[0] + silence + frames[1])
    return path


@pytest.fixture(scope="module")
def heard(two_takes: Path) -> tuple[TranscriptionResult, list[float]]:
    progress: list[float] = []
    result = transcribe_media(two_takes, on_progress=progress.append)
    return result, progress


def _make_video(folder: Path, audio: Path | None, name: str) -> Path:
    path = folder / name
    audio_args = ["-i", str(audio), "-c:a", "aac", "-shortest"] if audio else []
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=160x120:rate=10:duration=9", *audio_args,
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_segments_follow_the_speech_with_words_inside_them(heard):
    result, _progress = heard
    assert result.language == "en" and result.language_probability == 1.0
    assert result.model == "tiny.en"
    assert result.duration == pytest.approx(8 + PAUSE_SECONDS + 5, abs=3)
    starts = [segment.start for segment in result.segments]
    assert len(starts) >= 2 and starts == sorted(starts) and len(set(starts)) == len(starts)
    assert starts[0] < 1.5 and result.segments[-1].end > result.duration - 2
    for segment in result.segments:
        assert segment.words
        for word in segment.words:
            assert segment.start - 0.01 <= word.start <= word.end <= segment.end + 0.01
    assert result.word_count == sum(len(segment.words) for segment in result.segments)
    assert asr.word_error_rate(BOTH, result.text) < 0.15


def test_progress_rises_to_one(heard):
    _result, progress = heard
    assert len(progress) >= 2
    assert progress == sorted(set(progress)) and progress[0] > 0 and progress[-1] == 1.0


def test_srt_and_webvtt_parse_and_say_what_was_heard(heard):
    result, _progress = heard
    subtitles = list(srt.parse(result.to_srt()))
    vtt = webvtt.from_string(result.to_webvtt())
    assert "Language: en" in result.to_webvtt()
    for texts in ([s.content for s in subtitles], [c.text for c in vtt.captions]):
        assert asr.word_error_rate(BOTH, " ".join(texts)) < 0.15
    assert len(subtitles) == len(vtt.captions) >= 2
    for subtitle in subtitles:
        seconds = (subtitle.end - subtitle.start).total_seconds()
        assert 0 < seconds <= MAX_CUE_SECONDS + 1
        assert len(subtitle.content.splitlines()) <= 2
    assert all(cue.end <= following.start for cue, following in pairwise(subtitles))


def test_text_starts_a_paragraph_after_a_long_pause(heard):
    result, _progress = heard
    paragraphs = result.to_text().strip().split("\n\n")
    assert len(paragraphs) == 2
    for script, paragraph in zip((SPOKEN_TAKE, CLOSING), paragraphs, strict=True):
        assert asr.word_error_rate(script, paragraph) < 0.15


def test_json_has_segments_and_words_in_milliseconds(heard):
    result, _progress = heard
    data = result.to_json()
    assert set(data) == {
        "language", "language_probability", "duration", "model", "text", "segments"}  # fmt: skip
    assert data["text"] == result.text and data["model"] == "tiny.en"
    assert [segment["id"] for segment in data["segments"]] == list(range(len(result.segments)))
    first = data["segments"][0]
    assert set(first) == {"id", "start", "end", "text", "words"}
    assert set(first["words"][0]) == {"start", "end", "word", "probability"}
    for value in (data["duration"], first["start"], first["end"], first["words"][0]["end"]):
        assert round(value, 3) == value
    assert 0 < first["words"][0]["probability"] <= 1


def test_a_stop_check_raising_stops_decoding(two_takes: Path):
    progress: list[float] = []

    def check() -> None:
        if progress:
            raise Stop

    with pytest.raises(Stop):
        transcribe_media(two_takes, on_progress=progress.append, check=check)
    assert len(progress) == 1 and progress[0] < 1.0


def test_an_english_only_model_refuses_another_language(take: Path):
    options = TranscriptionOptions(language="de-DE")
    with pytest.raises(ModelNotFoundError, match="SLIDECAST_WHISPER_MODEL_DIR"):
        transcribe_media(take, options=options)


def test_silence_gives_no_segments(folder: Path):
    path = folder / "silence.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0" * 2 * 16000 * 3)
    progress: list[float] = []
    result = transcribe_media(path, on_progress=progress.append)
    assert result.segments == () and result.text == "" and result.word_count == 0
    assert result.to_srt() == "" and result.to_text() == ""
    assert result.duration == pytest.approx(3.0) and progress == [1.0]


def test_a_video_file_is_transcribed_and_checked_against_its_script(folder: Path, take: Path):
    video = _make_video(folder, take, "talk.mp4")
    result = transcribe_media(video, options=TranscriptionOptions(language="en-US"))
    check = script_check(SPOKEN_TAKE, result)
    assert check["word_error_rate"] < 0.15
    assert check["reference_words"] == len(asr.normalized_words(SPOKEN_TAKE))
    assert check["heard_words"] == len(asr.normalized_words(result.text))
    assert len(check["missing"]) <= 3 and len(check["extra"]) <= 3
    other = script_check("The weather in the mountains will be cold and windy tomorrow.", result)
    assert other["word_error_rate"] > 0.5 and "weather" in other["missing"]


def test_media_that_cannot_be_heard_says_why(folder: Path):
    junk = folder / "junk.mp4"
    junk.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(MediaProcessingError, match="junk.mp4"):
        transcribe_media(junk)
    with pytest.raises(InvalidMediaError, match="no audio track"):
        transcribe_media(_make_video(folder, None, "silent_film.mp4"))
    with pytest.raises(InvalidMediaError, match="no media file"):
        transcribe_media(folder / "missing.wav")


def test_a_long_segment_becomes_short_readable_cues():
    words = tuple(
        TimedWord(start=i * 0.4, end=i * 0.4 + 0.3, text=f"word{i}", probability=0.9)
        for i in range(60)
    )
    segment = TranscriptSegment(0.0, 24.0, " ".join(w.text for w in words), words)
    result = TranscriptionResult("en", 1.0, 24.0, (segment,), "tiny.en")
    cues = result.cues()
    assert " ".join(cue.text for cue in cues) == segment.text
    for cue, following in pairwise(cues):
        assert cue.end <= following.start
    for cue in cues:
        assert len(cue.text) <= MAX_CUE_CHARS and cue.end - cue.start <= MAX_CUE_SECONDS
    assert len(cues[-1].text.split()) > 2


def test_auto_device_picks_cuda_only_where_ctranslate2_sees_a_gpu(monkeypatch, model):
    import ctranslate2

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    assert asr.whisper_device() == "cuda"
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    assert asr.whisper_device() == "cpu"
    # On this host auto means cpu with int8: the model already loaded, not a second copy.
    assert asr.load_model(device="auto") is model
    with pytest.raises(ModelNotFoundError, match="could not be loaded on cpu .* compute type"):
        asr.load_model(compute_type="no-such-type")
