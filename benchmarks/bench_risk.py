"""Trading-core benchmarks (issue 5): pre-trade risk check, nogil batch, order life cycle.

Targets: one full pre-trade check from Python <= 100 ns; <= 20 ns per order in a nogil batch;
submit -> ack -> fill -> position update through OrderManager and Portfolio <= 3 us.

Workload: BTCUSDT (2 price / 5 size decimals) with every check switched on (size, lot, tick,
price band in bps against a reference, min/max notional, position limit, gross and net
exposure, open-order counts, self-trade prevention, a venue token bucket large enough never to
run dry, daily loss limit, error-rate breaker).  Loops are timed whole and reported per item
(best of rounds); "net" figures subtract the empty loop measured in the same run.

Peer: NautilusTrader 1.221.0, driven from Python with its own test-kit stubs.  Its pre-trade
checks are ``RiskEngine._check_order`` + ``_check_orders_risk`` (cpdef, callable from Python;
the same checks ``execute(SubmitOrder)`` runs), and its life cycle is
``RiskEngine.execute(SubmitOrder)`` routed to a mock execution client, then
``ExecutionEngine.process`` of OrderSubmitted, OrderAccepted and OrderFilled events (which
updates its cache, position and portfolio).  The Nautilus orders and commands are built before
the timed loop (in its favour) and the cost of building its events is reported separately; ours
are created inside the loop.  Nautilus has no batch check: that row has no peer.

Run::

    PYTHONPATH=src python benchmarks/bench_risk.py [--runs 3]  # table with ratios (best of runs)
    PYTHONPATH=src python -m pytest benchmarks/bench_risk.py --benchmark-json=.benchmarks/risk.json
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from hftcore import (
    Instrument,
    InstrumentLimits,
    OrderManager,
    Portfolio,
    RiskEngine,
    RiskLimits,
    Side,
    VenueRateLimit,
)

N_CHECK = int(os.environ.get("HFTCORE_BENCH_N", "200000"))
N_BATCH = 1_000_000
N_FLOW = 20_000
N_PEER = 2_000

BTC = Instrument("binance", "BTCUSDT", 2, 5, tick=1, lot=1, base="BTC", quote="USDT")
PX = BTC.price("50000.00")
QTY = BTC.qty("0.01")

RESULTS: dict[str, dict[str, float]] = {}


def full_risk() -> tuple[RiskEngine, int]:
    """A risk engine with every check on and nothing near a limit."""
    risk = RiskEngine(
        notional_decimals=8,
        limits=RiskLimits(
            max_gross_exposure=10**9 * 10**8,
            max_net_exposure=10**9 * 10**8,
            max_open_orders=10**9,
            max_daily_loss=10**6 * 10**8,
            max_errors=100,
        ),
    )
    i = risk.add_instrument(
        BTC,
        InstrumentLimits(
            min_size=1, max_size=BTC.qty("100"), min_notional=10**8,
            max_notional=10**7 * 10**8, max_position=BTC.qty("10000000"), band_bps=500,
            max_open_orders=10**9,
        ),
    )
    risk.set_rate_limit("binance", VenueRateLimit(order_rate=10**9, order_burst=10**9))
    risk.set_reference(BTC, PX)
    risk.on_order_open("resting-ask", BTC, Side.SELL, PX + 10_000, QTY)  # STP has work to do
    return risk, i


# -- timing helpers ------------------------------------------------------------------------------
def best_ns(fn: Callable[[], object], n: int, rounds: int = 7) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - t0)
    return best / n


def record(group: str, name: str, ns: float) -> None:
    """Keep the best figure of a row over repeated runs (``--runs``)."""
    rows = RESULTS.setdefault(group, {})
    rows[name] = min(ns, rows.get(name, ns))


# -- the workloads -------------------------------------------------------------------------------
def hftcore_check_loop(n: int = N_CHECK) -> Callable[[], object]:
    risk, i = full_risk()
    check = risk.check
    prices = [PX + (k % 50) for k in range(n)]

    def run() -> None:
        for p in prices:
            check(i, 0, p, QTY)

    return run


def empty_loop(n: int = N_CHECK) -> Callable[[], object]:
    """The bare ``for`` loop over the same list (subtracted for the "net" figure)."""
    prices = [PX + (k % 50) for k in range(n)]

    def run() -> None:
        for _p in prices:
            pass

    return run


def hftcore_check_loop_now(n: int = N_CHECK) -> Callable[[], object]:
    """The check given the time (an engine has it from the event it handles): no clock read."""
    risk, i = full_risk()
    check = risk.check
    prices = [PX + (k % 50) for k in range(n)]
    now = time.monotonic_ns()

    def run() -> None:
        for p in prices:
            check(i, 0, p, QTY, 0, now)

    return run


def hftcore_batch(n: int = N_BATCH) -> Callable[[], object]:
    risk, i = full_risk()
    core = risk._core
    idx = np.full(n, i, np.int32)
    side = (np.arange(n) % 2).astype(np.uint8)
    price = np.where(side == 0, PX - np.arange(n) % 50, PX + 20_000 + np.arange(n) % 50)
    price = price.astype(np.int64)
    qty = np.full(n, QTY, np.int64)
    otype = np.zeros(n, np.uint8)
    out = np.empty(n, np.uint8)

    def run() -> None:
        core.check_batch(idx, side, price, qty, otype, out)

    run()
    assert (out == 0).all(), np.bincount(out)
    return run


def hftcore_flow(n: int = N_FLOW, with_risk: bool = False, journal: str | None = None,
                 prune: bool = False, gc_paused: bool = False) -> Callable[[], object]:
    """n orders through create, submit (+risk), ack, fill and the portfolio.

    Every order is kept (as a session keeps them) unless ``prune``: then orders done more than
    1000 orders ago are forgotten every 1000 orders (steady-state memory).
    """

    def run() -> None:
        if gc_paused:  # what gc.freeze()/gc.disable() in a trading process buys
            gc.disable()
        try:
            body()
        finally:
            gc.enable()

    def body() -> None:
        risk = full_risk()[0] if with_risk else None
        # a journal holds one session: a fresh file per run
        path = None if journal is None else f"{journal}.{time.perf_counter_ns()}"
        om = OrderManager(session="bench", portfolio=Portfolio(), risk=risk, journal=path)
        create, submit, ack, fill = om.create, om.submit, om.on_ack, om.on_fill
        buy, sell = Side.BUY, Side.SELL
        for k in range(n):
            o = create(BTC, buy if k & 1 else sell, QTY, PX, ts=k)
            submit(o, k)
            cid = o.client_order_id
            ack(cid, "v", k)
            fill(cid, "t", QTY, PX, ts=k)
            if prune and k % 1000 == 999:
                om.prune(k - 1000)
        assert om.portfolio.position(BTC).fills == n
        om.close()

    return run


def hftcore_flow_precreated(n: int = N_FLOW, with_risk: bool = False) -> Callable[[], object]:
    """submit -> ack -> fill -> position only: the orders are created before the timed loop,
    as the peer's are (one prepared set per call)."""
    risk = full_risk()[0] if with_risk else None
    om = OrderManager(session="bench", portfolio=Portfolio(), risk=risk)
    orders = [om.create(BTC, Side.BUY if k & 1 else Side.SELL, QTY, PX, ts=k) for k in range(n)]

    def run() -> None:
        submit, ack, fill = om.submit, om.on_ack, om.on_fill
        for k, o in enumerate(orders):
            submit(o, k)
            cid = o.client_order_id
            ack(cid, "v", k)
            fill(cid, "t", QTY, PX, ts=k)

    return run


