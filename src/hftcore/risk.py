"""Pre-trade risk: limits per instrument and book-wide, checked in C without the GIL.

The check itself is :func:`hftcore._ext.risk.RiskCore.check`, one ``noexcept nogil`` C function
over structs; :class:`RiskEngine` keeps the Python-side bookkeeping (instruments by name, open
orders by id, the kill switch callback) and hands the compiled check out unwrapped as
``RiskEngine.check`` so the hot path pays one call.

Units: prices and sizes are raw ints at the instrument's decimals; notionals, exposures and PnL
handed to the engine are raw ints of quote currency at ``notional_decimals`` (default 8), and
every quote currency is taken at par (convert before if you trade several quote currencies).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from hftcore import fixed
from hftcore._ext.risk import REASON_COUNT, RiskCore
from hftcore.model import Instrument, OrderType, Side

__all__ = [
    "InstrumentLimits",
    "Reason",
    "RiskEngine",
    "RiskLimits",
    "RiskRejected",
    "TradingState",
    "VenueRateLimit",
]


class Reason(IntEnum):
    """Why the risk engine refused an order (``OK`` passes).  Same codes as the C checks."""

    OK = 0
    HALTED = 1
    KILL_SWITCH = 2
    REDUCE_ONLY = 3
    UNKNOWN_INSTRUMENT = 4
    BAD_SIDE = 5
    SIZE_NOT_POSITIVE = 6
    SIZE_MIN = 7
    SIZE_MAX = 8
    SIZE_LOT = 9
    PRICE_NOT_POSITIVE = 10
    PRICE_TICK = 11
    PRICE_BAND = 12
    NO_REFERENCE = 13
    MARKET_NO_PROTECTION = 14
    NOTIONAL_MIN = 15
    NOTIONAL_MAX = 16
    NOTIONAL_OVERFLOW = 17
    POSITION_LIMIT = 18
    GROSS_EXPOSURE = 19
    NET_EXPOSURE = 20
    OPEN_ORDERS_INSTRUMENT = 21
    OPEN_ORDERS_TOTAL = 22
    SELF_TRADE = 23
    RATE_ORDERS = 24
    RATE_CANCELS = 25
    DAILY_LOSS = 26
    ERROR_RATE = 27
    BAD_ORDER_TYPE = 28

    @property
    def message(self) -> str:
        """A human sentence for logs and rejections."""
        return _MESSAGES[self]


_MESSAGES: dict[Reason, str] = {
    Reason.OK: "passed",
    Reason.HALTED: "trading is halted",
    Reason.KILL_SWITCH: "the kill switch is engaged",
    Reason.REDUCE_ONLY: "only position-reducing orders are allowed (state REDUCING)",
    Reason.UNKNOWN_INSTRUMENT: "the instrument is not registered with the risk engine",
    Reason.BAD_SIDE: "the side is neither BUY nor SELL",
    Reason.SIZE_NOT_POSITIVE: "the size is not positive",
    Reason.SIZE_MIN: "the size is below the instrument's minimum",
    Reason.SIZE_MAX: "the size is above the instrument's maximum",
    Reason.SIZE_LOT: "the size is not a whole number of lots",
    Reason.PRICE_NOT_POSITIVE: "the price is not positive",
    Reason.PRICE_TICK: "the price is not a whole number of ticks",
    Reason.PRICE_BAND: "the price is outside the allowed band around the reference price",
    Reason.NO_REFERENCE: "a price band is set but there is no reference price yet",
    Reason.MARKET_NO_PROTECTION: "a market order needs a protection price",
    Reason.NOTIONAL_MIN: "the notional is below the minimum",
    Reason.NOTIONAL_MAX: "the notional is above the maximum",
    Reason.NOTIONAL_OVERFLOW: "the notional does not fit in 64 bits",
    Reason.POSITION_LIMIT: "the position with every open order filled would exceed the limit",
    Reason.GROSS_EXPOSURE: "the gross exposure would exceed the limit",
    Reason.NET_EXPOSURE: "the net exposure would exceed the limit",
    Reason.OPEN_ORDERS_INSTRUMENT: "too many open orders on this instrument",
    Reason.OPEN_ORDERS_TOTAL: "too many open orders in total",
    Reason.SELF_TRADE: "the order would trade against one of our own resting orders",
    Reason.RATE_ORDERS: "the venue's order rate limit is used up",
    Reason.RATE_CANCELS: "the venue's cancel rate limit is used up",
    Reason.DAILY_LOSS: "the daily loss limit is reached",
    Reason.ERROR_RATE: "too many venue rejects/timeouts: circuit breaker open",
    Reason.BAD_ORDER_TYPE: "unknown order type",
}
assert len(Reason) == REASON_COUNT


class TradingState(IntEnum):
    """ACTIVE trades; REDUCING lets only position-reducing orders through; HALTED none."""

    ACTIVE = 0
    REDUCING = 1
    HALTED = 2


class RiskRejected(Exception):
    """An order refused by the risk engine; ``reason`` is a :class:`Reason`."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason.name}: {reason.message}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True, slots=True)
