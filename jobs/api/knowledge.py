"""A persona's knowledge over the API: upload parts, ingest, follow, retry, archive, search."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from jobs.api.errors import ERRORS, ErrorOut
from jobs.api.fields import Text
from jobs.api.personas import PersonaOut, persona_for
from jobs.errors import RequestRefused
from jobs.personas import knowledge
from jobs.personas.search import MAX_RESULTS, knowledge_search
from jobs.personas.selectors import knowledge_document_get, persona_ingestion

PartKind = Literal["profile", "works", "quotes"]
Progress = Literal["empty", "pending", "queued", "running", "done", "failed"]


class DocumentOut(Schema):
    id: int
    name: str
    size: int
    status: Literal["pending", "queued", "running", "done", "failed"]
    progress: int
    error: str
    segment_count: int
    vector_count: int
    character_count: int
    content_hash: str = Field(description="SHA-256 of the file; the same file is not re-ingested.")
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    uploaded_at: datetime


class PartOut(Schema):
    part: PartKind
    status: Progress
    progress: int
    error: str
    document_count: int
    segment_count: int
    vector_count: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    documents: list[DocumentOut]


class IngestionOut(Schema):
    id: int
    status: Literal["draft", "ingesting", "active", "failed", "archived"]
    error: str = Field(description="When failed: which part and document, and why.")
    run: int
    started_at: datetime | None
    finished_at: datetime | None
    parts: list[PartOut]


class UploadOut(Schema):
    documents: list[DocumentOut]
    unchanged: list[str] = Field(
        description="Files identical to the ones stored: kept as they are."
    )


class IngestIn(Schema):
    force: bool = Field(
        False, description="Ingest every document again, not only new, changed or failed ones."
    )


class SearchHitOut(Schema):
    segment_id: int
    document_id: int
    document: str
    part: PartKind
    position: int = Field(description="The passage's place in its document, from 0.")
    text: str
    source: str
    score: float = Field(description="Reciprocal-rank fusion of meaning and words; higher first.")
    similarity: float | None = Field(description="Cosine similarity, if found by meaning.")
    text_rank: float | None = Field(description="Full-text rank, if found by its words.")


class SearchIn(Schema):
    q: Text = Field(..., min_length=1, max_length=1000)
    k: int = Field(10, ge=1, le=MAX_RESULTS)
    part: PartKind | None = None


knowledge_router = Router(tags=["persona knowledge"])


@knowledge_router.get("/{int:persona_id}/knowledge", response={200: IngestionOut, **ERRORS})
def get_knowledge(request, persona_id: int):
    """The persona's lifecycle and each part's and document's progress, counts and errors."""
    return persona_ingestion(persona=persona_for(request, persona_id, manage=True))


@knowledge_router.post(
    "/{int:persona_id}/documents", response={201: UploadOut, 403: ErrorOut, **ERRORS},
    summary="Upload documents to a part",
)  # fmt: skip
def upload_documents(
    request, persona_id: int, part: Form[PartKind], files: File[list[UploadedFile]]
):
    """`profile` takes one .txt/.md/.html/.pdf/.docx (it replaces the profile there was);
    `works` any number of them; `quotes` .txt/.md (one per line), .csv or .json lists.
    A file named like one already in the part replaces it. Then `POST …/ingest`."""
    persona = persona_for(request, persona_id, manage=True)
    outcomes = knowledge.knowledge_documents_upload(
        persona=persona, kind=part, files=files, uploaded_by=request.auth
    )
    payload = persona_ingestion(persona=persona)
    documents = {doc["id"]: doc for p in payload["parts"] for doc in p["documents"]}
    return Status(201, {
        "documents": [documents[outcome.document.id] for outcome in outcomes],
        "unchanged": [outcome.document.name for outcome in outcomes if not outcome.changed],
    })  # fmt: skip


@knowledge_router.delete(
    "/{int:persona_id}/documents/{int:document_id}", response={204: None, **ERRORS},
    summary="Delete a document and its passages",
)  # fmt: skip
def delete_document(request, persona_id: int, document_id: int):
    persona = persona_for(request, persona_id, manage=True)
    document = knowledge_document_get(persona=persona, document_id=document_id)
    if document is None:
        raise RequestRefused(404, "not_found", f"There is no document {document_id}.")
    knowledge.knowledge_document_delete(document=document)
    return Status(204, None)


@knowledge_router.post(
    "/{int:persona_id}/ingest", response={202: IngestionOut, **ERRORS},
    summary="Start ingestion",
)  # fmt: skip
def ingest(request, persona_id: int, params: Query[IngestIn]):
    """Ingests new, changed and failed documents (all with `?force=true`): the profile first,
    then the works and quotes in parallel. Follow it with `GET …/knowledge`."""
    persona = persona_for(request, persona_id, manage=True)
    persona = knowledge.knowledge_ingest_start(persona=persona, force=params.force)
    return Status(202, persona_ingestion(persona=persona))


@knowledge_router.post(
    "/{int:persona_id}/retry", response={202: IngestionOut, **ERRORS},
    summary="Retry the failed parts",
)  # fmt: skip
def retry(request, persona_id: int):
    persona = knowledge.knowledge_retry_failed(
        persona=persona_for(request, persona_id, manage=True)
    )
    return Status(202, persona_ingestion(persona=persona))


@knowledge_router.post(
    "/{int:persona_id}/archive", response={200: PersonaOut, **ERRORS}, summary="Archive"
)
def archive(request, persona_id: int):
    """No new jobs use it and its ingestion stops; its knowledge and jobs are kept."""
    return knowledge.persona_archive(persona=persona_for(request, persona_id, manage=True))


@knowledge_router.post(
    "/{int:persona_id}/restore", response={200: PersonaOut, **ERRORS}, summary="Restore"
)
def restore(request, persona_id: int):
    """Active again when all its knowledge is ingested; otherwise a draft to ingest."""
    return knowledge.persona_restore(persona=persona_for(request, persona_id, manage=True))


@knowledge_router.get(
    "/{int:persona_id}/search", response={200: list[SearchHitOut], **ERRORS},
    summary="Search the persona's knowledge",
)  # fmt: skip
def search(request, persona_id: int, params: Query[SearchIn]):
    """The `k` passages that best match `q`, by meaning (embeddings) and by words (full text)."""
    persona = persona_for(request, persona_id, manage=True)
    return knowledge_search(persona=persona, q=params.q, k=params.k, part=params.part or "")
