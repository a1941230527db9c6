"""Users in the admin: deleting one removes the files they stored, not only their rows."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from jobs.operations.accounts import user_delete

User = get_user_model()


class SlidecastUserAdmin(UserAdmin):
    def delete_model(self, request, obj) -> None:
        user_delete(user=obj)

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            user_delete(user=user)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, SlidecastUserAdmin)
