"""Personas: the voices that narrate jobs."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower


class Persona(models.Model):
    class Engine(models.TextChoices):
        PIPER = "piper", "Piper (CPU)"

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
        constraints = [
            models.UniqueConstraint(Lower("phrase"), "persona", name="one_pronunciation_per_phrase")
        ]

    def __str__(self) -> str:
        return f"{self.phrase} → {self.say}"
