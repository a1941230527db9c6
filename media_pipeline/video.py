"""Assembling slide images and narration into one H.264/AAC MP4 at a constant frame rate.

A slide is a still picture, so its video is one keyframe followed by frames that repeat it.
Each slide's first group of pictures (GOP) is encoded once; the slide's stream is that GOP
repeated, then cut at a frame boundary for the remainder. This is the bitstream x264 would
produce for the full length (the frames after a keyframe of a still are all skip frames),
for a fraction of the encoding work.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from media_pipeline.audio import concatenate_wavs, wav_duration
from media_pipeline.errors import VideoAssemblyError
from media_pipeline.tools import find_ffmpeg, run_program

logger = logging.getLogger("media_pipeline.video")

_SLICE_TYPES = {1, 5}


@dataclass(frozen=True)
class VideoOptions:
    width: int = 1920
    height: int = 1080
    fps: int = 25
    # A keyframe every two seconds: what streaming services use, and seeking stays instant.
    gop_seconds: float = 2.0
    x264_preset: str = "veryfast"
    crf: int = 20
    audio_bitrate: str = "160k"
    audio_sample_rate: int = 48000
    timeout_seconds: float = 900
    ffmpeg_binary: str | None = None
    parallel_encoders: int = max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class SlideClip:
    image: Path
    audio: Path


@dataclass(frozen=True)
class AssembledVideo:
    path: Path
    duration: float
    frame_count: int
    # When each slide appears, in seconds from the start.
    slide_starts: tuple[float, ...]


def slide_frame_counts(durations: Sequence[float], fps: int) -> list[int]:
    """Return frames per slide so that every slide change falls on the frame nearest its audio."""
    counts, elapsed, previous_boundary = [], 0.0, 0
    for duration in durations:
        elapsed += duration
        boundary = round(elapsed * fps)
        counts.append(max(1, boundary - previous_boundary))
        previous_boundary += counts[-1]
    return counts


def assemble_video(
    clips: Sequence[SlideClip], out_path: Path, work_dir: Path, options: VideoOptions
) -> AssembledVideo:
    """Return the MP4 written to out_path: each slide shown while its narration plays."""
    if not clips:
        raise VideoAssemblyError("There are no slides to assemble.")
    ffmpeg = find_ffmpeg(options.ffmpeg_binary)
    work_dir.mkdir(parents=True, exist_ok=True)
    durations = [wav_duration(clip.audio) for clip in clips]
    frame_counts = slide_frame_counts(durations, options.fps)
    gop_frames = max(1, round(options.gop_seconds * options.fps))

    def encode(index: int) -> Path:
        return _encode_slide_gop(
            ffmpeg,
            clips[index].image,
            work_dir / f"gop-{index:04d}.h264",
            frames=min(frame_counts[index], gop_frames),
            gop_frames=gop_frames,
            options=options,
        )

    with ThreadPoolExecutor(max_workers=options.parallel_encoders) as pool:
        gops = list(pool.map(encode, range(len(clips))))

    video_stream = work_dir / "video.h264"
    with video_stream.open("wb") as stream:
        for gop_path, frames in zip(gops, frame_counts, strict=True):
            _write_slide_stream(stream, gop_path.read_bytes(), frames, gop_frames)

    narration = work_dir / "narration.wav"
    audio_duration = concatenate_wavs([clip.audio for clip in clips], narration)
    run_program(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-framerate",
            str(options.fps),
            "-i",
            video_stream,
            "-i",
            narration,
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-b:a",
            options.audio_bitrate,
            "-ar",
            str(options.audio_sample_rate),
            "-movflags",
            "+faststart",
            out_path,
        ],
        timeout=options.timeout_seconds,
        error=VideoAssemblyError,
        what="ffmpeg (writing the MP4)",
    )
    total_frames = sum(frame_counts)
    starts, elapsed = [], 0
    for frames in frame_counts:
        starts.append(elapsed / options.fps)
        elapsed += frames
    logger.info(
        "assembled %d slides: %d frames, %.2f s of audio", len(clips), total_frames, audio_duration
    )
    return AssembledVideo(out_path, total_frames / options.fps, total_frames, tuple(starts))


def _encode_slide_gop(
    ffmpeg: str, image: Path, out: Path, *, frames: int, gop_frames: int, options: VideoOptions
) -> Path:
    width, height = options.width, options.height
    # Scale and pad once, then repeat the finished frame: the filters run on one picture only.
    filters = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease:flags=lanczos"
        ":out_color_matrix=bt709:out_range=tv,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p,"
        f"loop=loop={frames - 1}:size=1:start=0"
    )
    run_program(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            image,
            "-vf",
            filters,
            "-frames:v",
            str(frames),
            "-c:v",
            "libx264",
            "-preset",
            options.x264_preset,
            "-crf",
            str(options.crf),
            "-tune",
            "stillimage",
            # One slice per frame and no B-frames, so the stream can be cut between any frames.
            "-threads",
            "1",
            "-bf",
            "0",
            "-x264-params",
            f"keyint={gop_frames}:min-keyint={gop_frames}:scenecut=0",
            "-colorspace",
            "bt709",
            "-color_primaries",
            "bt709",
            "-color_trc",
            "bt709",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            out,
        ],
        timeout=options.timeout_seconds,
        error=VideoAssemblyError,
        what=f"ffmpeg (encoding {image.name})",
    )
    return out


def _write_slide_stream(stream, gop: bytes, frames: int, gop_frames: int) -> None:
    """Write `frames` frames of a still slide from its encoded first GOP."""
    starts = access_unit_offsets(gop)
    encoded = len(starts)
    if encoded < min(frames, gop_frames):
        raise VideoAssemblyError(
            f"The encoder produced {encoded} frames where {min(frames, gop_frames)} were needed."
        )
    full_gops, remainder = divmod(frames, encoded)
    for _ in range(full_gops):
        stream.write(gop)
    if remainder:
        stream.write(gop[: starts[remainder]])


def access_unit_offsets(stream: bytes) -> list[int]:
    """Return where each frame begins in an H.264 Annex B stream with one slice per frame."""
    starts: list[int] = []
    pending: int | None = None
    position = stream.find(b"\x00\x00\x01")
    while position != -1:
        offset = position - 1 if position > 0 and stream[position - 1] == 0 else position
        nal_type = stream[position + 3] & 0x1F if position + 3 < len(stream) else 0
        if nal_type in _SLICE_TYPES:
            starts.append(pending if pending is not None else offset)
            pending = None
        elif pending is None:
            pending = offset
        position = stream.find(b"\x00\x00\x01", position + 3)
    return starts
