"""Deck jobs and their slides."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

# The kinds of deck, by the extension they are stored under (decided by their content).
DECK_EXTENSIONS = ("pptx", "pdf", "odp")
NOTES_EXTENSIONS = ("txt", "json")


def deck_upload_path(job: Job, filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower()
    return f"jobs/{job.id}/deck.{extension if extension in DECK_EXTENSIONS else 'pptx'}"


def notes_upload_path(job: Job, filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower()
    return f"jobs/{job.id}/notes.{extension if extension in NOTES_EXTENSIONS else 'txt'}"


class Job(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        PROCESSING_SLIDES = "processing_slides", "Rendering slides"
        SYNTHESIZING_AUDIO = "synthesizing_audio", "Narrating"
        ASSEMBLING_VIDEO = "assembling_video", "Assembling the video"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Resolution(models.TextChoices):
        HD = "1280x720", "720p (1280×720)"
        FULL_HD = "1920x1080", "1080p (1920×1080)"
        UHD = "3840x2160", "4K (3840×2160)"

    class Priority(models.IntegerChoices):
        # procrastinate runs higher numbers first.
        HIGH = 10, "High"
        NORMAL = 0, "Normal"
        BACKGROUND = -10, "Background"

    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    title = models.CharField(max_length=255, help_text="The uploaded file's name.")
    deck = models.FileField(upload_to=deck_upload_path, max_length=255)
    notes_sidecar = models.FileField(
        upload_to=notes_upload_path,
        max_length=255,
        blank=True,
        help_text="Speaker notes uploaded beside the deck (.txt or .json), one entry per slide.",
    )
    persona = models.ForeignKey("jobs.Persona", on_delete=models.PROTECT, related_name="jobs")
    resolution = models.CharField(
        max_length=20, choices=Resolution.choices, default=Resolution.FULL_HD
    )
    padding_seconds = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(10.0)],
        help_text="Silence after each slide's narration before the next slide.",
    )
    empty_slide_seconds = models.FloatField(
        default=3.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(60.0)],
        help_text="How long a slide without speaker notes stays on screen.",
    )
    priority = models.IntegerField(choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(
        max_length=30, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    warnings = models.JSONField(
        default=list,
        blank=True,
        help_text="What the job left out or changed on its way to a video (shown to its owner).",
    )
    # The queue job that won the right to encode the video: a retry of that same queue job
    # may encode again, any other assemble task finds it taken.
    assembly_claim = models.BigIntegerField(null=True, blank=True, editable=False)
    slide_count = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    video = models.FileField(max_length=255, blank=True)
    captions_srt = models.FileField(max_length=255, blank=True)
    captions_vtt = models.FileField(max_length=255, blank=True)
    chapters_vtt = models.FileField(
        max_length=255, blank=True, help_text="A WebVTT chapters track: one cue per slide."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the retention cleanup removed the job's files."
    )
    callback_url = models.URLField(
        max_length=2000, blank=True, help_text="Receives a signed event when the job ends."
    )
    # A narration made as part of a batch (jobs.media.batches), which follows it.
    batch = models.ForeignKey(
        "jobs.MediaBatch", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    stored_bytes = models.BigIntegerField(
        default=0, help_text="Bytes of the files stored for this job alone (cached ones apart)."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def frame_size(self) -> tuple[int, int]:
        width, height = self.resolution.split("x")
        return int(width), int(height)

    def storage_prefix(self) -> str:
        return f"jobs/{self.id}"


class Slide(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for narration"
        RENDERED = "rendered", "Rendered"
        NARRATING = "narrating", "Narrating"
        NARRATED = "narrated", "Narrated"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="slides")
    index = models.PositiveIntegerField(help_text="Position in the video, from 1.")
    source_number = models.PositiveIntegerField(help_text="Slide number in the deck as authored.")
    title = models.CharField(
        max_length=100, blank=True, help_text="The slide's chapter title in the video."
    )
    start_seconds = models.FloatField(
        null=True, blank=True, help_text="When the slide appears in the video."
    )
    notes = models.TextField(blank=True)
    image = models.FileField(max_length=255, blank=True)
    audio = models.FileField(max_length=255, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    cues = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    # Taken from the owner's content cache instead of made for this job.
    image_cached = models.BooleanField(default=False)
    audio_cached = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="unique_slide_index_per_job")
        ]

    def __str__(self) -> str:
        return f"Slide {self.index} of {self.job_id}"


class CachedArtifact(models.Model):
    """A slide's audio, image or encoded keyframe, kept under its content key for reuse.

    Shared by the jobs of one owner, never across owners; expires with the cleanup's
    output retention after its last use (jobs.operations.cleanup).
    """

    class Kind(models.TextChoices):
        AUDIO = "audio", "Narration audio"
        IMAGE = "image", "Slide image"
        KEYFRAME = "keyframe", "Encoded keyframe"
        AAC = "aac", "Encoded narration"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cached_artifacts"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=64, help_text="SHA-256 of what shapes the content.")
    file = models.FileField(max_length=255)
    size_bytes = models.BigIntegerField()
    # Audio: duration_seconds and cues, so a hit needs no decoding.
    metadata = models.JSONField(default=dict, blank=True)
    hits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "kind", "key"], name="unique_cached_artifact_per_owner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key[:12]} of user {self.owner_id}"


class CachedPiece(models.Model):
    """Where one spoken piece (a sentence) lies inside a cached narration's WAV.

    An edited slide's narration takes its unchanged sentences from here and speaks only the
    new ones. Goes with its narration when that expires or is cleared.
    """

    artifact = models.ForeignKey(CachedArtifact, on_delete=models.CASCADE, related_name="pieces")
    # The artifact's owner, repeated so a lookup by key needs no join.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64, help_text="SHA-256 of the text as said and the voice.")
    start_sample = models.PositiveIntegerField()
    end_sample = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner", "key"], name="cached_piece_owner_key")]

    def __str__(self) -> str:
        return f"piece {self.key[:12]} of {self.artifact_id}"
