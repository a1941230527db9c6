"""Personas: the voices that narrate jobs, and the knowledge they are given."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from pgvector.django import HnswIndex, VectorField

from media_pipeline.embeddings import EMBEDDING_DIMENSIONS


class Persona(models.Model):
    class Engine(models.TextChoices):
        PIPER = "piper", "Piper (CPU)"
        XTTS = "xtts", "Coqui XTTS, cloned from the reference recording (GPU)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        INGESTING = "ingesting", "Ingesting knowledge"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Ingestion failed"
        ARCHIVED = "archived", "Archived"

    # No owner: one of the operators' shared personas, which every user may narrate with.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="personas",
        help_text="Empty for a persona every user may narrate with.",
    )
    name = models.CharField(max_length=100)
    tts_engine = models.CharField(max_length=20, choices=Engine.choices, default=Engine.PIPER)
    voice = models.CharField(
        max_length=200,
        default="en_US-joe-medium",
        help_text="Voice model name; for Piper, the file name without .onnx.",
    )
    speaking_rate = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(2.0)],
        help_text="1.0 is the voice's natural pace; 1.2 is 20% faster.",
    )
    language = models.CharField(max_length=20, default="en-US")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    # Each ingestion run has a number; a task of an earlier run finds it changed and stops.
    ingestion_run = models.PositiveIntegerField(default=0, editable=False)
    ingestion_error = models.TextField(blank=True, editable=False)
    ingestion_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    ingestion_finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="one_persona_name_per_owner"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="one_shared_persona_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PronunciationEntry(models.Model):
    """How a persona says a word or phrase: a respelling, or phonemes for engines that take them.

    Applied to what the engine is given, never to the captions.
    """

    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="pronunciations")
    phrase = models.CharField(max_length=100, help_text="As written in the notes (any case).")
    say = models.CharField(max_length=200, help_text="How to say it, e.g. 'sequel' for SQL.")

    class Meta:
        ordering = ["phrase"]
        verbose_name = "pronunciation"
        verbose_name_plural = "pronunciation lexicon"
        constraints = [
            models.UniqueConstraint(Lower("phrase"), "persona", name="one_pronunciation_per_phrase")
        ]

    def __str__(self) -> str:
        return f"{self.phrase} → {self.say}"


def _reference_path(reference: VoiceReference, filename: str) -> str:
    suffix = Path(filename).suffix.lower()[:8]
    return f"personas/{reference.persona_id}/reference/original{suffix}"


class VoiceReference(models.Model):
    """A persona's reference recording for voice cloning, with the consent it was given under."""

    class Status(models.TextChoices):
        PREPARING = "preparing", "Preparing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    persona = models.OneToOneField(Persona, on_delete=models.CASCADE, related_name="reference")
    recording = models.FileField(upload_to=_reference_path, max_length=255)
    prepared = models.FileField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREPARING)
    error = models.TextField(blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    peak_dbfs = models.FloatField(null=True, blank=True)
    snr_db = models.FloatField(null=True, blank=True, help_text="Estimated signal to noise.")
    loudness_lufs = models.FloatField(null=True, blank=True, help_text="As recorded.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    prepared_at = models.DateTimeField(null=True, blank=True)
    consent_given_by = models.CharField(
        max_length=200, help_text="The person whose voice this is, who consented."
    )
    consent_given_at = models.DateTimeField()
    consent_statement = models.TextField(help_text="The statement they accepted, word for word.")

    def __str__(self) -> str:
        return f"reference of {self.persona} ({self.get_status_display()})"


class KnowledgePart(models.Model):
    """One of a persona's three parts of knowledge, with the sums of its documents' ingestion."""

    class Kind(models.TextChoices):
        PROFILE = "profile", "Profile"
        WORKS = "works", "Works"
        QUOTES = "quotes", "Quotes"

    class Status(models.TextChoices):
        EMPTY = "empty", "No documents"
        PENDING = "pending", "Not ingested yet"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Ingesting"
        DONE = "done", "Ingested"
        FAILED = "failed", "Failed"

    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="knowledge_parts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.EMPTY)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    document_count = models.PositiveIntegerField(default=0)
    segment_count = models.PositiveIntegerField(default=0)
    vector_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["persona", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["persona", "kind"], name="one_knowledge_part_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.persona}: {self.kind}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


def _document_path(document: KnowledgeDocument, filename: str) -> str:
    suffix = Path(filename).suffix.lower()[:10]
    return (
        f"personas/{document.persona_id}/knowledge/{document.part.kind}/{uuid.uuid4().hex}{suffix}"
    )


class KnowledgeDocument(models.Model):
    """One uploaded file of a part: its ingestion state and the hash of what was ingested."""

    class Status(models.TextChoices):
        PENDING = "pending", "Not ingested yet"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Ingesting"
        DONE = "done", "Ingested"
        FAILED = "failed", "Failed"

    persona = models.ForeignKey(
        Persona, on_delete=models.CASCADE, related_name="knowledge_documents"
    )
    part = models.ForeignKey(KnowledgePart, on_delete=models.CASCADE, related_name="documents")
    name = models.CharField(max_length=255, help_text="The file's name as uploaded.")
    file = models.FileField(upload_to=_document_path, max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the uploaded file.")
    # What the current segments were made from: the file's hash and the embedding model.
    ingested_hash = models.CharField(max_length=64, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    character_count = models.PositiveIntegerField(default=0)
    segment_count = models.PositiveIntegerField(default=0)
    vector_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["part__kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["part", "name"], name="one_document_name_per_part")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class KnowledgeSegment(models.Model):
    """A passage of a document, embedded for semantic search and indexed for full text."""

    id = models.BigAutoField(primary_key=True)
    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(
        KnowledgeDocument, on_delete=models.CASCADE, related_name="segments"
    )
    part = models.CharField(max_length=10, choices=KnowledgePart.Kind.choices)
    position = models.PositiveIntegerField()
    text = models.TextField()
    source = models.CharField(max_length=300, blank=True, help_text="Where a quote comes from.")
    token_count = models.PositiveIntegerField(default=0)
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    # Filled in the persona's language (PostgreSQL's text search configuration) after insert.
    search = SearchVectorField(null=True)

    class Meta:
        ordering = ["document", "position"]
        indexes = [
            models.Index(fields=["persona", "part"], name="segment_persona_part"),
            models.Index(fields=["document", "position"], name="segment_document_position"),
            HnswIndex(
                name="segment_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search"], name="segment_search_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.document} #{self.position}"
