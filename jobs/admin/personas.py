"""Personas in the admin; every change goes through the persona services."""

from __future__ import annotations

from django.contrib import admin

from jobs.personas import services
from jobs.personas.models import Persona


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ("name", "tts_engine", "voice", "speaking_rate", "language", "status")
    list_filter = ("tts_engine", "status", "language")
    search_fields = ("name", "voice")

    def save_model(self, request, obj, form, change) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        if change:
            services.persona_update(persona=obj, **fields)
        else:
            saved = services.persona_create(**form.cleaned_data)
            obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        services.persona_delete(persona=obj)

    def delete_queryset(self, request, queryset) -> None:
        for persona in queryset:
            services.persona_delete(persona=persona)
