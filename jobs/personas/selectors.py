"""Reads of personas."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from jobs.personas.models import KnowledgePart, Persona, VoiceReference
from media_pipeline.script import Lexicon


def persona_choices(*, user=None) -> QuerySet[Persona]:
    """The personas a new job of `user` may use: active shared ones and the user's own.

    No user (the command line) means every active persona.
    """
    active = Persona.objects.filter(status=Persona.Status.ACTIVE)
    if user is None or user.is_staff:
        return active
    return active.filter(Q(owner__isnull=True) | Q(owner=user))


def persona_list_for(*, user) -> QuerySet[Persona]:
    """Every persona for staff; the active shared ones and all of their own for others."""
    personas = Persona.objects.order_by("name")
    if user.is_staff:
        return personas
    return personas.filter(Q(owner=user) | Q(owner__isnull=True, status=Persona.Status.ACTIVE))


_NOT_READY = {
    Persona.Status.DRAFT: "is a draft: start its ingestion to make it active",
    Persona.Status.INGESTING: "is ingesting its knowledge; it narrates once that ends",
    Persona.Status.FAILED: "failed its ingestion ({error}); retry the failed parts",
    Persona.Status.ARCHIVED: "is archived",
}


def persona_narration_refusal(*, persona: Persona, user) -> str | None:
    """Why `user` may not narrate with the persona now, or None when they may."""
    someone_elses = persona.owner_id not in (None, getattr(user, "id", None))
    if someone_elses and not getattr(user, "is_staff", False):
        return "There is no such persona."
    if persona.status != Persona.Status.ACTIVE:
        reason = _NOT_READY[persona.status].format(error=persona.ingestion_error or "see its page")
        return f"The persona {persona.name!r} {reason}; only an active persona narrates."
    return None


def persona_get(*, persona_id: int) -> Persona | None:
    return Persona.objects.filter(id=persona_id).first()


def persona_get_for(*, user, persona_id: int, manage: bool = False) -> Persona | None:
    """The persona if `user` may see it (or, with `manage`, change it): else None.

    Shared personas are changed by staff only; a user's own by that user and staff.
    """
    if manage:
        personas = Persona.objects.all() if user.is_staff else Persona.objects.filter(owner=user)
    else:
        personas = persona_list_for(user=user)
    return personas.filter(id=persona_id).first()


def persona_ingestion(*, persona: Persona) -> dict:
    """The persona's lifecycle and every part's and document's ingestion, for pages and API."""
    parts = {part.kind: part for part in persona.knowledge_parts.all()}
    documents = persona.knowledge_documents.select_related("part").order_by("part__kind", "name")
    return {
        "id": persona.id,
        "status": persona.status,
        "error": persona.ingestion_error,
        "run": persona.ingestion_run,
        "started_at": persona.ingestion_started_at,
        "finished_at": persona.ingestion_finished_at,
        "parts": [
            _part_payload(kind, parts.get(kind), [d for d in documents if d.part.kind == kind])
            for kind in KnowledgePart.Kind.values
        ],
    }


def _part_payload(kind: str, part: KnowledgePart | None, documents: list) -> dict:
    fields = ("status", "progress", "error", "document_count", "segment_count", "vector_count",
              "started_at", "finished_at", "duration_seconds")  # fmt: skip
    payload = {"part": kind}
    payload.update(
        {field: getattr(part, field) for field in fields}
        if part
        else {**dict.fromkeys(fields), "status": KnowledgePart.Status.EMPTY, "progress": 0,
              "error": "", "document_count": 0, "segment_count": 0, "vector_count": 0}
    )  # fmt: skip
    payload["documents"] = [
        {
            "id": doc.id,
            "name": doc.name,
            "size": doc.size,
            "status": doc.status,
            "progress": doc.progress,
            "error": doc.error,
            "segment_count": doc.segment_count,
            "vector_count": doc.vector_count,
            "character_count": doc.character_count,
            "content_hash": doc.content_hash,
            "started_at": doc.started_at,
            "finished_at": doc.finished_at,
            "duration_seconds": doc.duration_seconds,
            "uploaded_at": doc.uploaded_at,
        }  # fmt: skip
        for doc in documents
    ]
    return payload


def persona_lexicon(*, persona: Persona) -> Lexicon:
    """How the persona says particular words, ready for the speech step."""
    return Lexicon.of(persona.pronunciations.values_list("phrase", "say"))


def voice_reference_get(*, persona: Persona) -> VoiceReference | None:
    return VoiceReference.objects.filter(persona=persona).first()


def persona_can_clone(*, persona: Persona) -> bool:
    """Whether the persona has a prepared reference recording with consent on record."""
    return (
        VoiceReference.objects.filter(persona=persona, status=VoiceReference.Status.READY)
        .exclude(consent_given_by="")
        .exists()
    )


def knowledge_document_get(*, persona: Persona, document_id: int):
    return persona.knowledge_documents.filter(id=document_id).first()
