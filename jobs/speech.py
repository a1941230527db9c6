"""The speech engines of this process, built once from settings (voices stay loaded)."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from media_pipeline.tts import EngineRegistry


@functools.cache
def speech_engines() -> EngineRegistry:
    """The process-wide engines: voices stay loaded between tasks of one worker."""
    voice_dir = settings.SLIDECAST["PIPER_VOICE_DIR"]
    return EngineRegistry(piper_voice_dir=Path(voice_dir) if voice_dir else None)
