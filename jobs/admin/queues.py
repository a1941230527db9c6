"""procrastinate's queue jobs, dead letters, incidents, workers and resource samples."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils.html import format_html
from procrastinate.contrib.django.admin import ProcrastinateJobAdmin
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.admin.actions import confirmed_action
from jobs.operations import dead_letters, queue_actions
from jobs.operations.models import DeadLetter, Incident, ResourceSample, WorkerHost

admin.site.unregister(ProcrastinateJob)


@admin.register(ProcrastinateJob)
class QueueJobAdmin(ProcrastinateJobAdmin):
    list_display = [
        "pk", "short_task_name", "queue_name", "pretty_status", "priority", "attempts",
        "scheduled_at", "pretty_args", "last_error",
    ]  # fmt: skip
    list_filter = ["status", "queue_name", "task_name", "priority"]
    search_fields = ["task_name"]
    search_help_text = "Task arguments (e.g. a Slidecast job id), queue job id, or error class."
    list_per_page = 50
    actions = ["retry_queue_jobs", "cancel_queue_jobs", "abort_queue_jobs"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        failed_with = DeadLetter.objects.filter(exception_class__icontains=term).values(
            "procrastinate_job_id"
        )
        matches = Q(args_text__icontains=term) | Q(id__in=failed_with)
        if term.isdigit():
            matches |= Q(id=int(term))
        annotated = queryset.annotate(args_text=Cast("args", TextField()))
        return annotated.filter(matches), False

    @admin.display(description="Last error")
    def last_error(self, instance: ProcrastinateJob) -> str:
        letter = DeadLetter.objects.filter(procrastinate_job_id=instance.id).first()
        return letter.exception_class.rsplit(".", 1)[-1] if letter else ""

    def _confirm(self, request, queryset, action: str, label: str, perform):
        def run(selected: QuerySet) -> str:
            # The ids first: acting changes what the filter (e.g. status=failed) matches.
            ids = list(selected.values_list("id", flat=True))
            return f"{label}: {perform(ids)} of {len(ids)} queue jobs."

        return confirmed_action(
            request, queryset, modeladmin=self, action=action, label=label, noun="queue jobs",
            perform=run,
            preview=lambda qs: [f"#{j.id} {j.task_name} ({j.status})" for j in qs[:10]],
        )  # fmt: skip

    @admin.action(description="Retry selected queue jobs")
    def retry_queue_jobs(self, request, queryset):
        return self._confirm(
            request, queryset, "retry_queue_jobs", "Retry", queue_actions.queue_jobs_retry
        )

    @admin.action(description="Cancel selected waiting queue jobs")
    def cancel_queue_jobs(self, request, queryset):
        return self._confirm(
            request, queryset, "cancel_queue_jobs", "Cancel", queue_actions.queue_jobs_cancel
        )

    @admin.action(description="Abort selected running queue jobs")
    def abort_queue_jobs(self, request, queryset):
        return self._confirm(
            request, queryset, "abort_queue_jobs", "Abort", queue_actions.queue_jobs_abort
        )


# Dead letters, incidents, workers, resources ----------------------------------------------


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = (
        "failed_at", "task_name", "queue_name", "short_exception", "message_start", "attempts",
        "job", "retried_at",
    )  # fmt: skip
    list_filter = ("task_name", "queue_name", "exception_class", "failed_at")
    search_fields = ("exception_class", "message", "task_kwargs", "procrastinate_job_id")
    readonly_fields = (
        "procrastinate_job_id", "task_name", "queue_name", "task_kwargs", "job",
        "exception_class", "message", "formatted_traceback", "attempts", "failed_at",
        "retried_at",
    )  # fmt: skip
    exclude = ("traceback",)
    actions = ["retry_dead_letters"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Exception")
    def short_exception(self, letter: DeadLetter) -> str:
        return letter.exception_class.rsplit(".", 1)[-1]

    @admin.display(description="Message")
    def message_start(self, letter: DeadLetter) -> str:
        return letter.message[:120]

    @admin.display(description="Traceback")
    def formatted_traceback(self, letter: DeadLetter) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", letter.traceback)

    @admin.action(description="Retry (Slidecast jobs continue from their failed step)")
    def retry_dead_letters(self, request, queryset):
        def perform(letters) -> str:
            outcomes = [dead_letters.dead_letter_retry(letter=letter) for letter in letters]
            return f"Retried {len(outcomes)} dead letters: " + "; ".join(sorted(set(outcomes)))

        return confirmed_action(
            request, queryset, modeladmin=self, action="retry_dead_letters", label="Retry",
            noun="dead letters", perform=perform,
        )  # fmt: skip


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("opened_at", "kind", "queue_name", "resolved_at", "detail")
    list_filter = ("kind", "queue_name", ("resolved_at", admin.EmptyFieldListFilter))
    readonly_fields = ("kind", "queue_name", "opened_at", "resolved_at", "detail")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WorkerHost)
class WorkerHostAdmin(admin.ModelAdmin):
    list_display = ("worker_id", "hostname", "pid", "queues", "concurrency", "started_at")
    search_fields = ("hostname",)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ResourceSample)
class ResourceSampleAdmin(admin.ModelAdmin):
    list_display = (
        "taken_at", "hostname", "cpu_percent", "memory_percent", "disk_percent",
        "gpu_memory_used_bytes",
    )  # fmt: skip
    list_filter = ("hostname",)
    date_hierarchy = "taken_at"

    def has_add_permission(self, request) -> bool:
        return False
