"""The database sink: rows/s into PostgreSQL with COPY, and the engine's tick-to-trade with the
sink on and off, side by side.

Run: ``python -m pytest benchmarks/bench_sink.py -s`` (needs asyncpg and Debian's
``postgresql``; the benchmark starts its own server on 127.0.0.1 with PostgreSQL's durable
defaults - fsync and synchronous commit on).  ``HFTCORE_BENCH_SINK_ROWS`` sets the rows of the
throughput runs (200,000), ``HFTCORE_BENCH_ROWS`` the synthetic stream of the tick-to-trade runs
(300,000 rows); ``HFTCORE_BENCH_REPEAT`` the alternating repeats (3; best of each reported).

1. **COPY throughput** - ``fills`` rows (13 columns, 4 of them numeric; a 4-column key and two
   indexes to keep) in batches of 20,000, one transaction each, three ways interleaved batch by
   batch (so each meets the same table size and machine load): the sink's ``PgWriter.write``
   (COPY of the raw rows into a staging table, ``INSERT ... SELECT <conversions> ... ON
   CONFLICT DO NOTHING``), ``executemany`` of the same ``INSERT ... ON CONFLICT`` and a plain
   COPY into the table (no de-duplication) - these two with decimals and timestamps made in
   Python; then the whole ``DatabaseSink`` (queue -> writer thread -> database, timed until
   the last row is committed).
2. **Tick-to-trade** - a market maker re-quoting at the touch on every top-of-book change over
   the synthetic L2 stream, one ``Engine.process`` call per venue message (as the live path
   runs), the engine's own tick-to-trade histogram; the sink attached (polling every 50 ms,
   writing orders, order events, fills, samples) or not, runs alternated.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hftcore import Instrument
from hftcore.data.events import EVENT_LAST
from hftcore.data.synthetic import l2_stream
from hftcore.engine import Engine
from hftcore.strategy import Strategy

asyncpg = pytest.importorskip("asyncpg")

from hftcore.sink import DatabaseSink, LocalPostgres, find_bin_dir  # noqa: E402
from hftcore.sink.writer import PgWriter, merge  # noqa: E402

SINK_ROWS = int(os.environ.get("HFTCORE_BENCH_SINK_ROWS", "200000"))
ROWS = int(os.environ.get("HFTCORE_BENCH_ROWS", "300000"))
REPEAT = int(os.environ.get("HFTCORE_BENCH_REPEAT", "3"))
BATCH = 20_000
OUT = Path(__file__).parent.parent / ".benchmarks" / "sink.json"
X = Instrument("sim", "X", 2, 0)
RESULTS: dict[str, Any] = {}


@pytest.fixture(scope="module")
def server() -> Any:
    if find_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    pg = LocalPostgres(durable=True)
    pg.start()
    yield pg
    pg.cleanup()


def fill_rows(n: int, run: str) -> list[tuple[Any, ...]]:
    t0 = 1_700_000_000_000_000_000
    return [(run, f"hc{run}-{k}", f"t{k}", t0 + k * 1000, t0 + k * 1000, "mm", "binance",
             "BTCUSDT", "BUY" if k % 2 else "SELL", 1000 + k % 97, 5_000_000 + k % 1000,
             "MAKER", 7, 2, 5) for k in range(n)]


def test_copy_throughput(server: LocalPostgres) -> None:
    from hftcore.sink.schema import TABLES
    from hftcore.sink.writer import to_records

    t = TABLES["fills"]
    cols = ", ".join(t.column_names)
    marks = ", ".join(f"${i + 1}" for i in range(len(t.column_names)))
    w = PgWriter(server.dsn, "bench")
    times: dict[str, list[float]] = {"copy": [], "many": [], "direct": []}

    async def interleaved() -> None:
        await w.connect()                  # creates the schema (not timed)
        conn = w._conn
        for k in range(max(1, SINK_ROWS // BATCH)):
            for how in times:
                rows = fill_rows(BATCH, f"{how}{k}")
                t0 = time.perf_counter()
                if how == "copy":            # what the sink does
                    await w.write(merge([[("fills", rows)]]))
                else:
                    recs = to_records(t, rows)
                    async with conn.transaction():
                        if how == "many":
                            await conn.executemany(
                                f"INSERT INTO bench.fills ({cols}) VALUES ({marks}) "
                                "ON CONFLICT DO NOTHING", recs)
                        else:                # COPY straight into the table: no dedup
                            await conn.copy_records_to_table(
                                "fills", schema_name="bench", records=recs,
                                columns=t.column_names)
                times[how].append(time.perf_counter() - t0)
        await w.close()

    asyncio.run(interleaved())

    # the whole sink: queue -> writer thread -> database
    best_sink = float("inf")
    for k in range(REPEAT):
        with tempfile.TemporaryDirectory() as spill:
            sink = DatabaseSink(server.dsn, spill, schema="bench", batch_rows=BATCH)
            batch_rows = fill_rows(SINK_ROWS, f"s{k}")
            sink.put([("runs", [(f"s{k}", 0, 0, "bench", "s", "h", 0, "[]", "", 0, 0)])])
            assert sink.flush(60)
            tt = time.perf_counter()
            for i in range(0, len(batch_rows), 1000):       # a poll's worth at a time
                sink.put([("fills", batch_rows[i:i + 1000])])
            assert sink.flush(300)
            best_sink = min(best_sink, time.perf_counter() - tt)
            st = sink.close()
            assert st["rows_spilled"] == 0 and st["rows_written"] >= SINK_ROWS
    rate = {k: (BATCH / min(v), BATCH / float(np.median(v))) for k, v in times.items()}
    RESULTS["copy_rows_per_s"] = rate["copy"]
    RESULTS["executemany_rows_per_s"] = rate["many"]
    RESULTS["direct_copy_rows_per_s"] = rate["direct"]
    RESULTS["sink_rows_per_s"] = SINK_ROWS / best_sink
    n = len(times["copy"])
    print(f"\nfills rows into PostgreSQL (durable), {n} batches of {BATCH:,} rows per way, "
          "interleaved; best / median rows/s:")
    for name, key in (("COPY -> staging, INSERT ON CONFLICT (the sink)", "copy"),
                      ("executemany INSERT ON CONFLICT", "many"),
                      ("COPY into the table (no dedup, Python-made values)", "direct")):
        b, m = rate[key]
        print(f"  {name:<48}{b:>10,.0f} {m:>10,.0f}")
    print(f"  {'DatabaseSink end to end (best of ' + str(REPEAT) + ')':<48}"
          f"{RESULTS['sink_rows_per_s']:>10,.0f}")
    print(f"  the sink's way / executemany: {rate['copy'][1] / rate['many'][1]:.2f}x (median)")


class Quoter(Strategy):
    """Re-quotes one lot at the best bid and ask on every top-of-book change."""

    def on_bbo(self, instrument: Instrument, book: Any) -> None:
        bid, ask = book.best_bid, book.best_ask
        if bid is not None and ask is not None and bid < ask:
            self.quote(instrument, bid, ask, 1)


def _messages(ev: np.ndarray[Any, Any]) -> list[np.ndarray[Any, Any]]:
    ends = np.flatnonzero(ev["flags"] & EVENT_LAST) + 1
    starts = np.concatenate([[0], ends[:-1]])
    return [ev[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def _run(msgs: list[np.ndarray[Any, Any]], dsn: str | None) -> dict[str, float]:
    eng = Engine([X], measure=True)
    eng.add_strategy(Quoter())
    sink = None
    spill = tempfile.mkdtemp()
    if dsn is not None:
        sink = DatabaseSink(dsn, spill, schema="bench_t2t").attach(eng)
    t = time.perf_counter()
    for m in msgs:
        eng.process(m)
    eng.stop()
    wall = time.perf_counter() - t
    h = eng.tick_to_trade
    p = h.percentiles((50, 99, 99.9))
    out = {"p50": float(p[50]), "p99": float(p[99]), "p99.9": float(p[99.9]),
           "mean": float(h.mean or 0), "orders": float(len(eng.om)), "wall_s": wall,
           "samples": float(h.count)}
    if sink is not None:
        st = sink.close()
        out["rows_written"] = float(st["rows_written"])
        assert st["rows_spilled"] == 0
    return out


def test_tick_to_trade_with_sink_on_and_off(server: LocalPostgres) -> None:
    ev = l2_stream(ROWS, seed=20261202)
    msgs = _messages(ev)
    # the schema exists before timing (the first connection would create it)
    _run(msgs[:200], server.dsn)
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for _ in range(REPEAT):
        runs["off"].append(_run(msgs, None))
        runs["on"].append(_run(msgs, server.dsn))
    best = {k: {m: min(r[m] for r in v) for m in ("p50", "p99", "p99.9", "mean", "wall_s")}
            for k, v in runs.items()}
    RESULTS["tick_to_trade"] = best
    RESULTS["tick_to_trade_orders"] = runs["on"][0]["orders"]
    RESULTS["sink_rows_written"] = runs["on"][0]["rows_written"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\ntick-to-trade, {ROWS:,} rows in {len(msgs):,} messages, "
          f"{int(runs['on'][0]['orders']):,} orders, best of {REPEAT} (load {load:.1f}):")
    print(f"  {'':10}{'p50 ns':>10}{'p99 ns':>10}{'p99.9 ns':>10}{'mean ns':>10}{'run s':>8}")
    for k in ("off", "on"):
        b = best[k]
        print(f"  sink {k:<5}{b['p50']:>10,.0f}{b['p99']:>10,.0f}{b['p99.9']:>10,.0f}"
              f"{b['mean']:>10,.0f}{b['wall_s']:>8.2f}")
    print(f"  on/off      {best['on']['p50'] / best['off']['p50']:>9.2f}x"
          f"{best['on']['p99'] / best['off']['p99']:>9.2f}x"
          f"{best['on']['p99.9'] / best['off']['p99.9']:>9.2f}x"
          f"{best['on']['mean'] / best['off']['mean']:>9.2f}x"
          f"{best['on']['wall_s'] / best['off']['wall_s']:>7.2f}x   "
          f"({int(runs['on'][0]['rows_written']):,} rows written per run)")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({**RESULTS, "load": load, "rows": ROWS,
                               "sink_rows": SINK_ROWS}, indent=2))
