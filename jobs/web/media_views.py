"""The media pages: upload a file and choose what to make, follow the job, play the results."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs.media import selectors, services
from jobs.narration.selectors import job_get_for
from jobs.operations.monitoring import unserved_queue_notice
from jobs.web.files import media_file_response
from jobs.web.media_forms import MediaJobForm


def _payload(job) -> dict:
    payload = selectors.media_job_payload(
        media_job=job, url_for=lambda name: reverse("jobs:media-file", args=[job.id, name])
    )
    waiting = job.status == "pending"
    payload["notice"] = unserved_queue_notice(job.queue) if waiting else ""
    payload["status_display"] = job.get_status_display()
    payload["finished"] = job.is_finished
    payload["id"] = str(job.id)
    for key in ("created_at", "started_at", "finished_at"):
        payload[key] = payload[key].isoformat() if payload[key] else None
    payload["source_job_id"] = str(job.source_job_id) if job.source_job_id else None
    return payload


@login_required
@require_http_methods(["GET", "POST"])
def media_list(request: HttpRequest) -> HttpResponse:
    form = MediaJobForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.media_job_create(
                owner=request.user,
                operation=form.cleaned_data["operation"],
                parameters=form.parameters(),
                upload=form.cleaned_data["file"],
                title=form.cleaned_data["file"].name,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("jobs:media-detail", media_job_id=job.id)
    jobs = selectors.media_job_list_for(user=request.user)[:100]
    status = 400 if request.method == "POST" else 200
    return render(request, "jobs/media_list.html", {"form": form, "jobs": jobs}, status=status)


@login_required
@require_POST
def media_from_narration(request: HttpRequest, job_id) -> HttpResponse:
    """Start a media job on one of the user's narrations (transcribe it, transcode it …)."""
    narration = job_get_for(user=request.user, job_id=job_id)
    operation = request.POST.get("operation", "")
    parameters = {}
    if operation == "transcode":
        parameters = {k: v for k, v in request.POST.items() if k in ("codec", "aspect")}
    try:
        job = services.media_job_create(
            owner=request.user, operation=operation, parameters=parameters, source_job=narration
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("jobs:detail", job_id=narration.id)
    return redirect("jobs:media-detail", media_job_id=job.id)


@login_required
@require_GET
def media_detail(request: HttpRequest, media_job_id) -> HttpResponse:
    job = selectors.media_job_get_for(user=request.user, media_job_id=media_job_id)
    return render(request, "jobs/media_detail.html", {"job": job, "payload": _payload(job)})


@login_required
@require_GET
def media_status(request: HttpRequest, media_job_id) -> JsonResponse:
    job = selectors.media_job_get_for(user=request.user, media_job_id=media_job_id)
    response = JsonResponse(_payload(job))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def media_cancel(request: HttpRequest, media_job_id) -> HttpResponse:
    job = selectors.media_job_get_for(user=request.user, media_job_id=media_job_id)
    if services.media_job_cancel(media_job=job):
        messages.info(request, "The job was cancelled.")
    else:
        messages.warning(request, "The job had already finished.")
    return redirect("jobs:media-detail", media_job_id=job.id)


@login_required
@require_GET
def media_file(request: HttpRequest, media_job_id, name: str) -> HttpResponse:
    job = selectors.media_job_get_for(user=request.user, media_job_id=media_job_id)
    response = media_file_response(request, job, name)
    if response is None:
        raise Http404("No such file.")
    return response
