"""Per task family concurrency limits, per host and across the cluster, kept by PostgreSQL.

A family limited to N tasks has N slots; a slot is a session-level advisory lock, held by a
database connection of its own for as long as the task runs. When a worker crashes or is
killed, its connections die and PostgreSQL frees their slots: nothing to clean up, no lease
to expire. Django's connection is not used for this: it belongs to the task's thread, and a
task that closed it (or a database error that reset it) would drop the slot silently.

Keys: a cluster slot is (family key, 0..N-1); a host slot is (family-and-hostname key,
0..M-1); a running task holds one for each of its family's limits, plus a shared "in use" lock on
(use key, 0) that lets the dashboard count holders cluster-wide from pg_locks. A waiting
task stands in a queue, a shared lock on (queue key, its ticket): see Slot. The "host"
is the hostname the worker registry shows: in containers, give the containers of one
machine the same hostname to make them share its host limit.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Count
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import queueing

logger = logging.getLogger("slidecast.workers")

POLL_SECONDS = 0.5
# Set on every slot connection, so that the dashboard can say which host holds which slot.
_APPLICATION_PREFIX = "slidecast slot "
# PostgreSQL notices a vanished worker host (no FIN, no RST) through TCP keepalives; its
# defaults take two hours, during which the dead host's slots would stay taken.
_SESSION_SETTINGS = (
    "SET tcp_keepalives_idle = 30",
    "SET tcp_keepalives_interval = 10",
    "SET tcp_keepalives_count = 3",
    # The slot's session sits idle while its task runs: a server-wide idle timeout must not
    # end it and free the slot under a running task.
    "SET idle_session_timeout = 0",
)


@dataclass(frozen=True)
class FamilyLimits:
    family: str
    host: int  # 0: no limit
    cluster: int  # 0: no limit
    recycle_tasks: int  # 0: never
    recycle_mb: int  # 0: never

    @property
    def limited(self) -> bool:
        return bool(self.host or self.cluster)


def family_limits(family: str) -> FamilyLimits:
    """Return the family's limits from settings.TASK_LIMITS (no limits for an unknown one)."""
    config = settings.TASK_LIMITS.get(family, {})
    return FamilyLimits(
        family=family,
        host=config.get("HOST", 0),
        cluster=config.get("CLUSTER", 0),
        recycle_tasks=config.get("RECYCLE_TASKS", 0),
        recycle_mb=config.get("RECYCLE_MB", 0),
    )


def _key(*parts: str) -> int:
    # Positive, so that pg_locks.classid (an oid, unsigned) reads back as the same number.
    return zlib.crc32(":".join(("slidecast.limits", *parts)).encode()) & 0x7FFFFFFF


def cluster_key(family: str) -> int:
    return _key("cluster", family)


def host_key(family: str, hostname: str) -> int:
    return _key("host", family, hostname)


def use_key(family: str) -> int:
    return _key("use", family)


class Slot:
    """A place among a family's running tasks, taken on a database connection of its own.

    Waiters take turns: each has a ticket (when it arrived, by the database's clock) and,
    while it waits, a shared lock on (queue key, ticket), so that a newcomer, or a waiter
    that polled first, leaves a freed slot to whoever has waited longer for the same limit.
    Without this a task fetched just as a slot is freed takes it at once, and the tasks that
    wait, each holding a worker's place, can wait forever.
    """

    def __init__(self, limits: FamilyLimits, *, hostname: str | None = None) -> None:
        self.limits = limits
        self.hostname = hostname or socket.gethostname()
        self.full = ""  # why the last try failed, in words, for whoever waits
        params = connection.get_connection_params()
        params["application_name"] = f"{_APPLICATION_PREFIX}{self.hostname}"[:63]
        self._connection = psycopg.connect(**params, autocommit=True)
        for statement in _SESSION_SETTINGS:
            self._connection.execute(statement)
        # Tenths of a second, wrapping after 6.8 years: at worst one turn out of order then.
        self.ticket = self._connection.execute(
            "SELECT (extract(epoch FROM clock_timestamp()) * 10)::bigint % 2147483648"
        ).fetchone()[0]
        self._queue: int | None = None  # the queue this waiter stands in
        self.held = False

    def try_take(self) -> bool:
        """Take a host slot and a cluster slot, or neither; False when it must wait."""
        limits = self.limits
        host_queue = _key("host-queue", limits.family, self.hostname) if limits.host else None
        cluster_queue = _key("cluster-queue", limits.family) if limits.cluster else None
        ahead = self._queues_with_older_waiters({host_queue, cluster_queue} - {None})
        host_full = (f"waiting for a free {limits.family} slot on this host "
                     f"({limits.host} of {limits.host} in use)")  # fmt: skip
        if host_queue in ahead:
            return self._wait_in(host_queue, host_full)
        host = self._take_one(host_key(limits.family, self.hostname), limits.host)
        if host is False:
            return self._wait_in(host_queue, host_full)
        cluster = (
            False
            if cluster_queue in ahead
            else self._take_one(cluster_key(limits.family), limits.cluster)
        )
        if cluster is False:
            if host is not None:
                self._connection.execute(
                    "SELECT pg_advisory_unlock(%s, %s)",
                    [host_key(limits.family, self.hostname), host],
                )
            return self._wait_in(cluster_queue, (
                f"waiting for a free {limits.family} slot "
                f"({limits.cluster} of {limits.cluster} in use)"
            ))  # fmt: skip
        self._leave_queue()
        self._connection.execute("SELECT pg_advisory_lock_shared(%s, 0)", [use_key(limits.family)])
        self.full, self.held = "", True
        return True

    def _queues_with_older_waiters(self, queues: set[int]) -> set[int]:
        if not queues:
            return set()
        rows = self._connection.execute(
            """
            SELECT DISTINCT classid::bigint FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 2
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid::bigint = ANY(%s) AND objid::bigint < %s
               AND pid <> pg_backend_pid()
            """,
            [list(queues), self.ticket],
        ).fetchall()
        return {row[0] for row in rows}

    def _wait_in(self, queue: int, reason: str) -> bool:
        if queue != self._queue:
            self._leave_queue()
            self._connection.execute("SELECT pg_advisory_lock_shared(%s, %s)", [queue, self.ticket])
            self._queue = queue
        self.full = reason
        return False

    def _leave_queue(self) -> None:
        if self._queue is not None:
            self._connection.execute(
                "SELECT pg_advisory_unlock_shared(%s, %s)", [self._queue, self.ticket]
            )
            self._queue = None

    def _take_one(self, key: int, limit: int) -> int | None | bool:
        """Return the slot index taken, None when there is no limit, False when all are taken."""
        if not limit:
            return None
        for index in range(limit):
            taken = self._connection.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [key, index]
            ).fetchone()[0]
            if taken:
                return index
        return False

    def release(self) -> None:
        if self.held and not self._connection.closed:
            # The "in use" mark goes first, so that nobody counts this holder and the next
            # one at once; closing the session then frees every lock it took.
            with contextlib.suppress(psycopg.Error):
                self._connection.execute(
                    "SELECT pg_advisory_unlock_shared(%s, 0)", [use_key(self.limits.family)]
                )
        self.held = False
        self._connection.close()


