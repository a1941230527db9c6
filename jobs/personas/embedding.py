"""The embedding model of this process, loaded once from settings and kept for every task."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from media_pipeline.embeddings import TextEmbedder, embedding_model_files


@functools.cache
def text_embedder() -> TextEmbedder:
    model_dir = settings.SLIDECAST["EMBEDDING_MODEL_DIR"]
    return TextEmbedder(embedding_model_files(Path(model_dir) if model_dir else None))
