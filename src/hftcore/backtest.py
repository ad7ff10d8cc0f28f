"""Backtests: recorded data through the engine and the simulated exchange, results as pandas.

>>> result = hftcore.backtest(MyStrategy(), data=["binance.txt"], instruments=[btc],
...                           latency=hftcore.venues.sim.Latency(entry=200_000, response=200_000),
...                           fees=("0.0001", "0.0004"), seed=0)        # doctest: +SKIP
>>> result.stats["pnl"], result.fills.head()                             # doctest: +SKIP

Determinism: the same data, instruments, strategy, latency, fees and seed give byte-identical
fills (:meth:`BacktestResult.fills_bytes`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from hftcore._ext.strategy import Strategy
from hftcore.data.sources import DataSources
from hftcore.engine import Engine, StrategyFailure
from hftcore.model import Instrument, OrderStatus
from hftcore.risk import RiskEngine
from hftcore.venues.replay import ReplayStats
from hftcore.venues.sim import SimExchange

__all__ = ["BacktestResult", "backtest"]

PNL_DECIMALS = 8
_YEAR_NS = 365 * 24 * 3600 * 1_000_000_000

FILL_DTYPE = np.dtype([("ts", "<i8"), ("instrument", "<i4"), ("side", "u1"), ("liquidity", "u1"),
                       ("qty", "<i8"), ("price", "<i8"), ("fee", "<i8")])


def _dec(raw: int, decimals: int) -> Decimal:
    return Decimal(raw).scaleb(-decimals)


@dataclass
class BacktestResult:
    """What a backtest produced.

    Attributes
    ----------
    fills : pandas.DataFrame
        One row per fill: ``ts`` (ns), ``strategy``, ``client_order_id``, ``venue``, ``symbol``,
        ``side`` (BUY/SELL), ``qty``, ``price`` (raw ints), ``liquidity`` (MAKER/TAKER), ``fee``
        (raw at the instrument's value decimals).  :attr:`fill_records` holds the numpy array.
    orders : pandas.DataFrame
        One row per order: ids, instrument, side, type, time in force, price, size, filled,
        status, reason, first and last event times.
    equity : pandas.DataFrame
        ``ts``, ``pnl`` / ``realized`` / ``unrealized`` (Decimal, quote currency) and one
        inventory column per instrument (raw size), sampled every ``equity_interval_ns`` and at
        every fill.
    stats : dict
        pnl, fees, turnover (Decimal, quote currency at 8 decimals; summed over quote currencies
        at par: ``pnl_by_quote`` keeps them apart), trades, orders, fill_ratio, sharpe,
        max_drawdown, messages, events, rows_per_s, messages_per_s, mb_per_s, elapsed_s,
        tick-to-trade percentiles (ns), latency_ns per stage, failures, gaps, decode_errors,
        other_symbol_messages (messages about symbols not among the instruments: skipped).
    failures : list of StrategyFailure
        Strategies stopped because a hook raised (with the traceback).
    """

    fill_records: np.ndarray[Any, Any]
    fills: Any
    orders: Any
    equity: Any
    stats: dict[str, Any]
    failures: list[StrategyFailure] = field(default_factory=list)
    engine: Engine | None = field(default=None, repr=False)
    replay: ReplayStats | None = field(default=None, repr=False)

    def fills_bytes(self) -> bytes:
        """The fills as bytes (for determinism checks: equal runs give equal bytes)."""
        return self.fill_records.tobytes()

    def plot(self, path: str | Path | None = None) -> Any:
        """PnL and inventory over time (matplotlib, the ``plot`` extra); saved to ``path`` when
        given.  Returns the figure."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("plotting needs matplotlib: pip install 'hftcore[plot]'") from None
        eq = self.equity
        fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(9, 5))
        if len(eq):
            t = (eq["ts"] - eq["ts"].iloc[0]) / 1e9
            ax1.plot(t, [float(x) for x in eq["pnl"]], label="PnL")
            ax1.plot(t, [float(x) for x in eq["realized"]], label="realized", alpha=0.6)
            for col in eq.columns:
                if col.startswith("net "):
                    ax2.step(t, eq[col], where="post", label=col[4:])
        ax1.set_ylabel("PnL (quote)")
        ax1.legend(loc="best")
        ax2.set_ylabel("inventory (raw)")
        ax2.set_xlabel("seconds")
        if ax2.get_legend_handles_labels()[0]:
            ax2.legend(loc="best")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
            plt.close(fig)
        return fig

    def summary(self) -> str:
        """A short table of the headline figures."""
        s = self.stats
        rows = [("messages", f"{s['messages']:,}"), ("events", f"{s['events']:,}"),
                ("orders", f"{s['orders']:,}"), ("fills", f"{s['trades']:,}"),
                ("PnL", f"{s['pnl']}"), ("fees", f"{s['fees']}"),
                ("turnover", f"{s['turnover']}"), ("max drawdown", f"{s['max_drawdown']}"),
                ("fill ratio", f"{s['fill_ratio']:.3f}"),
                ("rows/s", f"{s['rows_per_s']:,.0f}"),
                ("tick-to-trade p50/p99", f"{s['tick_to_trade_p50_ns']:,} / "
                                          f"{s['tick_to_trade_p99_ns']:,} ns")]
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def _progress(total: int, enabled: bool | None) -> Any:
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc="backtest", leave=False,
                delay=2.0)


