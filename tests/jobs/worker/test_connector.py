"""The worker's pool: sessions in autocommit that never plan a sort (jobs.worker.connector)."""

from __future__ import annotations

import asyncio

import pytest
from procrastinate.contrib.django import app


@pytest.mark.django_db(transaction=True)
def test_worker_sessions_run_in_autocommit_and_never_sort():
    connector = app.connector.get_worker_connector()  # what `procrastinate worker` opens

    async def session_settings():
        await connector.open_async()
        try:
            async with connector.pool.connection() as session:
                cursor = await session.execute("SHOW enable_sort")
                return session.autocommit, (await cursor.fetchone())[0]
        finally:
            await connector.close_async()

    assert asyncio.run(session_settings()) == (True, "off")
