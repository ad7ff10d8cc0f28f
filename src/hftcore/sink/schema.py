"""The database schema of the sink: tables, their idempotent keys, and the migrations.

Every table lives in one PostgreSQL schema (``hftcore`` by default).  Each row carries the
``run`` it belongs to (one sink, one run) and a key made of natural ids - a client order id and
a venue trade id, an order's event number, a sample's time - so writing a row twice (a batch
replayed from the spill file after a connection broke at commit) leaves one row.

Times are ``timestamptz`` (``ts``, microseconds, for time queries and TimescaleDB) next to the
exact nanoseconds (``ts_ns``).  Prices, sizes and money are ``numeric``: exact decimals at the
instrument's decimals (money of ``strategy_pnl`` at 8 decimals, quote currencies at par).

Migrations are numbered; :func:`migrate` applies those a database lacks, each in its own
transaction, and records them in ``<schema>.schema_migrations``.  Version 2 adds the indexes a
desk's queries use (fills by strategy and time, by instrument and time; PnL by strategy and day),
the ``daily_pnl`` view, and - when the TimescaleDB extension is available - turns the time-series
tables into hypertables (plain tables otherwise).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HYPERTABLES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "Table",
    "check_schema_name",
    "current_version",
    "migrate",
    "timescale_available",
]


@dataclass(frozen=True, slots=True)
class Table:
    """One table the sink writes.

    ``columns`` are ``(name, sql type, kind)``; ``kind`` says how a queued row's value becomes
    the column's value: ``""`` as is, ``"t"`` int ns -> timestamptz, ``"p"`` / ``"s"`` / ``"v"``
    a raw int at the row's price / size / value (price + size) decimals -> numeric, ``"8"`` a
    raw int at 8 decimals -> numeric.  A queued row is the columns' values in order followed
    by the instrument's price and size decimals (0, 0 for rows without an instrument).
    ``key`` is the idempotent key; ``upsert`` names the column whose larger value wins when
    the same key comes again (orders: their latest state), otherwise the first row stays.
    """

    name: str
    columns: tuple[tuple[str, str, str], ...]
    key: tuple[str, ...]
    upsert: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        """The columns' names, in order."""
        return tuple(c[0] for c in self.columns)


def _t(name: str, cols: str, key: str, upsert: str = "") -> Table:
    out = []
    for part in cols.split(","):
        bits = part.split()
        name_, kind = bits[0], ""
        if ":" in name_:
            name_, kind = name_.split(":")
        out.append((name_, " ".join(bits[1:]), kind))
    return Table(name, tuple(out), tuple(k.strip() for k in key.split(",")), upsert)


