"""Media jobs in the admin: look at inputs, outputs and routing; retry or cancel them."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from jobs.admin.actions import confirmed_action, each_with_service
from jobs.media import services
from jobs.media.batches import batch_cancel, batch_progress
from jobs.media.models import MediaArtifact, MediaBatch, MediaJob


class MediaArtifactInline(admin.TabularInline):
    model = MediaArtifact
    extra = 0
    can_delete = False
    fields = ("download", "kind", "size_bytes", "duration_seconds", "codec", "width", "height")
    readonly_fields = fields

    @admin.display(description="File")
    def download(self, artifact: MediaArtifact):
        url = reverse("jobs:media-file", args=[artifact.media_job_id, artifact.name])
        return format_html('<a href="{}">{}</a>', url, artifact.name)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MediaJob)
class MediaJobAdmin(admin.ModelAdmin):
    list_display = (
        "title", "operation", "owner", "status", "progress", "queue", "word_error_rate",
        "created_at", "finished_at",
    )  # fmt: skip
    list_filter = ("operation", "status", "queue", "created_at")
    search_fields = ("id", "title", "owner__username", "error")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    readonly_fields = (
        "id", "owner", "title", "operation", "parameters", "source", "source_job", "status",
        "progress", "stage", "error", "error_code", "media_info", "queue", "queue_reason",
        "word_error_rate", "script_check", "priority", "created_at", "started_at",
        "finished_at", "files_deleted_at",
    )  # fmt: skip
    exclude = ("source_extension",)
    inlines = [MediaArtifactInline]
    actions = ["retry_media_jobs", "cancel_media_jobs"]

    def has_add_permission(self, request) -> bool:
        # Media jobs start from an upload or a narration (web, API or CLI), which queues them.
        return False

    def _each(self, request, queryset, service, verb: str) -> str:
        return each_with_service(
            self, request, queryset, service, keyword="media_job", verb=verb, noun="media jobs"
        )

    @admin.action(description="Retry (runs again from the input)")
    def retry_media_jobs(self, request, queryset):
        return confirmed_action(
            request, queryset, modeladmin=self, action="retry_media_jobs", label="Retry",
            noun="media jobs",
            perform=lambda qs: self._each(request, qs, services.media_job_retry, "Retried"),
        )  # fmt: skip

    @admin.action(description="Cancel (a running ffmpeg or Whisper is stopped)")
    def cancel_media_jobs(self, request, queryset):
        return confirmed_action(
            request, queryset, modeladmin=self, action="cancel_media_jobs", label="Cancel",
            noun="media jobs",
            perform=lambda qs: self._each(request, qs, services.media_job_cancel, "Cancelled"),
        )  # fmt: skip


class BatchMediaJobInline(admin.TabularInline):
    model = MediaJob
    fk_name = "batch"
    extra = 0
    can_delete = False
    fields = ("title", "operation", "status", "progress", "source_job", "error")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MediaBatch)
class MediaBatchAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "status", "progress", "expected_children", "created_at",
                    "finished_at")  # fmt: skip
    list_filter = ("status", "created_at")
    search_fields = ("id", "title", "owner__username")
    readonly_fields = ("id", "owner", "title", "status", "progress", "presets",
                       "expected_children", "archive", "archive_size_bytes", "idempotency_key",
                       "created_at", "finished_at", "files_deleted_at")  # fmt: skip
    exclude = ("request_hash",)
    inlines = [BatchMediaJobInline]
    actions = ["cancel_batches"]

    def has_add_permission(self, request) -> bool:
        return False  # batches start from the API, which checks each deck and persona

    @admin.display(description="Progress")
    def progress(self, batch: MediaBatch) -> str:
        done = batch_progress(batch)
        return (f"{done['ended']} of {done['expected']} ended: {done['completed']} completed, "
                f"{done['failed']} failed, {done['cancelled']} cancelled")  # fmt: skip

    @admin.action(description="Cancel (running children stop, finished ones are kept)")
    def cancel_batches(self, request, queryset):
        return confirmed_action(
            request, queryset, modeladmin=self, action="cancel_batches", label="Cancel",
            noun="batches",
            perform=lambda qs: f"Cancelled {sum(batch_cancel(batch=b) for b in qs)} batches.",
        )  # fmt: skip
