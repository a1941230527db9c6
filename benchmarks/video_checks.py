"""Looking at a slideshow MP4 as players do: ffprobe, ffmpeg's seeking, and Chromium.

Every check compares with what the slides and frame counts say the video must be, so two
writers of the same slides can be compared on more than time and size.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import re
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from media_pipeline.still_video import keyframe_numbers
from media_pipeline.tools import find_ffmpeg

THUMB = (128, 72)
# Decoded frames differ from the source by compression and colour conversion, by far less
# than two slides differ; a larger mean absolute difference means the wrong picture.
SAME_PICTURE_MAD = 6.0
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip
MP4_TYPE = 'video/mp4; codecs="avc1.64002A, mp4a.40.2"'


@dataclass(frozen=True)
class Expected:
    """What a correct video of these slides is: its frames, keyframes and pictures."""

    images: list[Path]
    frame_counts: list[int]
    fps: Fraction
    gop_frames: int
    audio_seconds: float
    size: tuple[int, int]

    @property
    def starts(self) -> list[int]:
        """Return each slide's first frame number."""
        starts, total = [], 0
        for frames in self.frame_counts:
            starts.append(total)
            total += frames
        return starts

    @property
    def keyframe_times(self) -> list[Fraction]:
        return [
            (start + frame) / self.fps
            for start, frames in zip(self.starts, self.frame_counts, strict=True)
            for frame in keyframe_numbers(frames, self.gop_frames)
        ]

    def sampled_slides(self, most: int = 12) -> list[int]:
        """Return up to `most` slide indexes spread over the deck, first and last included."""
        count = len(self.frame_counts)
        return sorted({round(i * (count - 1) / max(1, most - 1)) for i in range(most)})

    @functools.cached_property
    def thumbnails(self) -> np.ndarray:
        """Return every slide image as the grey thumbnail frames are compared with."""
        return np.stack([_grey(Image.open(image).convert("RGB")) for image in self.images])


def _grey(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.resize(THUMB, Image.Resampling.BOX).convert("L"), dtype=float)


def _ffprobe(*args: str | Path) -> dict:
    ffprobe = str(Path(find_ffmpeg()).with_name("ffprobe"))
    out = subprocess.run(
        [ffprobe, "-v", "error", *map(str, args), "-of", "json"], capture_output=True, check=True
    ).stdout
    return json.loads(out)


def probe(video: Path, expected: Expected) -> dict[str, object]:
    """Return ffprobe's findings next to what they should be."""
    info = _ffprobe("-show_streams", "-show_format", video)
    streams = {stream["codec_type"]: stream for stream in info["streams"]}
    v, a = streams["video"], streams.get("audio", {})
    frames = _ffprobe("-select_streams", "v", "-show_entries", "frame=key_frame,pts_time", video)[
        "frames"
    ]
    keys = [round(float(f["pts_time"]) * expected.fps) for f in frames if f["key_frame"]]
    wanted_keys = [round(t * expected.fps) for t in expected.keyframe_times]
    strict = subprocess.run(
        [find_ffmpeg(), "-v", "error", "-err_detect", "explode", "-xerror", "-i", str(video),
         "-f", "null", "-"],
        capture_output=True,
    )  # fmt: skip
    total = sum(expected.frame_counts)
    return {
        "codec": f"{v['codec_name']}/{v.get('profile', '?')}+{a.get('codec_name', 'none')}",
        "frames": f"{len(frames)}/{total}",
        "frames_ok": len(frames) == total,
        "video_s": float(v.get("duration", "nan")),
        "audio_s": float(a.get("duration", "nan")),
        "expected_s": float(total / expected.fps),
        "avg_frame_rate": v["avg_frame_rate"],
        "keyframes": f"{len(keys)}/{len(wanted_keys)}",
        "keyframes_ok": keys == wanted_keys,
        "strict_decode_ok": strict.returncode == 0,
    }


