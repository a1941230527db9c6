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


def embedded_database_url(pgdata: Path) -> str:
    """Start (or join) the embedded PostgreSQL in pgdata and return its URL."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; its fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver  # only needed when no DATABASE_URL is given

        # 'stop' shuts the server down when the last process using it exits, so nothing
        # lingers after a CLI run, while web and worker processes share one server.
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    uri = server.get_uri()
    logger.debug("embedded PostgreSQL at %s", uri)
    return uri
