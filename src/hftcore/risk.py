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

import operator
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
_REASONS = tuple(Reason)  # code -> Reason without the enum call (a few hundred ns)


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


# the order-event methods the order manager may bypass for the compiled book (_tracking_core)
_TRACKING = ("on_order_open", "on_order_fill", "on_order_replaced", "on_order_closed")


def _as_int(value: object, name: str) -> int:
    """``value`` as an int: ints, IntEnums and numpy integers; never bool or float."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):
        raise TypeError(f"{name} must be an int, not bool")
    if isinstance(value, int):
        return int(value)
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None


def _as_side(side: object) -> int:
    """0 (BUY) or 1 (SELL); ``Side`` or a plain int."""
    v = side if type(side) is int or type(side) is Side else _as_int(side, "side")
    if v != 0 and v != 1:
        raise ValueError(f"side must be Side.BUY (0) or Side.SELL (1), got {side!r}")
    return int(v)


def _as_state(state: object) -> TradingState:
    v = _as_int(state, "state")
    if not 0 <= v <= 2:
        raise ValueError(f"state must be a TradingState (0, 1 or 2), got {state!r}")
    return TradingState(v)


def _key(instrument: object) -> tuple[str, str]:
    try:
        return (instrument.venue, instrument.symbol)  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(
            f"instrument must be an Instrument, not {type(instrument).__name__}"
        ) from None


def _require(value: object, cls: type, name: str) -> None:
    if not isinstance(value, cls):
        article = "an" if cls.__name__[0] in "AEIOU" else "a"
        raise TypeError(f"{name} must be {article} {cls.__name__}, not {type(value).__name__}")


def _batch_ints(values: object, name: str, n: int | None) -> npt.NDArray[Any]:
    """A one-dimensional integer array (bool and float arrays refused)."""
    a = np.asarray(values)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an array of integers, not {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if n is not None and len(a) != n:
        raise ValueError(f"{name} has {len(a)} items, index has {n}")
    return a


def _narrow(a: npt.NDArray[Any], dtype: type[np.integer[Any]], bad: int) -> npt.NDArray[Any]:
    """``a`` as ``dtype`` with every value outside its range replaced by ``bad`` (a code the
    checks refuse), never wrapped: side 256 must not become 0 (BUY)."""
    if a.dtype == dtype:
        return np.ascontiguousarray(a)
    info = np.iinfo(dtype)
    a64 = a.astype(np.int64) if a.dtype != np.uint64 else a
    out = np.where((a64 < info.min) | (a64 > info.max), bad, a64)
    if a.dtype == np.uint64:
        out = np.where(a > np.uint64(info.max), bad, out)
    return np.ascontiguousarray(out.astype(dtype))


def _int64_array(a: npt.NDArray[Any], name: str) -> npt.NDArray[np.int64]:
    if a.dtype == np.uint64 and len(a) and a.max() > np.uint64(2**63 - 1):
        raise OverflowError(f"{name} has values outside the int64 range")
    return np.ascontiguousarray(a, np.int64)


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

    Every method takes ``int`` prices, sizes and times (``IntEnum`` for sides, order types and
    states; numpy integers too): a ``float`` or ``bool`` raises ``TypeError`` naming the
    parameter, and a call that raises changes nothing.

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
        if limits is not None:
            _require(limits, RiskLimits, "limits")
        if on_cancel_all is not None and not callable(on_cancel_all):
            raise TypeError("on_cancel_all must be callable or None")
        self._core = RiskCore(notional_decimals)
        self.notional_decimals = self._core.notional_decimals
        self.check = self._core.check
        self.check_cancel = self._core.check_cancel
        self.on_cancel_all = on_cancel_all
        self._index: dict[tuple[str, str], int] = {}
        self._instruments: list[Instrument] = []
        self._limits: list[InstrumentLimits] = []
        self._venues: dict[str, int] = {}
        # open orders by id (the compiled book keeps them, with their count per price and side
        # and the own best prices of the self-trade check): read here, changed by the core
        self._open = self._core.open_orders
        self._global = RiskLimits()
        self.set_global_limits(limits or RiskLimits())

    # -- configuration -------------------------------------------------------------------------
    def add_instrument(self, instrument: Instrument, limits: InstrumentLimits | None = None) -> int:
        """Register an instrument (or change its limits); returns its index for :meth:`check`.

        Invalid limits raise ``TypeError``/``ValueError`` and register nothing.
        """
        _require(instrument, Instrument, "instrument")
        if limits is not None:
            _require(limits, InstrumentLimits, "limits")
        key = (instrument.venue, instrument.symbol)
        index = self._index.get(key)
        if index is None:
            index = len(self._instruments)
            lim = limits or InstrumentLimits()
            self._push_limits(index, instrument, lim)  # validates before anything is kept
            self._index[key] = index
            self._instruments.append(instrument)
            self._limits.append(lim)
        elif limits is not None:
            self._push_limits(index, self._instruments[index], limits)
            self._limits[index] = limits
        return index

    def _venue_index(self, venue: str) -> int:
        """The index of a venue, or the index it would get (kept by :meth:`_keep_venue`)."""
        if not isinstance(venue, str):
            raise TypeError(f"venue must be a str, not {type(venue).__name__}")
        v = self._venues.get(venue)
        return len(self._venues) if v is None else v

    def _push_limits(self, index: int, inst: Instrument, lim: InstrumentLimits) -> None:
        min_size = inst.min_size if lim.min_size is None else lim.min_size
        max_size = inst.max_size if lim.max_size is None else lim.max_size
        min_notional = lim.min_notional
        if min_notional is None:  # the instrument's own minimum, at notional_decimals, rounded up
            min_notional = fixed.rescale(
                inst.min_notional, inst.price_decimals, self.notional_decimals, "up"
            )
        venue = self._venue_index(inst.venue)
        self._core.set_instrument(
            index,
            price_decimals=inst.price_decimals,
            size_decimals=inst.size_decimals,
            venue=venue,
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
        self._venues.setdefault(inst.venue, venue)

    def index(self, instrument: Instrument) -> int:
        """The index of a registered instrument (``KeyError`` if it is not)."""
        return self._index[_key(instrument)]

    def limits(self, instrument: Instrument) -> InstrumentLimits:
        """The current limits of an instrument."""
        return self._limits[self.index(instrument)]

    def set_limits(self, instrument: Instrument, **changes: Any) -> InstrumentLimits:
        """Change some limits of an instrument at run time (names of :class:`InstrumentLimits`).

        An invalid change raises and leaves every limit as it was.
        """
        index = self.index(instrument)
        valid = {f.name for f in fields(InstrumentLimits)}
        bad = set(changes) - valid
        if bad:
            raise TypeError(f"unknown limits {sorted(bad)}; use {sorted(valid)}")
        new = replace(self._limits[index], **changes)
        self._push_limits(index, self._instruments[index], new)  # validates first
        self._limits[index] = new
        return new

    @property
    def global_limits(self) -> RiskLimits:
        """The current book-wide limits."""
        return self._global

    def set_global_limits(self, limits: RiskLimits | None = None, **changes: Any) -> RiskLimits:
        """Replace the book-wide limits, or change some of them by name, at run time."""
        if limits is not None:
            _require(limits, RiskLimits, "limits")
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
        _require(limit, VenueRateLimit, "limit")
        index = self._venue_index(venue)
        self._core.set_venue(
            index,
            order_rate=limit.order_rate,
            order_burst=limit.order_burst,
            order_weight=limit.order_weight,
            cancel_rate=limit.cancel_rate,
            cancel_burst=limit.cancel_burst,
            cancel_weight=limit.cancel_weight,
            now_ns=now_ns,
        )
        self._venues.setdefault(venue, index)

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
        try:
            index = self._index.get((instrument.venue, instrument.symbol), -1)
        except AttributeError:
            _key(instrument)  # raises the TypeError naming the parameter
            raise
        return _REASONS[self._core.check(index, side, price, qty, order_type, now_ns)]

    def check_code(
        self, instrument: Instrument, side: int, price: int, qty: int, order_type: int = 0
    ) -> int:
        """:meth:`check_order` returning the bare code (0 passes) - no enum on the fast path."""
        try:
            index = self._index.get((instrument.venue, instrument.symbol), -1)
        except AttributeError:
            _key(instrument)  # raises the TypeError naming the parameter
            raise
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
            side_name = Side(side).name if reason != Reason.BAD_SIDE else repr(side)
            raise RiskRejected(
                reason,
                f"{instrument.symbol} {side_name} {qty} @ {price} (raw)"
                if reason in (Reason.BAD_SIDE, Reason.UNKNOWN_INSTRUMENT)
                else f"{instrument.symbol} {side_name} {instrument.format_qty(qty)} @ "
                f"{instrument.format_price(price)}",
            )

    def check_cancel_venue(self, venue: str, now_ns: int = 0) -> Reason:
        """Rate-limit check of one cancel request to ``venue``."""
        if not isinstance(venue, str):
            raise TypeError(f"venue must be a str, not {type(venue).__name__}")
        return _REASONS[self._core.check_cancel(self._venues.get(venue, -1), now_ns)]

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
        Arrays of any integer type are accepted (float and bool arrays raise ``TypeError``);
        an index, side or order type outside its range is refused per order with
        ``UNKNOWN_INSTRUMENT``, ``BAD_SIDE`` or ``BAD_ORDER_TYPE``, as by the single check.
        """
        idx = _batch_ints(index, "index", None)
        n = len(idx)
        sides = _batch_ints(side, "side", n)
        prices = _int64_array(_batch_ints(price, "price", n), "price")
        qtys = _int64_array(_batch_ints(qty, "qty", n), "qty")
        types = (np.zeros(n, np.uint8) if order_type is None
                 else _narrow(_batch_ints(order_type, "order_type", n), np.uint8, 255))
        out = np.empty(n, np.uint8)
        self._core.check_batch(
            _narrow(idx, np.int32, -1), _narrow(sides, np.uint8, 255), prices, qtys, types, out,
            now_ns,
        )
        return out

    # -- state fed by the order manager, portfolio and market data ------------------------------
    def on_order_open(
        self, order_id: str, instrument: Instrument, side: Side | int, price: int, qty: int
    ) -> None:
        """An order was sent: count its whole remaining size as worst-case exposure.

        ``price`` and ``qty`` must not be negative; an id already counted open is ignored.
        """
        if type(order_id) is not str and not isinstance(order_id, str):
            raise TypeError(f"order_id must be a str, not {type(order_id).__name__}")
        if order_id in self._open:
            return
        try:
            index = self._index[(instrument.venue, instrument.symbol)]
        except AttributeError:
            _key(instrument)  # raises the TypeError naming the parameter
            raise
        # validates all four, then counts the order, its price level and the own best price
        self._core.track_open(order_id, index, side, price, qty)

    def on_order_fill(
        self, order_id: str, instrument: Instrument, side: Side | int, qty: int
    ) -> None:
        """An order traded ``qty``: the position moves, the open exposure shrinks.

        The position moves even when the order is no longer counted as open (a late fill after
        a cancel is real).  ``qty`` must be positive and ``side`` the order's own; a refused
        fill changes nothing.
        """
        o = self._open.get(order_id)
        if o is None:
            self._core.order_fill(self.index(instrument), side, 0, 0, qty, False)
            return
        index, sd = o.index, o.side
        if (side != sd or (type(side) is not Side and type(side) is not int)) and (
                _as_side(side) != sd):
            raise ValueError(f"fill side {side!r} is not the side of order {order_id}")
        known = self._instruments[index]
        if instrument is not known and _key(instrument) != (known.venue, known.symbol):
            raise ValueError(f"order {order_id} is on {known.symbol}, not {instrument.symbol}")
        self._core.track_fill(order_id, index, sd, qty)  # all or nothing

    def on_order_replaced(self, order_id: str, price: int, remaining: int) -> None:
        """An open order now rests at ``price`` with ``remaining`` size."""
        if order_id not in self._open:
            return
        px, left = _as_int(price, "price"), _as_int(remaining, "remaining")
        if px < 0 or left < 0:
            raise ValueError(f"price and remaining must be >= 0, got {px} and {left}")
        # release the old price and size, reserve the new ones (the order count is unchanged)
        self._core.track_replaced(order_id, px, left)

    def on_order_closed(self, order_id: str) -> None:
        """An order is done (filled, canceled, rejected, expired): release what it reserved."""
        self._core.track_closed(order_id)

    def _tracking_core(self) -> RiskCore | None:
        """The compiled book the order manager may report to directly (one C call per order
        event), or None when a subclass or the instance overrides an ``on_order_*`` method
        (then the manager calls the methods)."""
        cls = type(self)
        for name in _TRACKING:
            if getattr(cls, name) is not getattr(RiskEngine, name) or name in self.__dict__:
                return None
        return self._core

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
        self._core.state = int(_as_state(state))

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
        new = int(_as_state(state))  # validated before anything changes
        self._core.killed = False
        self._core.state = new

    # -- reporting -----------------------------------------------------------------------------
    def counts(self) -> dict[Reason, int]:
        """Number of decisions per reason since the start (or :meth:`reset_counts`)."""
        return dict(zip(_REASONS, self._core.counts(), strict=True))

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
        """Book-wide state: trading state, exposures, open orders, PnL, breaker.

        Exposures are exact ints (they may exceed int64); ``unbounded_exposures`` counts open
        orders and positions whose notional does not fit in int64 - while there are any, the
        gross and net limits refuse every order that does not reduce a position.
        """
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
