"""A live dashboard on your own engine: a market maker with risk limits over a recording.

The engine is built as for a backtest (instruments, simulated exchange, fees, a ``RiskEngine``
with per-instrument and book-wide limits, an order journal), but fed by
``hftcore.dashboard.PacedReplay`` at the recorded pace on an asyncio event loop, and
``hftcore.dashboard.serve`` serves the page on the same loop.  Open the printed address: the
limits show their usage, the kill switch and the limits can be changed from the page (with the
printed token), and every control lands in ``controls.jsonl`` beside the order journal.

Run: ``python examples/dashboard_replay.py [--pace 2] [--duration 60] [--port 8765]``
(``--duration`` 0 runs until Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import tempfile
from pathlib import Path

import hftcore.dashboard
from hftcore import InstrumentLimits, RiskEngine, RiskLimits
from hftcore.data import sample
from hftcore.data.sources import DataSources
from hftcore.demo import MarketMaker
from hftcore.engine import Engine
from hftcore.venues.sim import SimExchange


def build(workdir: Path) -> tuple[Engine, hftcore.dashboard.PacedReplay,
                                  hftcore.dashboard.TradeTape]:
    insts = sample.instruments()
    risk = RiskEngine(limits=RiskLimits(max_open_orders=24,
                                        max_gross_exposure=2_000 * 10**8))  # 2,000 at par
    for inst in insts:                  # at most 4 open orders and a bounded position each
        risk.add_instrument(inst, InstrumentLimits(max_open_orders=4,
                                                   max_position=inst.qty("5000")))

    def sources() -> DataSources:
        return DataSources(sample.paths(), insts)

    engine = Engine(insts, mode="backtest", sim=SimExchange(200_000), risk=risk,
                    fees=("0.0000", "0.0005"), book_depth=sources().book_depth,
                    journal=str(workdir / "orders.journal"))
    engine.add_strategy(MarketMaker(size_fraction=4, max_inventory=3))
    tape = hftcore.dashboard.TradeTape(len(insts))
    return engine, hftcore.dashboard.PacedReplay(engine, sources, pace=1.0, tape=tape), tape


async def main(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hftcore-dashboard-"))
    workdir.mkdir(parents=True, exist_ok=True)
    engine, replay, tape = build(workdir)
    replay.pace = args.pace
    replay.laps = 0                                     # round and round until stopped
    dashboard = await hftcore.dashboard.serve(engine, port=args.port, tape=tape,
                                              gaps=replay.gap_counts, rate=args.rate)
    print(f"dashboard: {dashboard.url}")
    print(f"control token: {dashboard.token}")
    print(f"order journal: {workdir / 'orders.journal'}; controls: {dashboard.journal_path}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
    task = loop.create_task(replay.run())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.duration or None)
    replay.stop()
    await task
    await dashboard.stop()
    engine.stop()
    print(f"replayed {replay.events:,} events; {len(engine.om):,} orders, "
          f"{len(engine.fills):,} fills; {dashboard.stats['updates_sent']:,} dashboard updates "
          f"sent; risk rejections {sum(n for r, n in engine.risk.counts().items() if r)}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pace", type=float, default=1.0, help="times the recorded pace")
    p.add_argument("--duration", type=float, default=60.0, help="seconds (0: until Ctrl-C)")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--rate", type=float, default=5.0, help="updates per second")
    p.add_argument("--workdir", default=None, help="where the journals go (a temp dir)")
    asyncio.run(main(p.parse_args()))
