"""The per-owner content cache: slide audio, slide images and encoded keyframes by content key.

A job looks its slides' keys up before doing the work and stores what it made after. The
keys come from media_pipeline.content_keys; the files live in the storage backend under
cache/<owner>/<kind>/, and a slide that reuses one points at that file instead of a copy.
Entries expire with the cleanup's output retention, counted from their last use.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from jobs.narration.models import CachedArtifact
from jobs.storage import storage_put

logger = logging.getLogger("slidecast.cache")

Kind = CachedArtifact.Kind
# Existence checks in flight at once against a remote storage (S3's clients are per thread).
EXISTS_REQUESTS = 16


def content_cache_enabled() -> bool:
    return settings.SLIDECAST["CONTENT_CACHE"]


def cached_artifacts_use(*, owner_id: int, kind: str, keys: Iterable[str]) -> dict:
    """Return the owner's entries of these keys whose files exist, and mark them used.

    An entry whose file has gone (removed by hand, a bucket emptied) is dropped: the
    work is done again and stored anew.
    """
    wanted = set(keys)
    if not wanted or not content_cache_enabled():
        return {}
    found = {
        entry.key: entry
        for entry in CachedArtifact.objects.filter(owner_id=owner_id, kind=kind, key__in=wanted)
    }
    present = _stored(entry.file.name for entry in found.values())
    gone = [key for key, entry in found.items() if entry.file.name not in present]
    for key in gone:
        entry = found.pop(key)
        # Only if still the file seen missing: another job may have stored a new one since.
        CachedArtifact.objects.filter(id=entry.id, file=entry.file.name).delete()
    if found:
        CachedArtifact.objects.filter(id__in=[entry.id for entry in found.values()]).update(
            hits=F("hits") + 1, last_used_at=timezone.now()
        )
    return found


def _stored(names: Iterable[str]) -> set[str]:
    """The names whose files exist: asked side by side where each question is a request."""
    names = list(names)
    if isinstance(default_storage, FileSystemStorage) or len(names) < 2:
        return {name for name in names if default_storage.exists(name)}
    # On S3 each question is a HEAD request (10–50 ms): a 100-slide deck asks 400 of them.
    with ThreadPoolExecutor(max_workers=EXISTS_REQUESTS) as pool:
        return {
            name
            for name, found in zip(names, pool.map(default_storage.exists, names), strict=True)
            if found
        }


def cached_artifact_store(
    *, owner_id: int, kind: str, key: str, local_path: Path, metadata: dict | None = None,
    on_stored: Callable[[CachedArtifact], None] | None = None,
) -> CachedArtifact:  # fmt: skip
    """Store a file under its key for the owner and return its entry (an existing one wins).

    Two jobs that make the same content at once both write a file, each under a name of its
    own (a narration spoken twice differs in its samples); the first entry stays and the
    other file is removed, so an entry's metadata always describes its own file.
    `on_stored` is called with the entry, in its transaction, when this file became it.
    """
    existing = CachedArtifact.objects.filter(owner_id=owner_id, kind=kind, key=key).first()
    if existing is not None and default_storage.exists(existing.file.name):
        return existing
    size = local_path.stat().st_size
    name = storage_put(cache_name(owner_id, kind, key, local_path.suffix), local_path)
    with transaction.atomic():
        entry, created = CachedArtifact.objects.select_for_update().get_or_create(
            owner_id=owner_id,
            kind=kind,
            key=key,
            defaults={"file": name, "size_bytes": size, "metadata": metadata or {}},
        )
        if not created:
            if default_storage.exists(entry.file.name):
                default_storage.delete(name)
                return entry
            # The entry's file had gone (removed by hand): this one takes its place.
            entry.file, entry.size_bytes = name, size
            entry.metadata, entry.last_used_at = metadata or {}, timezone.now()
            entry.save(update_fields=["file", "size_bytes", "metadata", "last_used_at"])
        if on_stored is not None:
            on_stored(entry)
    return entry


def cache_name(owner_id: int, kind: str, key: str, suffix: str) -> str:
    return f"cache/{owner_id}/{kind}/{key[:2]}/{key}-{uuid.uuid4().hex[:8]}{suffix}"


def cached_artifacts_expire(*, unused_since: datetime) -> tuple[int, int]:
    """Delete entries (and files) not used since then; return (entries, bytes) removed."""
    # A job that has just taken an entry keeps it: only what is still stale is deleted.
    removed = _entries_delete(CachedArtifact.objects.filter(last_used_at__lt=unused_since))
    if removed[0]:
        logger.info("content cache: %d entries (%d bytes) expired", *removed)
    return removed


def cached_artifacts_clear(*, owner_id: int) -> tuple[int, int]:
    """Delete every entry (and file) of one owner; return (entries, bytes) removed.

    Jobs that used them keep working: a retry or re-render makes what it needs again.
    """
    removed = _entries_delete(CachedArtifact.objects.filter(owner_id=owner_id))
    logger.info("content cache of user %s cleared: %d entries", owner_id, removed[0])
    return removed


def _entries_delete(entries) -> tuple[int, int]:
    """Delete each entry the queryset still matches when its turn comes, then its file."""
    removed = bytes_removed = 0
    for entry in entries.order_by("id").iterator(chunk_size=500):
        if entries.filter(id=entry.id).delete()[0]:
            default_storage.delete(entry.file.name)
            removed += 1
            bytes_removed += entry.size_bytes
    return removed, bytes_removed


class CachedContentStore:
    """The cache as media_pipeline.video sees it: encoded pieces of one kind, by key, as bytes."""

    def __init__(self, owner_id: int, kind: str, work_dir: Path) -> None:
        self.owner_id = owner_id
        self.kind = kind
        self.work_dir = work_dir

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        entries = cached_artifacts_use(owner_id=self.owner_id, kind=self.kind, keys=keys)
        found = {}
        for key, entry in entries.items():
            with default_storage.open(entry.file.name, "rb") as stored:
                found[key] = stored.read()
        return found

    def put(self, key: str, data: bytes) -> None:
        local = self.work_dir / f"{key}{SUFFIXES[self.kind]}"
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        try:
            cached_artifact_store(owner_id=self.owner_id, kind=self.kind, key=key, local_path=local)
        finally:
            local.unlink()


SUFFIXES = {Kind.KEYFRAME: ".h264", Kind.AAC: ".aac"}


def assembly_stores(owner_id: int, work_dir: Path) -> dict:
    """The keyframe and narration stores an assembly uses, or none with the cache off."""
    if not content_cache_enabled():
        return {}
    return {
        "keyframe_store": CachedContentStore(owner_id, Kind.KEYFRAME, work_dir / "keyframes"),
        "audio_store": CachedContentStore(owner_id, Kind.AAC, work_dir / "aac"),
    }
