"""Cache entries whose files went missing are dropped, on a local disk and on remote storage."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from jobs.models import CachedArtifact
from jobs.narration.content_cache import cached_artifacts_use

pytestmark = pytest.mark.django_db

IN_MEMORY = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def _entries(user, count: int) -> list[CachedArtifact]:
    entries = []
    for number in range(count):
        name = default_storage.save(f"cache/{user.id}/image/{number}.png", ContentFile(b"png"))
        entries.append(
            CachedArtifact.objects.create(
                owner=user, kind="image", key=f"{number:064d}", file=name, size_bytes=3
            )
        )
    return entries


@pytest.mark.parametrize("storage", ["filesystem", "remote"])
def test_an_entry_whose_file_is_gone_is_dropped_and_the_rest_are_used(
    storage, user, settings, tmp_path
):
    if storage == "remote":
        # Not a local disk: the existence checks go out side by side.
        settings.STORAGES = IN_MEMORY
    else:
        settings.MEDIA_ROOT = str(tmp_path)
    entries = _entries(user, 20)
    default_storage.delete(entries[3].file.name)
    default_storage.delete(entries[17].file.name)

    found = cached_artifacts_use(
        owner_id=user.id, kind="image", keys=[entry.key for entry in entries]
    )
    assert sorted(found) == sorted(e.key for i, e in enumerate(entries) if i not in (3, 17))
    assert CachedArtifact.objects.filter(owner=user).count() == 18
    assert set(CachedArtifact.objects.filter(owner=user).values_list("hits", flat=True)) == {1}
