"""The order path with order creation in the loop (issues 8 and 9): create -> submit (risk) ->
ack -> fill -> position, with the order journal on as a live user runs it; and the cost of one
fill on an order that has many.

Rows: ns per order life cycle, best of rounds of a whole loop, with two timers read around the
same runs: wall clock (``time.perf_counter_ns``) and this thread's CPU time
(``time.thread_time_ns``: on a machine shared with other jobs it counts only the time this
thread ran - kernel time of its page faults and system calls included - so it moves far less
with the load; the journal's sync thread is not in it: that work is off the order path).

* hftcore through its Python API (``OrderManager.create/submit/on_ack/on_fill``): without and
  with the journal (each sync mode), without and with the ``RiskEngine`` (every check on, as in
  ``bench_risk.py``);
* the same four risk-engine calls the manager makes per order, alone (what ``hftcore.risk``'s
  Python bookkeeping costs);
* hftcore through the C API an engine written in Cython uses (``OrderCore.c_create`` ...),
  compiled at run time from ``benchmarks/cython/order_path.pyx`` (skipped without a compiler);
* NautilusTrader 1.221.0 (the last release for Python 3.11): ``OrderFactory.limit`` + a
  ``SubmitOrder`` command built in the loop, ``RiskEngine.execute`` routed to a mock execution
  client, ``ExecutionEngine.process`` of OrderSubmitted, OrderAccepted and OrderFilled (cache,
  netting position, portfolio).  It keeps no journal (its cache has no database here).

Run::

    cd benchmarks && PYTHONPATH=../src python bench_orders.py [--runs 3]
    PYTHONPATH=src python -m pytest benchmarks/bench_orders.py \
        --benchmark-json=.benchmarks/orders.json
"""

from __future__ import annotations

import gc
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from bench_risk import BTC, PX, QTY, Nautilus, full_risk, nautilus_available

from hftcore import OrderManager, Portfolio, Side

N = int(os.environ.get("HFTCORE_BENCH_N", "20000"))
N_PEER = 2_000
RESULTS: dict[str, dict[str, tuple[float, float]]] = {}
_DIR = Path(tempfile.mkdtemp(prefix="hftcore-bench-orders-"))
_paths = (str(_DIR / f"j{i}.journal") for i in itertools.count())


def best_ns(fn: Callable[[], object], n: int, rounds: int = 7) -> tuple[float, float]:
    """(wall, CPU) ns per item: the best of ``rounds`` whole loops after a warm-up, the garbage
    collector on (as in a process that keeps running)."""
    fn()
    wall = cpu = float("inf")
    for _ in range(rounds):
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        fn()
        c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
        wall, cpu = min(wall, t1 - t0), min(cpu, c1 - c0)
    return wall / n, cpu / n


def record(group: str, name: str, ns: tuple[float, float]) -> None:
    rows = RESULTS.setdefault(group, {})
    old = rows.get(name, ns)
    rows[name] = (min(ns[0], old[0]), min(ns[1], old[1]))


# -- hftcore ---------------------------------------------------------------------------------------
def flow(n: int = N, risk: bool = False, journal: bool = False, fsync: bool = False,
         interval_ns: int = 0) -> Callable[[], object]:
    """n orders: create, submit, ack, fill (booked in the portfolio), each order kept."""

    def run() -> None:
        r = full_risk()[0] if risk else None
        om = OrderManager(session="bench", portfolio=Portfolio(), risk=r,
                          journal=next(_paths) if journal else None, fsync=fsync,
                          sync_interval_ns=interval_ns)
        create, submit, ack, fill = om.create, om.submit, om.on_ack, om.on_fill
        buy, sell = Side.BUY, Side.SELL
        for k in range(n):
            o = create(BTC, buy if k & 1 else sell, QTY, PX, ts=k)
            submit(o, k)
            cid = o.client_order_id
            ack(cid, "v", k)
            fill(cid, "t", QTY, PX, ts=k)
        assert om.portfolio.position(BTC).fills == n
        om.close()

    return run


def risk_calls_alone(n: int = N) -> Callable[[], object]:
    """The risk engine's part of one life cycle, called as the manager calls it."""

    def run() -> None:
        risk, i = full_risk()
        check, opened, filled, closed = (risk.check, risk.on_order_open, risk.on_order_fill,
                                         risk.on_order_closed)
        ids = [f"hcbench-{k}" for k in range(n)]
        buy, sell = Side.BUY, Side.SELL
        for k in range(n):
            side = buy if k & 1 else sell
            check(i, side, PX, QTY, 0)
            opened(ids[k], BTC, side, PX, QTY)
            filled(ids[k], BTC, side, QTY)
            closed(ids[k])

    return run


