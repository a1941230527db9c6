"""What this deployment's media jobs can do: operations, their options, codecs, limits."""

from __future__ import annotations

import functools

from django.conf import settings

from jobs.media.models import MediaJob
from jobs.media.parameters import OPTIONS_BY_OPERATION
from jobs.media.routing import worker_encoders
from media_pipeline.encoders import CODECS, codec_support
from media_pipeline.hls import DEFAULT_LADDER


def _ffmpeg() -> str | None:
    return settings.SLIDECAST["FFMPEG_BINARY"] or None


@functools.cache
def _local_encoders() -> dict[str, list[str]]:
    # ffmpeg's encoder list does not change while the process runs; probing NVENC takes a
    # moment, so it is done once.
    return codec_support(_ffmpeg())


def _encoders() -> dict[str, list[str]]:
    """What the workers found at start (they do the encoding), else this host's ffmpeg."""
    return worker_encoders() or _local_encoders()


def media_capabilities() -> dict:
    config = settings.SLIDECAST
    support = _encoders()
    return {
        "operations": {
            operation: {
                "label": MediaJob.Operation(operation).label,
                "parameters": schema.model_json_schema(),
            }
            for operation, schema in OPTIONS_BY_OPERATION.items()
        },
        "codecs": {codec: {"encoders": support.get(codec, [])} for codec in CODECS},
        "hardware_encoders": sorted(
            {name for names in support.values() for name in names if "nvenc" in name}
        ),
        "hls_renditions": [
            {"name": r.name, "height": r.height, "video_kbps": r.video_kbps} for r in DEFAULT_LADDER
        ],
        "limits": {
            "max_bytes": config["MEDIA_MAX_BYTES"],
            "max_duration_seconds": config["MEDIA_MAX_DURATION_SECONDS"],
        },
    }


def codec_refusal(codec: str) -> str:
    """Why a codec cannot be chosen here, naming the ones that can; "" when it can."""
    support = _encoders()
    if support.get(codec):
        return ""
    there = ", ".join(c for c in CODECS if support.get(c)) or "none"
    return f"this host's ffmpeg cannot encode {codec}; it can encode: {there}"
