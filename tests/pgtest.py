"""A real PostgreSQL server for the sink's tests: started by the fixtures, stopped after them.

Skips (with the reason) when asyncpg or the server binaries (Debian's ``postgresql`` package;
``.ci/run`` installs it) are missing.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from hftcore.sink.localpg import LocalPostgres, find_bin_dir

_names = itertools.count(1)


def need_postgres() -> None:
    """Skip the calling test unless asyncpg and a PostgreSQL server are installed."""
    pytest.importorskip("asyncpg", reason="asyncpg is not installed (pip install "
                                          "'hftcore[postgres]')")
    if find_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not found: apt-get install -y postgresql "
                    "(or set HFTCORE_PG_BIN)")


@pytest.fixture(scope="module")
def pg() -> Iterator[LocalPostgres]:
    """A server shared by one test module (each test takes its own schema)."""
    need_postgres()
    server = LocalPostgres()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def own_pg() -> Iterator[LocalPostgres]:
    """A server of one test's own (restarted or stopped by it)."""
    need_postgres()
    server = LocalPostgres()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def schema() -> str:
    """A schema name no other test uses."""
    return f"t{next(_names)}"


def query(dsn: str, sql: str, *args: Any) -> list[Any]:
    """Rows of one query (a connection of its own)."""
    import asyncpg

    async def run() -> list[Any]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def count(dsn: str, table: str) -> int:
    """Rows in ``table``."""
    return int(query(dsn, f"SELECT count(*) FROM {table}")[0][0])
