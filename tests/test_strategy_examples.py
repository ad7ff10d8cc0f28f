"""The strategy examples (examples/market_maker.py, cross_venue_arbitrage.py, cython_strategy.pyx
with build_cython_strategy.py) run as a user runs them, print what a run in this process
computes, and their strategies do what their docstrings say on books scripted by hand."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import hftcore
from hftcore import Instrument, OrderStatus, Side, TimeInForce
from hftcore.backtest import backtest
from hftcore.data import sample
from hftcore.data.events import EV_STATUS, delta, make_events, trade
from hftcore.engine import Engine
from hftcore.portfolio import FeeSchedule
from hftcore.strategy import Strategy
from hftcore.venues.sim import Latency, SimExchange

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SKL = next(i for i in sample.instruments() if i.symbol == "SKL-USD")


def example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as module ``name``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_script(name: str, *args: str, timeout: int = 600) -> str:
    """Run ``examples/<name>`` in a fresh interpreter that imports this checkout's hftcore."""
    env = dict(os.environ)
    pkg_parent = str(Path(hftcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def scripted_book(ts: int, instrument: int, bids: list[tuple[int, int]],
                  asks: list[tuple[int, int]]) -> list[tuple[Any, ...]]:
    """A snapshot message of one instrument (the book is valid after it)."""
    levels = [(0, p, q) for p, q in bids] + [(1, p, q) for p, q in asks]
    rows: list[tuple[Any, ...]] = []
    for k, (side, p, q) in enumerate(levels):
        rows.extend(delta(ts, instrument, side, p, q, snapshot=(k == 0),
                          last=(k == len(levels) - 1)))
    return rows


# -- the engine gives each fill its fee (found while writing the examples) ----------------------
def test_fills_carry_the_fee_the_portfolio_books() -> None:
    """A simulated fill reached ``on_fill`` with ``fee=None`` and the fills table with fee 0,
    while the portfolio charged the fee: the three now agree."""
    btc = Instrument("sim", "BTC", 2, 3)
    seen: list[int | None] = []

    class Taker(Strategy):
        def on_fill(self, fill):  # type: ignore[no-untyped-def]
            seen.append(fill.fee)

    e = Engine([btc], sim=SimExchange(0), fees=("0.0001", "0.0004"))
    s = Taker()
    e.add_strategy(s)
    e.process(make_events([scripted_book(1, 0, [(9_900, 5_000)], [(10_000, 5_000)])]))
    s.buy(btc, 2_000, 10_000, tif=TimeInForce.IOC)      # 2.000 @ 100.00 = 200.00000 taker
    e.process(make_events([delta(2, 0, 0, 9_900, 4_000)]))
    assert seen == [8_000]                              # 200 * 0.0004 = 0.08000
    assert [f[7] for f in e.fills] == [8_000]
    assert e.portfolio.position(btc).fees == 8_000


# -- examples/market_maker.py ------------------------------------------------------------------
def test_market_maker_skews_its_quotes_against_the_inventory() -> None:
    mm = example("market_maker")
    x = Instrument("sim", "XY", 0, 0)
    e = Engine([x])
    s = mm.SkewedMarketMaker({"XY": (1, 2)}, skew_ticks=2)
    e.add_strategy(s)
    e.process(make_events([scripted_book(1, 0, [(100, 5)], [(110, 5)])]))
    assert sorted((o.side, o.price) for o in s.open_orders()) == [(Side.BUY, 101),
                                                                  (Side.SELL, 109)]
    e.process(make_events([trade(2, 0, Side.SELL, 101, 3)]))   # fills our bid: long 1
    assert s.position(x) == 1
    e.process(make_events([delta(3, 0, 0, 100, 6)]))           # a new top: re-quote
    # skew = |1| * 2 // 2 = 1 tick down: bid 101 -> 100, ask 109 -> 108
    assert sorted((o.side, o.price) for o in s.open_orders()) == [(Side.BUY, 100),
                                                                  (Side.SELL, 108)]
    e.process(make_events([trade(4, 0, Side.SELL, 99, 3)]))    # through our bid: long 2
    e.process(make_events([delta(5, 0, 0, 100, 7)]))
    # at the limit: no bid; skew 2 * 2 // 2 = 2 ticks: ask 109 - 2 = 107
    assert [(o.side, o.price) for o in s.open_orders()] == [(Side.SELL, 107)]


@pytest.fixture(scope="module")
def mm_run() -> Iterator[tuple[Any, Any]]:
    yield example("market_maker").run(["SKL-USD", "NMR-EUR"])


def test_market_maker_backtest_respects_its_limits(mm_run: tuple[Any, Any]) -> None:
    strategy, result = mm_run
    assert result.failures == []
    assert result.stats["trades"] > 0 and result.stats["invalid_books"] == []
    fills = result.fills.sort_values("ts", kind="stable")
    engine = result.engine
    for inst in engine.instruments:
        size, max_pos = strategy.sizes[inst.symbol]
        mine = fills[fills["symbol"] == inst.symbol]
        signed = np.where(mine["side"] == "BUY", mine["qty"], -mine["qty"])
        path = np.cumsum(signed)
        assert int(np.abs(path).max(initial=0)) <= max_pos
        assert int(np.abs(path).max(initial=0)) == strategy.max_abs_position[inst.symbol]
        assert (int(path[-1]) if len(path) else 0) == strategy.position(inst)
        # fees in the fills table are the ones the portfolio booked
        assert int(mine["fee"].sum()) == engine.portfolio.position(inst).fees
        assert (mine["qty"] <= size).all()
    assert sum(result.fills["fee"]) > 0


def test_market_maker_is_deterministic(mm_run: tuple[Any, Any]) -> None:
    _, again = example("market_maker").run(["SKL-USD", "NMR-EUR"])
    assert again.fills_bytes() == mm_run[1].fills_bytes()
    assert again.orders.equals(mm_run[1].orders)


def test_market_maker_script_prints_its_run_and_writes_the_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    strategy, result = example("market_maker").run(["SKL-USD"])
    png = tmp_path / "mm.png"
    out = run_script("market_maker.py", "--symbols", "SKL-USD", "--plot", str(png))
    assert f"SKL-USD   fills {len(result.fills):>3}" in out
    assert f"position {SKL.format_qty(strategy.position(SKL)):>8}" in out
    deterministic = ("messages", "events", "orders", "fills", "PnL", "fees", "turnover",
                     "max drawdown", "fill ratio")
    lines = [ln for ln in result.summary().splitlines() if ln.split("  ")[0] in deterministic]
    assert len(lines) == len(deterministic)
    for line in lines:
        assert line in out
    assert f"plot: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- examples/cross_venue_arbitrage.py ---------------------------------------------------------
def test_lagged_copy_moves_time_and_prices_only() -> None:
    arb = example("cross_venue_arbitrage")
    ev = make_events([scripted_book(10, 0, [(100, 5)], [(101, 5)]),
                      trade(20, 0, Side.BUY, 101, 1, exchange_ts=15)])
    out = arb.lagged_copy(ev, 1, 1_000, 3)
    assert (out["instrument"] == 1).all() and (ev["instrument"] == 0).all()
    assert (out["local_ts"] == ev["local_ts"] + 1_000).all()
    assert out["exchange_ts"].tolist() == [0, 0, 0, 1_015]
    status = out["kind"] == EV_STATUS
    assert out["price"][~status].tolist() == [103, 104, 104]
    assert (out["price"][status] == ev["price"][status]).all()
    assert (out["size"] == ev["size"]).all() and (out["flags"] == ev["flags"]).all()
    merged = arb.merge(ev, arb.lagged_copy(ev, 1, 0, 0))
    assert merged["instrument"].tolist() == [0, 0, 0, 1, 1, 1, 0, 1]   # ties: stream order


@pytest.mark.parametrize("bid,ask,taker,edge", [(1010, 1000, "0.0004", 1), (1001, 1000, "0", 1),
                                                (1000, 1000, "0", 0), (7919, 7916, "0.0001", 1),
                                                (7919, 7916, "0.0002", 1), (5, 4, "0.1", 0)])
def test_arbitrage_pays_is_the_exact_fee_and_edge_test(bid: int, ask: int, taker: str,
                                                       edge: int) -> None:
    arb = example("cross_venue_arbitrage")
    a, b = Instrument("a", "X", 0, 0), Instrument("b", "X", 0, 0)
    s = arb.CrossVenueArbitrage((a, b), FeeSchedule.from_text("0", taker), max_clip=10,
                                min_edge_bps=edge)
    rate = Decimal(taker)
    want = Decimal(bid - ask) > (bid + ask) * rate + ask * Decimal(edge) / 10_000
    assert s.pays(bid, ask) is want


def test_arbitrage_hedges_a_leg_that_missed() -> None:
    arb = example("cross_venue_arbitrage")
    a, b = Instrument("a", "X", 0, 0), Instrument("b", "X", 0, 0)
    e = Engine([a, b], sim=SimExchange(Latency(entry=10, response=10)))
    s = arb.CrossVenueArbitrage((a, b), FeeSchedule(), max_clip=4, hedge_ticks=5)
    e.add_strategy(s)
    e.process(make_events([
        scripted_book(1, 0, [(99, 9)], [(100, 3), (103, 9)]),
        scripted_book(2, 1, [(105, 9)], [(106, 9)]),   # b's bid crosses a's ask: buy a, sell b
        delta(5, 0, 1, 100, 0),                        # a's ask leaves before our buy arrives
        delta(50, 1, 0, 105, 8),                       # a new top on b: the strategy looks again
        delta(100, 1, 0, 104, 1),
    ]))
    assert s.attempts == 1 and s.hedges == 1
    assert s.legs == {"MISSED": 1, "FILLED": 2}
    assert s.position(a) == 3 and s.position(b) == -3          # hedged on a at 103
    assert s.cash == 3 * 105 - 3 * 103
    assert any("hedge: BUY 3 on a at 108 or better" in line for line in s.log)


@pytest.fixture(scope="module")
def arb_run() -> Iterator[tuple[Any, Any]]:
    yield example("cross_venue_arbitrage").run()


def test_arbitrage_run_over_the_two_venues(arb_run: tuple[Any, Any]) -> None:
    strategy, engine = arb_run
    a, b = strategy.venues
    assert engine.failures == []
    assert strategy.attempts > 0 and strategy.legs["FILLED"] >= 2
    assert strategy.position(a) + strategy.position(b) == 0     # every leg matched or hedged
    # each venue's position stays within the risk limit (the refused legs were the ones over it)
    limit = a.qty("2000")
    assert abs(strategy.position(a)) <= limit and abs(strategy.position(b)) <= limit
    assert all("POSITION_LIMIT" in r for r in strategy.rejections)
    cash = 0
    for _ts, _name, _cid, side, qty, price, _liq, fee, _i in engine.fills:
        cash += (qty * price if side == Side.SELL else -qty * price) - fee
    assert cash == strategy.cash > 0                            # bought low, sold high, net
    assert all(f[6] == 1 for f in engine.fills)                 # IOC legs only take


def test_arbitrage_script_prints_what_it_did(arb_run: tuple[Any, Any]) -> None:
    strategy, _ = arb_run
    out = run_script("cross_venue_arbitrage.py")
    assert f"opportunities taken: {strategy.attempts}, hedges: {strategy.hedges}" in out
    for line in strategy.log:
        assert line in out
    value_decimals = SKL.price_decimals + SKL.size_decimals
    assert f"cash PnL after fees (net position 0.0): " \
           f"{hftcore.fixed.format(strategy.cash, value_decimals)} USD" in out


# -- examples/cython_strategy.pyx, built by examples/build_cython_strategy.py -------------------
class PyImbalanceQuoter(Strategy):
    """The Python twin of examples/cython_strategy.pyx's ImbalanceQuoter (reads the book through
    its Python API): both must trade identically."""

    def __init__(self, size: int, max_position: int, levels: int = 5, ratio: int = 3) -> None:
        super().__init__()
        self.size, self.max_position, self.levels, self.ratio = size, max_position, levels, ratio
        self.quotes = self.pulled = 0

    def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
        bid, ask = book.best_bid, book.best_ask
        if bid is None or ask is None or ask <= bid:
            return
        tick = instrument.tick
        if ask - bid - tick > tick:
            bid, ask = bid + tick, ask - tick
        _, bid_sizes, _, ask_sizes = book.depth(self.levels)
        bid_vol, ask_vol = int(bid_sizes.sum()), int(ask_sizes.sum())
        bids_hold = ask_vol // self.ratio < bid_vol
        asks_hold = bid_vol // self.ratio < ask_vol
        pos = self.position(instrument)
        want_bid = bids_hold and pos <= self.max_position - self.size
        want_ask = asks_hold and pos >= self.size - self.max_position
        if not (bids_hold and asks_hold):
            self.pulled += 1
        self.quote(instrument, bid if want_bid else None, ask if want_ask else None, self.size)
        self.quotes += 1


@pytest.mark.integration
def test_cython_strategy_builds_runs_and_matches_its_python_twin(tmp_path: Path) -> None:
    pytest.importorskip("Cython")
    out = run_script("build_cython_strategy.py", "--build-dir", str(tmp_path))
    assert "a cdef class: True" in out
    module = example("build_cython_strategy").load(tmp_path / "lib")
    assert Path(module.__file__).parent == tmp_path / "lib"
    quoter = module.ImbalanceQuoter
    assert issubclass(quoter, Strategy) and quoter.on_bbo is not Strategy.on_bbo

    kw: dict[str, Any] = {"latency": 100_000, "fees": ("0.0001", "0.0005"), "seed": 0,
                          "progress": False}
    size, max_pos = SKL.qty("400"), SKL.qty("2000")
    cy = quoter(size=size, max_position=max_pos)
    py = PyImbalanceQuoter(size, max_pos)
    r_cy = backtest(cy, sample.paths(), [SKL], **kw)
    r_py = backtest(py, sample.paths(), [SKL], **kw)
    assert cy.quotes == py.quotes > 0 and cy.pulled == py.pulled > 0
    assert r_cy.stats["hook_calls"] == r_py.stats["hook_calls"]
    assert r_cy.stats["trades"] > 0
    assert r_cy.fills_bytes() == r_py.fills_bytes()
    assert r_cy.orders.equals(r_py.orders)
    # the script ran the same backtest: it printed the same figures
    assert f"on_bbo calls {cy.quotes}, quotes with a side pulled on the imbalance " \
           f"{cy.pulled}" in out
    assert f"position {SKL.format_qty(cy.position(SKL))} SKL" in out
    with pytest.raises(ValueError, match="levels"):
        quoter(size=size, max_position=max_pos, levels=17)
    assert all(o.status != OrderStatus.REJECTED for o in r_cy.engine.om)
