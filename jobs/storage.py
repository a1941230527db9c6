"""Moving files between worker temp folders and Django's storage (filesystem or S3)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage


def storage_put(name: str, local_path: Path) -> str:
    """Store the local file under exactly `name`, replacing an older copy (a retried step)."""
    if default_storage.exists(name):
        default_storage.delete(name)
    with local_path.open("rb") as handle:
        return default_storage.save(name, File(handle, name=Path(name).name))


def storage_fetch(name: str, local_path: Path) -> Path:
    """Copy a stored file to a local path (workers need no shared disk) and return the path."""
    local_path.parent.mkdir(parents=True, exist_ok=True)
    with default_storage.open(name, "rb") as source, local_path.open("wb") as target:
        shutil.copyfileobj(source, target, length=1024 * 1024)
    return local_path


def storage_delete_tree(prefix: str) -> int:
    """Delete every stored file below prefix and return how many were deleted."""
    deleted = 0
    try:
        folders, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return 0
    for file_name in files:
        default_storage.delete(f"{prefix}/{file_name}")
        deleted += 1
    for folder in folders:
        deleted += storage_delete_tree(f"{prefix}/{folder}")
    return deleted


def work_root() -> str:
    """The folder under which steps keep their temporary files (SLIDECAST_WORK_DIR)."""
    return settings.SLIDECAST["WORK_DIR"] or tempfile.gettempdir()
