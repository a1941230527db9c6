"""Ingestion as the tasks run it: profile first, then works and quotes side by side, fan-in.

Every task carries the persona's run number. A task whose run is no longer the persona's
(archived, or a newer ingestion started) stops without writing. The fan-in locks the
persona row, so of the tasks finishing at once exactly one sees nothing left and decides.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jobs import queueing
from jobs.personas.embedding import text_embedder
from jobs.personas.models import KnowledgeDocument, KnowledgePart, KnowledgeSegment, Persona
from jobs.personas.parts import parts_refresh
from jobs.personas.text_search import text_search_config
from jobs.storage import storage_fetch, work_root
from media_pipeline.documents import DocumentLimits, extract_text
from media_pipeline.errors import PipelineError
from media_pipeline.quotes import QuoteLimits, parse_quotes
from media_pipeline.segments import segment_text

logger = logging.getLogger("slidecast.personas")

Kind = KnowledgePart.Kind
DocStatus = KnowledgeDocument.Status
EMBED_BATCH = 512
_UNFINISHED = (DocStatus.QUEUED, DocStatus.RUNNING)


class RunSuperseded(Exception):
    """The persona's ingestion run changed under a task: it stops and writes nothing more."""


def run_is_current(persona_id: int, run: int) -> bool:
    return Persona.objects.filter(
        id=persona_id, ingestion_run=run, status=Persona.Status.INGESTING
    ).exists()


def _ensure_current(persona_id: int, run: int) -> None:
    if not run_is_current(persona_id, run):
        raise RunSuperseded(f"persona {persona_id} is no longer in ingestion run {run}")


def ingest_profile(*, persona_id: int, run: int) -> None:
    """Ingest the profile (if queued), then queue the works and quotes in parallel."""
    if not run_is_current(persona_id, run):
        return
    for document in _queued(persona_id, Kind.PROFILE):
        if not document_ingest(document=document, run=run):
            _stop_after_profile(persona_id, run)
            return
    _fan_out(persona_id, run)


def _queued(persona_id: int, kind: str):
    return list(
        KnowledgeDocument.objects.filter(
            persona_id=persona_id, part__kind=kind, status__in=_UNFINISHED
        ).select_related("part", "persona")
    )


def _stop_after_profile(persona_id: int, run: int) -> None:
    """A failed profile stops the run: the other parts wait for the retry."""
    KnowledgeDocument.objects.filter(persona_id=persona_id, status__in=_UNFINISHED).exclude(
        part__kind=Kind.PROFILE
    ).update(status=DocStatus.PENDING, progress=0)
    ingestion_fan_in(persona_id=persona_id, run=run)


def _fan_out(persona_id: int, run: int) -> None:
    with transaction.atomic():
        works = [doc.id for doc in _queued(persona_id, Kind.WORKS)]
        if works:
            queueing.batch_defer(
                queueing.INGEST_DOCUMENT, *({"document_id": id, "run": run} for id in works)
            )
        quotes = bool(_queued(persona_id, Kind.QUOTES))
        if quotes:
            queueing.defer(queueing.INGEST_QUOTES, persona_id=persona_id, run=run)
    logger.info("persona %s run %d: %d works and %s queued", persona_id, run, len(works),
                "the quotes" if quotes else "no quotes")  # fmt: skip
    if not works and not quotes:
        ingestion_fan_in(persona_id=persona_id, run=run)


def ingest_work(*, document_id: int, run: int) -> None:
    document = (
        KnowledgeDocument.objects.select_related("part", "persona").filter(id=document_id).first()
    )
    if document is None or not run_is_current(document.persona_id, run):
        return
    document_ingest(document=document, run=run)
    ingestion_fan_in(persona_id=document.persona_id, run=run)


def ingest_quotes(*, persona_id: int, run: int) -> None:
    if not run_is_current(persona_id, run):
        return
    for document in _queued(persona_id, Kind.QUOTES):
        document_ingest(document=document, run=run)
    ingestion_fan_in(persona_id=persona_id, run=run)


