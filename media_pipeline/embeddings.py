"""Sentence embeddings for persona knowledge: WordLlama's static token embeddings, pooled.

WordLlama ships its 256-dimension English model inside the `wordllama` wheel, so nothing is
downloaded, and a static model embeds about 2 MB of text a second on one core: what makes
ingesting a persona's books on a 2-core host a matter of seconds. A transformer such as
all-MiniLM-L6-v2 needs torch and is one to two orders of magnitude slower on CPU
(docs/benchmarks.md). We load the files ourselves because WordLlama.load() looks for the
tokenizer under a folder name its wheel does not use, and then tries the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media_pipeline.errors import ModelNotFoundError

EMBEDDING_DIMENSIONS = 256
_WEIGHTS = "l2_supercat_256.safetensors"
_TOKENIZER = "l2_supercat_tokenizer_config.json"


@dataclass(frozen=True)
class EmbeddingModelFiles:
    weights: Path
    tokenizer: Path

    @property
    def name(self) -> str:
        return f"wordllama/{self.weights.stem}"


def embedding_model_files(model_dir: Path | None) -> EmbeddingModelFiles:
    """Where the model's files are: `model_dir`, or the wordllama package's own copy."""
    if model_dir is None:
        try:
            import wordllama
        except ImportError as exc:
            raise ModelNotFoundError(
                "The embedding model's package `wordllama` is not installed; install Slidecast "
                "again (pip install -e .) or set SLIDECAST_EMBEDDING_MODEL_DIR."
            ) from exc
        root = Path(wordllama.__file__).parent
        files = EmbeddingModelFiles(root / "weights" / _WEIGHTS, root / "tokenizers" / _TOKENIZER)
        setting = "the wordllama package"
    else:
        weights = sorted(model_dir.glob("*.safetensors"))
        tokenizers = sorted(model_dir.glob("*tokenizer_config.json"))
        files = EmbeddingModelFiles(
            weights[0] if weights else model_dir / _WEIGHTS,
            tokenizers[0] if tokenizers else model_dir / _TOKENIZER,
        )
        setting = f"SLIDECAST_EMBEDDING_MODEL_DIR ({model_dir})"
    for path in (files.weights, files.tokenizer):
        if not path.is_file():
            raise ModelNotFoundError(
                f"The embedding model file {path.name} is missing from {setting}; "
                "point SLIDECAST_EMBEDDING_MODEL_DIR at a folder holding a WordLlama model."
            )
    return files


class TextEmbedder:
    """Turns texts into unit-length vectors; load once per process and reuse."""

    def __init__(self, files: EmbeddingModelFiles) -> None:
        from safetensors import safe_open
        from wordllama import WordLlama
        from wordllama.inference import WordLlamaInference

        self.model_name = files.name
        tokenizer = WordLlama.load_tokenizer(files.tokenizer)
        with safe_open(files.weights, framework="np", device="cpu") as weights:
            table = weights.get_tensor("embedding.weight")
        if table.shape[1] != EMBEDDING_DIMENSIONS:
            raise ModelNotFoundError(
                f"The embedding model {files.weights} has {table.shape[1]} dimensions; "
                f"Slidecast stores {EMBEDDING_DIMENSIONS}."
            )
        self._model = WordLlamaInference(table, tokenizer)

    def embed(self, texts: Sequence[str], *, batch_size: int = 256) -> np.ndarray:
        """One float32 row of EMBEDDING_DIMENSIONS per text, each of length 1 (or 0 if empty)."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIMENSIONS), dtype=np.float32)
        vectors = np.asarray(
            self._model.embed(list(texts), norm=False, batch_size=batch_size), dtype=np.float32
        )
        lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.divide(vectors, lengths, out=np.zeros_like(vectors), where=lengths > 0)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer.encode(text, add_special_tokens=False).ids)
