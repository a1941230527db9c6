"""Snapshot rows from a CSV upload: the file checked whole, its header mapped to snapshot fields.

Platform exports name their columns in many ways (CSV_ALIASES); a file that is not UTF-8 CSV
text, is too large, or lacks a needed column is refused before any row is read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain

from django.conf import settings
from django.core.exceptions import ValidationError

from jobs.ads.snapshot_ads import ad_ref
from jobs.ads.snapshot_rows import Unreadable
from jobs.ads.snapshot_values import SNAPSHOT_FIELDS, shown

CSV_REQUIRED_FIELDS = ("date", "impressions", "clicks", "spend")

# Common column names of platform exports (Meta, Google Ads, TikTok, LinkedIn), in their loose
# form: lower case, runs of other characters as one space, a trailing "(USD)" currency dropped.
CSV_ALIASES = {
    "ad external id": "ad_external_id",
    "external id": "ad_external_id",
    # Platforms call their own id "Ad ID"; Slidecast's id is the column spelled ad_id.
    "ad id": "ad_external_id",
    "date": "date",
    "day": "date",
    "reporting starts": "date",
    "reporting date": "date",
    "date start": "date",
    "stat time day": "date",
    "segments date": "date",
    # The end of the period a row covers: a row is refused unless it is the same day.
    "reporting ends": "date_end",
    "date stop": "date_end",
    "date end": "date_end",
    "hour": "hour",
    "hour of day": "hour",
    "hour of the day": "hour",
    "impressions": "impressions",
    "impr": "impressions",
    "imps": "impressions",
    "reach": "reach",
    "clicks": "clicks",
    "link clicks": "clicks",
    "spend": "spend",
    "amount spent": "spend",
    "cost": "spend",
    "video views": "video_views",
    "views": "video_views",
    "thruplays": "video_views",
    "avg watch seconds": "avg_watch_seconds",
    "average watch time": "avg_watch_seconds",
    "avg watch time": "avg_watch_seconds",
    "video average play time": "avg_watch_seconds",
    "completion rate": "completion_rate",
    "video completion rate": "completion_rate",
    "conversions": "conversions",
    "conv": "conversions",
    "results": "conversions",
    "purchases": "conversions",
    "revenue": "revenue",
    "conv value": "revenue",
    "conversion value": "revenue",
    "purchase conversion value": "revenue",
    "purchases conversion value": "revenue",
}

_CURRENCY_SUFFIX = re.compile(r"\s*\([A-Z]{3}\)\s*$")
_LOOSE = re.compile(r"[^a-z0-9]+")


def csv_rows(*, upload) -> Iterator[tuple[int, object]]:
    """The upload's data rows as (line number, fields); refuses an unusable file whole.

    The file is read twice: once to check it is UTF-8 text of a usable shape and size, so
    that a bad file is refused before any row is written, then to give its rows.
    """
    _file_check(upload=upload)
    delimiter, header, rows = _scan(upload=upload)
    if rows > settings.ADS["CSV_MAX_ROWS"]:
        raise ValidationError(
            f"The file has {rows:,} rows; an upload may have at most "
            f"{settings.ADS['CSV_MAX_ROWS']:,}. Split it into several files."
        )
    columns = _columns(header=header)
    return _rows(upload=upload, delimiter=delimiter, columns=columns)


def _file_check(*, upload) -> None:
    limit = settings.ADS["CSV_MAX_BYTES"]
    size = upload.size
    if size is not None and size > limit:
        raise ValidationError(
            f"The file is {_size_text(size)}; an upload may be at most {_size_text(limit)}. "
            "Split it into several files."
        )
    upload.open("rb")
    head = upload.read(8192)
    if not head:
        raise ValidationError("The file is empty.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError("The file is UTF-16 text; save it as CSV UTF-8 and upload it again.")
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ValidationError(
            "The file is a spreadsheet or archive (an Excel workbook?), not a CSV file; "
            "export the sheet as CSV UTF-8."
        )
    if b"\x00" in head:
        raise ValidationError("The file is not a CSV text file: it contains binary data.")


def _scan(*, upload) -> tuple[str, list[str], int]:
    """The delimiter, the header and the number of data rows; refuses a file that is not UTF-8."""
    rows = 0
    reader = None
    with _text_opened(upload) as text:
        try:
            first = text.readline()
            if not first.strip():
                raise ValidationError("The file has no header line: its first line is empty.")
            delimiter = max(",;\t", key=first.count)
            reader = csv.reader(chain([first], text), delimiter=delimiter)
            try:
                header = next(reader)
            except csv.Error as exc:
                raise ValidationError(f"The header line could not be read as CSV: {exc}.") from exc
            while True:
                try:
                    for record in reader:
                        rows += bool(record)
                    break
                except csv.Error:
                    rows += 1
        except UnicodeDecodeError as exc:
            # Text is decoded ahead of the reader by up to a few kilobytes: say "near".
            line = reader.line_num + 1 if reader else 1
            raise ValidationError(
                f"The file is not UTF-8 text (a byte near line {line} is not UTF-8); save it "
                "as CSV UTF-8 and upload it again."
            ) from exc
    return delimiter, header, rows


def _columns(*, header: list[str]) -> list[str | None]:
    """The snapshot field of each column (None: ignored); refuses a header missing fields."""
    columns = [_column_field(name) for name in header]
    seen: dict[str, str] = {}
    for name, field in zip(header, columns, strict=True):
        if field is None:
            continue
        if field in seen:
            raise ValidationError(
                f"The columns '{seen[field]}' and '{name}' both give {field}; keep one of them."
            )
        seen[field] = name
    missing = [field for field in CSV_REQUIRED_FIELDS if field not in seen]
    if "ad_id" not in seen and "ad_external_id" not in seen:
        missing.insert(0, "ad_id or ad_external_id")
    if missing:
        found = ", ".join(f"'{shown(name, quote=False)}'" for name in header[:20])
        raise ValidationError(
            f"The file has no column for {', '.join(missing)}. Its columns are: {found}."
        )
    return columns


def _column_field(name: str) -> str | None:
    exact = name.strip().lower().replace("-", "_")
    if exact in SNAPSHOT_FIELDS:
        return exact
    loose = _LOOSE.sub(" ", _CURRENCY_SUFFIX.sub("", name.strip()).lower()).strip()
    return CSV_ALIASES.get(loose)


def _rows(*, upload, delimiter: str, columns: list[str | None]) -> Iterator[tuple[int, object]]:
    """Each data row as (line number, field mapping), or an Unreadable for a broken line."""
    with _text_opened(upload) as text:
        reader = csv.reader(text, delimiter=delimiter)
        next(reader)
        line = reader.line_num
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield line + 1, Unreadable(reason=f"The line could not be read as CSV: {exc}.")
                line = reader.line_num
                continue
            number, line = line + 1, reader.line_num
            if record:
                yield number, _record_row(record, columns)


def _record_row(record: list[str], columns: list[str | None]) -> object:
    """The record's fields by name, or an Unreadable when it cannot be a snapshot row."""
    if len(record) == len(columns):
        row = dict(zip(columns, record, strict=True))
        end = row.get("date_end")
        if not end or end.strip() == row["date"].strip():
            return row
        # A platform export without a breakdown by day sums the whole range in one row.
        reason = (
            f"The row covers {shown(row['date'])} to {shown(end)}, not one day: export "
            "with a breakdown by day."
        )
        return Unreadable(reason=reason, ad=ad_ref(row))
    named = dict(zip(columns, record, strict=False))
    reason = f"The line has {len(record)} fields but the header has {len(columns)}."
    return Unreadable(reason=reason, ad=ad_ref(named))


@contextmanager
def _text_opened(upload) -> Iterator[io.TextIOWrapper]:
    """The upload as UTF-8 text from its start; the upload itself stays open for the caller."""
    upload.open("rb")
    text = io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")
    try:
        yield text
    finally:
        text.detach()


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{size / 1024:.1f} KB"