class InstrumentLimits:
    """Per-instrument limits; ``None`` turns a limit off.

    Sizes (``min_size``, ``max_size``, ``max_position``) are raw at the instrument's
    ``size_decimals``; notionals (``min_notional``, ``max_notional``) raw quote currency at the
    engine's ``notional_decimals``.  ``band_ticks`` / ``band_bps`` bound ``|price - reference|``
    in ticks / basis points of the reference.  ``None`` sizes default to the instrument's.
    """

    min_size: int | None = None
    max_size: int | None = None
    min_notional: int | None = None
    max_notional: int | None = None
    max_position: int | None = None
    band_ticks: int | None = None
    band_bps: int | None = None
    max_open_orders: int | None = None
    self_trade_prevention: bool = True


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Book-wide limits; ``None`` turns a limit off.

    ``max_gross_exposure``, ``max_net_exposure`` and ``max_daily_loss`` are raw quote currency at
    ``notional_decimals`` (``max_daily_loss`` is a positive amount).  ``max_errors`` venue
    rejects/timeouts within ``error_window_ns`` trip the breaker for ``error_cooldown_ns``.
    """

    max_gross_exposure: int | None = None
    max_net_exposure: int | None = None
    max_open_orders: int | None = None
    max_daily_loss: int | None = None
    max_errors: int | None = None
    error_window_ns: int = 1_000_000_000
    error_cooldown_ns: int = 60_000_000_000


@dataclass(frozen=True, slots=True)
class VenueRateLimit:
    """Token buckets of one venue: ``*_rate`` tokens per second, ``*_burst`` capacity,
    ``*_weight`` tokens per request (as the venue counts them).  A burst of 0 turns one off."""

    order_rate: int = 0
    order_burst: int = 0
    order_weight: int = 1
    cancel_rate: int = 0
    cancel_burst: int = 0
    cancel_weight: int = 1


# An open order as the engine tracks it: a 4-item list [index, side, price, remaining] (a list,
# not an object: this is on the submit/fill path and a list costs a fraction of an instance).
_I, _S, _P, _R = 0, 1, 2, 3


class RiskEngine:
    """Pre-trade risk checks with limits changeable at run time and a kill switch.

    Parameters
    ----------
    notional_decimals : int
        Decimals of notional, exposure and PnL figures (quote currency).
    limits : RiskLimits, optional
        Book-wide limits.
    on_cancel_all : callable, optional
        Called by :meth:`kill` with the ids of every open order, to cancel them all.

    Notes
    -----
    ``check(index, side, price, qty, order_type=0, now_ns=0) -> int`` is the compiled check,
    bound directly (no Python frame in between): ``index`` comes from :meth:`add_instrument`,
    ``side`` is ``Side`` (0/1), and the result is a :class:`Reason` code, 0 when the order passes.
    ``now_ns=0`` reads the monotonic clock (``CLOCK_MONOTONIC_COARSE`` on Linux: the epoch of
    ``time.monotonic_ns``, a few ms of resolution, lagging - so buckets refill late, never early)
    when a rate limit or the breaker needs the time; pass ``now_ns`` when you have it.

    Examples
    --------
    >>> from hftcore import Instrument, Side
    >>> btc = Instrument("binance", "BTCUSDT", 2, 5)
    >>> risk = RiskEngine()
    >>> i = risk.add_instrument(btc, InstrumentLimits(max_size=btc.qty("2")))
    >>> risk.check(i, Side.BUY, btc.price("50000"), btc.qty("3"))
    8
    >>> Reason(8).message
    "the size is above the instrument's maximum"
    """

    check: Callable[..., int]
    check_cancel: Callable[..., int]

    def __init__(
        self,
        notional_decimals: int = 8,
        limits: RiskLimits | None = None,
        on_cancel_all: Callable[[list[str]], None] | None = None,
    ) -> None:
        self._core = RiskCore(notional_decimals)
        self.notional_decimals = notional_decimals
        self.check = self._core.check
        self.check_cancel = self._core.check_cancel
        self.on_cancel_all = on_cancel_all
        self._index: dict[tuple[str, str], int] = {}
        self._instruments: list[Instrument] = []
        self._limits: list[InstrumentLimits] = []
        self._venues: dict[str, int] = {}
        self._open: dict[str, list[int]] = {}
        # per instrument index: its open orders and our best resting [bid, ask] (None: none)
        self._open_by_index: dict[int, dict[str, list[int]]] = {}
        self._best: dict[int, list[int | None]] = {}
        self._global = RiskLimits()
        self.set_global_limits(limits or RiskLimits())

    # -- configuration -------------------------------------------------------------------------
    def add_instrument(self, instrument: Instrument, limits: InstrumentLimits | None = None) -> int:
        """Register an instrument (or change its limits); returns its index for :meth:`check`."""
        key = (instrument.venue, instrument.symbol)
        index = self._index.get(key)
        if index is None:
            index = len(self._instruments)
            self._index[key] = index
            self._instruments.append(instrument)
            self._limits.append(limits or InstrumentLimits())
        elif limits is not None:
            self._limits[index] = limits
        self._apply_limits(index)
        return index

    def _venue_index(self, venue: str) -> int:
        v = self._venues.get(venue)
        if v is None:
            v = self._venues[venue] = len(self._venues)
        return v

    def _apply_limits(self, index: int) -> None:
        inst, lim = self._instruments[index], self._limits[index]
        min_size = inst.min_size if lim.min_size is None else lim.min_size
        max_size = inst.max_size if lim.max_size is None else lim.max_size
        min_notional = lim.min_notional
        if min_notional is None:  # the instrument's own minimum, at notional_decimals, rounded up
            min_notional = fixed.rescale(
                inst.min_notional, inst.price_decimals, self.notional_decimals, "up"
            )
        self._core.set_instrument(
            index,
            price_decimals=inst.price_decimals,
            size_decimals=inst.size_decimals,
            venue=self._venue_index(inst.venue),
            tick=inst.tick,
            lot=inst.lot,
            min_size=min_size,
            max_size=max_size,
            min_notional=min_notional,
            max_notional=lim.max_notional,
            max_position=lim.max_position,
            band_ticks=lim.band_ticks,
            band_bps=lim.band_bps,
            max_open_orders=lim.max_open_orders,
            self_trade_prevention=lim.self_trade_prevention,
        )

    def index(self, instrument: Instrument) -> int:
        """The index of a registered instrument (``KeyError`` if it is not)."""
        return self._index[(instrument.venue, instrument.symbol)]

    def limits(self, instrument: Instrument) -> InstrumentLimits:
        """The current limits of an instrument."""
        return self._limits[self.index(instrument)]

    def set_limits(self, instrument: Instrument, **changes: Any) -> InstrumentLimits:
        """Change some limits of an instrument at run time (names of :class:`InstrumentLimits`)."""
        index = self.index(instrument)
        valid = {f.name for f in fields(InstrumentLimits)}
        bad = set(changes) - valid
        if bad:
            raise TypeError(f"unknown limits {sorted(bad)}; use {sorted(valid)}")
        old = self._limits[index]
        self._limits[index] = replace(old, **changes)
        try:
            self._apply_limits(index)
        except (ValueError, OverflowError, TypeError):
            self._limits[index] = old
            self._apply_limits(index)
            raise
        return self._limits[index]

    @property
    def global_limits(self) -> RiskLimits:
        """The current book-wide limits."""
        return self._global

    def set_global_limits(self, limits: RiskLimits | None = None, **changes: Any) -> RiskLimits:
        """Replace the book-wide limits, or change some of them by name, at run time."""
        new = replace(limits or self._global, **changes)
        self._core.set_global(
            max_gross=new.max_gross_exposure,
            max_net=new.max_net_exposure,
            max_open_orders=new.max_open_orders,
            max_daily_loss=new.max_daily_loss,
            max_errors=new.max_errors,
            error_window_ns=new.error_window_ns,
            error_cooldown_ns=new.error_cooldown_ns,
        )
        self._global = new
        return new

    def set_rate_limit(self, venue: str, limit: VenueRateLimit, now_ns: int = 0) -> None:
        """Token buckets for a venue's orders and cancels (weights as the venue counts them)."""
        self._core.set_venue(
            self._venue_index(venue),
            order_rate=limit.order_rate,
            order_burst=limit.order_burst,
            order_weight=limit.order_weight,
            cancel_rate=limit.cancel_rate,
            cancel_burst=limit.cancel_burst,
            cancel_weight=limit.cancel_weight,
            now_ns=now_ns,
        )

    # -- checks --------------------------------------------------------------------------------
    def check_order(
        self,
        instrument: Instrument,
        side: Side | int,
        price: int,
        qty: int,
        order_type: OrderType | int = OrderType.LIMIT,
        now_ns: int = 0,
    ) -> Reason:
        """Like :attr:`check` but by instrument and returning a :class:`Reason`."""
        index = self._index.get((instrument.venue, instrument.symbol), -1)
        return Reason(self._core.check(index, int(side), price, qty, int(order_type), now_ns))

    def check_code(
        self, instrument: Instrument, side: int, price: int, qty: int, order_type: int = 0
    ) -> int:
        """:meth:`check_order` returning the bare code (0 passes) - no enum on the fast path."""
        index = self._index.get((instrument.venue, instrument.symbol), -1)
        return self._core.check(index, side, price, qty, order_type)

    def require(
        self,
        instrument: Instrument,
        side: Side | int,
        price: int,
        qty: int,
        order_type: OrderType | int = OrderType.LIMIT,
        now_ns: int = 0,
    ) -> None:
        """Raise :class:`RiskRejected` unless the order passes."""
        reason = self.check_order(instrument, side, price, qty, order_type, now_ns)
        if reason:
            raise RiskRejected(
                reason,
                f"{instrument.symbol} {Side(side).name} {instrument.format_qty(qty)} @ "
                f"{instrument.format_price(price)}",
            )

    def check_cancel_venue(self, venue: str, now_ns: int = 0) -> Reason:
        """Rate-limit check of one cancel request to ``venue``."""
        return Reason(self._core.check_cancel(self._venue_index(venue), now_ns))

    def check_batch(
        self,
        index: npt.NDArray[np.int32],
        side: npt.NDArray[np.uint8],
        price: npt.NDArray[np.int64],
        qty: npt.NDArray[np.int64],
        order_type: npt.NDArray[np.uint8] | None = None,
        now_ns: int = 0,
    ) -> npt.NDArray[np.uint8]:
        """Check arrays of orders in C without the GIL; returns one reason code per order.

        Orders are checked in sequence as if every order that passed had been sent, so a
        batch cannot exceed a limit that single orders respect.  Nothing stays reserved.
        """
        n = len(index)
        if order_type is None:
            order_type = np.zeros(n, np.uint8)
        out = np.empty(n, np.uint8)
        self._core.check_batch(
            np.ascontiguousarray(index, np.int32),
            np.ascontiguousarray(side, np.uint8),
            np.ascontiguousarray(price, np.int64),
            np.ascontiguousarray(qty, np.int64),
            np.ascontiguousarray(order_type, np.uint8),
            out,
            now_ns,
        )
        return out

    # -- state fed by the order manager, portfolio and market data ------------------------------
    def on_order_open(
        self, order_id: str, instrument: Instrument, side: Side | int, price: int, qty: int
    ) -> None:
        """An order was sent: count its whole remaining size as worst-case exposure."""
        if order_id in self._open:
            return
        index = self._index[(instrument.venue, instrument.symbol)]
        sd = 0 if side == 0 else 1
        o = [index, sd, price, qty]
        self._open[order_id] = o
        opens = self._open_by_index.get(index)
        if opens is None:
            opens = self._open_by_index[index] = {}
            self._best[index] = [None, None]
        opens[order_id] = o
        best = self._best[index]
        b = best[sd]
        if b is None or (price > b if sd == 0 else price < b):
            best[sd] = price
        self._core.order_open(index, sd, price, qty)

    def on_order_fill(
        self, order_id: str, instrument: Instrument, side: Side | int, qty: int
    ) -> None:
        """An order traded ``qty``: the position moves, the open exposure shrinks.

        The position moves even when the order is no longer counted as open (a late fill after
        a cancel is real).
        """
        o = self._open.get(order_id)
        if o is not None:
            index, rem = o[_I], o[_R]
            new = rem - qty if qty < rem else 0
            self._core.order_reduce(index, o[_S], o[_P], rem, new, new == 0)
            o[_R] = new
            if new == 0:
                del self._open[order_id]
                del self._open_by_index[index][order_id]
                if self._best[index][o[_S]] == o[_P]:  # only then can the best move
                    self._refresh_best(index)
        else:
            index = self.index(instrument)
        self._core.add_position(index, qty if side == 0 else -qty)

    def on_order_replaced(self, order_id: str, price: int, remaining: int) -> None:
        """An open order now rests at ``price`` with ``remaining`` size."""
        o = self._open.get(order_id)
        if o is None:
            return
        # release the old price and size, then reserve the new ones (the order count is unchanged)
        self._core.order_reduce(o[_I], o[_S], o[_P], o[_R], 0, True)
        o[_P], o[_R] = price, remaining
        self._core.order_open(o[_I], o[_S], price, remaining)
        self._refresh_best(o[_I])

    def on_order_closed(self, order_id: str) -> None:
        """An order is done (filled, canceled, rejected, expired): release what it reserved."""
        o = self._open.pop(order_id, None)
        if o is None:
            return
        self._core.order_reduce(o[_I], o[_S], o[_P], o[_R], 0, True)
        self._forget(order_id, o)

    def _forget(self, order_id: str, o: list[int]) -> None:
        opens = self._open_by_index[o[_I]]
        del opens[order_id]
        if self._best[o[_I]][o[_S]] == o[_P]:  # only then can the best move
            self._refresh_best(o[_I])

    def _refresh_best(self, index: int) -> None:
        bid: int | None = None
        ask: int | None = None
        for o in self._open_by_index.get(index, {}).values():
            if o[_S] == 0:
                bid = o[_P] if bid is None or o[_P] > bid else bid
            else:
                ask = o[_P] if ask is None or o[_P] < ask else ask
        self._best[index] = [bid, ask]
        self._core.set_best_own(index, bid, ask)

    def set_position(self, instrument: Instrument, position: int) -> None:
        """Net position of an instrument (raw size, signed)."""
        self._core.set_position(self.index(instrument), position)

    def set_reference(self, instrument: Instrument, price: int) -> None:
        """Reference price (last trade, mid or mark) for price bands and exposure."""
        self._core.set_reference(self.index(instrument), price)

    def set_pnl(self, realized: int, unrealized: int) -> None:
        """Today's PnL at ``notional_decimals`` (for the daily loss limit)."""
        self._core.set_pnl(realized, unrealized)

    def record_error(self, now_ns: int = 0) -> None:
        """Count a venue reject or timeout for the error-rate breaker."""
        self._core.record_error(now_ns)

    def reset_breaker(self) -> None:
        """Close the error-rate breaker."""
        self._core.reset_breaker()

    # -- trading state and kill switch ---------------------------------------------------------
    @property
    def state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        return TradingState(self._core.state)

    def set_state(self, state: TradingState) -> None:
        """Change the trading state (the kill switch stays engaged until :meth:`reset_kill`)."""
        self._core.state = int(TradingState(state))

    @property
    def killed(self) -> bool:
        """Whether the kill switch is engaged."""
        return bool(self._core.killed)

    def kill(self) -> list[str]:
        """Engage the kill switch: halt, and ask for every open order to be canceled.

        Returns the ids passed to ``on_cancel_all`` (every order still counted as open).
        """
        self._core.killed = True
        self._core.state = int(TradingState.HALTED)
        ids = list(self._open)
        if self.on_cancel_all is not None:
            self.on_cancel_all(ids)
        return ids

    def reset_kill(self, state: TradingState = TradingState.ACTIVE) -> None:
        """Disengage the kill switch and set ``state``."""
        self._core.killed = False
        self._core.state = int(state)

    # -- reporting -----------------------------------------------------------------------------
    def counts(self) -> dict[Reason, int]:
        """Number of decisions per reason since the start (or :meth:`reset_counts`)."""
        return {Reason(i): c for i, c in enumerate(self._core.counts())}

    def reset_counts(self) -> None:
        """Zero the per-reason counters."""
        self._core.reset_counts()

    def open_order_ids(self) -> list[str]:
        """Ids of the orders the engine counts as open."""
        return list(self._open)

    def instrument_state(self, instrument: Instrument) -> dict[str, Any]:
        """Position, open exposure and own best prices of one instrument."""
        return dict(self._core.instrument_state(self.index(instrument)))

    def book_state(self) -> dict[str, Any]:
        """Book-wide state: trading state, exposures, open orders, PnL, breaker."""
        return dict(self._core.book_state())

    def notional(self, instrument: Instrument, price: int, qty: int) -> int:
        """``price * qty`` at ``notional_decimals``, rounded up, as the checks count it."""
        return int(self._core.notional(self.index(instrument), price, qty))

    def instruments(self) -> Iterable[Instrument]:
        """The registered instruments, in index order."""
        return iter(self._instruments)

    @staticmethod
    def now_ns() -> int:
        """The clock the checks use when given ``now_ns=0`` (``time.monotonic_ns``)."""
        return time.monotonic_ns()
