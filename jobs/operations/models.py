"""What operators keep about the queues: dead letters, workers, samples, pauses, incidents."""

from __future__ import annotations

from django.db import models


class DeadLetter(models.Model):
    """A queue job that failed for the last time, with what procrastinate does not keep."""

    procrastinate_job_id = models.BigIntegerField(db_index=True)
    task_name = models.CharField(max_length=128)
    queue_name = models.CharField(max_length=128)
    task_kwargs = models.JSONField(default=dict)
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="dead_letters"
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
    # What nvidia-smi saw when the worker started: GPU work is routed by it.
    gpu_count = models.PositiveSmallIntegerField(default=0)
    gpu_names = models.CharField(max_length=255, blank=True)
    # Codec -> encoders its ffmpeg can use (media_pipeline.encoders.codec_support).
    encoders = models.JSONField(default=dict, blank=True)

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
    gpu_utilisation_percent = models.FloatField(
        null=True, blank=True, help_text="Mean over the host's GPUs."
    )

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
