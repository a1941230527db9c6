"""Outbound webhook deliveries (with their attempts, and redelivery) and inbound events
(with what each of their CRM events became)."""

from __future__ import annotations

from django.contrib import admin

from jobs.ads.models import CrmEventItem
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


class CrmEventItemInline(admin.TabularInline):
    model = CrmEventItem
    extra = 0
    can_delete = False
    fields = ("event_id", "subscription_type", "occurred_at", "outcome", "detail", "conversion")
    readonly_fields = fields
    verbose_name_plural = "what each event became"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        # In the order the events came in the delivery, not the model's newest first.
        return super().get_queryset(request).select_related("conversion").order_by("id")


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "source", "event_id", "status", "processed_at")
    list_filter = ("source", "status", "crm_items__outcome")
    search_fields = ("event_id", "body")
    readonly_fields = (
        "source", "event_id", "headers", "body", "status", "received_at", "processed_at", "error",
    )  # fmt: skip
    inlines = [CrmEventItemInline]

    def has_add_permission(self, request) -> bool:
        return False
