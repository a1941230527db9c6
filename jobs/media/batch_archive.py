"""The ZIP of a batch: every output its children made, named by deck, persona and preset."""

from __future__ import annotations

import json
import logging
import tempfile
import time
import zipfile
from pathlib import Path

from django.core.files.storage import default_storage

from jobs.media import batches
from jobs.media.models import MediaBatch, MediaJob
from jobs.narration.models import Job
from jobs.storage import storage_put, work_root

logger = logging.getLogger("slidecast.media")
_CHUNK = 1024 * 1024


def _stem(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in " -_.()" else "_" for c in name.rsplit(".", 1)[0])
    return cleaned.strip(" .") or "deck"


def _preset_label(preset: dict) -> str:
    parts = [preset.get("codec", "h264"), preset.get("resolution") or "source",
             (preset.get("aspect") or "source").replace(":", "x")]  # fmt: skip
    # What else tells two presets apart, so that no video overwrites another in the ZIP.
    if preset.get("quality", "balanced") != "balanced":
        parts.append(preset["quality"])
    if preset.get("background", "blur") != "blur":
        parts.append(preset["background"].lstrip("#"))
    if preset.get("frame_rate"):
        parts.append(f"{preset['frame_rate']}fps")
    if preset.get("burn_captions"):
        parts.append("captions")
    return "-".join(parts)


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, extension = name.rpartition(".")
    candidate, number = name, 2
    while candidate in taken:
        candidate = f"{stem}-{number}{dot}{extension}"
        number += 1
    taken.add(candidate)
    return candidate


def batch_archive_build(*, batch_id: str) -> None:
    """Write the batch's ZIP (media stored as they are, text compressed) and end the batch."""
    batch = MediaBatch.objects.get(id=batch_id)
    if batch.archive:
        return
    entries: list[tuple[str, str]] = []  # (stored file, name in the ZIP)
    taken: set[str] = set()
    manifest = []
    for job in Job.objects.filter(batch=batch).select_related("persona").order_by("created_at"):
        folder = f"{_stem(job.title)}/{_stem(job.persona.name)}"
        manifest.append({"kind": "narration", "id": str(job.id), "deck": job.title,
                         "persona": job.persona.name, "status": job.status,
                         "error": job.error or None})  # fmt: skip
        if job.status == Job.Status.COMPLETED:
            for field, name in ((job.video, "video.mp4"), (job.captions_srt, "captions.srt"),
                                (job.captions_vtt, "captions.vtt")):  # fmt: skip
                if field:
                    entries.append((field.name, f"{folder}/{name}"))
        for media in MediaJob.objects.filter(batch=batch, source_job=job).order_by("created_at"):
            label = _preset_label(media.parameters)
            manifest.append({"kind": "transcode", "id": str(media.id), "deck": job.title,
                             "persona": job.persona.name, "preset": media.parameters,
                             "status": media.status, "error": media.error or None})  # fmt: skip
            video = media.artifacts.filter(kind="video").first()
            if media.status == MediaJob.Status.COMPLETED and video is not None:
                extension = video.name.rsplit(".", 1)[-1]
                zip_name = _unique(f"{folder}/{label}.{extension}", taken)
                entries.append((video.file.name, zip_name))
    with tempfile.TemporaryDirectory(prefix=f"slidecast-batch-{batch_id}-", dir=work_root()) as tmp:
        path = Path(tmp) / "outputs.zip"
        with zipfile.ZipFile(path, "w", allowZip64=True) as archive:
            for stored, name in entries:
                info = zipfile.ZipInfo(name, date_time=time.gmtime()[:6])
                # Video is compressed already; deflating it again costs time and saves nothing.
                text = name.endswith((".srt", ".vtt"))
                info.compress_type = zipfile.ZIP_DEFLATED if text else zipfile.ZIP_STORED
                with (
                    default_storage.open(stored, "rb") as source,
                    archive.open(info, "w", force_zip64=True) as target,
                ):
                    while chunk := source.read(_CHUNK):
                        target.write(chunk)
            archive.writestr("manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False))
        name = storage_put(f"{batch.storage_prefix()}/outputs.zip", path)
        size = path.stat().st_size
    batches.batch_finish(batch_id=batch_id, archive_name=name, archive_size=size)
    logger.info("batch %s archived: %d files, %d bytes", batch_id, len(entries), size)
