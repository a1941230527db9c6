"""Serving stored files to their owner, with HTTP range requests for video seeking."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from jobs.media.selectors import media_output_name


@dataclass(frozen=True)
class JobFile:
    field: str
    content_type: str
    extension: str
    inline: bool


# The files of a job that its owner can download, by the name used in URLs.
JOB_FILES = {
    "video": JobFile("video", "video/mp4", "mp4", inline=True),
    "srt": JobFile("captions_srt", "application/x-subrip; charset=utf-8", "srt", inline=False),
    "vtt": JobFile("captions_vtt", "text/vtt; charset=utf-8", "vtt", inline=True),
    # The extension is part of the download's name: talk.chapters.vtt beside talk.vtt.
    "chapters": JobFile("chapters_vtt", "text/vtt; charset=utf-8", "chapters.vtt", inline=True),
    "deck": JobFile(
        "deck",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
        inline=False,
    ),
}


def job_file_response(request: HttpRequest, job, kind: str) -> HttpResponse | None:
    """Return the job's file of that kind for download, or None when it has none (yet)."""
    spec = JOB_FILES[kind]
    stored = getattr(job, spec.field)
    if not stored:
        return None
    extension, content_type = spec.extension, spec.content_type
    if kind == "deck":
        # A deck is stored as deck.pptx, deck.pdf or deck.odp by what its content is.
        extension = stored.name.rsplit(".", 1)[-1].lower()
        content_type = _DECK_TYPES.get(extension, spec.content_type)
    download_name = f"{slugify(job.title.rsplit('.', 1)[0]) or 'slidecast'}.{extension}"
    return stored_file_response(
        request, stored.name, content_type=content_type, download_name=download_name,
        inline=spec.inline,
    )  # fmt: skip


_DECK_TYPES = {
    "pdf": "application/pdf",
    "odp": "application/vnd.oasis.opendocument.presentation",
}


# What outputs of media jobs are, by their file name's extension.
_MEDIA_TYPES = {
    "mp4": "video/mp4", "webm": "video/webm", "m4a": "audio/mp4", "ts": "video/mp2t",
    "m4s": "video/iso.segment", "m3u8": "application/vnd.apple.mpegurl",
    "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp",
    "vtt": "text/vtt; charset=utf-8", "srt": "application/x-subrip; charset=utf-8",
    "txt": "text/plain; charset=utf-8", "json": "application/json", "zip": "application/zip",
}  # fmt: skip


def media_file_response(request: HttpRequest, media_job, name: str) -> HttpResponse | None:
    """Return the media job's output at `name` (its path under the job's outputs), or None."""
    stored = media_output_name(media_job=media_job, name=name)
    if stored is None:
        return None
    extension = name.rsplit(".", 1)[-1].lower()
    return stored_file_response(
        request, stored, content_type=_MEDIA_TYPES.get(extension, "application/octet-stream"),
        download_name=name.rsplit("/", 1)[-1], inline=extension not in ("srt", "json", "zip"),
    )  # fmt: skip


def slide_image_response(request: HttpRequest, job, index: int) -> HttpResponse | None:
    """Return the rendered image of the job's slide `index`, or None when there is none."""
    slide = job.slides.filter(index=index).first()
    if slide is None or not slide.image:
        return None
    return stored_file_response(
        request, slide.image.name, content_type="image/png",
        download_name=f"slide-{index:03d}.png", inline=True,
    )  # fmt: skip


_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")
_CHUNK = 256 * 1024


def stored_file_response(
    request: HttpRequest, name: str, *, content_type: str, download_name: str, inline: bool
) -> HttpResponse:
    """Return the stored file; a single byte range gets a 206 partial response.

    Files in object storage are not streamed through the app: the owner is redirected to a
    short-lived signed URL (SLIDECAST_S3_URL_EXPIRY_SECONDS), which serves ranges itself.
    """
    if not isinstance(storages["default"], FileSystemStorage):
        return _signed_redirect(
            name, content_type=content_type, download_name=download_name, inline=inline
        )
    size = default_storage.size(name)
    range_header = request.headers.get("Range", "").strip()
    match = _RANGE.match(range_header) if range_header else None
    if match is None or not any(match.groups()):
        response = FileResponse(
            default_storage.open(name, "rb"),
            content_type=content_type,
            as_attachment=not inline,
            filename=download_name,
        )
        response["Accept-Ranges"] = "bytes"
        response["Content-Length"] = str(size)
        return response
    first_text, last_text = match.groups()
    if first_text:
        first = int(first_text)
        last = min(int(last_text), size - 1) if last_text else size - 1
    else:  # "bytes=-N": the last N bytes
        first, last = max(size - int(last_text), 0), size - 1
    if first >= size or first > last:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    response = StreamingHttpResponse(
        _read_range(name, first, last), status=206, content_type=content_type
    )
    response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=not inline, filename=download_name
    )
    return response


def _signed_redirect(name: str, *, content_type: str, download_name: str, inline: bool):
    disposition = content_disposition_header(as_attachment=not inline, filename=download_name)
    url = default_storage.url(
        name,
        parameters={
            "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition,
        },
    )
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"
    return response


def _read_range(name: str, first: int, last: int):
    with default_storage.open(name, "rb") as handle:
        handle.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
