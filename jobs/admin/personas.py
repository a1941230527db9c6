"""Personas in the admin; every change goes through the persona services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from jobs.admin.knowledge import knowledge_context, knowledge_urls
from jobs.personas import services
from jobs.personas.models import Persona, PronunciationEntry, VoiceReference
from jobs.personas.selectors import persona_get
from media_pipeline.script import duplicate_phrases


class LexiconFormSet(forms.BaseInlineFormSet):
    def entries(self) -> list[tuple[str, str]]:
        return [
            (form.cleaned_data["phrase"], form.cleaned_data["say"])
            for form in self.forms
            if form.cleaned_data.get("phrase") and not form.cleaned_data.get("DELETE")
        ]

    def clean(self) -> None:
        super().clean()
        twice = duplicate_phrases(phrase for phrase, _ in self.entries())
        if twice:
            raise ValidationError(f"Listed twice: {', '.join(twice)}.")


class PersonaForm(forms.ModelForm):
    class Meta:
        model = Persona
        fields = ("name", "owner", "tts_engine", "voice", "speaking_rate", "language")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["voice"].required = False
        self.fields["voice"].help_text = "Empty: the engine's voice for the language."

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors:
            data["language"], data["voice"] = services.persona_voice_check(
                tts_engine=data.get("tts_engine", ""),
                language=data.get("language", ""),
                voice=data.get("voice"),
            )
        return data


class VoiceReferenceInline(admin.StackedInline):
    """The reference recording and its consent, as uploaded through the API (read only)."""

    model = VoiceReference
    can_delete = False
    # Read only: with no recording uploaded there is nothing to show, not an empty form.
    extra = 0
    fields = readonly_fields = (
        "status", "error", "recording", "prepared", "duration_seconds", "peak_dbfs", "snr_db",
        "loudness_lufs", "consent_given_by", "consent_given_at", "consent_statement",
        "uploaded_by", "uploaded_at", "prepared_at",
    )  # fmt: skip

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class PronunciationInline(admin.TabularInline):
    """The persona's lexicon: how it says particular words (the captions keep them as written)."""

    model = PronunciationEntry
    formset = LexiconFormSet
    fields = ("phrase", "say")
    extra = 1


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "status", "tts_engine", "voice", "language", "knowledge")
    list_filter = ("status", "tts_engine", "language")
    search_fields = ("name", "voice", "owner__username")
    inlines = [PronunciationInline, VoiceReferenceInline]
    form = PersonaForm
    # The status and any ingestion error are shown, kept live, in the knowledge panel.
    list_select_related = ("owner",)

    @admin.display(description="Knowledge")
    def knowledge(self, persona: Persona) -> str:
        parts = persona.knowledge_parts.all()
        return ", ".join(f"{p.kind} {p.segment_count}" for p in parts if p.document_count) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("knowledge_parts")

    def get_urls(self):
        return knowledge_urls(self) + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        persona = persona_get(persona_id=int(object_id)) if object_id.isdigit() else None
        extra = {"knowledge": knowledge_context(persona)} if persona else {}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def save_model(self, request, obj, form, change) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        if change:
            services.persona_update(persona=obj, **fields)
        else:
            saved = services.persona_create(**form.cleaned_data)
            obj.pk = saved.pk

    def save_formset(self, request, form, formset, change) -> None:
        if isinstance(formset, LexiconFormSet):
            services.persona_lexicon_replace(persona=form.instance, entries=formset.entries())
            # The admin's change message reads what formset.save() would have recorded.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        super().save_formset(request, form, formset, change)

    def delete_model(self, request, obj) -> None:
        services.persona_delete(persona=obj)

    def delete_queryset(self, request, queryset) -> None:
        for persona in queryset:
            services.persona_delete(persona=persona)