TABLES: dict[str, Table] = {t.name: t for t in (
    _t("runs", "run text NOT NULL, started:t timestamptz NOT NULL, started_ns bigint NOT NULL,"
               "mode text NOT NULL, session text NOT NULL, host text NOT NULL, pid integer,"
               "instruments jsonb NOT NULL, config_sha256 text", "run"),
    _t("orders", "run text NOT NULL, client_order_id text NOT NULL, strategy text NOT NULL,"
                 "venue text NOT NULL, symbol text NOT NULL, side text NOT NULL,"
                 "order_type text NOT NULL, tif text NOT NULL, price:p numeric,"
                 "size:s numeric NOT NULL, filled:s numeric NOT NULL, status text NOT NULL,"
                 "reason text NOT NULL, venue_order_id text,"
                 "created:t timestamptz NOT NULL, created_ns bigint NOT NULL,"
                 "updated:t timestamptz NOT NULL, updated_ns bigint NOT NULL,"
                 "last_seq integer NOT NULL", "run, client_order_id", upsert="last_seq"),
    _t("order_events", "run text NOT NULL, client_order_id text NOT NULL, seq integer NOT NULL,"
                       "ts:t timestamptz NOT NULL, ts_ns bigint NOT NULL, status text NOT NULL,"
                       "event text NOT NULL", "run, client_order_id, seq, ts"),
    _t("fills", "run text NOT NULL, client_order_id text NOT NULL, trade_id text NOT NULL,"
                "ts:t timestamptz NOT NULL, ts_ns bigint NOT NULL, strategy text NOT NULL,"
                "venue text NOT NULL, symbol text NOT NULL, side text NOT NULL,"
                "qty:s numeric NOT NULL, price:p numeric NOT NULL, liquidity text NOT NULL,"
                "fee:v numeric NOT NULL", "run, client_order_id, trade_id, ts"),
    _t("positions", "run text NOT NULL, strategy text NOT NULL, venue text NOT NULL,"
                    "symbol text NOT NULL, ts:t timestamptz NOT NULL, ts_ns bigint NOT NULL,"
                    "net:s numeric NOT NULL, avg_price:p numeric, mark:p numeric,"
                    "realized_pnl:v numeric NOT NULL, unrealized_pnl:v numeric NOT NULL,"
                    "fees:v numeric NOT NULL, turnover:v numeric NOT NULL",
       "run, strategy, venue, symbol, ts"),
    _t("risk_events", "run text NOT NULL, seq bigint NOT NULL, ts:t timestamptz NOT NULL,"
                      "ts_ns bigint NOT NULL, kind text NOT NULL, reason text NOT NULL,"
                      "client_order_id text, detail text NOT NULL", "run, seq, ts"),
    _t("strategy_pnl", "run text NOT NULL, strategy text NOT NULL, ts:t timestamptz NOT NULL,"
                       "ts_ns bigint NOT NULL, pnl:8 numeric NOT NULL,"
                       "realized:8 numeric NOT NULL, unrealized:8 numeric NOT NULL,"
                       "orders bigint NOT NULL, fills bigint NOT NULL, failures integer NOT NULL",
       "run, strategy, ts"),
    _t("book_samples", "run text NOT NULL, venue text NOT NULL, symbol text NOT NULL,"
                       "ts:t timestamptz NOT NULL, ts_ns bigint NOT NULL, bid:p numeric,"
                       "bid_size:s numeric, ask:p numeric, ask_size:s numeric",
       "run, venue, symbol, ts"),
    _t("trades", "run text NOT NULL, venue text NOT NULL, symbol text NOT NULL,"
                 "seq bigint NOT NULL, ts:t timestamptz NOT NULL, ts_ns bigint NOT NULL,"
                 "price:p numeric NOT NULL, size:s numeric NOT NULL, side text NOT NULL,"
                 "trade_id bigint NOT NULL", "run, venue, symbol, seq, ts"),
)}

#: the time-series tables (hypertables on ``ts`` when TimescaleDB is present)
HYPERTABLES = ("order_events", "fills", "positions", "risk_events", "strategy_pnl",
               "book_samples", "trades")

log = logging.getLogger("hftcore.sink")

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(schema: str) -> str:
    """``schema`` if it is a plain lower-case SQL identifier (it is put into SQL text)."""
    if not isinstance(schema, str):
        raise TypeError(f"schema must be a str, got {type(schema).__name__}")
    if not _NAME.match(schema):
        raise ValueError(f"schema must be a lower-case SQL identifier, got {schema!r}")
    return schema


def _create_table(schema: str, t: Table) -> str:
    cols = ", ".join(f"{n} {typ}" for n, typ, _ in t.columns)
    return (f"CREATE TABLE IF NOT EXISTS {schema}.{t.name} ({cols}, "
            f"PRIMARY KEY ({', '.join(t.key)}))")


def _v1(schema: str) -> list[str]:
    return [f"CREATE SCHEMA IF NOT EXISTS {schema}"] + [
        _create_table(schema, t) for t in TABLES.values()]


def _v2(schema: str) -> list[str]:
    s = schema
    return [
        f"CREATE INDEX IF NOT EXISTS fills_strategy_ts ON {s}.fills (strategy, ts)",
        f"CREATE INDEX IF NOT EXISTS fills_instrument_ts ON {s}.fills (venue, symbol, ts)",
        f"CREATE INDEX IF NOT EXISTS order_events_ts ON {s}.order_events (ts)",
        f"CREATE INDEX IF NOT EXISTS orders_strategy_created ON {s}.orders (strategy, created)",
        f"CREATE INDEX IF NOT EXISTS strategy_pnl_strategy_ts ON {s}.strategy_pnl "
        "(strategy, ts)",
        f"CREATE INDEX IF NOT EXISTS risk_events_kind_ts ON {s}.risk_events (kind, ts)",
        f"CREATE INDEX IF NOT EXISTS positions_instrument_ts ON {s}.positions "
        "(venue, symbol, ts)",
        # PnL by day: each run and strategy's last sample of each UTC day
        f"""CREATE OR REPLACE VIEW {s}.daily_pnl AS
            SELECT DISTINCT ON (run, strategy, day) run, strategy,
                   (ts AT TIME ZONE 'UTC')::date AS day, pnl, realized, unrealized, orders,
                   fills, ts AS as_of
            FROM (SELECT *, (ts AT TIME ZONE 'UTC')::date AS day FROM {s}.strategy_pnl) p
            ORDER BY run, strategy, day, ts DESC""",
    ]