def compile_order_path() -> Any:
    """``benchmarks/cython/order_path.pyx`` built against this checkout (None without a
    compiler or Cython)."""
    try:
        from Cython.Build import cythonize
        from setuptools import Distribution, Extension
    except ImportError:
        return None
    src = Path(__file__).parent / "cython" / "order_path.pyx"
    inc = Path(__import__("hftcore").__file__).resolve().parents[1]
    build = Path(tempfile.mkdtemp(prefix="hftcore-bench-cy-"))
    shutil.copy(src, build / src.name)
    ext = Extension("order_path", [str(build / src.name)],
                    include_dirs=[str(inc / "hftcore" / "_ext")],
                    extra_compile_args=["-O3"])
    try:
        dist = Distribution({"ext_modules": cythonize(
            [ext], include_path=[str(inc)], quiet=True,
            compiler_directives={"language_level": 3, "boundscheck": False,
                                 "wraparound": False})})
        cmd = dist.get_command_obj("build_ext")
        cmd.build_lib = str(build)
        cmd.build_temp = str(build / "tmp")
        cmd.ensure_finalized()
        cmd.run()
    except Exception as e:  # no compiler: the row is skipped, not failed
        print(f"order_path.pyx not built: {e}", file=sys.stderr)
        return None
    sys.path.insert(0, str(build))
    import order_path  # type: ignore[import-not-found]

    return order_path


def c_api_flow(mod: Any, n: int = N, risk: bool = False,
               journal: bool = False) -> Callable[[], object]:
    def run() -> None:
        r = full_risk()[0] if risk else None
        om = OrderManager(session="bench", portfolio=Portfolio(), risk=r,
                          journal=next(_paths) if journal else None)
        mod.run(om, BTC, n, QTY, PX)
        assert om.portfolio.position(BTC).fills == n
        om.close()

    return run


def many_fills(fills: int, batch: int = 500) -> tuple[float, float]:
    """ns per on_fill on an order that already has ``fills`` fills: ``batch`` more fills, timed
    as a loop (best of 5 batches)."""
    om = OrderManager(session="many", portfolio=Portfolio())
    o = om.create(BTC, Side.BUY, 10**12, PX, ts=0)
    om.submit(o, 0)
    cid = o.client_order_id
    om.on_ack(cid, "v", 0)
    fill = om.on_fill
    for k in range(fills):
        fill(cid, f"t{k}", 1, PX, ts=k)
    tids = iter([f"x{k}" for k in range(6 * batch)])

    def run() -> None:
        for _ in range(batch):
            fill(cid, next(tids), 1, PX, ts=0)

    return best_ns(run, batch, rounds=5)


# -- NautilusTrader ------------------------------------------------------------------------------
class NautilusFlow(Nautilus):
    """Nautilus' risk and execution engines with the order and command built in the loop."""

    def flow_created(self, n: int = N_PEER) -> Callable[[], object]:
        from nautilus_trader.core.uuid import UUID4
        from nautilus_trader.execution.messages import SubmitOrder
        from nautilus_trader.model.identifiers import PositionId, TradeId, VenueOrderId

        ev = self.events
        pos_id = PositionId("BTCUSDT.BINANCE-S-001")
        execute, process, cache = self.risk.execute, self.exec_engine.process, self.cache
        inst, trader, strategy = self.inst, self.trader_id, self.strategy_id
        start = itertools.count()

        def run() -> None:
            base = next(start) * n
            for k in range(base, base + n):
                o = self.order(k & 1)
                cmd = SubmitOrder(trader_id=trader, strategy_id=strategy, order=o,
                                  command_id=UUID4(), ts_init=0)
                cache.add_order(o)
                execute(cmd)
                process(ev.order_submitted(o))
                process(ev.order_accepted(o, venue_order_id=VenueOrderId(f"V-{k}")))
                process(ev.order_filled(o, inst, trade_id=TradeId(f"T-{k}"),
                                        position_id=pos_id))

        return run


# -- table -----------------------------------------------------------------------------------------
G_FLOW = "create -> submit -> ack -> fill -> position (ns per order)"
G_FILLS = "one on_fill on an order with many fills (ns)"
HEADLINE = "hftcore + RiskEngine + journal (Python API)"


