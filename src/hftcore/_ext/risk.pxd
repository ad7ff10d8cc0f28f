# Pre-trade risk: limits and state as C structs, one `noexcept nogil` check returning a reason code.
#
# Conventions: prices/sizes are int64 counts at the instrument's decimals; notionals, exposures and
# PnL are counts of quote currency at the book-wide `notional_decimals`.  A limit that is "off"
# holds RISK_OFF (INT64_MAX) for maxima and 0 for minima; bands use -1 for off.
#
# Arithmetic: nothing here wraps.  Sums that grow with the number of open orders (open sizes,
# open and pending notionals, exposures) are kept exactly in 128 bits (risk_wide_t): each term is
# below 2^64, so no sum of fewer than 2^63 terms leaves the type, and releasing a term restores
# the sum exactly.  An order or position whose notional does not fit in int64 is counted in
# `unbounded_exposures` instead of being added: while that count is nonzero the gross and net
# limits refuse every order that does not reduce the position (an overflow is a breach, never a
# pass).  Every other sum and difference is checked or saturating; the sanitizer build
# (-fno-wrapv) holds the tests to that.
cimport cython
from libc.stdint cimport int64_t, int32_t, uint8_t, uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <time.h>

    /* A signed 128-bit integer as two 64-bit halves: Cython has no 128-bit type, and is told
       this one's true layout (16 bytes).  The arithmetic happens only in the helpers below. */
    typedef struct { uint64_t lo; int64_t hi; } risk_wide_t;

    static inline __int128 risk_wide_get(risk_wide_t w) {
        /* hi * 2^64 + lo, assembled unsigned (a shift of a negative value would be undefined);
           the conversion back to signed is modulo 2^128 (gcc, clang) and compiles to nothing */
        return (__int128)(((unsigned __int128)(uint64_t)w.hi << 64) | (unsigned __int128)w.lo);
    }
    static inline risk_wide_t risk_wide_put(__int128 v) {
        risk_wide_t w;
        w.lo = (uint64_t)v;               /* modulo 2^64: defined */
        w.hi = (int64_t)(v >> 64);        /* arithmetic shift (gcc, clang): floor(v / 2^64) */
        return w;
    }
    static inline risk_wide_t risk_wide_of(int64_t v) { return risk_wide_put((__int128)v); }
    /* The sums never reach the limits of 128 bits (see risk.pxd); should a caller's misuse get
       them there, they stop at the limit instead of wrapping. */
    #define RISK_WIDE_MAX ((((__int128)1 << 126) - 1) * 2 + 1)     /* 2^127 - 1 */
    #define RISK_WIDE_MIN (-RISK_WIDE_MAX - 1)
    static inline risk_wide_t risk_wide_add(risk_wide_t a, risk_wide_t b) {
        __int128 r;
        if (__builtin_add_overflow(risk_wide_get(a), risk_wide_get(b), &r))
            r = b.hi < 0 ? RISK_WIDE_MIN : RISK_WIDE_MAX;
        return risk_wide_put(r);
    }
    static inline risk_wide_t risk_wide_sub(risk_wide_t a, risk_wide_t b) {
        __int128 r;
        if (__builtin_sub_overflow(risk_wide_get(a), risk_wide_get(b), &r))
            r = b.hi < 0 ? RISK_WIDE_MAX : RISK_WIDE_MIN;
        return risk_wide_put(r);
    }
    static inline risk_wide_t risk_wide_add_int(risk_wide_t a, int64_t b) {
        return risk_wide_add(a, risk_wide_of(b));
    }
    static inline risk_wide_t risk_wide_sub_int(risk_wide_t a, int64_t b) {
        return risk_wide_sub(a, risk_wide_of(b));
    }
    static inline risk_wide_t risk_wide_abs(risk_wide_t a) {
        /* |a| with a >= -(2^127 - 1): the sums are far from -2^127 */
        return a.hi < 0 ? risk_wide_sub(risk_wide_of(0), a) : a;
    }
    static inline int risk_wide_gt_int(risk_wide_t a, int64_t b) { return risk_wide_get(a) > b; }
    static inline int risk_wide_lt_int(risk_wide_t a, int64_t b) { return risk_wide_get(a) < b; }
    static inline int risk_wide_lt(risk_wide_t a, risk_wide_t b) {
        return risk_wide_get(a) < risk_wide_get(b);
    }
    static inline int risk_wide_is_negative(risk_wide_t a) { return a.hi < 0; }
    /* a outside [-limit, limit] (limit >= 0) */
    static inline int risk_wide_outside(risk_wide_t a, int64_t limit) {
        __int128 v = risk_wide_get(a);
        return v > limit || v < -(__int128)limit;
    }

    /* The check's comparisons: a + b against c.  The sums nearly always fit in int64, so that
       case is tried first (the low half read as signed through memcpy, which is defined);
       otherwise the exact 128-bit sum: |a| < 2^126 (at most 2^62 open orders of at most 2^63
       each, plus a position), so a + b cannot overflow it. */
    static inline int risk_wide_fits64(risk_wide_t a, int64_t *v) {
        int64_t lo;
        memcpy(&lo, &a.lo, sizeof lo);
        *v = lo;
        return a.hi == (lo < 0 ? -1 : 0);
    }
    /* sign of a + b - c: -1, 0 or 1 */
    static inline int risk_wide_plus_cmp(risk_wide_t a, int64_t b, int64_t c) {
        int64_t lo, v;
        __int128 w;
        if (risk_wide_fits64(a, &lo) && !__builtin_add_overflow(lo, b, &v))
            return (v > c) - (v < c);
        w = risk_wide_get(a) + (__int128)b;
        return (w > (__int128)c) - (w < (__int128)c);
    }
    /* a + b outside [-limit, limit] (limit >= 0) */
    static inline int risk_wide_plus_outside(risk_wide_t a, int64_t b, int64_t limit) {
        int64_t lo, v;
        __int128 w;
        if (risk_wide_fits64(a, &lo) && !__builtin_add_overflow(lo, b, &v))
            return v > limit || v < -limit;
        w = risk_wide_get(a) + (__int128)b;
        return w > (__int128)limit || w < -(__int128)limit;
    }

    static inline int64_t risk_add_saturated(int64_t a, int64_t b) {
        int64_t r;
        if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
        return r;
    }
    static inline int64_t risk_sub_saturated(int64_t a, int64_t b) {
        int64_t r;
        if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? INT64_MAX : INT64_MIN;
        return r;
    }

    /* Token bucket refill: min(cap, level + elapsed * rate), elapsed >= 0, rate >= 0.
       |level| <= 2^63, elapsed * rate < 2^63 * 2^63: the 128-bit sum holds it. */
    static inline int64_t risk_bucket_refill(int64_t level, int64_t elapsed, int64_t rate,
                                             int64_t cap) {
        __int128 v;
        if (elapsed < 0) elapsed = 0;
        if (rate < 0) rate = 0;
        v = (__int128)level + (__int128)elapsed * (__int128)rate;
        return v > (__int128)cap ? cap : (int64_t)v;
    }

    /* The price band as the largest |price - reference| both bands allow:
       diff <= ticks * tick, and diff * 10000 <= ref * bps <=> diff <= floor(ref * bps / 10000).
       Off (negative) bands and products beyond int64 leave the band at INT64_MAX. */
    static inline int64_t risk_band_abs(int64_t band_ticks, int64_t tick, int64_t band_bps,
                                        int64_t ref_price) {
        __int128 lim = INT64_MAX, v;
        if (band_ticks >= 0 && tick > 0) {
            v = (__int128)band_ticks * (__int128)tick;     /* < 2^126 */
            if (v < lim) lim = v;
        }
        if (band_bps >= 0 && ref_price > 0) {
            v = (__int128)ref_price * (__int128)band_bps / 10000;
            if (v < lim) lim = v;
        }
        return (int64_t)lim;
    }

    /* realized + unrealized < -max_loss, exactly (max_loss >= 0) */
    static inline int risk_loss_exceeds(int64_t realized, int64_t unrealized, int64_t max_loss) {
        return (__int128)realized + (__int128)unrealized < -(__int128)max_loss;
    }

    /* Limits as typed constants (an enum constant must fit in an int) */
    #define RISK_OFF_VALUE INT64_MAX                    /* a maximum that is off */
    #define RISK_MAX_OPEN_ORDERS ((int64_t)1 << 62)     /* see risk.pyx */
    #define RISK_MAX_RATE ((int64_t)9000000000)         /* rates, bursts, weights: x 1e9 fits */

    /* The coarse clock costs ~10 ns where CLOCK_MONOTONIC costs ~60 ns (measured in a VM); it
       lags by at most one kernel tick (1-4 ms), which only ever makes buckets refill later. */
    #ifdef CLOCK_MONOTONIC_COARSE
    #define HFT_RISK_CLOCK CLOCK_MONOTONIC_COARSE
    #else
    #define HFT_RISK_CLOCK CLOCK_MONOTONIC
    #endif
    static inline int64_t risk_clock_ns(void) {
        struct timespec ts;
        int64_t ns;
        clock_gettime(HFT_RISK_CLOCK, &ts);
        if (__builtin_mul_overflow((int64_t)ts.tv_sec, (int64_t)1000000000, &ns))
            return INT64_MAX;
        return risk_add_saturated(ns, (int64_t)ts.tv_nsec);
    }
    """
    ctypedef struct risk_wide_t:
        uint64_t lo
        int64_t hi
    risk_wide_t risk_wide_of(int64_t v) noexcept nogil
    risk_wide_t risk_wide_add(risk_wide_t a, risk_wide_t b) noexcept nogil
    risk_wide_t risk_wide_sub(risk_wide_t a, risk_wide_t b) noexcept nogil
    risk_wide_t risk_wide_add_int(risk_wide_t a, int64_t b) noexcept nogil
    risk_wide_t risk_wide_sub_int(risk_wide_t a, int64_t b) noexcept nogil
    risk_wide_t risk_wide_abs(risk_wide_t a) noexcept nogil
    bint risk_wide_gt_int(risk_wide_t a, int64_t b) noexcept nogil
    bint risk_wide_lt_int(risk_wide_t a, int64_t b) noexcept nogil
    bint risk_wide_lt(risk_wide_t a, risk_wide_t b) noexcept nogil
    bint risk_wide_is_negative(risk_wide_t a) noexcept nogil
    bint risk_wide_outside(risk_wide_t a, int64_t limit) noexcept nogil
    int risk_wide_plus_cmp(risk_wide_t a, int64_t b, int64_t c) noexcept nogil
    bint risk_wide_plus_outside(risk_wide_t a, int64_t b, int64_t limit) noexcept nogil
    int64_t risk_add_saturated(int64_t a, int64_t b) noexcept nogil
    int64_t risk_sub_saturated(int64_t a, int64_t b) noexcept nogil
    int64_t risk_bucket_refill(int64_t level, int64_t elapsed, int64_t rate,
                               int64_t cap) noexcept nogil
    int64_t risk_band_abs(int64_t band_ticks, int64_t tick, int64_t band_bps,
                          int64_t ref_price) noexcept nogil
    bint risk_loss_exceeds(int64_t realized, int64_t unrealized, int64_t max_loss) noexcept nogil
    int64_t risk_clock_ns() noexcept nogil
    const int64_t RISK_OFF "RISK_OFF_VALUE"   # INT64_MAX: "no maximum"
    const int64_t RISK_MAX_OPEN_ORDERS
    const int64_t RISK_MAX_RATE

# Reason codes (0 passes).  Keep in sync with hftcore.risk.Reason.
cdef enum:
    RR_OK = 0
    RR_HALTED = 1                 # trading state HALTED
    RR_KILL_SWITCH = 2            # kill switch engaged
    RR_REDUCE_ONLY = 3            # state REDUCING and the order would not reduce the position
    RR_UNKNOWN_INSTRUMENT = 4
    RR_BAD_SIDE = 5
    RR_SIZE_NOT_POSITIVE = 6
    RR_SIZE_MIN = 7
    RR_SIZE_MAX = 8
    RR_SIZE_LOT = 9
    RR_PRICE_NOT_POSITIVE = 10
    RR_PRICE_TICK = 11
    RR_PRICE_BAND = 12            # outside the band around the reference price (fat finger)
    RR_NO_REFERENCE = 13          # a band is set but there is no reference price yet
    RR_MARKET_NO_PROTECTION = 14  # market order without a protection price
    RR_NOTIONAL_MIN = 15
    RR_NOTIONAL_MAX = 16
    RR_NOTIONAL_OVERFLOW = 17
    RR_POSITION_LIMIT = 18        # |position + worst case of open orders + order| > limit
    RR_GROSS_EXPOSURE = 19
    RR_NET_EXPOSURE = 20
    RR_OPEN_ORDERS_INSTRUMENT = 21
    RR_OPEN_ORDERS_TOTAL = 22
    RR_SELF_TRADE = 23            # would cross one of our own resting orders
    RR_RATE_ORDERS = 24           # venue order token bucket empty
    RR_RATE_CANCELS = 25          # venue cancel token bucket empty
    RR_DAILY_LOSS = 26            # realized + unrealized PnL below -max_daily_loss
    RR_ERROR_RATE = 27            # circuit breaker: too many venue rejects/timeouts
    RR_BAD_ORDER_TYPE = 28
    RR_COUNT = 29

# Errors of the state updates (risk_order_open ...), beyond the reason codes they share
# (RR_UNKNOWN_INSTRUMENT, RR_BAD_SIDE).  A refused update changes nothing.
cdef enum:
    RISK_E_NEGATIVE = 100         # a negative price or size
    RISK_E_NOT_OPEN = 101         # releasing more size, notional or orders than are counted open
    RISK_E_RANGE = 102            # a position or counter would leave the int64 range

# Trading states.
cdef enum:
    TS_ACTIVE = 0
    TS_REDUCING = 1
    TS_HALTED = 2

# Order types (same codes as hftcore.OrderType).
cdef enum:
    OT_LIMIT = 0
    OT_MARKET = 1
    OT_STOP_MARKET = 2
    OT_STOP_LIMIT = 3
    OT_LIMIT_MAKER = 4

ctypedef struct RiskInstrument:
    # --- limits ---
    int64_t tick                 # price grid (raw)
    int64_t lot                  # size grid (raw)
    int64_t min_size
    int64_t max_size             # RISK_OFF: none
    int64_t min_notional         # notional_decimals
    int64_t max_notional         # notional_decimals, RISK_OFF: none
    int64_t max_position         # |net position| worst case, size raw; RISK_OFF: none
    int64_t band_ticks           # -1: off
    int64_t band_bps             # -1: off
    int64_t max_open_orders      # RISK_OFF: none
    int32_t price_decimals
    int32_t size_decimals
    int32_t venue                # index into RiskBook.venues
    uint8_t registered
    uint8_t stp                  # self-trade prevention on
    uint8_t position_unbounded   # position * ref_price does not fit in int64 (counted in the book)
    int32_t notional_exp         # notional_decimals - price_decimals - size_decimals
    int64_t notional_scale       # 10**|notional_exp| when |notional_exp| <= 18, else 0
    int64_t band_abs             # the band as a largest |price - ref_price| (derived; INT64_MAX: none)
    # --- state ---
    int64_t position             # signed net position, size raw
    risk_wide_t open_buy_qty     # remaining size of our open buys
    risk_wide_t open_sell_qty
    int64_t open_orders
    int64_t best_own_bid         # highest price of our resting buys (INT64_MIN: none)
    int64_t best_own_ask         # lowest price of our resting sells (INT64_MAX: none)
    int64_t ref_price            # reference (last trade / mid / mark); 0: none
    int64_t position_notional    # position * ref_price, signed, notional_decimals (0 if unbounded)
    # --- derived, for the check: the worst case if every open order of a side filled (plus,
    # during a batch, the orders passed earlier in it); recomputed after every update ---
    risk_wide_t worst_long       # position + open_buy_qty
    risk_wide_t worst_short      # position - open_sell_qty
    # --- scratch for batch checks (orders passed earlier in the same batch) ---
    int64_t pend_orders
    int64_t pend_bid             # best price of buys passed earlier in the batch (INT64_MIN: none)
    int64_t pend_ask             # (INT64_MAX: none)

ctypedef struct TokenBucket:
    int64_t capacity             # tokens (weight units); 0: bucket off
    int64_t rate                 # tokens per second
    int64_t weight               # tokens one request costs
    int64_t level_ns             # tokens * 1e9 (sub-token precision)
    int64_t last_ns              # time of the last refill

ctypedef struct RiskVenue:
    TokenBucket orders
    TokenBucket cancels

ctypedef struct RiskBook:
    RiskInstrument* insts
    int32_t n_insts
    RiskVenue* venues
    int32_t n_venues
    int32_t notional_decimals
    int32_t state                # TS_*
    uint8_t killed
    uint8_t err_tripped          # the error-rate breaker is open until err_tripped_until
    # global limits (notional_decimals; RISK_OFF: none)
    int64_t max_gross
    int64_t max_net
    int64_t max_open_orders
    int64_t max_daily_loss       # positive amount; RISK_OFF: none
    # error-rate breaker: more than err_max errors inside err_window_ns trips it for err_cooldown_ns
    int64_t err_max              # RISK_OFF: none
    int64_t err_window_ns
    int64_t err_cooldown_ns
    int64_t err_count
    int64_t err_window_start
    int64_t err_tripped_until
    # aggregate state
    int64_t open_orders
    risk_wide_t gross_position       # sum |position_notional| (bounded positions)
    risk_wide_t net_position         # sum position_notional (bounded positions)
    risk_wide_t open_buy_notional    # worst-case notional of open buys (bounded orders)
    risk_wide_t open_sell_notional
    int64_t unbounded_exposures      # open orders and positions whose notional exceeds int64
    # derived, for the check (plus, during a batch, the orders passed earlier in it)
    risk_wide_t gross_total          # gross_position + open_buy_notional + open_sell_notional
    risk_wide_t net_long_total       # net_position + open_buy_notional
    risk_wide_t net_short_total      # net_position - open_sell_notional
    uint8_t loss_breached            # realized + unrealized < -max_daily_loss (set_pnl/limits)
    int64_t pend_orders              # batch scratch
    int64_t realized_pnl
    int64_t unrealized_pnl
    uint64_t counts[29]              # decisions per reason (RR_COUNT); unsigned: wraps, defined

cdef int64_t risk_now_ns() noexcept nogil
cdef int risk_check(RiskBook* b, int32_t inst, int side, int64_t price, int64_t qty,
                    int order_type, int64_t now_ns) noexcept nogil
cdef int risk_check_cancel(RiskBook* b, int32_t venue, int64_t now_ns) noexcept nogil
cdef Py_ssize_t risk_check_batch(RiskBook* b, Py_ssize_t n, const int32_t* inst,
                                 const uint8_t* side, const int64_t* price, const int64_t* qty,
                                 const uint8_t* order_type, int64_t now_ns,
                                 uint8_t* reasons) noexcept nogil
cdef int risk_notional(RiskBook* b, RiskInstrument* ins, int64_t price, int64_t qty,
                       int64_t* out) noexcept nogil
cdef int risk_order_open(RiskBook* b, int32_t inst, int side, int64_t price,
                         int64_t qty) noexcept nogil
cdef int risk_order_reduce(RiskBook* b, int32_t inst, int side, int64_t price, int64_t old_qty,
                           int64_t new_qty, bint closed) noexcept nogil
cdef int risk_order_fill(RiskBook* b, int32_t inst, int side, int64_t price, int64_t remaining,
                         int64_t qty, bint counted) noexcept nogil
cdef int risk_order_replace(RiskBook* b, int32_t inst, int side, int64_t old_price,
                            int64_t old_qty, int64_t new_price, int64_t new_qty) noexcept nogil
cdef int risk_set_position(RiskBook* b, int32_t inst, int64_t position) noexcept nogil
cdef int risk_set_reference(RiskBook* b, int32_t inst, int64_t price) noexcept nogil
cdef void risk_record_error(RiskBook* b, int64_t now_ns) noexcept nogil


# The risk book's Python face (risk.pyx).  Besides the limits and the checks it tracks the open
# orders the order manager reports (by client order id: price, remaining size, side, instrument)
# with their count per price and side, and keeps the own best prices the self-trade check reads
# in step with them; the ``_track_*`` methods are the order manager's C path to that bookkeeping
# (arguments already validated ints), ``track_*`` the Python one.
@cython.final
cdef class _OpenOrder:
    cdef readonly int32_t index
    cdef readonly int side
    cdef readonly int64_t price
    cdef readonly int64_t remaining


@cython.final
cdef class RiskCore:
    cdef RiskBook b
    cdef bint _busy
    cdef dict _open                  # order id -> _OpenOrder, in the order they opened
    cdef list _levels                # per instrument index: (buys, sells) as {price: open orders}

    cdef int _guard(self) except -1
    cdef int _raise_update(self, int rc, str what) except -1
    cdef int _ensure_venue(self, int32_t v) except -1
    cdef int _ensure_inst(self, int32_t k) except -1
    cdef int32_t _index(self, object inst) except -1
    cdef RiskInstrument* _inst(self, object inst) except NULL
    cdef dict _side_levels(self, int32_t k, int sd)
    cdef int _release_level(self, int32_t k, int sd, int64_t px) except -1
    cdef int _track_open(self, object order_id, int32_t k, int sd, int64_t price,
                         int64_t qty) except -1
    cdef int _track_fill(self, object order_id, int32_t k, int sd, int64_t qty) except -1
    cdef int _track_replaced(self, object order_id, int64_t price, int64_t remaining) except -1
    cdef int _track_closed(self, object order_id) except -1