def document_ingest(*, document: KnowledgeDocument, run: int) -> bool:
    """Read, split, embed and store one document; False when it failed for good.

    Bad input fails the document with the reason; anything else is raised for a retry.
    """
    claimed = KnowledgeDocument.objects.filter(id=document.id, status__in=_UNFINISHED).update(
        status=DocStatus.RUNNING, progress=1, error="", started_at=timezone.now(),
        finished_at=None,
    )  # fmt: skip
    if not claimed:
        return True
    parts_refresh(document.persona_id, (document.part.kind,))
    try:
        _document_process(document, run)
    except RunSuperseded:
        logger.info("document %s: run %d superseded", document.id, run)
        return True
    except PipelineError as exc:
        if not exc.permanent:
            raise
        document_fail(document_id=document.id, message=exc.message)
        return False
    return True


def document_fail(*, document_id: int, message: str) -> None:
    """Record why a document could not be ingested (its old segments, if any, stay)."""
    document = KnowledgeDocument.objects.select_related("part").get(id=document_id)
    if not message.startswith(document.name):
        message = f"{document.name}: {message}"  # every error names its document
    KnowledgeDocument.objects.filter(id=document_id).update(
        status=DocStatus.FAILED, error=message, finished_at=timezone.now()
    )
    parts_refresh(document.persona_id, (document.part.kind,))
    logger.warning("document %s (%s) failed: %s", document.name, document.part.kind, message)


def _unfinished_ids(persona_id: int, kind: str) -> list[int]:
    return [doc.id for doc in _queued(persona_id, kind)]


def profile_give_up(*, persona_id: int, run: int, message: str) -> None:
    """The profile step failed for good: the profile fails and the rest waits for a retry."""
    if not run_is_current(persona_id, run):
        return
    for document_id in _unfinished_ids(persona_id, Kind.PROFILE):
        document_fail(document_id=document_id, message=message)
    _stop_after_profile(persona_id, run)


def documents_give_up(*, document_ids: list[int], run: int, message: str) -> None:
    documents = KnowledgeDocument.objects.filter(id__in=document_ids, status__in=_UNFINISHED)
    persona_ids = set(documents.values_list("persona_id", flat=True))
    for document_id in documents.values_list("id", flat=True):
        document_fail(document_id=document_id, message=message)
    for persona_id in persona_ids:
        ingestion_fan_in(persona_id=persona_id, run=run)


def quotes_give_up(*, persona_id: int, run: int, message: str) -> None:
    documents_give_up(
        document_ids=_unfinished_ids(persona_id, Kind.QUOTES), run=run, message=message
    )


def _progress(document: KnowledgeDocument, percent: int) -> None:
    KnowledgeDocument.objects.filter(id=document.id).update(progress=percent)
    parts_refresh(document.persona_id, (document.part.kind,))