def measure(cy: Any) -> None:
    record(G_FLOW, "hftcore OrderManager + Portfolio", best_ns(flow(), N))
    record(G_FLOW, "hftcore ... + journal", best_ns(flow(journal=True), N))
    record(G_FLOW, "hftcore ... + journal, sync thread every 1 ms",
           best_ns(flow(journal=True, interval_ns=1_000_000), N))
    record(G_FLOW, "hftcore ... + RiskEngine", best_ns(flow(risk=True), N))
    record(G_FLOW, HEADLINE, best_ns(flow(risk=True, journal=True), N))
    record(G_FLOW, "  of which RiskEngine's 4 calls alone", best_ns(risk_calls_alone(), N))
    gc.disable()
    try:
        record(G_FLOW, "hftcore + RiskEngine + journal, GC paused",
               best_ns(flow(risk=True, journal=True), N))
    finally:
        gc.enable()
    if cy is not None:
        record(G_FLOW, "hftcore C API (Cython engine) + journal",
               best_ns(c_api_flow(cy, journal=True), N))
        record(G_FLOW, "hftcore C API + RiskEngine + journal",
               best_ns(c_api_flow(cy, risk=True, journal=True), N))
    record(G_FLOW, "hftcore ... + journal, fsync every record",
           best_ns(flow(n=500, journal=True, fsync=True), 500, rounds=2))
    if nautilus_available():
        nt = NautilusFlow()
        record(G_FLOW, "nautilus 1.221.0 order + command built, execute + process",
               best_ns(nt.flow_created(), N_PEER, rounds=5))
        flows = iter([nt.flow() for _ in range(6)])
        record(G_FLOW, "nautilus ... order + command built before the loop",
               best_ns(lambda: next(flows)(), N_PEER, rounds=5))
    else:
        print("nautilus_trader not installed: peer rows skipped", file=sys.stderr)
    for fills in (1_000, 20_000):
        record(G_FILLS, f"hftcore on_fill with {fills:,} fills booked", many_fills(fills))


def print_table() -> None:
    for group, rows in RESULTS.items():
        print(f"\n{group}")
        print(f"  {'':60s} {'wall':>10s} {'CPU':>10s}  ratios (peer / headline)")
        ours = rows.get(HEADLINE)
        for name, (wall, cpu) in rows.items():
            ratio = ""
            if ours and name.startswith("nautilus"):
                ratio = f"{wall / ours[0]:7.1f}x {cpu / ours[1]:7.1f}x"
            print(f"  {name:60s} {wall:10.1f} {cpu:10.1f}  {ratio}")


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1
    cy = compile_order_path()
    print(f"load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    for _ in range(runs):
        measure(cy)
    print_table()
    print(f"\nload average {os.getloadavg()[0]:.2f}")
    shutil.rmtree(_DIR, ignore_errors=True)


# -- pytest-benchmark entry points ---------------------------------------------------------------
def _bench(benchmark: Any, name: str, fn: Callable[[], object], n: int, rounds: int = 5) -> None:
    benchmark.group = G_FLOW
    benchmark.name = name
    benchmark.extra_info["items"] = n
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    ns = float(benchmark.stats.stats.min) * 1e9 / n
    benchmark.extra_info["ns_per_item"] = ns
    record(G_FLOW, name, (ns, ns))


def test_flow(benchmark: Any) -> None:
    _bench(benchmark, "hftcore OrderManager + Portfolio", flow(), N)


def test_flow_journal(benchmark: Any) -> None:
    _bench(benchmark, "hftcore ... + journal", flow(journal=True), N)


def test_flow_risk_journal(benchmark: Any) -> None:
    _bench(benchmark, HEADLINE, flow(risk=True, journal=True), N)


def test_risk_calls_alone(benchmark: Any) -> None:
    _bench(benchmark, "  of which RiskEngine's 4 calls alone", risk_calls_alone(), N)


def test_c_api(benchmark: Any) -> None:
    cy = compile_order_path()
    if cy is None:
        pytest.skip("no compiler for benchmarks/cython/order_path.pyx")
    _bench(benchmark, "hftcore C API + RiskEngine + journal",
           c_api_flow(cy, risk=True, journal=True), N)


def test_nautilus(benchmark: Any) -> None:
    if not nautilus_available():
        pytest.skip("nautilus_trader not installed")
    _bench(benchmark, "nautilus 1.221.0 order + command built, execute + process",
           NautilusFlow().flow_created(), N_PEER)


def test_zz_print_ratios() -> None:
    print_table()


if __name__ == "__main__":
    main()
