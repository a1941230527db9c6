"""What each media operation makes, from a probed input to a list of local output files.

Options come as the job stored them (jobs.media.parameters); the work is media_pipeline's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from jobs.media.models import MediaArtifact, MediaJob
from media_pipeline import asr
from media_pipeline.encoders import available_encoders
from media_pipeline.errors import InvalidMediaError
from media_pipeline.hls import Rendition, hls_ladder, ladder_for
from media_pipeline.preview import animated_preview, poster_frame, storyboard
from media_pipeline.probe import MediaInfo
from media_pipeline.tools import StopCheck
from media_pipeline.transcode import TranscodeSpec, transcode
from media_pipeline.transcription import (
    TranscriptionOptions,
    TranscriptionResult,
    script_check,
    transcribe_media,
)

Kind = MediaArtifact.Kind
ProgressReport = Callable[[float, str], None]  # fraction of the operation, what runs now


@dataclass
class Output:
    kind: str
    path: Path
    name: str  # where it goes under the job's output folder
    content_type: str
    duration_seconds: float | None = None
    codec: str = ""
    width: int | None = None
    height: int | None = None
    details: dict = field(default_factory=dict)
    # Files that belong to it (HLS segments and playlists), stored beside it.
    companions: list[tuple[Path, str]] = field(default_factory=list)


@dataclass
class Made:
    outputs: list[Output]
    word_error_rate: float | None = None
    script_check: dict | None = None


@dataclass(frozen=True)
class Context:
    job: MediaJob
    source: Path
    info: MediaInfo
    out: Path
    report: ProgressReport
    check: StopCheck
    captions: Path | None = None  # the narration's WebVTT, when the input is a narration
    script: str = ""  # what the narration's slides say, when the input is a narration


def _config(key: str):
    return settings.SLIDECAST[key]


def _timeout() -> float:
    return float(_config("MEDIA_TIMEOUT_SECONDS"))


def transcribe_output(ctx: Context) -> Made:
    if not ctx.info.has_audio:
        raise InvalidMediaError(f"{ctx.job.title} has no sound: there is nothing to transcribe.")
    options = ctx.job.parameters
    device = asr.whisper_device()
    model_dir = _config("WHISPER_MODEL_DIR")
    result = transcribe_media(
        ctx.source,
        options=TranscriptionOptions(
            model_dir=Path(model_dir) if model_dir else None,
            device=device,
            compute_type=_config(
                "WHISPER_GPU_COMPUTE_TYPE" if device == "cuda" else "WHISPER_CPU_COMPUTE_TYPE"
            ),
            language=options.get("language") or None,
        ),
        on_progress=lambda fraction: ctx.report(fraction, "transcribing"),
        check=ctx.check,
    )
    made = Made(outputs=_transcript_files(ctx, result))
    if ctx.script and options.get("check_script", True):
        made.script_check = script_check(ctx.script, result)
        made.word_error_rate = made.script_check["word_error_rate"]
    return made


def _transcript_files(ctx: Context, result: TranscriptionResult) -> list[Output]:
    details = {
        "language": result.language,
        "language_probability": round(result.language_probability, 3),
        "model": result.model,
        "words": result.word_count,
        "segments": len(result.segments),
    }
    files = [
        (Kind.TRANSCRIPT_SRT, "transcript.srt", "application/x-subrip; charset=utf-8",
         result.to_srt()),
        (Kind.TRANSCRIPT_VTT, "transcript.vtt", "text/vtt; charset=utf-8", result.to_webvtt()),
        (Kind.TRANSCRIPT_TEXT, "transcript.txt", "text/plain; charset=utf-8", result.to_text()),
        (Kind.TRANSCRIPT_JSON, "transcript.json", "application/json",
         json.dumps(result.to_json(), ensure_ascii=False, indent=1)),
    ]  # fmt: skip
    outputs = []
    for kind, name, content_type, text in files:
        path = ctx.out / name
        path.write_text(text, encoding="utf-8")
        outputs.append(
            Output(kind, path, name, content_type, result.duration, details=dict(details))
        )
    return outputs


def preview_output(ctx: Context) -> Made:
    options = ctx.job.parameters
    video = ctx.info.video
    if video is None:
        raise InvalidMediaError(f"{ctx.job.title} has no picture: there is nothing to preview.")
    duration, ffmpeg = ctx.info.duration, _config("FFMPEG_BINARY") or None
    ctx.report(0.0, "choosing the poster frame")
    poster = poster_frame(
        ctx.source, ctx.out / "poster.jpg", duration=duration, at=options.get("poster_at"),
        ffmpeg=ffmpeg, check=ctx.check,
    )  # fmt: skip
    ctx.report(0.2, "making the animated preview")
    fmt = options.get("animated_format", "webp")
    animated = animated_preview(
        ctx.source, ctx.out / f"preview.{fmt}", duration=duration, format=fmt,
        seconds=options.get("animated_seconds", 4.0), ffmpeg=ffmpeg, check=ctx.check,
    )  # fmt: skip
    ctx.report(0.5, "making the storyboard")
    board_dir = ctx.out / "storyboard"
    board_dir.mkdir()
    board = storyboard(
        ctx.source, board_dir, duration=duration, width=video.width, height=video.height,
        interval=options.get("storyboard_interval"), tile_width=options.get("tile_width", 160),
        ffmpeg=ffmpeg, check=ctx.check, timeout=_timeout(),
    )  # fmt: skip
    vtt = board_dir / "thumbnails.vtt"
    vtt.write_text(board.vtt, encoding="utf-8")
    outputs = [
        Output(Kind.POSTER, poster.path, "poster.jpg", "image/jpeg", width=poster.width,
               height=poster.height, details={"time": round(poster.time, 3)}),
        Output(Kind.ANIMATED_PREVIEW, animated.path, animated.path.name,
               "image/webp" if fmt == "webp" else "video/mp4", animated.duration,
               width=animated.width, height=animated.height),
    ]  # fmt: skip
    grid = {"columns": board.columns, "rows": board.rows, "interval": board.interval}
    for sprite in board.sprites:
        outputs.append(
            Output(Kind.STORYBOARD, sprite, f"storyboard/{sprite.name}", "image/jpeg",
                   width=board.tile_width * board.columns, details=grid)
        )  # fmt: skip
    outputs.append(
        Output(Kind.THUMBNAILS_VTT, vtt, "storyboard/thumbnails.vtt", "text/vtt; charset=utf-8",
               duration, details={"thumbnails": board.count, **grid})
    )  # fmt: skip
    return Made(outputs=outputs)


def transcode_output(ctx: Context) -> Made:
    options = ctx.job.parameters
    spec = TranscodeSpec(
        codec=options["codec"],
        resolution=options.get("resolution"),
        aspect=options.get("aspect", "source"),
        background=options.get("background", "blur"),
        quality=options.get("quality", "balanced"),
        frame_rate=options.get("frame_rate"),
        allow_hardware=options.get("allow_hardware", True),
        captions=ctx.captions if options.get("burn_captions") else None,
    )
    result = transcode(
        ctx.source, ctx.out, spec, info=ctx.info, ffmpeg=_config("FFMPEG_BINARY") or None,
        on_progress=lambda fraction: ctx.report(fraction, f"encoding {options['codec']}"),
        check=ctx.check, timeout=_timeout(),
    )  # fmt: skip
    container = result.path.suffix.lstrip(".")
    return Made(outputs=[Output(
        Kind.VIDEO, result.path, f"video.{container}", f"video/{container}", result.duration,
        codec=result.codec, width=result.width, height=result.height,
        details={"encoder": result.encoder, "hardware": result.hardware, **options},
    )])  # fmt: skip


def hls_output(ctx: Context) -> Made:
    options = ctx.job.parameters
    wanted = set(options.get("renditions") or [])
    ladder = [r for r in ladder_for(ctx.info) if r.name in wanted] or ladder_for(ctx.info)[-1:]
    folder = ctx.out / "hls"
    folder.mkdir()
    result = hls_ladder(
        ctx.source, folder, info=ctx.info, renditions=ladder,
        segment_seconds=options.get("segment_seconds", 4), ffmpeg=_config("FFMPEG_BINARY") or None,
        on_progress=lambda fraction: ctx.report(fraction, "encoding the HLS ladder"),
        check=ctx.check, timeout=_timeout(),
    )  # fmt: skip
    companions = [(path, f"hls/{path.relative_to(folder)}") for path in result.files
                  if path != result.master]  # fmt: skip
    return Made(outputs=[Output(
        Kind.HLS_MASTER, result.master, "hls/master.m3u8", "application/vnd.apple.mpegurl",
        ctx.info.duration, codec="h264", details={"renditions": [_rendition(r) for r in
        result.renditions], "files": len(result.files)}, companions=companions,
    )])  # fmt: skip


def _rendition(rendition: Rendition) -> dict:
    return {"name": rendition.name, "height": rendition.height, "video_kbps": rendition.video_kbps}


OPERATIONS: dict[str, Callable[[Context], Made]] = {
    MediaJob.Operation.TRANSCRIBE: transcribe_output,
    MediaJob.Operation.PREVIEW: preview_output,
    MediaJob.Operation.TRANSCODE: transcode_output,
    MediaJob.Operation.HLS: hls_output,
}


def encoder_list() -> list[str]:
    """The encoders this host's ffmpeg has (for the API's capability listing)."""
    return sorted(available_encoders(_config("FFMPEG_BINARY") or None))