def _document_process(document: KnowledgeDocument, run: int) -> None:
    with tempfile.TemporaryDirectory(prefix="slidecast-knowledge-", dir=work_root()) as tmp:
        local = storage_fetch(document.file.name, Path(tmp) / f"upload{Path(document.name).suffix}")
        check = _run_check(document.persona_id, run)
        if document.part.kind == Kind.QUOTES:
            pieces = [
                (quote.text, quote.source, 0)
                for quote in parse_quotes(local, name=document.name, limits=QuoteLimits())
            ]
            characters = sum(len(text) for text, _, _ in pieces)
        else:
            extracted = extract_text(local, name=document.name, limits=document_limits(),
                                     check=check)  # fmt: skip
            pieces = [
                (segment.text, "", segment.token_count) for segment in segment_text(extracted.text)
            ]
            characters = len(extracted.text)
    _progress(document, 10)
    embedder = text_embedder()
    vectors = []
    for start in range(0, len(pieces), EMBED_BATCH):
        check()
        batch = [text for text, _, _ in pieces[start : start + EMBED_BATCH]]
        vectors.extend(embedder.embed(batch))
        _progress(document, 10 + 80 * min(start + EMBED_BATCH, len(pieces)) // len(pieces))
    _segments_replace(document, run, pieces, vectors, characters, embedder.model_name)


def _run_check(persona_id: int, run: int) -> Callable[[], None]:
    return lambda: _ensure_current(persona_id, run)


def document_limits() -> DocumentLimits:
    config = settings.SLIDECAST
    return DocumentLimits(
        max_file_bytes=config["KNOWLEDGE_MAX_DOCUMENT_MB"] * 1024 * 1024,
        max_text_chars=config["KNOWLEDGE_MAX_TEXT_CHARS"],
    )


_INSERT_BATCH = 1000
# One INSERT per batch with the full-text vector computed in it: an UPDATE afterwards would
# write every row twice, and each version costs an insertion into the HNSW graph.
_INSERT_SQL = f"""
INSERT INTO {KnowledgeSegment._meta.db_table}
    (persona_id, document_id, part, position, text, source, token_count, embedding, search)
SELECT %(persona)s, %(document)s, %(part)s, item.position, item.text, item.source,
       item.tokens, item.vector::vector, to_tsvector(%(config)s::regconfig, item.text)
FROM unnest(%(positions)s::int[], %(texts)s::text[], %(sources)s::text[], %(tokens)s::int[],
            %(vectors)s::text[]) AS item(position, text, source, tokens, vector)
"""


def _vector_literals(vectors) -> list[str]:
    """pgvector's text form; six decimals keep what float32 cosine distances can tell apart."""
    rows = np.round(np.asarray(vectors, dtype=np.float64), 6).tolist()
    return ["[" + ",".join(map(str, row)) + "]" for row in rows]


def segments_insert(document, pieces, vectors, config: str) -> None:
    """Store (text, source, tokens) pieces and their vectors as the document's segments."""
    with connection.cursor() as cursor:
        for first in range(0, len(pieces), _INSERT_BATCH):
            batch = pieces[first : first + _INSERT_BATCH]
            cursor.execute(
                _INSERT_SQL,
                {
                    "persona": document.persona_id, "document": document.id,
                    "part": document.part.kind, "config": config,
                    "positions": list(range(first, first + len(batch))),
                    "texts": [text for text, _, _ in batch],
                    "sources": [source[:300] for _, source, _ in batch],
                    "tokens": [tokens for _, _, tokens in batch],
                    "vectors": _vector_literals(vectors[first : first + len(batch)]),
                },
            )  # fmt: skip


@transaction.atomic
def _segments_replace(document, run, pieces, vectors, characters, model_name) -> None:
    """Swap the document's segments for the new ones at once: searches see old or new."""
    with connection.cursor() as cursor:
        # A share lock: documents store side by side, while archiving or a new run (which
        # lock the row for update) wait, so no run ends with a document half replaced.
        cursor.execute(
            f"SELECT ingestion_run, status, language FROM {Persona._meta.db_table} "
            "WHERE id = %s FOR SHARE",
            [document.persona_id],
        )
        current_run, status, language = cursor.fetchone()
        if current_run != run or status != Persona.Status.INGESTING:
            raise RunSuperseded(f"persona {document.persona_id} moved on from run {run}")
        KnowledgeSegment.objects.filter(document=document).delete()
    segments_insert(document, pieces, vectors, text_search_config(language))
    KnowledgeDocument.objects.filter(id=document.id).update(
        status=DocStatus.DONE, progress=100, error="", finished_at=timezone.now(),
        character_count=characters, segment_count=len(pieces), vector_count=len(vectors),
        ingested_hash=document.content_hash, embedding_model=model_name,
    )  # fmt: skip
    parts_refresh(document.persona_id, (document.part.kind,))


def ingestion_fan_in(*, persona_id: int, run: int) -> None:
    """Once no document of the run is left, make the persona active or failed (exactly once)."""
    with transaction.atomic():
        persona = Persona.objects.select_for_update().get(id=persona_id)
        if persona.ingestion_run != run or persona.status != Persona.Status.INGESTING:
            return
        documents = persona.knowledge_documents
        if documents.filter(status__in=_UNFINISHED).exists():
            return
        failed = list(documents.filter(status=DocStatus.FAILED).select_related("part")[:5])
        waiting = documents.filter(status=DocStatus.PENDING).count()
        if failed:
            persona.status = Persona.Status.FAILED
            persona.ingestion_error = "; ".join(f"{doc.part.kind}: {doc.error}" for doc in failed)
            if waiting:
                persona.ingestion_error += f"; {waiting} more documents wait for the retry"
        else:
            persona.status, persona.ingestion_error = Persona.Status.ACTIVE, ""
        persona.ingestion_finished_at = timezone.now()
        persona.save(update_fields=["status", "ingestion_error", "ingestion_finished_at"])
    logger.info("persona %s: ingestion run %d ended %s", persona.name, run, persona.status)
