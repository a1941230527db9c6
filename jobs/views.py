from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs import selectors, services
from jobs.files import JOB_FILES, job_file_response, stored_file_response
from jobs.forms import JobCreateForm


@login_required
@require_http_methods(["GET", "POST"])
def job_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and _declared_size(request) > _request_limit():
        # Refused from the headers, before the body is read and spooled to disk.
        limit_mb = settings.SLIDECAST["MAX_UPLOAD_BYTES"] / 1024**2
        return _job_list_page(
            request,
            JobCreateForm(),
            status=413,
            upload_error=f"The upload is larger than the limit of {limit_mb:.0f} MB.",
        )
    form = JobCreateForm(request.POST or None, request.FILES or None)
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
    context = {"form": form, "jobs": jobs, "upload_error": upload_error}
    return render(request, "jobs/job_list.html", context, status=status)


def _declared_size(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _request_limit() -> int:
    # The deck plus room for the other form fields and multipart boundaries.
    return settings.SLIDECAST["MAX_UPLOAD_BYTES"] + 64 * 1024


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id) -> HttpResponse:
    job = selectors.job_get_for(user=request.user, job_id=job_id)
    payload = selectors.job_status_payload(job=job)
    return render(request, "jobs/job_detail.html", {"job": job, "payload": payload})


@login_required
@require_GET
def job_status(request: HttpRequest, job_id) -> JsonResponse:
    job = selectors.job_get_for(user=request.user, job_id=job_id)
    response = JsonResponse(selectors.job_status_payload(job=job))
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
    slide = job.slides.filter(index=index).first()
    if slide is None or not slide.image:
        raise Http404("No such slide.")
    return stored_file_response(
        request,
        slide.image.name,
        content_type="image/png",
        download_name=f"slide-{index:03d}.png",
        inline=True,
    )
