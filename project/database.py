"""The database: DATABASE_URL when set, otherwise an embedded PostgreSQL in the data folder."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import dj_database_url

logger = logging.getLogger("slidecast.database")


def database_config(*, data_dir: Path) -> dict[str, Any]:
    """Return Django's DATABASES["default"], starting the embedded server when needed."""
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=0)
    else:
        config = dj_database_url.parse(embedded_database_url(data_dir / "postgres"))
    config.setdefault("OPTIONS", {})
    config["TEST"] = {"NAME": os.environ.get("SLIDECAST_TEST_DATABASE", "test_slidecast")}
    return config


# initdb's defaults (128 MB of shared buffers) leave a persona's vector index and passages
# to be read from the OS cache on every search once they pass about 50,000 passages.
EMBEDDED_SETTINGS = """\
# Written by Slidecast (project/database.py); read when the embedded server starts.
shared_buffers = 256MB
effective_cache_size = 1GB
maintenance_work_mem = 256MB
work_mem = 16MB
"""
_INCLUDE = "include_if_exists = 'slidecast.conf'\n"


def embedded_server_tuning(pgdata: Path) -> bool:
    """Make the embedded server read slidecast.conf; True when something was written.

    Written before the server starts it takes effect now, else at the server's next start
    (it stops when the last process using it exits).
    """
    conf = pgdata / "postgresql.conf"
    if not conf.exists():
        return False
    written = False
    ours = pgdata / "slidecast.conf"
    if not ours.exists() or ours.read_text() != EMBEDDED_SETTINGS:
        ours.write_text(EMBEDDED_SETTINGS)
        written = True
    if _INCLUDE not in conf.read_text():
        with conf.open("a") as handle:
            handle.write("\n" + _INCLUDE)
        written = True
    return written


def embedded_database_url(pgdata: Path) -> str:
    """Start (or join) the embedded PostgreSQL in pgdata and return its URL."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    embedded_server_tuning(pgdata)
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; its fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver  # only needed when no DATABASE_URL is given

        # 'stop' shuts the server down when the last process using it exits, so nothing
        # lingers after a CLI run, while web and worker processes share one server.
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    if embedded_server_tuning(pgdata):
        # A new data folder: all but shared_buffers apply at once, that one at the next start.
        server.psql("SELECT pg_reload_conf();")
    uri = server.get_uri()
    logger.debug("embedded PostgreSQL at %s", uri)
    return uri
