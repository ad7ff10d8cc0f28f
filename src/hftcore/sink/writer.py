"""Writing batches of rows into PostgreSQL: COPY into staging tables, then one idempotent insert.

A batch goes in one transaction: per table, ``COPY`` (binary, asyncpg's
``copy_records_to_table``) of the rows as they are queued - raw ints and text, the instrument's
decimals last - into a temporary staging table, then ``INSERT INTO <table> SELECT ... FROM
<staging> ON CONFLICT (<key>) DO NOTHING`` - or, for ``orders``, ``DO UPDATE`` when the incoming
row is a later state of the order.  The ``SELECT`` makes the exact decimals (``round(raw *
10^-decimals, decimals)``) and the timestamps (from int ns) in the server, so the writer thread
does no per-value work in Python (it shares the GIL with the engine).  A batch written twice
leaves the tables as once, which is what lets the sink replay its spill without asking what the
database already has.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import re
import time
from collections.abc import Iterable
from decimal import Context, Decimal
from typing import Any

from hftcore.sink.schema import TABLES, Table, check_schema_name, current_version, migrate
from hftcore.sink.spill import Batch

__all__ = ["PgWriter", "insert_sql", "is_transient", "mask_dsn", "merge", "stage_ddl",
           "to_records"]

_PASSWORD = re.compile(r"(://[^:/@]*:)([^@]*)(@)")


def mask_dsn(text: str, dsn: str = "") -> str:
    """``text`` with every password of a URL-style DSN (and of ``dsn``) replaced by ``***``."""
    out = _PASSWORD.sub(r"\1***\3", text)
    m = _PASSWORD.search(dsn)
    if m and m.group(2):
        out = out.replace(m.group(2), "***")
    for kv in re.finditer(r"password\s*=\s*(\S+)", dsn):
        out = out.replace(kv.group(1), "***")
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", out)

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EXACT = Context(prec=120)


def _ts(ns: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


def _dec(raw: int | None, decimals: int) -> Decimal | None:
    if raw is None:
        return None
    return Decimal(raw).scaleb(-decimals, _EXACT)


def to_records(table: Table, rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Queued rows (ints and text, instrument decimals last) as the table's column values."""
    kinds = [c[2] for c in table.columns]
    n = len(kinds)
    plain = all(not k for k in kinds)
    out = []
    for row in rows:
        if len(row) != n + 2:
            raise ValueError(f"{table.name}: a row of {len(row)} values, expected {n + 2}")
        if plain:
            out.append(tuple(row[:n]))
            continue
        pdec, sdec = row[n], row[n + 1]
        vals = []
        for k, v in zip(kinds, row, strict=False):
            if not k:
                vals.append(v)
            elif k == "t":
                vals.append(_ts(v))
            elif k == "p":
                vals.append(_dec(v, pdec))
            elif k == "s":
                vals.append(_dec(v, sdec))
            elif k == "v":
                vals.append(_dec(v, pdec + sdec))
            else:                        # "8": money at 8 decimals
                vals.append(_dec(v, 8))
        out.append(tuple(vals))
    return out


_COPY_CHUNK = 4096        # records per COPY call: the engine thread gets the GIL in between


def _raw_type(typ: str, kind: str) -> str:
    if kind == "t":
        return "bigint"
    if kind:
        return "numeric"
    return typ.replace(" NOT NULL", "")


def stage_ddl(schema: str, t: Table) -> str:
    """The temporary staging table of ``t``: its columns with the queued (raw) types, then the
    instrument's decimals."""
    cols = ", ".join(f"{n} {_raw_type(typ, k)}" for n, typ, k in t.columns)
    return (f"CREATE TEMP TABLE IF NOT EXISTS stage_{t.name} ({cols}, pdec smallint, "
            "sdec smallint) ON COMMIT DELETE ROWS")


def _expr(name: str, kind: str) -> str:
    if kind == "t":
        return (f"to_timestamp({name} / 1000000000) + (({name} % 1000000000) / 1000) "
                "* interval '1 microsecond'")
    if not kind:
        return name
    dec = {"p": "pdec", "s": "sdec", "v": "(pdec + sdec)", "8": "8"}[kind]
    return f"round({name} * (10::numeric ^ (-{dec})), {dec})"


def insert_sql(schema: str, t: Table) -> str:
    """``INSERT INTO <schema>.<table> SELECT <conversions> FROM stage_<table> ON CONFLICT``."""
    names = ", ".join(t.column_names)
    exprs = ", ".join(_expr(n, k) for n, _, k in t.columns)
    key = ", ".join(t.key)
    if t.upsert:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in t.column_names if c not in t.key)
        tail = f"DO UPDATE SET {sets} WHERE {schema}.{t.name}.{t.upsert} < EXCLUDED.{t.upsert}"
    else:
        tail = "DO NOTHING"
    return (f"INSERT INTO {schema}.{t.name} ({names}) SELECT {exprs} FROM stage_{t.name} "
            f"ON CONFLICT ({key}) {tail}")


