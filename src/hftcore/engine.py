"""The engine: composes books, strategies, the risk engine, the order manager, the portfolio and
the venues, and runs the hot path (events -> books -> strategies -> risk -> orders -> venue).

Modes (``Engine(mode=...)``): ``"backtest"`` (recorded data, simulated exchange, as fast as it
goes), ``"paper"`` (live data, simulated fills), ``"live"`` (live data and orders), ``"observe"``
(data only: the risk engine is HALTED, so every order is rejected with reason HALTED and the
rejection reaches ``on_order``).  The same strategy runs in all four.

The event loop itself is C (:class:`hftcore._ext.engine.EngineCore`): it applies each level to
its book and calls a strategy's ``on_bbo`` / ``on_book`` after a whole venue message only when
the strategy overrides them, so a strategy pays for the events it looks at.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hftcore._ext.book import L2Book
from hftcore._ext.engine import STAGES, EngineCore
from hftcore._ext.feed import EVENT_DTYPE, Feed
from hftcore._ext.hist import LatencyHistogram
from hftcore._ext.sim import (
    RSP_ACK,
    RSP_CANCEL_REJECT,
    RSP_CANCELED,
    RSP_EXPIRED,
    RSP_FILL,
    RSP_REJECT,
    RSP_REPLACE_REJECT,
    RSP_REPLACED,
    SO_FOK,
    SO_IOC,
    SO_MARKET,
    SO_POST_ONLY,
)
from hftcore._ext.strategy import QuoteSlot, Strategy
from hftcore.metrics import MetricsRegistry
from hftcore.model import (
    Instrument,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from hftcore.orders import OrderError, OrderManager
from hftcore.portfolio import FeeSchedule, Portfolio
from hftcore.risk import Reason, RiskEngine, TradingState
from hftcore.venues.sim import SimExchange, parse_fees

__all__ = ["MODES", "Engine", "StrategyFailure"]


def _rescale(v: int, from_dec: int, to_dec: int) -> int:
    """``v`` at ``from_dec`` decimals to ``to_dec`` (half-even when decimals are dropped)."""
    if to_dec >= from_dec:
        return v * int(10 ** (to_dec - from_dec))
    d = int(10 ** (from_dec - to_dec))
    q, r = divmod(v, d)
    twice = 2 * r
    return q + 1 if twice > d or (twice == d and q % 2) else q

log = logging.getLogger("hftcore.engine")

MODES = ("backtest", "paper", "live", "observe")

_SIDES = (Side.BUY, Side.SELL)
_LIQ = (Liquidity.MAKER, Liquidity.TAKER)
_OPEN_REQUEST = (OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL,
                 OrderStatus.PENDING_REPLACE)
_GTC = TimeInForce.GTC
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_LIMIT_MAKER = OrderType.LIMIT_MAKER
_DONE = frozenset((OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED,
                   OrderStatus.EXPIRED))
_WORKING = (OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_REPLACE, OrderStatus.PENDING_CANCEL)
_HOOKS = ("on_bbo", "on_book", "on_trade", "on_book_status", "on_event")
_UPDATE_KINDS = {"ack": RSP_ACK, "reject": RSP_REJECT, "fill": RSP_FILL,
                 "canceled": RSP_CANCELED, "expired": RSP_EXPIRED, "replaced": RSP_REPLACED,
                 "cancel_reject": RSP_CANCEL_REJECT, "replace_reject": RSP_REPLACE_REJECT}
# QuoteSlot._action's answers (see strategy.pyx)
_QA_NONE, _QA_SUBMIT, _QA_WAIT, _QA_CANCEL, _QA_AMEND = range(5)
STAGE_RISK = STAGES.index("risk")
STAGE_SEND = STAGES.index("send")
STAGE_TICK_TO_TRADE = STAGES.index("tick_to_trade")
STAGE_DECODE = STAGES.index("decode")


@dataclass(slots=True)
class StrategyFailure:
    """A strategy stopped because a hook raised."""

    strategy: str
    hook: str
    error: str
    traceback: str
    ts: int


@dataclass(slots=True)
class _Ord:
    """The engine's record of one order: its strategy (and the engine's state of it), venue
    slot and instrument index."""

    order: Order
    strategy: Strategy
    index: int
    handle: int
    state: _StrategyState = field(repr=False)
    cid: str              # the order's client order id
    slot: int = -1
    quote_side: int = -1  # 0/1 when this order is the strategy's quote on that side
    vid: str = ""         # the simulator's venue order id ("s<handle>")


@dataclass(slots=True)
class _StrategyState:
    strategy: Strategy
    sid: int
    instruments: tuple[int, ...]
    portfolio: Portfolio
    orders: dict[str, _Ord] = field(default_factory=dict)  # open orders by client id
    quotes: dict[int, QuoteSlot] = field(default_factory=dict)  # index -> quote state
    timers: dict[str, int] = field(default_factory=dict)
    running: bool = True
    orders_sent: int = 0
    size_sent: int = 0
    size_filled: int = 0
    want_order: bool = True      # on_order / on_fill overridden: worth a call
    want_fill: bool = True
    own_portfolio: bool = True   # False: the only strategy, its book is the engine's
    # (index, side) of quote sides whose last order was rejected: not sent again until the
    # strategy quotes again (a post-only quote that would cross, re-sent on its own reject at
    # zero latency, looped forever at one instant)
    quote_refused: set[tuple[int, int]] = field(default_factory=set)


def _overrides(strategy: Strategy, hook: str) -> bool:
    return getattr(type(strategy), hook) is not getattr(Strategy, hook)


def _check_int(x: object, what: str, positive: bool = False) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{what} must be an int (raw count at the instrument's decimals), "
                        f"got {type(x).__name__} {x!r}")
    if positive and x <= 0:
        raise ValueError(f"{what} must be > 0, got {x}")
    return x


class Engine:
    """Books, strategies, risk, orders and venues on one clock.

    Parameters
    ----------
    instruments : sequence of Instrument
        Everything the run trades or watches; their index in this list is their engine index.
    mode : str
        ``"backtest"``, ``"paper"``, ``"live"`` or ``"observe"`` (see the module docstring).
    sim : SimExchange, optional
        The simulated exchange of backtest and paper modes (zero latency by default).
    risk : RiskEngine, optional
        Pre-trade checks (a permissive one by default: every instrument registered without
        limits).  Every action goes through it.
    fees : FeeSchedule or (maker, taker) text, optional
        Fee rates of fills (the simulator's fills carry no fee of their own).
    journal : path, optional
        The order manager's journal.
    book_depth : dict, optional
        ``{instrument index: levels}`` kept per side (Kraken checksums need the subscribed depth).
    equity_interval_ns : int
        Sample PnL and inventory at least this often (simulated time) for :attr:`equity`.
    measure : bool
        Measure each stage's latency (wall clock) into ``metrics``' histograms.
    metrics : MetricsRegistry, optional
        Where counters and stage latencies go (a new registry by default); export it with
        ``hftcore.metrics.start_http_server``.
    """

    def __init__(
        self,
        instruments: Sequence[Instrument],
        *,
        mode: str = "backtest",
        sim: SimExchange | None = None,
        risk: RiskEngine | None = None,
        fees: object = None,
        journal: str | None = None,
        book_depth: dict[int, int] | None = None,
        equity_interval_ns: int = 1_000_000_000,
        measure: bool = True,
        order_manager: OrderManager | None = None,
        metrics: MetricsRegistry | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        insts = list(instruments)
        if not insts:
            raise ValueError("instruments: at least one instrument is needed")
        for i, inst in enumerate(insts):
            if not isinstance(inst, Instrument):
                raise TypeError(f"instruments[{i}] is not an Instrument: {inst!r}")
        self.mode = mode
        self.instruments = insts
        self._index: dict[tuple[str, str], int] = {}
        # ids of the engine's own Instrument objects (alive as long as the engine): index
        self._by_id: dict[int, int] = {id(inst): i for i, inst in enumerate(insts)}
        for i, inst in enumerate(insts):
            key = (inst.venue, inst.symbol)
            if key in self._index:
                raise ValueError(f"instruments: {inst.venue} {inst.symbol} given twice")
            self._index[key] = i
        depth = book_depth or {}
        self.books = [L2Book(inst.price_decimals, inst.size_decimals, tick=1,
                             max_depth=depth.get(i, 0)) for i, inst in enumerate(insts)]
        self.fees: FeeSchedule = parse_fees(fees)
        self.portfolio = Portfolio(self.fees)
        if risk is None:
            risk = RiskEngine()
        self.risk = risk
        self._risk_index = [risk.add_instrument(inst) if not self._risk_has(inst)
                            else risk.index(inst) for inst in insts]
        if mode == "observe":
            risk.set_state(TradingState.HALTED)
        self.sim: SimExchange | None = None
        sim_core = None
        if mode in ("backtest", "paper"):
            self.sim = sim if sim is not None else SimExchange()
            sim_core = self.sim.make_core(len(insts))
        self._sim_core = sim_core
        self._processing = 0
        self._banded = [self._has_band(inst) for inst in insts]
        self.core = EngineCore(self, insts, self.books, sim_core, _SIDES, measure)
        self.metrics = metrics if metrics is not None else MetricsRegistry()
        self.core.set_histograms([self.metrics.stage(name) for name in STAGES])
        self.metrics.watch_risk(risk)
        self.metrics.add_source(self.metrics.market_data_messages, self._messages_by_venue)
        self.om = order_manager if order_manager is not None else OrderManager(
            session="bt" if mode == "backtest" else None, journal=journal,
            portfolio=self.portfolio, risk=risk, clock=self._clock)
        self._strategies: list[_StrategyState] = []
        self._by_strategy: dict[int, _StrategyState] = {}
        self._orders: dict[int, _Ord] = {}        # handle -> open order record
        self._by_cid: dict[str, _Ord] = {}
        self._next_handle = 1
        self._timers: dict[int, list[Any]] = {}    # id -> [state, name, interval, active]
        self._next_timer = 1
        self._pending: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self.failures: list[StrategyFailure] = []
        self.equity_interval_ns = equity_interval_ns
        self._measure = measure
        self._equity: list[tuple[int, ...]] = []   # see _sample_equity
        self._positions = [self.portfolio.position(inst) for inst in insts]
        self._next_equity = 0
        self._started = False
        self._stopped = False
        # (ts, strategy, cid, side, qty, price, liquidity, fee, index)
        self.fills: list[tuple[Any, ...]] = []
        self.venues: dict[str, Any] = {}
        # called between two event batches / venue messages, never inside one (sinks, config
        # reloads); see add_observer.  order_log: (order, strategy name) of each order created,
        # kept only while an observer asks for it (None: off, one attribute test per order)
        self._observers: list[Callable[[Engine, Any], None]] = []
        self.order_log: list[tuple[Order, str]] | None = None

    # -- set-up ---------------------------------------------------------------------------------
    def add_venue(self, venue: Any) -> None:
        """Route orders of ``venue.name``'s instruments to ``venue`` (live mode)."""
        if not getattr(venue, "name", ""):
            raise ValueError("venue: a Venue with a name")
        self.venues[venue.name] = venue
        venue.attach(self)

    def add_observer(self, observer: Callable[[Engine, Any], None]) -> None:
        """Call ``observer(engine, events)`` after each batch of events (``events`` is the
        array given to :meth:`process`, ``None`` after a venue message or :meth:`advance`).

        Observers run between two events, never inside one: what they change (risk limits,
        strategy parameters) takes effect at once for the next event.  An observer that raises
        is logged and kept; keep them cheap (a sink polls at its own low rate).
        """
        if not callable(observer):
            raise TypeError(f"observer must be callable, got {type(observer).__name__}")
        self._observers.append(observer)

    def remove_observer(self, observer: Callable[[Engine, Any], None]) -> None:
        """Stop calling ``observer`` (``ValueError`` if it is not one)."""
        self._observers.remove(observer)

    def _observe(self, events: Any) -> None:
        for fn in list(self._observers):
            try:
                fn(self, events)
            except Exception:
                log.exception("engine observer %r raised; it stays registered", fn)

    def _messages_by_venue(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, inst in enumerate(self.instruments):
            out[inst.venue] = out.get(inst.venue, 0) + int(self.core.counters(i)["messages"])
        return out

    def limits_changed(self) -> None:
        """Re-read what the engine keeps of the risk limits (which instruments have a price
        band, hence need a reference price) after they changed at run time."""
        self._banded = [self._has_band(inst) for inst in self.instruments]

    def _has_band(self, inst: Instrument) -> bool:
        try:
            lim = self.risk.limits(inst)
        except (KeyError, ValueError):
            return False
        return lim.band_bps is not None or lim.band_ticks is not None

    def _risk_has(self, inst: Instrument) -> bool:
        try:
            self.risk.index(inst)
        except (KeyError, ValueError):
            return False
        return True

    def _clock(self) -> int:
        return int(self.core.now)

    def index(self, instrument: Instrument | str) -> int:
        """The engine index of an instrument (an Instrument, or ``"venue:symbol"`` / symbol)."""
        i = self._by_id.get(id(instrument))        # the engine's own objects (hooks pass them)
        if i is not None:
            return i
        if isinstance(instrument, Instrument):
            i = self._index.get((instrument.venue, instrument.symbol))
            if i is None:
                raise KeyError(f"{instrument.venue} {instrument.symbol} is not in this engine")
            return i
        if isinstance(instrument, str):
            venue, _, sym = instrument.rpartition(":")
            for (v, s), i in self._index.items():
                if s == sym and (not venue or v == venue):
                    return i
            raise KeyError(f"no instrument {instrument!r} in this engine")
        raise TypeError(f"instrument must be an Instrument or text, got {instrument!r}")

    def add_strategy(self, strategy: Strategy,
                     instruments: Iterable[Instrument] | None = None) -> Strategy:
        """Run ``strategy`` on ``instruments`` (all of the engine's by default)."""
        if not isinstance(strategy, Strategy):
            raise TypeError(f"strategy must be a hftcore.Strategy subclass instance, "
                            f"got {type(strategy).__name__}")
        if strategy._engine is not None:
            raise ValueError(f"{strategy!r} already runs in an engine")
        if self._started:
            raise RuntimeError("add strategies before the engine starts")
        idx = tuple(range(len(self.instruments))) if instruments is None else tuple(
            self.index(i) for i in instruments)
        sid = len(self._strategies)
        st = _StrategyState(strategy, sid, idx, Portfolio(self.fees))
        st.want_order = _overrides(strategy, "on_order")
        st.want_fill = _overrides(strategy, "on_fill")
        if strategy.name is None:
            strategy.name = type(strategy).__name__
        strategy._engine = self
        strategy._sid = sid
        self._strategies.append(st)
        self._by_strategy[id(strategy)] = st
        self._resubscribe()
        return strategy

    def _resubscribe(self) -> None:
        for i in range(len(self.instruments)):
            groups: dict[str, list[Strategy]] = {h: [] for h in _HOOKS}
            for st in self._strategies:
                if not st.running or i not in st.instruments:
                    continue
                for h in _HOOKS:
                    if _overrides(st.strategy, h):
                        groups[h].append(st.strategy)
            self.core.subscribe(i, tuple(groups["on_bbo"]), tuple(groups["on_book"]),
                                tuple(groups["on_trade"]), tuple(groups["on_book_status"]),
                                tuple(groups["on_event"]))

    def _state(self, strategy: Strategy) -> _StrategyState:
        st = self._by_strategy.get(id(strategy))
        if st is None:
            raise ValueError(f"{strategy!r} does not run in this engine")
        return st

    # -- running --------------------------------------------------------------------------------
    def start(self, ts: int = 0) -> None:
        """Call every strategy's ``on_start`` (once)."""
        if self._started:
            return
        self._started = True
        if len(self._strategies) == 1:          # one strategy: its book is the engine's
            only = self._strategies[0]
            only.portfolio = self.portfolio
            only.own_portfolio = False
        self.core.set_now(ts)
        self._next_equity = ts
        self._sample_equity()
        self._processing += 1
        try:
            for st in list(self._strategies):
                self._call(st, "on_start")
            self._flush()
        finally:
            self._processing -= 1

    def process(self, events: np.ndarray[Any, Any]) -> int:
        """Run an array of events (``EVENT_DTYPE``) through books, simulator and strategies."""
        if not self._started:
            self.start(int(events["local_ts"][0]) if len(events) else 0)
        self._processing += 1
        try:
            n = int(self.core.run(events))
        finally:
            self._processing -= 1
        if self.core.now >= self._next_equity:
            self._sample_equity()
        if self._observers:
            self._observe(events)
        return n

    def on_frame(self, feed: Feed, data: bytes | bytearray | memoryview, recv_ts: int) -> int:
        """One venue message received at ``recv_ts``: decode it with ``feed`` and run its
        events through books, simulator and strategies at once (the live hot path).  Returns
        the feed's message kind (negative: a bad message, counted by the feed)."""
        if not self._started:
            self.start(recv_ts)
        core = self.core
        self._processing += 1
        try:
            kind = self._on_frame(core, feed, data, recv_ts)
        finally:
            self._processing -= 1
            core.frame_wall_ns = 0
        if self._observers:
            self._observe(None)
        return kind

    def _on_frame(self, core: EngineCore, feed: Feed, data: bytes | bytearray | memoryview,
                  recv_ts: int) -> int:
        if self._measure:
            t0 = core.frame_wall_ns = core.wall_ns
            kind = int(feed.feed(data, recv_ts))
            core.record_stage(STAGE_DECODE, core.wall_ns - t0)
        else:
            kind = int(feed.feed(data, recv_ts))
        if feed.n_events:
            core.run_feed(feed)
        return kind

    def advance(self, ts: int) -> None:
        """Handle queued requests, answers and timers up to ``ts`` (simulated time)."""
        self._processing += 1
        try:
            self.core.advance(ts)
        finally:
            self._processing -= 1
        if self.core.now >= self._next_equity:
            self._sample_equity()
        if self._observers:
            self._observe(None)

    def stop(self) -> None:
        """Call every running strategy's ``on_stop`` (once) and sample equity a last time."""
        if self._stopped:
            return
        self._stopped = True
        self._processing += 1
        try:
            for st in list(self._strategies):
                if st.running:
                    self._call(st, "on_stop")
            self._flush()
            self._settle()
        finally:
            self._processing -= 1
        if not self._equity or self._equity[-1][0] != self.now:
            self._sample_equity(force=True)
        self.om.close()

    def _settle(self) -> None:
        """At the end of a simulated run: no more timers; answer every request in flight
        (cancels sent by ``on_stop`` included), so no order is left waiting."""
        for t in self._timers.values():
            t[3] = False
        sim = self._sim_core
        if sim is None:
            return
        while sim.queued:
            nxt = sim.next_ts
            assert nxt is not None
            self.core.advance(max(nxt, self.now))

    @property
    def now(self) -> int:
        """The engine clock (ns): recording time in backtests."""
        return int(self.core.now)

    def _call(self, st: _StrategyState, hook: str, *args: Any) -> None:
        try:
            getattr(st.strategy, hook)(*args)
        except Exception as exc:
            self._hook_failed(st.strategy, hook, exc)

    def _hook_failed(self, strategy: Strategy, hook: str, exc: BaseException) -> None:
        """A hook raised: stop that strategy, report, cancel its orders."""
        st = self._by_strategy.get(id(strategy))
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.failures.append(StrategyFailure(strategy.name, hook, repr(exc), tb, self.now))
        log.error("strategy %s stopped: %s raised %r\n%s", strategy.name, hook, exc, tb)
        if st is None or not st.running:
            return
        st.running = False
        for tid in st.timers.values():
            self._timers[tid][3] = False
        self._resubscribe()
        self._cancel_all(st, None)

    def _flush(self) -> None:
        """Deliver notifications queued while a hook ran (risk rejections...)."""
        self.core.pending = 0
        pend = self._pending
        while pend:
            fn, args = pend.popleft()
            fn(*args)

    def _notify(self, st: _StrategyState, hook: str, arg: Any) -> None:
        if st.running:
            self._call(st, hook, arg)

    def _sample_equity(self, force: bool = False, index: int = -1) -> None:
        """Note the positions (all, or instrument ``index`` and those with inventory after a
        fill) and their marks; :attr:`equity` turns the notes into PnL when asked (exact
        integers, and nothing but attribute reads on the hot path)."""
        now = int(self.core.now)
        if not force and now < self._next_equity:
            return
        if index < 0:
            self._next_equity = now + self.equity_interval_ns
        rows = self._equity
        for i, pos in enumerate(self._positions):
            net = pos.net
            if index >= 0 and i != index and not net:
                continue
            mark = 0
            if net:
                m = self.mark_price(i)
                mark = m if m is not None else (pos.mark or 0)
            rows.append((now, i, net, pos.cost, pos.realized_pnl, pos.fees, mark))
        rows.append((now, -1, 0, 0, 0, 0, 0))          # the end of one sample

    # -- order actions (called through Strategy) ------------------------------------------------
    def submit(self, strategy: Strategy, instrument: Instrument, side: int, size: int,
               price: int | None = None, *, order_type: OrderType | None = None,
               tif: TimeInForce | None = None, post_only: bool = False,
               protection: int | None = None) -> Order:
        """Create, risk-check and send an order for ``strategy`` (see ``Strategy.submit``)."""
        t0 = self.core.wall_ns if self._measure else 0
        st = self._state(strategy)
        if not st.running:
            raise RuntimeError(f"{strategy.name} is stopped")
        i = self.index(instrument)
        if isinstance(side, bool) or side not in (0, 1):
            raise ValueError(f"side must be Side.BUY or Side.SELL, got {side!r}")
        if type(size) is not int or size <= 0:
            _check_int(size, "size", positive=True)
        if price is not None and (type(price) is not int or price <= 0):
            _check_int(price, "price", positive=True)
        if protection is not None:
            _check_int(protection, "protection", positive=True)
        if tif is None or (type(tif) is int and tif == 0):   # Strategy.buy's default: GTC
            tif = _GTC
        elif not isinstance(tif, TimeInForce):
            tif = TimeInForce(_check_int(tif, "tif"))
        if order_type is None:
            order_type = _LIMIT if price is not None else _MARKET
        elif not isinstance(order_type, OrderType):
            order_type = OrderType(_check_int(order_type, "order_type"))
        if post_only:
            if order_type not in (OrderType.LIMIT, OrderType.LIMIT_MAKER):
                raise ValueError("post_only needs a limit order")
            order_type = OrderType.LIMIT_MAKER
        if order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            raise ValueError(f"{order_type.name} orders are not supported by this engine yet")
        flags = 0
        if order_type == OrderType.MARKET:
            if price is not None and protection is None:
                protection = price
            px = protection if protection is not None else self._protection(i, side)
            flags |= SO_MARKET
        else:
            if price is None:
                raise ValueError(f"{order_type.name} orders need a price")
            px = price
        if order_type == OrderType.LIMIT_MAKER or tif == TimeInForce.GTX:
            flags |= SO_POST_ONLY
        if tif == TimeInForce.IOC:
            flags |= SO_IOC
        elif tif == TimeInForce.FOK:
            flags |= SO_FOK
        return self._send_order(st, i, side, size, px, order_type, tif, flags, t0)[0]

    def _send_order(self, st: _StrategyState, i: int, side: int, size: int, px: int,
                    order_type: OrderType, tif: TimeInForce, flags: int,
                    t0: int) -> tuple[Order, _Ord | None]:
        """Create, risk-check and send a validated order (``submit``'s arguments checked, or
        the quote's); returns it and its record (None: refused by the risk check)."""
        now = self.core.now
        inst = self.instruments[i]
        if self._banded[i]:
            ref = self.mark_price(i)
            if ref is not None:
                self.risk.set_reference(inst, ref)
        order = self.om.create(inst, _SIDES[side], size, px, order_type, tif, ts=now)
        if self.order_log is not None:
            self.order_log.append((order, st.strategy.name))
        reason = self.om.submit(order, ts=now)
        cid = order.client_order_id
        rec = _Ord(order, st.strategy, i, self._next_handle, st, cid)
        self._next_handle += 1
        st.orders_sent += 1
        st.size_sent += size
        if reason != Reason.OK:
            self._pending.append((self._notify, (st, "on_order", order)))
            self.core.pending = 1
            if not self._processing:
                self._flush()          # called from a script, not a hook: tell it now
            return order, None
        self._orders[rec.handle] = rec
        self._by_cid[cid] = rec
        st.orders[cid] = rec
        t_sent = self.core.wall_ns if t0 else 0
        sim = self._sim_core
        if sim is not None:        # _send_new with what is known here
            rec.vid = f"s{rec.handle}"
            rec.slot = sim.submit(rec.handle, i, side, px, size, flags, int(now))
        else:
            self._send_new(rec, flags)
        if t0:
            self._measured(t0, t_sent)
        return order, rec

    def _protection(self, i: int, side: int) -> int:
        """A market order's protection price when none is given: 5% through the far side."""
        book = self.books[i]
        ref = book.best_ask if side == 0 else book.best_bid
        if ref is None:
            return 0
        band = max(ref // 20, self.instruments[i].tick)
        return int(ref + band) if side == 0 else int(max(ref - band, self.instruments[i].tick))

    def _send_new(self, rec: _Ord, flags: int) -> None:
        o = rec.order
        if self._sim_core is not None:
            rec.vid = f"s{rec.handle}"
            rec.slot = self._sim_core.submit(rec.handle, rec.index, int(o.side), o.price, o.size,
                                             flags, self.now)
            return
        venue = self.venues.get(o.instrument.venue)
        if venue is None:
            raise RuntimeError(f"no venue connected for {o.instrument.venue}")
        venue.submit(o, flags)

    def cancel(self, strategy: Strategy, order: Order) -> bool:
        """Ask the venue to cancel ``order``; False when it is already done or refused."""
        st = self._state(strategy)
        rec = st.orders.get(order.client_order_id)
        if rec is None or not order.is_open:
            return False
        return self._cancel(rec)

    def _cancel(self, rec: _Ord) -> bool:
        o = rec.order
        if o.status == OrderStatus.PENDING_CANCEL:
            return True
        try:
            reason = self.om.cancel(o.client_order_id, ts=self.now)
        except OrderError:
            return False
        if reason != Reason.OK:
            return False
        if self._sim_core is not None:
            self._sim_core.cancel(rec.handle, rec.slot, self.now, rec.index)
        else:
            self.venues[o.instrument.venue].cancel(o)
        return True

    def cancel_all(self, strategy: Strategy, instrument: Instrument | None = None) -> int:
        """Cancel ``strategy``'s open orders (of ``instrument`` only, when given)."""
        return self._cancel_all(self._state(strategy), instrument)

    def _cancel_all(self, st: _StrategyState, instrument: Instrument | None) -> int:
        i = None if instrument is None else self.index(instrument)
        n = 0
        for rec in list(st.orders.values()):
            if i is None or rec.index == i:
                n += self._cancel(rec)
        for idx, slot in st.quotes.items():
            if i is None or idx == i:
                slot.active = False
                slot.settled = False
        return n

    def amend(self, strategy: Strategy, order: Order, price: int | None = None,
              size: int | None = None) -> bool:
        """Change a live order's price and/or total size; False when it cannot be amended now."""
        st = self._state(strategy)
        rec = st.orders.get(order.client_order_id)
        if rec is None:
            return False
        new_price = order.price if price is None else _check_int(price, "price", positive=True)
        new_size = order.size if size is None else _check_int(size, "size", positive=True)
        if new_price == order.price and new_size == order.size:
            return True
        if order.status not in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
            return False
        if new_size <= order.filled:
            raise ValueError(f"size: {new_size} is not above the filled size {order.filled}")
        self._amend(rec, new_price, new_size)
        return True

    def _amend(self, rec: _Ord, new_price: int, new_size: int) -> None:
        """Send a validated cancel-replace for a live order."""
        order = rec.order
        core = self.core
        t0 = core.wall_ns if self._measure else 0
        now = core.now
        self.om.replace(order.client_order_id, new_price, new_size, ts=now)
        t_sent = core.wall_ns if t0 else 0
        sim = self._sim_core
        if sim is not None:
            sim.amend(rec.handle, rec.slot, new_price, new_size, now, rec.index)
        else:
            self.venues[order.instrument.venue].amend(order, new_price, new_size)
        if t0:
            self._measured(t0, t_sent)

    def _measured(self, t0: int, t_sent: int = 0) -> None:
        """Record risk + order manager (``t0`` to ``t_sent``), the venue (``t_sent`` to now) and
        tick-to-trade for one order sent."""
        core = self.core
        t1 = core.wall_ns
        if t_sent:
            core.record_stage(STAGE_RISK, t_sent - t0)
            core.record_stage(STAGE_SEND, t1 - t_sent)
        else:
            core.record_stage(STAGE_RISK, t1 - t0)
        start = core.frame_wall_ns or core.msg_wall_ns
        if start:
            core.record_stage(STAGE_TICK_TO_TRADE, t1 - start)

    def quote(self, strategy: Strategy, instrument: Instrument, bid: int | None,
              ask: int | None, size: int, post_only: bool = False) -> None:
        """Keep one bid and one ask of ``size`` working at ``bid`` / ``ask`` (None: none).

        An unchanged quote sends nothing; a new price amends the working order (one message,
        total size = filled + ``size``); partial fills do not re-size an order at its price.
        """
        st = self._state(strategy)
        i = self.index(instrument)
        if type(size) is not int or size <= 0:
            _check_int(size, "size", positive=True)
        if bid is not None and (type(bid) is not int or bid <= 0):
            _check_int(bid, "bid", positive=True)
        if ask is not None and (type(ask) is not int or ask <= 0):
            _check_int(ask, "ask", positive=True)
        if bid is not None and ask is not None and bid >= ask:
            raise ValueError(f"bid {bid} must be below ask {ask}")
        slot = st.quotes.get(i)
        if slot is None:
            slot = st.quotes[i] = QuoteSlot()
            if strategy._quotes is None:
                strategy._quotes = {}
            strategy._quotes[id(self.instruments[i])] = slot
            if instrument is not self.instruments[i]:
                strategy._quotes[id(instrument)] = slot
        slot.bid, slot.ask, slot.size = bid, ask, size
        slot.active = True
        slot.post_only = bool(post_only)
        if st.quote_refused:
            st.quote_refused.discard((i, 0))     # the strategy's new word: try again
            st.quote_refused.discard((i, 1))
        self._apply_quote(st, i, slot)

    def _apply_quote(self, st: _StrategyState, i: int, slot: QuoteSlot) -> None:
        slot.settled = False
        if not slot.active or not st.running:
            return
        size = slot.size
        assert size is not None
        settled = True
        for side in (0, 1):
            act = slot._action(side)        # the side's order against its target, in C
            if act == _QA_NONE:
                continue
            settled = False
            if act == _QA_WAIT:               # an answer is due: re-applied when it comes
                continue
            if act == _QA_SUBMIT:
                if st.quote_refused and (i, side) in st.quote_refused:
                    continue                  # rejected: waits for the strategy's next quote
                px = slot.bid if side == 0 else slot.ask
                assert px is not None
                # submit() without its checks: quote() validated the prices and size
                t0 = self.core.wall_ns if self._measure else 0
                if not st.running:
                    raise RuntimeError(f"{st.strategy.name} is stopped")
                if slot.post_only:
                    o = self._send_order(st, i, side, size, px, _LIMIT_MAKER, _GTC,
                                         SO_POST_ONLY, t0)[0]
                else:
                    o = self._send_order(st, i, side, size, px, _LIMIT, _GTC, 0, t0)[0]
                r = st.orders.get(o.client_order_id)   # None: refused, or done already
                if r is None and o.status == OrderStatus.REJECTED:
                    st.quote_refused.add((i, side))
                if r is not None:
                    r.quote_side = side
                    if side == 0:
                        slot.bid_order = r
                    else:
                        slot.ask_order = r
                continue
            rec: _Ord = slot.bid_order if side == 0 else slot.ask_order
            if act == _QA_CANCEL:
                self._cancel(rec)
            else:                             # amend: a new price, or the size re-set
                px = slot.bid if side == 0 else slot.ask
                assert px is not None
                self._amend(rec, px, rec.order.filled + size)
        slot.settled = settled

    def set_timer(self, strategy: Strategy, name: str, interval_ns: int,
                  start_ns: int | None = None) -> None:
        """Call ``strategy.on_timer(name, ts)`` every ``interval_ns`` (0 removes the timer)."""
        st = self._state(strategy)
        _check_int(interval_ns, "interval_ns")
        if interval_ns < 0:
            raise ValueError("interval_ns must be >= 0")
        old = st.timers.pop(name, None)
        if old is not None:
            self._timers[old][3] = False
        if interval_ns == 0:
            return
        if self._sim_core is None:
            raise RuntimeError("timers in live modes run on the event loop: use the live engine")
        tid = self._next_timer
        self._next_timer += 1
        first = self.now + interval_ns if start_ns is None else _check_int(start_ns, "start_ns")
        self._timers[tid] = [st, name, interval_ns, True]
        st.timers[name] = tid
        self._sim_core.add_timer(tid, first)

    def _on_timer(self, tid: int, ts: int) -> None:
        t = self._timers.get(tid)
        if t is None:
            return
        st, name, interval, active = t
        if not active or not st.running:
            del self._timers[tid]
            return
        assert self._sim_core is not None
        self._sim_core.add_timer(tid, ts + interval)
        self._call(st, "on_timer", name, ts)
        self._flush()

    # -- venue answers ------------------------------------------------------------------------
    def _on_response(self, kind: int, handle: int, price: int, qty: int, aux: int,
                     ts: int) -> None:
        """An answer of the simulated exchange (the C core calls this)."""
        rec = self._orders.get(handle)
        if rec is None:
            return
        if kind == RSP_FILL:
            seq = self._sim_core.trade_seq if self._sim_core is not None else 0
            self._update(rec, kind, ts, price, qty, aux, None,
                         f"f{seq}-{handle}-{rec.order.filled}")
            return
        if kind != RSP_REPLACED and kind != RSP_ACK and kind != RSP_CANCELED:
            if kind in (RSP_REJECT, RSP_CANCEL_REJECT, RSP_REPLACE_REJECT):
                self._update(rec, kind, ts, 0, 0, 1, None, "", "", SimExchange.reject_text(aux))
            else:
                self._update(rec, kind, ts, price, qty, 1, None, "", rec.vid)
            return
        # the common answers (a market maker's amends, acks and cancels) without _update's
        # general dispatch
        o = rec.order
        cid = rec.cid
        st = rec.state
        before = o.status
        running = st.running
        if kind == RSP_REPLACED:
            self.om.on_replaced(cid, price, qty, rec.vid, ts)
        elif kind == RSP_ACK:
            self.om.on_ack(cid, rec.vid, ts)
        else:
            self.om.on_canceled(cid, ts)
        self._answered(rec, st, kind, before, running)

    def _answered(self, rec: _Ord, st: _StrategyState, kind: int, before: OrderStatus,
                  running: bool) -> None:
        """After an answer moved an order: tell the strategy, forget a done order, re-apply its
        quote, run what the hooks asked for (the end of _update and _on_response)."""
        o = rec.order
        status = o.status
        if running and st.want_order and (status != before or kind == RSP_REPLACED):
            self._call(st, "on_order", o)
            status = o.status
        if status in _DONE:
            cid = rec.cid
            self._orders.pop(rec.handle, None)
            self._by_cid.pop(cid, None)
            st.orders.pop(cid, None)
        if rec.quote_side >= 0:
            slot = st.quotes.get(rec.index)
            if slot is not None:
                slot.settled = False
                if slot.active and status not in _OPEN_REQUEST:
                    self._apply_quote(st, rec.index, slot)
        if self._pending:
            self._flush()

    def on_order_update(self, client_order_id: str, kind: str, ts: int, *, price: int = 0,
                        qty: int = 0, liquidity: int = 1, fee: int | None = None,
                        trade_id: str = "", venue_order_id: str = "", reason: str = "") -> bool:
        """A venue's news about one of our orders (live venues call this).

        ``kind``: ``"ack"``, ``"reject"``, ``"fill"`` (``qty`` at ``price``, ``liquidity`` 0
        maker / 1 taker, ``fee`` at the instrument's value decimals or None to compute it,
        ``trade_id`` for de-duplication), ``"canceled"``, ``"expired"``, ``"replaced"`` (new
        ``price`` and total ``qty``), ``"cancel_reject"``, ``"replace_reject"``.  Returns False
        when the order is not one of this engine's open orders (the order manager records it).
        """
        code = _UPDATE_KINDS.get(kind)
        if code is None:
            raise ValueError(f"kind: unknown order update {kind!r}; one of "
                             f"{sorted(_UPDATE_KINDS)}")
        rec = self._by_cid.get(client_order_id)
        if rec is None:
            om = self.om
            if code == RSP_FILL:   # booked (and reported) by the order manager, never dropped
                om.on_fill(client_order_id, trade_id, qty, price, _LIQ[liquidity], fee, ts=ts)
            return False
        self._update(rec, code, ts, price=price, qty=qty, liquidity=liquidity, fee=fee,
                     trade_id=trade_id, venue_order_id=venue_order_id, reason=reason)
        return True

    def _update(self, rec: _Ord, kind: int, ts: int, price: int = 0, qty: int = 0,
                liquidity: int = 1, fee: int | None = None, trade_id: str = "",
                venue_order_id: str = "", reason: str = "") -> None:
        o = rec.order
        cid = rec.cid
        st = rec.state
        before = o.status
        om = self.om
        running = st.running
        # the most frequent answers first (a market maker's: amends, acks, fills)
        if kind == RSP_REPLACED:
            om.on_replaced(cid, price, qty, venue_order_id, ts)
        elif kind == RSP_ACK:
            om.on_ack(cid, venue_order_id, ts)
        elif kind == RSP_FILL:
            liq = _LIQ[liquidity]
            if fee is None:
                # the simulator's fills carry no fee: charge the engine's rates here, so the Fill
                # a strategy sees, the fills table and every portfolio book the same amount
                fee = self.fees.fee(price * qty, liq)
            if om.on_fill(cid, trade_id, qty, price, liq, fee, ts):
                side = o.side
                if fee is None:
                    fee = o.fills[-1].fee or 0
                if st.own_portfolio:
                    st.portfolio.apply(o.instrument, side, qty, price, fee, liq)
                st.size_filled += qty
                self.fills.append((ts, st.strategy.name, cid, int(side), qty, price, int(liq),
                                   fee, rec.index))
                if running and st.want_fill:
                    self._call(st, "on_fill", o.fills[-1])
                self._sample_equity(True, rec.index)
        elif kind == RSP_REJECT:
            om.on_reject(cid, reason, ts=ts)
            if rec.quote_side >= 0:
                st.quote_refused.add((rec.index, rec.quote_side))
        elif kind == RSP_CANCELED:
            om.on_canceled(cid, ts)
        elif kind == RSP_EXPIRED:
            om.on_expired(cid, ts)
        elif kind == RSP_CANCEL_REJECT:
            om.on_cancel_reject(cid, reason, ts=ts)
        elif kind == RSP_REPLACE_REJECT:
            om.on_replace_reject(cid, reason, ts=ts)
        self._answered(rec, st, kind, before, running)

    # -- reads ----------------------------------------------------------------------------------
    def mark_price(self, index: int) -> int | None:
        """The mid of instrument ``index``'s book at its price decimals (half-even), or None."""
        m = self.books[index].mid_x2
        if m is None:
            return None
        q, r = divmod(int(m), 2)
        return q + 1 if r and q % 2 else q

    def book(self, instrument: Instrument) -> L2Book:
        """The book of ``instrument``."""
        return self.books[self.index(instrument)]

    def position(self, strategy: Strategy, instrument: Instrument) -> int:
        """``strategy``'s net position in ``instrument`` (raw size)."""
        st = self._state(strategy)
        return int(st.portfolio.position(self.instruments[self.index(instrument)]).net)

    def pnl(self, strategy: Strategy | None = None, instrument: Instrument | None = None) -> int:
        """PnL after fees, marked at the mid: of one instrument at its value decimals, or of
        all at 8 decimals; of one strategy or (``None``) of the whole engine."""
        pf = self.portfolio if strategy is None else self._state(strategy).portfolio
        for i, inst in enumerate(self.instruments):
            if pf.position(inst).net:
                mid = self.mark_price(i)
                if mid is not None:
                    pf.mark(inst, mid)
        if instrument is not None:
            pos = pf.position(self.instruments[self.index(instrument)])
            return int(pos.realized_pnl + pos.unrealized_pnl - pos.fees)
        realized, unrealized = pf.pnl(8)
        return int(realized + unrealized)

    def open_orders(self, strategy: Strategy, instrument: Instrument | None = None) -> list[Order]:
        """``strategy``'s open orders (of ``instrument`` only, when given)."""
        st = self._state(strategy)
        i = None if instrument is None else self.index(instrument)
        return [r.order for r in st.orders.values()
                if r.order.is_open and (i is None or r.index == i)]

    def strategy_stats(self, strategy: Strategy) -> dict[str, int]:
        """Orders and sizes sent and filled by ``strategy``."""
        st = self._state(strategy)
        return {"orders": st.orders_sent, "size_sent": st.size_sent,
                "size_filled": st.size_filled}

    @property
    def tick_to_trade(self) -> LatencyHistogram:
        """Wall-clock ns from a frame's receipt (live) or a message's hooks starting (backtest)
        to each order sent (risk, order manager and venue included): a histogram."""
        return self.metrics.stage("tick_to_trade")

    def latency(self) -> dict[str, dict[str, float]]:
        """Per measured stage (``hftcore.metrics.STAGES``): count, p50, p90, p99, p99.9, mean
        and max in ns (the engine's histograms: within 1%)."""
        out: dict[str, dict[str, float]] = {}
        for name in STAGES:
            h = self.metrics.stage(name)
            if h.count:
                p = h.percentiles((50, 90, 99, 99.9))
                out[name] = {"count": float(h.count), "p50": float(p[50]), "p90": float(p[90]),
                             "p99": float(p[99]), "p99.9": float(p[99.9]),
                             "mean": float(h.mean or 0.0), "max": float(h.max or 0)}
        return out

    @property
    def equity(self) -> np.ndarray[Any, Any]:
        """Samples ``(ts, pnl, realized, unrealized, net_0, net_1, ...)`` as int64 columns
        (PnL after fees at 8 decimals, quote currencies at par; nets raw), taken at the start,
        every ``equity_interval_ns``, at every fill and at the end; see
        ``BacktestResult.equity`` for the DataFrame."""
        n = len(self.instruments)
        dt = np.dtype([("ts", "<i8"), ("pnl", "<i8"), ("realized", "<i8"),
                       ("unrealized", "<i8")] + [(f"net_{i}", "<i8") for i in range(n)])
        vdec = [inst.price_decimals + inst.size_decimals for inst in self.instruments]
        state = [[0, 0, 0, 0, 0] for _ in range(n)]   # net, cost, realized, fees, mark
        out = []
        for ts, i, net, cost, realized, fees, mark in self._equity:
            if i >= 0:
                state[i] = [net, cost, realized, fees, mark]
                continue
            r_tot = u_tot = 0
            for k, (net_k, cost_k, real_k, fee_k, mark_k) in enumerate(state):
                r_tot += _rescale(real_k - fee_k, vdec[k], 8)
                if net_k:
                    u_tot += _rescale(net_k * mark_k - cost_k, vdec[k], 8)
            out.append((ts, r_tot + u_tot, r_tot, u_tot, *(st[0] for st in state)))
        return np.array(out, dtype=dt)

    def stats(self) -> dict[str, Any]:
        """Counters of the run: events, hook calls, per-instrument counters, failures."""
        core = self.core
        return {
            "events": int(core.events),
            "hook_calls": int(core.hook_calls),
            "out_of_order_events": int(core.out_of_order),
            "instruments": {f"{inst.venue}:{inst.symbol}": core.counters(i)
                            for i, inst in enumerate(self.instruments)},
            "failures": len(self.failures),
            "orders": len(self.om),
            "fills": len(self.fills),
            "latency_ns": self.latency(),
            "metrics": self.metrics.stats(),
        }


EVENTS = EVENT_DTYPE
