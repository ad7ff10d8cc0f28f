# Positions and exact PnL over C structs (included by orders.pyx).
#
# Sizes are int64 (a fill that would take a position, or the sizes bought or sold, past int64 is
# refused); money (cost, realized PnL, fees, turnover) is 128-bit at the instrument's value
# decimals (price_decimals + size_decimals), every operation checked.  A booking is computed on a
# copy of the position and committed only when every figure fits: refused means untouched.

cdef enum:
    BOOK_OK = 0
    BOOK_SIZE_OVERFLOW = 1        # net, bought or sold past int64
    BOOK_MONEY_OVERFLOW = 2       # a money figure past 128 bits (or an absurd fee rate)

_BOOK_ERRORS = (
    "",
    "the position, or the total bought or sold, would pass the int64 range",
    "a money figure (cost, PnL, fees, turnover) would pass 128 bits",
)


cdef object i128_to_int(hc_i128 v):
    if hc_fits64(v):
        return hc_to64(v)
    return (<object>hc_hi(v) << 64) | <object>hc_lo(v)


cdef int int_to_i128(object v, hc_i128* out, str name) except -1:
    """A Python int (not bool) inside the signed 128-bit range."""
    cdef int overflow = 0
    cdef long long x
    if not PyLong_Check(v) or PyBool_Check(v):
        raise TypeError(f"{name} must be an int, got {type(v).__name__} {v!r}")
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if not overflow:
        out[0] = hc_from64(x)
        return 0
    if not (-(1 << 127) <= v < (1 << 127)):
        raise ValueError(f"{name} {v} is outside the 128-bit range")
    out[0] = hc_make(v >> 64, v & 0xFFFFFFFFFFFFFFFF)
    return 0


cdef int _fee_rate(object v, str name) except? -1:
    cdef int64_t r = int64_arg(v, name)
    if r <= -100000000 or r >= 100000000:
        raise ValueError(f"{name} rate {v} is not a fraction of the notional in (-1, 1)")
    return 0


