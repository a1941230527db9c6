"""Field types shared by the API's schemas: text PostgreSQL can store, moments in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


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
