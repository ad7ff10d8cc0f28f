"""The dashboard's view of an engine: one plain, JSON-ready dict built on demand.

:class:`SnapshotBuilder` reads an :class:`~hftcore.engine.Engine` only when asked (the dashboard
server asks at its push rate, ``top`` at its refresh rate): nothing is hooked into the engine's
hot path, no strategy is added, nothing is counted per market event.  Every exact figure
(prices, sizes, PnL, fees, limits) is decimal text made from the raw integers; chart series
carry raw integers with their number of decimals.  The layout is the ``snapshot`` message of
the protocol in ``docs/dashboard.md``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import numpy as np

from hftcore import fixed
from hftcore._ext.feed import EV_TRADE
from hftcore._ext.hist import LatencyHistogram
from hftcore.metrics import STAGES
from hftcore.model import Instrument, OrderStatus
from hftcore.risk import InstrumentLimits, Reason, RiskLimits, TradingState

if TYPE_CHECKING:
    from hftcore.engine import Engine

__all__ = [
    "PNL_DECIMALS",
    "PROTOCOL_VERSION",
    "SnapshotBuilder",
    "TradeTape",
    "instrument_id",
    "limit_names",
]

#: version of the JSON protocol (``hello.protocol``); bumped on incompatible changes
PROTOCOL_VERSION = 1
#: decimals of the PnL, fee and turnover figures (the engine's and ``backtest``'s)
PNL_DECIMALS = 8

_TERMINAL = frozenset((OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED,
                       OrderStatus.EXPIRED))
_SIDE_NAMES = ("BUY", "SELL", "")
_INSTRUMENTS_PER_PART = 2           # build_async gives the loop back after this many
# limits kept at an instrument's size decimals / the risk engine's notional decimals
_SIZE_LIMITS = frozenset(("min_size", "max_size", "max_position"))
_NOTIONAL_LIMITS = frozenset(("min_notional", "max_notional", "max_gross_exposure",
                              "max_net_exposure", "max_daily_loss"))


def instrument_id(inst: Instrument) -> str:
    """``"venue:symbol"``: how the protocol names an instrument."""
    return f"{inst.venue}:{inst.symbol}"


def limit_names() -> dict[str, list[str]]:
    """The names of the limits a ``set_limit`` control may change: ``{"instrument": [...],
    "global": [...]}`` (fields of :class:`~hftcore.risk.InstrumentLimits` and
    :class:`~hftcore.risk.RiskLimits`)."""
    return {"instrument": [f.name for f in fields(InstrumentLimits)],
            "global": [f.name for f in fields(RiskLimits)]}


def limit_decimals(name: str, inst: Instrument | None, notional_decimals: int) -> int:
    """Decimals a limit's raw value is kept at (0 for counts, ticks, bps and times)."""
    if name in _SIZE_LIMITS:
        if inst is None:
            raise ValueError(f"{name} is an instrument limit")
        return inst.size_decimals
    if name in _NOTIONAL_LIMITS:
        return notional_decimals
    return 0


def _text(raw: int | None, decimals: int) -> str | None:
    return None if raw is None else fixed.format(int(raw), decimals, True)


def _limit_text(value: object, decimals: int) -> str | bool | None:
    if value is None or isinstance(value, bool):
        return value
    assert isinstance(value, int)
    return fixed.format(value, decimals, True)


