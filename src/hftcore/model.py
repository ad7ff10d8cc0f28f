"""Domain model shared by every layer: sides, order enums and the ``Instrument``.

Prices and sizes are ``int`` counts at the instrument's ``price_decimals`` / ``size_decimals``:
BTCUSDT 50000.10 at 2 price decimals is ``5000010``.  ``Instrument`` converts at the edges.

The enums take their codes from the compiled trading core (``hftcore._ext.orders``), the one
place they are defined; they print as ``Side.BUY``, not as their number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum
from typing import NamedTuple

from hftcore._ext import fixed as _fx
from hftcore._ext import orders as _codes
from hftcore._ext.orders import Order

__all__ = [
    "Fill",
    "Instrument",
    "Liquidity",
    "Order",
    "OrderStatus",
    "OrderType",
    "Side",
    "TimeInForce",
]


class _ReadableEnum(IntEnum):
    """An IntEnum that prints as ``Side.BUY`` (``str``, ``print``, f-strings), not as ``0``."""

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else int.__format__(self, spec)


class Side(_ReadableEnum):
    """Order side; books use the same codes for their sides (bid == BUY == 0, ask == SELL == 1)."""

    BUY = _codes.SIDE_CODES["BUY"]
    SELL = _codes.SIDE_CODES["SELL"]

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL (the sign of the position change)."""
        return 1 if self is Side.BUY else -1


_OT = _codes.ORDER_TYPE_CODES
_TIF = _codes.TIME_IN_FORCE_CODES
_ST = _codes.STATUS_CODES


class OrderType(_ReadableEnum):
    """Order types understood by the risk engine, order manager and simulator."""

    LIMIT = _OT["LIMIT"]
    MARKET = _OT["MARKET"]
    STOP_MARKET = _OT["STOP_MARKET"]
    STOP_LIMIT = _OT["STOP_LIMIT"]
    LIMIT_MAKER = _OT["LIMIT_MAKER"]  # post-only limit


class TimeInForce(_ReadableEnum):
    """How long an order rests."""

    GTC = _TIF["GTC"]  # good till canceled
    IOC = _TIF["IOC"]  # immediate or cancel
    FOK = _TIF["FOK"]  # fill or kill
    GTX = _TIF["GTX"]  # post only: rejected/canceled if it would take
    DAY = _TIF["DAY"]


class OrderStatus(_ReadableEnum):
    """Order life cycle; see ``hftcore.orders`` for the legal transitions."""

    NEW = _ST["NEW"]  # created locally, not sent
    PENDING_NEW = _ST["PENDING_NEW"]  # sent, no answer yet
    ACCEPTED = _ST["ACCEPTED"]  # acknowledged by the venue, resting
    PARTIALLY_FILLED = _ST["PARTIALLY_FILLED"]
    FILLED = _ST["FILLED"]
    PENDING_CANCEL = _ST["PENDING_CANCEL"]
    PENDING_REPLACE = _ST["PENDING_REPLACE"]
    CANCELED = _ST["CANCELED"]
    REJECTED = _ST["REJECTED"]
    EXPIRED = _ST["EXPIRED"]
    UNKNOWN = _ST["UNKNOWN"]  # no answer in time: to be reconciled against the venue

    @property
    def is_terminal(self) -> bool:
        """True for FILLED, CANCELED, REJECTED and EXPIRED."""
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """True while the order may still trade."""
        return self not in _TERMINAL and self is not OrderStatus.NEW


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

Number = int | str | bytes | Decimal


