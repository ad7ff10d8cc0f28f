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
read from the compiled positions (int64 sizes, 128-bit money, every operation checked: a fill
that would overflow is refused whole).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hftcore import fixed
from hftcore._ext.orders import PortfolioCore, Position
from hftcore.model import Instrument, Liquidity

__all__ = ["FeeSchedule", "Portfolio", "Position", "Totals", "value_decimals"]

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


class Portfolio(PortfolioCore):
    """Positions per instrument, fed by fills.

    Parameters
    ----------
    fees : FeeSchedule, optional
        Default maker/taker rates for fills that do not carry their fee.

    Notes
    -----
    ``apply(instrument, side, qty, price, fee=None, liquidity=Liquidity.TAKER) -> Position``
    books one execution (compiled: sizes int64, money 128-bit, every step checked; a fill that
    would pass a range raises ``OverflowError`` and changes nothing).  ``side`` must be a
    ``Side``, ``qty`` a positive int, ``price`` an int, ``liquidity`` a ``Liquidity``: anything
    else raises ``TypeError``/``ValueError`` naming the argument.  Also ``on_fill(instrument,
    fill)``, ``position(instrument)``, ``mark(instrument, price)``, ``set_fees(instrument,
    fees)``, ``default_fees``, ``len()`` and iteration over the positions.

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
        super().__init__(fees if fees is not None else FeeSchedule())

    def totals(self, decimals: int = 8) -> dict[str, Totals]:
        """Sums per quote currency, each figure rescaled to ``decimals`` (half-even)."""
        acc: dict[str, list[int]] = {}
        for pos in self:
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
        return {(p.instrument.venue, p.instrument.symbol): p.snapshot() for p in self}

    @staticmethod
    def to_decimal(pos: Position, raw: int) -> Decimal:
        """Exact ``Decimal`` of a money figure of ``pos`` (value decimals)."""
        return Decimal(raw).scaleb(-pos.value_decimals)

    def __repr__(self) -> str:
        if not len(self):
            return "Portfolio(flat, no positions)"
        parts = []
        for pos in self:
            inst = pos.instrument
            vd = pos.value_decimals
            money = (f"realized={self.to_decimal(pos, pos.realized_pnl)} "
                     f"unrealized={self.to_decimal(pos, pos.unrealized_pnl)} "
                     f"fees={self.to_decimal(pos, pos.fees)}")
            avg = pos.avg_price
            at = f" @ {inst.format_price(avg)}" if avg is not None else ""
            parts.append(f"{inst.venue}:{inst.symbol} net={inst.format_qty(pos.net)}{at} {money}"
                         f" {inst.quote}".rstrip() + f" (value decimals {vd})")
        n = len(parts)
        return f"Portfolio({n} position{'s' if n != 1 else ''}: " + "; ".join(parts) + ")"
