"""The video's narration track: slide by slide where possible (reusable), else in one piece.

`NarrationTrack.prepare` decides: slide by slide (media_pipeline.aac_segments) when every
slide but the last ends in a block of silence and no resampling is asked for; otherwise
the slides' WAVs are joined and encoded at once. Either way it says how long each slide
lasts, which is what the video's slide changes follow.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from media_pipeline.aac_segments import (
    BLOCK_SAMPLES,
    block_layout,
    encode_segment,
    join_segments,
    priming_seconds,
    write_padded,
)
from media_pipeline.audio import concatenate_wavs, exact_wav_duration
from media_pipeline.content_keys import digest, file_digest, program_stamp
from media_pipeline.errors import VideoAssemblyError
from media_pipeline.tools import StopCheck, run_program
from media_pipeline.video_options import VideoOptions

SEGMENT_FORMAT = 2


class ContentStore(Protocol):
    """Where encoded pieces are kept between videos, by content key."""

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]: ...

    def put(self, key: str, data: bytes) -> None: ...


@dataclass
class NarrationTrack:
    ffmpeg: str
    work_dir: Path
    options: VideoOptions
    # The slides' own WAVs, and how long each slide lasts in the video.
    wavs: list[Path]
    durations: list[Fraction]
    # Slide by slide: each slide's count of whole blocks; empty when in one piece.
    blocks: list[int] = field(default_factory=list)
    sample_rate: int = 0
    _keys: list[str] = field(default_factory=list)
    _segments: dict[int, bytes] = field(default_factory=dict)
    _futures: dict[int, Future] = field(default_factory=dict)
    _whole: Future | None = None

    @classmethod
    def prepare(
        cls, ffmpeg: str, wavs: Sequence[Path], work_dir: Path, options: VideoOptions
    ) -> NarrationTrack:
        folder = work_dir / "narration"
        folder.mkdir(parents=True, exist_ok=True)
        rates = {_rate(wav) for wav in wavs}
        if len(rates) != 1:
            raise VideoAssemblyError("The slides' narrations have different sample rates.")
        rate = rates.pop()
        if options.audio_sample_rate in (None, rate):
            blocks, joinable = [], True
            for index, wav in enumerate(wavs):
                samples, silent_end = block_layout(wav)
                blocks.append(samples // BLOCK_SAMPLES)
                joinable &= silent_end or index == len(wavs) - 1
            if joinable:
                durations = [Fraction(count * BLOCK_SAMPLES, rate) for count in blocks]
                return cls(ffmpeg, folder, options, list(wavs), durations, blocks, rate)
        return cls(ffmpeg, folder, options, list(wavs), [exact_wav_duration(wav) for wav in wavs])

    @property
    def by_slide(self) -> bool:
        return bool(self.blocks)

    def padded_wav(self, index: int) -> Path:
        """Write slide `index`'s WAV padded with silence to its whole blocks; return it."""
        out = self.work_dir / f"{index:04d}.wav"
        return write_padded(self.wavs[index], out, self.blocks[index] * BLOCK_SAMPLES)

    def start(self, pool: ThreadPoolExecutor, store: ContentStore | None, check: StopCheck) -> None:
        """Start encoding on the pool what `store` does not already hold."""
        if not self.by_slide:
            joined = self.work_dir / "narration.wav"
            concatenate_wavs(self.wavs, joined)
            self._whole = pool.submit(self._encode_whole, joined, check)
            return
        settings = digest(self.options.audio_bitrate, self.sample_rate, program_stamp(self.ffmpeg))
        # The padding follows from the WAV, so the WAV and its block count name the segment:
        # only the slides encoded here are padded.
        self._keys = [
            digest("aac", SEGMENT_FORMAT, file_digest(wav), blocks, settings)
            for wav, blocks in zip(self.wavs, self.blocks, strict=True)
        ]
        found = store.get_many(self._keys) if store else {}
        for index, key in enumerate(self._keys):
            if key in found:
                self._segments[index] = found[key]
            else:
                self._futures[index] = pool.submit(
                    encode_segment, self.ffmpeg, self.padded_wav(index),
                    self.work_dir / f"{index:04d}.aac", bitrate=self.options.audio_bitrate,
                    timeout=self.options.timeout_seconds, check=check,
                )  # fmt: skip

    def finish(self, store: ContentStore | None) -> list[str | Path]:
        """Wait for the encoding; return the ffmpeg input arguments of the finished track."""
        if self._whole is not None:
            return ["-i", self._whole.result()]
        for index, future in self._futures.items():
            self._segments[index] = future.result()
            if store:
                store.put(self._keys[index], self._segments[index])
        track = self.work_dir / "narration.aac"
        join_segments([self._segments[i] for i in range(len(self.blocks))], self.blocks, track)
        # The track starts with the encoder's priming: the MP4's edit list skips it.
        offset = float(priming_seconds(self.sample_rate))
        return ["-itsoffset", f"{-offset:.9f}", "-i", track]

    def _encode_whole(self, wav: Path, check: StopCheck) -> Path:
        out = self.work_dir / "narration.m4a"
        resample = (
            ["-ar", str(self.options.audio_sample_rate)] if self.options.audio_sample_rate else []
        )
        run_program(
            [
                self.ffmpeg, "-nostdin", "-v", "error", "-y", "-i", wav,
                "-c:a", "aac", "-aac_coder", "fast", "-b:a", self.options.audio_bitrate,
                *resample, out,
            ],
            timeout=self.options.timeout_seconds,
            error=VideoAssemblyError,
            what="ffmpeg (encoding the narration)",
            check=check,
        )  # fmt: skip
        return out


def _rate(wav: Path) -> int:
    with wave.open(str(wav), "rb") as reader:
        return reader.getframerate()
