"""Still-picture writer benchmark: hand-written skip frames against ffmpeg alone.

    .venv/bin/python -m benchmarks.h264_writer [--slides 200] [--repeat 3] [--slow-repeat 1]

Inputs: the 10-slide reference deck, rendered (LibreOffice) and narrated (Piper) once, and
a deck of --slides slides made from it rather than rendered (200 LibreOffice renders take
long on 2 cores): the reference images in turn, each stamped with its slide number so no
two slides look alike, and narrations cut from the reference ones to 1.2-2.0 s (the limits
benchmark's 200 one-sentence slides average 1.56 s). Each writer turns the same inputs into
a 1920x1080, 25 fps H.264 + AAC MP4 in a fresh process:

- skip-frames (the baseline): media_pipeline.video as shipped; x264 encodes one keyframe a
  slide, the other frames are hand-written all-skip P slices (media_pipeline.h264).
- x264-every-frame: media_pipeline.video with skip_frames=False; x264 encodes every frame
  of each slide (batches of slides in parallel), same keyframes, streams joined, one mux.
- concat-cfr: one ffmpeg call; the concat demuxer reads the images with `duration` lines,
  the fps filter makes the rate constant, x264 and the AAC encoder write the MP4.
- concat-vfr: the same without the fps filter: one frame per slide, variable frame rate.

Then benchmarks.video_checks looks at each output (ffprobe, ffmpeg seeks, Chromium), and a
table per deck gives times and sizes as ratios to the baseline from the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import wave
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from benchmarks.measure import rendered_and_narrated, timed_module
from benchmarks.reference_deck import write_reference_deck
from benchmarks.video_checks import Expected, chromium_playback, probe, seek_accuracy
from media_pipeline.audio import concatenate_wavs, exact_wav_duration, wav_writer
from media_pipeline.errors import VideoAssemblyError
from media_pipeline.still_video import fit_filter, keyframe_numbers
from media_pipeline.tools import find_ffmpeg, run_program
from media_pipeline.video import SlideClip, VideoOptions, assemble_video, slide_frame_counts

WIDTH, HEIGHT, FPS = 1920, 1080, 25
BASELINE = "skip-frames"
# Writers that encode every frame run --slow-repeat times: minutes each on a long deck.
WRITERS = {BASELINE: False, "x264-every-frame": True, "concat-cfr": True, "concat-vfr": False}


def options() -> VideoOptions:
    return VideoOptions(width=WIDTH, height=HEIGHT, fps=FPS)


def run_writer(label: str, clips: list[SlideClip], out: Path, work: Path) -> None:
    """Write out with one writer (in the child process that is timed)."""
    if label in (BASELINE, "x264-every-frame"):
        chosen = VideoOptions(width=WIDTH, height=HEIGHT, fps=FPS, skip_frames=label == BASELINE)
        video = assemble_video(clips, out, work, chosen)
        if video.skip_frames != (label == BASELINE):
            raise SystemExit(f"{label}: the other writer was used")
    else:
        run_concat(clips, out, work, constant=label == "concat-cfr")


def run_concat(clips: list[SlideClip], out: Path, work: Path, *, constant: bool) -> None:
    """Write out in one ffmpeg call from the images and their durations (concat demuxer)."""
    work.mkdir(parents=True, exist_ok=True)
    fps = Fraction(FPS)
    counts = slide_frame_counts([exact_wav_duration(clip.audio) for clip in clips], fps)
    narration = work / "narration.wav"
    concatenate_wavs([clip.audio for clip in clips], narration)
    lines = ["ffconcat version 1.0"]
    for clip, frames in zip(clips, counts, strict=True):
        lines += [f"file '{clip.image}'", f"duration {float(frames / fps):.6f}"]
    # The demuxer applies the last duration only when another entry follows it.
    lines.append(f"file '{clips[-1].image}'")
    listing = work / "slides.ffconcat"
    listing.write_text("\n".join(lines) + "\n")
    gop = round(options().gop_seconds * FPS)
    if constant:
        # Scaled once per slide, then repeated by the fps filter; keyframes as video.py's.
        # trim, not -frames:v, drops the closing entry's frame: -frames:v ends the audio too.
        # Keyframe times as a list: ffmpeg's expressions refuse a term per slide of a long
        # deck (nesting limit), and at 25 fps every frame time is an exact decimal.
        times = ",".join(f"{float(n / fps):.6f}" for n in keyframe_frames(counts, gop))
        video = ["-vf", f"{fit_filter(WIDTH, HEIGHT)},fps={FPS},trim=end_frame={sum(counts)}",
                 "-force_key_frames", times]  # fmt: skip
    else:
        # One frame per slide, plus the closing entry's frame at the very end.
        video = ["-vf", fit_filter(WIDTH, HEIGHT), "-fps_mode", "vfr",
                 "-force_key_frames", "expr:1"]  # fmt: skip
    run_program(
        [
            find_ffmpeg(), "-nostdin", "-v", "error", "-y",
            "-f", "concat", "-safe", "0", "-i", listing, "-i", narration,
            *video,
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-tune", "stillimage",
            "-x264-params", "bframes=0:keyint=100000:scenecut=0",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", "96k",
            "-movflags", "+faststart", out,
        ],
        timeout=3600, error=VideoAssemblyError, what="ffmpeg (concat)",
    )  # fmt: skip


def keyframe_frames(counts: list[int], gop: int) -> list[int]:
    """Return the frame numbers of the keyframes video.py puts in slides of these lengths."""
    starts = [sum(counts[:index]) for index in range(len(counts))]
    return [
        start + frame
        for start, frames in zip(starts, counts, strict=True)
        for frame in keyframe_numbers(frames, gop)
    ]


def reference_clips(work: Path) -> list[SlideClip]:
    work.mkdir(parents=True)
    deck = write_reference_deck(work / "reference.pptx")
    return [SlideClip(image, n.wav_path) for image, n in rendered_and_narrated(deck, work, FPS)]


def many_slides(reference: list[SlideClip], count: int, folder: Path) -> list[SlideClip]:
    """Return `count` distinct slides made from the reference ones (see the module doc)."""
    folder.mkdir(parents=True, exist_ok=True)
    font = ImageFont.load_default(size=HEIGHT // 4)
    clips = []
    for index in range(count):
        source = reference[index % len(reference)]
        picture = Image.open(source.image).convert("RGB")
        draw = ImageDraw.Draw(picture)
        draw.rectangle((picture.width * 0.55, picture.height * 0.6, picture.width, picture.height),
                       fill=(20, 40, 90))  # fmt: skip
        draw.text((picture.width * 0.58, picture.height * 0.63), str(index + 1), font=font,
                  fill=(255, 255, 255))  # fmt: skip
        image = folder / f"slide-{index:03d}.png"
        picture.save(image)
        audio = folder / f"slide-{index:03d}.wav"
        with wave.open(str(source.audio), "rb") as reader:
            rate = reader.getframerate()
            seconds = 1.2 + 0.8 * ((index * 7) % 10) / 9
            samples = reader.readframes(round(seconds * rate))
        with wav_writer(audio, rate) as writer:
            writer.writeframes(samples)
        clips.append(SlideClip(image, audio))
    return clips


def benchmark_deck(name: str, clips: list[SlideClip], work: Path, args) -> list[dict]:
    """Return one row per writer: timings, size and the checks of its last output."""
    inputs = work / "inputs.json"
    inputs.write_text(json.dumps([[str(c.image), str(c.audio)] for c in clips]))
    outputs = work / "out"
    outputs.mkdir(parents=True, exist_ok=True)
    fps = Fraction(FPS)
    durations = [exact_wav_duration(clip.audio) for clip in clips]
    expected = Expected(
        images=[clip.image for clip in clips],
        frame_counts=slide_frame_counts(durations, fps),
        fps=fps,
        gop_frames=round(options().gop_seconds * FPS),
        audio_seconds=float(sum(durations)),
        size=(WIDTH, HEIGHT),
    )
    rows, videos = [], {}
    for label, slow in WRITERS.items():
        out = outputs / f"{label}.mp4"
        runs = [
            timed_module(
                "benchmarks.h264_writer",
                [
                    "--child",
                    label,
                    "--inputs",
                    str(inputs),
                    "--out",
                    str(out),
                    "--work",
                    str(work / f"{label}-{attempt}"),
                ],
            )  # fmt: skip
            for attempt in range(args.slow_repeat if slow else args.repeat)
        ]
        videos[label] = out
        row = {"deck": name, "writer": label, "runs": len(runs),
               "seconds": statistics.median(r[0] for r in runs),
               "peak_mb": max(r[1] for r in runs), "mb": out.stat().st_size / 1e6}  # fmt: skip
        rows.append({**row, **probe(out, expected), **seek_accuracy(out, expected)})
    playback = chromium_playback(videos, expected)
    for row in rows:
        row["chromium"] = playback[row["writer"]]
    return rows


def print_table(rows: list[dict]) -> None:
    base = next(row for row in rows if row["writer"] == BASELINE)
    print(f"\n{rows[0]['deck']}: {len(rows)} writers, ratios to {BASELINE} from this run")
    print(
        f"{'writer':<18}{'runs':>5}{'seconds':>9}{'x base':>8}{'peak MB':>9}{'file MB':>9}"
        f"{'x base':>8}  frames        keyframes  video s / audio s / expected   fps"
    )
    for row in rows:
        print(
            f"{row['writer']:<18}{row['runs']:>5}{row['seconds']:>9.2f}"
            f"{row['seconds'] / base['seconds']:>8.2f}{row['peak_mb']:>9.0f}{row['mb']:>9.2f}"
            f"{row['mb'] / base['mb']:>8.2f}  {row['frames']:<13} {row['keyframes']:<10} "
            f"{row['video_s']:.3f} / {row['audio_s']:.3f} / {row['expected_s']:.3f}"
            f"   {row['avg_frame_rate']}"
        )
    print(f"{'writer':<18} codec             strict  seek (ffmpeg -ss)  Chromium")
    for row in rows:
        print(
            f"{row['writer']:<18} {row['codec']:<17} "
            f"{'ok' if row['strict_decode_ok'] else 'ERR':<7}"
            f" {row['seek']:>6} mad {row['seek_mad']:5.2f}  {row['chromium']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slides", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slow-repeat", type=int, default=1)
    parser.add_argument("--child")
    parser.add_argument("--inputs", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()

    if args.child:
        clips = [SlideClip(Path(i), Path(a)) for i, a in json.loads(args.inputs.read_text())]
        run_writer(args.child, clips, args.out, args.work)
        return

    with tempfile.TemporaryDirectory(prefix="slidecast-h264-") as tmp:
        work = Path(tmp)
        reference = reference_clips(work / "reference")
        many = many_slides(reference, args.slides, work / "many" / "inputs")
        tables = [
            benchmark_deck("reference deck, 10 slides (rendered, Piper)", reference,
                           work / "reference", args),
            benchmark_deck(f"{args.slides} slides (reference images stamped, narration cut)",
                           many, work / "many", args),
        ]  # fmt: skip
    print(
        f"\nH.264 still-picture writers, {WIDTH}x{HEIGHT} {FPS} fps, median of {args.repeat} "
        f"(writers that encode every frame: {args.slow_repeat})"
    )
    for rows in tables:
        print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(tables, indent=1, default=str))


if __name__ == "__main__":
    main()
