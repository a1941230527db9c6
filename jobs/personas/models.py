"""Personas: the voices that narrate jobs."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower


class Persona(models.Model):
    class Engine(models.TextChoices):
        PIPER = "piper", "Piper (CPU)"
        XTTS = "xtts", "Coqui XTTS, cloned from the reference recording (GPU)"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    name = models.CharField(max_length=100, unique=True)
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
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

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
