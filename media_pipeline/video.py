"""Assembling slide images and narration into one H.264/AAC MP4 at a constant frame rate.

A slide is a still picture, so its video is a keyframe followed by frames that repeat it.
x264 encodes each slide's keyframe once; the repeating frames are written directly as
all-skip P frames (see media_pipeline.h264), and the keyframe is repeated every GOP so
players can seek. The cost no longer grows with the video's length, only with slide count.
Where the copies cannot follow what the encoder made, x264 encodes every frame instead
(media_pipeline.still_video): slower, same frames, same keyframes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from media_pipeline.chapters import chapters_from, to_ffmetadata
from media_pipeline.content_keys import digest, file_digest, keyframe_key, program_stamp
from media_pipeline.errors import VideoAssemblyError
from media_pipeline.frame_rate import frame_rate_argument
from media_pipeline.h264 import StillPicture, UnsupportedStream, split_access_units
from media_pipeline.narration_track import ContentStore, NarrationTrack
from media_pipeline.still_video import (
    encode_slides,
    encode_with_x264,
    join_streams,
    keyframe_numbers,
)
from media_pipeline.tools import (
    StopCheck,
    find_ffmpeg,
    never_stop,
    release_freed_memory,
    run_program,
    split_evenly,
)
from media_pipeline.video_options import VideoOptions

logger = logging.getLogger("media_pipeline.video")

# Slide images one ffmpeg decodes and encodes at a time. Its filter graph holds every one of
# its images decoded at once (measured: ~90 MB per 4K slide, ~27 MB at 1080p), so this
# bounds its memory (two encoders of 8 at 1080p took 436 MB); more gains little, as starting
# ffmpeg and x264 costs only about as much as a few keyframes.
IMAGES_PER_ENCODE = 4

# What the hand-written copies need of the keyframes, every setting they depend on pinned
# rather than left to x264's or ffmpeg's defaults (an -flags +ildct, another x264 build):
# every frame is forced to be an IDR picture with its own parameter sets, so each can stand
# alone. The sequence must still allow one reference frame (keyint=1 would declare it
# intra-only), and the copies are progressive CAVLC P pictures of one slice, without
# weighted prediction, scaling matrices or per-picture timing SEI.
KEYFRAME_X264_PARAMS = ":".join(
    [
        "cabac=0", "weightp=0", "bframes=0", "ref=1", "keyint=100000", "scenecut=0",
        "repeat-headers=1", "threads=1", "sliced-threads=0", "slices=0", "slice-max-size=0",
        "slice-max-mbs=0", "interlaced=0", "fake-interlaced=0", "cqm=flat", "nal-hrd=none",
        "pic-struct=0",
    ]
)  # fmt: skip


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
    # True when repeated frames were written as copies, False when x264 encoded them all.
    skip_frames: bool = True


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


def assemble_video(
    clips: Sequence[SlideClip],
    out_path: Path,
    work_dir: Path,
    options: VideoOptions,
    *,
    check: StopCheck = never_stop,
    chapter_titles: Sequence[str] = (),
    keyframe_store: ContentStore | None = None,
    audio_store: ContentStore | None = None,
) -> AssembledVideo:
    """Return the MP4 written to out_path: each slide shown while its narration plays.

    `check` is called between steps and while each program runs; it raises to stop the work.
    With `chapter_titles` (one per clip), each slide is a chapter of the MP4 under its title.
    With a `keyframe_store`, slides whose keyframe it holds are not encoded again, and new
    keyframes are put there (each is a complete IDR picture with its own parameter sets,
    so keyframes of different runs with the same settings can stand side by side).
    With an `audio_store`, slides whose encoded narration it holds are not encoded again
    (see media_pipeline.narration_track).
    """
    if not clips:
        raise VideoAssemblyError("There are no slides to assemble.")
    if chapter_titles and len(chapter_titles) != len(clips):
        raise VideoAssemblyError(f"{len(chapter_titles)} chapter titles for {len(clips)} slides.")
    ffmpeg = find_ffmpeg(options.ffmpeg_binary)
    work_dir.mkdir(parents=True, exist_ok=True)
    fps = Fraction(options.fps)
    track = NarrationTrack.prepare(ffmpeg, [clip.audio for clip in clips], work_dir, options)
    frame_counts = slide_frame_counts(track.durations, fps)
    audio_duration = float(sum(track.durations))

    video_stream = work_dir / "video.h264"
    # The audio encoders are single-threaded too: they run beside the slide encoders.
    with ThreadPoolExecutor(max_workers=options.parallel_encoders) as pool:
        try:
            track.start(pool, audio_store, check)
            gop_frames = max(1, round(Fraction(options.gop_seconds) * fps))
            job = _VideoJob(
                ffmpeg, [clip.image for clip in clips], frame_counts, gop_frames, options, check,
                keyframe_store,
            )  # fmt: skip
            skip_frames = options.skip_frames and _write_skip_frames(job, pool, video_stream)
            if not skip_frames:
                _write_every_frame(job, pool, video_stream)
            audio_input = track.finish(audio_store)
        except BaseException:
            # A failed or stopped batch fails the video: start no more of them.
            pool.shutdown(wait=True, cancel_futures=True)
            raise

    check()
    total_frames = sum(frame_counts)
    starts, elapsed = [], 0
    for frames in frame_counts:
        starts.append(float(elapsed / fps))
        elapsed += frames
    duration = float(total_frames / fps)
    run_program(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y",
            # -r, not only the demuxer's -framerate: ffmpeg then derives each timestamp from
            # the frame's number; otherwise it adds whole microseconds per frame and the
            # video drifts from the audio at rates like 30000/1001.
            "-framerate", frame_rate_argument(fps), "-r", frame_rate_argument(fps),
            "-i", video_stream,
            *audio_input,
            *_chapter_inputs(chapter_titles, starts, duration, work_dir),
            "-map", "0:v:0", "-map", "1:a:0",
            *(["-metadata:s:a:0", f"language={options.audio_language}"]
              if options.audio_language else []),
            "-c", "copy",
            "-movflags", "+faststart",
            out_path,
        ],
        timeout=options.timeout_seconds,
        error=VideoAssemblyError,
        what="ffmpeg (writing the MP4)",
        check=check,
    )  # fmt: skip
    logger.info(
        "assembled %d slides: %d frames, %.2f s of audio", len(clips), total_frames, audio_duration
    )
    release_freed_memory()
    return AssembledVideo(out_path, duration, total_frames, tuple(starts), skip_frames)


def _chapter_inputs(
    titles: Sequence[str], starts: Sequence[float], duration: float, work_dir: Path
) -> list[str | Path]:
    """Return the ffmpeg arguments that mux the slides' chapters from a metadata input."""
    if not titles:
        return []
    metadata = work_dir / "chapters.ffmetadata"
    metadata.write_text(to_ffmetadata(chapters_from(titles, starts, duration)), encoding="utf-8")
    # The metadata file is the third input (after the video and the narration).
    return ["-f", "ffmetadata", "-i", metadata, "-map_metadata", "2", "-map_chapters", "2"]