def backtest(
    strategy: Strategy | Sequence[Strategy],
    data: str | Path | Sequence[str | Path],
    instruments: Sequence[Instrument] | None = None,
    *,
    latency: object = None,
    fees: object = None,
    seed: int = 0,
    risk: RiskEngine | None = None,
    venue: str | None = None,
    equity_interval_ns: int = 1_000_000_000,
    progress: bool | None = None,
    strict: bool = False,
    measure: bool = True,
) -> BacktestResult:
    """Run ``strategy`` (one or several) over recordings through the simulated exchange.

    Parameters
    ----------
    strategy : Strategy or list of Strategy
        Instances of ``hftcore.Strategy`` subclasses (fresh ones: a strategy runs once).
    data : path or paths
        Event files (``python -m hftcore convert``) and/or recordings (``.txt`` / ``.jsonl``,
        plain, ``.gz`` or ``.zst``); the venue of each recording is
        detected from its content (or ``venue=``); files of several venues are merged in receive
        time order; a Binance REST snapshot file syncs the stream recorded with it.
    instruments : list of Instrument, optional
        The instruments to trade and watch, with their venue, symbol and decimals (default:
        those of the event files' headers, and for recordings the symbols they contain with the
        decimals they are written with).
    latency : int, (entry, response[, cancel]), dict or ``hftcore.venues.sim.Latency``
        Order latencies in ns (constants or models such as ``normal(...)``); 0 by default.
    fees : ``FeeSchedule`` or ``(maker, taker)`` decimal text, e.g. ``("0.0001", "0.0004")``
    seed : int
        Seeds latency distributions: equal inputs and seed give byte-identical fills.
    risk : RiskEngine, optional
        Pre-trade limits (permissive by default).
    progress : bool, optional
        A tqdm progress bar (default: on a terminal, for runs longer than two seconds).
    strict : bool
        Raise on the first bad message instead of counting it.
    """
    strategies = [strategy] if isinstance(strategy, Strategy) else list(strategy)
    if not strategies:
        raise ValueError("strategy: at least one strategy is needed")
    for s in strategies:
        if not isinstance(s, Strategy):
            raise TypeError(f"strategy: expected hftcore.Strategy instances, got "
                            f"{type(s).__name__}")
    src = DataSources(data, instruments, venue=venue, strict=strict)
    sim = SimExchange(latency, seed)
    engine = Engine(src.instruments, mode="backtest", sim=sim, risk=risk, fees=fees,
                    book_depth=src.book_depth, equity_interval_ns=equity_interval_ns,
                    measure=measure)
    for s in strategies:
        engine.add_strategy(s)
    bar = _progress(src.total_bytes, progress)
    t0 = time.perf_counter()
    last_ts = 0
    seen = 0
    for events in src:
        if len(events) == 0:
            continue
        engine.process(events)
        last_ts = int(events["local_ts"][-1])
        if bar is not None:
            done = src.bytes_read()
            bar.update(done - seen)
            seen = done
    if not engine._started:
        engine.start(0)
    engine.advance(last_ts)
    engine.stop()
    elapsed = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    return _result(engine, src.stats(), elapsed)