def merge(batches: Iterable[Batch]) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of several batches grouped by table (unknown tables raise ``ValueError``)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for batch in batches:
        for table, rows in batch:
            if table not in TABLES:
                raise ValueError(f"unknown sink table {table!r}")
            out.setdefault(table, []).extend(rows)
    return out


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is unreachable or going away (retry later), rather
    than that the rows themselves were refused."""
    import asyncpg

    if isinstance(exc, OSError | asyncio.TimeoutError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.PostgresConnectionError):
        return True
    # class 57 (operator intervention: shutdown, cannot connect now), 53 (resources)
    code = getattr(exc, "sqlstate", None) or ""
    return code.startswith(("57", "53", "08"))


class PgWriter:
    """One connection to PostgreSQL and the statements that write a batch.

    Parameters
    ----------
    dsn : str
        libpq connection string or URL (pass it from a secret, never log it).
    schema : str
        The schema of the tables.
    create_schema : bool
        Create or migrate the schema on the first connection when it is behind.
    connect_timeout, command_timeout : float
        Seconds to wait for a connection / a statement before giving up (the batch then goes
        to the spill).
    """

    def __init__(self, dsn: str, schema: str = "hftcore", *, create_schema: bool = True,
                 connect_timeout: float = 2.0, command_timeout: float = 10.0) -> None:
        self._dsn = dsn
        self.schema = check_schema_name(schema)
        self.create_schema = create_schema
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._conn: Any = None

    def __repr__(self) -> str:               # the DSN may hold a password: never shown
        return f"PgWriter(schema={self.schema!r}, connected={self._conn is not None})"

    @property
    def connected(self) -> bool:
        """Whether a connection is open."""
        return self._conn is not None and not self._conn.is_closed()

    async def connect(self) -> None:
        """Open the connection (a no-op when open), check or create the schema, and make the
        staging tables."""
        if self.connected:
            return
        import asyncpg

        await self.close()
        try:
            conn = await asyncpg.connect(self._dsn, timeout=self.connect_timeout,
                                         command_timeout=self.command_timeout)
        except Exception as exc:     # whatever it is, the rows are not the problem: retry
            raise ConnectionError(mask_dsn(f"cannot connect: {type(exc).__name__}: {exc}",
                                           self._dsn)) from None
        try:
            from hftcore.sink.schema import SCHEMA_VERSION

            version = await current_version(conn, self.schema)
            if version < SCHEMA_VERSION:
                if not self.create_schema:
                    raise RuntimeError(
                        f"schema {self.schema} is at version {version}, the sink needs "
                        f"{SCHEMA_VERSION}: run `python -m hftcore db migrate`")
                await migrate(conn, self.schema)
            for t in TABLES.values():
                await conn.execute(stage_ddl(self.schema, t))
        except RuntimeError as exc:   # schema behind and not ours to migrate: wait for it
            conn.terminate()
            raise ConnectionError(str(exc)) from None
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn

    async def close(self) -> None:
        """Close the connection (quietly; a broken one is dropped)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(), timeout=self.connect_timeout)
        except Exception:
            conn.terminate()

    async def write(self, tables: dict[str, list[tuple[Any, ...]]]) -> tuple[int, int]:
        """Write rows grouped by table in one transaction; returns (rows given, rows new).

        Raises what asyncpg raises; the connection is dropped on any error so the next call
        starts clean.
        """
        for name, rows in tables.items():          # before anything is sent
            n = len(TABLES[name].columns) + 2
            for row in rows:
                if len(row) != n:
                    raise ValueError(f"{name}: a row of {len(row)} values, expected {n}")
        await self.connect()
        conn = self._conn
        given = new = 0
        try:
            async with conn.transaction():
                for name, rows in tables.items():
                    if not rows:
                        continue
                    t = TABLES[name]
                    recs = _latest(t, rows) if t.upsert else rows
                    given += len(rows)
                    new += await self._insert(conn, t, recs)
        except BaseException:
            await self.close()
            raise
        return given, new

    async def _insert(self, conn: Any, t: Table, recs: list[tuple[Any, ...]]) -> int:
        cols = (*t.column_names, "pdec", "sdec")
        for i in range(0, len(recs), _COPY_CHUNK):
            await conn.copy_records_to_table(f"stage_{t.name}", records=recs[i:i + _COPY_CHUNK],
                                             columns=cols)
            time.sleep(0)                # let a waiting engine thread have the GIL
        status = await conn.execute(insert_sql(self.schema, t))
        return int(status.rsplit(" ", 1)[-1])


def _latest(t: Table, recs: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One record per key: the one with the largest ``upsert`` column (an upsert may not touch
    a row twice in one statement)."""
    names = t.column_names
    kidx = [names.index(k) for k in t.key]
    uidx = names.index(t.upsert)
    best: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for r in recs:
        k = tuple(r[i] for i in kidx)
        old = best.get(k)
        if old is None or r[uidx] > old[uidx]:
            best[k] = r
    return list(best.values())