def prepared(make: Callable[[], Callable[[], object]], rounds: int) -> Callable[[], object]:
    """A callable that runs a freshly prepared workload each time (orders cannot be reused)."""
    runs = iter([make() for _ in range(rounds + 1)])
    return lambda: next(runs)()


# -- NautilusTrader ------------------------------------------------------------------------------
class Nautilus:
    """NautilusTrader 1.221.0 RiskEngine + ExecutionEngine wired with its test-kit stubs."""

    def __init__(self) -> None:
        from nautilus_trader.cache.cache import Cache
        from nautilus_trader.common.component import MessageBus, TestClock
        from nautilus_trader.common.factories import OrderFactory
        from nautilus_trader.config import ExecEngineConfig, RiskEngineConfig
        from nautilus_trader.execution.engine import ExecutionEngine
        from nautilus_trader.model.enums import AccountType
        from nautilus_trader.model.identifiers import ClientId, StrategyId, Venue
        from nautilus_trader.portfolio.portfolio import Portfolio as NPortfolio
        from nautilus_trader.risk.engine import RiskEngine as NRiskEngine
        from nautilus_trader.test_kit.mocks.exec_clients import MockExecutionClient
        from nautilus_trader.test_kit.providers import TestInstrumentProvider
        from nautilus_trader.test_kit.stubs.events import TestEventStubs
        from nautilus_trader.test_kit.stubs.identifiers import TestIdStubs

        clock = TestClock()
        trader_id = TestIdStubs.trader_id()
        self.msgbus = MessageBus(trader_id=trader_id, clock=clock)
        self.cache = Cache()
        self.portfolio = NPortfolio(self.msgbus, self.cache, clock)
        self.exec_engine = ExecutionEngine(msgbus=self.msgbus, cache=self.cache, clock=clock,
                                           config=ExecEngineConfig(debug=False))
        self.risk = NRiskEngine(portfolio=self.portfolio, msgbus=self.msgbus, cache=self.cache,
                                clock=clock, config=RiskEngineConfig(debug=False))
        self.inst = TestInstrumentProvider.btcusdt_binance()
        self.cache.add_instrument(self.inst)
        client = MockExecutionClient(client_id=ClientId("BINANCE"), venue=Venue("BINANCE"),
                                     account_type=AccountType.CASH, base_currency=None,
                                     msgbus=self.msgbus, cache=self.cache, clock=clock)
        self.exec_engine.register_client(client)
        self.portfolio.update_account(TestEventStubs.cash_account_state())
        self.exec_engine.start()
        self.risk.start()
        self.strategy_id = StrategyId("S-001")
        self.trader_id = trader_id
        self.factory = OrderFactory(trader_id=trader_id, strategy_id=self.strategy_id, clock=clock)
        self.clock = clock
        self.events = TestEventStubs

    def order(self, side: int = 0) -> Any:
        from nautilus_trader.model.enums import OrderSide
        from nautilus_trader.model.objects import Price, Quantity

        return self.factory.limit(
            self.inst.id, OrderSide.BUY if side == 0 else OrderSide.SELL,
            Quantity.from_str("0.010000"), Price.from_str("50000.00"),
        )

    def check_loop(self, n: int = N_PEER) -> Callable[[], object]:
        inst, risk = self.inst, self.risk
        orders = [self.order() for _ in range(n)]
        assert risk._check_order(inst, orders[0]) and risk._check_orders_risk(inst, [orders[0]])

        def run() -> None:
            for o in orders:
                risk._check_order(inst, o)
                risk._check_orders_risk(inst, [o])

        return run

    def flow(self, n: int = N_PEER) -> Callable[[], object]:
        from nautilus_trader.core.uuid import UUID4
        from nautilus_trader.execution.messages import SubmitOrder
        from nautilus_trader.model.identifiers import PositionId, TradeId, VenueOrderId

        ev = self.events
        pos_id = PositionId("BTCUSDT.BINANCE-S-001")  # one netting position, as ours
        work = []
        for k in range(n):
            o = self.order(k & 1)
            cmd = SubmitOrder(trader_id=self.trader_id, strategy_id=self.strategy_id, order=o,
                              command_id=UUID4(), ts_init=0)
            work.append((o, cmd))
        execute, process, cache = self.risk.execute, self.exec_engine.process, self.cache
        inst = self.inst

        def run() -> None:
            for k, (o, cmd) in enumerate(work):
                cache.add_order(o)
                execute(cmd)
                process(ev.order_submitted(o))
                process(ev.order_accepted(o, venue_order_id=VenueOrderId(f"V-{k}")))
                process(ev.order_filled(o, inst, trade_id=TradeId(f"T-{k}"), position_id=pos_id))

        return run

    def event_cost(self, n: int = N_PEER) -> Callable[[], object]:
        """Building the three events alone (subtracted from the flow figure)."""
        from nautilus_trader.model.identifiers import PositionId, TradeId, VenueOrderId

        ev, inst = self.events, self.inst
        pos_id = PositionId("BTCUSDT.BINANCE-S-001")
        orders = [self.order(k & 1) for k in range(n)]

        def run() -> None:
            for k, o in enumerate(orders):
                ev.order_submitted(o)
                ev.order_accepted(o, venue_order_id=VenueOrderId(f"V-{k}"))
                ev.order_filled(o, inst, trade_id=TradeId(f"T-{k}"), position_id=pos_id)

        return run


