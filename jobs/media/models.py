"""Media jobs (transcription, previews, transcodes, HLS ladders) and the files they produce."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


def media_source_path(job: MediaJob, filename: str) -> str:
    return f"{job.storage_prefix()}/source{job.source_extension}"


class MediaJob(models.Model):
    class Operation(models.TextChoices):
        TRANSCRIBE = "transcribe", "Transcribe"
        PREVIEW = "preview", "Poster, animated preview and storyboard"
        TRANSCODE = "transcode", "Transcode"
        HLS = "hls", "HLS ladder for streaming"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_jobs"
    )
    title = models.CharField(max_length=255, help_text="The input's file name.")
    operation = models.CharField(max_length=20, choices=Operation.choices)
    parameters = models.JSONField(default=dict, blank=True)
    source = models.FileField(max_length=255, blank=True, upload_to=media_source_path)
    source_extension = models.CharField(max_length=10, blank=True, editable=False)
    # The narration whose video is the input (instead of an upload).
    source_job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="media_jobs"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=100, blank=True, help_text="What runs now.")
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    media_info = models.JSONField(default=dict, blank=True, help_text="What ffprobe read.")
    queue = models.CharField(max_length=20, blank=True, help_text="The queue it was sent to.")
    queue_reason = models.CharField(max_length=255, blank=True)
    # Transcribing a narration's video: how far what was heard is from its notes.
    word_error_rate = models.FloatField(null=True, blank=True)
    script_check = models.JSONField(default=dict, blank=True)
    priority = models.IntegerField(default=0)
    batch = models.ForeignKey(
        "jobs.MediaBatch", null=True, blank=True, on_delete=models.CASCADE,
        related_name="media_jobs",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_operation_display()}: {self.title} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def storage_prefix(self) -> str:
        return f"media/{self.id}"

    def output_prefix(self) -> str:
        return f"{self.storage_prefix()}/out"


class MediaArtifact(models.Model):
    """One output file of a media job, described the way a player or an editor needs it."""

    class Kind(models.TextChoices):
        TRANSCRIPT_SRT = "transcript_srt", "Transcript (SRT)"
        TRANSCRIPT_VTT = "transcript_vtt", "Transcript (WebVTT)"
        TRANSCRIPT_TEXT = "transcript_text", "Transcript (plain text)"
        TRANSCRIPT_JSON = "transcript_json", "Transcript with word timings (JSON)"
        POSTER = "poster", "Poster frame"
        ANIMATED_PREVIEW = "animated_preview", "Animated preview"
        STORYBOARD = "storyboard", "Storyboard sprite sheet"
        THUMBNAILS_VTT = "thumbnails_vtt", "Thumbnails track (WebVTT)"
        VIDEO = "video", "Video"
        HLS_MASTER = "hls_master", "HLS master playlist"

    media_job = models.ForeignKey(MediaJob, on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    # The path under the job's output folder; also the last part of its download URL.
    name = models.CharField(max_length=200)
    file = models.FileField(max_length=255)
    content_type = models.CharField(max_length=100)
    size_bytes = models.BigIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)
    codec = models.CharField(max_length=50, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["media_job", "id"]
        constraints = [
            models.UniqueConstraint(fields=["media_job", "name"], name="one_artifact_per_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} of {self.media_job_id}"


class MediaBatch(models.Model):
    """One request for many outputs: several decks, or one deck in several variants.

    Its children are narration jobs (deck × persona) and the transcodes made from each
    narration (× preset); they run in parallel across workers, and one child's failure does
    not stop the others. When all have ended, their outputs are gathered in one ZIP.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        PARTIAL = "partial", "Completed with failures"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.COMPLETED, Status.PARTIAL, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_batches"
    )
    title = models.CharField(max_length=255)
    # Transcode options (jobs.media.parameters.TranscodeOptions) applied to every narration.
    presets = models.JSONField(default=list, blank=True)
    expected_children = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    archive = models.FileField(max_length=255, blank=True)
    archive_size_bytes = models.BigIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_batch_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"Batch {self.title} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def storage_prefix(self) -> str:
        return f"batches/{self.id}"
