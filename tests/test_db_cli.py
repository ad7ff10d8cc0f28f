"""``python -m hftcore db init | migrate | status | replay`` against a real PostgreSQL server;
the schema's migrations; the TimescaleDB path (hypertables when the extension is there)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pgtest
import pytest
from pgtest import count, query

from hftcore.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from hftcore.sink import SCHEMA_VERSION, LocalPostgres, SpillDir
from hftcore.sink.schema import HYPERTABLES, TABLES, migrate

pg = pgtest.pg
schema = pgtest.schema


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["db", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_init_status_and_init_again(pg: LocalPostgres, schema: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--dsn", pg.dsn, "--schema", schema)
    assert code == EXIT_OK and f"version 0 of {SCHEMA_VERSION}" in out
    code, out, _ = run(capsys, "init", "--dsn", pg.dsn, "--schema", schema)
    assert code == EXIT_OK and f"version 0 -> {SCHEMA_VERSION}" in out
    tables = {r[0] for r in query(pg.dsn, "SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = $1", schema)}
    assert set(TABLES) | {"schema_migrations", "daily_pnl"} <= tables
    code, out, _ = run(capsys, "init", "--dsn", pg.dsn, "--schema", schema)
    assert code == EXIT_OK and "nothing to do" in out
    code, out, _ = run(capsys, "status", "--dsn", pg.dsn, "--schema", schema)
    assert f"version {SCHEMA_VERSION} of {SCHEMA_VERSION} (current); plain tables" in out


def test_migrate_from_version_one_adds_the_desk_indexes(pg: LocalPostgres, schema: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFTCORE_PG_DSN", pg.dsn)          # the DSN from the environment
    code, out, _ = run(capsys, "migrate", "--schema", schema, "--to", "1")
    assert code == EXIT_OK and "version 0 -> 1" in out

    def indexes() -> set[str]:
        return {r[0] for r in query(pg.dsn, "SELECT indexname FROM pg_indexes WHERE "
                                            "schemaname = $1", schema)}

    assert "fills_strategy_ts" not in indexes()
    code, out, _ = run(capsys, "migrate", "--schema", schema)
    assert code == EXIT_OK and f"version 1 -> {SCHEMA_VERSION} (applied 2)" in out
    assert {"fills_strategy_ts", "fills_instrument_ts", "strategy_pnl_strategy_ts"} <= indexes()
    # "fills of a strategy in a time range" can be answered from the index
    import asyncpg

    async def plan() -> str:
        conn = await asyncpg.connect(pg.dsn)
        try:
            await conn.execute("SET enable_seqscan = off")
            rows = await conn.fetch(f"EXPLAIN SELECT * FROM {schema}.fills WHERE strategy = "
                                    "'mm' AND ts > now() - interval '1 day'")
            return "\n".join(r[0] for r in rows)
        finally:
            await conn.close()

    assert "fills_strategy_ts" in asyncio.run(plan())


def test_db_errors_are_one_line_and_hide_the_password(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("asyncpg")
    monkeypatch.delenv("HFTCORE_PG_DSN", raising=False)
    code, _, err = run(capsys, "init")
    assert code == EXIT_USAGE and "--dsn" in err
    code, _, err = run(capsys, "init", "--dsn", "postgresql://u:hunter2@127.0.0.1:1/db",
                       "--timeout", "1")
    assert code == EXIT_FAILED and "cannot reach the database" in err
    assert "hunter2" not in err and "Traceback" not in err
    code, _, err = run(capsys, "init", "--dsn", "postgresql://u@127.0.0.1:1/db", "--schema",
                       "Bad-Name")
    assert code == EXIT_USAGE and "schema" in err
    code, _, err = run(capsys, "replay", "--dsn", "postgresql://u@127.0.0.1:1/db")
    assert code == EXIT_USAGE and "--spill" in err


def test_dsn_from_a_config_file(pg: LocalPostgres, schema: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[instruments]]\nvenue = "x"\nsymbol = "Y"\nprice_decimals = 2\n'
                   'size_decimals = 2\n[sinks.postgres]\ndsn = { env = "MY_DSN" }\n')
    monkeypatch.setenv("MY_DSN", pg.dsn)
    code, out, _ = run(capsys, "init", "--config", str(cfg), "--schema", schema)
    assert code == EXIT_OK and f"-> {SCHEMA_VERSION}" in out
    monkeypatch.delenv("MY_DSN")
    code, _, err = run(capsys, "status", "--config", str(cfg), "--schema", schema)
    assert code == EXIT_USAGE and "MY_DSN" in err


def test_replay_a_spill_directory(pg: LocalPostgres, schema: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    spill = SpillDir(tmp_path / "spill")
    row = ("r1", "c1", "t1", 1_700_000_000_000_000_000, 1_700_000_000_000_000_000, "mm",
           "binance", "BTCUSDT", "BUY", 150000, 5000010, "MAKER", 3, 2, 5)
    spill.append([("fills", [row])])
    spill.append([("fills", [row])])                     # the same fill twice
    spill.close()
    code, out, _ = run(capsys, "replay", "--dsn", pg.dsn, "--schema", schema, "--spill",
                       str(tmp_path / "spill"))
    assert code == EXIT_OK and "2 rows replayed, 1 new, 1 already there" in out
    got = query(pg.dsn, f"SELECT qty::text, price::text, fee::text FROM {schema}.fills")
    assert [tuple(r) for r in got] == [("1.50000", "50000.10", "0.0000003")]
    assert count(pg.dsn, f"{schema}.fills") == 1
    assert not list((tmp_path / "spill").glob("spill-*.bin"))


class _FakeConn:
    """Records SQL; claims TimescaleDB is available (it is not in Debian's archive)."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.version = 0

    @asynccontextmanager
    async def transaction(self) -> Any:
        yield

    async def execute(self, sql: str, *args: Any) -> str:
        self.sql.append(sql if not args else f"{sql} {args}")
        if "INSERT INTO" in sql and "schema_migrations" in sql:
            self.version = args[0]
        return "OK"

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if "information_schema.tables" in sql:
            return 1
        if "max(version)" in sql:
            return self.version
        if "pg_extension" in sql:
            return 0
        if "pg_available_extensions" in sql:
            return 1
        raise AssertionError(sql)


def test_hypertables_when_timescaledb_is_available() -> None:
    conn = _FakeConn()
    assert asyncio.run(migrate(conn, "hft")) == [1, 2]
    text = "\n".join(conn.sql)
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in text
    made = [s for s in conn.sql if "create_hypertable" in s]
    assert [m.split("('")[1].split("'")[0] for m in made] == [f"hft.{t}" for t in HYPERTABLES]
    # every hypertable's key holds its time column (TimescaleDB requires it)
    for t in HYPERTABLES:
        assert "ts" in TABLES[t].key
    plain = _FakeConn()
    asyncio.run(migrate(plain, "hft", timescale=False))
    assert not any("timescaledb" in s or "create_hypertable" in s for s in plain.sql)
