"""Persona tasks: preparing a reference recording for voice cloning."""

from __future__ import annotations

from jobs import queueing
from jobs.personas import voice
from jobs.queueing import RETRY, app


@app.task(name=queueing.PREPARE_VOICE_REFERENCE, queue=queueing.CPU, retry=RETRY)
def prepare_voice_reference(*, reference_id: int) -> None:
    voice.voice_reference_prepare(reference_id=reference_id)
