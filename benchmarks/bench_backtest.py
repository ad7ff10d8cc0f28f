"""Backtest throughput: hftcore against hftbacktest (numba) and NautilusTrader on one stream.

Run: ``python -m pytest benchmarks/bench_backtest.py -s`` (``HFTCORE_BENCH_CLOCK=cpu`` times
thread CPU instead of wall time, for a loaded machine; ``HFTCORE_BENCH_ROWS`` sets the
synthetic stream's size, 1,000,000 by default; NautilusTrader runs the first
``HFTCORE_BENCH_NT_ROWS`` rows, 100,000 by default, because building its objects is slow).

Data: the synthetic L2 stream of ``hftcore.data.synthetic.l2_stream`` (one instrument, a
consistent book with most updates near the top, trades at the touch), the same events given to
hftbacktest in its own format; and raw JSON recordings (tests/data's Coinbase and Kraken
files, 20 copies end to end) backtested straight from the text, decode and book sync included,
beside a cryptofeed-style replay (orjson, Decimal, the ``order-book`` C extension) of the same
Coinbase file doing the same work (both count the same top-of-book changes).
Every engine applies every row to its book; queue-position and latency models stay on (hftcore:
proportional queue model, 10 µs order latency each way; hftbacktest: power-3 probabilistic queue
model, the same constant latency).  Rows per second = rows / wall time of the run (start-up such
as numba's compile is reported apart).

Strategies:
* do nothing (no hook / an ``elapse`` loop over the whole stream);
* a Python strategy subscribed to top-of-book changes (counts them);
* a Cython strategy called on every row (``on_event`` through the C vtable);
* a market maker that re-quotes at the best bid and ask on every top-of-book change, with
  queue-position fills (hftcore: Python; hftbacktest: numba).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hftcore import Instrument
from hftcore.data.synthetic import l2_stream
from hftcore.engine import Engine
from hftcore.strategy import Strategy
from hftcore.venues.sim import Latency, SimExchange

ROWS = int(os.environ.get("HFTCORE_BENCH_ROWS", "1000000"))
LATENCY_NS = 10_000
CACHE = Path(__file__).parent.parent / ".benchmarks"
X = Instrument("sim", "X", 2, 0)
TICK = 0.01

#: name -> rows/s
RATES: dict[str, float] = {}


@pytest.fixture(scope="module")
def stream() -> np.ndarray[Any, Any]:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"synthetic_{ROWS}.npy"
    if path.exists():
        return np.load(path)
    ev = l2_stream(ROWS, seed=20261202)
    np.save(path, ev)
    return ev


class BboCounter(Strategy):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def on_bbo(self, instrument: Any, book: Any) -> None:
        self.n += 1


class Requote(Strategy):
    """Quotes one lot at the best bid and the best ask, re-quoting on every change."""

    def on_bbo(self, instrument: Any, book: Any) -> None:
        bid, ask = book.best_bid, book.best_ask
        if bid is not None and ask is not None:
            self.quote(instrument, bid, ask, 10)


def _engine(strategy: Strategy) -> Engine:
    sim = SimExchange(Latency(LATENCY_NS, LATENCY_NS))
    e = Engine([X], sim=sim, measure=False)
    e.add_strategy(strategy)
    return e


#: the clock of every row: ``HFTCORE_BENCH_CLOCK=cpu`` times this thread's CPU (steadier on
#: a shared machine; the same for every engine in the run), wall otherwise
CLOCK = time.thread_time if os.environ.get("HFTCORE_BENCH_CLOCK") == "cpu" else time.perf_counter


def _time(fn: Any, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = CLOCK()
        fn()
        best = min(best, CLOCK() - t)
    return best


def _report(name: str, rows: int, seconds: float, extra: str = "") -> None:
    rate = rows / seconds
    RATES[name] = rate
    print(f"\n  {name:<58} {rate / 1e6:7.2f} M rows/s  ({seconds * 1e3:8.1f} ms) {extra}")


def _cython_strategy() -> Any:
    """Compile benchmarks/strategies/cy_every_event.pyx (Cython + a C compiler)."""
    try:
        from Cython.Build import cythonize  # noqa: F401
    except ImportError:
        return None
    import hftcore

    src = Path(__file__).parent / "strategies" / "cy_every_event.pyx"
    build = Path(tempfile.mkdtemp(prefix="hftcore-cy-"))
    inc = str(Path(hftcore.__file__).parent.parent)
    script = (
        "import sys\nfrom setuptools import setup, Extension\nfrom Cython.Build import cythonize\n"
        f"ext = Extension('cy_every_event', [{str(src)!r}])\n"
        f"setup(script_args=['build_ext', '--inplace', '--build-temp', {str(build)!r}],"
        f" ext_modules=cythonize([ext], include_path=[{inc!r}], quiet=True))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], cwd=build, capture_output=True,
                       timeout=300, text=True)
    if r.returncode != 0:
        print(r.stderr[-2000:])
        return None
    sys.path.insert(0, str(build))
    import cy_every_event  # type: ignore[import-not-found]

    return cy_every_event.EveryEvent


def test_hftcore_rates(stream: np.ndarray[Any, Any]) -> None:
    n = len(stream)

    def run(strategy_cls: Any) -> Any:
        s = strategy_cls()
        e = _engine(s)
        e.process(stream)
        return s, e

    _report("hftcore: no hooks (books + simulator only)", n, _time(lambda: run(Strategy)))
    s, _ = run(BboCounter)
    _report("hftcore: Python strategy, on_bbo", n, _time(lambda: run(BboCounter)),
            f"{s.n:,} top-of-book changes")
    cls = _cython_strategy()
    if cls is not None:
        s, _ = run(cls)
        assert s.events == int(((stream["kind"] == 1) | (stream["kind"] == 2)).sum())
        _report("hftcore: Cython strategy, on_event every row", n, _time(lambda: run(cls)))
    s, e = run(Requote)
    _report("hftcore: Python market maker, re-quote every top change", n,
            _time(lambda: run(Requote)), f"{len(e.om):,} orders, {len(e.fills):,} fills")


def _to_hbt(ev: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Our events in hftbacktest's format (prices as float: its API)."""
    from hftbacktest import (
        BUY_EVENT,
        DEPTH_EVENT,
        EXCH_EVENT,
        LOCAL_EVENT,
        SELL_EVENT,
        TRADE_EVENT,
    )
    from hftbacktest.types import event_dtype

    keep = (ev["kind"] == 1) | (ev["kind"] == 2)
    e = ev[keep]
    out = np.zeros(len(e), dtype=event_dtype)
    flags = np.where(e["kind"] == 1, DEPTH_EVENT, TRADE_EVENT) | EXCH_EVENT | LOCAL_EVENT
    # depth: side of the level; trade: the aggressor's side
    flags = flags | np.where(e["side"] == 0, BUY_EVENT, SELL_EVENT)
    out["ev"] = flags.astype(np.uint64)
    out["exch_ts"] = e["exchange_ts"]
    out["local_ts"] = e["local_ts"]
    out["px"] = e["price"] * TICK
    out["qty"] = e["size"].astype(np.float64)
    return out


