# Pre-trade risk: limits and state as C structs, one `noexcept nogil` check returning a reason code.
#
# Conventions: prices/sizes are int64 counts at the instrument's decimals; notionals, exposures and
# PnL are int64 counts of quote currency at the book-wide `notional_decimals`.  A limit that is
# "off" holds RISK_OFF (INT64_MAX) for maxima and 0 for minima; bands use -1 for off.
from libc.stdint cimport int64_t, int32_t, uint8_t

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

cdef enum:
    RISK_OFF = 9223372036854775807   # INT64_MAX: "no maximum"

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
    int32_t notional_exp         # notional_decimals - price_decimals - size_decimals
    int64_t notional_scale       # 10**|notional_exp| when |notional_exp| <= 18, else 0
    int64_t band_abs             # the band as a largest |price - ref_price| (derived; INT64_MAX: none)
    # --- state ---
    int64_t position             # signed net position, size raw
    int64_t open_buy_qty         # remaining size of our open buys
    int64_t open_sell_qty
    int64_t open_orders
    int64_t best_own_bid         # highest price of our resting buys (INT64_MIN: none)
    int64_t best_own_ask         # lowest price of our resting sells (INT64_MAX: none)
    int64_t ref_price            # reference (last trade / mid / mark); 0: none
    int64_t position_notional    # position * ref_price, signed, notional_decimals
    # --- scratch for batch checks (orders passed earlier in the same batch) ---
    int64_t pend_buy_qty
    int64_t pend_sell_qty
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
    int64_t gross_position       # sum |position_notional|
    int64_t net_position         # sum position_notional
    int64_t open_buy_notional    # worst-case notional of open buys
    int64_t open_sell_notional
    int64_t pend_buy_notional    # batch scratch
    int64_t pend_sell_notional
    int64_t pend_orders
    int64_t realized_pnl
    int64_t unrealized_pnl
    int64_t counts[29]           # decisions per reason (RR_COUNT)

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
cdef int risk_set_position(RiskBook* b, int32_t inst, int64_t position) noexcept nogil
cdef int risk_set_reference(RiskBook* b, int32_t inst, int64_t price) noexcept nogil
cdef void risk_record_error(RiskBook* b, int64_t now_ns) noexcept nogil