def slot_wait(
    family: str,
    *,
    check: Callable[[], None],
    on_wait: Callable[[str], None],
    hostname: str | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> Slot:
    """Return a held slot of the family, waiting as long as it takes.

    `check` is called between tries and raises to give up (a cancelled job); `on_wait` is
    told why the task waits, once each time the reason changes.
    """
    slot = Slot(family_limits(family), hostname=hostname)
    try:
        said = ""
        started = time.monotonic()
        while not slot.try_take():
            if slot.full != said:
                said = slot.full
                on_wait(said)
            check()
            time.sleep(poll_seconds * random.uniform(0.5, 1.5))
        if said:
            logger.info("took a %s slot after waiting %.1f s", family, time.monotonic() - started)
        return slot
    except BaseException:
        slot.release()
        raise


@contextlib.contextmanager
def family_slot(
    family: str | None, *, check: Callable[[], None], on_wait: Callable[[str], None]
) -> Iterator[None]:
    """Hold a slot of the family for the block; no slot when the family has no limit."""
    if family is None or not family_limits(family).limited:
        yield
        return
    slot = slot_wait(family, check=check, on_wait=on_wait)
    try:
        yield
    finally:
        slot.release()


def slots_in_use() -> dict[str, Counter[str]]:
    """Return the slots held now, per family and holding host, across the cluster."""
    families = {use_key(family): family for family in queueing.FAMILIES}
    with connection.cursor() as cursor:
        # Advisory locks belong to one database: other databases' holders do not count.
        cursor.execute(
            """
            SELECT locks.classid::bigint, activity.application_name
              FROM pg_locks AS locks
              LEFT JOIN pg_stat_activity AS activity ON activity.pid = locks.pid
             WHERE locks.locktype = 'advisory' AND locks.granted AND locks.objsubid = 2
               AND locks.objid = 0 AND locks.mode = 'ShareLock'
               AND locks.database = (SELECT oid FROM pg_database
                                      WHERE datname = current_database())
               AND locks.classid::bigint = ANY(%s)
            """,
            [list(families)],
        )
        rows = cursor.fetchall()
    held: dict[str, Counter[str]] = {}
    for key, application in rows:
        # Another role's sessions show no application name without pg_read_all_stats.
        host = (application or "").removeprefix(_APPLICATION_PREFIX) or "?"
        held.setdefault(families[key], Counter())[host] += 1
    return held


def limits_overview() -> list[dict]:
    """Return each family's limits, its tasks running and waiting now, and its recycling."""
    doing = dict(
        ProcrastinateJob.objects.filter(status="doing")
        .values_list("task_name")
        .annotate(count=Count("id"))
    )
    held = slots_in_use()
    rows = []
    for family in queueing.FAMILIES:
        limits = family_limits(family)
        tasks = sorted(name for name, of in queueing.TASK_FAMILIES.items() if of == family)
        doing_count = sum(doing.get(name, 0) for name in tasks)
        hosts = held.get(family, Counter())
        # Without a limit no slot is taken: every task of the family that a worker holds runs.
        in_use = sum(hosts.values()) if limits.limited else doing_count
        rows.append(
            {
                "family": family,
                "tasks": tasks,
                "host_limit": limits.host,
                "cluster_limit": limits.cluster,
                "in_use": in_use,
                "hosts": sorted(hosts.items()),
                "waiting": max(doing_count - in_use, 0),
                "recycle_tasks": limits.recycle_tasks,
                "recycle_mb": limits.recycle_mb,
            }
        )
    return rows
