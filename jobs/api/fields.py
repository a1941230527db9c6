"""Field types shared by the API's schemas: text PostgreSQL can store, moments in UTC."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

from ninja.files import UploadedFile
from pydantic import AfterValidator, BaseModel


def storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and UTF-8 cannot hold lone surrogates.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


Text = Annotated[str, AfterValidator(storable_text)]


def utc_moment(value: datetime) -> datetime:
    # PostgreSQL accepts UTC offsets up to 15:59 only; convert whatever arrives to UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of the supported range of dates") from exc


Moment = Annotated[datetime, AfterValidator(utc_moment)]


def request_fingerprint(uploads: Iterable[UploadedFile | None], fields: BaseModel) -> str:
    """SHA-256 of the uploaded files and the other fields: what an Idempotency-Key binds to."""
    digest = hashlib.sha256()
    for upload in uploads:
        if upload is None:
            digest.update(b"no file")
            continue
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        digest.update(b"\x00")
    digest.update(json.dumps(fields.model_dump(mode="json"), sort_keys=True).encode())
    return digest.hexdigest()
