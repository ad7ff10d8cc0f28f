"""Turns an engine's state into rows for the sink's tables, reading it at a low rate.

The collector runs on the engine's thread between two event batches (an engine observer) and
reads what changed since its last look: the orders created (the engine's ``order_log``), each
open order's new history events, the order manager's new fills (``om.fills`` from where it
stopped), the risk engine's state, and - every ``sample_interval_ns`` of engine time - positions,
strategy PnL and (optionally) the top of each book.  It never touches the hot path: the engine
pays one list append per order while a sink is attached, and the rows are plain tuples of ints
and text (the writer thread makes timestamps and decimals of them).
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from hftcore._ext.feed import EV_TRADE
from hftcore.model import Liquidity, OrderStatus, OrderType, Side, TimeInForce
from hftcore.risk import TradingState
from hftcore.sink.spill import Batch

if TYPE_CHECKING:
    from hftcore.engine import Engine
    from hftcore.model import Order

__all__ = ["Collector"]

_TERMINAL = frozenset((OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED,
                       OrderStatus.EXPIRED))
_TRADE_SIDES = ("BUY", "SELL", "")
# names by code, one table per enum (an Enum's .name is a descriptor call, ~1 µs each; and
# IntEnums of different classes with one value are equal keys)
_STATUS = {int(e): e.name for e in OrderStatus}
_TYPE = {int(e): e.name for e in OrderType}
_SIDE = {int(e): e.name for e in Side}
_TIF = {int(e): e.name for e in TimeInForce}
_LIQ = {int(e): e.name for e in Liquidity}
_CLOSED_KEEP = 100_000     # closed orders remembered for late fills (strategy, instrument)


class _Tracked:
    __slots__ = ("order", "pdec", "sdec", "seen", "strategy")

    def __init__(self, order: Order, strategy: str) -> None:
        self.order = order
        self.strategy = strategy
        self.seen = 0
        inst = order.instrument
        self.pdec = inst.price_decimals
        self.sdec = inst.size_decimals


class Collector:
    """Reads an :class:`~hftcore.Engine` and returns the rows that are new since the last call.

    Parameters
    ----------
    engine : Engine
        The engine to watch (its ``order_log`` is switched on).
    run : str
        The run id every row carries.
    sample_interval_ns : int
        Positions, strategy PnL and book samples at most this often (engine time; 0: only at
        the end).
    book_samples : bool
        Also sample each book's best bid and ask.
    trades : bool
        Also record the public trades of the event batches the engine processes.
    config_sha256 : str
        The configuration's hash, kept in the ``runs`` row.
    budget : int
        At most this many new orders and this many new fills per poll (a poll's cost on the
        engine's thread stays bounded; :attr:`more` says when something is left for the next).
    """

    def __init__(self, engine: Engine, run: str, *, sample_interval_ns: int = 1_000_000_000,
                 book_samples: bool = False, trades: bool = False,
                 config_sha256: str = "", budget: int = 256) -> None:
        self.engine = engine
        self.run = run
        self.sample_interval_ns = sample_interval_ns
        self.book_samples = book_samples
        self.trades = trades
        self.budget = budget
        self.more = False
        self._tracked: dict[str, _Tracked] = {}
        self._closed: dict[str, _Tracked] = {}
        self._fill_pos = 0
        self._risk_seq = 0
        self._trade_seq = 0
        self._next_sample = 0
        self._failures = 0
        risk = engine.risk
        self._killed = risk.killed
        self._state = risk.state
        self._breaker = 0
        self._trade_rows: list[tuple[Any, ...]] = []
        if engine.order_log is None:
            engine.order_log = []
        self._log = engine.order_log
        self._started_rows = [self._run_row(config_sha256)]

    def _run_row(self, sha: str) -> tuple[Any, ...]:
        e = self.engine
        now = time.time_ns()
        insts = orjson.dumps([{"venue": i.venue, "symbol": i.symbol,
                               "price_decimals": i.price_decimals,
                               "size_decimals": i.size_decimals} for i in e.instruments]).decode()
        return (self.run, now, now, e.mode, e.om.session, socket.gethostname(), os.getpid(),
                insts, sha, 0, 0)

    def detach(self) -> None:
        """Stop asking the engine for its order log."""
        if self.engine.order_log is self._log:
            self.engine.order_log = None

    # -- events -------------------------------------------------------------------------------
    def note_events(self, events: Any) -> None:
        """Keep the public trades of an event batch (when ``trades`` is on)."""
        if not self.trades or events is None or not len(events):
            return
        arr = np.asarray(events)
        sel = arr[arr["kind"] == EV_TRADE]
        if not len(sel):
            return
        insts = self.engine.instruments
        run = self.run
        rows = self._trade_rows
        seq = self._trade_seq
        for ts, px, sz, ref, ii, side in zip(sel["local_ts"].tolist(), sel["price"].tolist(),
                                             sel["size"].tolist(), sel["ref"].tolist(),
                                             sel["instrument"].tolist(), sel["side"].tolist(),
                                             strict=True):
            if ii >= len(insts):
                continue
            inst = insts[ii]
            seq += 1
            rows.append((run, inst.venue, inst.symbol, seq, ts, ts, px, sz,
                         _TRADE_SIDES[min(side, 2)], ref, inst.price_decimals,
                         inst.size_decimals))
        self._trade_seq = seq

    # -- one look -----------------------------------------------------------------------------
    def poll(self, final: bool = False) -> Batch:
        """The rows that are new since the last poll (``final``: also a last sample, and no
        budget: everything there is)."""
        budget = self.budget
        if final:
            self.budget = 1 << 62
        try:
            return self._poll(final)
        finally:
            self.budget = budget

    def _poll(self, final: bool) -> Batch:
        out: Batch = []
        if self._started_rows:
            out.append(("runs", self._started_rows))
            self._started_rows = []
        now = self.engine.now
        orders, events, risk = self._orders()
        # fills once their orders are known (their strategy comes from the order log)
        fills = self._fills() if not self.more else []
        risk.extend(self._risk(now))
        if orders:
            out.append(("orders", orders))
        if events:
            out.append(("order_events", events))
        if fills:
            out.append(("fills", fills))
        if risk:
            out.append(("risk_events", risk))
        if self._trade_rows:
            out.append(("trades", self._trade_rows))
            self._trade_rows = []
        if final or (self.sample_interval_ns and now >= self._next_sample):
            self._next_sample = now + self.sample_interval_ns
            out.extend(self._samples(now))
        return out

    def _order_row(self, t: _Tracked, hist: list[tuple[int, Any, str]]) -> tuple[Any, ...]:
        o = t.order
        inst = o.instrument
        created = hist[0][0]
        updated = hist[-1][0]
        return (self.run, o.client_order_id, t.strategy, inst.venue, inst.symbol,
                _SIDE[o.side], _TYPE[o.order_type], _TIF[o.time_in_force], o.price, o.size,
                o.filled, _STATUS[o.status], o.reason, o.venue_order_id, created, created, updated,
                updated, len(hist), t.pdec, t.sdec)

    def _orders(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]],
                               list[tuple[Any, ...]]]:
        log = self._log
        tracked = self._tracked
        more = False
        if log:
            batch = log[:self.budget]
            del log[:len(batch)]
            more = bool(log)
            for order, strategy in batch:
                tracked[order.client_order_id] = _Tracked(order, strategy)
        orders: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        risk: list[tuple[Any, ...]] = []
        done = []
        run = self.run
        for cid, t in tracked.items():
            o = t.order
            try:
                hist = o.history
            except Exception:           # pruned by the order manager: nothing more to read
                done.append(cid)
                continue
            n = len(hist)
            if n == t.seen:
                continue
            for seq in range(t.seen, n):
                ts, status, event = hist[seq]
                events.append((run, cid, seq, ts, ts, _STATUS[status], event, 0, 0))
                if event in ("risk_reject", "reject"):
                    inst = o.instrument
                    self._risk_seq += 1
                    risk.append((run, self._risk_seq, ts, ts,
                                 "rejection" if event == "risk_reject" else "venue_reject",
                                 o.reason, cid,
                                 f"{inst.venue}:{inst.symbol} {_SIDE[o.side]} "
                                 f"{inst.format_qty(o.size)} @ {inst.format_price(o.price)}",
                                 0, 0))
            t.seen = n
            orders.append(self._order_row(t, hist))
            if o.status in _TERMINAL:
                done.append(cid)
        self.more = more
        closed = self._closed
        for cid in done:
            closed[cid] = tracked.pop(cid)
        if len(closed) > _CLOSED_KEEP:
            for cid in list(closed)[:len(closed) - _CLOSED_KEEP]:
                del closed[cid]
        return orders, events, risk

    def _fills(self) -> list[tuple[Any, ...]]:
        log = self.engine.om.fills
        n = len(log)
        if n == self._fill_pos:
            return []
        if n - self._fill_pos > self.budget:
            n = self._fill_pos + self.budget
            self.more = True
        new = log[self._fill_pos:n]
        self._fill_pos = n
        om = self.engine.om
        run = self.run
        rows = []
        for f in new:
            cid = f.client_order_id
            t = self._tracked.get(cid) or self._closed.get(cid)
            if t is not None:
                inst = t.order.instrument
                strategy = t.strategy
            else:
                o = om.get(cid)
                if o is None:
                    continue            # pruned before the sink saw it: nothing to tell
                inst = o.instrument
                strategy = ""
            rows.append((run, cid, f.trade_id, f.ts, f.ts, strategy, inst.venue, inst.symbol,
                         _SIDE[f.side], f.qty, f.price, _LIQ[f.liquidity], f.fee or 0,
                         inst.price_decimals, inst.size_decimals))
        return rows

    def _risk(self, now: int) -> list[tuple[Any, ...]]:
        e = self.engine
        risk = e.risk
        rows: list[tuple[Any, ...]] = []
        run = self.run

        def add(kind: str, reason: str, detail: str) -> None:
            self._risk_seq += 1
            rows.append((run, self._risk_seq, now, now, kind, reason, None, detail, 0, 0))

        killed = risk.killed
        if killed != self._killed:
            add("kill_switch" if killed else "kill_reset",
                "KILL_SWITCH" if killed else "", "engaged" if killed else "reset")
            self._killed = killed
        state = risk.state
        if state != self._state:
            add("state", state.name, f"{TradingState(self._state).name} -> {state.name}")
            self._state = state
        breaker = int(risk.book_state().get("breaker_until_ns", 0) or 0)
        if breaker != self._breaker:
            if breaker:
                add("breaker_open", "ERROR_RATE", f"open until {breaker} ns")
            else:
                add("breaker_closed", "ERROR_RATE", "closed")
            self._breaker = breaker
        failures = e.failures
        while self._failures < len(failures):
            f = failures[self._failures]
            self._failures += 1
            add("strategy_failure", f.hook, f"{f.strategy}: {f.error}")
        return rows

    def _samples(self, now: int) -> Batch:
        e = self.engine
        run = self.run
        states = list(e._strategies)
        pnl_rows = []
        pos_rows = []
        books = []
        for st in states:
            e.pnl(st.strategy)                      # marks the portfolio at the mids
            realized, unrealized = st.portfolio.pnl(8)
            stats = e.strategy_stats(st.strategy)
            pnl_rows.append((run, st.strategy.name or "", now, now, realized + unrealized,
                             realized, unrealized, stats["orders"],
                             sum(p.fills for p in st.portfolio), int(not st.running), 0, 0))
        portfolios = [("*", e.portfolio)]
        if len(states) > 1:
            portfolios += [(st.strategy.name or "", st.portfolio) for st in states]
        else:
            e.pnl()
        for name, pf in portfolios:
            for pos in pf:
                if not pos.fills:
                    continue
                inst = pos.instrument
                pos_rows.append((run, name, inst.venue, inst.symbol, now, now, pos.net,
                                 pos.avg_price, pos.mark, pos.realized_pnl, pos.unrealized_pnl,
                                 pos.fees, pos.turnover, inst.price_decimals,
                                 inst.size_decimals))
        if self.book_samples:
            for i, inst in enumerate(e.instruments):
                b = e.books[i]
                bid, ask = b.best_bid, b.best_ask
                if bid is None and ask is None:
                    continue
                books.append((run, inst.venue, inst.symbol, now, now, bid,
                              b.best_bid_size if bid is not None else None, ask,
                              b.best_ask_size if ask is not None else None,
                              inst.price_decimals, inst.size_decimals))
        out: Batch = []
        if pnl_rows:
            out.append(("strategy_pnl", pnl_rows))
        if pos_rows:
            out.append(("positions", pos_rows))
        if books:
            out.append(("book_samples", books))
        return out
