"""Which video encoders this host's ffmpeg has, and which one to use for a codec.

An ffmpeg build lists the NVENC encoders whether or not the machine has an NVIDIA GPU, so a
listed hardware encoder only counts once a tenth of a second of video really encoded with
it. Both answers are cached per ffmpeg binary: they cannot change while a process runs.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from media_pipeline.errors import EncoderUnavailableError, PipelineError
from media_pipeline.ffmpeg_run import run_capture
from media_pipeline.tools import find_ffmpeg

logger = logging.getLogger("media_pipeline.encoders")

CODECS = ("h264", "h265", "vp9", "av1")
CODEC_NAMES = {"h264": "H.264", "h265": "H.265", "vp9": "VP9", "av1": "AV1"}
# Best first. NVENC is the fastest by far where a GPU has it; among the AV1 software
# encoders SVT-AV1 is many times faster than libaom and rav1e at a similar quality.
PREFERENCE = {
    "h264": ("h264_nvenc", "libx264"),
    "h265": ("hevc_nvenc", "libx265"),
    "vp9": ("libvpx-vp9",),
    "av1": ("av1_nvenc", "libsvtav1", "libaom-av1", "librav1e"),
}
HARDWARE_ENCODERS = frozenset(
    name for names in PREFERENCE.values() for name in names if name.endswith("_nvenc")
)
_PROBE_TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class EncoderChoice:
    codec: str
    encoder: str
    hardware: bool
    container: str  # "mp4" or "webm"


def parse_encoder_list(text: str) -> frozenset[str]:
    """Return the encoder names in `ffmpeg -encoders` output.

    The list follows a legend that ends with a line of dashes; each entry is six flag
    characters, the name, then a description.
    """
    names = set()
    lines = text.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.strip().startswith("---")), 0)
    for line in lines[start:]:
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return frozenset(names)


def available_encoders(ffmpeg: str | None = None) -> frozenset[str]:
    """Return every encoder the ffmpeg binary lists (NVENC ones even without a GPU)."""
    return _listed(find_ffmpeg(ffmpeg))


def usable_hardware_encoders(ffmpeg: str | None = None) -> frozenset[str]:
    """Return the listed NVENC encoders that really encode on this machine."""
    return _working_hardware(find_ffmpeg(ffmpeg))


def codec_support(
    ffmpeg: str | None = None, *, allow_hardware: bool = True
) -> dict[str, list[str]]:
    """Return, for every codec in CODECS, its usable encoders, best first ([] for none)."""
    listed = available_encoders(ffmpeg)
    hardware = usable_hardware_encoders(ffmpeg) if allow_hardware else frozenset()
    return {
        codec: [
            name
            for name in PREFERENCE[codec]
            if name in listed and (name not in HARDWARE_ENCODERS or name in hardware)
        ]
        for codec in CODECS
    }


def choose_encoder(
    codec: str, *, ffmpeg: str | None = None, allow_hardware: bool = True
) -> EncoderChoice:
    """Return the best usable encoder for `codec`, or say which codecs this host can encode."""
    if codec not in CODECS:
        raise EncoderUnavailableError(
            f"Slidecast cannot encode {codec!r}; choose one of {', '.join(CODECS)}."
        )
    support = codec_support(ffmpeg, allow_hardware=allow_hardware)
    if not support[codec]:
        usable = [CODEC_NAMES[name] for name in CODECS if support[name]]
        can = f"it can encode {', '.join(usable)}" if usable else "it cannot encode any of them"
        raise EncoderUnavailableError(
            f"This host's ffmpeg cannot encode {CODEC_NAMES[codec]}; {can}."
        )
    encoder = support[codec][0]
    return EncoderChoice(
        codec=codec,
        encoder=encoder,
        hardware=encoder in HARDWARE_ENCODERS,
        container="webm" if codec == "vp9" else "mp4",
    )


def audio_encoder(container: str, ffmpeg: str | None = None) -> tuple[str, ...]:
    """Return the ffmpeg arguments that pick the audio encoder for a container."""
    if container != "webm":
        return ("-c:a", "aac")
    if "libopus" in available_encoders(ffmpeg):
        return ("-c:a", "libopus")
    # ffmpeg's own Opus encoder is still marked experimental, but it is there in every build.
    return ("-c:a", "opus", "-strict", "-2")


@functools.lru_cache(maxsize=8)
def _listed(binary: str) -> frozenset[str]:
    result = run_capture(
        [binary, "-hide_banner", "-nostdin", "-encoders"],
        timeout=_PROBE_TIMEOUT_SECONDS, what="Listing ffmpeg's encoders",
    )  # fmt: skip
    return parse_encoder_list(result.stdout.decode("utf-8", "replace"))


@functools.lru_cache(maxsize=8)
def _working_hardware(binary: str) -> frozenset[str]:
    working = set()
    for name in sorted(HARDWARE_ENCODERS & _listed(binary)):
        if _encodes(binary, name):
            working.add(name)
        else:
            logger.info("%s is listed by %s but cannot encode here (no usable GPU)", name, binary)
    return frozenset(working)


def _encodes(binary: str, encoder: str) -> bool:
    # NVENC refuses frames smaller than about 145x49; 256x144 is safely above every minimum.
    try:
        result = run_capture(
            [binary, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi",
             "-i", "color=black:s=256x144:r=25:d=0.1", "-c:v", encoder, "-f", "null", "-"],
            timeout=_PROBE_TIMEOUT_SECONDS, what=f"Trying {encoder}",
        )  # fmt: skip
    except PipelineError:
        return False
    return result.returncode == 0
