"""Snapshot rows checked a chunk at a time: each row's ad, period and metrics, and each day's kind.

A day of an ad is reported either whole or by the hour, never both: a row of the other kind than
what is stored, or than an earlier row of the same call, is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from jobs.ads.snapshot_ads import AdDirectory, ad_ref
from jobs.ads.snapshot_store import SnapshotStore
from jobs.ads.snapshot_values import METRICS, Refused, day_parse, hour_parse

# An ad-and-day key is the ad's index times this plus the day's ordinal: no day before
# tomorrow has an ordinal this large until the year 2738.
_DAYS_PER_AD = 1_000_000


@dataclass(frozen=True)
class RowError:
    row: int  # CSV: the line in the file (header = 1); JSON: the 1-based index in the list
    ad: str  # the ad reference as given, "" if none
    reason: str


@dataclass(frozen=True)
class Unreadable:
    """A row refused before its values are read: a broken CSV line, a JSON item not an object."""

    reason: str
    ad: str = ""


class RowReader:
    """Checks rows chunk by chunk and hands the good ones to the store; collects the refusals."""

    def __init__(self, *, owner, store: SnapshotStore, errors: list[RowError]) -> None:
        self.ads = AdDirectory(owner=owner)
        self.store = store
        self.errors = errors
        self.days: dict[object, tuple[str, int] | str] = {}
        self.latest_day = timezone.localdate() + timedelta(days=1)
        # Periods written by earlier chunks of this call: a later copy is a correction,
        # counted once. Packed into integers to keep a million of them small.
        self.written: set[int] = set()

    def chunk_ingest(self, chunk: list[tuple[int, object]]) -> tuple[int, int]:
        """Check one chunk, write its good rows; give back (created, updated) periods."""
        self.ads.load(row for _, row in chunk if not isinstance(row, Unreadable))
        checked = []
        for number, row in chunk:
            if isinstance(row, Unreadable):
                self.errors.append(RowError(row=number, ad=row.ad, reason=row.reason))
                continue
            try:
                checked.append((number, row, *self.row_read(row)))
            except Refused as refusal:
                self.errors.append(RowError(row=number, ad=ad_ref(row), reason=str(refusal)))
        if not checked:
            return 0, 0
        # A day's kind (whole or hourly) is what is stored, else what its first good row says.
        kinds = self.stored_kinds(line for *_, line in checked)
        periods: dict[int, tuple] = {}
        for number, row, key, day_key, line in checked:
            hourly = line[2] is not None
            kind, first = kinds.setdefault(day_key, (hourly, number))
            if kind != hourly:
                reason = _mixed_reason(day=line[1], hourly=hourly, first=first)
                self.errors.append(RowError(row=number, ad=ad_ref(row), reason=reason))
                continue
            periods[key] = line
        repeats = sum(1 for key in periods if key in self.written) if self.written else 0
        # In key order an ad's periods are written together: fewer index pages touched.
        created, updated = self.store.write([periods[key] for key in sorted(periods)])
        self.written.update(periods)
        return created, updated - repeats

    def stored_kinds(self, lines: Iterable[tuple]) -> dict[int, tuple[bool, None]]:
        """Whether each stored day of the lines' ads is hourly, by ad-and-day key."""
        spans: dict[str, list[str]] = {}
        for ad_id, day, *_ in lines:
            span = spans.get(ad_id)
            if span is None:
                spans[ad_id] = [day, day]
            elif day < span[0]:  # ISO dates sort as text
                span[0] = day
            elif day > span[1]:
                span[1] = day
        indexes = self.ads.indexes
        return {
            indexes[ad_id] * _DAYS_PER_AD + ordinal: (hourly, None)
            for ad_id, ordinal, hourly in self.store.day_kinds(spans)
        }

    def row_read(self, row: Mapping[str, object]) -> tuple[int, int, tuple]:
        """The period key, the ad-and-day key and the line to copy; or Refused with reasons."""
        get = row.get
        try:
            ad = self.ads.resolve(get("ad_id"), get("ad_external_id"))
            (day_iso, ordinal), hour = self.period_read(get("date"), get("hour"))
            values = [parse(field, get(field), default) for field, parse, default in METRICS]
        except Refused:
            raise Refused(self.reasons(row)) from None
        impressions, reach, clicks = values[0], values[1], values[2]
        if clicks > impressions or (reach is not None and reach > impressions):
            raise Refused(self.reasons(row))
        day_key = ad.index * _DAYS_PER_AD + ordinal
        key = day_key * 25 + (24 if hour is None else hour)
        return key, day_key, (ad.id, day_iso, hour, *values)

    def reasons(self, row: Mapping[str, object]) -> str:
        """Every reason a row is refused, found once a first one is (the slow path)."""
        reasons: list[str] = []
        try:
            self.ads.resolve(row.get("ad_id"), row.get("ad_external_id"))
        except Refused as refusal:
            reasons.append(str(refusal))
        try:
            self.period_read(row.get("date"), row.get("hour"))
        except Refused as refusal:
            reasons.append(str(refusal))
        values: dict[str, object] = {}
        for field, parse, default in METRICS:
            try:
                values[field] = parse(field, row.get(field), default)
            except Refused as refusal:
                reasons.append(str(refusal))
        impressions = values.get("impressions")
        for field, verb in (("clicks", "exceed"), ("reach", "exceeds")):
            value = values.get(field)
            if impressions is not None and value is not None and value > impressions:
                reasons.append(f"{field} ({value}) {verb} impressions ({impressions}).")
        return " ".join(reasons)

    def period_read(self, raw_date: object, raw_hour: object) -> tuple[tuple[str, int], int | None]:
        """The day (ISO text and ordinal) and the hour, None for a whole day."""
        try:
            day = self.days[raw_date]
        except KeyError:
            day = self.days[raw_date] = day_parse(raw_date, latest_day=self.latest_day)
        except TypeError:  # an unhashable value from JSON
            day = day_parse(raw_date, latest_day=self.latest_day)
        if isinstance(day, str):
            raise Refused(day)
        return day, hour_parse(raw_hour)


def _mixed_reason(*, day: str, hourly: bool, first: int | None) -> str:
    if first is None:
        existing = "a whole-day snapshot is" if hourly else "hourly snapshots are"
        source = "already stored"
    else:
        existing = "a whole-day row was" if hourly else "hourly rows were"
        source = f"given earlier in this upload (row {first})"
    kind = "hourly" if hourly else "whole-day"
    return (
        f"A {kind} row for {day} is refused because {existing} {source} for this ad: "
        "a day is reported either whole or by the hour, never both."
    )
