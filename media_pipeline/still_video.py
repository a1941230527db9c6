"""Encoding slide images with ffmpeg alone: every frame of every slide through x264.

This is the writer media_pipeline.video falls back to when its hand-written repeated frames
(media_pipeline.h264) cannot follow the keyframes the encoder made. It needs no bitstream
work of ours: each batch of slides is one ffmpeg call that scales each image once, repeats
it for the slide's frame count and lets x264 encode every frame, with the same keyframe
positions the hand-written writer uses, so seeking behaves the same. It is much slower
(x264 analyses each of the identical frames: see docs/benchmarks.md), never wrong.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from media_pipeline.errors import VideoAssemblyError
from media_pipeline.frame_rate import frame_rate_argument
from media_pipeline.tools import StopCheck, never_stop, run_program
from media_pipeline.video_options import VideoOptions

# B-frames gain nothing on identical frames, and without them the raw stream's frames are
# in display order, so the mux can number them as the hand-written writer's are numbered.
_X264_PARAMS = "bframes=0:keyint=100000:min-keyint=1:scenecut=0:threads=1"


def keyframe_numbers(frames: int, gop_frames: int) -> list[int]:
    """Return the frames of a slide (0 = its first) that are keyframes.

    One every GOP so players can seek, but never the slide's last frame unless it is the
    only one: the next slide starts with a keyframe, and two keyframes side by side might
    share an idr_pic_id when they come from different encoder calls.
    """
    return [frame for frame in range(0, frames, gop_frames) if frame == 0 or frame < frames - 1]


def keyframe_expression(frame_counts: Sequence[int], gop_frames: int) -> str:
    """Return ffmpeg's -force_key_frames value for keyframe_numbers of consecutive slides."""
    terms, start = [], 0
    for frames in frame_counts:
        # Every GOP from the slide's start up to its last keyframe: one term per slide.
        last = start + keyframe_numbers(frames, gop_frames)[-1]
        terms.append(f"between(n,{start},{last})*not(mod(n-{start},{gop_frames}))")
        start += frames
    return "expr:" + "+".join(terms)


def fit_filter(width: int, height: int) -> str:
    """Return the filters that fit a picture into the video's frame, in BT.709 4:2:0."""
    return (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease"
        ":flags=lanczos:out_color_matrix=bt709:out_range=tv,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
    )


def slide_inputs_and_graph(
    images: Sequence[Path], options: VideoOptions, repeats: Sequence[int] | None = None
) -> tuple[list[str | Path], str]:
    """Return ffmpeg input arguments and a filter graph whose output "[out]" is the slides.

    Each image is scaled and padded to the video's size once; with `repeats` it is then
    shown for that many frames, else for one.
    """
    width, height = options.width, options.height
    rate = frame_rate_argument(Fraction(options.fps))
    inputs: list[str | Path] = []
    chains = []
    for index, image in enumerate(images):
        # The images' rate reaches x264 through the filter graph: it writes it into the SPS
        # timing players follow, and picks the H.264 level from it (4K at 60 fps needs 5.2).
        # (An output -r would say the same, but ffmpeg 7 refuses it with passthrough.)
        inputs += ["-framerate", rate, "-i", image]
        # The loop repeats the scaled frame, so scaling costs once per slide, not per frame.
        loop = f",loop=loop={repeats[index] - 1}:size=1:start=0" if repeats else ""
        chains.append(f"[{index}:v]{fit_filter(width, height)}{loop}[v{index}]")
    joined = "".join(f"[v{index}]" for index in range(len(images)))
    return inputs, ";".join([*chains, f"{joined}concat=n={len(images)}:v=1:a=0[out]"])


def encode_slides(
    ffmpeg: str,
    images: Sequence[Path],
    frame_counts: Sequence[int],
    out: Path,
    options: VideoOptions,
    *,
    gop_frames: int,
    check: StopCheck = never_stop,
) -> None:
    """Encode every frame of these slides with x264 into out, a raw H.264 (Annex B) stream.

    The stream starts with parameter sets and a keyframe, so streams of consecutive
    batches can be joined by concatenation (join_streams).
    """
    encode_with_x264(
        ffmpeg, images, out, options,
        repeats=frame_counts,
        # Keyframes only where keyframe_numbers puts them: x264 would add its own at a
        # slide change (scenecut) and after keyint frames.
        force_key_frames=keyframe_expression(frame_counts, gop_frames),
        x264_params=_X264_PARAMS,
        what="ffmpeg (encoding the slides' frames)",
        check=check,
    )  # fmt: skip


def encode_with_x264(
    ffmpeg: str,
    images: Sequence[Path],
    out: Path,
    options: VideoOptions,
    *,
    repeats: Sequence[int] | None,
    force_key_frames: str,
    x264_params: str,
    what: str,
    check: StopCheck = never_stop,
) -> None:
    """Encode the images (each shown `repeats` frames, else one) into out, raw H.264."""
    inputs, graph = slide_inputs_and_graph(images, options, repeats)
    run_program(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y",
            *inputs,
            "-filter_complex", graph, "-map", "[out]",
            "-fps_mode", "passthrough",
            "-c:v", "libx264", "-preset", options.x264_preset, "-crf", str(options.crf),
            "-tune", "stillimage",
            "-force_key_frames", force_key_frames,
            "-x264-params", x264_params,
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-bsf:v", "h264_mp4toannexb", "-f", "h264",
            out,
        ],
        timeout=options.timeout_seconds,
        error=VideoAssemblyError,
        what=what,
        check=check,
    )  # fmt: skip


def join_streams(parts: Sequence[Path], out: Path) -> None:
    """Write the raw H.264 streams one after another into out.

    Annex B streams that each begin with their parameter sets and an IDR picture may be
    concatenated as they are; muxing the result numbers the frames at the exact rate,
    which joining timed segments (the concat demuxer) rounds to microseconds per file.
    """
    with out.open("wb") as stream:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, stream)
