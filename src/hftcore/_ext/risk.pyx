"""Pre-trade risk checks over C structs (see ``risk.pxd`` for the layout and reason codes).

``risk_check`` is one ``noexcept nogil`` function: it reads the limits and state of one
instrument, its venue's token bucket and the book-wide limits, and returns a reason code
(``RR_OK`` = 0 passes).  Every decision is counted per reason.  ``RiskCore`` is the thin Python
face used by :class:`hftcore.risk.RiskEngine`: it takes ``int`` arguments only (floats and bools
raise ``TypeError`` naming the parameter) and validates every argument before it changes
anything.
"""
cimport cython
from cpython.long cimport PyLong_CheckExact
from cpython.mem cimport PyMem_Realloc, PyMem_Free
from libc.stdint cimport int64_t, int32_t, uint8_t, uint64_t, INT64_MAX, INT64_MIN, INT32_MAX
from libc.string cimport memset

from hftcore._ext.fixed cimport (
    HFX_POW10, hfx_add, hfx_sub, hfx_mul, RND_UP, RND_AWAY_FROM_ZERO, fx_int_arg, fx_decimals_arg,
    fx_bool_arg,
)

import numpy as np
cimport numpy as cnp

cnp.import_array()


__all__ = ["RiskCore", "REASON_COUNT", "NO_LIMIT"]

REASON_COUNT = RR_COUNT
NO_LIMIT = INT64_MAX

# At most RISK_MAX_OPEN_ORDERS (2**62) open orders: with at most 1,000,001 instruments, the
# count of unbounded exposures (open orders + positions) then stays far below INT64_MAX.
# Rates, bursts and weights are at most RISK_MAX_RATE (9e9): x 1e9 stays below INT64_MAX.
cdef enum:
    MAX_INSTRUMENT_INDEX = 1000000
    MAX_VENUE_INDEX = 65535


cdef int64_t risk_now_ns() noexcept nogil:
    """CLOCK_MONOTONIC_COARSE (where it exists) in nanoseconds: same epoch as CLOCK_MONOTONIC."""
    return risk_clock_ns()


cdef inline int _count_decision(RiskBook* b, int reason) noexcept nogil:
    b.counts[reason] += 1          # uint64_t: wraps after 2**64 decisions, which is defined
    return reason


cdef inline bint _take_tokens(TokenBucket* t, int64_t now_ns) noexcept nogil:
    """Refill the bucket to ``now_ns`` and take ``weight`` tokens if there are enough."""
    # capacity and weight are at most RISK_MAX_RATE (9e9, set_venue): x 1e9 < 9.0e18 < INT64_MAX
    cdef int64_t cap = t.capacity * <int64_t>1000000000
    cdef int64_t cost = t.weight * <int64_t>1000000000
    if now_ns > t.last_ns:
        t.level_ns = risk_bucket_refill(t.level_ns, risk_sub_saturated(now_ns, t.last_ns),
                                        t.rate, cap)
        t.last_ns = now_ns
    if t.level_ns < cost:
        return False
    t.level_ns -= cost             # 0 <= cost <= level: no overflow
    return True