def _result(engine: Engine, rstats: ReplayStats, elapsed: float) -> BacktestResult:
    import pandas as pd

    insts = engine.instruments
    fr = np.array([(f[0], f[8], f[3], f[6], f[4], f[5], f[7]) for f in engine.fills],
                  dtype=FILL_DTYPE)
    sides = np.array(["BUY", "SELL"])
    liqs = np.array(["MAKER", "TAKER"])
    fills = pd.DataFrame({
        "ts": fr["ts"],
        "strategy": [f[1] for f in engine.fills],
        "client_order_id": [f[2] for f in engine.fills],
        "venue": [insts[i].venue for i in fr["instrument"]],
        "symbol": [insts[i].symbol for i in fr["instrument"]],
        "side": sides[fr["side"]] if len(fr) else [],
        "qty": fr["qty"],
        "price": fr["price"],
        "liquidity": liqs[fr["liquidity"]] if len(fr) else [],
        "fee": fr["fee"],
    })
    rows = []
    for o in engine.om:
        hist = o.history
        rows.append({
            "client_order_id": o.client_order_id,
            "venue": o.instrument.venue,
            "symbol": o.instrument.symbol,
            "side": o.side.name,
            "type": o.order_type.name,
            "tif": o.time_in_force.name,
            "price": o.price,
            "size": o.size,
            "filled": o.filled,
            "status": o.status.name,
            "reason": o.reason,
            "created_ts": hist[0][0] if hist else 0,
            "last_ts": hist[-1][0] if hist else 0,
        })
    orders = pd.DataFrame(rows, columns=["client_order_id", "venue", "symbol", "side", "type",
                                         "tif", "price", "size", "filled", "status", "reason",
                                         "created_ts", "last_ts"])
    eq = engine.equity
    equity = pd.DataFrame({
        "ts": eq["ts"],
        "pnl": [_dec(int(x), 8) for x in eq["pnl"]],
        "realized": [_dec(int(x), 8) for x in eq["realized"]],
        "unrealized": [_dec(int(x), 8) for x in eq["unrealized"]],
    })
    for i, inst in enumerate(insts):
        equity[f"net {inst.symbol}"] = eq[f"net_{i}"]
    totals = engine.portfolio.totals(PNL_DECIMALS)
    fees = sum((t.fees for t in totals.values()), 0)
    turnover = sum((t.turnover for t in totals.values()), 0)
    realized, unrealized = engine.portfolio.pnl(PNL_DECIMALS)
    pnl = realized + unrealized
    pnl_series = eq["pnl"].astype(np.int64)
    max_dd = 0
    if len(pnl_series):
        peak = np.maximum.accumulate(pnl_series)
        max_dd = int((peak - pnl_series).max())
    sharpe = 0.0
    if len(pnl_series) > 2 and engine.equity_interval_ns > 0:
        d = np.diff(pnl_series).astype(np.float64)   # a ratio of PnL changes: display only
        sd = float(d.std())
        if sd > 0:
            sharpe = float(d.mean()) / sd * math.sqrt(_YEAR_NS / engine.equity_interval_ns)
    size_sent = sum(engine.strategy_stats(st.strategy)["size_sent"]
                    for st in engine._strategies)
    size_filled = sum(engine.strategy_stats(st.strategy)["size_filled"]
                      for st in engine._strategies)
    ttt = engine.tick_to_trade
    tp = ttt.percentiles((50, 99)) if ttt.count else {50: 0, 99: 0}
    stats_core = engine.stats()
    n_events = stats_core["events"]
    n_orders = len(orders)
    gaps = rstats.gaps
    invalid = [k for k, c in stats_core["instruments"].items() if c["deltas"] and not c["valid"]]
    stats: dict[str, Any] = {
        "pnl": _dec(pnl, PNL_DECIMALS),
        "pnl_by_quote": {q: _dec(t.total_pnl, PNL_DECIMALS) for q, t in sorted(totals.items())},
        "realized_pnl": _dec(realized, PNL_DECIMALS),
        "unrealized_pnl": _dec(unrealized, PNL_DECIMALS),
        "fees": _dec(fees, PNL_DECIMALS),
        "turnover": _dec(turnover, PNL_DECIMALS),
        "trades": len(fr),
        "orders": n_orders,
        "orders_filled": int((orders["status"] == OrderStatus.FILLED.name).sum()) if n_orders
        else 0,
        "fill_ratio": (size_filled / size_sent) if size_sent else 0.0,
        "sharpe": sharpe,
        "max_drawdown": _dec(max_dd, PNL_DECIMALS),
        "messages": rstats.messages,
        "events": n_events,
        "bytes": rstats.bytes,
        "elapsed_s": elapsed,
        "rows_per_s": n_events / elapsed if elapsed > 0 else 0.0,
        "messages_per_s": rstats.messages / elapsed if elapsed > 0 else 0.0,
        "mb_per_s": rstats.bytes / elapsed / 1e6 if elapsed > 0 else 0.0,
        "tick_to_trade_p50_ns": int(tp[50]),
        "tick_to_trade_p99_ns": int(tp[99]),
        "tick_to_trade_samples": int(ttt.count),
        "latency_ns": engine.latency(),
        "hook_calls": stats_core["hook_calls"],
        "failures": len(engine.failures),
        "gaps": gaps,
        "decode_errors": rstats.decode_errors,
        "other_symbol_messages": rstats.unknown_symbols,
        "invalid_books": invalid,
        "instruments": stats_core["instruments"],
    }
    return BacktestResult(fr, fills, orders, equity, stats, list(engine.failures), engine, rstats)
