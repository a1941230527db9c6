"""API tokens in the admin: create one (shown once) and revoke them."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html

from jobs.access.models import ApiToken
from jobs.access.services import api_token_create, api_token_rename, api_tokens_revoke


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
            api_token_rename(token=obj, name=obj.name)
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
        count = api_tokens_revoke(tokens=queryset)
        self.message_user(request, f"Revoked {count} tokens.")
