"""The options each media operation takes, as schemas shared by the API, the web form and the CLI.

A job stores its options as the schema dumps them, so a worker reads back exactly what was
checked when the job was created.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# media_pipeline.encoders.CODECS, spelled out for the OpenAPI schema.
Codec = Literal["h264", "h265", "vp9", "av1"]
Resolution = Literal["720p", "1080p", "4k"]
Aspect = Literal["source", "16:9", "9:16", "1:1"]
Quality = Literal["high", "balanced", "small"]
FrameRate = Literal[24, 25, 30, 50, 60]
RenditionName = Literal["1080p", "720p", "480p", "360p"]
_COLOUR = re.compile(r"^(blur|black|white|#[0-9a-fA-F]{6})$")


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TranscribeOptions(_Options):
    language: str | None = Field(
        None,
        max_length=20,
        description="BCP 47 tag of the spoken language (en, de-DE); empty: detect it.",
    )
    check_script: bool = Field(
        True,
        description="For a Slidecast video: compare what is heard with the deck's notes.",
    )


class PreviewOptions(_Options):
    poster_at: float | None = Field(
        None, ge=0, description="Second of the poster frame; empty: the first non-blank frame."
    )
    animated_format: Literal["webp", "mp4"] = "webp"
    animated_seconds: float = Field(4.0, ge=1, le=10)
    storyboard_interval: float | None = Field(
        None, ge=0.5, le=600, description="Seconds between thumbnails; empty: chosen by length."
    )
    tile_width: int = Field(160, ge=64, le=480)


class TranscodeOptions(_Options):
    codec: Codec = "h264"
    resolution: Resolution | None = Field(None, description="Empty: the input's own height.")
    aspect: Aspect = "source"
    background: str = Field(
        "blur", description="Around a picture of another aspect: blur, black, white or #RRGGBB."
    )
    quality: Quality = "balanced"
    frame_rate: FrameRate | None = None
    burn_captions: bool = Field(
        False, description="Burn the narration's captions into the picture (Slidecast videos)."
    )
    allow_hardware: bool = Field(True, description="Use NVENC where the worker has a GPU.")

    @field_validator("background")
    @classmethod
    def _known_background(cls, value: str) -> str:
        if not _COLOUR.match(value):
            raise ValueError("must be blur, black, white or a colour like #1a2b3c")
        return value.lower()


class HlsOptions(_Options):
    renditions: list[RenditionName] = Field(
        default_factory=lambda: ["1080p", "720p", "480p", "360p"],
        min_length=1,
        max_length=4,
        description="Renditions above the input's height are left out.",
    )
    segment_seconds: int = Field(4, ge=2, le=10)

    @field_validator("renditions")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names a rendition twice")
        return value


OPTIONS_BY_OPERATION: dict[str, type[_Options]] = {
    "transcribe": TranscribeOptions,
    "preview": PreviewOptions,
    "transcode": TranscodeOptions,
    "hls": HlsOptions,
}


class OptionsInvalid(ValueError):
    """The options of a media job do not fit its operation; `problems` maps field to message."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems.items()))


def options_parse(operation: str, raw: dict | None) -> _Options:
    """Return the checked options of an operation, or raise OptionsInvalid field by field."""
    schema = OPTIONS_BY_OPERATION.get(operation)
    if schema is None:
        raise OptionsInvalid({"operation": f"unknown operation {operation!r}"})
    try:
        return schema.model_validate(raw or {})
    except ValidationError as exc:
        problems = {}
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "parameters"
            problems[field] = error["msg"].removeprefix("Value error, ")
        raise OptionsInvalid(problems) from exc


def options_stored(operation: str, raw: dict | None) -> dict:
    """The options as a job keeps them: checked, with every default filled in."""
    return options_parse(operation, raw).model_dump(mode="json")