def test_hftbacktest_rates(stream: np.ndarray[Any, Any]) -> None:
    hbt_mod = pytest.importorskip("hftbacktest")
    from numba import njit

    data = _to_hbt(stream)
    n = len(stream)

    def make() -> Any:
        asset = (hbt_mod.BacktestAsset().add_data(data).linear_asset(1.0)
                 .constant_latency(LATENCY_NS, LATENCY_NS).power_prob_queue_model(3.0)
                 .no_partial_fill_exchange().trading_value_fee_model(0.0, 0.0)
                 .tick_size(TICK).lot_size(1.0).last_trades_capacity(0))
        return hbt_mod.HashMapMarketDepthBacktest([asset])

    @njit
    def do_nothing(hbt: Any) -> int:
        k = 0
        while hbt.elapse(3_600_000_000_000) == 0:
            k += 1
        return k

    @njit
    def requote(hbt: Any) -> int:
        last_bid = 0.0
        last_ask = 0.0
        oid = 0
        quotes = 0
        while hbt.wait_next_feed(False, 3_600_000_000_000) == 2:
            depth = hbt.depth(0)
            bid = depth.best_bid
            ask = depth.best_ask
            if bid != last_bid or ask != last_ask:
                hbt.clear_inactive_orders(0)
                orders = hbt.orders(0)
                values = orders.values()
                while values.has_next():
                    o = values.get()
                    if o.cancellable:
                        hbt.cancel(0, o.order_id, False)
                oid += 1
                hbt.submit_buy_order(0, oid, bid, 10.0, 1, 0, False)
                oid += 1
                hbt.submit_sell_order(0, oid, ask, 10.0, 1, 0, False)
                last_bid = bid
                last_ask = ask
                quotes += 1
        return quotes

    t = time.perf_counter()
    do_nothing(make())
    requote(make())
    compile_s = time.perf_counter() - t
    print(f"\n  hftbacktest start-up (numba compile + first runs): {compile_s:.1f} s")

    def run_nothing() -> None:
        hbt = make()
        do_nothing(hbt)
        hbt.close()

    def run_mm() -> None:
        hbt = make()
        requote(hbt)
        hbt.close()

    _report("hftbacktest: do nothing (elapse loop)", n, _time(run_nothing))
    _report("hftbacktest: numba market maker, re-quote every top change", n, _time(run_mm))


