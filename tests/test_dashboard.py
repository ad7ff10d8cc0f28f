"""The dashboard's snapshot builder, trade tape, paced replay and control layer (no server)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import orjson
import pytest

from hftcore import Instrument, fixed
from hftcore._ext.feed import EV_DELTA, EV_STATUS, EV_TRADE, EVENT_DTYPE, EVENT_LAST
from hftcore.dashboard import (
    ControlError,
    ControlJournal,
    Controls,
    PacedReplay,
    SnapshotBuilder,
    TradeTape,
    engage_kill_switch,
)
from hftcore.dashboard.demo import demo_engine
from hftcore.data import sample
from hftcore.data.sources import DataSources
from hftcore.demo import MarketMaker
from hftcore.engine import Engine
from hftcore.metrics import STAGES
from hftcore.model import OrderStatus
from hftcore.orders import Journal
from hftcore.risk import InstrumentLimits, Reason, RiskEngine, TradingState, VenueRateLimit
from hftcore.venues.sim import SimExchange


def _run_sample(engine):
    """The whole bundled sample through ``engine``, synchronously (a backtest)."""
    src = DataSources(sample.paths(), engine.instruments)
    last = 0
    for ev in src:
        if len(ev):
            engine.process(ev)
            last = int(ev["local_ts"][-1])
    engine.advance(last)
    return src


@pytest.fixture(scope="module")
def ran():
    engine, _replay, tape = demo_engine(pace=None)
    src = DataSources(sample.paths(), engine.instruments)
    last = 0
    for ev in src:
        tape.add_events(ev)
        engine.process(ev)
        last = int(ev["local_ts"][-1])
    engine.advance(last)
    builder = SnapshotBuilder(engine, tape=tape, depth=5)
    builder.build()
    return engine, builder, builder.build()


def test_snapshot_is_json_and_matches_the_engine(ran):
    engine, builder, snap = ran
    data = orjson.loads(orjson.dumps(snap))
    assert data["seq"] == 2 and data["mode"] == "backtest"
    assert data["engine_ns"] == engine.now
    assert data["engine"]["events"] == engine.core.events
    assert data["engine"]["fills"] == len(engine.fills) > 0
    for k, (inst, row) in enumerate(zip(engine.instruments, data["instruments"], strict=True)):
        book = engine.books[k]
        assert row["id"] == f"{inst.venue}:{inst.symbol}"
        assert row["bid"] == inst.format_price(book.best_bid)
        assert row["ask"] == inst.format_price(book.best_ask)
        assert row["bid_size"] == inst.format_qty(book.best_bid_size)
        bp, bs, ap, asz = book.depth(5)
        assert row["depth"]["bids"] == [[inst.format_price(p), inst.format_qty(s)]
                                        for p, s in zip(bp.tolist(), bs.tolist(), strict=True)]
        assert row["depth"]["asks"][0] == [inst.format_price(int(ap[0])),
                                           inst.format_qty(int(asz[0]))]
        c = engine.core.counters(k)
        assert row["messages"] == c["messages"] and row["deltas"] == c["deltas"]
        assert row["book"] == "synced"
        assert row["trades_seen"] == c["trades"]
        assert len(row["trades"]) == min(c["trades"], builder.tape.size)


def test_snapshot_follows_the_engine_from_look_to_look():
    """Rows cached between looks (books that did not change, trades, latency, limits) are
    rebuilt as soon as their source changes."""
    engine, _replay, tape = demo_engine(pace=None)
    b = SnapshotBuilder(engine, tape=tape, depth=3)
    events = np.concatenate(list(DataSources(sample.paths(), engine.instruments)))
    skl = next(i for i in engine.instruments if i.symbol == "SKL-USD")
    for n, part in enumerate(np.array_split(events, 12)):
        tape.add_events(part)
        engine.process(part)
        if n == 6:
            engine.risk.set_limits(skl, max_position=skl.qty("77"))
        snap = b.build()
        for k, row in enumerate(snap["instruments"]):
            inst, book = engine.instruments[k], engine.books[k]
            _bp, _bs, ap, _as = book.depth(3)
            assert row["bid"] == (None if book.best_bid is None
                                  else inst.format_price(book.best_bid))
            assert [p for p, _q in row["depth"]["asks"]] == [inst.format_price(int(x))
                                                            for x in ap]
            assert [t["price"] for t in row["trades"]] == [
                inst.format_price(t[2]) for t in reversed(tape.trades[k])]
        for row in snap["latency"]:
            assert row["count"] == engine.metrics.stage(row["stage"]).count
        lim = snap["risk"]["limits"]["instruments"]["coinbase:SKL-USD"]["max_position"]
        assert lim == ("77" if n >= 6 else None)


def test_build_async_gives_the_loop_back_between_parts(ran):
    engine, _builder, _snap = ran
    b = SnapshotBuilder(engine)
    turns = 0

    async def main():
        nonlocal turns
        stop = False

        async def other():
            nonlocal turns
            while not stop:
                turns += 1
                await asyncio.sleep(0)

        task = asyncio.get_running_loop().create_task(other())
        await asyncio.sleep(0)
        before = turns
        snap = await b.build_async()
        stop = True
        await task
        return snap, turns - before

    snap, ran_between = asyncio.run(main())
    assert ran_between >= 5, "the loop ran other work while the snapshot was built"
    sync = b.build()
    for key in ("instruments", "orders", "positions", "pnl", "latency", "risk", "venues"):
        assert snap[key] == sync[key], key
    assert 0 < b.max_part_ns <= b.build_ns and b.build_cpu_ns > 0


def test_snapshot_pnl_positions_and_orders(ran):
    engine, _builder, snap = ran
    pnl = engine.pnl()                       # realized + unrealized at 8 decimals, marked at mid
    assert snap["pnl"]["total"] == fixed.format(pnl, 8, True)
    assert snap["pnl"]["total_raw"] == pnl
    by_id = {p["instrument"]: p for p in snap["positions"]}
    for inst in engine.instruments:
        pos = engine.portfolio.position(inst)
        if pos.fills:
            assert by_id[f"{inst.venue}:{inst.symbol}"]["net"] == inst.format_qty(pos.net)
    om = engine.om
    assert snap["orders"]["working_count"] == len(om.open_orders())
    assert {o["id"] for o in snap["orders"]["working"]} == {o.client_order_id
                                                           for o in om.open_orders()}
    terminal = [o for o in om if o.status in (OrderStatus.FILLED, OrderStatus.CANCELED)]
    assert snap["orders"]["done"], "finished orders are listed"
    assert {o["id"] for o in snap["orders"]["done"]} <= {o.client_order_id for o in terminal}
    assert snap["orders"]["total"] == len(om)
    newest_fill = engine.fills[-1]
    assert snap["fills"][0]["id"] == newest_fill[2]
    eq = snap["equity"]["points"]
    assert eq[-1] == [engine.now, pnl]


def test_snapshot_latency_and_risk(ran):
    engine, _builder, snap = ran
    rows = {r["stage"]: r for r in snap["latency"]}
    assert list(rows) == list(STAGES)
    for name, row in rows.items():
        h = engine.metrics.stage(name)
        assert row["count"] == h.count
        if h.count:
            assert row["p99"] == h.percentile(99)
            assert sum(n for _lo, n in row["hist"]) == h.count
            assert row["p50"] <= row["p90"] <= row["p99"] <= row["p99.9"] <= row["max"]
    risk = snap["risk"]
    assert risk["state"] == "ACTIVE" and risk["killed"] is False
    assert risk["open_orders"] == engine.risk.book_state()["open_orders"]
    assert risk["passed"] == engine.risk.counts()[Reason.OK]
    (venue,) = snap["venues"]
    assert venue["venue"] == "coinbase" and venue["state"] == "replay"
    assert venue["messages"] == sum(r["messages"] for r in snap["instruments"])
    assert venue["decode_errors"] == venue["gaps"] == venue["resyncs"] == 0


def test_snapshot_rejections_and_limit_usage():
    risk = RiskEngine()
    insts = sample.instruments()
    skl = next(i for i in insts if i.symbol == "SKL-USD")
    risk.add_instrument(skl, InstrumentLimits(max_open_orders=1, max_position=skl.qty("500")))
    engine = Engine(insts, mode="backtest", sim=SimExchange(100_000, 0), risk=risk,
                    fees=("0", "0.0005"),
                    book_depth=DataSources(sample.paths(), insts).book_depth)
    engine.add_strategy(MarketMaker())
    b = SnapshotBuilder(engine)
    _run_sample(engine)
    snap = b.build()
    rej = snap["risk"]["rejections"]
    assert rej.get("OPEN_ORDERS_INSTRUMENT", 0) == engine.risk.counts()[
        Reason.OPEN_ORDERS_INSTRUMENT] > 0
    assert snap["orders"]["rejected"], "rejected orders are listed with their reason"
    assert all(r["reason"] and r["status"] == "REJECTED" for r in snap["orders"]["rejected"])
    assert any(r["instrument"] == "coinbase:SKL-USD" for r in snap["orders"]["rejected"])
    usage = {(u["scope"], u["limit"]): u for u in snap["risk"]["usage"]}
    u = usage[("coinbase:SKL-USD", "max_open_orders")]
    assert u["value"] == "1" and 0 <= u["ratio"] <= 1
    assert ("coinbase:SKL-USD", "max_position") in usage
    lim = snap["risk"]["limits"]["instruments"]["coinbase:SKL-USD"]
    assert lim["max_position"] == "500" and lim["max_size"] is None


def test_orders_found_without_scanning_every_order():
    """Only orders created since the last look are read: thousands of new orders between two
    looks cost a bounded number of reads, and the newest are the ones listed."""
    engine, _r, _t = demo_engine(pace=None)
    b = SnapshotBuilder(engine, keep=5)
    _run_sample(engine)
    om = engine.om
    calls = []
    real_get = om.get

    class Spy:
        prefix, session = om.prefix, om.session

        def get(self, cid):
            calls.append(cid)
            return real_get(cid)

        def open_orders(self):
            return om.open_orders()

        def __len__(self):
            return len(om)

    b._orders.update(Spy(), engine.now)
    n = len(om)
    assert b._orders.next_seq == n + 1
    assert len(calls) < 4 * n.bit_length() + 5 + len(om.open_orders()) + 10
    ids = {r["id"] for r in list(b._orders.done) + list(b._orders.rejected)}
    assert ids and all(int(i.rsplit("-", 1)[1]) > n - 5 for i in ids)


def test_stale_and_resyncing_books():
    inst = Instrument("test", "X", 2, 2)
    engine = Engine([inst])
    b = SnapshotBuilder(engine, stale_after_ns=1_000)
    assert b.build()["instruments"][0]["book"] == "no data"
    ev = np.zeros(3, EVENT_DTYPE)
    ev["kind"] = [EV_STATUS, EV_DELTA, EV_DELTA]     # the feed says synced, then two levels
    ev["local_ts"] = 100
    ev["side"] = [0, 0, 1]
    ev["price"] = [0, 100, 101]
    ev["size"] = [1, 5, 5]
    ev["flags"][-1] = EVENT_LAST
    engine.process(ev)
    assert b.build()["instruments"][0]["book"] == "synced"
    engine.advance(5_000)
    assert b.build()["instruments"][0]["book"] == "stale"
    engine.core.set_valid(0, False)
    assert b.build()["instruments"][0]["book"] == "resyncing"


def test_trade_tape_keeps_the_last_trades_per_instrument():
    tape = TradeTape(2, size=3)
    ev = np.zeros(10, EVENT_DTYPE)
    ev["kind"] = EV_TRADE
    ev["kind"][::3] = EV_DELTA
    ev["instrument"] = [0, 0, 1, 0, 1, 1, 0, 1, 0, 1]
    ev["price"] = np.arange(10)
    ev["local_ts"] = np.arange(10) * 10
    tape.add_events(ev)
    trades = ev[ev["kind"] == EV_TRADE]
    assert tape.count == len(trades)
    for i in (0, 1):
        mine = trades[trades["instrument"] == i][-3:]
        assert [t[2] for t in tape.trades[i]] == mine["price"].tolist()
    tape.add_events(ev[:0])
    assert tape.count == len(trades)
    with pytest.raises(ValueError, match="size"):
        TradeTape(1, size=0)


def test_builder_arguments_are_checked():
    engine, _r, _t = demo_engine(pace=None)
    for kw in ({"depth": 0}, {"keep": -1}, {"equity_points": 1.5}, {"stale_after_ns": True}):
        with pytest.raises(ValueError):
            SnapshotBuilder(engine, **kw)


def test_equity_curve_stays_bounded_and_spans_the_run():
    engine, _r, _t = demo_engine(pace=None)
    b = SnapshotBuilder(engine, equity_points=8)
    for _ in range(100):
        snap = b.build()
    assert len(snap["equity"]["points"]) <= 9
    assert b._equity_step > 1


# -- paced replay ------------------------------------------------------------------------------

def test_paced_replay_feeds_every_event_in_order_and_laps_move_forward():
    engine, replay, tape = demo_engine(pace=None, laps=2)
    n_sample = sum(len(e) for e in DataSources(sample.paths(), engine.instruments))
    asyncio.run(replay.run())
    assert replay.events == 2 * n_sample == engine.core.events
    assert engine.core.out_of_order == 0, "each lap's times follow the previous lap's"
    assert replay.laps_done == 2
    assert tape.count == sum(engine.core.counters(i)["trades"]
                             for i in range(len(engine.instruments))) > 0
    one = DataSources(sample.paths(), engine.instruments)
    for _ in one:
        pass
    assert replay.totals.messages == 2 * one.stats().messages


def test_paced_replay_follows_the_recorded_pace():
    engine, replay, _tape = demo_engine(pace=200.0, laps=1)
    src = DataSources(sample.paths(), engine.instruments)
    ts = np.concatenate([e["local_ts"] for e in src])
    span = (int(ts.max()) - int(ts.min())) / 1e9

    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await replay.run()
        return loop.time() - t0

    elapsed = asyncio.run(main())
    # paced: it cannot finish before the recording's span divided by the pace
    assert elapsed >= span / 200 * 0.9
    assert replay.events == len(ts)


def test_paced_replay_stops_and_checks_arguments():
    engine, replay, _tape = demo_engine(pace=1.0, laps=0)

    async def main():
        task = asyncio.get_running_loop().create_task(replay.run())
        await asyncio.sleep(0.3)
        replay.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert 0 < replay.events < 13_328, "stopped part-way through the first lap"
    assert replay.laps_done == 0
    with pytest.raises(ValueError, match="pace"):
        PacedReplay(engine, lambda: None, pace=0)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="laps"):
        PacedReplay(engine, lambda: None, laps=-1)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="simulated"):
        PacedReplay(Engine(engine.instruments, mode="live"), lambda: None)  # type: ignore


# -- controls ----------------------------------------------------------------------------------

def _controls(tmp_path, **kw):
    engine, _r, _t = demo_engine(pace=None, **kw)
    _run_sample(engine)
    journal = ControlJournal(tmp_path / "controls.jsonl")
    return engine, Controls(engine, journal), journal


def test_kill_switch_halts_cancels_and_is_journaled(tmp_path):
    engine, controls, journal = _controls(tmp_path, journal=tmp_path / "orders.journal")
    open_before = engine.om.open_orders()
    assert open_before
    out = controls.run("kill", {}, by="test")
    assert out["event"] == "control_done" and out["result"]["state"] == "HALTED"
    assert out["result"]["cancels_requested"] == len(open_before)
    assert engine.risk.killed and engine.risk.state == TradingState.HALTED
    engine.advance(engine.now + 10_000_000)        # the simulated exchange answers the cancels
    assert engine.om.open_orders() == []
    assert all(o.status in (OrderStatus.CANCELED, OrderStatus.FILLED) for o in open_before)
    entries = ControlJournal.read(journal.path)
    assert [e["event"] for e in entries] == ["control", "control_done"]
    assert entries[0]["action"] == "kill" and entries[1]["request"] == entries[0]["seq"]
    # the cancels themselves are in the order manager's journal
    names = [r["e"] for r in Journal.read(tmp_path / "orders.journal")[0]]
    assert names.count("cancel") >= len(open_before)
    # while killed, every new order is refused with KILL_SWITCH
    before = engine.risk.counts()[Reason.KILL_SWITCH]
    _run_sample(engine)
    assert engine.risk.counts()[Reason.KILL_SWITCH] > before
    assert not any(o.status == OrderStatus.ACCEPTED for o in engine.om.open_orders())
    out = controls.run("resume", {"state": "REDUCING"}, by="test")
    assert engine.risk.state == TradingState.REDUCING and not engine.risk.killed
    assert out["result"]["was"] == {"state": "HALTED", "killed": True}


def test_kill_sweep_cancels_what_a_rate_limit_held_back(tmp_path):
    engine, controls, _journal = _controls(tmp_path)
    n = len(engine.om.open_orders())
    assert controls.sweep() == 0, "no kill, no sweep"
    engine.risk.set_rate_limit("coinbase", VenueRateLimit(cancel_rate=100, cancel_burst=3))
    out = controls.run("kill", {}, by="test")
    assert out["result"]["cancels_requested"] == 3 < n
    engine.advance(engine.now + 10**9)
    assert len(engine.om.open_orders()) == n - 3
    deadline = time.monotonic() + 10
    while engine.om.open_orders():
        assert time.monotonic() < deadline
        controls.sweep()
        engine.advance(engine.now + 10**9)
        time.sleep(0.01)
    assert engine.om.open_orders() == []


def test_kill_switch_function_without_a_dashboard():
    engine, _r, _t = demo_engine(pace=None)
    _run_sample(engine)
    n = len(engine.om.open_orders())
    res = engage_kill_switch(engine)
    assert res == {"state": "HALTED", "killed": True, "open_orders": n, "cancels_requested": n}


def test_set_limit_parses_exact_decimals(tmp_path):
    engine, controls, journal = _controls(tmp_path)
    skl = next(i for i in engine.instruments if i.symbol == "SKL-USD")
    out = controls.run("set_limit", {"scope": "coinbase:SKL-USD", "name": "max_position",
                                     "value": "1500.5"})
    assert engine.risk.limits(skl).max_position == skl.qty("1500.5")
    assert out["result"] == {"scope": "coinbase:SKL-USD", "name": "max_position", "old": None,
                             "new": "1500.5"}
    controls.run("set_limit", {"scope": "global", "name": "max_gross_exposure",
                               "value": "25000"})
    assert engine.risk.global_limits.max_gross_exposure == 25000 * 10**8
    controls.run("set_limit", {"scope": "global", "name": "max_gross_exposure", "value": None})
    assert engine.risk.global_limits.max_gross_exposure is None
    controls.run("set_limit", {"scope": "coinbase:SKL-USD", "name": "self_trade_prevention",
                               "value": False})
    assert engine.risk.limits(skl).self_trade_prevention is False
    assert len(ControlJournal.read(journal.path)) == 8


@pytest.mark.parametrize("action,params,match", [
    ("explode", {}, "unknown control"),
    ("kill", {"now": 1}, "kill takes none"),
    ("resume", {"state": "HALTED"}, "ACTIVE or REDUCING"),
    ("set_limit", {"scope": "global", "name": "max_position", "value": "1"}, "not a global"),
    ("set_limit", {"scope": "nowhere:X", "name": "max_position", "value": "1"}, "scope"),
    ("set_limit", {"scope": "coinbase:SKL-USD", "name": "max_position", "value": 1.5},
     "float"),
    ("set_limit", {"scope": "coinbase:SKL-USD", "name": "max_position", "value": "0.01"},
     "decimals"),
    ("set_limit", {"scope": "coinbase:SKL-USD", "name": "max_position", "value": "-3"},
     "negative"),
    ("set_limit", {"scope": "coinbase:SKL-USD", "name": "max_position"}, "scope, name"),
    ("set_limit", {"scope": "global", "name": "error_window_ns", "value": None}, "turned off"),
    ("set_limit", {"scope": "coinbase:SKL-USD", "name": "self_trade_prevention",
                   "value": "yes"}, "true or false"),
    ("set_limit", {"scope": "coinbase:SKL-USD", "name": "max_size", "value": "1",
                   "token": "x"}, "scope, name"),
])
def test_bad_controls_change_nothing_and_are_journaled_as_refused(tmp_path, action, params,
                                                                   match):
    engine, controls, journal = _controls(tmp_path)
    before = (engine.risk.state, engine.risk.killed, engine.risk.global_limits,
              [engine.risk.limits(i) for i in engine.instruments])
    with pytest.raises(ControlError, match=match):
        controls.run(action, params, by="test")
    assert before == (engine.risk.state, engine.risk.killed, engine.risk.global_limits,
                      [engine.risk.limits(i) for i in engine.instruments])
    entries = ControlJournal.read(journal.path)
    assert [e["event"] for e in entries] == ["control_refused"]
    assert "token" not in entries[0].get("params", {})


def test_a_value_outside_int64_is_refused(tmp_path):
    _engine, controls, journal = _controls(tmp_path)
    with pytest.raises(ControlError, match="int64"):
        controls.run("set_limit", {"scope": "coinbase:SKL-USD", "name": "band_bps",
                                   "value": str(10**19)}, by="t")
    assert [e["event"] for e in ControlJournal.read(journal.path)] == ["control_refused"]


def test_a_control_that_fails_while_applied_is_journaled_as_failed(tmp_path, monkeypatch):
    engine, controls, journal = _controls(tmp_path)

    def refuse(*a, **k):
        raise ValueError("the risk engine said no")

    monkeypatch.setattr(engine.risk, "set_limits", refuse)
    with pytest.raises(ControlError, match="said no"):
        controls.run("set_limit", {"scope": "coinbase:SKL-USD", "name": "max_size",
                                   "value": "10"}, by="t")
    entries = ControlJournal.read(journal.path)
    assert [e["event"] for e in entries] == ["control", "control_failed"]
    assert "said no" in entries[1]["error"]


def test_control_journal_appends_and_reads_back(tmp_path):
    j = ControlJournal(tmp_path / "c.jsonl")
    j.write({"event": "x", "n": 1})
    j.close()
    j.close()
    with pytest.raises(ValueError, match="closed"):
        j.write({"event": "y"})
    j2 = ControlJournal(tmp_path / "c.jsonl")
    j2.write({"event": "y"})
    with open(tmp_path / "c.jsonl", "ab") as fh:
        fh.write(b'{"torn": ')
    assert [e["event"] for e in ControlJournal.read(tmp_path / "c.jsonl")] == ["x", "y"]
