"""Running one media job: fetch its input, probe it, make the outputs, store them.

The input is probed with ffprobe before anything else reads it: an empty, cut-short,
over-long or non-media file ends the job with a clear message and is never retried.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from django.conf import settings

from jobs.media import progress
from jobs.media.models import MediaJob
from jobs.media.outputs import OPERATIONS, Context, Made
from jobs.media.progress import StoredArtifact
from jobs.narration.models import Slide
from jobs.storage import storage_fetch, storage_put, work_root
from media_pipeline.probe import ProbeLimits, probe_media
from media_pipeline.tools import StopCheck, never_stop

logger = logging.getLogger("slidecast.media")

# Progress is written at most this often (and on every whole-percent step past it).
_PROGRESS_INTERVAL_SECONDS = 1.0


def probe_limits() -> ProbeLimits:
    config = settings.SLIDECAST
    return ProbeLimits(
        max_bytes=config["MEDIA_MAX_BYTES"],
        max_duration_seconds=config["MEDIA_MAX_DURATION_SECONDS"],
    )


class _Reporter:
    """Turns an operation's fraction done into the job's progress, a few writes a second."""

    def __init__(self, media_job_id: str) -> None:
        self.media_job_id = media_job_id
        self.last_percent = -1
        self.last_stage = ""
        self.last_write = 0.0

    def __call__(self, fraction: float, stage: str) -> None:
        # Probing and fetching take the first 5 %, storing the last 5 %.
        percent = 5 + int(90 * max(0.0, min(1.0, fraction)))
        now = time.monotonic()
        if stage == self.last_stage and (
            percent == self.last_percent or now - self.last_write < _PROGRESS_INTERVAL_SECONDS
        ):
            return
        self.last_percent, self.last_stage, self.last_write = percent, stage, now
        progress.media_job_progress(media_job_id=self.media_job_id, percent=percent, stage=stage)


def run_media_job(*, media_job_id: str, check: StopCheck = never_stop) -> None:
    job = progress.media_job_claim(media_job_id=media_job_id)
    if job is None:
        logger.info("media job %s is not waiting to run; skipped", media_job_id)
        return
    with tempfile.TemporaryDirectory(
        prefix=f"slidecast-media-{media_job_id}-", dir=work_root()
    ) as tmp:
        work = Path(tmp)
        source = _fetch_input(job, work)
        info = probe_media(source, limits=probe_limits(), name=job.title, check=check,
                           ffmpeg=settings.SLIDECAST["FFMPEG_BINARY"] or None)  # fmt: skip
        progress.media_job_probed(media_job_id=media_job_id, media_info=info.as_dict())
        out = work / "out"
        out.mkdir()
        report = _Reporter(media_job_id)
        report(0.0, "starting")
        context = Context(
            job=job, source=source, info=info, out=out, report=report, check=check,
            captions=_narration_captions(job, work), script=_narration_script(job),
        )  # fmt: skip
        made = OPERATIONS[job.operation](context)
        check()
        progress.media_job_progress(media_job_id=media_job_id, percent=96, stage="storing")
        stored = _store(job, made)
    progress.media_job_complete(
        media_job_id=media_job_id,
        artifacts=stored,
        word_error_rate=made.word_error_rate,
        script_check=made.script_check,
    )


def _fetch_input(job: MediaJob, work: Path) -> Path:
    if job.source_job_id:
        return storage_fetch(job.source_job.video.name, work / "input.mp4")
    return storage_fetch(job.source.name, work / f"input{job.source_extension or '.bin'}")


def _narration_captions(job: MediaJob, work: Path) -> Path | None:
    narration = job.source_job
    if narration is None or not narration.captions_vtt:
        return None
    return storage_fetch(narration.captions_vtt.name, work / "captions.vtt")


def _narration_script(job: MediaJob) -> str:
    """What the narration says, slide by slide: the reference its transcript is checked against."""
    if job.source_job_id is None:
        return ""
    texts = []
    for cues in (
        Slide.objects.filter(job_id=job.source_job_id)
        .order_by("index")
        .values_list("cues", flat=True)
    ):
        texts.extend(cue.get("text", "") for cue in cues or [])
    return " ".join(text for text in texts if text)


def _store(job: MediaJob, made: Made) -> list[StoredArtifact]:
    prefix = job.output_prefix()
    stored = []
    for output in made.outputs:
        for path, name in output.companions:
            storage_put(f"{prefix}/{name}", path)
        file_name = storage_put(f"{prefix}/{output.name}", output.path)
        stored.append(
            StoredArtifact(
                kind=output.kind,
                name=output.name,
                file_name=file_name,
                content_type=output.content_type,
                size_bytes=output.path.stat().st_size
                + sum(path.stat().st_size for path, _ in output.companions),
                duration_seconds=output.duration_seconds,
                codec=output.codec,
                width=output.width,
                height=output.height,
                details=output.details,
            )
        )
    return stored
