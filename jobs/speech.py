"""The speech engines of this process, built once from settings (voices stay loaded)."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from media_pipeline.tts import EngineRegistry


@functools.cache
def speech_engines() -> EngineRegistry:
    """The process-wide engines: voices stay loaded between tasks of one worker."""
    config = settings.SLIDECAST
    voice_dir, xtts_dir = config["PIPER_VOICE_DIR"], config["XTTS_MODEL_DIR"]
    return EngineRegistry(
        piper_voice_dir=Path(voice_dir) if voice_dir else None,
        xtts_model_dir=Path(xtts_dir) if xtts_dir else None,
        xtts_device=config["XTTS_DEVICE"],
        # A worker narrates one slide per slot; Piper sizes its overlapping sessions by it.
        parallel_syntheses=settings.PROCRASTINATE_WORKER_DEFAULTS["concurrency"],
    )
