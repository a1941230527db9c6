"""Outbound webhook deliveries (with their attempts, and redelivery) and inbound events."""

from __future__ import annotations

from django.contrib import admin

from jobs.integrations.models import InboundEvent, WebhookAttempt, WebhookDelivery
from jobs.integrations.webhooks import webhook_redeliver


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
            webhook_redeliver(delivery=delivery)
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
