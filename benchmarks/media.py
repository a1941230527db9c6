"""Media jobs: transcription, transcodes, previews and batches, each against a baseline.

    .venv/bin/python -m benchmarks.media [--only transcribe,transcode,preview,batch]
                                         [--seconds 20] [--repeat 3] [--max-load 1.5]

transcribe  About 60 s of real speech (Piper, the reference deck's notes one after another:
            different sentences, since Whisper loops on a repeated take) transcribed by
            `media_pipeline.transcription.transcribe_media` as a cpu worker does (int8, beam
            1, no VAD, word timings): model load, first call, then warm RTF (transcribe
            seconds / audio seconds, best and median of --repeat). Baseline: faster-whisper's
            defaults as a hand-run script calls them (`WhisperModel(dir).transcribe(path)`,
            beam 5, float32 from the float16 weights). Then one option changed at a time
            (threads, VAD, timestamps, conditioning, chunk length), each with its RTF, word
            error rate against the script and whether word timings survive; and two files
            at once on one shared model (a cpu worker has 2 slots), as loaded now and with
            cpu_threads=1, num_workers=2.
transcode   A --seconds clip at 1920x1080, 25 fps, with motion and grain (a Mandelbrot zoom)
            and a tone, through `media_pipeline.transcode.transcode` to 1080p at quality
            "balanced" in H.264, H.265, VP9 and AV1: seconds of work per minute of video,
            RTF, size and SSIM against the source. Baseline: `ffmpeg -i in -c:v libx264
            out.mp4` and `-c:v libx265` with ffmpeg's defaults (preset medium).
preview     Poster, animated WebP preview and storyboard (`media_pipeline.preview`) of a 60 s
            1080p clip (the transcode clip looped). Baseline: a naive script (ffmpeg writes
            a full-size PNG per second, Pillow picks the poster and tiles the storyboard, and
            48 full-size PNGs make the animated WebP). For scale: the poster at a given time,
            and ffmpeg decoding the first 30 s and the whole clip.
batch       On a fresh embedded database, one `manage.py procrastinate worker --queues=cpu,gpu
            --concurrency 2` (restarted when it recycles itself, as a supervisor would): a
            4-slide deck, one persona, 10 H.264 presets. (a) `batch_create` timed until the
            batch's ZIP is stored; (b) 10 separate narrations of the deck, each followed by
            its transcode once it completes, timed until all 10 transcodes ended. Also:
            previews made on the side, the batch's timeline, and the ZIP's entry names.

--max-load waits (up to --load-wait seconds in all) before each part until the 1-minute load
average is below it; the load each part started under is printed with its figures.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

from benchmarks.django_setup import REPO

PARTS = ("transcribe", "transcode", "preview", "batch")
RTF_TARGET = 0.1
SPEECH_SECONDS = 60.0
PREVIEW_SECONDS = 60.0
CODECS = ("h264", "h265", "vp9", "av1")
VOICE = "en_US-joe-medium"
# Ten variants of one narration: every aspect at 720p and 1080p, then four that differ only
# in quality or background (the same size and aspect as one of the six).
PRESETS = [
    {"codec": "h264", "aspect": "16:9", "resolution": "720p"},
    {"codec": "h264", "aspect": "16:9", "resolution": "1080p"},
    {"codec": "h264", "aspect": "9:16", "resolution": "720p"},
    {"codec": "h264", "aspect": "9:16", "resolution": "1080p"},
    {"codec": "h264", "aspect": "1:1", "resolution": "720p"},
    {"codec": "h264", "aspect": "1:1", "resolution": "1080p"},
    {"codec": "h264", "aspect": "9:16", "resolution": "1080p", "background": "black"},
    {"codec": "h264", "aspect": "1:1", "resolution": "1080p", "background": "white"},
    {"codec": "h264", "aspect": "16:9", "resolution": "720p", "quality": "small"},
    {"codec": "h264", "aspect": "9:16", "resolution": "720p", "quality": "high"},
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(PARTS))
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="length of the 1080p clip the transcodes encode")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="warm transcriptions to time")
    parser.add_argument("--max-load", type=float, default=None,
                        help="wait before each part for the 1-min load to drop below")  # fmt: skip
    parser.add_argument("--load-wait", type=float, default=1200,
                        help="seconds all waits for a low load may take together")  # fmt: skip
    args = parser.parse_args()
    wanted = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(wanted) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {PARTS}")
    args.load_deadline = time.monotonic() + args.load_wait

    print(f"cpu cores: {os.cpu_count()}, {_cpu_model()}; load now {_load():.2f}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="slidecast-media-bench-") as tmp:
        work = Path(tmp)
        clip: Path | None = None
        for part in PARTS:
            if part not in wanted:
                continue
            load = _settle(args)
            print(f"\n== {part} (1-minute load at start {load:.2f}) ==", flush=True)
            if part == "transcribe":
                transcription_benchmark(work / "speech", args.repeat)
            elif part == "transcode":
                clip = clip or motion_clip(work / "clip.mp4", args.seconds)
                transcode_benchmark(clip, work / "transcodes")
            elif part == "preview":
                clip = clip or motion_clip(work / "clip.mp4", args.seconds)
                preview_benchmark(clip, work / "preview")
            elif part == "batch":
                batch_benchmark(work / "batch")
            print(f"(1-minute load at the end of {part}: {_load():.2f})")
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s")


# --------------------------------------------------------------------------- helpers


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown cpu"


def _settle(args) -> float:
    """Wait for the 1-minute load to fall below --max-load (within the time left for waits)."""
    load = _load()
    if args.max_load is None:
        return load
    while load >= args.max_load and time.monotonic() < args.load_deadline:
        print(f"  load {load:.2f} >= {args.max_load}: waiting", flush=True)
        time.sleep(20)
        load = _load()
    return load


def _timed(step: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def _ffmpeg(*args: str | Path) -> None:
    from media_pipeline.tools import find_ffmpeg

    command = [find_ffmpeg(), "-nostdin", "-hide_banner", "-v", "error", "-y", *map(str, args)]
    # x265 writes its own log to stderr whatever ffmpeg's level: kept unless the run fails.
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [str(cell).ljust(width) if number == 0 else str(cell).rjust(width)
                 for number, (cell, width) in enumerate(zip(row, widths, strict=True))]  # fmt: skip
        return "  ".join(cells).rstrip()

    print(line(header))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


# --------------------------------------------------------------------------- transcription


def speech_recording(folder: Path, seconds: float = SPEECH_SECONDS) -> tuple[Path, str, float]:
    """Write the reference deck's notes, spoken by Piper one after another, to one WAV of at
    least `seconds`; return it with the text it says and its length."""
    from benchmarks.reference_deck import REFERENCE_NOTES
    from media_pipeline.tts import EngineRegistry, NarrationOptions, narrate

    folder.mkdir(parents=True, exist_ok=True)
    engine = EngineRegistry().get("piper")
    takes, texts, total = [], [], 0.0
    for number, (_, notes) in enumerate(REFERENCE_NOTES):
        if total >= seconds:
            break
        take = narrate(notes, engine=engine, voice=VOICE, options=NarrationOptions(),
                       out_wav=folder / f"take-{number:02}.wav")  # fmt: skip
        takes.append(take.wav_path)
        texts.append(notes)
        total += take.duration
    out = folder / "speech.wav"
    with wave.open(str(out), "wb") as joined:
        for number, take in enumerate(takes):
            with wave.open(str(take), "rb") as part:
                if number == 0:
                    joined.setparams(part.getparams())
                joined.writeframes(part.readframes(part.getnframes()))
    with wave.open(str(out), "rb") as check:
        length = check.getnframes() / check.getframerate()
    return out, " ".join(texts), length


def _words_of(segments) -> tuple[str, list[tuple[str, float, float]]]:
    """Consume faster-whisper's lazy segments; return the text and the timed words."""
    texts, words = [], []
    for segment in segments:
        texts.append(segment.text.strip())
        words.extend(
            (w.word.strip(), w.start, w.end) for w in segment.words or () if w.word.strip()
        )
    return " ".join(texts), words