@cython.final
cdef class Position:
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
        Last mark price (raw) for :attr:`unrealized_pnl`.
    """

    def __init__(self, instrument):
        pd = getattr(instrument, "price_decimals", None)
        sd = getattr(instrument, "size_decimals", None)
        if type(pd) is not int or type(sd) is not int or not (0 <= pd <= 18 and 0 <= sd <= 18):
            raise TypeError(f"instrument must be an Instrument, got {type(instrument).__name__}")
        self.instrument = instrument
        self.vdec = pd + sd
        memset(&self.s, 0, sizeof(PositionState))
        self.s.cost = hc_zero()
        self.s.realized = hc_zero()
        self.s.fees = hc_zero()
        self.s.turnover = hc_zero()

    @property
    def net(self) -> int:
        return self.s.net

    @property
    def bought(self) -> int:
        return self.s.bought

    @property
    def sold(self) -> int:
        return self.s.sold

    @property
    def fills(self) -> int:
        return self.s.fills

    @property
    def cost(self) -> int:
        return i128_to_int(self.s.cost)

    @property
    def realized_pnl(self) -> int:
        return i128_to_int(self.s.realized)

    @property
    def fees(self) -> int:
        return i128_to_int(self.s.fees)

    @property
    def turnover(self) -> int:
        return i128_to_int(self.s.turnover)

    @property
    def mark(self) -> int | None:
        """Last mark price (raw), or None."""
        return self.s.mark if self.s.has_mark else None

    @mark.setter
    def mark(self, price):
        if price is None:
            self.s.has_mark = 0
            return
        self.s.mark = int64_arg(price, "mark")
        self.s.has_mark = 1

    @property
    def value_decimals(self) -> int:
        """Decimals of the money figures: ``price_decimals + size_decimals``."""
        return self.vdec

    @property
    def avg_price(self) -> int | None:
        """Average entry price of the open position, raw price, rounded half-even; None if flat."""
        if self.s.net == 0:
            return None
        cost = i128_to_int(self.s.cost)
        n = self.s.net if self.s.net > 0 else -self.s.net
        q, r = divmod(abs(cost), n)
        return q + 1 if 2 * r > n or (2 * r == n and q % 2) else q

    @property
    def unrealized_pnl(self) -> int:
        """``net * mark - cost`` in value decimals (0 without a mark)."""
        if not self.s.has_mark or self.s.net == 0:
            return 0
        return self.s.net * self.s.mark - i128_to_int(self.s.cost)

    @property
    def total_pnl(self) -> int:
        """Realized + unrealized - fees, value decimals."""
        return self.realized_pnl + self.unrealized_pnl - self.fees

    cdef int book(self, int side, int64_t qty, int64_t price, hc_i128 fee,
                  PositionState* out) noexcept:
        """The state after one execution, into ``out``; BOOK_* code (nothing written on error)."""
        cdef PositionState t = self.s
        cdef hc_i128 value = hc_mul64(price, qty)
        cdef hc_i128 removed, x
        cdef int64_t net = t.net
        cdef int64_t closing, rest, mag
        if hc_add(t.turnover, value, &t.turnover) or hc_add(t.fees, fee, &t.fees):
            return BOOK_MONEY_OVERFLOW
        if hc_add64(t.fills, 1, &t.fills):
            return BOOK_SIZE_OVERFLOW
        if side == SIDE_BID:
            if hc_add64(t.bought, qty, &t.bought):
                return BOOK_SIZE_OVERFLOW
            if net >= 0:                       # opening or adding long
                if hc_add64(net, qty, &t.net):
                    return BOOK_SIZE_OVERFLOW
                if hc_add(t.cost, value, &t.cost):
                    return BOOK_MONEY_OVERFLOW
            else:
                mag = -net                     # net > INT64_MIN: positions never reach it
                closing = qty if qty < mag else mag
                if hc_part_half_even(t.cost, closing, mag, &removed):
                    return BOOK_MONEY_OVERFLOW
                # realized += -removed - price * closing  (removed <= 0 for a short)
                if (hc_sub(t.realized, removed, &t.realized)
                        or hc_sub(t.realized, hc_mul64(price, closing), &t.realized)
                        or hc_sub(t.cost, removed, &t.cost)):
                    return BOOK_MONEY_OVERFLOW
                t.net = net + closing
                rest = qty - closing
                if rest:
                    t.net = rest               # the short was closed completely: net was -closing
                    if hc_add(t.cost, hc_mul64(price, rest), &t.cost):
                        return BOOK_MONEY_OVERFLOW
        else:
            if hc_add64(t.sold, qty, &t.sold):
                return BOOK_SIZE_OVERFLOW
            if net <= 0:                       # opening or adding short
                if hc_sub64(net, qty, &t.net) or t.net == INT64_MIN:
                    return BOOK_SIZE_OVERFLOW
                if hc_sub(t.cost, value, &t.cost):
                    return BOOK_MONEY_OVERFLOW
            else:
                closing = qty if qty < net else net
                if hc_part_half_even(t.cost, closing, net, &removed):
                    return BOOK_MONEY_OVERFLOW
                if (hc_add(t.realized, hc_mul64(price, closing), &t.realized)
                        or hc_sub(t.realized, removed, &t.realized)
                        or hc_sub(t.cost, removed, &t.cost)):
                    return BOOK_MONEY_OVERFLOW
                t.net = net - closing
                rest = qty - closing
                if rest:
                    t.net = -rest
                    if hc_sub(t.cost, hc_mul64(price, rest), &t.cost):
                        return BOOK_MONEY_OVERFLOW
        out[0] = t
        return BOOK_OK

    def apply(self, side, qty, price, fee):
        """Book one execution: raw size (> 0), raw price, fee at value decimals."""
        cdef int sd = side_arg(side)
        cdef int64_t q = int64_arg(qty, "qty")
        cdef int64_t px = int64_arg(price, "price")
        cdef hc_i128 f
        cdef PositionState st
        int_to_i128(fee, &f, "fee")
        if q <= 0:
            raise ValueError(f"qty must be positive, got {q}")
        rc = self.book(sd, q, px, f, &st)
        if rc:
            raise OverflowError(f"{self.instrument.symbol}: fill refused: {_BOOK_ERRORS[rc]}")
        self.s = st

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
        vd = self.vdec
        return (
            f"Position({i.symbol} net={i.format_qty(self.s.net)} "
            f"realized={_money_text(self.realized_pnl, vd)} "
            f"unrealized={_money_text(self.unrealized_pnl, vd)} "
            f"fees={_money_text(self.fees, vd)})"
        )


def _money_text(raw, decimals):
    """Exact decimal text of a money figure (trailing zeros kept: they show the decimals)."""
    neg = raw < 0
    digits = str(-raw if neg else raw).rjust(decimals + 1, "0")
    text = digits[:len(digits) - decimals] + ("." + digits[len(digits) - decimals:] if decimals else "")
    return ("-" if neg else "") + text


cdef class PortfolioCore:
    """Positions per instrument, fed by fills (the compiled part of
    :class:`hftcore.portfolio.Portfolio`)."""

    def __cinit__(self, *args, **kwargs):
        self._positions = {}
        self._fees = {}
        self._default_fees = None
        self._maker = 0
        self._taker = 0
        self._last_inst = None
        self._last_pos = None

    def __init__(self, fees=None):
        if fees is not None:
            self.default_fees = fees

    @property
    def default_fees(self) -> object:
        """Maker/taker rates for instruments without their own (see :meth:`set_fees`)."""
        return self._default_fees

    @default_fees.setter
    def default_fees(self, fees):
        maker, taker = _rates(fees)
        self._default_fees = fees
        self._maker = maker
        self._taker = taker
        for pos in self._positions.values():
            if not (<Position>pos).s.own_rates:
                (<Position>pos).s.maker_rate = maker
                (<Position>pos).s.taker_rate = taker

    def set_fees(self, instrument, fees):
        """Fee rates for one instrument (a ``FeeSchedule``)."""
        maker, taker = _rates(fees)
        key = _inst_key(instrument)
        self._fees[key] = fees
        pos = self._positions.get(key)
        if pos is not None:
            (<Position>pos).s.maker_rate = maker
            (<Position>pos).s.taker_rate = taker
            (<Position>pos).s.own_rates = 1

    cdef Position position_of(self, object instrument):
        cdef Position pos
        if instrument is self._last_inst:
            return self._last_pos
        key = _inst_key(instrument)
        pos = self._positions.get(key)
        if pos is None:
            pos = Position(instrument)
            sched = self._fees.get(key)
            if sched is None:
                pos.s.maker_rate = self._maker
                pos.s.taker_rate = self._taker
            else:
                pos.s.maker_rate, pos.s.taker_rate = _rates(sched)
                pos.s.own_rates = 1
            self._positions[key] = pos
        self._last_inst = instrument
        self._last_pos = pos
        return pos

    cdef int prepare(self, Position p, int side, int64_t qty, int64_t price, hc_i128 fee,
                     bint has_fee, int liquidity, PositionState* out) noexcept:
        cdef int64_t rate
        if not has_fee:
            rate = p.s.maker_rate if liquidity == LIQ_MAKER else p.s.taker_rate
            if rate == 0:
                fee = hc_zero()
            elif hc_fee_up(hc_mul64(price, qty), rate, &fee):
                return BOOK_MONEY_OVERFLOW
        return p.book(side, qty, price, fee, out)

    cdef void commit(self, Position p, PositionState* st) noexcept:
        p.s = st[0]

    def position(self, instrument):
        """The position of an instrument (created flat on first use)."""
        return self.position_of(instrument)

    def __iter__(self) -> object:
        return iter(list(self._positions.values()))

    def __len__(self) -> int:
        return len(self._positions)

    def apply(self, instrument, side, qty, price, fee=None, liquidity=LIQ_TAKER):
        """Book one execution; ``fee`` (value decimals) defaults to the fee schedule's.

        ``side`` is ``Side`` (0/1), ``qty`` a positive raw size, ``price`` a raw price,
        ``liquidity`` a ``Liquidity``; anything else raises ``TypeError``/``ValueError`` naming
        the argument.  A fill that would take a figure past its range raises ``OverflowError``
        and leaves the position untouched.
        """
        cdef int sd = side_arg(side)
        cdef int64_t q = int64_arg(qty, "qty")
        cdef int64_t px = int64_arg(price, "price")
        cdef int liq = enum_arg(liquidity, LIQ_COUNT, "liquidity")
        cdef hc_i128 f = hc_zero()
        cdef bint has_fee = fee is not None
        cdef PositionState st
        cdef Position pos
        if has_fee:
            int_to_i128(fee, &f, "fee")
        if q <= 0:
            raise ValueError(f"qty must be positive, got {q}")
        pos = self.position_of(instrument)
        rc = self.prepare(pos, sd, q, px, f, has_fee, liq, &st)
        if rc:
            raise OverflowError(f"{instrument.symbol}: fill refused: {_BOOK_ERRORS[rc]}")
        self.commit(pos, &st)
        return pos

    def on_fill(self, instrument, fill):
        """Book a :class:`~hftcore.model.Fill`."""
        return self.apply(instrument, fill.side, fill.qty, fill.price, fill.fee, fill.liquidity)

    def mark(self, instrument, price):
        """Set the mark price (raw) of an instrument for unrealized PnL."""
        cdef int64_t px = int64_arg(price, "price")
        pos = self.position_of(instrument)
        pos.s.mark = px
        pos.s.has_mark = 1


cdef tuple _inst_key(object instrument):
    try:
        return (instrument.venue, instrument.symbol)
    except AttributeError:
        raise TypeError(
            f"instrument must be an Instrument, got {type(instrument).__name__}") from None


cdef tuple _rates(object fees):
    try:
        maker, taker = fees.maker, fees.taker
    except AttributeError:
        raise TypeError(f"fees must be a FeeSchedule, got {type(fees).__name__}") from None
    _fee_rate(maker, "maker")
    _fee_rate(taker, "taker")
    return maker, taker
