"""Sentences spoken before, found inside the owner's cached narrations by content key.

A presenter who edits one sentence of a slide's notes changes that slide's audio key, so
the slide is narrated again; but its other sentences were said before in the same voice.
Each cached narration records where its pieces lie (CachedPiece), and the narration of the
edited slide takes them from there: only the new sentence is spoken.
"""

from __future__ import annotations

import io
import logging
import wave

import numpy as np
from django.core.files.storage import default_storage
from django.utils import timezone

from jobs.narration.models import CachedArtifact, CachedPiece
from media_pipeline.content_keys import piece_key
from media_pipeline.tts import SpokenPiece

logger = logging.getLogger("slidecast.cache")


class CachedPieceSource:
    """media_pipeline.tts.PieceSource over one owner's cached narrations."""

    def __init__(
        self, *, owner_id: int, engine: str, voice_identity: str, model_version: str,
        speaking_rate: float, language: str, sample_rate: int,
    ) -> None:  # fmt: skip
        self.owner_id = owner_id
        self.sample_rate = sample_rate
        self._key_parts = {
            "engine": engine, "voice_identity": voice_identity, "model_version": model_version,
            "speaking_rate": speaking_rate, "language": language,
        }  # fmt: skip
        self._wav: tuple[int, bytes] | None = None

    def key(self, said: str) -> str:
        return piece_key(said, **self._key_parts)

    def samples(self, key: str) -> np.ndarray | None:
        piece = (
            CachedPiece.objects.filter(owner_id=self.owner_id, key=key)
            .select_related("artifact")
            .order_by("-artifact__last_used_at")
            .first()
        )
        if piece is None:
            return None
        try:
            samples = self._read(piece)
        except (OSError, wave.Error, EOFError) as exc:
            # The file went, or is not what was recorded: speak the piece instead.
            logger.warning("cached piece %s unreadable (%s); spoken again", key[:12], exc)
            return None
        if samples is None:
            return None
        CachedArtifact.objects.filter(id=piece.artifact_id).update(last_used_at=timezone.now())
        return samples

    def _read(self, piece: CachedPiece) -> np.ndarray | None:
        # A slide's unchanged sentences usually come from one earlier narration: it is
        # fetched once (on S3 a read fetches the whole object anyway), not once a sentence.
        if self._wav is None or self._wav[0] != piece.artifact_id:
            with default_storage.open(piece.artifact.file.name, "rb") as stored:
                self._wav = (piece.artifact_id, stored.read())
        with wave.open(io.BytesIO(self._wav[1]), "rb") as reader:
            if reader.getframerate() != self.sample_rate or reader.getnframes() < piece.end_sample:
                return None
            reader.setpos(piece.start_sample)
            frames = reader.readframes(piece.end_sample - piece.start_sample)
        return np.frombuffer(frames, dtype=np.int16).copy()


def spoken_pieces_record(artifact: CachedArtifact, pieces: tuple[SpokenPiece, ...]) -> None:
    """Record where the pieces lie in the artifact's WAV, which has just become its file.

    Call it from cached_artifact_store's `on_stored`: a WAV another job stored first has
    its pieces elsewhere, and a replaced file's old pieces must go.
    """
    CachedPiece.objects.filter(artifact=artifact).delete()
    CachedPiece.objects.bulk_create(
        CachedPiece(
            artifact=artifact,
            owner_id=artifact.owner_id,
            key=piece.key,
            start_sample=piece.start,
            end_sample=piece.end,
        )
        for piece in pieces
    )
