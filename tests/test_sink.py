"""The database sink against a real PostgreSQL server: inserts, a server restart in the middle of
a run, the spill-and-replay path (nothing lost, nothing twice), a full queue, the bounds."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pgtest
import pytest
from pgtest import count, need_postgres, query

from hftcore import Engine, Instrument, RiskEngine, RiskLimits
from hftcore.data import sample
from hftcore.data.events import EVENT_LAST
from hftcore.data.sources import DataSources
from hftcore.demo import MarketMaker
from hftcore.sink import DatabaseSink, LocalPostgres
from hftcore.sink.writer import PgWriter, merge
from hftcore.venues.sim import SimExchange

own_pg = pgtest.own_pg
pg = pgtest.pg
schema = pgtest.schema


def run_sample(sink: DatabaseSink | None, *, risk: RiskEngine | None = None,
               middle: Callable[[Engine], None] | None = None,
               later: Callable[[Engine], None] | None = None) -> Engine:
    """MarketMaker over the bundled recording; ``middle`` runs once half the batches are done,
    ``later`` at three quarters."""
    src = DataSources(sample.paths(), sample.instruments())
    eng = Engine(src.instruments, sim=SimExchange(), fees=("0.0001", "0.0004"),
                 book_depth=src.book_depth, risk=risk)
    eng.add_strategy(MarketMaker())
    if sink is not None:
        sink.attach(eng)
    batches = [piece for ev in src if len(ev) for piece in split(ev, 40)]
    for k, ev in enumerate(batches):
        if middle is not None and k == len(batches) // 2:
            middle(eng)
        if later is not None and k == 3 * len(batches) // 4:
            later(eng)
        eng.process(ev)
    eng.stop()
    return eng


def split(events: Any, parts: int) -> list[Any]:
    """``events`` cut into about ``parts`` batches, each ending at the end of a venue message."""
    ends = np.flatnonzero(events["flags"] & EVENT_LAST) + 1
    step = max(1, len(ends) // parts)
    cuts = [0, *ends[step - 1::step].tolist()]
    if cuts[-1] != len(events):
        cuts.append(len(events))
    return [events[a:b].copy() for a, b in itertools.pairwise(cuts) if b > a]


def expected(eng: Engine) -> dict[str, int]:
    return {"orders": len(eng.om), "fills": len(eng.om.fills),
            "order_events": sum(len(o.history) for o in eng.om)}


def check_tables(dsn: str, sch: str, eng: Engine, run: str) -> None:
    """Every order, event and fill of the engine is in the database exactly once, exact."""
    want = expected(eng)
    for table, n in want.items():
        second = {"fills": "trade_id", "order_events": "seq"}.get(table, "run")
        got = query(dsn, f"SELECT count(*), count(DISTINCT (client_order_id, {second})) "
                         f"FROM {sch}.{table} WHERE run = $1", run)[0]
        assert (got[0], got[1]) == (n, n), (table, got, n)
    rows = {r["client_order_id"]: r for r in query(
        dsn, f"SELECT * FROM {sch}.orders WHERE run = $1", run)}
    for o in eng.om:
        r = rows[o.client_order_id]
        inst = o.instrument
        assert r["status"] == o.status.name
        assert r["filled"] == Decimal(o.filled).scaleb(-inst.size_decimals)
        assert r["price"] == Decimal(o.price).scaleb(-inst.price_decimals)
        assert r["last_seq"] == len(o.history)
    fills = query(dsn, f"SELECT client_order_id, trade_id, qty, price, ts_ns FROM {sch}.fills "
                       "WHERE run = $1", run)
    got_fills = {(r[0], r[1]): (r[2], r[3], r[4]) for r in fills}
    for f in eng.om.fills:
        inst = eng.om[f.client_order_id].instrument
        assert got_fills[(f.client_order_id, f.trade_id)] == (
            Decimal(f.qty).scaleb(-inst.size_decimals),
            Decimal(f.price).scaleb(-inst.price_decimals), f.ts)


def test_a_backtest_lands_in_the_database(pg: LocalPostgres, schema: str,
                                          tmp_path: Path) -> None:
    risk = RiskEngine(limits=RiskLimits(max_open_orders=3))   # some orders refused by risk
    sink = DatabaseSink(pg.dsn, tmp_path / "spill", schema=schema, trades=True,
                        book_samples=True)
    eng = run_sample(sink, risk=risk)
    st = sink.close()
    assert st["rows_spilled"] == 0 and st["rows_dropped"] == 0 and st["db_up"]
    run = st["run"]
    check_tables(pg.dsn, schema, eng, run)
    rejected = [o for o in eng.om if any(ev == "risk_reject" for _, _, ev in o.history)]
    assert rejected, "the limit should refuse some orders"
    rows = query(pg.dsn, f"SELECT client_order_id, reason FROM {schema}.risk_events "
                         "WHERE kind = 'rejection'")
    assert sorted(r[0] for r in rows) == sorted(o.client_order_id for o in rejected)
    assert all(r[1] == "risk: OPEN_ORDERS_TOTAL" for r in rows)
    # PnL by day: the last sample is the engine's PnL at 8 decimals
    daily = query(pg.dsn, f"SELECT strategy, pnl FROM {schema}.daily_pnl WHERE run = $1", run)
    assert [(r[0], r[1]) for r in daily] == [
        ("MarketMaker", Decimal(eng.pnl()).scaleb(-8))]
    n_trades = sum(int((ev["kind"] == 2).sum()) for ev in DataSources(
        sample.paths(), sample.instruments()) if len(ev))
    assert count(pg.dsn, f"{schema}.trades") == n_trades > 0
    assert count(pg.dsn, f"{schema}.book_samples") > 0
    pos = query(pg.dsn, f"SELECT venue, symbol, net FROM {schema}.positions WHERE strategy='*' "
                        "ORDER BY ts DESC, symbol")
    last = {}
    for v, s, net in pos:
        last.setdefault((v, s), net)
    for p in eng.portfolio:
        if p.fills:
            inst = p.instrument
            assert last[(inst.venue, inst.symbol)] == Decimal(p.net).scaleb(-inst.size_decimals)
    assert count(pg.dsn, f"{schema}.runs") == 1


def test_writing_a_batch_twice_writes_it_once(pg: LocalPostgres, schema: str,
                                              tmp_path: Path) -> None:
    sink = DatabaseSink(pg.dsn, tmp_path / "spill", schema=schema)
    run_sample(sink)
    sink.close()
    # every row the database holds, sent again: nothing new
    import asyncio

    from hftcore.sink.collector import Collector

    eng = run_sample(None)
    batch = Collector(eng, "again").poll(final=True)
    w = PgWriter(pg.dsn, schema)

    async def twice() -> tuple[tuple[int, int], tuple[int, int]]:
        try:
            return await w.write(merge([batch])), await w.write(merge([batch, batch]))
        finally:
            await w.close()

    (g1, n1), (g2, n2) = asyncio.run(twice())
    assert n1 > 0 and n2 == 0 and g2 == 2 * g1
    assert count(pg.dsn, f"{schema}.fills") == 2 * len(eng.om.fills)   # two runs


def test_database_down_spills_and_a_later_sink_replays(schema: str, tmp_path: Path) -> None:
    need_postgres()
    server = LocalPostgres()            # made, not started: the database is down
    try:
        spill = tmp_path / "spill"
        sink = DatabaseSink(server.dsn, spill, schema=schema, connect_timeout=0.5)
        eng = run_sample(sink)
        st = sink.close()
        assert st["rows_written"] == 0 and st["db_errors"] >= 1 and not st["db_up"]
        assert st["rows_spilled"] == st["rows_queued"] > 0 and st["spill_bytes"] > 0
        server.start()
        again = DatabaseSink(server.dsn, spill, schema=schema)   # replays what it finds
        assert again.wait_replayed(30)
        st2 = again.close()
        assert st2["rows_replayed"] == st["rows_spilled"]
        check_tables(server.dsn, schema, eng, st["run"])
        assert not list(spill.glob("spill-*.bin"))
    finally:
        server.cleanup()


def test_server_restart_in_the_middle_of_a_run(own_pg: LocalPostgres, schema: str,
                                               tmp_path: Path) -> None:
    sink = DatabaseSink(own_pg.dsn, tmp_path / "spill", schema=schema, poll_interval=0.001,
                        connect_timeout=0.5, retry_max=0.2)
    seen: dict[str, Any] = {}

    def stop(eng: Engine) -> None:
        assert sink.flush(30)
        seen["before"] = sink.stats()
        own_pg.stop()

    def start(eng: Engine) -> None:
        sink.flush(30)                  # the writer finds the server gone: rows spill
        seen["down"] = sink.stats()
        own_pg.start()

    eng = run_sample(sink, middle=stop, later=start)
    assert sink.flush(30) and sink.wait_replayed(30)
    st = sink.close()
    assert seen["before"]["rows_written"] > 0
    assert seen["down"]["rows_spilled"] > 0 and seen["down"]["db_errors"] >= 1, seen
    assert st["rows_replayed"] >= seen["down"]["rows_spilled"]
    assert st["rows_dropped"] == 0 and st["spill_bytes"] == 0
    check_tables(own_pg.dsn, schema, eng, st["run"])


class _Blackhole:
    """A TCP port that accepts connections and never answers (a database that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_a_hanging_database_never_blocks_the_engine(pg: LocalPostgres, schema: str,
                                                    tmp_path: Path) -> None:
    hole = _Blackhole()
    spill = tmp_path / "spill"
    try:
        sink = DatabaseSink(f"postgresql://postgres@127.0.0.1:{hole.port}/postgres", spill,
                            schema=schema, queue_batches=2, poll_interval=0.001,
                            connect_timeout=1.0)
        eng = run_sample(sink)          # the writer hangs on connect; the queue fills up
        st = sink.close()
    finally:
        hole.close()
    assert st["queue_full"] > 0
    assert st["rows_written"] == 0 and st["rows_dropped"] == 0
    assert st["rows_spilled"] == st["rows_queued"]
    again = DatabaseSink(pg.dsn, spill, schema=schema)
    assert again.wait_replayed(30)
    again.close()
    check_tables(pg.dsn, schema, eng, st["run"])


def test_a_full_spill_drops_and_counts(tmp_path: Path) -> None:
    pytest.importorskip("asyncpg")
    sink = DatabaseSink("postgresql://postgres@127.0.0.1:1/postgres", tmp_path / "spill",
                        spill_max_bytes=4096, connect_timeout=0.2)
    eng = run_sample(sink)
    st = sink.close()
    assert len(eng.om) > 0
    assert st["rows_dropped"] > 0
    assert st["rows_spilled"] + st["rows_dropped"] == st["rows_queued"]
    assert st["spill_bytes"] <= 4096


def test_sink_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_rows"):
        DatabaseSink("postgresql://x@127.0.0.1/db", tmp_path, batch_rows=0)
    with pytest.raises(ValueError, match="poll_interval"):
        DatabaseSink("postgresql://x@127.0.0.1/db", tmp_path, poll_interval=0)
    with pytest.raises(TypeError, match="dsn"):
        DatabaseSink(123, tmp_path)
    with pytest.raises(ValueError, match="schema"):
        DatabaseSink("postgresql://x@127.0.0.1/db", tmp_path, schema="Robert'); DROP")
    s = DatabaseSink("postgresql://u:hunter2@127.0.0.1:1/db", tmp_path, connect_timeout=0.2)
    try:
        assert "hunter2" not in repr(s) and "hunter2" not in repr(s._writer)
        with pytest.raises(TypeError, match="Engine"):
            s.attach(object())  # type: ignore[arg-type]
    finally:
        s.close()


def test_the_engine_keeps_no_order_log_without_a_sink(tmp_path: Path) -> None:
    eng = run_sample(None)
    assert eng.order_log is None and not eng._observers
    sink = DatabaseSink("postgresql://postgres@127.0.0.1:1/postgres", tmp_path,
                        connect_timeout=0.2)
    eng2 = run_sample(sink)
    assert isinstance(eng2.order_log, list)
    assert sink.poll() > 0 and eng2.order_log == []      # drained by the sink's polls
    sink.close()
    assert eng2.order_log is None and not eng2._observers


def test_a_sink_from_the_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hftcore.config import parse_config

    monkeypatch.setenv("SINK_DSN", "postgresql://u:pw@127.0.0.1:1/db")
    cfg = parse_config('[[instruments]]\nvenue = "x"\nsymbol = "Y"\nprice_decimals = 2\n'
                       'size_decimals = 2\n[sinks.postgres]\ndsn = { env = "SINK_DSN" }\n'
                       'schema = "desk"\nspill_dir = "sp"\nsample_interval_ms = 250\n'
                       'trades = true\n', "c.toml")
    sink = DatabaseSink.from_config(cfg, tmp_path, connect_timeout=0.2)
    try:
        assert sink.schema == "desk" and sink.spill.path == tmp_path / "sp"
        assert sink.sample_interval_ns == 250_000_000 and sink.trades
        assert sink.config_sha256 == cfg.sha256 and "pw" not in repr(sink)
    finally:
        sink.close()
    with pytest.raises(ValueError, match="sinks.postgres"):
        DatabaseSink.from_config(parse_config('[[instruments]]\nvenue = "x"\nsymbol = "Y"\n'
                                              'price_decimals = 2\nsize_decimals = 2\n'))


def test_kill_switch_breaker_and_state_changes_are_risk_events(pg: LocalPostgres, schema: str,
                                                               tmp_path: Path) -> None:
    risk = RiskEngine(limits=RiskLimits(max_errors=2, error_window_ns=10**12))
    sink = DatabaseSink(pg.dsn, tmp_path / "spill", schema=schema, poll_interval=0.001)

    def trouble(eng: Engine) -> None:
        sink.poll()
        for _ in range(3):
            eng.risk.record_error()        # more than max_errors: the breaker opens
        sink.poll()
        eng.risk.kill()                    # halts and cancels everything
        sink.poll()

    def calm(eng: Engine) -> None:
        eng.risk.reset_breaker()
        eng.risk.reset_kill()
        sink.poll()

    eng = run_sample(sink, risk=risk, middle=trouble, later=calm)
    st = sink.close()
    rows = query(pg.dsn, f"SELECT kind, reason, detail FROM {schema}.risk_events "
                         "WHERE run = $1 AND kind <> 'rejection' ORDER BY seq", st["run"])
    kinds = [r[0] for r in rows]
    assert kinds == ["breaker_open", "kill_switch", "state", "kill_reset", "state",
                     "breaker_closed"], rows
    assert rows[2][2] == "ACTIVE -> HALTED" and rows[4][2] == "HALTED -> ACTIVE"
    # orders sent while halted were refused by risk and are there as rejections
    halted = [o for o in eng.om if o.reason == "risk: KILL_SWITCH"]
    got = query(pg.dsn, f"SELECT count(*) FROM {schema}.risk_events WHERE run = $1 AND "
                        "reason = 'risk: KILL_SWITCH'", st["run"])[0][0]
    assert got == len(halted)


def test_a_poll_does_a_bounded_amount_of_work() -> None:
    from hftcore.sink.collector import Collector

    holder: dict[str, Collector] = {}

    class Late:
        """Attaches the collector without polling: everything piles up in the order log."""

        def attach(self, eng: Engine) -> None:
            holder["c"] = Collector(eng, "r", budget=5)

    src = DataSources(sample.paths(), sample.instruments())
    eng = Engine(src.instruments, sim=SimExchange(), book_depth=src.book_depth)
    eng.add_strategy(MarketMaker())
    Late().attach(eng)
    for ev in src:
        eng.process(ev)
    eng.stop()
    c = holder["c"]
    orders: dict[str, Any] = {}
    fills = []
    polls = 0
    while True:
        batch = dict(c.poll())
        polls += 1
        assert len({r[1] for r in batch.get("orders", [])} - set(orders)) <= 5
        assert len(batch.get("fills", [])) <= 5
        orders.update({r[1]: r for r in batch.get("orders", [])})
        fills.extend(batch.get("fills", []))
        if not c.more:
            break
    assert polls >= len(eng.om) // 5
    assert set(orders) == {o.client_order_id for o in eng.om}
    assert len(fills) == len(eng.om.fills) > 0
    assert {f[5] for f in fills} == {"MarketMaker"}       # every fill knows its strategy


def test_engine_observers_run_between_batches(caplog: pytest.LogCaptureFixture) -> None:
    from hftcore.data.events import delta, make_events

    eng = Engine([Instrument("x", "Y", 2, 2)])
    calls: list[Any] = []

    def watch(e: Engine, events: Any) -> None:
        calls.append((e is eng, None if events is None else len(events), e.now))

    def broken(e: Engine, events: Any) -> None:
        raise RuntimeError("observer bug")

    eng.add_observer(watch)
    eng.add_observer(broken)
    ev = make_events([delta(10, 0, 0, 100, 5, snapshot=True), delta(20, 0, 1, 101, 5)])
    with caplog.at_level("ERROR", "hftcore.engine"):
        eng.process(ev)
        eng.advance(50)
    assert calls == [(True, len(ev), 20), (True, None, 50)]
    assert "observer bug" in caplog.text and broken in eng._observers   # logged, kept
    eng.remove_observer(broken)
    with pytest.raises(ValueError):
        eng.remove_observer(broken)
    with pytest.raises(TypeError, match="callable"):
        eng.add_observer(42)  # type: ignore[arg-type]


def test_a_bad_dsn_spills_and_never_shows_its_password(tmp_path: Path) -> None:
    pytest.importorskip("asyncpg")
    sink = DatabaseSink("postgresql://trader:hunter2@127.0.0.1:notaport/db", tmp_path,
                        connect_timeout=0.2)
    run_sample(sink)
    st = sink.close()
    assert st["rows_rejected"] == 0 and st["rows_spilled"] == st["rows_queued"] > 0
    assert st["last_error"] and "hunter2" not in st["last_error"]


def test_the_server_runs_under_a_sanitizer_run(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """.ci/sanitizers preloads libasan and points its reports at a directory of its own: the
    PostgreSQL server the fixtures start must not get either (initdb hung with them)."""
    need_postgres()
    import shutil
    import subprocess

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to find libasan with")
    lib = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True,
                         text=True).stdout.strip()
    if not lib or not Path(lib).exists():
        pytest.skip("no libasan")
    logs = tmp_path / "san"
    logs.mkdir(mode=0o700)
    monkeypatch.setenv("LD_PRELOAD", str(Path(lib).resolve()))
    monkeypatch.setenv("ASAN_OPTIONS", f"detect_leaks=0:log_path={logs}/asan")
    monkeypatch.setenv("PYTHONMALLOC", "malloc")
    server = LocalPostgres()
    try:
        server.start()
        assert query(server.dsn, "SELECT 41 + 1")[0][0] == 42
        server.restart()
        assert query(server.dsn, "SELECT 2 * 21")[0][0] == 42
    finally:
        server.cleanup()
    assert not list(logs.iterdir())


def test_a_server_command_that_hangs_is_ended_with_what_it_started(tmp_path: Path) -> None:
    need_postgres()
    import os
    import time

    server = LocalPostgres()
    server.command_timeout = 1.0
    pidfile = server.root / "child.pid"
    try:
        with pytest.raises(RuntimeError, match="did not finish in 1.0 s"):
            server._run(["sh", "-c", f"sleep 600 & echo $! > {pidfile}; wait"])
        pid = int(pidfile.read_text())
        for _ in range(100):                 # reaped by init once killed
            state = Path(f"/proc/{pid}/stat")
            if not state.exists() or state.read_text().split(") ")[1][0] == "Z":
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            raise AssertionError(f"process {pid} left running")
    finally:
        server.cleanup()