def nautilus_available() -> bool:
    try:
        import nautilus_trader  # noqa: F401
    except ImportError:
        return False
    return True


# -- pytest-benchmark entry points ---------------------------------------------------------------
def _bench(benchmark: Any, group: str, name: str, fn: Callable[[], object], n: int) -> float:
    benchmark.group = group
    benchmark.name = name
    benchmark.extra_info["items"] = n
    benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)
    ns = float(benchmark.stats.stats.min) * 1e9 / n
    benchmark.extra_info["ns_per_item"] = ns
    record(group, name, ns)
    return ns


G_CHECK, G_BATCH, G_FLOW = "pre-trade check", "batch check (nogil)", "submit->ack->fill->position"


def test_check_empty_loop(benchmark: Any) -> None:
    _bench(benchmark, G_CHECK, "bare for loop (baseline)", empty_loop(), N_CHECK)


def test_check_hftcore(benchmark: Any) -> None:
    _bench(benchmark, G_CHECK, "hftcore RiskEngine.check", hftcore_check_loop(), N_CHECK)


def test_check_hftcore_now(benchmark: Any) -> None:
    _bench(benchmark, G_CHECK, "hftcore RiskEngine.check(..., now_ns)", hftcore_check_loop_now(),
           N_CHECK)


def test_check_nautilus(benchmark: Any) -> None:
    if not nautilus_available():
        pytest.skip("nautilus_trader not installed")
    _bench(benchmark, G_CHECK, "nautilus _check_order+_check_orders_risk",
           Nautilus().check_loop(), N_PEER)