def keyframe_batches(count: int, parallel: int) -> list[range]:
    """Return consecutive slide ranges, one per encoder call, none over IMAGES_PER_ENCODE.

    At least one per core, so a short deck still uses them all; a long deck gets more of
    them rather than larger ones, so an encoder's memory does not grow with the deck.
    """
    return split_evenly(count, max(parallel, math.ceil(count / IMAGES_PER_ENCODE)))


@dataclass(frozen=True)
class _VideoJob:
    """What either writer of the video stream needs."""

    ffmpeg: str
    images: list[Path]
    frame_counts: list[int]
    gop_frames: int
    options: VideoOptions
    check: StopCheck
    keyframe_store: ContentStore | None = None

    def batches(self) -> list[range]:
        return keyframe_batches(len(self.images), self.options.parallel_encoders)

    def keyframe_keys(self) -> list[str]:
        settings = digest(
            self.options.width, self.options.height, self.options.x264_preset,
            self.options.crf, KEYFRAME_X264_PARAMS, program_stamp(self.ffmpeg),
        )  # fmt: skip
        return [keyframe_key(file_digest(image), settings) for image in self.images]


def _write_skip_frames(job: _VideoJob, pool: ThreadPoolExecutor, out: Path) -> bool:
    """Write the stream as keyframes and copies; return False, having written none, if it can't.

    What the copies cannot follow is not an error: it is logged, and the caller has x264
    encode every frame instead.
    """

    def encode(indices: list[int]) -> list[StillPicture]:
        job.check()
        keyframes = out.with_name(f"keyframes-{indices[0]:04d}.h264")
        _encode_keyframes(
            job.ffmpeg, [job.images[i] for i in indices], keyframes, job.options, check=job.check
        )
        stills = [StillPicture.from_stream(p) for p in split_access_units(keyframes.read_bytes())]
        keyframes.unlink()
        if len(stills) != len(indices):
            raise UnsupportedStream(
                f"The encoder produced {len(stills)} keyframes for {len(indices)} slides."
            )
        return stills

    keys = job.keyframe_keys() if job.keyframe_store else []
    cached = job.keyframe_store.get_many(keys) if job.keyframe_store else {}
    stills: list[StillPicture | None] = [None] * len(job.images)
    futures = []
    try:
        if min(job.frame_counts) < 2:
            raise UnsupportedStream("A slide of one frame would put two keyframes side by side.")
        for index, key in enumerate(keys):
            if key in cached:
                stills[index] = StillPicture.from_stream(cached[key])
        missing = [index for index, still in enumerate(stills) if still is None]
        batches = [
            [missing[i] for i in part]
            for part in keyframe_batches(len(missing), job.options.parallel_encoders)
            if len(part)
        ]
        futures = [(batch, pool.submit(encode, batch)) for batch in batches]
        for batch, future in futures:
            for index, still in zip(batch, future.result(), strict=True):
                stills[index] = still
                if job.keyframe_store:
                    job.keyframe_store.put(keys[index], still.keyframe)
    except UnsupportedStream as exc:
        for _, future in futures:
            future.cancel()
        logger.warning("encoding every frame with x264, as copies are not possible: %s", exc)
        return False
    job.check()
    with out.open("wb") as stream:
        for still, frames in zip(stills, job.frame_counts, strict=True):
            _write_still(stream, still, frames, job.gop_frames)
    return True


