"""The voice models a person fetches for workers (XTTS v2), where they go, and their checks.

Workers never download anything: a model is fetched only by `manage.py voice_models fetch`,
on a host with internet access, into the folder the workers' setting names.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from media_pipeline import xtts
from media_pipeline.model_download import (
    HUGGINGFACE_ENDPOINT,
    ModelManifest,
    Progress,
    fetch_model,
    hub_manifest,
    verify_model_dir,
    with_pinned_digests,
)


@dataclass(frozen=True)
class VoiceModel:
    name: str
    title: str
    repo: str  # on the Hugging Face Hub
    revision: str  # pinned: a tag, resolved to its commit when fetched
    files: tuple[str, ...]  # what a fetch downloads
    required: tuple[str, ...]  # what the engine needs to load the model
    setting: str  # the environment variable naming the workers' folder
    settings_key: str  # its key in settings.SLIDECAST
    license: str


# Coqui's XTTS v2.0.3 on the Hugging Face Hub, the release coqui-tts's own model list names.
# No SHA-256 is written here: none could be checked against a trustworthy source offline.
# Each file is verified against the digest the Hub publishes for it at the resolved commit
# (LFS SHA-256, or git blob id for the small JSON files); an operator can pin SHA-256s too.
XTTS = VoiceModel(
    name="xtts",
    title="Coqui XTTS v2",
    repo="coqui/XTTS-v2",
    revision="v2.0.3",
    files=("config.json", "model.pth", "vocab.json", "speakers_xtts.pth", "hash.md5"),
    required=xtts.MODEL_FILES,
    setting="SLIDECAST_XTTS_MODEL_DIR",
    settings_key="XTTS_MODEL_DIR",
    license=(
        "XTTS v2's weights are under the Coqui Public Model License (CPML): non-commercial use "
        "only, unless you hold a commercial licence from Coqui. https://coqui.ai/cpml"
    ),
)
VOICE_MODELS = {XTTS.name: XTTS}


def voice_model_dir(model: VoiceModel, target: str | Path | None = None) -> Path | None:
    """Return the folder for a model: `target`, else the workers' setting, else None."""
    folder = target or settings.SLIDECAST.get(model.settings_key)
    return Path(folder).expanduser() if folder else None


def voice_model_manifest(
    model: VoiceModel,
    *,
    revision: str | None = None,
    endpoint: str = HUGGINGFACE_ENDPOINT,
    sha256_pins: Mapping[str, str] | None = None,
    opener: Callable = urllib.request.urlopen,
) -> ModelManifest:
    """Return what to download for a model: its files at the revision, with their digests.

    `endpoint` is the Hub's address, or a mirror of it (same paths: /api/models/… and
    /REPO/resolve/COMMIT/FILE).
    """
    manifest = hub_manifest(
        name=model.title,
        repo=model.repo,
        revision=revision or model.revision,
        files=model.files,
        endpoint=endpoint,
        opener=opener,
    )
    return with_pinned_digests(manifest, sha256_pins or {})


def voice_model_fetch(
    *,
    manifest: ModelManifest,
    target_dir: Path,
    force: bool = False,
    progress: Progress | None = None,
    opener: Callable = urllib.request.urlopen,
) -> list[Path]:
    """Return the model's files in target_dir, downloaded and verified where needed."""
    return fetch_model(manifest, target_dir, progress=progress, opener=opener, force=force)


def voice_model_verify(model: VoiceModel, target_dir: Path) -> list[str]:
    """Return what is wrong with a model's folder, offline (an empty list when nothing is)."""
    return verify_model_dir(target_dir, model.required)


def voice_model_missing(model: VoiceModel, target_dir: Path) -> list[str]:
    """Return the files the engine needs that are not in target_dir (no digests computed)."""
    return [name for name in model.required if not (target_dir / name).is_file()]
