"""Checking a deck's pictures by their headers: a tiny file can declare a gigantic image."""

from __future__ import annotations

import threading
import warnings
import zipfile

from PIL import Image, UnidentifiedImageError

from media_pipeline.errors import InvalidDeckError

# Pillow's limit is process-wide: one check at a time, and it is always put back.
_pillow_limit_lock = threading.Lock()
_RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".gif", ".bmp", ".tif", ".tiff", ".webp")


def check_pictures(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], *, max_pixels: int
) -> None:
    """Raise when a raster picture declares more pixels than max_pixels (headers only)."""
    for member in members:
        if not member.filename.lower().endswith(_RASTER_SUFFIXES):
            continue
        width, height = _declared_size(archive, member)
        if width * height > max_pixels:
            raise InvalidDeckError(
                f"The picture {member.filename} is {width:,} × {height:,} pixels; pictures "
                f"may have at most {max_pixels:,} pixels. Scale it down and upload the "
                "deck again."
            )


def _declared_size(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[int, int]:
    # Pillow only reads the header here; its own bomb guard would refuse before telling us
    # the size, and the limit applied is ours.
    with _pillow_limit_lock, archive.open(member) as part, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(part) as image:
                return image.size
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return 0, 0  # not a picture Pillow knows; LibreOffice renders it in the sandbox
        finally:
            Image.MAX_IMAGE_PIXELS = limit
