"""The embedded PostgreSQL is given memory settings fit for vector search."""

from __future__ import annotations

import os
from pathlib import Path

from django.db import connection

from project.database import EMBEDDED_SETTINGS, embedded_server_tuning


def test_the_settings_are_included_once_and_only_into_an_initialised_folder(tmp_path: Path):
    assert embedded_server_tuning(tmp_path) is False  # no server there yet: nothing to do
    conf = tmp_path / "postgresql.conf"
    conf.write_text("max_connections = 100\n")
    assert embedded_server_tuning(tmp_path) is True
    assert embedded_server_tuning(tmp_path) is False
    assert conf.read_text().count("include_if_exists = 'slidecast.conf'") == 1
    assert (tmp_path / "slidecast.conf").read_text() == EMBEDDED_SETTINGS


def test_the_running_server_uses_them(db, settings):
    if os.environ.get("DATABASE_URL"):
        return  # an external server is configured by its operators
    with connection.cursor() as cursor:
        cursor.execute("SHOW maintenance_work_mem")
        assert cursor.fetchone()[0] == "256MB"
