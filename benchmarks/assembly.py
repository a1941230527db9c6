"""Assembly benchmark: the same slides and narration through moviepy and through Slidecast.

    .venv/bin/python -m benchmarks.assembly [--fps 25] [--repeat 3]

Renders the 10-slide reference deck (LibreOffice) and narrates it (Piper) once, then times
assembling those inputs into a 1920x1080 MP4 at a constant frame rate: moviepy with its
defaults (libx264 preset medium), moviepy with preset ultrafast, and media_pipeline.video.
Prints each time, peak memory of the assembling process tree, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from benchmarks.measure import rendered_and_narrated, timed_module
from benchmarks.reference_deck import write_reference_deck
from media_pipeline.tools import find_ffmpeg
from media_pipeline.video import SlideClip, VideoOptions, assemble_video

WIDTH, HEIGHT = 1920, 1080


def prepare_inputs(work: Path, fps: int) -> list[SlideClip]:
    deck = write_reference_deck(work / "reference.pptx")
    return [SlideClip(image, n.wav_path) for image, n in rendered_and_narrated(deck, work, fps)]


def run_moviepy(clips: list[SlideClip], out: Path, fps: int, preset: str) -> None:
    from moviepy import AudioFileClip, ImageClip, concatenate_videoclips

    parts = []
    for clip in clips:
        audio = AudioFileClip(str(clip.audio))
        parts.append(ImageClip(str(clip.image)).with_duration(audio.duration).with_audio(audio))
    video = concatenate_videoclips(parts)
    video.write_videofile(
        str(out), fps=fps, codec="libx264", audio_codec="aac", preset=preset, logger=None
    )


def run_slidecast(clips: list[SlideClip], out: Path, fps: int) -> None:
    work = out.parent / f"{out.stem}-work"
    assemble_video(clips, out, work, VideoOptions(width=WIDTH, height=HEIGHT, fps=fps))


def timed_in_child(label: str, fps: int, inputs: Path, out: Path) -> tuple[float, float]:
    """Run one assembly in a fresh process; return seconds and peak RSS of its process tree."""
    return timed_module(
        "benchmarks.assembly",
        ["--child", label, "--fps", str(fps), "--inputs", str(inputs), "--out", str(out)],
    )


def duration_of(path: Path) -> float:
    ffprobe = str(Path(find_ffmpeg()).with_name("ffprobe"))
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child")
    parser.add_argument("--inputs", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    if args.child:
        clips = [SlideClip(Path(i), Path(a)) for i, a in json.loads(args.inputs.read_text())]
        if args.child == "slidecast":
            run_slidecast(clips, args.out, args.fps)
        else:
            run_moviepy(clips, args.out, args.fps, preset=args.child.split(":")[1])
        return

    with tempfile.TemporaryDirectory(prefix="slidecast-bench-") as tmp:
        work = Path(tmp)
        clips = prepare_inputs(work, args.fps)
        inputs = work / "inputs.json"
        inputs.write_text(json.dumps([[str(c.image), str(c.audio)] for c in clips]))
        results: dict[str, list[tuple[float, float]]] = {}
        durations = {}
        for label in ("moviepy:medium", "moviepy:ultrafast", "slidecast"):
            for attempt in range(args.repeat if label == "slidecast" else 1):
                out = work / f"{label.replace(':', '-')}-{attempt}.mp4"
                results.setdefault(label, []).append(timed_in_child(label, args.fps, inputs, out))
                durations[label] = duration_of(out)

    print(f"Assembly of 10 slides at {WIDTH}x{HEIGHT}, {args.fps} fps constant, H.264 + AAC")
    print(f"{'method':<22}{'seconds':>10}{'peak MB':>10}{'video s':>10}")
    medians = {}
    for label, runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        medians[label] = seconds
        peak = max(r[1] for r in runs)
        print(f"{label:<22}{seconds:>10.2f}{peak:>10.0f}{durations[label]:>10.2f}")
    ours = medians["slidecast"]
    print(f"speed-up vs moviepy (default preset):   {medians['moviepy:medium'] / ours:.1f}x")
    print(f"speed-up vs moviepy (preset ultrafast): {medians['moviepy:ultrafast'] / ours:.1f}x")


if __name__ == "__main__":
    main()
