"""Pre-trade risk checks over C structs (see ``risk.pxd`` for the layout and reason codes).

``risk_check`` is one ``noexcept nogil`` function: it reads the limits and state of one
instrument, its venue's token bucket and the book-wide limits, and returns a reason code
(``RR_OK`` = 0 passes).  Every decision is counted per reason.  ``RiskCore`` is the thin Python
face used by :class:`hftcore.risk.RiskEngine`.
"""
cimport cython
from cpython.mem cimport PyMem_Realloc, PyMem_Free
from libc.stdint cimport int64_t, int32_t, uint8_t, uint64_t, INT64_MAX, INT64_MIN
from libc.string cimport memset
from posix.time cimport clock_gettime, timespec

from hftcore._ext.fixed cimport HFX_POW10, hfx_add, hfx_sub, hfx_mul, RND_UP, RND_AWAY_FROM_ZERO

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from *:
    """
    #include <time.h>
    typedef __int128 risk_i128;
    /* The coarse clock costs ~10 ns where CLOCK_MONOTONIC costs ~60 ns (measured in a VM); it
       lags by at most one kernel tick (1-4 ms), which only ever makes buckets refill later. */
    #ifdef CLOCK_MONOTONIC_COARSE
    #define HFT_RISK_CLOCK CLOCK_MONOTONIC_COARSE
    #else
    #define HFT_RISK_CLOCK CLOCK_MONOTONIC
    #endif
    """
    ctypedef long long risk_i128
    const int HFT_RISK_CLOCK


__all__ = ["RiskCore", "REASON_COUNT", "NO_LIMIT"]

REASON_COUNT = RR_COUNT
NO_LIMIT = INT64_MAX


