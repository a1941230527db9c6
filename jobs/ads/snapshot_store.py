"""Checked snapshot rows written: COPY into a temporary table, then one upsert per chunk."""

from __future__ import annotations

from collections.abc import Iterable

from jobs.ads.models import AdSnapshot
from jobs.ads.snapshot_values import METRIC_FIELDS

_NULL = "\\N"


class SnapshotStore:
    """Writes checked rows of one owner's ads, and says which stored days are hourly."""

    TEMP = "ads_snapshot_incoming"

    def __init__(self, *, cursor, owner) -> None:
        self.cursor = cursor
        table = AdSnapshot._meta.db_table
        # One ingest per owner at a time: which kind a day has (whole or hourly) is read
        # before writing, and two uploads racing could otherwise each add the other kind.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ads-snapshots:{owner.pk}"])
        # An earlier call in the same outer transaction may have left the table behind.
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{self.TEMP}")
        cursor.execute(f"""
            CREATE TEMPORARY TABLE {self.TEMP} (
                ad_id uuid NOT NULL, day date NOT NULL, hour smallint,
                impressions bigint NOT NULL, reach bigint, clicks bigint NOT NULL,
                spend numeric(14, 4) NOT NULL, video_views bigint NOT NULL,
                avg_watch_seconds double precision, completion_rate double precision,
                conversions bigint NOT NULL, revenue numeric(14, 4) NOT NULL
            ) ON COMMIT DROP
        """)  # fmt: skip
        columns = ", ".join(("ad_id", "day", "hour", *METRIC_FIELDS))
        self.copy_sql = f"COPY {self.TEMP} ({columns}) FROM STDIN"
        # One index range scan per ad, not one probe per day: a backfill finds nothing fast.
        self.kinds_sql = f"""
            SELECT DISTINCT snapshot.ad_id::text, snapshot.day - date '0001-01-01' + 1,
                   snapshot.hour IS NOT NULL
            FROM unnest(%s::text::uuid[], %s::text::date[], %s::text::date[])
                AS wanted(ad_id, first_day, last_day)
            JOIN {table} snapshot ON snapshot.ad_id = wanted.ad_id
                AND snapshot.day BETWEEN wanted.first_day AND wanted.last_day
        """
        stored = ", ".join(f"stored.{name}" for name in METRIC_FIELDS)
        excluded = ", ".join(f"EXCLUDED.{name}" for name in METRIC_FIELDS)
        # A period sent again unchanged is left alone (no dead row, updated_at kept) but still
        # counts as updated. xmax is 0 on a row version this statement inserted.
        self.upsert_sql = f"""
            WITH written AS (
                INSERT INTO {table} AS stored ({columns}, updated_at)
                SELECT {columns}, statement_timestamp() FROM {self.TEMP}
                ON CONFLICT (ad_id, day, hour) DO UPDATE
                SET ({", ".join(METRIC_FIELDS)}, updated_at) = ({excluded}, EXCLUDED.updated_at)
                WHERE ({stored}) IS DISTINCT FROM ({excluded})
                RETURNING xmax = 0 AS created
            )
            SELECT count(*) FROM written WHERE created
        """

    def day_kinds(self, spans: dict[str, list[str]]) -> list[tuple[str, int, bool]]:
        """(ad id, day ordinal, hourly) of the days stored within each ad's (first, last) span."""
        # Array literals written here: psycopg's list adaptation costs microseconds an item.
        self.cursor.execute(
            self.kinds_sql,
            [
                _array_text(spans),
                _array_text(first for first, _ in spans.values()),
                _array_text(last for _, last in spans.values()),
            ],
        )
        return self.cursor.fetchall()

    def write(self, lines: list[tuple]) -> tuple[int, int]:
        """Upsert the lines; give back how many periods were created and updated."""
        cursor = self.cursor
        cursor.execute(f"TRUNCATE {self.TEMP}")
        with cursor.copy(self.copy_sql) as copy:
            copy.write("".join(map(_copy_line, lines)))
        cursor.execute(self.upsert_sql)
        (created,) = cursor.fetchone()
        return created, len(lines) - created


def _copy_line(line: tuple) -> str:
    """A line of COPY text; every value is a number, a date or a UUID: nothing to escape."""
    ad_id, day, hour, imps, reach, clicks, spend, views, seconds, rate, conversions, revenue = line
    return (
        f"{ad_id}\t{day}\t{_NULL if hour is None else hour}\t{imps}\t"
        f"{_NULL if reach is None else reach}\t{clicks}\t{spend}\t{views}\t"
        f"{_NULL if seconds is None else seconds}\t{_NULL if rate is None else rate}\t"
        f"{conversions}\t{revenue}\n"
    )


def _array_text(items: Iterable[str]) -> str:
    return "{" + ",".join(items) + "}"
