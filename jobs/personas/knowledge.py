"""Every user action on a persona's knowledge and lifecycle: upload, ingest, retry, archive.

A persona moves draft → ingesting → active (or failed, naming the part and document, until
a retry), and archived → restored. Ingestion itself runs on the queue (ingestion.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from jobs import queueing
from jobs.errors import RequestRefused
from jobs.personas.embedding import embedding_model_name
from jobs.personas.models import KnowledgeDocument, KnowledgePart, Persona
from jobs.personas.parts import parts_refresh
from media_pipeline.documents import DOCUMENT_SUFFIXES
from media_pipeline.errors import ModelNotFoundError
from media_pipeline.quotes import QUOTE_SUFFIXES

logger = logging.getLogger("slidecast.personas")

Kind = KnowledgePart.Kind
DocStatus = KnowledgeDocument.Status
_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _archived(persona: Persona) -> RequestRefused:
    return RequestRefused(
        409, "persona_archived", f"{persona.name!r} is archived; restore it first."
    )


def accepted_suffixes(kind: str) -> tuple[str, ...]:
    return QUOTE_SUFFIXES if kind == Kind.QUOTES else DOCUMENT_SUFFIXES


@dataclass(frozen=True)
class UploadOutcome:
    document: KnowledgeDocument
    changed: bool  # False: the same file was there already, nothing to ingest again


def _first_look(upload: File, kind: str) -> tuple[str, str, int]:
    """Check name, size and first bytes before anything is stored; return name, hash, size."""
    name = Path(upload.name or "").name.strip()[:255]
    suffix = Path(name).suffix.lower()
    accepted = accepted_suffixes(kind)
    if not name or suffix not in accepted:
        raise ValidationError(
            {"files": f"{name or 'A file without a name'}: {kind} take "
                      f"{', '.join(accepted)} files, not {suffix or 'files without a suffix'}."}
        )  # fmt: skip
    limit = settings.SLIDECAST["KNOWLEDGE_MAX_DOCUMENT_MB"] * 1024 * 1024
    size = upload.size or 0
    if size == 0:
        raise ValidationError({"files": f"{name}: the file is empty."})
    if size > limit:
        raise ValidationError(
            {"files": f"{name}: the file is {size / 2**20:.1f} MB; the limit is "
                      f"{limit // 2**20} MB (SLIDECAST_KNOWLEDGE_MAX_DOCUMENT_MB)."}
        )  # fmt: skip
    upload.seek(0)
    head = upload.read(1024)
    if suffix == ".pdf" and _PDF_MAGIC not in head:
        raise ValidationError({"files": f"{name}: this is not a PDF (it does not start as one)."})
    if suffix == ".docx" and not head.startswith(_ZIP_MAGIC):
        reason = "it is password-protected" if head.startswith(_OLE_MAGIC) else "it is not one"
        raise ValidationError({"files": f"{name}: cannot be read as a Word .docx file: {reason}."})
    digest = hashlib.sha256(head)
    for chunk in iter(lambda: upload.read(1024 * 1024), b""):
        digest.update(chunk)
    upload.seek(0)
    return name, digest.hexdigest(), size


def _part(persona: Persona, kind: str) -> KnowledgePart:
    part, _ = KnowledgePart.objects.get_or_create(persona=persona, kind=kind)
    return part


def knowledge_documents_upload(
    *, persona: Persona, kind: str, files: Iterable[File], uploaded_by
) -> list[UploadOutcome]:
    """Store the files in the part (a file of the same name is replaced) for the next ingestion.

    All are checked before any is stored, so a bad file in a batch stores none of them.
    """
    if kind not in Kind.values:
        raise ValidationError({"part": f"There is no part {kind!r}; use profile, works or quotes."})
    files = list(files)
    if not files:
        raise ValidationError({"files": "Send at least one file."})
    if kind == Kind.PROFILE and len(files) > 1:
        raise ValidationError({"files": "A profile is one document; send one file."})
    checked = [(upload, *_first_look(upload, kind)) for upload in files]
    names = [name for _, name, _, _ in checked]
    if len(set(names)) != len(names):
        raise ValidationError({"files": "Two files have the same name."})
    limit = settings.SLIDECAST["KNOWLEDGE_MAX_DOCUMENTS"]
    existing = persona.knowledge_documents.exclude(part__kind=kind, name__in=names)
    if kind == Kind.PROFILE:
        existing = existing.exclude(part__kind=Kind.PROFILE)
    if existing.count() + len(files) > limit:
        raise ValidationError(
            {"files": f"A persona holds at most {limit} documents "
                      "(SLIDECAST_KNOWLEDGE_MAX_DOCUMENTS); delete some first."}
        )  # fmt: skip
    outcomes = []
    with transaction.atomic():
        persona = Persona.objects.select_for_update().get(id=persona.id)
        if persona.status == Persona.Status.ARCHIVED:
            raise _archived(persona)
        part = _part(persona, kind)
        if kind == Kind.PROFILE:  # a new profile replaces the old one, whatever its name
            for old in part.documents.exclude(name=names[0]):
                _document_remove(old)
        for upload, name, content_hash, size in checked:
            outcomes.append(_document_store(part, upload, name, content_hash, size, uploaded_by))
        parts_refresh(persona.id)
    logger.info("persona %s: %d %s documents uploaded", persona.name, len(outcomes), kind)
    return outcomes


def _document_store(part, upload, name, content_hash, size, uploaded_by) -> UploadOutcome:
    document = KnowledgeDocument.objects.filter(part=part, name=name).first()
    if document is not None and document.content_hash == content_hash:
        return UploadOutcome(document, changed=False)
    if document is None:
        document = KnowledgeDocument(persona_id=part.persona_id, part=part, name=name)
    elif document.file:
        document.file.delete(save=False)
    # The old segments stay searchable until the new file's ingestion replaces them.
    document.content_hash, document.size, document.uploaded_by = content_hash, size, uploaded_by
    document.status, document.progress, document.error = DocStatus.PENDING, 0, ""
    document.file.save(name, upload, save=False)
    document.save()
    return UploadOutcome(document, changed=True)


def _document_remove(document: KnowledgeDocument) -> None:
    if document.file:
        document.file.delete(save=False)
    document.delete()  # its segments go with it


def knowledge_document_delete(*, document: KnowledgeDocument) -> None:
    with transaction.atomic():
        persona_id = document.persona_id
        _document_remove(document)
        parts_refresh(persona_id)


def _needs_ingesting(force: bool) -> Q:
    """Documents whose segments are missing or were made from another file or model."""
    if force:
        return Q()
    try:
        model = embedding_model_name()
    except ModelNotFoundError:
        return Q()  # every document: their tasks fail, naming the setting to fix
    return (
        ~Q(status=DocStatus.DONE) | ~Q(ingested_hash=F("content_hash")) | ~Q(embedding_model=model)
    )


def knowledge_ingest_start(*, persona: Persona, force: bool = False) -> Persona:
    """Queue ingestion of every new, changed or failed document (all of them with `force`).

    The profile goes first; its task then queues the works and the quotes side by side.
    With nothing to ingest the persona is active at once: a voice needs no knowledge.
    """
    with transaction.atomic():
        persona = Persona.objects.select_for_update().get(id=persona.id)
        if persona.status == Persona.Status.ARCHIVED:
            raise _archived(persona)
        if persona.status == Persona.Status.INGESTING:
            raise RequestRefused(
                409, "ingestion_running", f"{persona.name!r} is being ingested already."
            )
        documents = persona.knowledge_documents.filter(_needs_ingesting(force))
        now = timezone.now()
        persona.ingestion_run += 1
        persona.ingestion_error = ""
        persona.ingestion_started_at, persona.ingestion_finished_at = now, None
        queued = documents.update(
            status=DocStatus.QUEUED, progress=0, error="", started_at=None, finished_at=None
        )
        if queued:
            persona.status = Persona.Status.INGESTING
        else:
            persona.status, persona.ingestion_finished_at = Persona.Status.ACTIVE, now
        persona.save()
        parts_refresh(persona.id)
        if queued:
            queueing.defer(
                queueing.INGEST_PROFILE,
                persona_id=persona.id,
                run=persona.ingestion_run,
            )
    logger.info("persona %s: ingestion run %d, %d documents", persona.name,
                persona.ingestion_run, queued)  # fmt: skip
    return persona


def knowledge_retry_failed(*, persona: Persona) -> Persona:
    """Ingest again what failed or never ran; what was ingested stays as it is."""
    if persona.status != Persona.Status.FAILED:
        raise RequestRefused(
            409, "nothing_failed",
            f"{persona.name!r} is {persona.get_status_display().lower()}; only a failed "
            "ingestion is retried.",
        )  # fmt: skip
    return knowledge_ingest_start(persona=persona)


def persona_archive(*, persona: Persona) -> Persona:
    """Take the persona out of use: no new jobs, no ingestion; its knowledge is kept."""
    with transaction.atomic():
        persona = Persona.objects.select_for_update().get(id=persona.id)
        persona.status = Persona.Status.ARCHIVED
        persona.ingestion_run += 1  # ingestion tasks still queued find their run over
        persona.save(update_fields=["status", "ingestion_run", "updated_at"])
        persona.knowledge_documents.filter(status__in=[DocStatus.QUEUED, DocStatus.RUNNING]).update(
            status=DocStatus.PENDING, progress=0
        )
        parts_refresh(persona.id)
    logger.info("persona %s archived", persona.name)
    return persona


def persona_restore(*, persona: Persona) -> Persona:
    """Bring an archived persona back: active when all its knowledge is in, else a draft."""
    with transaction.atomic():
        persona = Persona.objects.select_for_update().get(id=persona.id)
        if persona.status != Persona.Status.ARCHIVED:
            raise RequestRefused(409, "not_archived", f"{persona.name!r} is not archived.")
        complete = not persona.knowledge_documents.filter(_needs_ingesting(False)).exists()
        persona.status = Persona.Status.ACTIVE if complete else Persona.Status.DRAFT
        persona.save(update_fields=["status", "updated_at"])
    logger.info("persona %s restored as %s", persona.name, persona.status)
    return persona