cdef int64_t risk_now_ns() noexcept nogil:
    """CLOCK_MONOTONIC_COARSE (where it exists) in nanoseconds: same epoch as CLOCK_MONOTONIC."""
    cdef timespec ts
    clock_gettime(HFT_RISK_CLOCK, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef inline int _decide(RiskBook* b, int reason) noexcept nogil:
    b.counts[reason] += 1
    return reason


cdef inline bint _bucket_take(TokenBucket* t, int64_t now_ns) noexcept nogil:
    """Refill to ``now_ns`` and take ``weight`` tokens if there are enough."""
    cdef risk_i128 level
    cdef int64_t cap = t.capacity * <int64_t>1000000000
    cdef int64_t elapsed = now_ns - t.last_ns
    cdef int64_t cost = t.weight * <int64_t>1000000000
    if elapsed > 0:
        level = <risk_i128>t.level_ns + <risk_i128>elapsed * <risk_i128>t.rate
        t.level_ns = cap if level > <risk_i128>cap else <int64_t>level
        t.last_ns = now_ns
    if t.level_ns < cost:
        return False
    t.level_ns -= cost
    return True


cdef int risk_notional(RiskBook* b, RiskInstrument* ins, int64_t price, int64_t qty,
                       int64_t* out) noexcept nogil:
    """price * qty in quote currency at notional_decimals, rounded up (never under-counted).

    Positive operands whose product fits in 63 bits take a 64-bit path (one multiply, or one
    64-bit division); everything else goes through hfx_mul's 128-bit arithmetic.  Both are
    exact and round the same way.
    """
    cdef uint64_t p, s
    if (price > 0 and qty > 0 and price < 3037000499LL and qty < 3037000499LL
            and ins.notional_scale != 0):
        p = <uint64_t>price * <uint64_t>qty           # < 2^63
        s = <uint64_t>ins.notional_scale
        if ins.notional_exp >= 0:
            if p <= <uint64_t>INT64_MAX // s:
                out[0] = <int64_t>(p * s)
                return 0
        else:
            out[0] = <int64_t>((p + s - 1) // s)      # ceiling of a positive quotient
            return 0
    return hfx_mul(price, ins.price_decimals, qty, ins.size_decimals, b.notional_decimals,
                   RND_UP, out)


cdef inline int _check(RiskBook* b, int32_t inst, int side, int64_t price, int64_t qty,
                       int order_type, int64_t now_ns, int64_t* notional_out) noexcept nogil:
    cdef RiskInstrument* ins
    cdef int64_t notional = 0
    cdef int64_t diff
    cdef int64_t after = 0
    cdef int64_t s1 = 0
    cdef bint reduces, is_market, ovf
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
    # -- exposure, counting every open order of the same side as if it filled --
    # worst case position if every open order of this side (and this one) filled; 64-bit with
    # overflow checks: an overflow is beyond any limit and never "reducing"
    if side == 0:
        ovf = (hfx_add(ins.position, ins.open_buy_qty, &after)
               or hfx_add(after, ins.pend_buy_qty, &after) or hfx_add(after, qty, &after))
        reduces = not ovf and ins.position < 0 and after <= 0
    else:
        ovf = (hfx_sub(ins.position, ins.open_sell_qty, &after)
               or hfx_sub(after, ins.pend_sell_qty, &after) or hfx_sub(after, qty, &after))
        reduces = not ovf and ins.position > 0 and after >= 0
    if not reduces:
        if b.state == TS_REDUCING:
            return RR_REDUCE_ONLY
        if ins.max_position != RISK_OFF and (
                ovf or after > ins.max_position or after < -ins.max_position):
            return RR_POSITION_LIMIT
        # 64-bit sums; an overflow means "beyond any int64 limit"
        if b.max_gross != RISK_OFF:
            if (hfx_add(b.gross_position, b.open_buy_notional, &s1)
                    or hfx_add(s1, b.open_sell_notional, &s1)
                    or hfx_add(s1, b.pend_buy_notional, &s1)
                    or hfx_add(s1, b.pend_sell_notional, &s1)
                    or hfx_add(s1, notional, &s1) or s1 > b.max_gross):
                return RR_GROSS_EXPOSURE
        if b.max_net != RISK_OFF:
            if side == 0:
                ovf = (hfx_add(b.net_position, b.open_buy_notional, &s1)
                       or hfx_add(s1, b.pend_buy_notional, &s1) or hfx_add(s1, notional, &s1))
            else:
                ovf = (hfx_sub(b.net_position, b.open_sell_notional, &s1)
                       or hfx_sub(s1, b.pend_sell_notional, &s1) or hfx_sub(s1, notional, &s1))
            if ovf or s1 > b.max_net or s1 < -b.max_net:
                return RR_NET_EXPOSURE
        if b.max_daily_loss != RISK_OFF and (
                <risk_i128>b.realized_pnl + b.unrealized_pnl < -<risk_i128>b.max_daily_loss):
            return RR_DAILY_LOSS
    # -- open orders --
    if ins.max_open_orders != RISK_OFF and ins.open_orders + ins.pend_orders >= ins.max_open_orders:
        return RR_OPEN_ORDERS_INSTRUMENT
    if b.max_open_orders != RISK_OFF and b.open_orders + b.pend_orders >= b.max_open_orders:
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
    if b.err_tripped_until > 0 or b.venues[ins.venue].orders.capacity > 0:
        if now_ns == 0:
            now_ns = risk_now_ns()
        if now_ns < b.err_tripped_until:
            return RR_ERROR_RATE
        if b.venues[ins.venue].orders.capacity > 0 and not _bucket_take(
                &b.venues[ins.venue].orders, now_ns):
            return RR_RATE_ORDERS
    return RR_OK


cdef int risk_check(RiskBook* b, int32_t inst, int side, int64_t price, int64_t qty,
                    int order_type, int64_t now_ns) noexcept nogil:
    """The full pre-trade check of one order; returns RR_OK (0) or the first failing reason."""
    cdef int64_t notional = 0
    return _decide(b, _check(b, inst, side, price, qty, order_type, now_ns, &notional))


cdef int risk_check_cancel(RiskBook* b, int32_t venue, int64_t now_ns) noexcept nogil:
    """Cancels are allowed in every state (the kill switch needs them); only the bucket limits."""
    if venue < 0 or venue >= b.n_venues:
        return _decide(b, RR_UNKNOWN_INSTRUMENT)
    if b.venues[venue].cancels.capacity > 0:
        if now_ns == 0:
            now_ns = risk_now_ns()
        if not _bucket_take(&b.venues[venue].cancels, now_ns):
            return _decide(b, RR_RATE_CANCELS)
    return _decide(b, RR_OK)


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
        r = _decide(b, _check(b, inst[i], side[i], price[i], qty[i], order_type[i], now_ns,
                              &notional))
        reasons[i] = <uint8_t>r
        if r == RR_OK:
            passed += 1
            ins = &b.insts[inst[i]]
            ins.pend_orders += 1
            b.pend_orders += 1
            if side[i] == 0:
                ins.pend_buy_qty += qty[i]
                b.pend_buy_notional += notional
                if price[i] > ins.pend_bid:
                    ins.pend_bid = price[i]
            else:
                ins.pend_sell_qty += qty[i]
                b.pend_sell_notional += notional
                if price[i] < ins.pend_ask:
                    ins.pend_ask = price[i]
    if passed:
        for i in range(n):
            if reasons[i] == RR_OK:
                _clear_pending(&b.insts[inst[i]])
        b.pend_orders = 0
        b.pend_buy_notional = 0
        b.pend_sell_notional = 0
    return passed


cdef inline void _clear_pending(RiskInstrument* ins) noexcept nogil:
    ins.pend_buy_qty = 0
    ins.pend_sell_qty = 0
    ins.pend_orders = 0
    ins.pend_bid = INT64_MIN
    ins.pend_ask = INT64_MAX


cdef int risk_order_open(RiskBook* b, int32_t inst, int side, int64_t price,
                         int64_t qty) noexcept nogil:
    """Count a sent order as open: its whole size is worst-case exposure until it is done."""
    cdef RiskInstrument* ins
    cdef int64_t notional = 0
    cdef int rc
    if inst < 0 or inst >= b.n_insts or not b.insts[inst].registered:
        return RR_UNKNOWN_INSTRUMENT
    ins = &b.insts[inst]
    rc = risk_notional(b, ins, price, qty, &notional)
    if rc:
        notional = INT64_MAX // 4     # unknowable: count it as huge rather than as nothing
    ins.open_orders += 1
    b.open_orders += 1
    if side == 0:
        ins.open_buy_qty += qty
        b.open_buy_notional += notional
        if price > ins.best_own_bid:
            ins.best_own_bid = price
    else:
        ins.open_sell_qty += qty
        b.open_sell_notional += notional
        if price < ins.best_own_ask:
            ins.best_own_ask = price
    return RR_OK


cdef int risk_order_reduce(RiskBook* b, int32_t inst, int side, int64_t price, int64_t old_qty,
                           int64_t new_qty, bint closed) noexcept nogil:
    """An open order's remaining size went from old_qty to new_qty (fill, replace) or closed."""
    cdef RiskInstrument* ins
    cdef int64_t n_old = 0, n_new = 0
    if inst < 0 or inst >= b.n_insts or not b.insts[inst].registered:
        return RR_UNKNOWN_INSTRUMENT
    ins = &b.insts[inst]
    if closed:
        new_qty = 0
    if risk_notional(b, ins, price, old_qty, &n_old):
        n_old = INT64_MAX // 4
    if new_qty and risk_notional(b, ins, price, new_qty, &n_new):
        n_new = INT64_MAX // 4
    if side == 0:
        ins.open_buy_qty -= old_qty - new_qty
        b.open_buy_notional -= n_old - n_new
    else:
        ins.open_sell_qty -= old_qty - new_qty
        b.open_sell_notional -= n_old - n_new
    if closed:
        ins.open_orders -= 1
        b.open_orders -= 1
    return RR_OK


cdef inline void _mark_position(RiskBook* b, RiskInstrument* ins) noexcept nogil:
    cdef int64_t v = 0
    cdef int64_t old = ins.position_notional
    if ins.ref_price > 0 and ins.position != 0:
        if hfx_mul(ins.position, ins.size_decimals, ins.ref_price, ins.price_decimals,
                   b.notional_decimals, RND_AWAY_FROM_ZERO, &v):
            v = INT64_MAX // 4 if ins.position > 0 else -(INT64_MAX // 4)
    ins.position_notional = v
    b.net_position += v - old
    b.gross_position += (v if v >= 0 else -v) - (old if old >= 0 else -old)


cdef int risk_set_position(RiskBook* b, int32_t inst, int64_t position) noexcept nogil:
    if inst < 0 or inst >= b.n_insts or not b.insts[inst].registered:
        return RR_UNKNOWN_INSTRUMENT
    b.insts[inst].position = position
    _mark_position(b, &b.insts[inst])
    return RR_OK


cdef void _derive_band(RiskInstrument* ins) noexcept nogil:
    """band_abs = the largest |price - ref| both bands allow: diff <= ticks * tick, and
    diff * 10000 <= ref * bps  <=>  diff <= floor(ref * bps / 10000) for integer diff."""
    cdef risk_i128 lim = <risk_i128>INT64_MAX
    cdef risk_i128 v
    if ins.band_ticks >= 0:
        v = <risk_i128>ins.band_ticks * <risk_i128>ins.tick
        if v < lim:
            lim = v
    if ins.band_bps >= 0 and ins.ref_price > 0:
        v = (<risk_i128>ins.ref_price * <risk_i128>ins.band_bps) // 10000
        if v < lim:
            lim = v
    ins.band_abs = <int64_t>lim


cdef int risk_set_reference(RiskBook* b, int32_t inst, int64_t price) noexcept nogil:
    if inst < 0 or inst >= b.n_insts or not b.insts[inst].registered:
        return RR_UNKNOWN_INSTRUMENT
    b.insts[inst].ref_price = price
    _derive_band(&b.insts[inst])
    _mark_position(b, &b.insts[inst])
    return RR_OK


cdef void risk_record_error(RiskBook* b, int64_t now_ns) noexcept nogil:
    """A venue reject or timeout: more than err_max inside err_window_ns trips the breaker."""
    if b.err_max == RISK_OFF:
        return
    if now_ns == 0:
        now_ns = risk_now_ns()
    if b.err_count == 0 or now_ns - b.err_window_start > b.err_window_ns:
        b.err_window_start = now_ns
        b.err_count = 0
    b.err_count += 1
    if b.err_count > b.err_max:
        b.err_tripped_until = now_ns + b.err_cooldown_ns
        b.err_count = 0


# ------------------------------------------------------------------------------------------------
# Python face

cdef void* _grow(void* p, Py_ssize_t n, size_t item) except NULL:
    """Overflow-checked PyMem_Realloc of n items."""
    if n < 0 or <size_t>n > (<size_t>-1) // item:
        raise MemoryError("risk arrays: size overflow")
    cdef void* q = PyMem_Realloc(p, <size_t>n * item)
    if q == NULL:
        raise MemoryError()
    return q


cdef inline int64_t _lim_max(object v) except? -1:
    return INT64_MAX if v is None else v


@cython.final
cdef class RiskCore:
    """C risk book: instruments and venues by index, global limits, counters.

    Parameters
    ----------
    notional_decimals : int
        Decimals of every notional, exposure and PnL figure (quote currency), 0-18.
    """
    cdef RiskBook b

    def __cinit__(self, int notional_decimals=8):
        memset(&self.b, 0, sizeof(RiskBook))
        if notional_decimals < 0 or notional_decimals > 18:
            raise ValueError(f"notional_decimals must be 0..18, got {notional_decimals}")
        self.b.notional_decimals = notional_decimals
        self.b.max_gross = INT64_MAX
        self.b.max_net = INT64_MAX
        self.b.max_open_orders = INT64_MAX
        self.b.max_daily_loss = INT64_MAX
        self.b.err_max = INT64_MAX
        self.b.insts = NULL
        self.b.venues = NULL

    def __dealloc__(self):
        PyMem_Free(self.b.insts)
        PyMem_Free(self.b.venues)
        self.b.insts = NULL
        self.b.venues = NULL

    @property
    def notional_decimals(self) -> int:
        return self.b.notional_decimals

    cdef int _ensure_venue(self, int32_t v) except -1:
        cdef int32_t i
        if v < 0 or v > 65535:
            raise ValueError(f"venue index {v} outside 0..65535")
        if v >= self.b.n_venues:
            self.b.venues = <RiskVenue*>_grow(self.b.venues, v + 1, sizeof(RiskVenue))
            for i in range(self.b.n_venues, v + 1):
                memset(&self.b.venues[i], 0, sizeof(RiskVenue))
            self.b.n_venues = v + 1
        return 0

    cdef int _ensure_inst(self, int32_t k) except -1:
        cdef int32_t i
        cdef RiskInstrument* ins
        if k < 0 or k > 1000000:
            raise ValueError(f"instrument index {k} outside 0..1000000")
        if k >= self.b.n_insts:
            self.b.insts = <RiskInstrument*>_grow(self.b.insts, k + 1, sizeof(RiskInstrument))
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
                _clear_pending(ins)
            self.b.n_insts = k + 1
        return 0

    cdef RiskInstrument* _inst(self, int32_t k) except NULL:
        if k < 0 or k >= self.b.n_insts or not self.b.insts[k].registered:
            raise KeyError(f"instrument index {k} is not registered")
        return &self.b.insts[k]

    def set_instrument(self, int32_t index, *, int price_decimals, int size_decimals,
                       int32_t venue=0, int64_t tick=1, int64_t lot=1, int64_t min_size=0,
                       max_size=None, int64_t min_notional=0, max_notional=None,
                       max_position=None, band_ticks=None, band_bps=None,
                       max_open_orders=None, bint self_trade_prevention=True):
        """Register or change the limits of instrument ``index`` (state is kept)."""
        if not (0 <= price_decimals <= 18 and 0 <= size_decimals <= 18):
            raise ValueError("decimals must be 0..18")
        if tick <= 0 or lot <= 0:
            raise ValueError("tick and lot must be positive")
        cdef int64_t bt = -1 if band_ticks is None else band_ticks
        cdef int64_t bb = -1 if band_bps is None else band_bps
        if (band_ticks is not None and bt < 0) or (band_bps is not None and bb < 0):
            raise ValueError("price bands must not be negative")
        cdef int64_t mxs = _lim_max(max_size)
        cdef int64_t mxn = _lim_max(max_notional)
        cdef int64_t mxp = _lim_max(max_position)
        cdef int64_t mxo = _lim_max(max_open_orders)
        if min_size < 0 or mxs < 0 or min_notional < 0 or mxn < 0 or mxp < 0 or mxo < 0:
            raise ValueError("limits must not be negative")
        self._ensure_venue(venue)
        self._ensure_inst(index)
        cdef RiskInstrument* ins = &self.b.insts[index]
        if ins.registered and (ins.price_decimals != price_decimals
                               or ins.size_decimals != size_decimals):
            raise ValueError("an instrument's decimals cannot change while registered")
        ins.price_decimals = price_decimals
        ins.size_decimals = size_decimals
        ins.notional_exp = self.b.notional_decimals - price_decimals - size_decimals
        ins.notional_scale = (<int64_t>HFX_POW10[abs(ins.notional_exp)]
                              if abs(ins.notional_exp) <= 18 else 0)
        ins.venue = venue
        ins.tick = tick
        ins.lot = lot
        ins.min_size = min_size
        ins.max_size = mxs
        ins.min_notional = min_notional
        ins.max_notional = mxn
        ins.max_position = mxp
        ins.band_ticks = bt
        ins.band_bps = bb
        _derive_band(ins)
        ins.max_open_orders = mxo
        ins.stp = self_trade_prevention
        ins.registered = 1

    def set_venue(self, int32_t venue, *, int64_t order_rate=0, int64_t order_burst=0,
                  int64_t order_weight=1, int64_t cancel_rate=0, int64_t cancel_burst=0,
                  int64_t cancel_weight=1, int64_t now_ns=0):
        """Token buckets of a venue (rates in weight units per second; burst 0 turns off)."""
        for v in (order_rate, order_burst, order_weight, cancel_rate, cancel_burst, cancel_weight):
            if v < 0 or v > 9_000_000_000:
                raise ValueError("rates, bursts and weights must be in 0..9e9")
        self._ensure_venue(venue)
        if now_ns == 0:
            now_ns = risk_now_ns()
        cdef RiskVenue* rv = &self.b.venues[venue]
        _set_bucket(&rv.orders, order_burst, order_rate, order_weight, now_ns)
        _set_bucket(&rv.cancels, cancel_burst, cancel_rate, cancel_weight, now_ns)

    def set_global(self, *, max_gross=None, max_net=None, max_open_orders=None,
                   max_daily_loss=None, max_errors=None, int64_t error_window_ns=1_000_000_000,
                   int64_t error_cooldown_ns=60_000_000_000):
        """Book-wide limits (notional_decimals; ``None`` turns one off)."""
        cdef int64_t g = _lim_max(max_gross), n = _lim_max(max_net)
        cdef int64_t o = _lim_max(max_open_orders), l = _lim_max(max_daily_loss)
        cdef int64_t e = _lim_max(max_errors)
        if g < 0 or n < 0 or o < 0 or l < 0 or e < 0 or error_window_ns <= 0 \
                or error_cooldown_ns < 0:
            raise ValueError("limits must not be negative (and the error window positive)")
        self.b.max_gross = g
        self.b.max_net = n
        self.b.max_open_orders = o
        self.b.max_daily_loss = l
        self.b.err_max = e
        self.b.err_window_ns = error_window_ns
        self.b.err_cooldown_ns = error_cooldown_ns
        if e == INT64_MAX:
            self.b.err_tripped_until = 0

    def check(self, int32_t inst, int side, int64_t price, int64_t qty, int order_type=0,
              int64_t now_ns=0):
        """Full pre-trade check of one order; returns the reason code (0 passes)."""
        return risk_check(&self.b, inst, side, price, qty, order_type, now_ns)

    def check_cancel(self, int32_t venue, int64_t now_ns=0):
        """Rate-limit check of one cancel request; returns the reason code (0 passes)."""
        return risk_check_cancel(&self.b, venue, now_ns)

    def check_batch(self, const int32_t[::1] inst, const uint8_t[::1] side,
                    const int64_t[::1] price, const int64_t[::1] qty,
                    const uint8_t[::1] order_type, uint8_t[::1] reasons, int64_t now_ns=0):
        """Check arrays of orders without the GIL; writes one reason per order, returns #passed."""
        cdef Py_ssize_t n = inst.shape[0]
        if (side.shape[0] != n or price.shape[0] != n or qty.shape[0] != n
                or order_type.shape[0] != n or reasons.shape[0] < n):
            raise ValueError("check_batch: arrays must have the same length")
        if n == 0:
            return 0
        cdef Py_ssize_t passed
        with nogil:
            passed = risk_check_batch(&self.b, n, &inst[0], &side[0], &price[0], &qty[0],
                                      &order_type[0], now_ns, &reasons[0])
        return passed

    def notional(self, int32_t inst, int64_t price, int64_t qty):
        """price * qty at notional_decimals, rounded up, as the checks count it."""
        cdef int64_t out = 0
        cdef RiskInstrument* ins = self._inst(inst)
        if risk_notional(&self.b, ins, price, qty, &out):
            raise OverflowError("notional out of the int64 range")
        return out

    def order_open(self, int32_t inst, int side, int64_t price, int64_t qty):
        """Count a sent order as open (worst-case exposure, open-order counts, own best price)."""
        self._inst(inst)
        risk_order_open(&self.b, inst, side, price, qty)

    def order_reduce(self, int32_t inst, int side, int64_t price, int64_t old_qty,
                     int64_t new_qty, bint closed=False):
        """An open order's remaining size changed (or it closed: ``closed=True``)."""
        self._inst(inst)
        risk_order_reduce(&self.b, inst, side, price, old_qty, new_qty, closed)

    def set_best_own(self, int32_t inst, best_bid, best_ask):
        """Best prices of our resting orders (``None``: none) for self-trade prevention."""
        cdef RiskInstrument* ins = self._inst(inst)
        ins.best_own_bid = INT64_MIN if best_bid is None else best_bid
        ins.best_own_ask = INT64_MAX if best_ask is None else best_ask

    def set_position(self, int32_t inst, int64_t position):
        """Net position of an instrument (size raw, signed)."""
        self._inst(inst)
        risk_set_position(&self.b, inst, position)

    def add_position(self, int32_t inst, int64_t delta):
        """Add a signed fill size to the net position of an instrument."""
        cdef RiskInstrument* ins = self._inst(inst)
        cdef int64_t pos
        if hfx_add(ins.position, delta, &pos):
            raise OverflowError("position out of the int64 range")
        risk_set_position(&self.b, inst, pos)

    def set_reference(self, int32_t inst, int64_t price):
        """Reference price (last trade, mid or mark) for price bands and exposure."""
        if price < 0:
            raise ValueError("reference price must not be negative")
        self._inst(inst)
        risk_set_reference(&self.b, inst, price)

    def set_pnl(self, int64_t realized, int64_t unrealized):
        """Today's realized and unrealized PnL (notional_decimals) for the daily loss limit."""
        self.b.realized_pnl = realized
        self.b.unrealized_pnl = unrealized

    def record_error(self, int64_t now_ns=0):
        """A venue reject or timeout, for the error-rate circuit breaker."""
        risk_record_error(&self.b, now_ns)

    def reset_breaker(self):
        """Close the error-rate breaker now."""
        self.b.err_tripped_until = 0
        self.b.err_count = 0

    @property
    def state(self) -> int:
        return self.b.state

    @state.setter
    def state(self, int value):
        if value < TS_ACTIVE or value > TS_HALTED:
            raise ValueError(f"bad trading state {value}")
        self.b.state = value

    @property
    def killed(self) -> bool:
        return bool(self.b.killed)

    @killed.setter
    def killed(self, bint value):
        self.b.killed = value

    def counts(self):
        """Decisions per reason code (a list indexed by code)."""
        return [self.b.counts[i] for i in range(RR_COUNT)]

    def reset_counts(self):
        memset(self.b.counts, 0, sizeof(self.b.counts))

    def instrument_state(self, int32_t inst):
        """Limits and state of one instrument as a dict (for reports and tests)."""
        cdef RiskInstrument* s = self._inst(inst)
        return {
            "venue": s.venue, "position": s.position, "open_buy_qty": s.open_buy_qty,
            "open_sell_qty": s.open_sell_qty, "open_orders": s.open_orders,
            "best_own_bid": None if s.best_own_bid == INT64_MIN else s.best_own_bid,
            "best_own_ask": None if s.best_own_ask == INT64_MAX else s.best_own_ask,
            "ref_price": s.ref_price, "position_notional": s.position_notional,
        }

    def book_state(self):
        """Book-wide state as a dict."""
        return {
            "state": self.b.state, "killed": bool(self.b.killed),
            "open_orders": self.b.open_orders, "gross_position": self.b.gross_position,
            "net_position": self.b.net_position, "open_buy_notional": self.b.open_buy_notional,
            "open_sell_notional": self.b.open_sell_notional,
            "realized_pnl": self.b.realized_pnl, "unrealized_pnl": self.b.unrealized_pnl,
            "breaker_until_ns": self.b.err_tripped_until,
        }


cdef void _set_bucket(TokenBucket* t, int64_t burst, int64_t rate, int64_t weight,
                      int64_t now_ns) noexcept nogil:
    cdef int64_t cap = burst * <int64_t>1000000000
    t.capacity = burst
    t.rate = rate
    t.weight = weight
    if t.level_ns > cap or t.last_ns == 0:
        t.level_ns = cap     # a new bucket starts full; a smaller one is cut down
    if t.last_ns == 0:
        t.last_ns = now_ns
