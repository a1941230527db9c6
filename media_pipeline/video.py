"""Assembling slide images and narration into one H.264/AAC MP4 at a constant frame rate.

A slide is a still picture, so its video is a keyframe followed by frames that repeat it.
x264 encodes each slide's keyframe once; the repeating frames are written directly as
all-skip P frames (see media_pipeline.h264), and the keyframe is repeated every GOP so
players can seek. The cost no longer grows with the video's length, only with slide count.
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
from media_pipeline.h264 import StillPicture, split_access_units
from media_pipeline.tools import find_ffmpeg, run_program, split_evenly

logger = logging.getLogger("media_pipeline.video")


@dataclass(frozen=True)
class VideoOptions:
    width: int = 1920
    height: int = 1080
    fps: int = 25
    # A keyframe every two seconds: what streaming services use, and seeking stays instant.
    gop_seconds: float = 2.0
    x264_preset: str = "veryfast"
    crf: int = 20
    # Speech needs no more; the native coder at twice the time gives no audible gain.
    audio_bitrate: str = "96k"
    # None keeps the narration's own rate (Piper: 22.05 kHz); resampling adds nothing.
    audio_sample_rate: int | None = None
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
    """Return frames per slide so that every slide change falls on the frame nearest its audio.

    A slide lasts at least two frames, so a keyframe is never next to another slide's
    keyframe (two adjacent IDR pictures would need different idr_pic_ids).
    """
    counts, elapsed, previous_boundary = [], 0.0, 0
    for duration in durations:
        elapsed += duration
        boundary = round(elapsed * fps)
        counts.append(max(2, boundary - previous_boundary))
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

    narration = work_dir / "narration.wav"
    audio_duration = concatenate_wavs([clip.audio for clip in clips], narration)

    # One encoder process per core: starting ffmpeg and x264 costs more than a keyframe.
    batches = split_evenly(len(clips), options.parallel_encoders)

    def encode(batch: range) -> list[StillPicture]:
        keyframes = work_dir / f"keyframes-{batch.start:04d}.h264"
        _encode_keyframes(ffmpeg, [clips[i].image for i in batch], keyframes, options)
        pictures = split_access_units(keyframes.read_bytes())
        if len(pictures) != len(batch):
            raise VideoAssemblyError(
                f"The encoder produced {len(pictures)} keyframes for {len(batch)} slides."
            )
        return [StillPicture.from_stream(picture) for picture in pictures]

    # The audio encoder is single-threaded too: it runs beside the slide encoders.
    with ThreadPoolExecutor(max_workers=options.parallel_encoders) as pool:
        audio_future = pool.submit(
            _encode_audio, ffmpeg, narration, work_dir / "narration.m4a", options
        )
        stills = [still for batch in pool.map(encode, batches) for still in batch]
        audio = audio_future.result()

    video_stream = work_dir / "video.h264"
    with video_stream.open("wb") as stream:
        for still, frames in zip(stills, frame_counts, strict=True):
            _write_still(stream, still, frames, gop_frames)

    run_program(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y",
            "-framerate", str(options.fps), "-i", video_stream,
            "-i", audio,
            "-map", "0:v:0", "-map", "1:a:0",
            "-c", "copy",
            "-movflags", "+faststart",
            out_path,
        ],
        timeout=options.timeout_seconds,
        error=VideoAssemblyError,
        what="ffmpeg (writing the MP4)",
    )  # fmt: skip
    total_frames = sum(frame_counts)
    starts, elapsed = [], 0
    for frames in frame_counts:
        starts.append(elapsed / options.fps)
        elapsed += frames
    logger.info(
        "assembled %d slides: %d frames, %.2f s of audio", len(clips), total_frames, audio_duration
    )
    return AssembledVideo(out_path, total_frames / options.fps, total_frames, tuple(starts))


def _encode_audio(ffmpeg: str, wav: Path, out: Path, options: VideoOptions) -> Path:
    resample = ["-ar", str(options.audio_sample_rate)] if options.audio_sample_rate else []
    run_program(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y", "-i", wav,
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", options.audio_bitrate, *resample,
            out,
        ],
        timeout=options.timeout_seconds,
        error=VideoAssemblyError,
        what="ffmpeg (encoding the narration)",
    )  # fmt: skip
    return out


def _encode_keyframes(ffmpeg: str, images: list[Path], out: Path, options: VideoOptions) -> None:
    """Encode one keyframe per image, each carrying its own parameter sets, into out."""
    width, height = options.width, options.height
    inputs: list[str | Path] = []
    chains = []
    for index, image in enumerate(images):
        inputs += ["-i", image]
        chains.append(
            f"[{index}:v]scale={width}:{height}:force_original_aspect_ratio=decrease"
            ":flags=lanczos:out_color_matrix=bt709:out_range=tv,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
            f"[v{index}]"
        )
    joined = "".join(f"[v{index}]" for index in range(len(images)))
    graph = ";".join([*chains, f"{joined}concat=n={len(images)}:v=1:a=0[out]"])
    run_program(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y",
            *inputs,
            "-filter_complex", graph, "-map", "[out]",
            "-fps_mode", "passthrough",
            "-c:v", "libx264", "-preset", options.x264_preset, "-crf", str(options.crf),
            "-tune", "stillimage",
            # Every frame is forced to be an IDR picture with its own parameter sets, so each
            # can stand alone. The sequence must still allow one reference frame (keyint=1
            # would declare it intra-only), and the repeated frames are CAVLC P slices
            # without weighted prediction, so the parameter sets must allow exactly that.
            "-force_key_frames", "expr:1",
            "-x264-params",
            "cabac=0:weightp=0:bframes=0:ref=1:keyint=100000:scenecut=0:repeat-headers=1"
            ":threads=1",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-bsf:v", "h264_mp4toannexb", "-f", "h264",
            out,
        ],
        timeout=options.timeout_seconds,
        error=VideoAssemblyError,
        what="ffmpeg (encoding the slides)",
    )  # fmt: skip


def _write_still(stream, still: StillPicture, frames: int, gop_frames: int) -> None:
    """Write `frames` frames of a still slide: a keyframe every GOP, copies in between."""
    copies = [still.repeat_frame(number) for number in range(1, min(frames, gop_frames + 1))]
    for frame in range(frames):
        position = frame % gop_frames
        # The slide's last frame is never a keyframe, so two keyframes (which might share an
        # idr_pic_id across encoder batches) are never adjacent at a slide change.
        if position == 0 and (frame == 0 or frame < frames - 1):
            stream.write(still.keyframe)
        else:
            stream.write(copies[(position or gop_frames) - 1])
