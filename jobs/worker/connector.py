"""The worker's connection pool: sessions in autocommit, and a fetch plan that cannot blow up.

procrastinate's worker talks to PostgreSQL through a psycopg pool built from Django's
connection settings. Two things about those sessions are set here, for `manage.py
procrastinate worker` and for the in-process worker alike:

* **Autocommit.** The connection parameters Django hands procrastinate leave psycopg's
  autocommit off, so every fetch and every finish of a job took four round trips: the
  pool's liveness check (an empty query), BEGIN, the statement, COMMIT. Each of
  procrastinate's statements is one call of one of its SQL functions and needs no
  transaction around it: in autocommit the same work is two round trips, the check and
  the statement. The check stays, so a connection that died in the pool (a server
  restart, a dropped link) is still replaced before a job is fetched with it.
* **No sort in the fetch.** procrastinate's fetch takes the first waiting job in
  (priority, id) order, skipping those whose lock is held. When the table's statistics
  were taken while no job waited (autovacuum analyzes it at quiet times), PostgreSQL
  expects one waiting job at most and may plan the fetch as: every waiting job, each
  checked against every other for its lock, then sorted. With 1,000 jobs waiting one
  fetch then reads 10,000-50,000 buffers and takes 50-400 ms instead of 0.4 ms, and a
  worker drains 17-28 jobs a second (docs/benchmarks.md, queue throughput). With sorts
  ruled out, PostgreSQL walks the index that is already in that order and stops at the
  first job it can take. The other statements these sessions run touch one job, one
  worker or a few rows, or read in primary-key order (the `procrastinate` command's job
  lists), which an index gives.
"""

from __future__ import annotations

import psycopg
from procrastinate import PsycopgConnector
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.contrib.django.utils import connector_params


class SlidecastDjangoConnector(DjangoConnector):
    """procrastinate's Django connector, whose worker pool is set up as described above."""

    def get_worker_connector(self) -> PsycopgConnector:
        return PsycopgConnector(kwargs=connector_params(self.alias), configure=_configure)


async def _configure(connection: psycopg.AsyncConnection) -> None:
    # Not in the connection's keyword arguments: procrastinate opens its LISTEN connection
    # with those plus autocommit=True, which would then be given twice.
    await connection.set_autocommit(True)
    await connection.execute("SET enable_sort = off")
