"""The batch pages: many decks, or one deck in several voices and formats, in one request."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs.media import batches
from jobs.media.models import MediaBatch
from jobs.personas.selectors import persona_choices
from jobs.web.files import stored_file_response

# The formats people ask for most, as transcode options (jobs.media.parameters).
PRESETS = {
    "vertical-720": ("9:16 vertical, 720p (Reels, Shorts, TikTok)",
                     {"aspect": "9:16", "resolution": "720p"}),
    "square-720": ("1:1 square, 720p (feeds)", {"aspect": "1:1", "resolution": "720p"}),
    "wide-1080": ("16:9, 1080p", {"aspect": "16:9", "resolution": "1080p"}),
    "wide-4k": ("16:9, 4K", {"aspect": "16:9", "resolution": "4k"}),
    "vertical-captions": ("9:16 vertical with burned-in captions",
                          {"aspect": "9:16", "resolution": "1080p", "burn_captions": True}),
}  # fmt: skip


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files if item]


class BatchForm(forms.Form):
    decks = MultipleFileField(
        label="Decks (.pptx, one or more)", widget=MultipleFileInput(attrs={"accept": ".pptx"})
    )
    personas = forms.ModelMultipleChoiceField(
        queryset=persona_choices(), widget=forms.CheckboxSelectMultiple, label="Voices"
    )
    presets = forms.MultipleChoiceField(
        choices=[(key, label) for key, (label, _) in PRESETS.items()], required=False,
        widget=forms.CheckboxSelectMultiple, label="Also make these formats",
    )  # fmt: skip

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["personas"].queryset = persona_choices(user=user)


def _own(request: HttpRequest, batch_id) -> MediaBatch:
    return get_object_or_404(MediaBatch, owner=request.user, id=batch_id)


@login_required
@require_http_methods(["GET", "POST"])
def batch_list(request: HttpRequest) -> HttpResponse:
    form = BatchForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            batch = batches.batch_create(
                owner=request.user, decks=form.cleaned_data["decks"],
                personas=list(form.cleaned_data["personas"]),
                presets=[PRESETS[key][1] for key in form.cleaned_data["presets"]],
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("jobs:batch-detail", batch_id=batch.id)
    context = {"form": form, "batches": MediaBatch.objects.filter(owner=request.user)[:50]}
    return render(request, "jobs/batch_list.html", context, status=400 if form.errors else 200)


def _payload(batch: MediaBatch) -> dict:
    children = [
        {"title": f"{job.title} · {job.persona.name}", "status": job.status,
         "status_display": job.get_status_display(), "error": job.error,
         "url": reverse("jobs:detail", args=[job.id])}
        for job in batch.jobs.select_related("persona").order_by("created_at")
    ] + [
        {"title": f"{media.title} · {media.parameters.get('aspect')} "
                  f"{media.parameters.get('resolution') or ''}",
         "status": media.status, "status_display": media.get_status_display(),
         "error": media.error, "url": reverse("jobs:media-detail", args=[media.id])}
        for media in batch.media_jobs.order_by("created_at")
    ]  # fmt: skip
    return {
        "status": batch.status,
        "status_display": batch.get_status_display(),
        "progress": batches.batch_progress(batch),
        "children": children,
        "archive_url": reverse("jobs:batch-archive", args=[batch.id]) if batch.archive else "",
    }


@login_required
@require_GET
def batch_detail(request: HttpRequest, batch_id) -> HttpResponse:
    batch = _own(request, batch_id)
    return render(request, "jobs/batch_detail.html", {"batch": batch, "payload": _payload(batch)})


@login_required
@require_GET
def batch_status(request: HttpRequest, batch_id) -> JsonResponse:
    response = JsonResponse(_payload(_own(request, batch_id)))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def batch_cancel(request: HttpRequest, batch_id) -> HttpResponse:
    batches.batch_cancel(batch=_own(request, batch_id))
    return redirect("jobs:batch-detail", batch_id=batch_id)


@login_required
@require_GET
def batch_archive(request: HttpRequest, batch_id) -> HttpResponse:
    batch = _own(request, batch_id)
    if not batch.archive:
        raise Http404("The batch has no ZIP yet.")
    return stored_file_response(
        request, batch.archive.name, content_type="application/zip",
        download_name=f"slidecast-batch-{batch.id}.zip", inline=False,
    )  # fmt: skip