def test_batch_hftcore(benchmark: Any) -> None:
    _bench(benchmark, G_BATCH, "hftcore check_batch", hftcore_batch(), N_BATCH)


def test_flow_hftcore(benchmark: Any) -> None:
    _bench(benchmark, G_FLOW, "hftcore OrderManager+Portfolio", hftcore_flow(), N_FLOW)


def test_flow_hftcore_risk(benchmark: Any) -> None:
    _bench(benchmark, G_FLOW, "hftcore OrderManager+Portfolio+RiskEngine",
           hftcore_flow(with_risk=True), N_FLOW)


def test_flow_hftcore_pruned(benchmark: Any) -> None:
    _bench(benchmark, G_FLOW, "hftcore OrderManager+Portfolio, pruned",
           hftcore_flow(prune=True), N_FLOW)


def test_flow_hftcore_precreated(benchmark: Any) -> None:
    _bench(benchmark, G_FLOW, "hftcore submit+ack+fill+position (orders created before)",
           prepared(lambda: hftcore_flow_precreated(), 6), N_FLOW)


def test_flow_hftcore_gc_paused(benchmark: Any) -> None:
    _bench(benchmark, G_FLOW, "hftcore OrderManager+Portfolio, GC paused",
           hftcore_flow(gc_paused=True), N_FLOW)


def test_flow_hftcore_journal(benchmark: Any, tmp_path: Any) -> None:
    _bench(benchmark, G_FLOW, "hftcore ... +RiskEngine+journal",
           hftcore_flow(with_risk=True, journal=str(tmp_path / "j.jsonl")), N_FLOW)


