from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs.media import selectors as media_selectors
from jobs.narration import selectors, services
from jobs.narration.content_cache import cached_artifacts_clear
from jobs.operations.monitoring import unserved_queue_notice
from jobs.web.files import JOB_FILES, job_file_response, slide_image_response
from jobs.web.forms import JobCreateForm, oversized_upload_message


@login_required
@require_http_methods(["GET", "POST"])
def job_list(request: HttpRequest) -> HttpResponse:
    too_large = oversized_upload_message(request) if request.method == "POST" else None
    if too_large:
        return _job_list_page(
            request, JobCreateForm(user=request.user), status=413, upload_error=too_large
        )
    form = JobCreateForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = services.job_create(
                owner=request.user,
                deck=data["deck"],
                title=data["deck"].name,
                persona=data["persona"],
                resolution=data["resolution"],
                padding_seconds=data["padding_seconds"],
                empty_slide_seconds=data["empty_slide_seconds"],
                priority=data["priority"],
                notes=data.get("notes"),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("jobs:detail", job_id=job.id)
    return _job_list_page(request, form, status=400 if request.method == "POST" else 200)


def _job_list_page(
    request: HttpRequest, form: JobCreateForm, *, status: int, upload_error: str = ""
) -> HttpResponse:
    jobs = selectors.job_list_for(user=request.user)[:100]
    context = {
        "form": form,
        "jobs": jobs,
        "upload_error": upload_error,
        "storage": selectors.storage_use_for(user=request.user),
        "retention_days": settings.OVERSIGHT["OUTPUT_RETENTION_DAYS"],
    }
    return render(request, "jobs/job_list.html", context, status=status)


def _status_payload(job) -> dict:
    queue = selectors.job_waiting_queue(job=job)
    return {**selectors.job_status_payload(job=job), "notice": unserved_queue_notice(queue)}


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id) -> HttpResponse:
    job = selectors.job_get_for(user=request.user, job_id=job_id)
    payload = _status_payload(job)
    context = {"job": job, "payload": payload, **_preview_context(job)}
    return render(request, "jobs/job_detail.html", context)


def _preview_context(job) -> dict:
    """The poster and thumbnails track of the narration's preview, and its media jobs."""
    preview = media_selectors.narration_preview(job=job)
    urls = {}
    if preview is not None:
        for kind in ("poster", "thumbnails_vtt"):
            artifact = media_selectors.artifact_by_kind(preview, kind)
            if artifact is not None:
                urls[kind] = reverse("jobs:media-file", args=[preview.id, artifact.name])
    media_jobs = media_selectors.media_job_list_for(user=job.owner).filter(source_job=job)[:20]
    return {
        "poster_url": urls.get("poster", ""),
        "thumbnails_url": urls.get("thumbnails_vtt", ""),
        "media_jobs": media_jobs,
    }


@login_required
@require_GET
def job_status(request: HttpRequest, job_id) -> JsonResponse:
    job = selectors.job_get_for(user=request.user, job_id=job_id)
    response = JsonResponse(_status_payload(job))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id) -> HttpResponse:
    job = selectors.job_get_for(user=request.user, job_id=job_id)
    if services.job_cancel(job=job):
        messages.info(request, "The job was cancelled.")
    else:
        messages.warning(request, "The job had already finished.")
    return redirect("jobs:detail", job_id=job.id)


@login_required
@require_POST
def cache_clear(request: HttpRequest) -> HttpResponse:
    removed, size = cached_artifacts_clear(owner_id=request.user.id)
    messages.info(request, f"Removed {removed} cached slide files ({filesizeformat(size)}).")
    return redirect("jobs:list")


@login_required
@require_GET
def job_file(request: HttpRequest, job_id, kind: str) -> HttpResponse:
    job = selectors.job_get_for(user=request.user, job_id=job_id)
    if kind not in JOB_FILES:
        raise Http404("No such file.")
    response = job_file_response(request, job, kind)
    if response is None:
        raise Http404("This file does not exist yet.")
    return response


@login_required
@require_GET
def slide_image(request: HttpRequest, job_id, index: int) -> HttpResponse:
    job = selectors.job_get_for(user=request.user, job_id=job_id)
    response = slide_image_response(request, job, index)
    if response is None:
        raise Http404("No such slide.")
    return response
