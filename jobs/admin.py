from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.template.response import TemplateResponse
from django.utils.html import format_html
from procrastinate.contrib.django.admin import ProcrastinateJobAdmin
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import operations, services
from jobs.api_auth import api_token_create
from jobs.models import (
    ApiToken,
    DeadLetter,
    InboundEvent,
    Incident,
    Job,
    Persona,
    ResourceSample,
    Slide,
    WebhookAttempt,
    WebhookDelivery,
    WorkerHost,
)


def confirmed_action(
    request, queryset: QuerySet, *, modeladmin, action: str, label: str, noun: str,
    perform: Callable[[QuerySet], str], preview: Callable[[QuerySet], list[str]] | None = None,
):  # fmt: skip
    """Show how many rows an action will touch and act only once the operator confirms."""
    if request.POST.get("confirmed") == "yes":
        modeladmin.message_user(request, perform(queryset), messages.SUCCESS)
        return None
    select_across = request.POST.get("select_across") == "1"
    filters = [f"{k}={v}" for k, v in request.GET.items() if k not in ("p", "o")]
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": f"{label} {noun}",
        "action": action,
        "action_label": label,
        "noun": noun,
        "count": queryset.count(),
        "select_across": select_across,
        "selected_ids": request.POST.getlist("_selected_action"),
        "filter_description": ", ".join(filters),
        "preview": (preview or (lambda qs: [str(o) for o in qs[:10]]))(queryset),
        "changelist_url": request.get_full_path(),
    }
    return TemplateResponse(request, "admin/oversight/confirm_action.html", context)


# Slidecast jobs -----------------------------------------------------------------------


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
        done, refused = 0, []
        selected = list(queryset)
        for job in selected:
            try:
                result = service(job=job)
            except ValidationError as exc:
                refused.append(f"{job.title}: {' '.join(exc.messages)}")
                continue
            done += 1 if result is not False else 0
        for reason in refused[:10]:
            self.message_user(request, reason, messages.WARNING)
        return f"{verb} {done} of {len(selected)} jobs."

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


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ("name", "tts_engine", "voice", "speaking_rate", "language", "status")
    list_filter = ("tts_engine", "status", "language")
    search_fields = ("name", "voice")


# Queue jobs (procrastinate's table) -----------------------------------------------------

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
            request, queryset, "retry_queue_jobs", "Retry", operations.queue_jobs_retry
        )

    @admin.action(description="Cancel selected waiting queue jobs")
    def cancel_queue_jobs(self, request, queryset):
        return self._confirm(
            request, queryset, "cancel_queue_jobs", "Cancel", operations.queue_jobs_cancel
        )

    @admin.action(description="Abort selected running queue jobs")
    def abort_queue_jobs(self, request, queryset):
        return self._confirm(
            request, queryset, "abort_queue_jobs", "Abort", operations.queue_jobs_abort
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
            outcomes = [operations.dead_letter_retry(letter=letter) for letter in letters]
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


# API tokens and webhooks ------------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "user__username", "prefix")
    actions = ["revoke_tokens"]

    def get_fields(self, request, obj=None):
        return ("user", "name") if obj is None else (
            "user", "name", "prefix", "created_at", "last_used_at", "revoked_at",
        )  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("user", "prefix", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        record, token = api_token_create(user=obj.user, name=obj.name)
        obj.pk, obj.prefix, obj.key_hash = record.pk, record.prefix, record.key_hash
        self.message_user(
            request,
            format_html(
                "Token for {}: <code>{}</code> — copy it now, it is not shown again.",
                record.user,
                token,
            ),  # fmt: skip
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request, queryset):
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} tokens.")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("attempted_at", "status_code", "duration_ms", "error")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "event_type", "url", "status", "attempt_count", "delivered_at")
    list_filter = ("status", "event_type")
    search_fields = ("url", "event_id", "job__id")
    readonly_fields = (
        "job", "user", "event_id", "event_type", "url", "payload", "status", "created_at",
        "delivered_at",
    )  # fmt: skip
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Attempts")
    def attempt_count(self, delivery: WebhookDelivery) -> int:
        return delivery.attempts.count()

    @admin.action(description="Redeliver selected events")
    def redeliver(self, request, queryset):
        for delivery in queryset:
            services.webhook_redeliver(delivery=delivery)
        self.message_user(request, f"Queued {queryset.count()} events for delivery again.")


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "source", "event_id", "status", "processed_at")
    list_filter = ("source", "status")
    search_fields = ("event_id", "body")
    readonly_fields = (
        "source", "event_id", "headers", "body", "status", "received_at", "processed_at", "error",
    )  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False