NT_ROWS = int(os.environ.get("HFTCORE_BENCH_NT_ROWS", "100000"))


def _nautilus_data(ev: np.ndarray[Any, Any]) -> tuple[Any, list[Any]]:
    from nautilus_trader.model.data import BookOrder, OrderBookDelta, TradeTick
    from nautilus_trader.model.enums import AggressorSide, BookAction, OrderSide, RecordFlag
    from nautilus_trader.model.identifiers import TradeId
    from nautilus_trader.model.objects import Price, Quantity
    from nautilus_trader.test_kit.providers import TestInstrumentProvider

    inst = TestInstrumentProvider.btcusdt_binance()   # prices at 2 decimals like ours
    iid = inst.id
    ps, qs = 10**14, 10**16                          # NautilusTrader's raw fixed-point scales
    sides = (OrderSide.BUY, OrderSide.SELL)
    out: list[Any] = []
    for ts, _exch, px, sz, _ref, _i, kind, side, flags, _v in ev.tolist():
        last = RecordFlag.F_LAST if flags & 4 else 0
        if kind == 1:
            if flags & 2:
                out.append(OrderBookDelta.clear(iid, 0, ts, ts))
            action = BookAction.UPDATE if sz else BookAction.DELETE
            order = BookOrder(sides[side], Price.from_raw(px * ps, 2),
                              Quantity.from_raw(sz * qs, 6), 0)
            out.append(OrderBookDelta(iid, action, order, last, 0, ts, ts))
        elif kind == 2:
            out.append(TradeTick(iid, Price.from_raw(px * ps, 2), Quantity.from_raw(sz * qs, 6),
                                 AggressorSide.BUYER if side == 0 else AggressorSide.SELLER,
                                 TradeId(str(len(out))), ts, ts))
    return inst, out