def _timing_shift(reference: list[tuple[str, float, float]], words) -> str:
    """How far the same words' start times moved from the reference transcript's: the mean
    and the largest difference, in ms, over the words both heard."""
    from media_pipeline.asr import normalized_words

    if not words:
        return "no word timings"
    ref_keys = [" ".join(normalized_words(word[0])) for word in reference]
    keys = [" ".join(normalized_words(word[0])) for word in words]
    shifts = []
    for block in SequenceMatcher(None, ref_keys, keys, autojunk=False).get_matching_blocks():
        for offset in range(block.size):
            shifts.append(abs(reference[block.a + offset][1] - words[block.b + offset][1]))
    if not shifts:
        return "no words in common"
    return f"{1000 * statistics.mean(shifts):.0f} / {1000 * max(shifts):.0f} ms"


def transcription_benchmark(folder: Path, repeat: int) -> None:
    started = time.perf_counter()
    speech, script, seconds = speech_recording(folder)
    print(f"speech: {seconds:.2f} s of Piper ({VOICE}), {len(script.split())} words, "
          f"made in {time.perf_counter() - started:.1f} s")  # fmt: skip

    import_seconds, _ = _timed(lambda: __import__("faster_whisper"))
    from faster_whisper import WhisperModel

    from media_pipeline import asr
    from media_pipeline.transcription import TranscriptionOptions, transcribe_media

    options = TranscriptionOptions(device="cpu", compute_type="int8")
    folder_of_model = asr.default_whisper_model_dir()
    print(f"model: {asr.model_name()} ({folder_of_model}); import faster_whisper "
          f"{import_seconds:.2f} s")  # fmt: skip

    # The product: what a cpu worker runs.
    load, _ = _timed(lambda: asr.load_model(options.model_dir, device="cpu", compute_type="int8"))
    first, result = _timed(lambda: transcribe_media(speech, options=options))
    warm = [_timed(lambda: transcribe_media(speech, options=options))[0] for _ in range(repeat)]
    product_wer = asr.word_error_rate(script, result.text)
    product_words = sum(len(s.words) for s in result.segments)

    # The baseline: a hand-run script with faster-whisper's defaults.
    base_load, base_model = _timed(lambda: WhisperModel(str(folder_of_model)))

    def baseline_run():
        segments, _info = base_model.transcribe(str(speech))
        return _words_of(segments)

    base_first, (base_text, _) = _timed(baseline_run)
    base_warm = [_timed(baseline_run)[0] for _ in range(repeat)]
    base_wer = asr.word_error_rate(script, base_text)

    def rtf(values: list[float]) -> str:
        return f"{min(values) / seconds:.3f} / {statistics.median(values) / seconds:.3f}"

    print(f"\nTranscription of {seconds:.1f} s of speech on CPU (RTF = seconds / audio seconds)")
    _table(
        ["", "load s", "first call s", "warm best s", "RTF best / median", "cold RTF", "WER",
         "timed words"],
        [
            ["baseline: WhisperModel(dir).transcribe(path), beam 5, float32",
             f"{base_load:.2f}", f"{base_first:.2f}", f"{min(base_warm):.2f}", rtf(base_warm),
             f"{(base_load + base_first) / seconds:.3f}", f"{base_wer:.1%}", "none"],
            ["transcribe_media, cpu worker options (int8, beam 1, no VAD)",
             f"{load:.2f}", f"{first:.2f}", f"{min(warm):.2f}", rtf(warm),
             f"{(load + first) / seconds:.3f}", f"{product_wer:.1%}", str(product_words)],
        ],
    )  # fmt: skip
    best = min(warm) / seconds
    print(f"target RTF <= {RTF_TARGET}: {'met' if best <= RTF_TARGET else 'MISSED'} "
          f"(warm best {best:.3f}; {statistics.median(base_warm) / statistics.median(warm):.1f}x "
          f"faster than the baseline's median)")  # fmt: skip
    print(f"warm runs: product {', '.join(f'{t:.2f}' for t in warm)}; "
          f"baseline {', '.join(f'{t:.2f}' for t in base_warm)}")  # fmt: skip
    transcription_options(speech, script, seconds, repeat, folder_of_model)


