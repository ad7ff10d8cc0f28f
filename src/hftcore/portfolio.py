"""Positions and exact PnL per instrument (average-cost method), with fees and turnover.

Every figure is an ``int``; its unit is stated where it is defined:

* sizes (``net``, ``bought``, ``sold``) are raw at the instrument's ``size_decimals``;
* prices (``avg_price``, ``mark``) are raw at ``price_decimals``;
* money (``cost``, ``realized_pnl``, ``unrealized_pnl``, ``fees``, ``turnover``) is raw quote
  currency at the instrument's **value decimals** ``price_decimals + size_decimals`` - the
  decimals of ``price * qty`` - so a fill's value is exact and never rounded.

Two roundings exist, both explicit: the cost basis taken off a position by a *partial* close
(``cost * closed / |net|``, half-even at value decimals; a full close takes the whole basis, so a
round trip flat-to-flat realizes exactly the cash that changed hands), and fees computed from a
rate (rounded up, as venues charge them).  ``realized + unrealized`` always equals the cash flow
of the fills plus ``net * mark`` exactly.  Fees are in quote currency.  Figures are Python ints,
so they never overflow; the divisions go through :mod:`hftcore.fixed` (128-bit) when they fit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from hftcore import fixed
from hftcore.model import Fill, Instrument, Liquidity, Side

__all__ = ["FeeSchedule", "Portfolio", "Position", "Totals", "value_decimals"]

_BUY = Side.BUY  # enum members bound once: OrderStatus.X-style lookups cost ~100 ns on 3.11
_MAKER = Liquidity.MAKER

#: Decimals of fee rates: "0.0002" (2 bps) is 20000.
RATE_DECIMALS = 8


def value_decimals(instrument: Instrument) -> int:
    """Decimals of money figures for an instrument: ``price_decimals + size_decimals``."""
    return instrument.price_decimals + instrument.size_decimals


def _div_round(n: int, d: int, rounding: str) -> int:
    """``n / d`` (``d > 0``) rounded with ``rounding``: via fixed.div when it fits in int64."""
    try:
        return fixed.div(n, 0, d, 0, 0, rounding)
    except OverflowError:
        pass
    q, r = divmod(n, d)  # floor
    if r == 0:
        return q
    twice = 2 * r
    if rounding in ("down", "floor"):
        return q
    if rounding in ("up", "ceiling"):
        return q + 1
    if rounding == "half_even":
        return q + 1 if twice > d or (twice == d and q % 2) else q
    raise ValueError(f"unsupported rounding {rounding!r}")


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Maker and taker fee rates as raw ints at ``RATE_DECIMALS`` (8): 2 bps is ``20_000``.

    A negative maker rate is a rebate.  Use :meth:`from_text` for ``"0.0002"`` forms.
    """

    maker: int = 0
    taker: int = 0

    @classmethod
    def from_text(cls, maker: str, taker: str) -> FeeSchedule:
        """Rates as decimal text (fractions of the notional): ``from_text("0.0001", "0.0004")``."""
        return cls(fixed.parse(maker, RATE_DECIMALS), fixed.parse(taker, RATE_DECIMALS))

    def fee(self, value: int, liquidity: Liquidity) -> int:
        """Fee on a fill of ``value`` (value decimals), rounded up; same decimals."""
        rate = self.maker if liquidity == _MAKER else self.taker
        if rate == 0:
            return 0
        try:
            return fixed.mul(value, 0, rate, RATE_DECIMALS, 0, "up")
        except OverflowError:
            return _div_round(value * rate, 10**RATE_DECIMALS, "up")


