"""A run configured by one TOML file, persisted to PostgreSQL, archived to Parquet, and re-tuned
while it runs.

What it shows, end to end:

* ``hftcore.config``: instruments, risk limits, the strategy and its parameters, and the
  database sink come from one file; the database's DSN is not in it (``{ env = ... }``);
* ``hftcore.sink.DatabaseSink``: orders, their life cycle, fills, positions, risk events and PnL
  go to PostgreSQL off the engine's thread (schema created on first use, as
  ``python -m hftcore db init`` would);
* ``hftcore.config.LiveConfig``: half-way through, an edit that does not validate (a float
  where an exact amount goes) is refused and changes nothing; a valid edit then lowers a risk
  limit and a strategy parameter between two event batches; both are in the journal;
* ``hftcore.data.archive``: the run's fills and equity curve as Parquet, partitioned by venue /
  instrument / day, read back with pandas.

The market data is the bundled Coinbase recording, traded by ``hftcore.demo.MarketMaker``
through the simulated exchange.

Run: ``python examples/persist_and_reload.py [--dsn postgresql://user@host/db] [--out DIR]``.
Without ``--dsn`` a throw-away PostgreSQL server is started on 127.0.0.1 from the system's
``postgresql`` package (``apt-get install postgresql``); needs ``pip install
'hftcore[postgres,parquet]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from hftcore import Engine
from hftcore.config import LiveConfig, load_config
from hftcore.data import sample
from hftcore.data.archive import archive_result
from hftcore.data.sources import DataSources
from hftcore.sink import DatabaseSink, LocalPostgres
from hftcore.venues.sim import SimExchange

CONFIG = """\
[engine]
mode = "backtest"
fees = {{ maker = "0.0001", taker = "0.0004" }}

{instruments}

[risk.global]
max_open_orders = {max_open_orders}

[strategies.mm]
class = "hftcore.demo:MarketMaker"

[strategies.mm.params]
size_fraction = 4
max_inventory = {max_inventory}

[sinks.postgres]
dsn = {{ env = "HFTCORE_PG_DSN" }}     # the DSN may hold a password: never in the file
schema = "example"
spill_dir = "spill"
sample_interval_ms = 1000
"""


def write_config(path: Path, max_open_orders: str, max_inventory: str) -> None:
    """The configuration file (its instruments are the bundled recording's)."""
    insts = "\n\n".join(
        f'[[instruments]]\nvenue = "{i.venue}"\nsymbol = "{i.symbol}"\n'
        f"price_decimals = {i.price_decimals}\nsize_decimals = {i.size_decimals}"
        for i in sample.instruments())
    path.write_text(CONFIG.format(instruments=insts, max_open_orders=max_open_orders,
                                  max_inventory=max_inventory), encoding="utf-8")


@contextlib.contextmanager
def database(dsn: str | None) -> Iterator[str]:
    """``dsn``, or a throw-away local server's."""
    if dsn is not None:
        yield dsn
        return
    with LocalPostgres() as pg:
        yield pg.dsn


def fetch(dsn: str, sql: str, *args: Any) -> list[Any]:
    import asyncpg

    async def run() -> list[Any]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", help="a PostgreSQL DSN (default: a throw-away local server)")
    ap.add_argument("--out", type=Path, help="where the config, journal, spill and Parquet "
                                             "go (default: a temporary directory)")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="hftcore-example-"))
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "hftcore.toml"
    write_config(cfg_path, max_open_orders="40", max_inventory="5")

    with database(args.dsn) as dsn:
        os.environ["HFTCORE_PG_DSN"] = dsn          # where the file says the DSN comes from
        cfg = load_config(cfg_path)
        src = DataSources(sample.paths(), list(cfg.instruments))
        fees = cfg.engine["fees"]
        engine = Engine(list(cfg.instruments), sim=SimExchange(),
                        fees=(fees["maker"], fees["taker"]), risk=cfg.risk_engine(),
                        book_depth=src.book_depth)
        strategies = cfg.build_strategies()
        for strategy, instruments in strategies.values():
            engine.add_strategy(strategy, instruments)
        mm = strategies["mm"][0]
        sink = DatabaseSink.from_config(cfg, base=out).attach(engine)
        live = LiveConfig(cfg_path, engine, journal=out / "config-journal.jsonl")

        batches = [ev for ev in src if len(ev)]
        half = len(batches) // 2
        for k, events in enumerate(batches):
            if k == half:
                # an edit that does not validate: refused, nothing changes
                write_config(cfg_path, max_open_orders="6", max_inventory="2.5")
                bad = live.check()
                assert bad is not None
                print(f"reload {bad.result}: {bad.errors[0]}")
                print(f"  still max_open_orders={engine.risk.global_limits.max_open_orders}, "
                      f"max_inventory={mm.max_inventory}")
                # a valid edit: staged now, applied by the engine after this batch
                write_config(cfg_path, max_open_orders="6", max_inventory="2")
                good = live.check()
                assert good is not None
                print(f"reload {good.result}: " + ", ".join(
                    f"{key} {old} -> {new}" for key, old, new in good.changes))
            engine.process(events)
        engine.stop()
        live.stop()
        print(f"after the run: max_open_orders={engine.risk.global_limits.max_open_orders}, "
              f"max_inventory={mm.max_inventory}")
        stats = sink.close()
        run = stats["run"]
        print(f"sink: {stats['rows_written']} rows written, {stats['rows_spilled']} spilled, "
              f"{stats['rows_dropped']} dropped")

        n_orders = fetch(dsn, "SELECT count(*) FROM example.orders WHERE run = $1", run)[0][0]
        n_fills = fetch(dsn, "SELECT count(*) FROM example.fills WHERE run = $1", run)[0][0]
        print(f"database: {n_orders} orders, {n_fills} fills "
              f"(engine: {len(engine.om)} orders, {len(engine.om.fills)} fills)")
        daily = fetch(dsn, "SELECT strategy, day, pnl FROM example.daily_pnl WHERE run = $1 "
                           "ORDER BY day", run)
        for strategy, day, pnl in daily:
            print(f"PnL by day: {strategy} {day} {pnl}")
        print(f"engine PnL: {Decimal(engine.pnl()).scaleb(-8)}")

    for line in (out / "config-journal.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        print(f"journal: {rec['result']}, {len(rec['changes'])} changes, "
              f"{len(rec['errors'])} errors")

    files = archive_result(engine, out / "archive", run=run)
    import pandas as pd

    fills = pd.read_parquet(out / "archive" / "fills")
    print(f"parquet: {len(files)} files under {out / 'archive'}; pandas reads {len(fills)} "
          f"fills of {fills['symbol'].nunique()} instruments")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
