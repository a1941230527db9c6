"""The narration encoded slide by slide plays exactly like the slides' audio one after another."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from media_pipeline.aac_segments import BLOCK_SAMPLES
from media_pipeline.audio import read_wav, write_wav
from media_pipeline.narration_track import NarrationTrack
from media_pipeline.tools import find_ffmpeg
from media_pipeline.video import SlideClip, assemble_video
from media_pipeline.video_options import VideoOptions

RATE = 22050
OPTIONS = VideoOptions(width=320, height=180)


class DictStore:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.hits = 0

    def get_many(self, keys):
        found = {key: self.data[key] for key in keys if key in self.data}
        self.hits += len(found)
        return found

    def put(self, key, data):
        self.data[key] = data


def _speech(seconds: float, pitch: float, silent_tail: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    voiced = 9000 * np.sin(2 * np.pi * pitch * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2.5 * t))
    return np.concatenate([voiced, np.zeros(int(silent_tail * RATE))]).astype(np.int16)


def _clips(folder: Path, slides) -> list[SlideClip]:
    clips = []
    for index, samples in enumerate(slides):
        image = folder / f"slide-{index}.png"
        Image.new("RGB", (320, 180), (40 * index, 90, 160)).save(image)
        wav = folder / f"slide-{index}.wav"
        write_wav(wav, samples, RATE)
        clips.append(SlideClip(image, wav))
    return clips


def _decoded(video: Path) -> np.ndarray:
    raw = subprocess.run(
        [find_ffmpeg(), "-v", "error", "-i", str(video), "-f", "s16le", "-ac", "1", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.int16).astype(float)


def _padded(samples: np.ndarray) -> np.ndarray:
    return np.concatenate([samples, np.zeros(-samples.size % BLOCK_SAMPLES, dtype=np.int16)])


def test_slide_by_slide_track_decodes_to_the_slides_in_order(tmp_path):
    slides = [_speech(1.3, 220, 0.5), _speech(0.9, 330, 0.5), _speech(1.1, 260, 0.2)]
    video = assemble_video(_clips(tmp_path, slides), tmp_path / "v.mp4", tmp_path / "w", OPTIONS)
    expected = np.concatenate([_padded(s) for s in slides]).astype(float)
    decoded = _decoded(video.path)
    # Sample for sample: no priming, no gap or overlap where slides meet.
    assert decoded.size == expected.size
    error = np.sqrt(np.mean((decoded - expected) ** 2))
    assert error < 0.03 * np.sqrt(np.mean(expected**2))
    # Each slide shows as long as its (padded) narration plays, to the nearest frame.
    starts = np.cumsum([0] + [_padded(s).size / RATE for s in slides[:-1]])
    assert np.allclose(video.slide_starts, starts, atol=0.5 / 25)


def test_unchanged_slides_narration_is_reused(tmp_path):
    store = DictStore()
    first = [_speech(1.0, 220, 0.5), _speech(1.0, 330, 0.5), _speech(1.0, 260, 0.5)]
    (tmp_path / "a").mkdir()
    assemble_video(
        _clips(tmp_path / "a", first), tmp_path / "a.mp4", tmp_path / "wa", OPTIONS,
        audio_store=store,
    )  # fmt: skip
    assert (len(store.data), store.hits) == (3, 0)
    edited = [first[0], _speech(1.4, 300, 0.5), first[2]]
    (tmp_path / "b").mkdir()
    video = assemble_video(
        _clips(tmp_path / "b", edited), tmp_path / "b.mp4", tmp_path / "wb", OPTIONS,
        audio_store=store,
    )  # fmt: skip
    assert (len(store.data), store.hits) == (4, 2)
    expected = np.concatenate([_padded(s) for s in edited]).astype(float)
    decoded = _decoded(video.path)
    assert decoded.size == expected.size
    assert np.sqrt(np.mean((decoded - expected) ** 2)) < 0.03 * np.sqrt(np.mean(expected**2))


def test_a_slide_without_a_pause_at_its_end_makes_the_track_in_one_piece(tmp_path):
    slides = [_speech(1.0, 220, 0.0), _speech(1.0, 330, 0.5)]
    clips = _clips(tmp_path, slides)
    track = NarrationTrack.prepare(find_ffmpeg(), [c.audio for c in clips], tmp_path, OPTIONS)
    assert not track.by_slide
    assert [float(d) for d in track.durations] == [s.size / RATE for s in slides]
    video = assemble_video(clips, tmp_path / "v.mp4", tmp_path / "w", OPTIONS)
    assert abs(_decoded(video.path).size - sum(s.size for s in slides)) < BLOCK_SAMPLES


def test_padding_is_silence_and_whole_blocks(tmp_path):
    write_wav(tmp_path / "a.wav", _speech(0.5, 200, 0.1), RATE)
    track = NarrationTrack.prepare(find_ffmpeg(), [tmp_path / "a.wav"], tmp_path, OPTIONS)
    samples, rate = read_wav(track.padded_wav(0))
    assert rate == RATE and samples.size % BLOCK_SAMPLES == 0
    assert not samples[_speech(0.5, 200, 0.1).size :].any()