def transcription_options(speech: Path, script: str, seconds: float, repeat: int,
                          folder: Path) -> None:  # fmt: skip
    """One setting changed at a time from the cpu worker's, on the same audio."""
    from faster_whisper import WhisperModel

    from media_pipeline import asr

    product = asr.load_model(None, device="cpu", compute_type="int8")
    worker = {"language": "en", "beam_size": 1, "vad_filter": False, "word_timestamps": True}
    # Model instances by the cpu_threads they were loaded with; chunk_length gets one of its
    # own: faster-whisper keeps a call's chunk_length in the model's feature extractor, so
    # every later call on that model would use it too.
    threads_of = {"worker": None, "2 threads": 2, "1 thread": 1, "own, for chunk_length": 0}
    variants: list[tuple[str, str, dict]] = [
        ("cpu worker settings, model.transcribe directly (reference)", "worker", {}),
        ("cpu_threads=2 (one per core; the default is 4)", "2 threads", {}),
        ("cpu_threads=1 (two jobs at once on 2 cores)", "1 thread", {}),
        ("vad_filter=True", "worker", {"vad_filter": True}),
        ("without_timestamps=True", "worker", {"without_timestamps": True}),
        ("condition_on_previous_text=False", "worker", {"condition_on_previous_text": False}),
        ("chunk_length=15", "own, for chunk_length", {"chunk_length": 15}),
        ("word_timestamps=False (what word timings cost)", "worker", {"word_timestamps": False}),
        ("cpu_threads=2 + condition_on_previous_text=False", "2 threads",
         {"condition_on_previous_text": False}),
        ("cpu_threads=2 + vad_filter=True", "2 threads", {"vad_filter": True}),
    ]  # fmt: skip
    models = {"worker": product}
    for key, threads in threads_of.items():
        if key not in models:
            models[key] = WhisperModel(str(folder), device="cpu", compute_type="int8",
                                       cpu_threads=threads)  # fmt: skip
            _words_of(models[key].transcribe(str(speech), **worker)[0])  # first call: warm-up
    runs = max(1, repeat - 1)
    times: dict[str, list[float]] = {label: [] for label, _, _ in variants}
    heard: dict[str, tuple[str, list] | str] = {}
    # Round robin, so that a change in the machine's load falls on every option alike.
    for _ in range(runs):
        for label, key, overrides in variants:
            if isinstance(heard.get(label), str):
                continue  # refused already
            options = {**worker, **overrides}
            try:
                seconds_taken, heard[label] = _timed(
                    lambda key=key, options=options: _words_of(
                        models[key].transcribe(str(speech), **options)[0]
                    )
                )
            except Exception as exc:  # an option this model or version refuses
                heard[label] = f"{type(exc).__name__}: {exc}"[:60]
                continue
            times[label].append(seconds_taken)
    rows = []
    reference_words = heard[variants[0][0]][1]
    for label, _, _ in variants:
        if isinstance(heard[label], str):
            rows.append([label, "error", "", "", "", heard[label]])
            continue
        text, words = heard[label]
        best = min(times[label])
        rows.append([
            label, f"{best:.2f}", f"{best / seconds:.3f}",
            f"{asr.word_error_rate(script, text):.1%}", str(len(words)),
            _timing_shift(reference_words, words),
        ])  # fmt: skip
    print(f"\nOne option changed at a time (best of {runs}; word shift: mean / largest change "
          "of a word's start from the first row's)")  # fmt: skip
    _table(["option", "best s", "RTF", "WER", "timed words", "word shift"], rows)

    # A cpu worker has 2 slots: two files at once share the worker's one model.
    pair = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=1,
                        num_workers=2)  # fmt: skip
    _both_at_once(pair, speech, worker)  # warm-up
    rows = []
    for label, model in (
        ("the worker's model as loaded (cpu_threads default 4, num_workers 1)", product),
        ("WhisperModel(..., cpu_threads=1, num_workers=2)", pair),
    ):
        wall = min(_both_at_once(model, speech, worker) for _ in range(runs))
        rows.append([label, f"{wall:.2f}", f"{wall / seconds:.3f}",
                     f"{2 * seconds / wall:.1f}"])  # fmt: skip
    single = min(times[variants[0][0]])
    print(f"\nTwo files at once on one shared model (best of {runs}; one after another with the "
          f"worker's settings would take {2 * single:.2f} s)")  # fmt: skip
    _table(["", "both done s", "RTF each", "audio s per s"], rows)


