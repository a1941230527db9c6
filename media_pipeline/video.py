"""Assembling slide images and narration into one H.264/AAC MP4 at a constant frame rate.

A slide is a still picture, so its video is a keyframe followed by frames that repeat it.
x264 encodes each slide's keyframe once; the repeating frames are written directly as
all-skip P frames (see media_pipeline.h264), and the keyframe is repeated every GOP so
players can seek. The cost no longer grows with the video's length, only with slide count.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from media_pipeline.audio import concatenate_wavs, exact_wav_duration
from media_pipeline.errors import VideoAssemblyError
from media_pipeline.frame_rate import exact_frame_rate
from media_pipeline.h264 import StillPicture, split_access_units
from media_pipeline.tools import StopCheck, find_ffmpeg, never_stop, run_program, split_evenly

logger = logging.getLogger("media_pipeline.video")

# Slide images one ffmpeg decodes and encodes at a time. Its filter graph holds every one of
# its images decoded at once (measured: ~90 MB per 4K slide), so this bounds its memory; more
# gains little, as starting ffmpeg and x264 costs only about as much as a few keyframes.
IMAGES_PER_ENCODE = 8


@dataclass(frozen=True)
class VideoOptions:
    width: int = 1920
    height: int = 1080
    # Exact: 30000/1001 (NTSC "29.97") is Fraction(30000, 1001); an int is taken as is.
    fps: Fraction | int = Fraction(25)
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", exact_frame_rate(self.fps))


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


def slide_frame_counts(durations: Sequence[float | Fraction], fps: int | Fraction) -> list[int]:
    """Return frames per slide so that every slide change falls on the frame nearest its audio.

    A slide lasts at least two frames, so a keyframe is never next to another slide's
    keyframe (two adjacent IDR pictures would need different idr_pic_ids). The arithmetic
    is exact: at 30000/1001 fps float error would put a change a frame off after a while.
    """
    rate = Fraction(fps)
    counts: list[int] = []
    elapsed, previous_boundary = Fraction(0), 0
    for duration in durations:
        elapsed += Fraction(duration)
        boundary = round(elapsed * rate)
        counts.append(max(2, boundary - previous_boundary))
        previous_boundary += counts[-1]
    return counts


def frame_rate_argument(fps: Fraction) -> str:
    """Return the rate as ffmpeg and x264 take it exactly: "25/1", "30000/1001"."""
    return f"{fps.numerator}/{fps.denominator}"


def assemble_video(
    clips: Sequence[SlideClip],
    out_path: Path,
    work_dir: Path,
    options: VideoOptions,
    *,
    check: StopCheck = never_stop,
) -> AssembledVideo:
    """Return the MP4 written to out_path: each slide shown while its narration plays.

    `check` is called between steps and while each program runs; it raises to stop the work.
    """
    if not clips:
        raise VideoAssemblyError("There are no slides to assemble.")
    ffmpeg = find_ffmpeg(options.ffmpeg_binary)
    work_dir.mkdir(parents=True, exist_ok=True)
    fps = Fraction(options.fps)
    frame_counts = slide_frame_counts([exact_wav_duration(clip.audio) for clip in clips], fps)
    gop_frames = max(1, round(Fraction(options.gop_seconds) * fps))

    narration = work_dir / "narration.wav"
    audio_duration = concatenate_wavs([clip.audio for clip in clips], narration)

    def encode(batch: range) -> list[StillPicture]:
        check()
        keyframes = work_dir / f"keyframes-{batch.start:04d}.h264"
        images = [clips[i].image for i in batch]
        _encode_keyframes(ffmpeg, images, keyframes, options, check=check)
        pictures = split_access_units(keyframes.read_bytes())
        stills = [StillPicture.from_stream(picture) for picture in pictures]
        if len(stills) != len(batch):
            raise VideoAssemblyError(
                f"The encoder produced {len(stills)} keyframes for {len(batch)} slides."
            )
        return stills

    # The audio encoder is single-threaded too: it runs beside the slide encoders.
    with ThreadPoolExecutor(max_workers=options.parallel_encoders) as pool:
        try:
            audio_future = pool.submit(
                _encode_audio, ffmpeg, narration, work_dir / "narration.m4a", options, check
            )
            batches = pool.map(encode, keyframe_batches(len(clips), options.parallel_encoders))
            stills = [still for batch in batches for still in batch]
            audio = audio_future.result()
        except BaseException:
            # A failed or stopped batch fails the video: start no more of them.
            pool.shutdown(wait=True, cancel_futures=True)
            raise

    check()
    video_stream = work_dir / "video.h264"
    with video_stream.open("wb") as stream:
        for still, frames in zip(stills, frame_counts, strict=True):
            _write_still(stream, still, frames, gop_frames)

    check()
    run_program(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y",
            # -r, not only the demuxer's -framerate: ffmpeg then derives each timestamp from
            # the frame's number; otherwise it adds whole microseconds per frame and the
            # video drifts from the audio at rates like 30000/1001.
            "-framerate", frame_rate_argument(fps), "-r", frame_rate_argument(fps),
            "-i", video_stream,
            "-i", audio,
            "-map", "0:v:0", "-map", "1:a:0",
            "-c", "copy",
            "-movflags", "+faststart",
            out_path,
        ],
        timeout=options.timeout_seconds,
        error=VideoAssemblyError,
        what="ffmpeg (writing the MP4)",
        check=check,
    )  # fmt: skip
    total_frames = sum(frame_counts)
    starts, elapsed = [], 0
    for frames in frame_counts:
        starts.append(float(elapsed / fps))
        elapsed += frames
    logger.info(
        "assembled %d slides: %d frames, %.2f s of audio", len(clips), total_frames, audio_duration
    )
    return AssembledVideo(out_path, float(total_frames / fps), total_frames, tuple(starts))


def keyframe_batches(count: int, parallel: int) -> list[range]:
    """Return consecutive slide ranges, one per encoder call, none over IMAGES_PER_ENCODE.

    At least one per core, so a short deck still uses them all; a long deck gets more of
    them rather than larger ones, so an encoder's memory does not grow with the deck.
    """
    return split_evenly(count, max(parallel, math.ceil(count / IMAGES_PER_ENCODE)))


def _encode_audio(
    ffmpeg: str, wav: Path, out: Path, options: VideoOptions, check: StopCheck
) -> Path:
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
        check=check,
    )  # fmt: skip
    return out


def _encode_keyframes(
    ffmpeg: str,
    images: list[Path],
    out: Path,
    options: VideoOptions,
    *,
    check: StopCheck = never_stop,
) -> None:
    """Encode one keyframe per image, each carrying its own parameter sets, into out."""
    width, height = options.width, options.height
    rate = frame_rate_argument(Fraction(options.fps))
    inputs: list[str | Path] = []
    chains = []
    for index, image in enumerate(images):
        # The images' rate reaches x264 through the filter graph: it writes it into the SPS
        # timing players follow, and picks the H.264 level from it (4K at 60 fps needs 5.2).
        # (An output -r would say the same, but ffmpeg 7 refuses it with passthrough.)
        inputs += ["-framerate", rate, "-i", image]
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
        check=check,
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