class Position:
    """Net position and PnL of one instrument.  Units: see :mod:`hftcore.portfolio`.

    Attributes
    ----------
    net : int
        Signed net position, raw size.
    cost : int
        Signed cost basis of the open position (positive long, negative short), value decimals.
    realized_pnl, fees, turnover : int
        Value decimals.  ``realized_pnl`` is before fees.
    bought, sold : int
        Total size bought and sold, raw size.
    mark : int or None
        Last mark price (raw price) for :attr:`unrealized_pnl`.
    """

    __slots__ = (
        "bought",
        "cost",
        "fees",
        "fills",
        "instrument",
        "mark",
        "net",
        "realized_pnl",
        "sold",
        "turnover",
    )

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.net = 0
        self.cost = 0
        self.realized_pnl = 0
        self.fees = 0
        self.turnover = 0
        self.bought = 0
        self.sold = 0
        self.fills = 0
        self.mark: int | None = None

    @property
    def value_decimals(self) -> int:
        """Decimals of the money figures: ``price_decimals + size_decimals``."""
        return self.instrument.price_decimals + self.instrument.size_decimals

    @property
    def avg_price(self) -> int | None:
        """Average entry price of the open position, raw price, rounded half-even; None if flat."""
        if self.net == 0:
            return None
        return _div_round(abs(self.cost), abs(self.net), "half_even")

    @property
    def unrealized_pnl(self) -> int:
        """``net * mark - cost`` in value decimals (0 without a mark)."""
        if self.mark is None or self.net == 0:
            return 0
        return self.net * self.mark - self.cost

    @property
    def total_pnl(self) -> int:
        """Realized + unrealized - fees, value decimals."""
        return self.realized_pnl + self.unrealized_pnl - self.fees

    def apply(self, side: Side, qty: int, price: int, fee: int) -> None:
        """Book one execution (raw size, raw price, fee at value decimals)."""
        value = price * qty
        self.turnover += value
        self.fees += fee
        self.fills += 1
        net = self.net
        if side == _BUY:
            self.bought += qty
            if net >= 0:  # opening or adding long
                self.net = net + qty
                self.cost += value
                return
            closing = qty if qty < -net else -net
            removed = self.cost if closing == -net else _div_round(
                self.cost * closing, -net, "half_even"
            )
            self.realized_pnl += -removed - price * closing  # removed <= 0 for a short
            self.cost -= removed
            self.net = net + closing
            rest = qty - closing
            if rest:
                self.net += rest
                self.cost += price * rest
        else:
            self.sold += qty
            if net <= 0:  # opening or adding short
                self.net = net - qty
                self.cost -= value
                return
            closing = qty if qty < net else net
            removed = self.cost if closing == net else _div_round(
                self.cost * closing, net, "half_even"
            )
            self.realized_pnl += price * closing - removed
            self.cost -= removed
            self.net = net - closing
            rest = qty - closing
            if rest:
                self.net -= rest
                self.cost -= price * rest

    def snapshot(self) -> dict[str, int | None]:
        """All figures as a dict (for reports and comparisons)."""
        return {
            "net": self.net,
            "cost": self.cost,
            "avg_price": self.avg_price,
            "realized_pnl": self.realized_pnl,
            "unrealized_pnl": self.unrealized_pnl,
            "fees": self.fees,
            "turnover": self.turnover,
            "bought": self.bought,
            "sold": self.sold,
            "fills": self.fills,
            "mark": self.mark,
        }

    def __repr__(self) -> str:
        i = self.instrument
        return (
            f"Position({i.symbol} net={i.format_qty(self.net)} realized={self.realized_pnl}"
            f"e-{self.value_decimals} fees={self.fees}e-{self.value_decimals})"
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over the instruments of one quote currency, raw at ``decimals``."""

    quote: str
    decimals: int
    realized_pnl: int
    unrealized_pnl: int
    fees: int
    turnover: int

    @property
    def total_pnl(self) -> int:
        """Realized + unrealized - fees."""
        return self.realized_pnl + self.unrealized_pnl - self.fees


def _rescale(v: int, from_dec: int, to_dec: int) -> int:
    if to_dec >= from_dec:
        return int(v * 10 ** (to_dec - from_dec))
    return _div_round(v, 10 ** (from_dec - to_dec), "half_even")


class Portfolio:
    """Positions per instrument, fed by fills.

    Parameters
    ----------
    fees : FeeSchedule, optional
        Default maker/taker rates for fills that do not carry their fee.

    Examples
    --------
    >>> from hftcore import Instrument, Side
    >>> btc = Instrument("binance", "BTCUSDT", 2, 5, quote="USDT")
    >>> pf = Portfolio()
    >>> _ = pf.apply(btc, Side.BUY, btc.qty("0.5"), btc.price("50000"))
    >>> pos = pf.apply(btc, Side.SELL, btc.qty("0.5"), btc.price("50100"))
    >>> pos.realized_pnl, pos.value_decimals   # 50.00000 USDT at 7 decimals
    (500000000, 7)
    """

    def __init__(self, fees: FeeSchedule | None = None) -> None:
        self.default_fees = fees or FeeSchedule()
        self._fees: dict[tuple[str, str], FeeSchedule] = {}
        self._positions: dict[tuple[str, str], Position] = {}
        self._last: tuple[Instrument | None, Position | None, FeeSchedule] = (
            None, None, self.default_fees
        )

    def set_fees(self, instrument: Instrument, fees: FeeSchedule) -> None:
        """Fee rates for one instrument."""
        self._fees[(instrument.venue, instrument.symbol)] = fees
        self._last = (None, None, self.default_fees)

    def position(self, instrument: Instrument) -> Position:
        """The position of an instrument (created flat on first use)."""
        key = (instrument.venue, instrument.symbol)
        pos = self._positions.get(key)
        if pos is None:
            pos = self._positions[key] = Position(instrument)
        return pos

    def __iter__(self) -> Iterator[Position]:
        return iter(self._positions.values())

    def __len__(self) -> int:
        return len(self._positions)

    def apply(
        self,
        instrument: Instrument,
        side: Side,
        qty: int,
        price: int,
        fee: int | None = None,
        liquidity: Liquidity = Liquidity.TAKER,
    ) -> Position:
        """Book one execution; ``fee`` (value decimals) defaults to the fee schedule's."""
        last_inst, pos, sched = self._last
        if instrument is not last_inst or pos is None:
            key = (instrument.venue, instrument.symbol)
            pos = self._positions.get(key)
            if pos is None:
                pos = self._positions[key] = Position(instrument)
            sched = self._fees.get(key, self.default_fees)
            self._last = (instrument, pos, sched)
        if fee is None:
            fee = sched.fee(price * qty, liquidity) if sched.maker or sched.taker else 0
        pos.apply(side, qty, price, fee)
        return pos

    def on_fill(self, instrument: Instrument, fill: Fill) -> Position:
        """Book a :class:`~hftcore.model.Fill`."""
        return self.apply(instrument, fill.side, fill.qty, fill.price, fill.fee, fill.liquidity)

    def mark(self, instrument: Instrument, price: int) -> None:
        """Set the mark price (raw) of an instrument for unrealized PnL."""
        self.position(instrument).mark = price

    def totals(self, decimals: int = 8) -> dict[str, Totals]:
        """Sums per quote currency, each figure rescaled to ``decimals`` (half-even)."""
        acc: dict[str, list[int]] = {}
        for pos in self._positions.values():
            vd = pos.value_decimals
            a = acc.setdefault(pos.instrument.quote, [0, 0, 0, 0])
            a[0] += _rescale(pos.realized_pnl, vd, decimals)
            a[1] += _rescale(pos.unrealized_pnl, vd, decimals)
            a[2] += _rescale(pos.fees, vd, decimals)
            a[3] += _rescale(pos.turnover, vd, decimals)
        return {q: Totals(q, decimals, *a) for q, a in acc.items()}

    def pnl(self, decimals: int = 8) -> tuple[int, int]:
        """(realized - fees, unrealized) over every instrument at ``decimals``, quotes at par.

        The pair :meth:`hftcore.risk.RiskEngine.set_pnl` takes for the daily loss limit.
        """
        realized = unrealized = 0
        for t in self.totals(decimals).values():
            realized += t.realized_pnl - t.fees
            unrealized += t.unrealized_pnl
        return realized, unrealized

    def snapshot(self) -> dict[tuple[str, str], dict[str, int | None]]:
        """Every position's figures, keyed by (venue, symbol)."""
        return {k: p.snapshot() for k, p in self._positions.items()}

    @staticmethod
    def to_decimal(pos: Position, raw: int) -> Decimal:
        """Exact ``Decimal`` of a money figure of ``pos`` (value decimals)."""
        return Decimal(raw).scaleb(-pos.value_decimals)
