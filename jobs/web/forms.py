from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings

from jobs.narration.models import Job
from jobs.personas.selectors import persona_choices
from media_pipeline.archive import size_text
from media_pipeline.deck_kinds import DECK_SUFFIXES
from media_pipeline.notes_file import MAX_NOTES_FILE_BYTES, NOTES_FILE_SUFFIXES

DECK_ACCEPT = ",".join(
    [
        ".pptx", ".pdf", ".odp",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/pdf", "application/vnd.oasis.opendocument.presentation",
    ]
)  # fmt: skip


class JobCreateForm(forms.Form):
    deck = forms.FileField(
        label="Deck (PowerPoint .pptx, PDF or OpenDocument .odp)",
        widget=forms.ClearableFileInput(attrs={"accept": DECK_ACCEPT}),
    )
    notes = forms.FileField(
        label="Speaker notes file (optional: .txt or .json, one entry per slide or page)",
        required=False,
        help_text="In a .txt file, separate the entries with lines holding only ---.",
        widget=forms.ClearableFileInput(attrs={"accept": ".txt,.json,text/plain,application/json"}),
    )
    persona = forms.ModelChoiceField(queryset=persona_choices(), empty_label=None, label="Voice")
    resolution = forms.ChoiceField(choices=Job.Resolution.choices, initial=Job.Resolution.FULL_HD)
    priority = forms.TypedChoiceField(
        choices=Job.Priority.choices,
        coerce=int,
        initial=Job.Priority.NORMAL,
        required=False,
        empty_value=Job.Priority.NORMAL,
    )
    padding_seconds = forms.FloatField(
        min_value=0,
        max_value=10,
        label="Pause after each slide (seconds)",
        initial=lambda: settings.SLIDECAST["DEFAULT_PADDING_SECONDS"],
    )
    empty_slide_seconds = forms.FloatField(
        min_value=0.5,
        max_value=60,
        label="Slides without notes last (seconds)",
        initial=lambda: settings.SLIDECAST["DEFAULT_EMPTY_SLIDE_SECONDS"],
    )

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["persona"].queryset = persona_choices(user=user)

    def clean_deck(self):
        deck = self.cleaned_data["deck"]
        if Path(deck.name).suffix.lower() not in DECK_SUFFIXES:
            raise forms.ValidationError(
                "Upload a PowerPoint deck (.pptx), a PDF or an OpenDocument presentation "
                "(.odp). Older .ppt files: File ▸ Save As ▸ PowerPoint Presentation."
            )
        limit = settings.SLIDECAST["MAX_UPLOAD_BYTES"]
        if deck.size > limit:
            raise forms.ValidationError(
                f"The file is {size_text(deck.size, limit)}; the limit is {size_text(limit)}."
            )
        return deck

    def clean_notes(self):
        notes = self.cleaned_data.get("notes")
        if not notes:
            return None
        if Path(notes.name).suffix.lower() not in NOTES_FILE_SUFFIXES:
            raise forms.ValidationError(
                "The notes file must be a .txt file (entries separated by lines holding only "
                "---) or a .json list."
            )
        if notes.size > MAX_NOTES_FILE_BYTES:
            raise forms.ValidationError(
                f"The notes file is {size_text(notes.size, MAX_NOTES_FILE_BYTES)}; the limit "
                f"is {size_text(MAX_NOTES_FILE_BYTES)}."
            )
        return notes


def oversized_upload_message(request) -> str | None:
    """Return why the request is too large, judged from its headers before the body is read."""
    limit = settings.SLIDECAST["MAX_UPLOAD_BYTES"]
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    # The deck plus room for the other form fields and multipart boundaries.
    if size <= limit + 64 * 1024:
        return None
    return f"The upload is larger than the limit of {size_text(limit)} ({size_text(size, limit)})."