class TradeTape:
    """The last market trades per instrument, fed with event arrays by whoever holds them.

    A replay driver passes each slice of events it hands the engine
    (:meth:`add_events`: one numpy filter per slice, nothing per event in Python); a live
    engine can run :class:`hftcore.dashboard.TradeWatcher` (one call per market trade).
    """

    def __init__(self, n_instruments: int, size: int = 20) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"size must be an int > 0, got {size!r}")
        self.size = size
        self.trades: list[deque[tuple[int, int, int, int]]] = [
            deque(maxlen=size) for _ in range(n_instruments)]
        self.versions = [0] * n_instruments     # per instrument: bumped by every trade added
        self.count = 0

    def add(self, index: int, ts: int, side: int, price: int, size: int) -> None:
        """One trade of instrument ``index`` (side 0 buy, 1 sell, 2 unknown; raw ints)."""
        self.trades[index].append((ts, side, price, size))
        self.versions[index] += 1
        self.count += 1

    def add_events(self, events: np.ndarray[Any, Any]) -> None:
        """The trades among ``events`` (``EVENT_DTYPE``): only the last ``size`` per
        instrument can matter, so at most ``size * n_instruments`` rows are looked at."""
        if not len(events):
            return
        trades = events[events["kind"] == EV_TRADE]
        n = len(trades)
        if not n:
            return
        self.count += n
        keep = self.size * len(self.trades)
        if n > keep:
            trades = trades[n - keep:]
        for ts, inst, side, price, size in zip(
                trades["local_ts"].tolist(), trades["instrument"].tolist(),
                trades["side"].tolist(), trades["price"].tolist(), trades["size"].tolist(),
                strict=True):
            if inst < len(self.trades):
                self.trades[inst].append((ts, side, price, size))
                self.versions[inst] += 1


def _log2_bins() -> tuple[np.ndarray[Any, Any], list[int]]:
    """Where each power-of-two bin (the chart's bars) starts among a
    :class:`LatencyHistogram`'s buckets, and the bins' lower bounds in ns."""
    lo, _hi = LatencyHistogram.bounds()
    bins = np.floor(np.log2(np.maximum(lo, 1))).astype(np.int64)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(bins)) + 1))
    return starts, [1 << int(b) for b in bins[starts]]


