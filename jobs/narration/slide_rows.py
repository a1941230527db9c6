"""Per-slide values written to a job's slides in one statement.

Django's bulk_update builds a CASE expression per column and row in Python: 0.1–0.2 s for
a 100-slide job, twice on an edit's path. One UPDATE joined to arrays of the values takes
a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from jobs.narration.models import Slide

# The PostgreSQL array type each column's values are sent as.
COLUMN_TYPES = {
    "image": "text[]",
    "title": "text[]",
    "image_cached": "boolean[]",
    "start_seconds": "double precision[]",
    "duration_seconds": "double precision[]",
}


def slides_update_by_index(job_id: str, indices: Sequence[int], **columns: Sequence) -> int:
    """Set each named column of the job's slides at `indices` to its value; return the rows."""
    table = connection.ops.quote_name(Slide._meta.db_table)
    names = list(columns)
    quoted = [connection.ops.quote_name(name) for name in names]
    arrays = ", ".join(f"%s::{COLUMN_TYPES[name]}" for name in names)
    assignments = ", ".join(f"{column} = v.{column}" for column in quoted)
    sql = (
        f"UPDATE {table} AS s SET {assignments}, updated_at = now() "
        f'FROM unnest(%s::integer[], {arrays}) AS v("index", {", ".join(quoted)}) '
        'WHERE s.job_id = %s AND s."index" = v."index"'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(indices), *(list(columns[name]) for name in names), job_id])
        return cursor.rowcount