def _seek_targets(expected: Expected) -> list[tuple[Fraction, int]]:
    """Return (time, slide) pairs: each sampled slide's first, middle and last frame."""
    targets = []
    for slide in expected.sampled_slides():
        start, frames = expected.starts[slide], expected.frame_counts[slide]
        for frame in (start, start + frames // 2, start + frames - 1):
            targets.append((frame / expected.fps, slide))
    return targets


def _matches(grey: np.ndarray, slide: int, expected: Expected) -> tuple[bool, float]:
    """Return whether a frame is that slide (nearest of all, and close) and how far it is."""
    distances = np.abs(expected.thumbnails - grey).mean(axis=(1, 2))
    return int(distances.argmin()) == slide and distances[slide] < SAME_PICTURE_MAD, float(
        distances[slide]
    )


def seek_accuracy(video: Path, expected: Expected) -> dict[str, object]:
    """Return how many `ffmpeg -ss T` seeks show the right slide, and the mean difference."""
    right, differences = 0, []
    targets = _seek_targets(expected)
    for time, slide in targets:
        raw = subprocess.run(
            [find_ffmpeg(), "-v", "error", "-ss", f"{float(time):.6f}", "-i", str(video),
             "-frames:v", "1", "-vf", f"scale={THUMB[0]}:{THUMB[1]}:flags=area",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        picture = Image.frombytes("RGB", THUMB, raw[: THUMB[0] * THUMB[1] * 3])
        ok, difference = _matches(np.asarray(picture.convert("L"), dtype=float), slide, expected)
        right += ok
        differences.append(difference)
    return {"seek": f"{right}/{len(targets)}", "seek_mad": float(np.mean(differences))}


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with byte ranges: without them Chromium cannot seek (currentTime stays 0)."""

    def send_head(self):
        found = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if not found or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first = int(found[1])
        last = min(int(found[2] or size - 1), size - 1)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with path.open("rb") as source:
            source.seek(first)
            return io.BytesIO(source.read(last - first + 1))

    def log_message(self, *args) -> None:
        pass


_PLAY_SCRIPT = """
async ({src, type, targets, thumb}) => {
  const v = document.createElement('video');
  v.muted = true; v.preload = 'auto'; document.body.appendChild(v);
  const r = {canPlayType: v.canPlayType(type)};
  const once = (name, ms) => new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), ms);
    v.addEventListener(name, () => { clearTimeout(timer); resolve(true); }, {once: true});
  });
  const failed = once('error', 20000).then(() => 'error');
  v.src = src;
  r.loaded = (await Promise.race([once('loadeddata', 20000), failed])) === true;
  r.error = v.error ? `${v.error.code} ${v.error.message}` : null;
  if (!r.loaded) return r;
  Object.assign(r, {duration: v.duration, width: v.videoWidth, height: v.videoHeight,
                    readyState: v.readyState});
  await v.play().catch(e => { r.playError = String(e); });
  const before = v.currentTime;
  await new Promise(resolve => setTimeout(resolve, 1500));
  r.advanced = v.currentTime - before;
  v.pause();
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = thumb;
  const context = canvas.getContext('2d');
  r.seeks = [];
  for (const t of targets) {
    const seeked = once('seeked', 10000);
    v.currentTime = t;
    const ok = await seeked;
    context.drawImage(v, 0, 0, thumb[0], thumb[1]);
    const rgba = context.getImageData(0, 0, thumb[0], thumb[1]).data;
    r.seeks.push({ok, at: v.currentTime, rgba: Array.from(rgba)});
  }
  v.remove();
  return r;
}
"""


def chromium_playback(videos: dict[str, Path], expected: Expected) -> dict[str, dict]:
    """Return, per label, what Chromium makes of each video: plays, duration, seeks."""
    from playwright.sync_api import sync_playwright

    folder = {path.parent for path in videos.values()}
    if len(folder) != 1:
        raise ValueError("the videos must share a folder, which is served over HTTP")
    handler = functools.partial(_RangeHandler, directory=str(folder.pop()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    # Mid-slide times: the check is that seeking works and shows the slide, not which of
    # two frames a browser shows at an exact boundary (ffmpeg's check covers that).
    targets = [
        ((expected.starts[s] + expected.frame_counts[s] / 2) / expected.fps, s)
        for s in expected.sampled_slides()
    ]
    results = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            page.goto(f"{base}/")
            for label, path in videos.items():
                found = page.evaluate(
                    _PLAY_SCRIPT,
                    {"src": f"{base}/{path.name}", "type": MP4_TYPE, "thumb": list(THUMB),
                     "targets": [float(t) for t, _ in targets]},
                )  # fmt: skip
                results[label] = _summarise_playback(found, targets, expected)
            browser.close()
    finally:
        server.shutdown()
    return results


def _summarise_playback(
    found: dict, targets: Sequence[tuple[Fraction, int]], expected: Expected
) -> dict[str, object]:
    summary: dict[str, object] = {"canPlayType": found["canPlayType"] or "''"}
    if not found["loaded"]:
        return {**summary, "plays": False, "error": found["error"]}
    right = 0
    for seek, (_, slide) in zip(found["seeks"], targets, strict=True):
        rgba = np.array(seek["rgba"], dtype=np.uint8).reshape(THUMB[1], THUMB[0], 4)
        grey = np.asarray(Image.fromarray(rgba[..., :3]).convert("L"), dtype=float)
        right += seek["ok"] and _matches(grey, slide, expected)[0]
    total = float(sum(expected.frame_counts) / expected.fps)
    return {
        **summary,
        "plays": found["advanced"] > 0.5 and "playError" not in found,
        "duration_ok": abs(found["duration"] - max(total, expected.audio_seconds))
        <= 1 / expected.fps,
        "size_ok": (found["width"], found["height"]) == expected.size,
        "seeks": f"{right}/{len(targets)}",
    }