#: version -> SQL statements (functions of the schema name); applied in order
MIGRATIONS: dict[int, Any] = {1: _v1, 2: _v2}
SCHEMA_VERSION = max(MIGRATIONS)


async def timescale_available(conn: Any) -> bool:
    """Whether TimescaleDB is installed in the database or can be (``CREATE EXTENSION``)."""
    have = await conn.fetchval(
        "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
    if have:
        return True
    avail = await conn.fetchval(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
    return bool(avail)


async def current_version(conn: Any, schema: str = "hftcore") -> int:
    """The schema's migration version (0: not created)."""
    check_schema_name(schema)
    exists = await conn.fetchval(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 "
        "AND table_name = 'schema_migrations'", schema)
    if not exists:
        return 0
    v = await conn.fetchval(f"SELECT max(version) FROM {schema}.schema_migrations")
    return int(v or 0)


async def migrate(conn: Any, schema: str = "hftcore", target: int | None = None,
                  timescale: bool | None = None) -> list[int]:
    """Apply the migrations ``conn``'s database lacks, up to ``target`` (the latest by default).

    Each migration runs in its own transaction with its record in ``schema_migrations``; a
    concurrent migrator waits on a lock.  ``timescale``: make hypertables (True), plain tables
    (False) or hypertables when the extension is available (None).  Returns the versions
    applied.  A database at a newer version than this hftcore knows raises ``RuntimeError``.
    """
    check_schema_name(schema)
    if target is not None and (isinstance(target, bool) or not isinstance(target, int)):
        raise TypeError(f"target must be an int or None, got {type(target).__name__}")
    if timescale is not None and not isinstance(timescale, bool):
        raise TypeError(f"timescale must be a bool or None, got {type(timescale).__name__}")
    target = SCHEMA_VERSION if target is None else target
    if target not in MIGRATIONS:
        raise ValueError(f"target must be one of {sorted(MIGRATIONS)}, got {target}")
    applied: list[int] = []
    async with conn.transaction():
        # one migrator at a time (two engines starting together)
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"hftcore:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (version integer PRIMARY "
            "KEY, applied timestamptz NOT NULL DEFAULT now(), hypertables boolean NOT NULL "
            "DEFAULT false)")
    version = await current_version(conn, schema)
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"the database schema {schema} is at version {version}; this "
                           f"hftcore knows versions up to {SCHEMA_VERSION}: upgrade hftcore")
    use_ts = False
    for v in sorted(MIGRATIONS):
        if v <= version or v > target:
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"hftcore:{schema}")
            if await current_version(conn, schema) >= v:     # another migrator was first
                continue
            for sql in MIGRATIONS[v](schema):
                await conn.execute(sql)
            if v == 2:
                use_ts = await _hypertables(conn, schema, timescale)
            await conn.execute(
                f"INSERT INTO {schema}.schema_migrations (version, hypertables) VALUES ($1, $2)",
                v, use_ts)
        applied.append(v)
    return applied


async def _hypertables(conn: Any, schema: str, timescale: bool | None) -> bool:
    """Turn the time-series tables into TimescaleDB hypertables when asked / available."""
    if timescale is False:
        return False
    if timescale is None and not await timescale_available(conn):
        return False
    try:
        async with conn.transaction():      # a savepoint: a failure leaves plain tables
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            for name in HYPERTABLES:
                await conn.execute(
                    "SELECT create_hypertable($1::regclass, 'ts', if_not_exists => TRUE, "
                    "migrate_data => TRUE)", f"{schema}.{name}")
    except Exception as exc:
        if timescale:
            raise
        log.warning("TimescaleDB is available but hypertables failed (%s): plain tables", exc)
        return False
    return True
