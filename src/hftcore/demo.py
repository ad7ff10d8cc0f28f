"""``python -m hftcore demo`` and ``python -m hftcore replay``: strategies over recordings.

``demo`` runs :class:`MarketMaker` over the bundled sample (a real Coinbase recording) through
the simulated exchange and prints a summary: messages, book updates, orders, fills, PnL, fees
and the latency of each stage.  ``replay FILE... --strategy module:Class`` does the same for
your recordings and your strategy.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from hftcore._ext.strategy import Strategy
from hftcore.backtest import BacktestResult, backtest
from hftcore.cli import EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_USAGE, CliError, command
from hftcore.model import Instrument

__all__ = ["MarketMaker", "format_report", "load_strategy"]


class MarketMaker(Strategy):
    """A small market maker: quotes both sides one tick inside the spread (or at the touch when
    the spread is one tick), ``size`` a quarter of the smaller top level, and stops adding to a
    side once the inventory reaches ``max_inventory`` quote sizes.

    Parameters
    ----------
    size_fraction : int
        The quote size is the smaller top-of-book size divided by this.
    max_inventory : int
        Inventory limit, in quote sizes.
    """

    def __init__(self, size_fraction: int = 4, max_inventory: int = 5) -> None:
        super().__init__()
        if isinstance(size_fraction, bool) or not isinstance(size_fraction, int) \
                or size_fraction <= 0:
            raise ValueError(f"size_fraction must be an int > 0, got {size_fraction!r}")
        if isinstance(max_inventory, bool) or not isinstance(max_inventory, int) \
                or max_inventory <= 0:
            raise ValueError(f"max_inventory must be an int > 0, got {max_inventory!r}")
        self.size_fraction = size_fraction
        self.max_inventory = max_inventory
        self.sizes: dict[str, int] = {}
        self.quotes_sent = 0

    def on_bbo(self, instrument: Instrument, book: Any) -> None:
        bid, ask = book.best_bid, book.best_ask
        if bid is None or ask is None or ask <= bid:
            return
        tick = instrument.tick
        if ask - bid > 2 * tick:
            bid, ask = bid + tick, ask - tick
        size = self.sizes.get(instrument.symbol)
        if size is None:
            top = min(book.best_bid_size, book.best_ask_size)
            size = max(instrument.lot, top // self.size_fraction // instrument.lot * instrument.lot)
            self.sizes[instrument.symbol] = size
        pos = self.position(instrument)
        limit = self.max_inventory * size
        self.quote(instrument, bid if pos < limit else None, ask if pos > -limit else None, size)
        self.quotes_sent += 1


def load_strategy(spec: str, params: Sequence[str] = ()) -> Strategy:
    """``module:Class`` (or ``path/to/file.py:Class``) with ``key=value`` constructor params
    (ints, decimal text kept as text, or JSON)."""
    mod_name, sep, cls_name = spec.rpartition(":")
    if not sep or not mod_name or not cls_name:
        raise ValueError(f"--strategy: expected module:Class, got {spec!r}")
    if mod_name.endswith(".py"):
        path = Path(mod_name)
        if not path.is_file():
            raise ValueError(f"--strategy: no such file {mod_name}")
        spec_ = importlib.util.spec_from_file_location(path.stem, path)
        assert spec_ is not None and spec_.loader is not None
        module = importlib.util.module_from_spec(spec_)
        sys.modules[path.stem] = module
        spec_.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(mod_name)
        except ImportError as exc:
            raise ValueError(f"--strategy: cannot import {mod_name}: {exc}") from None
    cls = getattr(module, cls_name, None)
    if cls is None:
        raise ValueError(f"--strategy: {mod_name} has no {cls_name}")
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ValueError(f"--strategy: {spec} is not a hftcore.Strategy subclass")
    kwargs: dict[str, Any] = {}
    for p in params:
        k, eq, v = p.partition("=")
        if not eq or not k:
            raise ValueError(f"--param: expected key=value, got {p!r}")
        try:
            kwargs[k] = json.loads(v)
        except ValueError:
            kwargs[k] = v
        if isinstance(kwargs[k], float):
            kwargs[k] = v  # a decimal stays text: never a float price or size
    return cls(**kwargs)


def _us(ns: float) -> str:
    return f"{ns / 1000:.1f}"


def format_report(r: BacktestResult) -> str:
    """The summary table ``demo`` and ``replay`` print."""
    s = r.stats
    lines = ["", "run", "---"]
    rows = [
        ("messages", f"{s['messages']:,}"),
        ("book updates (levels)", f"{sum(c['deltas'] for c in s['instruments'].values()):,}"),
        ("events", f"{s['events']:,}"),
        ("orders", f"{s['orders']:,}"),
        ("fills", f"{s['trades']:,}"),
        ("PnL (quote, after fees)", f"{s['pnl'].normalize():f}" if s["pnl"] else "0"),
        ("fees", f"{s['fees'].normalize():f}" if s["fees"] else "0"),
        ("turnover", f"{s['turnover'].normalize():f}" if s["turnover"] else "0"),
        ("max drawdown", f"{s['max_drawdown'].normalize():f}" if s["max_drawdown"] else "0"),
        ("books valid at the end", f"{len(s['instruments']) - len(s['invalid_books'])}"
                                   f"/{len(s['instruments'])}"),
        ("sequence gaps / decode errors", f"{s['gaps']} / {s['decode_errors']}"),
        ("strategy failures", f"{s['failures']}"),
        ("elapsed", f"{s['elapsed_s']:.3f} s ({s['rows_per_s']:,.0f} events/s, "
                    f"{s['messages_per_s']:,.0f} messages/s)"),
    ]
    w = max(len(k) for k, _ in rows)
    lines += [f"{k:<{w}}  {v}" for k, v in rows]
    lat = s.get("latency_ns") or {}
    if lat:
        lines += ["", "latency per stage (µs, wall clock)", "----------------------------------",
                  f"{'stage':<15} {'count':>8} {'p50':>8} {'p90':>8} {'p99':>8} {'p99.9':>8}"]
        for name, v in lat.items():
            lines.append(f"{name:<15} {int(v['count']):>8} {_us(v['p50']):>8} "
                         f"{_us(v['p90']):>8} {_us(v['p99']):>8} {_us(v['p99.9']):>8}")
    for f in r.failures:
        lines += ["", f"strategy {f.strategy} stopped in {f.hook}: {f.error}"]
    return "\n".join(lines)


def _jsonable(x: Any) -> Any:
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--latency", type=int, default=None, metavar="NS",
                   help="order entry and response latency in ns (each way)")
    p.add_argument("--fees", default=None, metavar="MAKER,TAKER",
                   help="fee rates as decimal fractions, e.g. 0.0001,0.0004")
    p.add_argument("--seed", type=int, default=0, help="seed of latency distributions")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="write the PnL / inventory plot here (needs matplotlib)")


def _demo_args(p: argparse.ArgumentParser) -> None:
    from hftcore.dashboard.demo import add_arguments as _dashboard_args

    _dashboard_args(p)
    _common_args(p)
    p.add_argument("--no-plot", action="store_true",
                   help="do not write hftcore-demo.png even when matplotlib is installed")
    p.add_argument("--live-loopback", action="store_true",
                   help="run through the Binance loopback venue over real websockets on "
                        "127.0.0.1 (no account, no internet)")
    p.add_argument("--speed", type=float, default=None, metavar="X",
                   help="with --live-loopback: replay at X times the recorded pace "
                        "(default: as fast as it goes)")
    p.add_argument("--venue", default="binance", metavar="NAME",
                   help="with --live-loopback: binance (default: market making on the sample) "
                        "or bitfinex, deribit, htx, kraken_futures, kucoin (order entry: place, "
                        "amend, cancel, a fill, over the venue's protocol and signing)")


def _fees(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    maker, sep, taker = text.partition(",")
    if not sep:
        raise ValueError("--fees: expected MAKER,TAKER, e.g. 0.0001,0.0004")
    return (maker.strip(), taker.strip())


def _finish(r: BacktestResult, args: argparse.Namespace, default_plot: str | None) -> int:
    if args.json:
        out = {k: v for k, v in r.stats.items()}
        print(json.dumps(_jsonable(out), indent=2))
    else:
        print(format_report(r))
    plot = args.plot or default_plot
    if plot:
        try:
            r.plot(plot)
        except ImportError as exc:
            if args.plot:
                raise CliError(str(exc), EXIT_USAGE) from None
        else:
            if not args.json:
                print(f"\nPnL and inventory plot: {plot}")
    return EXIT_OK if not r.failures else EXIT_FAILED


def _order_entry_demo(args: argparse.Namespace) -> int:
    import asyncio

    from hftcore.venues.loopback_more import (
        DEMO_VENUES,
        format_order_entry_demo,
        order_entry_demo,
    )

    if args.venue not in DEMO_VENUES:
        raise CliError(f"--venue: one of binance, {', '.join(DEMO_VENUES)}; got {args.venue!r}",
                       EXIT_USAGE)
    r = asyncio.run(order_entry_demo(args.venue))
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"hftcore demo --live-loopback --venue {args.venue}: order entry against a "
              f"{args.venue} loopback server on 127.0.0.1 (its protocol and signing, a "
              "throw-away account, the simulated exchange)")
        print(format_order_entry_demo(r))
    return EXIT_OK


@command("demo", "market-make the bundled sample recording through the simulated exchange",
         _demo_args)
def _demo(args: argparse.Namespace) -> int:
    from hftcore.data import sample

    if args.live_loopback and args.venue != "binance":
        return _order_entry_demo(args)
    if args.live_loopback:
        from hftcore.live import demo_loopback_command
        return demo_loopback_command(args)
    insts = sample.instruments()
    try:
        fees = _fees(args.fees) or ("0.0000", "0.0005")
        latency = args.latency if args.latency is not None else 100_000
        if latency < 0:
            raise ValueError("--latency must be >= 0")
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if not args.json:
        print(f"hftcore demo: MarketMaker on {len(insts)} Coinbase products, "
              f"{sample.paths()[0].name} (bundled sample, see its NOTICE)")
        print(f"simulated exchange: {latency / 1000:g} µs latency each way, fees maker "
              f"{fees[0]} / taker {fees[1]}")
    if args.dashboard:         # paced on an event loop, with a live dashboard (issue 14)
        from hftcore.dashboard import demo as dashboard_demo

        try:
            r = dashboard_demo.run(args, fees, latency)
        except (ValueError, ImportError, OSError) as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    else:
        r = backtest(MarketMaker(), sample.paths(), insts, latency=latency, fees=fees,
                     seed=args.seed)
    default_plot = None
    if not args.no_plot and not args.plot:
        try:
            import matplotlib  # noqa: F401
            default_plot = "hftcore-demo.png"
        except ImportError:
            default_plot = None
    return _finish(r, args, default_plot)


def _replay_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="recordings (.txt/.jsonl[.gz|.zst])")
    p.add_argument("--venue", default=None, help="the venue (default: detected from the file)")
    p.add_argument("--strategy", default="hftcore.demo:MarketMaker", metavar="MODULE:CLASS",
                   help="the strategy to run (default: hftcore.demo:MarketMaker)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a constructor argument of the strategy (repeatable)")
    _common_args(p)


@command("replay", "run a strategy over recordings through the simulated exchange",
         _replay_args)
def _replay(args: argparse.Namespace) -> int:
    from hftcore.data.recordings import infer_instruments

    for f in args.files:
        p = Path(f)
        if p.is_dir():
            raise CliError(f"{f}: is a directory, not a recording", EXIT_INPUT)
        if not p.exists():
            raise CliError(f"{f}: no such file", EXIT_INPUT)
    venue = args.venue.lower() if args.venue else None
    try:
        strategy = load_strategy(args.strategy, args.param)
        fees = _fees(args.fees)
        if args.latency is not None and args.latency < 0:
            raise ValueError("--latency must be >= 0")
    except (ValueError, TypeError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        insts = infer_instruments(args.files, venue)
        if not insts:
            raise ValueError("no instruments found in the recordings")
        r = backtest(strategy, args.files, insts, venue=venue,
                     latency=args.latency or 0, fees=fees, seed=args.seed)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc), EXIT_INPUT) from None
    return _finish(r, args, None)