def test_flow_nautilus(benchmark: Any) -> None:
    if not nautilus_available():
        pytest.skip("nautilus_trader not installed")
    nt = Nautilus()
    # a fresh set of orders per round: Nautilus refuses to submit an order twice
    benchmark.group = G_FLOW
    benchmark.name = "nautilus RiskEngine.execute+ExecutionEngine.process"
    runs = [nt.flow() for _ in range(6)]
    it = iter(runs)
    benchmark.pedantic(lambda: next(it)(), rounds=5, iterations=1, warmup_rounds=1)
    ns = float(benchmark.stats.stats.min) * 1e9 / N_PEER
    record(G_FLOW, benchmark.name, ns)


def test_zz_print_ratios() -> None:
    print_table()


# -- script --------------------------------------------------------------------------------------
def print_table() -> None:
    for group, rows in RESULTS.items():
        print(f"\n{group}")
        ours = next((v for k, v in rows.items() if k.startswith("hftcore")), None)
        for name, ns in rows.items():
            peer = not name.startswith(("hftcore", "bare"))
            ratio = f"{ns / ours:8.1f}x" if ours and peer else ""
            print(f"  {name:55s} {ns:12.1f} ns {ratio}")


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1
    for _ in range(runs):  # on a shared machine: best of several whole runs per row
        measure()
    print_table()


def measure() -> None:
    tmp = tempfile.mkdtemp()
    e = best_ns(empty_loop(), N_CHECK)
    c = best_ns(hftcore_check_loop(), N_CHECK)
    c2 = best_ns(hftcore_check_loop_now(), N_CHECK)
    record(G_CHECK, "hftcore RiskEngine.check (reads the clock)", c)
    record(G_CHECK, "hftcore ... net of the bare loop", c - e)
    record(G_CHECK, "hftcore RiskEngine.check(..., now_ns) (no clock read)", c2)
    record(G_CHECK, "bare for loop (baseline)", e)
    record(G_BATCH, "hftcore check_batch", best_ns(hftcore_batch(), N_BATCH))
    record(G_FLOW, "hftcore OrderManager+Portfolio", best_ns(hftcore_flow(), N_FLOW))
    record(G_FLOW, "hftcore OrderManager+Portfolio+RiskEngine",
           best_ns(hftcore_flow(with_risk=True), N_FLOW))
    record(G_FLOW, "hftcore submit+ack+fill+position (orders pre-built)",
           best_ns(prepared(lambda: hftcore_flow_precreated(), 7), N_FLOW))
    record(G_FLOW, "hftcore ... the same + RiskEngine",
           best_ns(prepared(lambda: hftcore_flow_precreated(with_risk=True), 7), N_FLOW))
    record(G_FLOW, "hftcore OrderManager+Portfolio, pruned (steady state)",
           best_ns(hftcore_flow(prune=True), N_FLOW))
    record(G_FLOW, "hftcore OrderManager+Portfolio, GC paused",
           best_ns(hftcore_flow(gc_paused=True), N_FLOW))
    record(G_FLOW, "hftcore OrderManager+Portfolio+RiskEngine, GC paused",
           best_ns(hftcore_flow(with_risk=True, gc_paused=True), N_FLOW))
    record(G_FLOW, "hftcore OrderManager+Portfolio+RiskEngine, pruned",
           best_ns(hftcore_flow(with_risk=True, prune=True), N_FLOW))
    record(G_FLOW, "hftcore ... +RiskEngine+journal (mmap, binary records)",
           best_ns(hftcore_flow(with_risk=True, journal=os.path.join(tmp, "j.jsonl")), N_FLOW,
                   rounds=3))
    if nautilus_available():
        nt = Nautilus()
        record(G_CHECK, "nautilus _check_order+_check_orders_risk",
               best_ns(nt.check_loop(), N_PEER))
        flows = iter([nt.flow() for _ in range(6)])
        flow = best_ns(lambda: next(flows)(), N_PEER, rounds=5)
        ev = best_ns(nt.event_cost(), N_PEER)
        record(G_FLOW, "nautilus RiskEngine.execute+ExecutionEngine.process", flow)
        record(G_FLOW, "nautilus ... minus building its 3 events", flow - ev)
    else:
        print("nautilus_trader not installed: peer rows skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
