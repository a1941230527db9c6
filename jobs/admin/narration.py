"""Deck jobs and slides in the admin: look, retry, cancel, re-render (jobs start from an upload)."""

from __future__ import annotations

from django.contrib import admin

from jobs.admin.actions import confirmed_action, each_with_service
from jobs.narration import services
from jobs.narration.models import Job, Slide


class SlideInline(admin.TabularInline):
    model = Slide
    extra = 0
    can_delete = False
    fields = ("index", "source_number", "status", "duration_seconds", "notes", "error")
    readonly_fields = fields
    show_change_link = True


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "title", "owner", "status", "progress", "priority", "slide_count", "duration_seconds",
        "persona", "created_at", "finished_at",
    )  # fmt: skip
    list_filter = ("status", "priority", "persona", "resolution", "created_at")
    search_fields = ("id", "title", "owner__username", "owner__email", "error")
    date_hierarchy = "created_at"
    list_select_related = ("owner", "persona")
    readonly_fields = (
        "id", "status", "progress", "error", "error_code", "warnings", "slide_count",
        "duration_seconds",
        "video", "captions_srt", "captions_vtt", "created_at", "started_at", "finished_at",
        "files_deleted_at",
    )  # fmt: skip
    inlines = [SlideInline]
    actions = ["retry_jobs", "cancel_jobs", "rerender_jobs"]

    def has_add_permission(self, request) -> bool:
        # Jobs start from an upload (web, API or CLI), which also queues their first step.
        return False

    def _each(self, request, queryset, service, verb: str) -> str:
        return each_with_service(
            self, request, queryset, service, keyword="job", verb=verb, noun="jobs"
        )

    @admin.action(description="Retry from the failed step (keeps finished slides)")
    def retry_jobs(self, request, queryset):
        return confirmed_action(
            request, queryset, modeladmin=self, action="retry_jobs", label="Retry", noun="jobs",
            perform=lambda qs: self._each(request, qs, services.job_retry, "Retried"),
        )  # fmt: skip

    @admin.action(description="Cancel (waiting steps cancelled, running ones aborted)")
    def cancel_jobs(self, request, queryset):
        return confirmed_action(
            request, queryset, modeladmin=self, action="cancel_jobs", label="Cancel", noun="jobs",
            perform=lambda qs: self._each(request, qs, services.job_cancel, "Cancelled"),
        )  # fmt: skip

    @admin.action(description="Re-render from the deck")
    def rerender_jobs(self, request, queryset):
        return confirmed_action(
            request, queryset, modeladmin=self, action="rerender_jobs", label="Re-render",
            noun="jobs",
            perform=lambda qs: self._each(request, qs, services.job_rerender, "Re-rendering"),
        )  # fmt: skip


@admin.register(Slide)
class SlideAdmin(admin.ModelAdmin):
    list_display = ("job", "index", "source_number", "status", "duration_seconds", "updated_at")
    list_filter = ("status",)
    search_fields = ("job__id", "job__title", "notes")
    list_select_related = ("job",)
    readonly_fields = ("job", "index", "source_number", "image", "audio", "cues", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False
