"""Piper's wide and narrow sessions: a lone synthesis uses every core, overlapping ones share."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from media_pipeline.asr import transcribe, word_error_rate
from media_pipeline.audio import write_wav
from media_pipeline.piper_engine import PiperEngine
from media_pipeline.tools import usable_cores

VOICE = "en_US-joe-medium"
LONG = " ".join(["The regional teams met their targets for the third quarter in a row."] * 6)
SHORT = "The quarterly review went well, and every team met its target this year."


def _speaking_in_background(engine: PiperEngine) -> threading.Thread:
    """Start a long synthesis on another thread; return once it is speaking."""
    first = threading.Thread(
        target=engine.speak, args=(LONG,), kwargs={"voice": VOICE, "speaking_rate": 1.0}
    )
    first.start()
    deadline = time.monotonic() + 30
    while engine._speaking == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    return first


def _threads(piper_voice) -> int:
    return piper_voice.session.get_session_options().intra_op_num_threads


def test_a_lone_synthesis_never_loads_the_narrow_session():
    engine = PiperEngine(parallel=2)
    engine.speak(SHORT, voice=VOICE, speaking_rate=1.0)
    engine.speak(SHORT, voice=VOICE, speaking_rate=1.0)
    [loaded] = engine._voices.values()
    assert loaded.narrow is None
    assert _threads(loaded.wide) == engine.wide_threads == usable_cores()


@pytest.mark.skipif(usable_cores() < 2, reason="one core cannot be shared out")
def test_a_synthesis_beside_another_speaks_on_the_narrow_session(tmp_path: Path):
    engine = PiperEngine(parallel=2)
    sample_rate = engine.sample_rate(VOICE)
    first = _speaking_in_background(engine)
    assert engine._speaking == 1, "the first synthesis did not start"
    overlapping = engine.speak(SHORT, voice=VOICE, speaking_rate=1.0)
    first.join()
    [loaded] = engine._voices.values()
    assert loaded.narrow is not None
    assert _threads(loaded.narrow) == engine.narrow_threads == max(1, usable_cores() // 2)
    # The narrow session speaks the same voice: the words are heard.
    write_wav(tmp_path / "short.wav", overlapping, sample_rate)
    heard = transcribe(tmp_path / "short.wav").text
    assert word_error_rate(SHORT, heard) < 0.2, heard


def test_with_one_slot_overlapping_syntheses_share_the_one_session():
    engine = PiperEngine(parallel=1)
    first = _speaking_in_background(engine)
    engine.speak(SHORT, voice=VOICE, speaking_rate=1.0)
    first.join()
    [loaded] = engine._voices.values()
    assert loaded.narrow is None
