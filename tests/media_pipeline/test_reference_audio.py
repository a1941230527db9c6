"""Reference recordings for voice cloning: real speech through ffmpeg, measured and refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from media_pipeline.audio import read_wav, write_wav
from media_pipeline.reference_audio import (
    ReferenceAudioError,
    ReferenceLimits,
    prepare_reference_audio,
)
from media_pipeline.tools import find_ffmpeg
from tests.media import spoken_take


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> tuple[np.ndarray, int]:
    """About eight seconds of a real voice (Piper), as int16 samples and their rate."""
    return read_wav(spoken_take(tmp_path_factory.mktemp("speech") / "speech.wav"))


def _wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    write_wav(path, np.clip(samples, -32768, 32767), rate)
    return path


def _duration(path: Path) -> float:
    samples, rate = read_wav(path)
    assert rate == 24_000
    return samples.size / rate


def test_speech_in_an_mp3_is_trimmed_normalised_and_measured(speech, tmp_path):
    samples, rate = speech
    quiet = (samples * 0.1).astype(np.int16)  # recorded far from the microphone
    padded = np.concatenate([np.zeros(rate * 2, np.int16), quiet, np.zeros(rate, np.int16)])
    source = tmp_path / "take.mp3"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-i", _wav(tmp_path / "raw.wav", padded, rate),
         "-c:a", "libmp3lame", "-b:a", "128k", str(source)],
        check=True,
    )  # fmt: skip
    prepared = prepare_reference_audio(source, tmp_path / "reference.wav")
    speech_seconds = samples.size / rate
    # The two seconds before and the second after the speech are gone, a margin kept.
    assert speech_seconds - 0.5 < prepared.duration < speech_seconds + 0.5
    assert _duration(prepared.path) == pytest.approx(prepared.duration, abs=0.05)
    assert prepared.loudness_lufs < -35  # it was quiet; the output is brought to -23 LUFS
    assert prepared.snr_db > 20
    out, _ = read_wav(prepared.path)
    assert np.max(np.abs(out)) > 4 * np.max(np.abs(quiet))  # brought up to -23 LUFS


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s, r: s[: r * 3], "too short: 3.0 s"),
        (lambda s, r: np.tile(s, 10), "too long"),
        (lambda s, r: s.astype(np.int32) * 30, "clipped"),
        (lambda s, r: np.zeros(r * 10, np.int16), "silent"),
    ],
    ids=["short", "long", "clipped", "silent"],
)
def test_unfit_recordings_are_refused_saying_why(speech, tmp_path, make, message):
    samples, rate = speech
    source = _wav(tmp_path / "take.wav", make(samples, rate), rate)
    with pytest.raises(ReferenceAudioError) as refused:
        prepare_reference_audio(source, tmp_path / "reference.wav")
    assert message in refused.value.message
    assert refused.value.permanent


def test_a_file_that_is_not_audio_is_refused_before_it_is_measured(tmp_path):
    source = tmp_path / "notes.m4a"
    source.write_text("this is not a recording")
    with pytest.raises(ReferenceAudioError, match="use WAV, MP3, M4A or OGG"):
        prepare_reference_audio(source, tmp_path / "reference.wav")
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * 2048)
    with pytest.raises(ReferenceAudioError, match="the limit is 0 MB"):
        prepare_reference_audio(big, tmp_path / "r.wav", ReferenceLimits(max_file_bytes=1024))