def _to_raw(x: object, decimals: int, rounding: str | None, what: str) -> int:
    """Human value (str, bytes, int, Decimal; float only with rounding) -> raw count."""
    if isinstance(x, bool):
        raise TypeError(f"{what}: bool is not a number")
    if isinstance(x, str | bytes | bytearray):
        return _fx.parse(x, decimals, rounding)
    if isinstance(x, int):
        return _fx.rescale(x, 0, decimals) if decimals else _fx.add(x, 0)
    if isinstance(x, Decimal):
        if not x.is_finite():
            raise ValueError(f"{what}: {x} is not a finite number")
        return _fx.parse(format(x, "f"), decimals, rounding)
    if isinstance(x, float):
        if rounding is None:
            raise TypeError(
                f"{what}: float {x!r} is inexact; pass a str or Decimal, or an explicit rounding="
            )
        d = Decimal(x)  # the float's exact binary value
        if not d.is_finite():
            raise ValueError(f"{what}: {x} is not a finite number")
        return _fx.parse(format(d, "f"), decimals, rounding)
    raise TypeError(f"{what}: cannot convert {type(x).__name__}")


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument and its number formats.

    ``tick``, ``lot``, ``min_size``, ``max_size`` and ``min_notional`` are raw counts (``tick=1``
    means one unit of the last price decimal); give them as text (``tick="0.05"``) to have them
    parsed.  ``min_notional`` is in quote currency at ``price_decimals``.

    Examples
    --------
    >>> btc = Instrument("binance", "BTCUSDT", 2, 5, base="BTC", quote="USDT")
    >>> btc.price("50000.10")
    5000010
    >>> btc.format_price(5000010)
    '50000.10'
    """

    venue: str
    symbol: str
    price_decimals: int
    size_decimals: int
    tick: int = 1
    lot: int = 1
    base: str = ""
    quote: str = ""
    min_size: int = 0
    max_size: int | None = None
    min_notional: int = 0
    instrument_id: int = 0
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("price_decimals", "size_decimals"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 18:
                raise ValueError(f"{name} must be an int in 0..18, got {v!r}")
        conv = {
            "tick": self.price_decimals,
            "lot": self.size_decimals,
            "min_size": self.size_decimals,
            "max_size": self.size_decimals,
            "min_notional": self.price_decimals,
        }
        for name, dec in conv.items():
            v = getattr(self, name)
            if isinstance(v, str | Decimal):
                object.__setattr__(self, name, _to_raw(v, dec, None, f"{self.symbol} {name}"))
            elif v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                raise TypeError(f"{name} must be a raw int or decimal text, got {v!r}")
        if self.tick <= 0 or self.lot <= 0:
            raise ValueError(f"tick and lot must be positive, got {self.tick}, {self.lot}")
        if self.min_size < 0 or (self.max_size is not None and self.max_size < self.min_size):
            raise ValueError(f"bad size limits: min {self.min_size}, max {self.max_size}")

    # -- conversions -------------------------------------------------------------------------
    def price(self, x: object, rounding: str | None = None) -> int:
        """Raw price from text, int, Decimal (exact) or float (only with ``rounding``)."""
        return _to_raw(x, self.price_decimals, rounding, f"{self.symbol} price")

    def qty(self, x: object, rounding: str | None = None) -> int:
        """Raw size from text, int, Decimal (exact) or float (only with ``rounding``)."""
        return _to_raw(x, self.size_decimals, rounding, f"{self.symbol} qty")

    def format_price(self, raw: int, trim: bool = False) -> str:
        """Text of a raw price at ``price_decimals`` (``trim`` drops trailing zeros)."""
        return _fx.format(raw, self.price_decimals, trim)

    def format_qty(self, raw: int, trim: bool = False) -> str:
        """Text of a raw size at ``size_decimals``."""
        return _fx.format(raw, self.size_decimals, trim)

    def to_decimal(self, raw: int, is_size: bool = False) -> Decimal:
        """Exact ``Decimal`` of a raw price (or size with ``is_size=True``)."""
        dec = self.size_decimals if is_size else self.price_decimals
        return Decimal(raw).scaleb(-dec)

    def to_float(self, raw: int, is_size: bool = False) -> float:
        """Nearest float of a raw price or size, for display and plotting only."""
        return float(self.to_decimal(raw, is_size))

    def notional(self, price: int, qty: int, rounding: str | None = "half_even") -> int:
        """``price * qty`` in quote currency at ``price_decimals`` (128-bit intermediate)."""
        return _fx.mul(
            price, self.price_decimals, qty, self.size_decimals, self.price_decimals, rounding
        )

    # -- conformity --------------------------------------------------------------------------
    def is_tick_aligned(self, price: int) -> bool:
        """Whether a raw price is a whole number of ticks."""
        return price % self.tick == 0

    def is_lot_aligned(self, qty: int) -> bool:
        """Whether a raw size is a whole number of lots."""
        return qty % self.lot == 0

    def round_price(self, price: int, rounding: str = "half_even") -> int:
        """A raw price moved to the tick grid (``"down"``, ``"up"``, ``"half_even"`` ...)."""
        ticks = _fx.div(price, 0, self.tick, 0, 0, rounding)
        return ticks * self.tick

    def round_qty(self, qty: int, rounding: str = "down") -> int:
        """A raw size moved to the lot grid (default: down, never more than asked)."""
        lots = _fx.div(qty, 0, self.lot, 0, 0, rounding)
        return lots * self.lot

    def check_price(self, price: int) -> None:
        """Raise ``ValueError`` unless the raw price is positive and on the tick grid."""
        if price <= 0:
            raise ValueError(f"{self.symbol}: price {self.format_price(price)} is not positive")
        if price % self.tick:
            raise ValueError(
                f"{self.symbol}: price {self.format_price(price)} is not a multiple of the tick "
                f"{self.format_price(self.tick)}"
            )

    def check_qty(self, qty: int) -> None:
        """Raise ``ValueError`` unless the raw size is within limits and on the lot grid."""
        if qty <= 0:
            raise ValueError(f"{self.symbol}: size {self.format_qty(qty)} is not positive")
        if qty % self.lot:
            raise ValueError(
                f"{self.symbol}: size {self.format_qty(qty)} is not a multiple of the lot "
                f"{self.format_qty(self.lot)}"
            )
        if qty < self.min_size:
            raise ValueError(
                f"{self.symbol}: size {self.format_qty(qty)} is below the minimum "
                f"{self.format_qty(self.min_size)}"
            )
        if self.max_size is not None and qty > self.max_size:
            raise ValueError(
                f"{self.symbol}: size {self.format_qty(qty)} is above the maximum "
                f"{self.format_qty(self.max_size)}"
            )


# -- orders and fills (used by hftcore.orders and hftcore.portfolio) ------------------------------


class Liquidity(_ReadableEnum):
    """Whether a fill added liquidity (maker) or took it (taker); decides the fee rate."""

    MAKER = _codes.LIQUIDITY_CODES["MAKER"]
    TAKER = _codes.LIQUIDITY_CODES["TAKER"]


class Fill(NamedTuple):
    """One execution of an order, as the venue reported it (immutable).

    ``qty`` is raw at the instrument's ``size_decimals``, ``price`` raw at ``price_decimals``.
    ``fee`` is raw quote currency at ``price_decimals + size_decimals`` (the "value decimals" of
    :mod:`hftcore.portfolio`); ``None`` lets the portfolio compute it from its fee rates.
    ``trade_id`` is the venue's execution id: fills are de-duplicated on it.
    """

    client_order_id: str
    trade_id: str
    side: Side
    qty: int
    price: int
    liquidity: Liquidity = Liquidity.TAKER
    fee: int | None = None
    ts: int = 0


# ``Order`` (imported above) is the compiled view of one order of an OrderManager: see
# hftcore._ext.orders.  The core gets the Python faces of its codes here.
_codes.bind_model(Side, OrderType, TimeInForce, OrderStatus, Liquidity, Fill, Instrument)
