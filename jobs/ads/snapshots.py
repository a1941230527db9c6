"""Metric snapshots coming in: rows from the API, a CSV upload or the admin, checked and upserted.

Every row is checked in plain Python (no model instance per row), then a chunk of good rows is
copied into a temporary table and merged into jobs_adsnapshot with one INSERT … ON CONFLICT, so
a million rows take under a minute, not hours. A bad row is refused with its number and a sentence
saying why; the rest still goes in. Sending the same period again overwrites it (a platform's
late correction), so a client may retry a whole batch safely.

This module is the interface; the work is done in snapshot_values (one value read and checked),
snapshot_ads (the ad a row names), snapshot_rows (a chunk of rows checked), snapshot_store
(COPY and upsert) and snapshot_csv (a CSV upload read).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice

from django.db import connection, transaction

from jobs.ads.snapshot_csv import csv_rows
from jobs.ads.snapshot_rows import RowError, RowReader, Unreadable
from jobs.ads.snapshot_store import SnapshotStore
from jobs.ads.snapshot_values import SNAPSHOT_FIELDS

__all__ = [
    "SNAPSHOT_FIELDS",
    "IngestReport",
    "RowError",
    "snapshots_ingest",
    "snapshots_ingest_csv",
]

logger = logging.getLogger("slidecast.ads")

# Rows checked and written at a time: bounds memory for any input size.
CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class IngestReport:
    received: int
    created: int
    updated: int
    errors: list[RowError]

    @property
    def accepted(self) -> int:
        """Rows not refused; a period sent twice is one row in `created` or `updated`."""
        return self.received - len(self.errors)


def snapshots_ingest(*, owner, rows: Iterable[Mapping[str, object]]) -> IngestReport:
    """Check and upsert snapshot rows of `owner`'s ads; rows are numbered from 1 in the report."""
    return _numbered_ingest(owner=owner, numbered=_json_rows(rows))


def snapshots_ingest_csv(*, owner, upload) -> IngestReport:
    """Ingest a CSV export (rows numbered by line, header = 1); refuse an unusable file whole."""
    return _numbered_ingest(owner=owner, numbered=csv_rows(upload=upload))


def _json_rows(rows: Iterable[object]) -> Iterator[tuple[int, object]]:
    for number, row in enumerate(rows, start=1):
        if isinstance(row, (dict, Mapping)):
            yield number, row
        else:
            yield number, Unreadable(reason="The row is not an object of named values.")


def _numbered_ingest(*, owner, numbered: Iterable[tuple[int, object]]) -> IngestReport:
    errors: list[RowError] = []
    received = created = updated = 0
    iterator = iter(numbered)
    with transaction.atomic(), connection.cursor() as wrapper:
        store = SnapshotStore(cursor=wrapper.cursor, owner=owner)
        reader = RowReader(owner=owner, store=store, errors=errors)
        while chunk := list(islice(iterator, CHUNK_ROWS)):
            received += len(chunk)
            chunk_created, chunk_updated = reader.chunk_ingest(chunk)
            created += chunk_created
            updated += chunk_updated
    errors.sort(key=lambda error: error.row)
    logger.info(
        "snapshots ingested for user %s: %d received, %d created, %d updated, %d refused",
        owner.pk, received, created, updated, len(errors),
    )  # fmt: skip
    return IngestReport(received=received, created=created, updated=updated, errors=errors)