def test_nautilus_rates(stream: np.ndarray[Any, Any]) -> None:
    pytest.importorskip("nautilus_trader")
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import BTC, USDT
    from nautilus_trader.model.enums import AccountType, BookType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.trading.strategy import Strategy as NTStrategy

    ev = stream[:NT_ROWS]
    inst, data = _nautilus_data(ev)
    iid = inst.id

    class Watch(NTStrategy):  # type: ignore[misc]
        def on_start(self) -> None:
            self.subscribe_order_book_deltas(iid, BookType.L2_MBP)

        def on_order_book_deltas(self, deltas: Any) -> None:
            pass

    class Requote(NTStrategy):  # type: ignore[misc]
        def on_start(self) -> None:
            self.last = (None, None)
            self.subscribe_order_book_deltas(iid, BookType.L2_MBP)

        def on_order_book_deltas(self, deltas: Any) -> None:
            book = self.cache.order_book(iid)
            bid, ask = book.best_bid_price(), book.best_ask_price()
            if bid is None or ask is None or (bid, ask) == self.last:
                return
            self.last = (bid, ask)
            self.cancel_all_orders(iid)
            q = Quantity.from_int(10)
            self.submit_order(self.order_factory.limit(iid, sides[0], q, Price(bid, 2)))
            self.submit_order(self.order_factory.limit(iid, sides[1], q, Price(ask, 2)))

    from nautilus_trader.model.enums import OrderSide

    sides = (OrderSide.BUY, OrderSide.SELL)

    def run(cls: Any) -> None:
        eng = BacktestEngine(config=BacktestEngineConfig(
            logging=LoggingConfig(log_level="ERROR")))
        eng.add_venue(venue=Venue("BINANCE"), oms_type=OmsType.NETTING,
                      account_type=AccountType.CASH, book_type=BookType.L2_MBP,
                      starting_balances=[Money(10_000_000, USDT), Money(1_000, BTC)])
        eng.add_instrument(inst)
        eng.add_data(data)
        if cls is not None:
            eng.add_strategy(cls())
        eng.run()
        eng.dispose()

    n = len(ev)
    _report("nautilus_trader: no strategy", n, _time(lambda: run(None), rounds=1))
    _report("nautilus_trader: Python strategy, order book deltas", n,
            _time(lambda: run(Watch), rounds=1))
    _report("nautilus_trader: Python market maker, re-quote every top change", n,
            _time(lambda: run(Requote), rounds=1))


RECORDINGS = Path(__file__).resolve().parent.parent / "tests" / "data"
RAW_FILES = [("coinbase", RECORDINGS / "coinbase" / "exchange_ws_2021-04-17.txt"),
             ("kraken", RECORDINGS / "kraken" / "ws_v1_book_2021-04-17.txt")]


def _coinbase_replay_peer(path: Path) -> int:
    """cryptofeed-style replay of a Coinbase recording: each line split, ``orjson.loads``,
    Decimal prices and sizes into the ``order-book`` C extension's book (what cryptofeed uses),
    the top of book read after each message and a Python callback on every change.  Returns
    the number of top-of-book changes."""
    from decimal import Decimal

    import orjson
    from order_book import OrderBook

    books: dict[str, Any] = {}
    tops: dict[str, Any] = {}
    changes = 0

    def on_bbo(product: str, top: Any) -> None:
        nonlocal changes
        changes += 1

    with open(path, "rb") as fh:
        for line in fh:
            head, sep, body = line.partition(b": {")
            if not sep or b" " in head:
                continue
            msg = orjson.loads(b"{" + body)
            kind = msg.get("type")
            if kind == "snapshot":
                ob = books[msg["product_id"]] = OrderBook()
                for p, q in msg["bids"]:
                    ob.bids[Decimal(p)] = Decimal(q)
                for p, q in msg["asks"]:
                    ob.asks[Decimal(p)] = Decimal(q)
            elif kind == "l2update":
                pid = msg["product_id"]
                ob = books.get(pid)
                if ob is None:
                    continue
                for side, p, q in msg["changes"]:
                    levels = ob.bids if side == "buy" else ob.asks
                    px, qty = Decimal(p), Decimal(q)
                    if qty:
                        levels[px] = qty
                    elif px in levels:
                        del levels[px]
            else:
                continue
            pid = msg["product_id"]
            ob = books[pid]
            top = (ob.bids.index(0) if len(ob.bids) else None,
                   ob.asks.index(0) if len(ob.asks) else None)
            if tops.get(pid) != top:
                tops[pid] = top
                on_bbo(pid, top)
    return changes


