"""Trading-core benchmarks: pre-trade risk check, nogil batch, order life cycle with risk.

Targets: one full pre-trade check from Python <= 100 ns; <= 20 ns per order in a nogil batch;
submit -> ack -> fill -> position update through OrderManager and Portfolio <= 3 us.

Workload: BTCUSDT (2 price / 5 size decimals) with every check switched on (size, lot, tick,
price band in bps against a reference, min/max notional, position limit, gross and net
exposure, open-order counts, self-trade prevention, a venue token bucket large enough never to
run dry, daily loss limit, error-rate breaker).  Loops are timed whole and reported per item
(best of rounds); "net" figures subtract the empty loop measured in the same run.

Like with like (issue 8): every NautilusTrader row is compared with the hftcore row that does the
same work, named in the table, and both are timed the same way (a Python loop over inputs built
before it, the same timer: ``time.perf_counter_ns`` in the script, pytest-benchmark's in pytest).

* pre-trade check vs pre-trade check: hftcore ``RiskEngine.check`` (or ``check_order``) against
  NautilusTrader's ``RiskEngine._check_order`` + ``_check_orders_risk`` (cpdef, callable from
  Python; the checks ``execute(SubmitOrder)`` runs), each order built before the loop.
* the order path with its risk engine: hftcore ``OrderManager`` + ``Portfolio`` +
  ``RiskEngine`` (check on submit, exposure on open and fill) against NautilusTrader's
  ``RiskEngine.execute(SubmitOrder)`` routed to a mock execution client, then
  ``ExecutionEngine.process`` of OrderSubmitted, OrderAccepted and OrderFilled (its cache,
  position and portfolio).  Once with the orders built before the loop, once building each
  order inside it.  NautilusTrader's order-rate throttle is set high enough never to deny (its
  default, 100 per second, denied 80 % of the orders of the earlier version of this benchmark:
  it then timed mostly denials) and every order of both sides is checked to end FILLED.

Nautilus has no batch check: that row has no peer.

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
    assert all(check(i, 0, p, QTY) == 0 for p in prices[:50])  # every check passes

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


def hftcore_check_order_loop(n: int = N_CHECK) -> Callable[[], object]:
    """The check by Instrument object and Side, returning a Reason (the peer's convention)."""
    risk, _ = full_risk()
    check_order, buy = risk.check_order, Side.BUY
    prices = [PX + (k % 50) for k in range(n)]

    def run() -> None:
        for p in prices:
            check_order(BTC, buy, p, QTY)

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
        assert om.portfolio.position(BTC).fills == n  # every order went through

    return run


def prepared(make: Callable[[], Callable[[], object]], rounds: int) -> Callable[[], object]:
    """A callable that runs a freshly prepared workload each time (orders cannot be reused)."""
    runs = iter([make() for _ in range(rounds + 1)])
    return lambda: next(runs)()


# -- NautilusTrader ------------------------------------------------------------------------------
class Nautilus:
    """NautilusTrader 1.221.0 RiskEngine + ExecutionEngine wired with its test-kit stubs.

    Its risk engine checks a maximum notional per order (as ours does) and throttles order
    submission at a rate that never denies in the benchmark (ours: a token bucket that never runs
    dry), so both check and send every order.
    """

    def __init__(self) -> None:
        from nautilus_trader.cache.cache import Cache
        from nautilus_trader.common.component import MessageBus, TestClock
        from nautilus_trader.common.factories import OrderFactory
        from nautilus_trader.config import ExecEngineConfig, RiskEngineConfig
        from nautilus_trader.execution.engine import ExecutionEngine
        from nautilus_trader.model.enums import AccountType
        from nautilus_trader.model.identifiers import ClientId, StrategyId, Venue
        from nautilus_trader.model.objects import Price, Quantity
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
        self.inst = TestInstrumentProvider.btcusdt_binance()
        config = RiskEngineConfig(
            debug=False,
            max_order_submit_rate="1000000000/00:00:01",
            max_notional_per_order={str(self.inst.id): 10_000_000},
        )
        self.risk = NRiskEngine(portfolio=self.portfolio, msgbus=self.msgbus, cache=self.cache,
                                clock=clock, config=config)
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
        self.qty = Quantity.from_str("0.010000")
        self.price = Price.from_str("50000.00")

    def order(self, side: int = 0) -> Any:
        from nautilus_trader.model.enums import OrderSide

        return self.factory.limit(self.inst.id, OrderSide.BUY if side == 0 else OrderSide.SELL,
                                  self.qty, self.price)

    def check_loop(self, n: int = N_PEER) -> Callable[[], object]:
        inst, risk = self.inst, self.risk
        orders = [self.order() for _ in range(n)]
        assert risk._check_order(inst, orders[0]) and risk._check_orders_risk(inst, [orders[0]])

        def run() -> None:
            for o in orders:
                risk._check_order(inst, o)
                risk._check_orders_risk(inst, [o])

        return run

    def _life_cycle(self, orders: list[Any], with_creation: bool) -> Callable[[], object]:
        from nautilus_trader.core.uuid import UUID4
        from nautilus_trader.execution.messages import SubmitOrder
        from nautilus_trader.model.identifiers import PositionId, TradeId, VenueOrderId

        ev = self.events
        pos_id = PositionId("BTCUSDT.BINANCE-S-001")  # one netting position, as ours
        execute, process, cache = self.risk.execute, self.exec_engine.process, self.cache
        inst, trader, strategy, order = self.inst, self.trader_id, self.strategy_id, self.order
        n = len(orders)
        prebuilt = [] if with_creation else [
            SubmitOrder(trader_id=trader, strategy_id=strategy, order=o, command_id=UUID4(),
                        ts_init=0) for o in orders]

        def run() -> None:
            done = []
            for k in range(n):
                if with_creation:  # build the order and its command here, as hftcore's create
                    o = order(k & 1)
                    cmd = SubmitOrder(trader_id=trader, strategy_id=strategy, order=o,
                                      command_id=UUID4(), ts_init=0)
                else:
                    o, cmd = orders[k], prebuilt[k]
                cache.add_order(o)
                execute(cmd)
                process(ev.order_submitted(o))
                process(ev.order_accepted(o, venue_order_id=VenueOrderId(f"V-{k}")))
                process(ev.order_filled(o, inst, trade_id=TradeId(f"T-{k}"), position_id=pos_id))
                done.append(o)
            assert all(o.is_closed and o.status_string() == "FILLED" for o in done), (
                {o.status_string() for o in done})

        return run

    def flow(self, n: int = N_PEER) -> Callable[[], object]:
        """The life cycle with the orders and commands built before the loop."""
        return self._life_cycle([self.order(k & 1) for k in range(n)], with_creation=False)

    def flow_create(self, n: int = N_PEER) -> Callable[[], object]:
        """The life cycle building each order and its command inside the loop."""
        return self._life_cycle([None] * n, with_creation=True)

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


# -- rows and their pairs ------------------------------------------------------------------------
G_CHECK = "pre-trade check, one order from Python"
G_BATCH = "batch check (nogil)"
G_FLOW = "submit -> ack -> fill -> position with the risk engine, orders built before the loop"
G_CREATE = "create + submit -> ack -> fill -> position with the risk engine"
G_OTHER = "hftcore order path variants (no peer)"

R_EMPTY = "bare for loop (baseline)"
R_CHECK = "hftcore RiskEngine.check(i, side, px, qty) (reads the clock)"
R_CHECK_NET = "hftcore ... net of the bare loop"
R_CHECK_NOW = "hftcore RiskEngine.check(..., now_ns) (no clock read)"
R_CHECK_ORDER = "hftcore RiskEngine.check_order(instrument, Side, px, qty) -> Reason"
R_NT_CHECK = "nautilus _check_order + _check_orders_risk"
R_BATCH = "hftcore check_batch, per order"
R_FLOW = "hftcore OrderManager + Portfolio + RiskEngine"
R_NT_FLOW = "nautilus RiskEngine.execute + ExecutionEngine.process"
R_NT_FLOW_NET = "nautilus ... minus building its 3 events"
R_CREATE = "hftcore create + the same, 20 000 orders kept"
R_NT_CREATE = "nautilus OrderFactory.limit + SubmitOrder + the same"

#: peer row -> the hftcore row doing the same work (the ratio printed on the peer's row)
PAIRS = {
    R_NT_CHECK: R_CHECK,
    R_NT_FLOW: R_FLOW,
    R_NT_FLOW_NET: R_FLOW,
    R_NT_CREATE: R_CREATE,
}


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


def test_check_empty_loop(benchmark: Any) -> None:
    _bench(benchmark, G_CHECK, R_EMPTY, empty_loop(), N_CHECK)


def test_check_hftcore(benchmark: Any) -> None:
    _bench(benchmark, G_CHECK, R_CHECK, hftcore_check_loop(), N_CHECK)


def test_check_hftcore_now(benchmark: Any) -> None:
    _bench(benchmark, G_CHECK, R_CHECK_NOW, hftcore_check_loop_now(), N_CHECK)


def test_check_hftcore_check_order(benchmark: Any) -> None:
    _bench(benchmark, G_CHECK, R_CHECK_ORDER, hftcore_check_order_loop(), N_CHECK)


def test_check_nautilus(benchmark: Any) -> None:
    if not nautilus_available():
        pytest.skip("nautilus_trader not installed")
    _bench(benchmark, G_CHECK, R_NT_CHECK, Nautilus().check_loop(), N_PEER)


def test_batch_hftcore(benchmark: Any) -> None:
    _bench(benchmark, G_BATCH, R_BATCH, hftcore_batch(), N_BATCH)


def test_flow_hftcore_risk(benchmark: Any) -> None:
    _bench(benchmark, G_FLOW, R_FLOW,
           prepared(lambda: hftcore_flow_precreated(with_risk=True), 6), N_FLOW)


def test_flow_nautilus(benchmark: Any) -> None:
    if not nautilus_available():
        pytest.skip("nautilus_trader not installed")
    nt = Nautilus()
    # a fresh set of orders per round: Nautilus refuses to submit an order twice
    _bench(benchmark, G_FLOW, R_NT_FLOW, prepared(nt.flow, 6), N_PEER)


def test_create_hftcore_risk(benchmark: Any) -> None:
    _bench(benchmark, G_CREATE, R_CREATE, hftcore_flow(with_risk=True), N_FLOW)


def test_create_nautilus(benchmark: Any) -> None:
    if not nautilus_available():
        pytest.skip("nautilus_trader not installed")
    _bench(benchmark, G_CREATE, R_NT_CREATE, prepared(Nautilus().flow_create, 6), N_PEER)


def test_other_hftcore_no_risk(benchmark: Any) -> None:
    _bench(benchmark, G_OTHER, "hftcore create + life cycle, no RiskEngine", hftcore_flow(),
           N_FLOW)


def test_other_hftcore_gc_paused(benchmark: Any) -> None:
    _bench(benchmark, G_OTHER, "hftcore create + life cycle + RiskEngine, GC paused",
           hftcore_flow(with_risk=True, gc_paused=True), N_FLOW)


def test_other_hftcore_journal(benchmark: Any, tmp_path: Any) -> None:
    _bench(benchmark, G_OTHER, "hftcore create + life cycle + RiskEngine + journal",
           hftcore_flow(with_risk=True, journal=str(tmp_path / "j.jsonl")), N_FLOW)


def test_zz_print_ratios() -> None:
    print_table()


# -- script --------------------------------------------------------------------------------------
def print_table() -> None:
    """Every row in ns per item; a peer row also shows peer / hftcore against its named pair."""
    for group, rows in RESULTS.items():
        print(f"\n{group}")
        for name, ns in rows.items():
            pair = PAIRS.get(name)
            ours = rows.get(pair) if pair else None
            ratio = f"{ns / ours:8.1f}x  vs  {pair}" if ours else ""
            print(f"  {name:62s} {ns:10.1f} ns {ratio}")


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1
    for _ in range(runs):  # on a shared machine: best of several whole runs per row
        measure()
    print_table()


def measure() -> None:
    tmp = tempfile.mkdtemp()
    e = best_ns(empty_loop(), N_CHECK)
    c = best_ns(hftcore_check_loop(), N_CHECK)
    record(G_CHECK, R_EMPTY, e)
    record(G_CHECK, R_CHECK, c)
    record(G_CHECK, R_CHECK_NET, c - e)
    record(G_CHECK, R_CHECK_NOW, best_ns(hftcore_check_loop_now(), N_CHECK))
    record(G_CHECK, R_CHECK_ORDER, best_ns(hftcore_check_order_loop(), N_CHECK))
    record(G_BATCH, R_BATCH, best_ns(hftcore_batch(), N_BATCH))
    record(G_FLOW, R_FLOW,
           best_ns(prepared(lambda: hftcore_flow_precreated(with_risk=True), 7), N_FLOW))
    record(G_CREATE, R_CREATE, best_ns(hftcore_flow(with_risk=True), N_FLOW))
    if nautilus_available():
        nt = Nautilus()
        record(G_CHECK, R_NT_CHECK, best_ns(nt.check_loop(), N_PEER))
        flow = best_ns(prepared(nt.flow, 5), N_PEER, rounds=5)
        record(G_FLOW, R_NT_FLOW, flow)
        record(G_FLOW, R_NT_FLOW_NET, flow - best_ns(nt.event_cost(), N_PEER))
        record(G_CREATE, R_NT_CREATE, best_ns(prepared(nt.flow_create, 5), N_PEER, rounds=5))
    else:
        print("nautilus_trader not installed: peer rows skipped", file=sys.stderr)
    record(G_OTHER, "hftcore submit + ack + fill + position, no RiskEngine (orders pre-built)",
           best_ns(prepared(lambda: hftcore_flow_precreated(), 7), N_FLOW))
    record(G_OTHER, "hftcore create + life cycle, no RiskEngine", best_ns(hftcore_flow(), N_FLOW))
    record(G_OTHER, "hftcore create + life cycle + RiskEngine, GC paused",
           best_ns(hftcore_flow(with_risk=True, gc_paused=True), N_FLOW))
    record(G_OTHER, "hftcore create + life cycle + RiskEngine, pruned every 1000",
           best_ns(hftcore_flow(with_risk=True, prune=True), N_FLOW))
    record(G_OTHER, "hftcore create + life cycle + RiskEngine + journal (mmap, binary records)",
           best_ns(hftcore_flow(with_risk=True, journal=os.path.join(tmp, "j.jsonl")), N_FLOW,
                   rounds=3))


if __name__ == "__main__":
    main()
