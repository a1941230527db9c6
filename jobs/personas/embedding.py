"""The embedding model of this process, loaded once from settings and kept for every task."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from media_pipeline.embeddings import TextEmbedder, embedding_model_files


def _model_files():
    model_dir = settings.SLIDECAST["EMBEDDING_MODEL_DIR"]
    return embedding_model_files(Path(model_dir) if model_dir else None)


@functools.cache
def text_embedder() -> TextEmbedder:
    return TextEmbedder(_model_files())


def embedding_model_name() -> str:
    """The model's name, without loading it (web processes only compare names)."""
    return _model_files().name
