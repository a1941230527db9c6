"""Persona tasks: preparing a reference recording, and ingesting knowledge part by part."""

from __future__ import annotations

import logging
from collections.abc import Callable

from procrastinate import JobContext

from jobs import queueing
from jobs.personas import ingestion, voice
from jobs.queueing import RETRY, app

logger = logging.getLogger("slidecast.personas")


@app.task(name=queueing.PREPARE_VOICE_REFERENCE, queue=queueing.CPU, retry=RETRY)
def prepare_voice_reference(*, reference_id: int) -> None:
    voice.voice_reference_prepare(reference_id=reference_id)


def _ingesting(
    context: JobContext, run_step: Callable[[], None], give_up: Callable[[str], None]
) -> None:
    """Run the step; on its last attempt an unexpected error fails its documents, not the run."""
    try:
        run_step()
    except Exception as exc:
        if not RETRY.is_last_run(context.job):
            logger.warning("ingestion step failed, will retry: %r", exc)
            raise
        logger.exception("ingestion step failed for good")
        give_up(
            f"Slidecast hit an internal error while ingesting ({type(exc).__name__}); "
            "retry the failed parts, and tell the operators if it fails again."
        )
        raise


@app.task(name=queueing.INGEST_PROFILE, queue=queueing.CPU, retry=RETRY, pass_context=True)
def ingest_profile(context: JobContext, *, persona_id: int, run: int) -> None:
    _ingesting(
        context,
        lambda: ingestion.ingest_profile(persona_id=persona_id, run=run),
        lambda message: ingestion.profile_give_up(persona_id=persona_id, run=run, message=message),
    )


@app.task(name=queueing.INGEST_DOCUMENT, queue=queueing.CPU, retry=RETRY, pass_context=True)
def ingest_document(context: JobContext, *, document_id: int, run: int) -> None:
    _ingesting(
        context,
        lambda: ingestion.ingest_work(document_id=document_id, run=run),
        lambda message: ingestion.documents_give_up(
            document_ids=[document_id], run=run, message=message
        ),
    )


@app.task(name=queueing.INGEST_QUOTES, queue=queueing.CPU, retry=RETRY, pass_context=True)
def ingest_quotes(context: JobContext, *, persona_id: int, run: int) -> None:
    _ingesting(
        context,
        lambda: ingestion.ingest_quotes(persona_id=persona_id, run=run),
        lambda message: ingestion.quotes_give_up(persona_id=persona_id, run=run, message=message),
    )