def _both_at_once(model, speech: Path, options: dict) -> float:
    """Seconds until two transcriptions of the file, started together, have both ended."""
    threads = [
        threading.Thread(target=lambda: _words_of(model.transcribe(str(speech), **options)[0]))
        for _ in range(2)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


# --------------------------------------------------------------------------- transcodes


def motion_clip(path: Path, seconds: float) -> Path:
    """Write a 1920x1080 25 fps H.264 + AAC clip with motion and grain, like a camera upload."""
    started = time.perf_counter()
    _ffmpeg(
        "-f", "lavfi", "-i",
        "mandelbrot=s=960x540:r=25,scale=1920:1080:flags=bicubic,noise=alls=3:allf=t,"
        "format=yuv420p",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", f"{seconds:.3f}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
        "-g", "50", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", path,
    )  # fmt: skip
    print(f"clip: {seconds:g} s, 1920x1080 25 fps Mandelbrot zoom with grain + 440 Hz tone, "
          f"{path.stat().st_size / 1e6:.1f} MB, made in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    return path


def _ssim(encoded: Path, source: Path) -> float | None:
    """SSIM (all planes) of every 5th frame of encoded against source."""
    from media_pipeline.tools import find_ffmpeg

    graph = ("[0:v]select='not(mod(n\\,5))',setpts=N/TB[a];"
             "[1:v]select='not(mod(n\\,5))',setpts=N/TB[b];[a][b]ssim")  # fmt: skip
    result = subprocess.run(
        [find_ffmpeg(), "-nostdin", "-hide_banner", "-i", str(encoded), "-i", str(source),
         "-lavfi", graph, "-f", "null", "-"],
        capture_output=True, text=True,
    )  # fmt: skip
    for line in reversed(result.stderr.splitlines()):
        if "SSIM" in line and "All:" in line:
            return float(line.split("All:")[1].split()[0])
    return None


def transcode_benchmark(clip: Path, folder: Path) -> None:
    from media_pipeline.encoders import choose_encoder
    from media_pipeline.probe import probe_media
    from media_pipeline.transcode import TranscodeSpec, transcode

    folder.mkdir(parents=True, exist_ok=True)
    info = probe_media(clip)
    length = info.duration
    rows = []

    def row(label, seconds, out: Path):
        size = out.stat().st_size
        ssim = _ssim(out, clip)
        rows.append([label, f"{seconds:.1f}", f"{seconds / length * 60:.0f}",
                     f"{seconds / length:.2f}", f"{length / seconds:.2f}x",
                     f"{size / 1e6:.1f}", f"{size * 8 / length / 1e6:.1f}",
                     f"{ssim:.4f}" if ssim is not None else "?"])  # fmt: skip
        print(f"  {label}: {seconds:.1f} s", flush=True)

    for encoder in ("libx264", "libx265"):
        out = folder / f"ffmpeg-defaults-{encoder}.mp4"
        seconds, _ = _timed(
            lambda out=out, encoder=encoder: _ffmpeg("-i", clip, "-c:v", encoder, out)
        )
        row(f"baseline: ffmpeg -i in -c:v {encoder} out.mp4 (defaults)", seconds, out)
    for codec in CODECS:
        choose_encoder(codec)  # a worker has found its encoders before its first job
        spec = TranscodeSpec(codec=codec, resolution="1080p", quality="balanced")
        seconds, result = _timed(
            lambda spec=spec, codec=codec: transcode(clip, folder, spec, info=info, stem=codec)
        )
        row(f"transcode {codec} ({result.encoder}, balanced)", seconds, result.path)
    print(f"\nTranscode of a {length:.1f} s 1920x1080 25 fps clip to 1080p "
          f"(work s per minute = seconds / video length x 60)")  # fmt: skip
    _table(["", "seconds", "s per min", "RTF", "speed", "MB", "Mbit/s", "SSIM"], rows)


# --------------------------------------------------------------------------- previews


def preview_benchmark(clip: Path, folder: Path) -> None:
    from media_pipeline.preview import animated_preview, poster_frame, storyboard
    from media_pipeline.probe import probe_media

    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "sixty.mp4"
    _ffmpeg("-stream_loop", "-1", "-i", clip, "-t", f"{PREVIEW_SECONDS:.0f}", "-c", "copy", source)
    info = probe_media(source)
    video = info.video
    duration = info.duration

    product = folder / "product"
    product.mkdir()
    poster_s, poster = _timed(lambda: poster_frame(source, product / "poster.jpg",
                                                   duration=duration))  # fmt: skip
    animated_s, animated = _timed(lambda: animated_preview(
        source, product / "preview.webp", duration=duration, format="webp"))  # fmt: skip
    board_s, board = _timed(lambda: storyboard(
        source, product / "storyboard", duration=duration, width=video.width,
        height=video.height))  # fmt: skip

    # For scale: the poster when its time is given (no search), and one full decode.
    given_s, _ = _timed(lambda: poster_frame(source, product / "poster-at.jpg",
                                             duration=duration, at=poster.time))  # fmt: skip
    search_window = min(duration, 30.0)
    search_decode_s, _ = _timed(lambda: _ffmpeg("-t", f"{search_window:.0f}", "-i", source,
                                                "-an", "-f", "null", "-"))  # fmt: skip
    decode_s, _ = _timed(lambda: _ffmpeg("-i", source, "-an", "-f", "null", "-"))

    naive = folder / "naive"
    naive.mkdir()
    n_frames_s, _ = _timed(lambda: _ffmpeg("-i", source, "-vf", "fps=1", naive / "f%03d.png"))
    n_poster_s, _ = _timed(lambda: _naive_poster(naive))
    n_board_s, count = _timed(lambda: _naive_storyboard(naive))
    n_anim_s, _ = _timed(lambda: _naive_animation(source, naive, duration))

    product_total = poster_s + animated_s + board_s
    naive_total = n_frames_s + n_poster_s + n_board_s + n_anim_s
    print(f"\nPreview of a {duration:.1f} s 1920x1080 clip "
          f"(storyboard: {board.count} tiles every {board.interval:g} s)")  # fmt: skip
    _table(
        ["", "poster s", "animated s", "storyboard s", "total s"],
        [
            ["baseline: PNG per second + Pillow (frames "
             f"{n_frames_s:.1f} s, {count} tiles)", f"{n_poster_s:.2f}", f"{n_anim_s:.2f}",
             f"{n_board_s:.2f}", f"{naive_total:.2f}"],
            ["media_pipeline.preview (poster, webp, storyboard)", f"{poster_s:.2f}",
             f"{animated_s:.2f}", f"{board_s:.2f}", f"{product_total:.2f}"],
        ],
    )  # fmt: skip
    print(f"speed-up over the naive script: {naive_total / product_total:.1f}x; per minute of "
          f"video {product_total / duration * 60:.1f} s; poster at {poster.time:.1f} s "
          f"{poster.width}x{poster.height}, preview {animated.width}x{animated.height} "
          f"{animated.path.stat().st_size / 1e3:.0f} kB")  # fmt: skip
    print(f"for scale: poster_frame(at={poster.time:g}) without the search {given_s:.2f} s; "
          f"decoding the first {search_window:.0f} s (ffmpeg -f null) {search_decode_s:.2f} s; "
          f"decoding all {duration:.0f} s {decode_s:.2f} s")  # fmt: skip


def _naive_poster(folder: Path) -> None:
    from PIL import Image

    for frame in sorted(folder.glob("f*.png")):
        with Image.open(frame) as picture:
            low, high = picture.convert("L").getextrema()
            if high - low > 96:
                picture.thumbnail((1280, 720))
                picture.convert("RGB").save(folder / "poster.jpg", quality=85)
                return


def _naive_storyboard(folder: Path) -> int:
    from PIL import Image

    frames = sorted(folder.glob("f*.png"))
    columns, tile = 10, (160, 90)
    sheet = Image.new("RGB", (columns * tile[0], -(-len(frames) // columns) * tile[1]))
    for index, frame in enumerate(frames):
        with Image.open(frame) as picture:
            sheet.paste(picture.convert("RGB").resize(tile),
                        ((index % columns) * tile[0], (index // columns) * tile[1]))  # fmt: skip
    sheet.save(folder / "storyboard.jpg", quality=80)
    return len(frames)


def _naive_animation(source: Path, folder: Path, duration: float) -> None:
    from PIL import Image

    frames_dir = folder / "animation"
    frames_dir.mkdir()
    _ffmpeg("-ss", f"{duration / 2 - 2:.3f}", "-t", "4", "-i", source, "-vf", "fps=12",
            frames_dir / "a%03d.png")  # fmt: skip
    pictures = []
    for frame in sorted(frames_dir.glob("a*.png")):
        with Image.open(frame) as picture:
            pictures.append(picture.convert("RGB").resize((480, 270)))
    pictures[0].save(folder / "preview.webp", save_all=True, append_images=pictures[1:],
                     duration=83, loop=0, quality=60)  # fmt: skip


# --------------------------------------------------------------------------- batches


class SupervisedWorker:
    """`manage.py procrastinate worker`, started again whenever it exits, as systemd's
    Restart=always or Docker's restart policy would (workers recycle themselves)."""

    def __init__(self, log: Path, queues: str = "cpu,gpu", concurrency: int = 2) -> None:
        self.command = [sys.executable, "manage.py", "procrastinate", "worker",
                        f"--queues={queues}", "--concurrency", str(concurrency)]  # fmt: skip
        self.log = log.open("ab")
        self.restarts = 0
        self.process: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)

    def _start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=REPO, stdout=self.log,
                                        stderr=subprocess.STDOUT)  # fmt: skip

    def __enter__(self) -> SupervisedWorker:
        self._start()
        self._thread.start()
        return self

    def _supervise(self) -> None:
        while not self._stop.is_set():
            if self.process.poll() is not None and not self._stop.is_set():
                self.restarts += 1
                self._start()
            time.sleep(0.1)

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.process.terminate()
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _fresh_database() -> Path:
    """Point this process and its workers at a new embedded PostgreSQL and file store."""
    if os.environ.get("DATABASE_URL"):
        raise SystemExit("the batch part makes its own embedded database; unset DATABASE_URL")
    data = Path(tempfile.mkdtemp(prefix="slidecast-media-db-"))
    # atexit runs last-in first-out: the embedded server (registered later) stops first.
    atexit.register(shutil.rmtree, data, ignore_errors=True)
    os.environ["SLIDECAST_DATA_DIR"] = str(data)
    os.environ["SLIDECAST_LOG_LEVEL"] = "WARNING"
    return data


def batch_benchmark(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = _fresh_database()
    from benchmarks.django_setup import django_ready

    started = time.perf_counter()
    django_ready()
    print(f"fresh embedded database and files in {data} (migrated in "
          f"{time.perf_counter() - started:.1f} s)")  # fmt: skip

    from django.contrib.auth import get_user_model

    from jobs.narration.models import Job
    from jobs.personas.models import Persona
    from tests.decks import make_deck

    if not any(field.name == "batch" for field in Job._meta.get_fields()):
        raise SystemExit("jobs.narration.models.Job has no batch field yet: batches unfinished")
    from benchmarks.reference_deck import REFERENCE_NOTES

    deck = make_deck(folder / "four.pptx", REFERENCE_NOTES[:4])
    owner, _ = get_user_model().objects.get_or_create(username="benchmark")
    persona = Persona.objects.filter(status="active").order_by("id").first()
    if persona is None:
        raise SystemExit("the fresh database has no active persona")

    from django.conf import settings

    from jobs.media.models import MediaJob

    if Path(settings.DATA_DIR) != data:
        raise SystemExit(f"settings use {settings.DATA_DIR}, not the fresh {data}")

    def previews() -> int:
        return MediaJob.objects.filter(operation=MediaJob.Operation.PREVIEW).count()

    with SupervisedWorker(folder / "worker.log") as worker:
        _wait_for_worker(worker)
        # One narration first, untimed: the worker starts LibreOffice and loads the voice.
        warm_s, _ = _timed(lambda: _separate_requests(owner, deck, persona, count=1))
        _wait_idle()
        print(f"worker warmed by one narration + transcode ({warm_s:.1f} s)", flush=True)
        counted, restarted = previews(), worker.restarts
        batch_s, (batch, children, zip_notes) = _timed(lambda: _one_batch(owner, deck, persona))
        print(f"  (a) batch: {batch_s:.1f} s", flush=True)
        _wait_idle()
        batch_previews, batch_restarts = previews() - counted, worker.restarts - restarted
        counted, restarted = previews(), worker.restarts
        separate_s, jobs = _timed(lambda: _separate_requests(owner, deck, persona))
        print(f"  (b) separate: {separate_s:.1f} s", flush=True)
        _wait_idle()
        separate_previews, separate_restarts = previews() - counted, worker.restarts - restarted
    video = Job.objects.filter(batch=batch).first().duration_seconds
    print(f"\nBatch of 10 H.264 variants of one 4-slide deck ({video:.1f} s of video, 1280x720 "
          "narration), one worker --queues=cpu,gpu --concurrency 2")  # fmt: skip
    _table(
        ["", "seconds", "narrations", "transcodes", "auto previews", "worker restarts"],
        [
            ["(b) baseline: 10 separate requests (narration, then its transcode)",
             f"{separate_s:.1f}", str(jobs), str(jobs), str(separate_previews),
             str(separate_restarts)],
            ["(a) batch_create, until the ZIP is stored", f"{batch_s:.1f}", "1",
             str(children), str(batch_previews), str(batch_restarts)],
        ],
    )  # fmt: skip
    print(f"batch / separate: {batch_s / separate_s:.2f} ({separate_s / batch_s:.1f}x faster)")
    print(f"batch timeline: {_batch_timeline(batch)}")
    print(f"ZIP: {zip_notes}")
    log = (folder / "worker.log").read_text(errors="replace").splitlines()
    for line in [line for line in log if "stops to be replaced" in line][:5]:
        print(f"worker log: {line.strip()[:160]}")


def _batch_timeline(batch) -> str:
    from django.db.models import Max

    from jobs.media.models import MediaJob
    from jobs.narration.models import Job

    def since(moment) -> str:
        return f"{(moment - batch.created_at).total_seconds():.1f} s"

    narration = Job.objects.filter(batch=batch).first()
    media = MediaJob.objects.filter(batch=batch)
    first_started = media.order_by("started_at").values_list("started_at", flat=True).first()
    last = media.aggregate(last=Max("finished_at"))["last"]
    return (f"narration done at {since(narration.finished_at)}, first transcode started at "
            f"{since(first_started)}, last ended at {since(last)}, ZIP stored at "
            f"{since(batch.finished_at)} (from the batch's creation)")  # fmt: skip


def _wait_for_worker(worker: SupervisedWorker) -> None:
    from jobs.worker.inprocess import live_worker_count

    deadline = time.monotonic() + 90
    while live_worker_count() == 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start; see {worker.log.name}")
        time.sleep(0.2)


def _wait_idle(timeout: float = 300) -> None:
    """Wait until no task waits or runs (the previews of finished narrations included)."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    deadline = time.monotonic() + timeout
    busy = ProcrastinateJob.objects.filter(status__in=["todo", "doing"]).exclude(
        task_name__contains="periodic"
    )
    while busy.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def _one_batch(owner, deck: Path, persona):
    import zipfile

    from django.core.files import File
    from django.core.files.storage import default_storage

    from jobs.media.batches import batch_create
    from jobs.media.models import MediaBatch, MediaJob

    with deck.open("rb") as handle:
        batch = batch_create(
            owner=owner, decks=[File(handle, name=deck.name)], personas=[persona],
            presets=PRESETS, resolution="1280x720",
        )  # fmt: skip
    deadline = time.monotonic() + 900
    while not MediaBatch.objects.filter(id=batch.id).exclude(archive="").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"batch {batch.id} made no ZIP in 15 minutes")
        time.sleep(0.1)
    batch.refresh_from_db()
    if batch.status != MediaBatch.Status.COMPLETED:
        raise SystemExit(f"batch ended {batch.status}")
    with default_storage.open(batch.archive.name, "rb") as handle, zipfile.ZipFile(handle) as z:
        names = z.namelist()
    media = [name for name in names if name.endswith((".mp4", ".webm"))]
    repeated = sorted({name for name in names if names.count(name) > 1})
    notes = (f"{batch.archive_size_bytes / 1e6:.1f} MB, {len(names)} entries, "
             f"{len(media)} videos, {len(set(media))} distinct video names")  # fmt: skip
    if repeated:
        notes += f"; names used more than once: {', '.join(repeated)}"
    return batch, MediaJob.objects.filter(batch=batch).count(), notes


def _separate_requests(owner, deck: Path, persona, count: int = len(PRESETS)) -> int:
    """Submit `count` narrations at once; transcode each as it completes; wait for all."""
    from django.core.files import File

    from jobs.media.models import MediaJob
    from jobs.media.services import media_job_create
    from jobs.narration import services
    from jobs.narration.models import Job

    narrations = []
    for _ in range(count):
        with deck.open("rb") as handle:
            narrations.append(services.job_create(
                owner=owner, deck=File(handle, name=deck.name), title=deck.name,
                persona=persona, resolution="1280x720",
            ))  # fmt: skip
    transcodes: dict[str, MediaJob] = {}
    deadline = time.monotonic() + 1200
    while (
        len(transcodes) < count
        or MediaJob.objects.filter(id__in=[job.id for job in transcodes.values()])
        .exclude(status__in=MediaJob.FINISHED)
        .exists()
    ):
        if time.monotonic() > deadline:
            raise SystemExit("the separate requests did not end in 20 minutes")
        for number, job in enumerate(narrations):
            if str(job.id) in transcodes:
                continue
            job.refresh_from_db()
            if job.status == Job.Status.COMPLETED:
                transcodes[str(job.id)] = media_job_create(
                    owner=owner, operation="transcode", source_job=job,
                    parameters=PRESETS[number % len(PRESETS)],
                )  # fmt: skip
            elif job.status in Job.FINISHED:
                raise SystemExit(f"narration {job.id} ended {job.status}: {job.error}")
        time.sleep(0.1)
    failed = MediaJob.objects.filter(id__in=[j.id for j in transcodes.values()]).exclude(
        status=MediaJob.Status.COMPLETED
    )
    if failed.exists():
        first = failed.first()
        raise SystemExit(f"transcode {first.id} ended {first.status}: {first.error}")
    return count


if __name__ == "__main__":
    main()
