from django.contrib import admin

from jobs.models import Job, Persona, Slide


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
        "title",
        "owner",
        "status",
        "progress",
        "slide_count",
        "duration_seconds",
        "persona",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "persona", "resolution", "created_at")
    search_fields = ("id", "title", "owner__username", "owner__email", "error")
    date_hierarchy = "created_at"
    list_select_related = ("owner", "persona")
    readonly_fields = (
        "id",
        "status",
        "progress",
        "error",
        "error_code",
        "slide_count",
        "duration_seconds",
        "video",
        "captions_srt",
        "captions_vtt",
        "created_at",
        "started_at",
        "finished_at",
    )
    inlines = [SlideInline]

    def has_add_permission(self, request) -> bool:
        # Jobs start from an upload (web, API or CLI), which also queues their first step.
        return False


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
