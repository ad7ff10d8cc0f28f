"""Persistence in PostgreSQL / TimescaleDB: the database sink, its schema and migrations.

* :class:`DatabaseSink` - watches an :class:`~hftcore.Engine` off the hot path and writes its
  orders (and their life cycle), fills, positions, risk events and strategy PnL - optionally
  top-of-book samples and public trades - with batched ``COPY``; a database that is down or slow
  never blocks trading (bounded queue, bounded spill directory, replay, idempotent keys);
* :mod:`hftcore.sink.schema` - the tables and :func:`migrate` (``python -m hftcore db init |
  migrate | status | replay``);
* :class:`LocalPostgres` - a throw-away cluster on 127.0.0.1 for tests and benchmarks.

Needs ``asyncpg``: ``pip install 'hftcore[postgres]'``.  See docs/persistence.md.
"""

from __future__ import annotations

from hftcore.sink.database import DatabaseSink
from hftcore.sink.localpg import LocalPostgres, find_bin_dir
from hftcore.sink.schema import SCHEMA_VERSION, TABLES, current_version, migrate
from hftcore.sink.spill import SpillDir

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "DatabaseSink",
    "LocalPostgres",
    "SpillDir",
    "current_version",
    "find_bin_dir",
    "migrate",
]