def _write_every_frame(job: _VideoJob, pool: ThreadPoolExecutor, out: Path) -> None:
    """Write the stream with x264 encoding every frame, batches of slides in parallel."""

    def encode(batch: range) -> Path:
        job.check()
        part = out.with_name(f"frames-{batch.start:04d}.h264")
        images = [job.images[i] for i in batch]
        counts = [job.frame_counts[i] for i in batch]
        encode_slides(
            job.ffmpeg, images, counts, part, job.options,
            gop_frames=job.gop_frames, check=job.check,
        )  # fmt: skip
        return part

    parts = list(pool.map(encode, job.batches()))
    job.check()
    join_streams(parts, out)


def _encode_keyframes(
    ffmpeg: str,
    images: list[Path],
    out: Path,
    options: VideoOptions,
    *,
    check: StopCheck = never_stop,
) -> None:
    """Encode one keyframe per image, each carrying its own parameter sets, into out."""
    encode_with_x264(
        ffmpeg, images, out, options,
        repeats=None, force_key_frames="expr:1", x264_params=KEYFRAME_X264_PARAMS,
        what="ffmpeg (encoding the slides)", check=check,
    )  # fmt: skip


def _write_still(stream, still: StillPicture, frames: int, gop_frames: int) -> None:
    """Write `frames` frames of a still slide: a keyframe every GOP, copies in between."""
    copies = [still.repeat_frame(number) for number in range(1, min(frames, gop_frames + 1))]
    keyframes = set(keyframe_numbers(frames, gop_frames))
    for frame in range(frames):
        if frame in keyframes:
            stream.write(still.keyframe)
        else:
            # Frame numbers count from the last keyframe; a slide's last frame stays a copy.
            stream.write(copies[(frame % gop_frames or gop_frames) - 1])
