"""Jobs, their slides, and the personas that narrate them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


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


def _deck_path(job: Job, filename: str) -> str:
    return f"jobs/{job.id}/deck.pptx"


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
    deck = models.FileField(upload_to=_deck_path, max_length=255)
    persona = models.ForeignKey(Persona, on_delete=models.PROTECT, related_name="jobs")
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
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the retention cleanup removed the job's files."
    )
    callback_url = models.URLField(
        max_length=2000, blank=True, help_text="Receives a signed event when the job ends."
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
        RENDERED = "rendered", "Rendered"
        NARRATING = "narrating", "Narrating"
        NARRATED = "narrated", "Narrated"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="slides")
    index = models.PositiveIntegerField(help_text="Position in the video, from 1.")
    source_number = models.PositiveIntegerField(help_text="Slide number in the deck as authored.")
    notes = models.TextField(blank=True)
    image = models.FileField(max_length=255, blank=True)
    audio = models.FileField(max_length=255, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    cues = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RENDERED)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="unique_slide_index_per_job")
        ]

    def __str__(self) -> str:
        return f"Slide {self.index} of {self.job_id}"


class DeadLetter(models.Model):
    """A queue job that failed for the last time, with what procrastinate does not keep."""

    procrastinate_job_id = models.BigIntegerField(db_index=True)
    task_name = models.CharField(max_length=128)
    queue_name = models.CharField(max_length=128)
    task_kwargs = models.JSONField(default=dict)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="dead_letters"
    )
    exception_class = models.CharField(max_length=255, db_index=True)
    message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField()
    failed_at = models.DateTimeField(db_index=True)
    retried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-failed_at"]

    def __str__(self) -> str:
        return f"{self.task_name} #{self.procrastinate_job_id}: {self.exception_class}"


class WorkerHost(models.Model):
    """What a running procrastinate worker says about itself (its table keeps only a heartbeat)."""

    worker_id = models.BigIntegerField(unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list, help_text="Empty: every queue.")
    concurrency = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()

    class Meta:
        ordering = ["hostname", "started_at"]

    def __str__(self) -> str:
        return f"worker {self.worker_id} on {self.hostname}"


class ResourceSample(models.Model):
    hostname = models.CharField(max_length=255)
    taken_at = models.DateTimeField(db_index=True)
    cpu_percent = models.FloatField()
    memory_percent = models.FloatField()
    memory_used_bytes = models.BigIntegerField()
    disk_percent = models.FloatField(help_text="Of the disk that holds the media folder.")
    disk_free_bytes = models.BigIntegerField()
    gpu_memory_used_bytes = models.BigIntegerField(null=True, blank=True)
    gpu_memory_total_bytes = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["hostname", "taken_at"], name="one_sample_per_host_and_minute"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.taken_at:%Y-%m-%d %H:%M}"


class QueuePause(models.Model):
    """A paused queue: its waiting jobs stay waiting (see migration 0004's trigger)."""

    queue_name = models.CharField(max_length=128, unique=True)
    paused_at = models.DateTimeField(auto_now_add=True)
    paused_by = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"{self.queue_name} (paused)"


class Incident(models.Model):
    class Kind(models.TextChoices):
        LATENCY = "latency", "Queue latency"
        FAILURE_RATE = "failure_rate", "Failure rate"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    queue_name = models.CharField(max_length=128)
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "queue_name"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_incident_per_kind_and_queue",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.queue_name}"


class ApiToken(models.Model):
    """A personal API token; only a hash is kept, the token itself is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The start of the token, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ApiRateWindow(models.Model):
    """Requests of one token in one fixed window of time (rate limiting in PostgreSQL)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "window_start"], name="one_window_per_token")
        ]

    def __str__(self) -> str:
        return f"{self.token_id} at {self.window_start}: {self.count}"


class IdempotencyKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    job = models.ForeignKey(Job, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="one_idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return self.key


class WebhookSecret(models.Model):
    """The secret that signs a user's outbound webhooks (HMAC-SHA256)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"webhook secret of {self.user}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(Job, null=True, on_delete=models.SET_NULL, related_name="webhooks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True)
    event_type = models.CharField(max_length=50)
    url = models.URLField(max_length=2000)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} to {self.url}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["attempted_at"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error[:40]} at {self.attempted_at}"


class InboundEvent(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=50)
    event_id = models.CharField(max_length=255)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="one_event_per_source_id")
        ]

    def __str__(self) -> str:
        return f"{self.source} event {self.event_id}"