class _Orders:
    """Working, recently done and recently rejected orders, found without scanning every
    order: the open set of the last look, plus the orders created since (client order ids
    are ``prefix + session + "-" + n``, consecutive)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.next_seq = 1
        self.working: dict[str, Any] = {}
        self.done: deque[dict[str, Any]] = deque(maxlen=keep)
        self.rejected: deque[dict[str, Any]] = deque(maxlen=keep)
        self.total_done = 0
        self.total_rejected = 0

    @staticmethod
    def row(o: Any, now: int) -> dict[str, Any]:
        # not Order.history: a quote amended all day has a long one
        inst = o.instrument
        pd, sd = inst.price_decimals, inst.size_decimals
        sent = o.sent_ns
        return {
            "id": o.client_order_id, "instrument": instrument_id(inst),
            "side": o.side.name, "type": o.order_type.name, "tif": o.time_in_force.name,
            "price": fixed.format(o.price, pd), "size": fixed.format(o.size, sd),
            "filled": fixed.format(o.filled, sd), "status": o.status.name,
            "reason": o.reason, "sent_ns": sent, "age_ns": max(0, now - sent) if sent else 0,
        }

    def _finish(self, o: Any, now: int) -> None:
        row = self.row(o, now)
        if o.status == OrderStatus.REJECTED:
            self.rejected.append(row)
            self.total_rejected += 1
        else:
            self.done.append(row)
            self.total_done += 1

    def _last_seq(self, get: Callable[[int], Any]) -> int:
        """The highest order number in use (gallop, then bisect), or ``next_seq - 1``."""
        lo = self.next_seq - 1
        if get(self.next_seq) is None:
            return lo
        step = 1
        hi = self.next_seq
        while get(hi) is not None:
            lo = hi
            hi = lo + step
            step *= 2
        while hi - lo > 1:                     # get(lo) exists, get(hi) does not
            mid = (lo + hi) // 2
            if get(mid) is not None:
                lo = mid
            else:
                hi = mid
        return lo

    def update(self, om: Any, now: int) -> None:
        prefix = f"{om.prefix}{om.session}-"
        omget = om.get

        def get(seq: int) -> Any:
            return omget(f"{prefix}{seq}")

        open_now = {o.client_order_id: o for o in om.open_orders()}
        for cid in self.working:
            if cid not in open_now:
                cur = om.get(cid)
                if cur is not None and cur.status in _TERMINAL:
                    self._finish(cur, now)
        last = self._last_seq(get)
        first = max(self.next_seq, last - self.keep + 1)
        for seq in range(first, last + 1):
            o = get(seq)
            if o is not None and o.status in _TERMINAL:
                self._finish(o, now)
        self.next_seq = last + 1
        self.working = open_now


class SnapshotBuilder:
    """Builds the dashboard's snapshot of ``engine`` when :meth:`build` is called.

    Parameters
    ----------
    engine : Engine
        Any engine (backtest replay, paper, live, observe).  Read only between its calls: build
        snapshots on the thread / event loop the engine runs on.
    depth : int
        Book levels per side in each snapshot.
    keep : int
        Rows kept of recently done orders, rejections, fills and control actions.
    equity_points : int
        The equity curve keeps at most this many points (halved by dropping every other point
        when full, so it always spans the whole run).
    stale_after_ns : int
        A synced book with no message for this long (engine clock) is reported ``stale``.
    tape : TradeTape, optional
        Recent market trades (a tape with nothing in it shows none).
    gaps : callable, optional
        Returns ``{venue: sequence gaps}`` (e.g. a replay's statistics).
    """

    def __init__(self, engine: Engine, *, depth: int = 10, keep: int = 20,
                 equity_points: int = 600, stale_after_ns: int = 30_000_000_000,
                 tape: TradeTape | None = None,
                 gaps: Callable[[], dict[str, int]] | None = None) -> None:
        for name, v in (("depth", depth), ("keep", keep), ("equity_points", equity_points),
                        ("stale_after_ns", stale_after_ns)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be an int > 0, got {v!r}")
        self.engine = engine
        self.depth = depth
        self.keep = keep
        self.equity_points = equity_points
        self.stale_after_ns = stale_after_ns
        self.tape = tape if tape is not None else TradeTape(len(engine.instruments))
        self.gaps = gaps
        self.controls: deque[dict[str, Any]] = deque(maxlen=keep)
        self.extra: dict[str, Any] = {}
        self.seq = 0
        self.build_ns = 0            # the last snapshot's time (all parts)
        self.build_cpu_ns = 0        # and its thread CPU time
        self.max_part_ns = 0         # its longest part (wall clock: a preempted part counts)
        self.max_part_cpu_ns = 0     # its longest part in thread CPU time
        self._ids = [instrument_id(i) for i in engine.instruments]
        self._venues = sorted({i.venue for i in engine.instruments})
        self._orders = _Orders(keep)
        self._equity: list[tuple[int, int]] = []
        self._equity_step = 1
        self._equity_skip = 0
        self._last_wall = 0
        self._last_counts: list[int] = [0] * len(engine.instruments)
        self._last_events = 0
        self._last_change = [0] * len(engine.instruments)
        self._bin_starts, self._bin_lows = _log2_bins()
        self._book_rows: list[tuple[Any, dict[str, Any]]] = [((), {})] * len(engine.instruments)
        self._trade_rows: list[tuple[int, list[dict[str, Any]]]] = [
            (-1, [])] * len(engine.instruments)
        self._stage_rows: dict[str, tuple[int, dict[str, Any]]] = {}
        self._limit_rows: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._fill_rows: tuple[int, list[dict[str, Any]]] = (-1, [])

    # -- the protocol's hello ------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """What does not change during a run: mode, instruments, stages, limit names."""
        e = self.engine
        return {
            "mode": e.mode,
            "instruments": [{"id": self._ids[k], "venue": i.venue, "symbol": i.symbol,
                             "base": i.base, "quote": i.quote,
                             "price_decimals": i.price_decimals,
                             "size_decimals": i.size_decimals,
                             "tick": i.format_price(i.tick, True),
                             "lot": i.format_qty(i.lot, True)}
                            for k, i in enumerate(e.instruments)],
            "venues": self._venues,
            "stages": list(STAGES),
            "limits": limit_names(),
            "pnl_decimals": PNL_DECIMALS,
            "states": [s.name for s in TradingState],
        }

    # -- the snapshot --------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        """The engine's state now, as the protocol's ``snapshot`` message (without ``type``)."""
        steps = self._steps()
        while True:
            try:
                next(steps)
            except StopIteration as done:
                result: dict[str, Any] = done.value
                return result

    async def build_async(self) -> dict[str, Any]:
        """:meth:`build` in parts, giving the event loop back between them, so a market-data
        message that arrives meanwhile waits for one part (:attr:`max_part_ns`), not for the
        whole snapshot.  Each part reads the engine at one moment; parts are a loop turn
        apart."""
        steps = self._steps()
        while True:
            try:
                next(steps)
            except StopIteration as done:
                result: dict[str, Any] = done.value
                return result
            await asyncio.sleep(0)

    def _steps(self) -> Generator[None, None, dict[str, Any]]:
        """The snapshot, one part per step (the caller may run the event loop in between)."""
        clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
        spent = longest = cpu = longest_cpu = 0
        t, c = clock(), cpu_clock()

        def lap() -> None:            # the end of a part: add up its time
            nonlocal spent, longest, cpu, longest_cpu
            now_ns, now_cpu = clock(), cpu_clock()
            spent += now_ns - t
            longest = max(longest, now_ns - t)
            cpu += now_cpu - c
            longest_cpu = max(longest_cpu, now_cpu - c)

        e = self.engine
        wall = time.time_ns()
        dt = (wall - self._last_wall) / 1e9 if self._last_wall else 0.0
        self._last_wall = wall
        now = e.now
        core = e.core
        counters = [core.counters(i) for i in range(len(e.instruments))]
        events = int(core.events)
        ev_rate = (events - self._last_events) / dt if dt > 0 else 0.0
        self._last_events = events
        self.seq += 1
        snap: dict[str, Any] = {
            "seq": self.seq,
            "wall_ns": wall,
            "engine_ns": now,
            "mode": e.mode,
            "engine": {"events": events, "events_per_s": round(ev_rate, 1),
                       "messages": sum(int(c["messages"]) for c in counters),
                       "hook_calls": int(core.hook_calls),
                       "out_of_order_events": int(core.out_of_order),
                       "failures": [{"strategy": f.strategy, "hook": f.hook, "error": f.error}
                                    for f in e.failures[-self.keep:]],
                       "orders": len(e.om), "fills": len(e.fills)},
        }
        rows = []
        for k in range(len(e.instruments)):
            rows.append(self._instrument(k, counters[k], now, dt))
            if k % _INSTRUMENTS_PER_PART == _INSTRUMENTS_PER_PART - 1:
                lap()
                yield
                t, c = clock(), cpu_clock()
        snap["instruments"] = rows
        snap["venues"] = self._venue_view(rows)
        snap["engine"]["messages_per_s"] = round(sum(r["msg_rate"] for r in rows), 1)
        lap()
        yield
        t, c = clock(), cpu_clock()
        snap["orders"] = self._orders_view(e.now)
        snap["fills"] = self._fills()
        lap()
        yield
        t, c = clock(), cpu_clock()
        pnl = self._pnl()
        snap["positions"] = pnl.pop("positions")
        snap["pnl"] = pnl
        snap["equity"] = self._equity_curve(e.now, pnl["total_raw"])
        lap()
        yield
        t, c = clock(), cpu_clock()
        snap["latency"] = self._latency()
        lap()
        yield
        t, c = clock(), cpu_clock()
        snap["risk"] = self._risk()
        snap["controls"] = list(self.controls)
        if self.extra:
            snap["extra"] = dict(self.extra)
        lap()
        self.build_ns = spent
        self.build_cpu_ns = cpu
        self.max_part_ns = longest
        self.max_part_cpu_ns = longest_cpu
        snap["build_us"] = spent // 1000
        return snap

    def _instrument(self, k: int, c: dict[str, Any], now: int, dt: float) -> dict[str, Any]:
        inst = self.engine.instruments[k]
        msgs = int(c["messages"])
        rate = (msgs - self._last_counts[k]) / dt if dt > 0 else 0.0
        if msgs != self._last_counts[k]:
            self._last_change[k] = now
        self._last_counts[k] = msgs
        if not msgs:
            state = "no data"
        elif not c["valid"]:
            state = "resyncing"
        elif now - self._last_change[k] > self.stale_after_ns:
            state = "stale"
        else:
            state = "synced"
        key = (c["deltas"], msgs, c["bad_deltas"])
        cached_key, book_row = self._book_rows[k]
        if cached_key != key:              # the book changed since the last look
            book_row = self._book_row(inst, self.engine.books[k])
            self._book_rows[k] = (key, book_row)
        return {"id": self._ids[k], "book": state, **book_row,
                "trades": self._trades(k, inst),
                "messages": msgs, "deltas": int(c["deltas"]),
                "trades_seen": int(c["trades"]), "checksums_ok": int(c["checksums_ok"]),
                "checksums_failed": int(c["checksums_failed"]),
                "bad_deltas": int(c["bad_deltas"]), "msg_rate": round(rate, 1)}

    def _book_row(self, inst: Instrument, book: Any) -> dict[str, Any]:
        fmt = fixed.format
        pd, sd = inst.price_decimals, inst.size_decimals
        bid, ask = book.best_bid, book.best_ask
        bp, bs, ap, asz = book.depth(self.depth)
        spread = book.spread
        return {
            "bid": None if bid is None else fmt(bid, pd),
            "bid_size": None if bid is None else fmt(book.best_bid_size or 0, sd),
            "ask": None if ask is None else fmt(ask, pd),
            "ask_size": None if ask is None else fmt(book.best_ask_size or 0, sd),
            "spread": None if spread is None else fmt(spread, pd),
            "levels": len(book),
            "depth": {"bids": [[fmt(p, pd), fmt(q, sd)] for p, q in zip(bp.tolist(), bs.tolist(),
                                                                        strict=True)],
                      "asks": [[fmt(p, pd), fmt(q, sd)] for p, q in zip(ap.tolist(),
                                                                        asz.tolist(),
                                                                        strict=True)]},
            "sequence": int(book.sequence), "crosses": int(book.crosses),
        }

    def _trades(self, k: int, inst: Instrument) -> list[dict[str, Any]]:
        tape = self.tape
        if k >= len(tape.trades):
            return []
        version = tape.versions[k]
        cached_version, rows = self._trade_rows[k]
        if cached_version != version:
            fmt = fixed.format
            pd, sd = inst.price_decimals, inst.size_decimals
            rows = [{"ts": ts, "side": _SIDE_NAMES[min(side, 2)], "price": fmt(px, pd),
                     "size": fmt(sz, sd)} for ts, side, px, sz in reversed(tape.trades[k])]
            self._trade_rows[k] = (version, rows)
        return rows

    def _orders_view(self, now: int) -> dict[str, Any]:
        o = self._orders
        o.update(self.engine.om, now)
        working = sorted(o.working.values(), key=lambda x: x.handle)
        statuses: dict[str, int] = {}
        for w in working:
            statuses[w.status.name] = statuses.get(w.status.name, 0) + 1
        return {
            "working": [o.row(w, now) for w in working[-50:]],
            "working_count": len(working),
            "working_by_status": statuses,
            "done": list(reversed(o.done)),
            "rejected": list(reversed(o.rejected)),
            "done_seen": o.total_done,
            "rejected_seen": o.total_rejected,
            "total": len(self.engine.om),
        }

    def _fills(self) -> list[dict[str, Any]]:
        e = self.engine
        if self._fill_rows[0] == len(e.fills):
            return self._fill_rows[1]           # no fill since the last look
        out = []
        for ts, strategy, cid, side, qty, price, liq, fee, index in e.fills[-self.keep:]:
            inst = e.instruments[index]
            out.append({"ts": ts, "strategy": strategy, "id": cid, "instrument": self._ids[index],
                        "side": _SIDE_NAMES[side], "size": inst.format_qty(qty),
                        "price": inst.format_price(price),
                        "liquidity": "MAKER" if liq == 0 else "TAKER",
                        "fee": _text(fee, inst.price_decimals + inst.size_decimals)})
        out.reverse()
        self._fill_rows = (len(e.fills), out)
        return out

    def _pnl(self) -> dict[str, Any]:
        e = self.engine
        pf = e.portfolio
        positions = []
        for k, inst in enumerate(e.instruments):
            pos = pf.position(inst)
            if pos.net:
                mid = e.mark_price(k)
                if mid is not None:
                    pf.mark(inst, mid)
            if not (pos.net or pos.fills):
                continue
            vd = pos.value_decimals
            avg = pos.avg_price
            positions.append({
                "instrument": self._ids[k], "quote": inst.quote,
                "net": inst.format_qty(pos.net),
                "avg_price": None if avg is None else inst.format_price(avg),
                "mark": None if pos.mark is None else inst.format_price(pos.mark),
                "realized": _text(pos.realized_pnl, vd),
                "unrealized": _text(pos.unrealized_pnl, vd),
                "fees": _text(pos.fees, vd), "turnover": _text(pos.turnover, vd),
                "fills": int(pos.fills)})
        totals = pf.totals(PNL_DECIMALS)
        realized = sum(t.realized_pnl - t.fees for t in totals.values())   # as Portfolio.pnl
        unrealized = sum(t.unrealized_pnl for t in totals.values())
        fees = sum(t.fees for t in totals.values())
        turnover = sum(t.turnover for t in totals.values())
        d = PNL_DECIMALS
        return {
            "positions": positions,
            "total": _text(realized + unrealized, d), "total_raw": realized + unrealized,
            "realized": _text(realized, d), "unrealized": _text(unrealized, d),
            "fees": _text(fees, d), "turnover": _text(turnover, d),
            "by_quote": {q: {"total": _text(t.total_pnl, d), "fees": _text(t.fees, d),
                             "turnover": _text(t.turnover, d)}
                         for q, t in sorted(totals.items())},
            "decimals": d,
        }

    def _equity_curve(self, now: int, total: int) -> dict[str, Any]:
        """One point per ``_equity_step`` builds; when full, every other point goes and the
        step doubles (the curve keeps spanning the run at a bounded size)."""
        self._equity_skip += 1
        if self._equity_skip >= self._equity_step or not self._equity:
            self._equity_skip = 0
            self._equity.append((now, total))
            if len(self._equity) > self.equity_points:
                self._equity = self._equity[::2]
                self._equity_step *= 2
        pts = list(self._equity)
        if pts[-1][0] != now or pts[-1][1] != total:
            pts.append((now, total))           # the latest value always shows
        return {"decimals": PNL_DECIMALS, "points": [[t, v] for t, v in pts]}

    def _latency(self) -> list[dict[str, Any]]:
        out = []
        metrics = self.engine.metrics
        for name in STAGES:
            h = metrics.stage(name)
            n = int(h.count)
            cached = self._stage_rows.get(name)
            if cached is not None and cached[0] == n:
                out.append(cached[1])          # nothing recorded since: the same figures
                continue
            row: dict[str, Any] = {"stage": name, "count": n}
            if n:
                p = h.percentiles((50, 90, 99, 99.9))
                row.update({"p50": int(p[50]), "p90": int(p[90]), "p99": int(p[99]),
                            "p99.9": int(p[99.9]), "max": int(h.max or 0),
                            "mean": round(float(h.mean or 0.0), 1)})
                counts = np.add.reduceat(h.counts(), self._bin_starts).tolist()
                nz = [b for b, c in enumerate(counts) if c]
                row["hist"] = [[self._bin_lows[b], int(counts[b])]
                               for b in range(nz[0], nz[-1] + 1)]
            self._stage_rows[name] = (n, row)
            out.append(row)
        return out

    def _venue_view(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        e = self.engine
        metrics = e.metrics
        connected = metrics.venue_connected.children
        decode_errors = metrics.decode_errors.values()
        resyncs = metrics.resyncs.values()
        gaps = self.gaps() if self.gaps is not None else {}
        out = []
        for venue in self._venues:
            mine = [r for k, r in enumerate(rows) if e.instruments[k].venue == venue]
            row: dict[str, Any] = {"venue": venue,
                                   "messages": sum(r["messages"] for r in mine),
                                   "msg_rate": round(sum(r["msg_rate"] for r in mine), 1),
                                   "decode_errors": int(decode_errors.get(venue, 0)),
                                   "resyncs": int(resyncs.get(venue, 0)),
                                   "gaps": int(gaps.get(venue, 0))}
            status = _venue_status(e.venues.get(venue))
            if status is not None:
                row["state"] = "connected" if status.get("connected") else "disconnected"
                for key in ("decode_errors", "gaps"):
                    value = status.get(key)
                    if isinstance(value, int) and not isinstance(value, bool):
                        row[key] = value
            elif venue in connected:
                row["state"] = "connected" if connected[venue].value else "disconnected"
            elif e.mode == "backtest":
                row["state"] = "replay"
            else:
                row["state"] = "simulated" if e.sim is not None else "unknown"
            out.append(row)
        return out

    def _risk(self) -> dict[str, Any]:
        risk = self.engine.risk
        nd = risk.notional_decimals
        book = risk.book_state()
        glim = risk.global_limits
        usage: list[dict[str, Any]] = []

        def use(scope: str, name: str, used: int, limit: int | None, dec: int) -> None:
            if limit is None:
                return
            usage.append({"scope": scope, "limit": name, "used": _text(used, dec),
                          "value": _text(limit, dec),
                          "ratio": round(used / limit, 4) if limit > 0 else None})

        gross = book["gross_position"] + book["open_buy_notional"] + book["open_sell_notional"]
        net_worst = max(abs(book["net_position"] + book["open_buy_notional"]),
                        abs(book["net_position"] - book["open_sell_notional"]))
        use("global", "max_gross_exposure", gross, glim.max_gross_exposure, nd)
        use("global", "max_net_exposure", net_worst, glim.max_net_exposure, nd)
        use("global", "max_open_orders", book["open_orders"], glim.max_open_orders, 0)
        loss = -(book["realized_pnl"] + book["unrealized_pnl"])
        use("global", "max_daily_loss", max(loss, 0), glim.max_daily_loss, nd)
        limits: dict[str, Any] = {"global": {f.name: _limit_text(getattr(glim, f.name),
                                                                 limit_decimals(f.name, None, nd))
                                             for f in fields(RiskLimits)},
                                  "instruments": {}}
        for k, inst in enumerate(self.engine.instruments):
            try:
                lim = risk.limits(inst)
                st = risk.instrument_state(inst)
            except (KeyError, ValueError):
                continue
            iid = self._ids[k]
            cached = self._limit_rows.get(k)
            if cached is None or cached[0] is not lim:     # limits are replaced, never mutated
                text = {f.name: _limit_text(getattr(lim, f.name),
                                            limit_decimals(f.name, inst, nd))
                        for f in fields(InstrumentLimits)}
                cached = self._limit_rows[k] = (lim, text)
            limits["instruments"][iid] = cached[1]
            worst = max(st["position"] + st["open_buy_qty"], st["open_sell_qty"] - st["position"])
            use(iid, "max_position", max(worst, 0), lim.max_position, inst.size_decimals)
            use(iid, "max_open_orders", st["open_orders"], lim.max_open_orders, 0)
        counts = risk.counts()
        return {
            "state": TradingState(book["state"]).name,
            "killed": bool(book["killed"]),
            "open_orders": int(book["open_orders"]),
            "exposure": {"gross": _text(gross, nd), "net_worst": _text(net_worst, nd),
                         "position_gross": _text(book["gross_position"], nd),
                         "position_net": _text(book["net_position"], nd),
                         "open_buy": _text(book["open_buy_notional"], nd),
                         "open_sell": _text(book["open_sell_notional"], nd)},
            "breaker_until_ns": int(book["breaker_until_ns"]),
            "notional_decimals": nd,
            "limits": limits,
            "usage": usage,
            "checks": int(sum(counts.values())),
            "passed": int(counts.get(Reason.OK, 0)),
            "rejections": {r.name: int(n) for r, n in counts.items() if r != Reason.OK and n},
        }


def _venue_status(venue: Any) -> dict[str, Any] | None:
    """A live venue's ``status()`` (connection, counters), or None."""
    fn = getattr(venue, "status", None) if venue is not None else None
    if not callable(fn):
        return None
    try:
        st = fn()
    except Exception:
        return None
    return st if isinstance(st, dict) else None
