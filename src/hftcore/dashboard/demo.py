"""``python -m hftcore demo --dashboard``: the demo market maker, paced, with a live dashboard.

The bundled sample is replayed at its recorded pace (``--pace X``: X times it) on an asyncio
event loop, through the same engine, simulated exchange and strategy as ``demo``; the dashboard
is served by the same loop.  The replay goes round until Ctrl-C (``--laps N`` to stop after N,
``--duration S`` after S seconds); the usual report is printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hftcore.engine import Engine

    from .replay import PacedReplay
    from .snapshot import TradeTape

__all__ = ["add_arguments", "announce", "demo_engine", "run", "run_demo", "serve_options"]

_TOKEN_ENV = "HFTCORE_DASHBOARD_TOKEN"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--dashboard`` options of ``demo``."""
    g = p.add_argument_group("live dashboard (pip install 'hftcore[dashboard]')")
    g.add_argument("--dashboard", action="store_true",
                   help="serve a live dashboard of the run in the browser and replay the "
                        "sample at its recorded pace")
    g.add_argument("--host", default="127.0.0.1",
                   help="with --dashboard: address to listen on (default 127.0.0.1: this "
                        "machine only)")
    g.add_argument("--port", type=int, default=8765,
                   help="with --dashboard: port (default 8765; 0 picks a free one)")
    g.add_argument("--token", default=None,
                   help=f"with --dashboard: the control token (default: ${_TOKEN_ENV}, else a "
                        "random one, printed); a command line is visible to other users, the "
                        "environment variable is not")
    g.add_argument("--no-viewers", action="store_true",
                   help="with --dashboard: the token is needed to watch too")
    g.add_argument("--pace", type=float, default=1.0, metavar="X",
                   help="with --dashboard: replay at X times the recorded pace (default 1)")
    g.add_argument("--laps", type=int, default=0, metavar="N",
                   help="with --dashboard: times through the sample (default 0: until Ctrl-C)")
    g.add_argument("--duration", type=float, default=None, metavar="S",
                   help="with --dashboard: stop after S seconds")
    g.add_argument("--rate", type=float, default=5.0, metavar="HZ",
                   help="with --dashboard: updates per second at most (default 5)")
    g.add_argument("--control-journal", default=None, metavar="PATH",
                   help="with --dashboard: control journal (default hftcore-controls.jsonl)")


def _check(args: argparse.Namespace) -> None:
    if not args.pace > 0:
        raise ValueError("--pace must be > 0")
    if args.laps < 0:
        raise ValueError("--laps must be >= 0")
    if args.duration is not None and not args.duration > 0:
        raise ValueError("--duration must be > 0")
    if not 0 <= args.port <= 65535:
        raise ValueError("--port must be in 0..65535")


def serve_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`~hftcore.dashboard.serve` options the ``--dashboard`` arguments give (also
    used by ``demo --live-loopback --dashboard``)."""
    _check(args)
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise ImportError("demo --dashboard needs aiohttp: pip install 'hftcore[dashboard]'") \
            from None
    return {"host": args.host, "port": args.port,
            "token": args.token or os.environ.get(_TOKEN_ENV) or None,
            "allow_viewers": not args.no_viewers, "rate": args.rate,
            "control_journal": args.control_journal or "hftcore-controls.jsonl"}


def announce(dash: Any, options: dict[str, Any], say: Callable[[str], None] = print) -> None:
    """Print where the dashboard is, the token, the journal (and a warning off loopback)."""
    say(f"dashboard: {dash.url}  (open it in a browser; Ctrl-C stops)")
    if options.get("token"):       # given: not echoed into a terminal or a log
        say(f"control token: the one given (--token or ${_TOKEN_ENV})")
    else:
        say(f"control token: {dash.token}   (or open {dash.control_url})")
    say(f"controls are journaled to {dash.journal_path}")
    host = options.get("host", "127.0.0.1")
    if host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: listening on {host}: other machines can reach the dashboard")


def demo_engine(latency: int = 100_000, fees: tuple[str, str] = ("0.0000", "0.0005"),
                seed: int = 0, pace: float | None = 1.0, laps: int = 0,
                journal: str | os.PathLike[str] | None = None,
                ) -> tuple[Engine, PacedReplay, TradeTape]:
    """The demo's engine (``MarketMaker`` on the bundled sample through the simulated exchange)
    with its paced replay and trade tape, ready to run on an event loop; ``journal``: the order
    manager's journal file."""
    from hftcore.data import sample
    from hftcore.data.sources import DataSources
    from hftcore.demo import MarketMaker
    from hftcore.engine import Engine
    from hftcore.venues.sim import SimExchange

    from .replay import PacedReplay
    from .snapshot import TradeTape

    insts = sample.instruments()

    def sources() -> DataSources:
        return DataSources(sample.paths(), insts)

    first = sources()
    engine = Engine(first.instruments, mode="backtest", sim=SimExchange(latency, seed),
                    fees=fees, book_depth=first.book_depth,
                    journal=None if journal is None else os.fspath(journal))
    engine.add_strategy(MarketMaker())
    tape = TradeTape(len(insts))
    return engine, PacedReplay(engine, sources, pace=pace, laps=laps, tape=tape), tape


async def run_demo(args: argparse.Namespace, fees: tuple[str, str], latency: int,
                   say: Callable[[str], None] = print,
                   ready: Callable[[Any], None] | None = None) -> Any:
    """Run the paced demo with its dashboard until the laps, the duration or a signal end
    it; returns the :class:`~hftcore.backtest.BacktestResult` of what ran."""
    from hftcore.backtest import _result

    from . import serve

    engine, replay, tape = demo_engine(latency, fees, args.seed, args.pace, args.laps)
    options = serve_options(args)
    dash = await serve(engine, tape=tape, gaps=replay.gap_counts, **options)
    announce(dash, options, say)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    t0 = time.perf_counter()
    task = loop.create_task(replay.run())
    if ready is not None:
        ready(dash)
    try:
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if args.laps:
            waits.append(task)     # a finite replay ends the run (the page shows the end)
        await asyncio.wait(waits, timeout=args.duration, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        replay.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for w in waits:
            if w is not task:
                w.cancel()
        await dash.stop()
        engine.stop()
    elapsed = time.perf_counter() - t0
    say(f"replayed {replay.events:,} events in {replay.laps_done} full lap(s) at "
        f"{args.pace:g}x the recorded pace; dashboard: {dash.stats['updates_sent']:,} updates "
        f"sent, {dash.stats['controls']} control(s)")
    return _result(engine, replay.totals, elapsed)


def run(args: argparse.Namespace, fees: tuple[str, str], latency: int) -> Any:
    """Run :func:`run_demo` on a new event loop (``demo --dashboard``)."""
    serve_options(args)        # checked before the loop starts
    return asyncio.run(run_demo(args, fees, latency))