def test_raw_json_rates() -> None:
    """Backtests straight from raw JSON recordings, decode and book sync included: messages/s
    and MB/s for a Python strategy on top-of-book changes (issue 9's goal: >= 1 M messages/s),
    beside a cryptofeed-style replay of the same file where ``order-book`` installs."""
    from hftcore.backtest import backtest
    from hftcore.data.recordings import infer_instruments

    for venue, src in RAW_FILES:
        if not src.exists():
            continue
        # the recording 20 times over (each copy starts with its snapshots, so the books resync;
        # 0 decode errors and 0 gaps are checked below): large enough that the per-run set-up
        # (engine, result tables) is not what is timed
        CACHE.mkdir(exist_ok=True)
        path = CACHE / f"x20_{src.name}"
        if not path.exists():
            path.write_bytes(src.read_bytes() * 20)
        size = path.stat().st_size
        # the instruments (symbols and decimals) given, as a user re-running a file would; left
        # out, ``backtest`` reads the whole file once more in Python to infer them (timed apart)
        t = CLOCK()
        insts = infer_instruments(src)
        infer_s = CLOCK() - t
        counter = BboCounter()
        res = backtest(counter, path, insts, progress=False, measure=False)
        assert res.replay is not None and res.replay.decode_errors == 0 and res.replay.gaps == 0
        msgs = res.replay.messages
        secs = _time(lambda p=path, i=insts: backtest(BboCounter(), p, i, progress=False,
                                                      measure=False))
        name = f"hftcore raw JSON {venue}: Python on_bbo, decode + sync"
        RATES[name] = msgs / secs
        print(f"\n  {name:<58} {msgs / secs / 1e6:7.3f} M msg/s {size / secs / 1e6:7.1f} MB/s"
              f"  ({msgs:,} messages, {counter.n:,} top changes, {secs * 1e3:.1f} ms; "
              f"inferring the instruments first: {infer_s * 1e3:.0f} ms)")
        if venue == "coinbase":
            try:
                import order_book  # noqa: F401
            except ImportError:
                continue
            changes = _coinbase_replay_peer(path)
            psecs = _time(lambda p=path: _coinbase_replay_peer(p))
            pname = f"orjson + Decimal + order-book replay {venue}"
            RATES[pname] = msgs / psecs
            print(f"  {pname:<58} {msgs / psecs / 1e6:7.3f} M msg/s "
                  f"{size / psecs / 1e6:7.1f} MB/s  ({changes:,} top changes, "
                  f"{psecs * 1e3:.1f} ms; {psecs / secs:.1f}x hftcore's time)")


def test_summary() -> None:
    if not RATES:
        pytest.skip("nothing measured")
    print("\n\n  rows/s (ratio to the best hftbacktest figure of the same kind)")
    pairs = [("hftcore: no hooks (books + simulator only)",
              "hftbacktest: do nothing (elapse loop)"),
             ("hftcore: Python strategy, on_bbo", "hftbacktest: do nothing (elapse loop)"),
             ("hftcore: Cython strategy, on_event every row",
              "hftbacktest: do nothing (elapse loop)"),
             ("hftcore: Python market maker, re-quote every top change",
              "hftbacktest: numba market maker, re-quote every top change")]
    pairs += [("hftcore: no hooks (books + simulator only)", "nautilus_trader: no strategy"),
              ("hftcore: Python strategy, on_bbo",
               "nautilus_trader: Python strategy, order book deltas"),
              ("hftcore: Python market maker, re-quote every top change",
               "nautilus_trader: Python market maker, re-quote every top change")]
    pairs += [("hftcore raw JSON coinbase: Python on_bbo, decode + sync",
               "orjson + Decimal + order-book replay coinbase")]
    for ours, peer in pairs:
        if ours in RATES:
            ratio = f"{RATES[ours] / RATES[peer]:6.2f}x" if peer in RATES else "    -"
            print(f"  {ours:<58} {RATES[ours] / 1e6:7.2f} M  {ratio} vs {peer}")