cdef int risk_notional(RiskBook* b, RiskInstrument* ins, int64_t price, int64_t qty,
                       int64_t* out) noexcept nogil:
    """price * qty in quote currency at notional_decimals, rounded up (never under-counted).

    Positive operands whose product fits in 63 bits take a 64-bit path (one multiply, or one
    64-bit division); everything else goes through hfx_mul's 128-bit arithmetic.  Both are
    exact and round the same way.  Returns nonzero when the notional does not fit in int64.
    """
    cdef uint64_t p, s
    if (price > 0 and qty > 0 and price < 3037000499LL and qty < 3037000499LL
            and ins.notional_scale != 0):
        p = <uint64_t>price * <uint64_t>qty           # < 3037000499**2 < 2**63
        s = <uint64_t>ins.notional_scale              # <= 10**18
        if ins.notional_exp >= 0:
            if p <= <uint64_t>INT64_MAX // s:
                out[0] = <int64_t>(p * s)
                return 0
        else:
            out[0] = <int64_t>((p + s - 1) // s)      # ceiling; p + s - 1 < 2**64
            return 0
    return hfx_mul(price, ins.price_decimals, qty, ins.size_decimals, b.notional_decimals,
                   RND_UP, out)


cdef inline bint _exposure_notional(RiskBook* b, RiskInstrument* ins, int64_t price,
                                    int64_t qty, int64_t* out) noexcept nogil:
    """What an open order of (price, qty) adds to the open notional (price, qty >= 0).

    Returns True (and 0 in *out) when its notional does not fit in int64: such an order is
    counted in ``unbounded_exposures`` instead.  A function of (price, qty) only, so releasing
    an order subtracts exactly what opening it added.
    """
    out[0] = 0
    if price == 0 or qty == 0:
        return False
    if risk_notional(b, ins, price, qty, out):
        out[0] = 0
        return True
    return False


cdef inline int _check_order(RiskBook* b, int32_t inst, int side, int64_t price, int64_t qty,
                             int order_type, int64_t now_ns, int64_t* notional_out) noexcept nogil:
    cdef RiskInstrument* ins
    cdef int64_t notional = 0
    cdef int64_t diff
    cdef risk_wide_t worst
    cdef int64_t signed_qty
    cdef bint reduces, is_market
    cdef int64_t own
    if b.killed:
        return RR_KILL_SWITCH
    if b.state == TS_HALTED:
        return RR_HALTED
    if inst < 0 or inst >= b.n_insts or not b.insts[inst].registered:
        return RR_UNKNOWN_INSTRUMENT
    if side != 0 and side != 1:
        return RR_BAD_SIDE
    if order_type < 0 or order_type > OT_LIMIT_MAKER:
        return RR_BAD_ORDER_TYPE
    ins = &b.insts[inst]
    is_market = order_type == OT_MARKET or order_type == OT_STOP_MARKET
    # -- size --
    if qty <= 0:
        return RR_SIZE_NOT_POSITIVE
    if ins.lot != 1 and qty % ins.lot:
        return RR_SIZE_LOT
    if qty < ins.min_size:
        return RR_SIZE_MIN
    if qty > ins.max_size:
        return RR_SIZE_MAX
    # -- price (a market order's price is its protection price) --
    if price <= 0:
        return RR_MARKET_NO_PROTECTION if is_market else RR_PRICE_NOT_POSITIVE
    if not is_market and ins.tick != 1 and price % ins.tick:
        return RR_PRICE_TICK
    if ins.band_ticks >= 0 or ins.band_bps >= 0:
        if ins.ref_price <= 0:
            return RR_NO_REFERENCE
        # both positive: the difference fits in int64
        diff = price - ins.ref_price if price > ins.ref_price else ins.ref_price - price
        if diff > ins.band_abs:         # band_abs is derived whenever the band or ref changes
            return RR_PRICE_BAND
    # -- notional --
    if risk_notional(b, ins, price, qty, &notional):
        return RR_NOTIONAL_OVERFLOW
    if notional < ins.min_notional:
        return RR_NOTIONAL_MIN
    if notional > ins.max_notional:
        return RR_NOTIONAL_MAX
    notional_out[0] = notional
    # -- exposure: the worst case, every open order of this side (and every order passed
    # earlier in a batch) filled; exact 128-bit sums kept up to date by every update --
    if side == 0:
        worst = ins.worst_long
        signed_qty = qty
        reduces = ins.position < 0 and risk_wide_plus_cmp(worst, qty, 0) <= 0
    else:
        worst = ins.worst_short
        signed_qty = -qty                       # qty > 0: the negation is defined
        reduces = ins.position > 0 and risk_wide_plus_cmp(worst, signed_qty, 0) >= 0
    if not reduces:
        if b.state == TS_REDUCING:
            return RR_REDUCE_ONLY
        if ins.max_position != RISK_OFF and risk_wide_plus_outside(worst, signed_qty,
                                                                   ins.max_position):
            return RR_POSITION_LIMIT
        # an exposure beyond int64 (unbounded_exposures) is beyond every limit
        if b.max_gross != RISK_OFF and (
                b.unbounded_exposures
                or risk_wide_plus_cmp(b.gross_total, notional, b.max_gross) > 0):
            return RR_GROSS_EXPOSURE
        if b.max_net != RISK_OFF and (
                b.unbounded_exposures
                or (risk_wide_plus_outside(b.net_long_total, notional, b.max_net) if side == 0
                    else risk_wide_plus_outside(b.net_short_total, -notional, b.max_net))):
            return RR_NET_EXPOSURE
        if b.loss_breached:
            return RR_DAILY_LOSS
    # -- open orders (counts are in 0..2**62: their sum fits in uint64) --
    if ins.max_open_orders != RISK_OFF and (<uint64_t>ins.open_orders + <uint64_t>ins.pend_orders
                                            >= <uint64_t>ins.max_open_orders):
        return RR_OPEN_ORDERS_INSTRUMENT
    if b.max_open_orders != RISK_OFF and (<uint64_t>b.open_orders + <uint64_t>b.pend_orders
                                          >= <uint64_t>b.max_open_orders):
        return RR_OPEN_ORDERS_TOTAL
    # -- self-trade prevention --
    if ins.stp:
        if side == 0:
            own = ins.best_own_ask if ins.best_own_ask < ins.pend_ask else ins.pend_ask
            if price >= own:
                return RR_SELF_TRADE
        else:
            own = ins.best_own_bid if ins.best_own_bid > ins.pend_bid else ins.pend_bid
            if price <= own:
                return RR_SELF_TRADE
    # -- error-rate breaker and rate limits (need the clock) --
    if b.err_tripped or b.venues[ins.venue].orders.capacity > 0:
        if now_ns == 0:
            now_ns = risk_now_ns()
        if b.err_tripped:
            # until INT64_MAX: now + cooldown went past the end of the clock, it never closes
            if now_ns < b.err_tripped_until or b.err_tripped_until == INT64_MAX:
                return RR_ERROR_RATE
            b.err_tripped = 0
        if b.venues[ins.venue].orders.capacity > 0 and not _take_tokens(
                &b.venues[ins.venue].orders, now_ns):
            return RR_RATE_ORDERS
    return RR_OK


cdef int risk_check(RiskBook* b, int32_t inst, int side, int64_t price, int64_t qty,
                    int order_type, int64_t now_ns) noexcept nogil:
    """The full pre-trade check of one order; returns RR_OK (0) or the first failing reason."""
    cdef int64_t notional = 0
    return _count_decision(b, _check_order(b, inst, side, price, qty, order_type, now_ns,
                                           &notional))


cdef int risk_check_cancel(RiskBook* b, int32_t venue, int64_t now_ns) noexcept nogil:
    """Cancels are allowed in every state (the kill switch needs them); only the bucket limits."""
    if venue < 0 or venue >= b.n_venues:
        return _count_decision(b, RR_UNKNOWN_INSTRUMENT)
    if b.venues[venue].cancels.capacity > 0:
        if now_ns == 0:
            now_ns = risk_now_ns()
        if not _take_tokens(&b.venues[venue].cancels, now_ns):
            return _count_decision(b, RR_RATE_CANCELS)
    return _count_decision(b, RR_OK)


cdef Py_ssize_t risk_check_batch(RiskBook* b, Py_ssize_t n, const int32_t* inst,
                                 const uint8_t* side, const int64_t* price, const int64_t* qty,
                                 const uint8_t* order_type, int64_t now_ns,
                                 uint8_t* reasons) noexcept nogil:
    """Check n orders as if every order that passes were sent before the next is checked.

    Orders passed earlier in the batch count towards position, exposure, open-order and
    self-trade checks of later ones; nothing is left reserved when the batch returns.
    Returns the number of orders that passed.
    """
    cdef Py_ssize_t i, passed = 0
    cdef int r
    cdef int64_t notional
    cdef RiskInstrument* ins
    if n > 0 and now_ns == 0:
        now_ns = risk_now_ns()
    for i in range(n):
        notional = 0
        r = _count_decision(b, _check_order(b, inst[i], side[i], price[i], qty[i], order_type[i],
                                            now_ns, &notional))
        reasons[i] = <uint8_t>r
        if r == RR_OK:
            # reserve the order for the rest of the batch: into the derived sums, which are
            # recomputed from the real state afterwards (the order counted is <= n)
            passed += 1
            ins = &b.insts[inst[i]]
            ins.pend_orders += 1
            b.pend_orders += 1
            b.gross_total = risk_wide_add_int(b.gross_total, notional)
            if side[i] == 0:
                ins.worst_long = risk_wide_add_int(ins.worst_long, qty[i])
                b.net_long_total = risk_wide_add_int(b.net_long_total, notional)
                if price[i] > ins.pend_bid:
                    ins.pend_bid = price[i]
            else:
                ins.worst_short = risk_wide_sub_int(ins.worst_short, qty[i])
                b.net_short_total = risk_wide_sub_int(b.net_short_total, notional)
                if price[i] < ins.pend_ask:
                    ins.pend_ask = price[i]
    if passed:
        for i in range(n):
            if reasons[i] == RR_OK and b.insts[inst[i]].pend_orders:   # once per instrument
                _clear_batch_reservations(&b.insts[inst[i]])
        b.pend_orders = 0
        _derive_book_totals(b)
    return passed


cdef inline void _clear_batch_reservations(RiskInstrument* ins) noexcept nogil:
    ins.pend_orders = 0
    ins.pend_bid = INT64_MIN
    ins.pend_ask = INT64_MAX
    _derive_instrument_totals(ins)


cdef inline void _derive_instrument_totals(RiskInstrument* ins) noexcept nogil:
    """The worst-case positions the check reads, from the instrument's state."""
    ins.worst_long = risk_wide_add(risk_wide_of(ins.position), ins.open_buy_qty)
    ins.worst_short = risk_wide_sub(risk_wide_of(ins.position), ins.open_sell_qty)


cdef inline void _derive_book_totals(RiskBook* b) noexcept nogil:
    """The exposure sums the check reads, from the book's state."""
    b.gross_total = risk_wide_add(b.gross_position,
                                  risk_wide_add(b.open_buy_notional, b.open_sell_notional))
    b.net_long_total = risk_wide_add(b.net_position, b.open_buy_notional)
    b.net_short_total = risk_wide_sub(b.net_position, b.open_sell_notional)


cdef inline void _derive_loss_breached(RiskBook* b) noexcept nogil:
    b.loss_breached = (b.max_daily_loss != RISK_OFF
                       and risk_loss_exceeds(b.realized_pnl, b.unrealized_pnl, b.max_daily_loss))


cdef inline RiskInstrument* _registered(RiskBook* b, int32_t inst) noexcept nogil:
    if inst < 0 or inst >= b.n_insts or not b.insts[inst].registered:
        return NULL
    return &b.insts[inst]


# -- state updates: each validates completely, then changes everything or nothing ----------------

cdef struct OpenRelease:
    # The state after releasing part of an open order (computed before anything changes).
    risk_wide_t open_qty           # the instrument's open size of the order's side
    risk_wide_t open_notional      # the book's open notional of that side
    int64_t unbounded              # the book's unbounded_exposures
    int64_t inst_orders            # open-order counts
    int64_t book_orders


cdef int _plan_release(RiskBook* b, RiskInstrument* ins, int side, int64_t price,
                       int64_t old_qty, int64_t new_qty, bint closed,
                       OpenRelease* after) noexcept nogil:
    """What an open order whose remaining size goes from old_qty to new_qty (0 when closed)
    leaves counted; RISK_E_NOT_OPEN when that is more than is counted open."""
    cdef int64_t n_old = 0, n_new = 0
    cdef bint u_old, u_new
    if closed:
        new_qty = 0
    u_old = _exposure_notional(b, ins, price, old_qty, &n_old)
    u_new = _exposure_notional(b, ins, price, new_qty, &n_new)
    if side == 0:
        after.open_qty = ins.open_buy_qty
        after.open_notional = b.open_buy_notional
    else:
        after.open_qty = ins.open_sell_qty
        after.open_notional = b.open_sell_notional
    after.open_qty = risk_wide_sub_int(after.open_qty, old_qty - new_qty)   # both >= 0
    after.open_notional = risk_wide_add_int(risk_wide_sub_int(after.open_notional, n_old), n_new)
    after.unbounded = b.unbounded_exposures - u_old + u_new                 # small counts
    after.inst_orders = ins.open_orders - (1 if closed else 0)
    after.book_orders = b.open_orders - (1 if closed else 0)
    if (risk_wide_is_negative(after.open_qty) or risk_wide_is_negative(after.open_notional)
            or after.unbounded < 0 or after.inst_orders < 0 or after.book_orders < 0):
        return RISK_E_NOT_OPEN
    return RR_OK


cdef inline void _apply_release(RiskBook* b, RiskInstrument* ins, int side,
                                const OpenRelease* after) noexcept nogil:
    if side == 0:
        ins.open_buy_qty = after.open_qty
        b.open_buy_notional = after.open_notional
    else:
        ins.open_sell_qty = after.open_qty
        b.open_sell_notional = after.open_notional
    b.unbounded_exposures = after.unbounded
    ins.open_orders = after.inst_orders
    b.open_orders = after.book_orders
    _derive_instrument_totals(ins)
    _derive_book_totals(b)


cdef int risk_order_open(RiskBook* b, int32_t inst, int side, int64_t price,
                         int64_t qty) noexcept nogil:
    """Count a sent order as open: its whole size is worst-case exposure until it is done.

    Returns RR_OK, or RR_UNKNOWN_INSTRUMENT, RR_BAD_SIDE, RISK_E_NEGATIVE (price or qty < 0),
    RISK_E_RANGE (more than 2**62 open orders) and changes nothing.
    """
    cdef RiskInstrument* ins = _registered(b, inst)
    cdef int64_t notional = 0
    cdef bint unbounded
    if ins == NULL:
        return RR_UNKNOWN_INSTRUMENT
    if side != 0 and side != 1:
        return RR_BAD_SIDE
    if price < 0 or qty < 0:
        return RISK_E_NEGATIVE
    if b.open_orders >= RISK_MAX_OPEN_ORDERS:       # ins.open_orders <= b.open_orders
        return RISK_E_RANGE
    unbounded = _exposure_notional(b, ins, price, qty, &notional)
    ins.open_orders += 1
    b.open_orders += 1
    if unbounded:
        b.unbounded_exposures += 1      # <= open orders + instruments < INT64_MAX
    if side == 0:
        ins.open_buy_qty = risk_wide_add_int(ins.open_buy_qty, qty)
        b.open_buy_notional = risk_wide_add_int(b.open_buy_notional, notional)
        if price > ins.best_own_bid:
            ins.best_own_bid = price
    else:
        ins.open_sell_qty = risk_wide_add_int(ins.open_sell_qty, qty)
        b.open_sell_notional = risk_wide_add_int(b.open_sell_notional, notional)
        if price < ins.best_own_ask:
            ins.best_own_ask = price
    _derive_instrument_totals(ins)
    _derive_book_totals(b)
    return RR_OK


cdef int risk_order_reduce(RiskBook* b, int32_t inst, int side, int64_t price, int64_t old_qty,
                           int64_t new_qty, bint closed) noexcept nogil:
    """An open order's remaining size went from old_qty to new_qty (fill, replace) or closed.

    Returns RR_OK, or RR_UNKNOWN_INSTRUMENT, RR_BAD_SIDE, RISK_E_NEGATIVE (a negative price or
    size, or new_qty above old_qty), RISK_E_NOT_OPEN (more than is counted open) and changes
    nothing.
    """
    cdef RiskInstrument* ins = _registered(b, inst)
    cdef OpenRelease after
    cdef int rc
    if ins == NULL:
        return RR_UNKNOWN_INSTRUMENT
    if side != 0 and side != 1:
        return RR_BAD_SIDE
    if price < 0 or old_qty < 0 or new_qty < 0 or (new_qty > old_qty and not closed):
        return RISK_E_NEGATIVE
    rc = _plan_release(b, ins, side, price, old_qty, new_qty, closed, &after)
    if rc:
        return rc
    _apply_release(b, ins, side, &after)
    return RR_OK


cdef int risk_order_fill(RiskBook* b, int32_t inst, int side, int64_t price, int64_t remaining,
                         int64_t qty, bint counted) noexcept nogil:
    """A fill of ``qty``: the position moves by it, and when the order is counted open (with
    ``remaining`` at ``price``) its open size shrinks by it, closing it at zero.

    All or nothing: RR_UNKNOWN_INSTRUMENT, RR_BAD_SIDE, RISK_E_NEGATIVE (qty <= 0, negative
    price or remaining), RISK_E_RANGE (the position would leave int64), RISK_E_NOT_OPEN.
    """
    cdef RiskInstrument* ins = _registered(b, inst)
    cdef OpenRelease after
    cdef int64_t position = 0
    cdef int64_t left
    cdef int rc
    if ins == NULL:
        return RR_UNKNOWN_INSTRUMENT
    if side != 0 and side != 1:
        return RR_BAD_SIDE
    if qty <= 0 or price < 0 or remaining < 0:
        return RISK_E_NEGATIVE
    if side == 0:
        if hfx_add(ins.position, qty, &position):
            return RISK_E_RANGE
    elif hfx_sub(ins.position, qty, &position):
        return RISK_E_RANGE
    if counted:
        left = remaining - qty if qty < remaining else 0      # both >= 0
        rc = _plan_release(b, ins, side, price, remaining, left, left == 0, &after)
        if rc:
            return rc
        _apply_release(b, ins, side, &after)
    ins.position = position
    _mark_position_to_reference(b, ins)
    return RR_OK


cdef int risk_order_replace(RiskBook* b, int32_t inst, int side, int64_t old_price,
                            int64_t old_qty, int64_t new_price, int64_t new_qty) noexcept nogil:
    """An open order now rests at new_price with new_qty remaining (an amend the venue
    confirmed): release the old price and size, reserve the new ones; the count is unchanged.
    All or nothing, codes as risk_order_reduce."""
    cdef RiskInstrument* ins = _registered(b, inst)
    cdef OpenRelease after
    cdef int rc
    if ins == NULL:
        return RR_UNKNOWN_INSTRUMENT
    if side != 0 and side != 1:
        return RR_BAD_SIDE
    if old_price < 0 or old_qty < 0 or new_price < 0 or new_qty < 0:
        return RISK_E_NEGATIVE
    rc = _plan_release(b, ins, side, old_price, old_qty, 0, True, &after)
    if rc:
        return rc
    _apply_release(b, ins, side, &after)
    return risk_order_open(b, inst, side, new_price, new_qty)   # cannot fail: one was released


cdef inline void _mark_position_to_reference(RiskBook* b, RiskInstrument* ins) noexcept nogil:
    """position_notional = position x reference (away from zero) and the book's sums with it."""
    cdef int64_t v = 0
    cdef bint unbounded = False
    if ins.ref_price > 0 and ins.position != 0:
        if hfx_mul(ins.position, ins.size_decimals, ins.ref_price, ins.price_decimals,
                   b.notional_decimals, RND_AWAY_FROM_ZERO, &v):
            v = 0
            unbounded = True
    if ins.position_unbounded:
        b.unbounded_exposures -= 1
    else:
        b.net_position = risk_wide_sub_int(b.net_position, ins.position_notional)
        b.gross_position = risk_wide_sub(b.gross_position,
                                         risk_wide_abs(risk_wide_of(ins.position_notional)))
    if unbounded:
        b.unbounded_exposures += 1
    else:
        b.net_position = risk_wide_add_int(b.net_position, v)
        b.gross_position = risk_wide_add(b.gross_position, risk_wide_abs(risk_wide_of(v)))
    ins.position_notional = v
    ins.position_unbounded = unbounded
    _derive_instrument_totals(ins)
    _derive_book_totals(b)


cdef int risk_set_position(RiskBook* b, int32_t inst, int64_t position) noexcept nogil:
    cdef RiskInstrument* ins = _registered(b, inst)
    if ins == NULL:
        return RR_UNKNOWN_INSTRUMENT
    ins.position = position
    _mark_position_to_reference(b, ins)
    return RR_OK


cdef inline void _derive_price_band(RiskInstrument* ins) noexcept nogil:
    ins.band_abs = risk_band_abs(ins.band_ticks, ins.tick, ins.band_bps, ins.ref_price)


cdef int risk_set_reference(RiskBook* b, int32_t inst, int64_t price) noexcept nogil:
    cdef RiskInstrument* ins = _registered(b, inst)
    if ins == NULL:
        return RR_UNKNOWN_INSTRUMENT
    if price < 0:
        return RISK_E_NEGATIVE
    ins.ref_price = price
    _derive_price_band(ins)
    _mark_position_to_reference(b, ins)
    return RR_OK


cdef void risk_record_error(RiskBook* b, int64_t now_ns) noexcept nogil:
    """A venue reject or timeout: more than err_max inside err_window_ns trips the breaker."""
    if b.err_max == RISK_OFF:
        return
    if now_ns == 0:
        now_ns = risk_now_ns()
    if b.err_count == 0 or risk_sub_saturated(now_ns, b.err_window_start) > b.err_window_ns:
        b.err_window_start = now_ns
        b.err_count = 0
    b.err_count += 1               # <= err_max + 1 <= INT64_MAX: reset below once past err_max
    if b.err_count > b.err_max:
        b.err_tripped = 1          # until now + cooldown; near the end of int64, until its end
        b.err_tripped_until = risk_add_saturated(now_ns, b.err_cooldown_ns)
        b.err_count = 0


# ------------------------------------------------------------------------------------------------
# Python face

cdef void* _realloc_array(void* p, Py_ssize_t n, size_t item) except NULL:
    """Overflow-checked PyMem_Realloc of n items."""
    if n < 0 or <size_t>n > (<size_t>-1) // item:
        raise MemoryError("risk arrays: size overflow")
    cdef void* q = PyMem_Realloc(p, <size_t>n * item)
    if q == NULL:
        raise MemoryError()
    return q


cdef inline int64_t _limit_arg(object value, str name) except? -1:
    """A maximum: None (off: RISK_OFF) or an int >= 0."""
    if value is None:
        return INT64_MAX
    cdef int64_t v = fx_int_arg(value, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0 or None, got {v}")
    return v


cdef inline int64_t _nonnegative_arg(object value, str name) except? -1:
    cdef int64_t v = fx_int_arg(value, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


cdef inline int64_t _time_arg(object value, str name) except? -1:
    """A time in ns: an int >= 0, where 0 means "read the monotonic clock"."""
    cdef int64_t v = fx_int_arg(value, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0 (0 reads the clock), got {v}")
    return v


cdef inline int _side_arg(object value) except -1:
    cdef int64_t v = fx_int_arg(value, "side")
    if v != 0 and v != 1:
        raise ValueError(f"side must be 0 (buy) or 1 (sell), got {v}")
    return <int>v


cdef inline int32_t _code_or(int64_t v, int64_t hi) noexcept:
    """v when it is in 0..hi, else -1 (which the checks report as unknown / bad)."""
    return <int32_t>v if 0 <= v <= hi else -1


cdef int _raise_named_overflow(tuple values, tuple names) except -1:
    """Convert each value again with the checked conversion, which names the one out of range."""
    for value, name in zip(values, names):
        fx_int_arg(value, name)
    return 0


cdef object _wide_to_int(risk_wide_t w):
    return (<object>w.hi << 64) + <object>w.lo


cdef object _batch_array(object a, str name, object dtype, bint writeable):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, not {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} must be a {np.dtype(dtype).name} array, not {a.dtype}")
    if a.ndim != 1 or not a.flags.c_contiguous:
        raise ValueError(f"{name} must be one-dimensional and C-contiguous")
    if writeable and not a.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return a


@cython.final
@cython.freelist(64)
cdef class _OpenOrder:
    """One open order as the risk book counts it (``index``, ``side``, ``price``,
    ``remaining``); read-only."""

    def __repr__(self):
        return (f"_OpenOrder(index={self.index}, side={self.side}, price={self.price}, "
                f"remaining={self.remaining})")


cdef inline int64_t _best_of(dict levels, int sd) except *:
    """The highest (buys) / lowest (sells) price with open orders; INT64_MIN / INT64_MAX when
    there is none (the check's "no own order")."""
    cdef int64_t best = INT64_MIN if sd == 0 else INT64_MAX
    cdef int64_t p
    for key in levels:
        p = <int64_t>key
        if (p > best) if sd == 0 else (p < best):
            best = p
    return best


@cython.final
cdef class RiskCore:
    """C risk book: instruments and venues by index, global limits, counters.

    Parameters
    ----------
    notional_decimals : int
        Decimals of every notional, exposure and PnL figure (quote currency), 0-18.

    Notes
    -----
    Every argument is an ``int`` (``IntEnum`` and numpy integers too; ``float`` and ``bool``
    raise ``TypeError`` naming the parameter), and a call that raises changes nothing.
    ``check_batch`` runs without the GIL; while it runs, every other method that would change
    the book raises ``RuntimeError`` (the kill switch and the trading state stay settable:
    they take effect for the rest of that batch or the next one).

    ``track_open`` / ``track_fill`` / ``track_replaced`` / ``track_closed`` keep the open
    orders by id (:attr:`open_orders`), their count per price and side, and the own best
    prices of the self-trade check with them (the order manager calls their C versions).
    """

    def __cinit__(self, notional_decimals=8):
        memset(&self.b, 0, sizeof(RiskBook))
        self.b.insts = NULL
        self.b.venues = NULL
        self.b.notional_decimals = fx_decimals_arg(notional_decimals, "notional_decimals")
        self.b.max_gross = INT64_MAX
        self.b.max_net = INT64_MAX
        self.b.max_open_orders = INT64_MAX
        self.b.max_daily_loss = INT64_MAX
        self.b.err_max = INT64_MAX
        self.b.err_window_ns = 1000000000
        self._busy = False
        self._open = {}
        self._levels = []

    def __dealloc__(self):
        PyMem_Free(self.b.insts)
        PyMem_Free(self.b.venues)
        self.b.insts = NULL
        self.b.venues = NULL

    @property
    def notional_decimals(self) -> int:
        return self.b.notional_decimals

    cdef int _guard(self) except -1:
        # check_batch runs without the GIL over the instrument and venue arrays: nothing may
        # reallocate or change them meanwhile (set_* would move them under its feet)
        if self._busy:
            raise RuntimeError("the risk book is in use by check_batch in another thread")
        return 0

    cdef int _raise_update(self, int rc, str what) except -1:
        if rc == RR_UNKNOWN_INSTRUMENT:
            raise KeyError(f"{what}: instrument index is not registered")
        if rc == RR_BAD_SIDE:
            raise ValueError(f"{what}: side must be 0 (buy) or 1 (sell)")
        if rc == RISK_E_NEGATIVE:
            raise ValueError(f"{what}: price and sizes must not be negative (nor grow)")
        if rc == RISK_E_NOT_OPEN:
            raise ValueError(f"{what}: releases more size, notional or orders than are "
                             "counted open")
        if rc == RISK_E_RANGE:
            raise OverflowError(f"{what}: a position or count would leave the int64 range")
        raise ValueError(f"{what}: risk update error {rc}")

    cdef int _ensure_venue(self, int32_t v) except -1:
        cdef int32_t i
        if v >= self.b.n_venues:
            self.b.venues = <RiskVenue*>_realloc_array(self.b.venues, v + 1, sizeof(RiskVenue))
            for i in range(self.b.n_venues, v + 1):
                memset(&self.b.venues[i], 0, sizeof(RiskVenue))
            self.b.n_venues = v + 1
        return 0

    cdef int _ensure_inst(self, int32_t k) except -1:
        cdef int32_t i
        cdef RiskInstrument* ins
        if k >= self.b.n_insts:
            self.b.insts = <RiskInstrument*>_realloc_array(self.b.insts, k + 1,
                                                           sizeof(RiskInstrument))
            for i in range(self.b.n_insts, k + 1):
                ins = &self.b.insts[i]
                memset(ins, 0, sizeof(RiskInstrument))
                ins.tick = 1
                ins.lot = 1
                ins.max_size = INT64_MAX
                ins.max_notional = INT64_MAX
                ins.max_position = INT64_MAX
                ins.max_open_orders = INT64_MAX
                ins.band_ticks = -1
                ins.band_bps = -1
                ins.band_abs = INT64_MAX
                ins.best_own_bid = INT64_MIN
                ins.best_own_ask = INT64_MAX
                _clear_batch_reservations(ins)
            self.b.n_insts = k + 1
        return 0

    cdef int32_t _index(self, object inst) except -1:
        """A registered instrument index (TypeError for a non-int, KeyError when unknown)."""
        cdef int64_t k = fx_int_arg(inst, "inst")
        if _registered(&self.b, _code_or(k, INT32_MAX)) == NULL:
            raise KeyError(f"instrument index {k} is not registered")
        return <int32_t>k

    cdef RiskInstrument* _inst(self, object inst) except NULL:
        return &self.b.insts[self._index(inst)]

    def set_instrument(self, index, *, price_decimals, size_decimals, venue=0, tick=1, lot=1,
                       min_size=0, max_size=None, min_notional=0, max_notional=None,
                       max_position=None, band_ticks=None, band_bps=None, max_open_orders=None,
                       self_trade_prevention=True):
        """Register or change the limits of instrument ``index`` (state is kept)."""
        self._guard()
        cdef int64_t k = fx_int_arg(index, "index")
        if k < 0 or k > MAX_INSTRUMENT_INDEX:
            raise ValueError(f"index must be 0..{MAX_INSTRUMENT_INDEX}, got {k}")
        cdef int pd = fx_decimals_arg(price_decimals, "price_decimals")
        cdef int sd = fx_decimals_arg(size_decimals, "size_decimals")
        cdef int64_t v = fx_int_arg(venue, "venue")
        if v < 0 or v > MAX_VENUE_INDEX:
            raise ValueError(f"venue must be 0..{MAX_VENUE_INDEX}, got {v}")
        cdef int64_t tk = fx_int_arg(tick, "tick")
        cdef int64_t lt = fx_int_arg(lot, "lot")
        if tk <= 0:
            raise ValueError(f"tick must be positive, got {tk}")
        if lt <= 0:
            raise ValueError(f"lot must be positive, got {lt}")
        cdef int64_t mns = _nonnegative_arg(min_size, "min_size")
        cdef int64_t mxs = _limit_arg(max_size, "max_size")
        cdef int64_t mnn = _nonnegative_arg(min_notional, "min_notional")
        cdef int64_t mxn = _limit_arg(max_notional, "max_notional")
        cdef int64_t mxp = _limit_arg(max_position, "max_position")
        cdef int64_t bt = -1 if band_ticks is None else _nonnegative_arg(band_ticks, "band_ticks")
        cdef int64_t bb = -1 if band_bps is None else _nonnegative_arg(band_bps, "band_bps")
        cdef int64_t mxo = _limit_arg(max_open_orders, "max_open_orders")
        cdef bint stp = fx_bool_arg(self_trade_prevention, "self_trade_prevention")
        if k < self.b.n_insts and self.b.insts[k].registered and (
                self.b.insts[k].price_decimals != pd or self.b.insts[k].size_decimals != sd):
            raise ValueError("an instrument's decimals cannot change while registered")
        # everything is valid: only allocation can fail from here, and it changes no limit
        self._ensure_venue(<int32_t>v)
        self._ensure_inst(<int32_t>k)
        cdef RiskInstrument* ins = &self.b.insts[k]
        ins.price_decimals = pd
        ins.size_decimals = sd
        ins.notional_exp = self.b.notional_decimals - pd - sd        # -36 .. 18
        ins.notional_scale = (<int64_t>HFX_POW10[abs(ins.notional_exp)]
                              if abs(ins.notional_exp) <= 18 else 0)
        ins.venue = <int32_t>v
        ins.tick = tk
        ins.lot = lt
        ins.min_size = mns
        ins.max_size = mxs
        ins.min_notional = mnn
        ins.max_notional = mxn
        ins.max_position = mxp
        ins.band_ticks = bt
        ins.band_bps = bb
        _derive_price_band(ins)
        ins.max_open_orders = mxo
        ins.stp = stp
        ins.registered = 1

    def set_venue(self, venue, *, order_rate=0, order_burst=0, order_weight=1, cancel_rate=0,
                  cancel_burst=0, cancel_weight=1, now_ns=0):
        """Token buckets of a venue (rates in weight units per second; burst 0 turns off)."""
        self._guard()
        cdef int64_t v = fx_int_arg(venue, "venue")
        if v < 0 or v > MAX_VENUE_INDEX:
            raise ValueError(f"venue must be 0..{MAX_VENUE_INDEX}, got {v}")
        cdef int64_t values[6]
        names = ("order_rate", "order_burst", "order_weight", "cancel_rate", "cancel_burst",
                 "cancel_weight")
        for i, value in enumerate((order_rate, order_burst, order_weight, cancel_rate,
                                   cancel_burst, cancel_weight)):
            values[i] = fx_int_arg(value, names[i])
            if values[i] < 0 or values[i] > RISK_MAX_RATE:
                raise ValueError(f"{names[i]} must be in 0..9e9, got {values[i]}")
        cdef int64_t now = _time_arg(now_ns, "now_ns")
        self._ensure_venue(<int32_t>v)
        if now == 0:
            now = risk_now_ns()
        cdef RiskVenue* rv = &self.b.venues[v]
        _configure_bucket(&rv.orders, values[1], values[0], values[2], now)
        _configure_bucket(&rv.cancels, values[4], values[3], values[5], now)

    def set_global(self, *, max_gross=None, max_net=None, max_open_orders=None,
                   max_daily_loss=None, max_errors=None, error_window_ns=1_000_000_000,
                   error_cooldown_ns=60_000_000_000):
        """Book-wide limits (notional_decimals; ``None`` turns one off)."""
        self._guard()
        cdef int64_t g = _limit_arg(max_gross, "max_gross")
        cdef int64_t n = _limit_arg(max_net, "max_net")
        cdef int64_t o = _limit_arg(max_open_orders, "max_open_orders")
        cdef int64_t l = _limit_arg(max_daily_loss, "max_daily_loss")
        cdef int64_t e = _limit_arg(max_errors, "max_errors")
        cdef int64_t w = fx_int_arg(error_window_ns, "error_window_ns")
        cdef int64_t c = _nonnegative_arg(error_cooldown_ns, "error_cooldown_ns")
        if w <= 0:
            raise ValueError(f"error_window_ns must be positive, got {w}")
        self.b.max_gross = g
        self.b.max_net = n
        self.b.max_open_orders = o
        self.b.max_daily_loss = l
        self.b.err_max = e
        self.b.err_window_ns = w
        self.b.err_cooldown_ns = c
        if e == INT64_MAX:
            self.b.err_tripped = 0
            self.b.err_tripped_until = 0
        _derive_loss_breached(&self.b)

    def check(self, inst, side, price, qty, order_type=0, now_ns=0):
        """Full pre-trade check of one order; returns the reason code (0 passes).

        An index that is not registered, a side other than 0/1 and an unknown order type are
        reasons (``UNKNOWN_INSTRUMENT``, ``BAD_SIDE``, ``BAD_ORDER_TYPE``); a non-int argument
        raises ``TypeError`` naming it, a negative ``now_ns`` ``ValueError``.
        """
        cdef int64_t i, s, p, q, t, now
        # exact ints are converted inline (Cython's conversion): this is the hot path
        try:
            i = <int64_t>inst if PyLong_CheckExact(inst) else fx_int_arg(inst, "inst")
            s = <int64_t>side if PyLong_CheckExact(side) else fx_int_arg(side, "side")
            p = <int64_t>price if PyLong_CheckExact(price) else fx_int_arg(price, "price")
            q = <int64_t>qty if PyLong_CheckExact(qty) else fx_int_arg(qty, "qty")
            t = (<int64_t>order_type if PyLong_CheckExact(order_type)
                 else fx_int_arg(order_type, "order_type"))
            now = <int64_t>now_ns if PyLong_CheckExact(now_ns) else fx_int_arg(now_ns, "now_ns")
        except OverflowError:
            _raise_named_overflow((inst, side, price, qty, order_type, now_ns),
                                  ("inst", "side", "price", "qty", "order_type", "now_ns"))
            raise
        if now < 0:
            raise ValueError(f"now_ns must be >= 0 (0 reads the clock), got {now}")
        if self._busy:
            self._guard()
        return risk_check(&self.b, _code_or(i, INT32_MAX), _code_or(s, 1), p, q,
                          _code_or(t, OT_LIMIT_MAKER), now)

    def check_cancel(self, venue, now_ns=0):
        """Rate-limit check of one cancel request; returns the reason code (0 passes)."""
        cdef int64_t v = fx_int_arg(venue, "venue")
        cdef int64_t now = _time_arg(now_ns, "now_ns")
        self._guard()
        return risk_check_cancel(&self.b, _code_or(v, INT32_MAX), now)

    def check_batch(self, inst, side, price, qty, order_type, reasons, now_ns=0):
        """Check arrays of orders without the GIL; writes one reason per order, returns #passed.

        ``inst`` int32, ``side`` and ``order_type`` uint8, ``price`` and ``qty`` int64,
        ``reasons`` a writeable uint8 array at least as long (one-dimensional, C-contiguous).
        """
        cdef const int32_t[::1] inst_v = _batch_array(inst, "inst", np.int32, False)
        cdef const uint8_t[::1] side_v = _batch_array(side, "side", np.uint8, False)
        cdef const int64_t[::1] price_v = _batch_array(price, "price", np.int64, False)
        cdef const int64_t[::1] qty_v = _batch_array(qty, "qty", np.int64, False)
        cdef const uint8_t[::1] type_v = _batch_array(order_type, "order_type", np.uint8, False)
        cdef uint8_t[::1] reasons_v = _batch_array(reasons, "reasons", np.uint8, True)
        cdef int64_t now = _time_arg(now_ns, "now_ns")
        cdef Py_ssize_t n = inst_v.shape[0]
        cdef Py_ssize_t passed
        if (side_v.shape[0] != n or price_v.shape[0] != n or qty_v.shape[0] != n
                or type_v.shape[0] != n or reasons_v.shape[0] < n):
            raise ValueError("check_batch: arrays must have the same length")
        self._guard()
        if n == 0:
            return 0
        self._busy = True
        try:
            with nogil:
                passed = risk_check_batch(&self.b, n, &inst_v[0], &side_v[0], &price_v[0],
                                          &qty_v[0], &type_v[0], now, &reasons_v[0])
        finally:
            self._busy = False
        return passed

    def notional(self, inst, price, qty):
        """price * qty at notional_decimals, rounded up, as the checks count it."""
        cdef RiskInstrument* ins = self._inst(inst)
        cdef int64_t p = fx_int_arg(price, "price")
        cdef int64_t q = fx_int_arg(qty, "qty")
        cdef int64_t out = 0
        if risk_notional(&self.b, ins, p, q, &out):
            raise OverflowError("notional out of the int64 range")
        return out

    def order_open(self, inst, side, price, qty):
        """Count a sent order as open (worst-case exposure, open-order counts, own best price)."""
        cdef int32_t k = self._index(inst)
        cdef int sd = _side_arg(side)
        cdef int64_t p = _nonnegative_arg(price, "price")
        cdef int64_t q = _nonnegative_arg(qty, "qty")
        self._guard()
        cdef int rc = risk_order_open(&self.b, k, sd, p, q)
        if rc:
            self._raise_update(rc, "order_open")

    def order_reduce(self, inst, side, price, old_qty, new_qty, closed=False):
        """An open order's remaining size changed (or it closed: ``closed=True``)."""
        cdef int32_t k = self._index(inst)
        cdef int sd = _side_arg(side)
        cdef int64_t p = _nonnegative_arg(price, "price")
        cdef int64_t old = _nonnegative_arg(old_qty, "old_qty")
        cdef int64_t new = _nonnegative_arg(new_qty, "new_qty")
        cdef bint done = fx_bool_arg(closed, "closed")
        if new > old and not done:
            raise ValueError(f"new_qty {new} is above old_qty {old}: use order_replace")
        self._guard()
        cdef int rc = risk_order_reduce(&self.b, k, sd, p, old,
                                        new, done)
        if rc:
            self._raise_update(rc, "order_reduce")

    def order_fill(self, inst, side, price, remaining, qty, counted=True):
        """A fill of ``qty``: the position moves; when ``counted``, the open order (``remaining``
        at ``price``) shrinks by it and closes at zero.  All or nothing."""
        cdef int32_t k = self._index(inst)
        cdef int sd = _side_arg(side)
        cdef int64_t p = _nonnegative_arg(price, "price")
        cdef int64_t rem = _nonnegative_arg(remaining, "remaining")
        cdef int64_t q = fx_int_arg(qty, "qty")
        cdef bint c = fx_bool_arg(counted, "counted")
        if q <= 0:
            raise ValueError(f"qty must be positive, got {q}")
        self._guard()
        cdef int rc = risk_order_fill(&self.b, k, sd, p, rem, q, c)
        if rc:
            self._raise_update(rc, "order_fill")

    def order_replace(self, inst, side, old_price, old_qty, new_price, new_qty):
        """An open order moved from (old_price, old_qty) to (new_price, new_qty) remaining."""
        cdef int32_t k = self._index(inst)
        cdef int sd = _side_arg(side)
        cdef int64_t op = _nonnegative_arg(old_price, "old_price")
        cdef int64_t oq = _nonnegative_arg(old_qty, "old_qty")
        cdef int64_t np_ = _nonnegative_arg(new_price, "new_price")
        cdef int64_t nq = _nonnegative_arg(new_qty, "new_qty")
        self._guard()
        cdef int rc = risk_order_replace(&self.b, k, sd, op, oq,
                                         np_, nq)
        if rc:
            self._raise_update(rc, "order_replace")

    # -- open orders by id (the order manager's reports) ---------------------------------------
    @property
    def open_orders(self):
        """The open orders counted by id (``{order_id: _OpenOrder}``, oldest first): the dict
        itself, to read; change it only through the ``track_*`` methods."""
        return self._open

    cdef dict _side_levels(self, int32_t k, int sd):
        while len(self._levels) <= k:
            self._levels.append(({}, {}))
        return <dict>(<tuple>self._levels[k])[sd]

    cdef int _release_level(self, int32_t k, int sd, int64_t px) except -1:
        """One open order at ``px`` is gone; move the own best price only if its level
        emptied."""
        cdef dict levels = self._side_levels(k, sd)
        cdef RiskInstrument* ins = &self.b.insts[k]
        key = px
        cdef int64_t count = <int64_t>levels[key] - 1
        if count:
            levels[key] = count
            return 0
        del levels[key]
        if sd == 0:
            if ins.best_own_bid == px:
                ins.best_own_bid = _best_of(levels, 0)
        elif ins.best_own_ask == px:
            ins.best_own_ask = _best_of(levels, 1)
        return 0

    cdef int _track_open(self, object order_id, int32_t k, int sd, int64_t price,
                         int64_t qty) except -1:
        """An order was sent (``k`` an index, ``sd`` 0/1): count its whole size as open; an id
        counted already is ignored."""
        cdef int rc
        cdef _OpenOrder o
        cdef dict levels
        if order_id in self._open:
            return 0
        self._index(k)
        if price < 0:
            raise ValueError(f"price must be >= 0, got {price}")
        if qty < 0:
            raise ValueError(f"qty must be >= 0, got {qty}")
        self._guard()
        rc = risk_order_open(&self.b, k, sd, price, qty)
        if rc:
            self._raise_update(rc, "order_open")
        o = _OpenOrder.__new__(_OpenOrder)
        o.index = k
        o.side = sd
        o.price = price
        o.remaining = qty
        levels = self._side_levels(k, sd)
        key = price
        levels[key] = <int64_t>levels.get(key, 0) + 1
        self._open[order_id] = o          # the own best price moved with risk_order_open
        return 0

    cdef int _track_fill(self, object order_id, int32_t k, int sd, int64_t qty) except -1:
        """A fill of ``qty`` (> 0) of an order of instrument ``k``, side ``sd``: the position
        moves, the open size shrinks (all or nothing).  Returns 1 without changing anything
        when the open order has another side or instrument (the caller's error to raise)."""
        cdef _OpenOrder o
        cdef int rc
        obj = self._open.get(order_id)
        if obj is None:
            self._index(k)
            if qty <= 0:
                raise ValueError(f"qty must be positive, got {qty}")
            self._guard()
            rc = risk_order_fill(&self.b, k, sd, 0, 0, qty, False)
            if rc:
                self._raise_update(rc, "order_fill")
            return 0
        o = <_OpenOrder>obj
        if o.side != sd or o.index != k:
            return 1
        if qty <= 0:
            raise ValueError(f"qty must be positive, got {qty}")
        self._guard()
        rc = risk_order_fill(&self.b, k, sd, o.price, o.remaining, qty, True)
        if rc:
            self._raise_update(rc, "order_fill")
        if qty < o.remaining:
            o.remaining = o.remaining - qty
        else:
            del self._open[order_id]
            self._release_level(k, sd, o.price)
        return 0

    cdef int _track_replaced(self, object order_id, int64_t price, int64_t remaining) except -1:
        """An open order now rests at ``price`` with ``remaining`` size (unknown ids: nothing)."""
        cdef _OpenOrder o
        cdef int rc
        cdef dict levels
        cdef RiskInstrument* ins
        cdef int64_t count
        obj = self._open.get(order_id)
        if obj is None:
            return 0
        o = <_OpenOrder>obj
        if price < 0 or remaining < 0:
            raise ValueError(f"price and remaining must be >= 0, got {price} and {remaining}")
        self._guard()
        # release the old price and size, reserve the new ones (the order count is unchanged)
        rc = risk_order_replace(&self.b, o.index, o.side, o.price, o.remaining, price, remaining)
        if rc:
            self._raise_update(rc, "order_replace")
        old = o.price
        o.price = price
        o.remaining = remaining
        levels = self._side_levels(o.index, o.side)
        key = price
        levels[key] = <int64_t>levels.get(key, 0) + 1
        count = <int64_t>levels[old] - 1
        if count:
            levels[old] = count
        else:
            del levels[old]
        ins = &self.b.insts[o.index]
        ins.best_own_bid = _best_of(self._side_levels(o.index, 0), 0)
        ins.best_own_ask = _best_of(self._side_levels(o.index, 1), 1)
        return 0

    cdef int _track_closed(self, object order_id) except -1:
        """An order is done: release what it reserved (unknown ids: nothing)."""
        cdef _OpenOrder o
        cdef int rc
        obj = self._open.get(order_id)
        if obj is None:
            return 0
        o = <_OpenOrder>obj
        self._guard()
        rc = risk_order_reduce(&self.b, o.index, o.side, o.price, o.remaining, 0, True)
        if rc:
            self._raise_update(rc, "order_reduce")
        del self._open[order_id]
        self._release_level(o.index, o.side, o.price)
        return 0

    def track_open(self, order_id, inst, side, price, qty):
        """Count a sent order as open by its id (ignored when the id is open already)."""
        if order_id in self._open:
            return
        cdef int32_t k = self._index(inst)
        cdef int sd = _side_arg(side)
        cdef int64_t p = _nonnegative_arg(price, "price")
        cdef int64_t q = _nonnegative_arg(qty, "qty")
        self._track_open(order_id, k, sd, p, q)

    def track_fill(self, order_id, inst, side, qty):
        """A fill of an order (counted open or not): the position moves and its open size
        shrinks.  ``ValueError`` when the open order has another side or instrument."""
        cdef int32_t k = self._index(inst)
        cdef int sd = _side_arg(side)
        cdef int64_t q = fx_int_arg(qty, "qty")
        if self._track_fill(order_id, k, sd, q):
            raise ValueError(f"order {order_id} is open on another side or instrument")

    def track_replaced(self, order_id, price, remaining):
        """An open order now rests at ``price`` with ``remaining`` size."""
        cdef int64_t p = fx_int_arg(price, "price")
        cdef int64_t r = fx_int_arg(remaining, "remaining")
        self._track_replaced(order_id, p, r)

    def track_closed(self, order_id):
        """An order is done: release what it reserved."""
        self._track_closed(order_id)

    def set_best_own(self, inst, best_bid, best_ask):
        """Best prices of our resting orders (``None``: none) for self-trade prevention."""
        cdef RiskInstrument* ins = self._inst(inst)
        cdef int64_t bid = INT64_MIN if best_bid is None else fx_int_arg(best_bid, "best_bid")
        cdef int64_t ask = INT64_MAX if best_ask is None else fx_int_arg(best_ask, "best_ask")
        self._guard()
        ins.best_own_bid = bid
        ins.best_own_ask = ask

    def set_position(self, inst, position):
        """Net position of an instrument (size raw, signed)."""
        cdef int32_t k = self._index(inst)
        cdef int64_t pos = fx_int_arg(position, "position")
        self._guard()
        risk_set_position(&self.b, k, pos)

    def add_position(self, inst, delta):
        """Add a signed fill size to the net position of an instrument."""
        cdef int32_t k = self._index(inst)
        cdef int64_t d = fx_int_arg(delta, "delta")
        cdef int64_t pos
        if hfx_add(self.b.insts[k].position, d, &pos):
            raise OverflowError("position out of the int64 range")
        self._guard()
        risk_set_position(&self.b, k, pos)

    def set_reference(self, inst, price):
        """Reference price (last trade, mid or mark) for price bands and exposure."""
        cdef int32_t k = self._index(inst)
        cdef int64_t p = fx_int_arg(price, "price")
        if p < 0:
            raise ValueError(f"reference price must not be negative, got {p}")
        self._guard()
        risk_set_reference(&self.b, k, p)

    def set_pnl(self, realized, unrealized):
        """Today's realized and unrealized PnL (notional_decimals) for the daily loss limit."""
        cdef int64_t r = fx_int_arg(realized, "realized")
        cdef int64_t u = fx_int_arg(unrealized, "unrealized")
        self._guard()
        self.b.realized_pnl = r
        self.b.unrealized_pnl = u
        _derive_loss_breached(&self.b)

    def record_error(self, now_ns=0):
        """A venue reject or timeout, for the error-rate circuit breaker."""
        cdef int64_t now = _time_arg(now_ns, "now_ns")
        self._guard()
        risk_record_error(&self.b, now)

    def reset_breaker(self):
        """Close the error-rate breaker now."""
        self._guard()
        self.b.err_tripped = 0
        self.b.err_tripped_until = 0
        self.b.err_count = 0

    @property
    def state(self) -> int:
        return self.b.state

    @state.setter
    def state(self, value):
        cdef int64_t v = fx_int_arg(value, "state")
        if v < TS_ACTIVE or v > TS_HALTED:
            raise ValueError(f"state must be 0 (ACTIVE), 1 (REDUCING) or 2 (HALTED), got {v}")
        self.b.state = <int32_t>v

    @property
    def killed(self) -> bool:
        return bool(self.b.killed)

    @killed.setter
    def killed(self, value):
        self.b.killed = fx_bool_arg(value, "killed")

    def counts(self):
        """Decisions per reason code (a list indexed by code)."""
        return [self.b.counts[i] for i in range(RR_COUNT)]

    def reset_counts(self):
        self._guard()
        memset(self.b.counts, 0, sizeof(self.b.counts))

    def instrument_state(self, inst):
        """Limits and state of one instrument as a dict (for reports and tests).

        ``position_notional`` is ``None`` when position x reference does not fit in int64.
        """
        cdef RiskInstrument* s = self._inst(inst)
        return {
            "venue": s.venue, "position": s.position,
            "open_buy_qty": _wide_to_int(s.open_buy_qty),
            "open_sell_qty": _wide_to_int(s.open_sell_qty), "open_orders": s.open_orders,
            "best_own_bid": None if s.best_own_bid == INT64_MIN else s.best_own_bid,
            "best_own_ask": None if s.best_own_ask == INT64_MAX else s.best_own_ask,
            "ref_price": s.ref_price,
            "position_notional": None if s.position_unbounded else s.position_notional,
        }

    def book_state(self):
        """Book-wide state as a dict (exposures as exact ints, which may exceed int64).

        ``unbounded_exposures`` counts open orders and positions whose notional does not fit
        in int64; they are left out of the sums and, while there are any, the gross and net
        limits refuse every order that does not reduce a position.
        """
        return {
            "state": self.b.state, "killed": bool(self.b.killed),
            "open_orders": self.b.open_orders,
            "gross_position": _wide_to_int(self.b.gross_position),
            "net_position": _wide_to_int(self.b.net_position),
            "open_buy_notional": _wide_to_int(self.b.open_buy_notional),
            "open_sell_notional": _wide_to_int(self.b.open_sell_notional),
            "unbounded_exposures": self.b.unbounded_exposures,
            "realized_pnl": self.b.realized_pnl, "unrealized_pnl": self.b.unrealized_pnl,
            "breaker_until_ns": self.b.err_tripped_until if self.b.err_tripped else 0,
        }


cdef void _configure_bucket(TokenBucket* t, int64_t burst, int64_t rate, int64_t weight,
                            int64_t now_ns) noexcept nogil:
    cdef int64_t cap = burst * <int64_t>1000000000     # burst <= RISK_MAX_RATE: < 9.0e18
    t.capacity = burst
    t.rate = rate
    t.weight = weight
    if t.level_ns > cap or t.last_ns == 0:
        t.level_ns = cap     # a new bucket starts full; a smaller one is cut down
    if t.last_ns == 0:
        t.last_ns = now_ns
