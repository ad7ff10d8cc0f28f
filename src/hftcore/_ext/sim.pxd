# Simulated exchange: our orders matched against a replayed L2 book, with latency and an
# estimated queue position.  Everything here is C; the engine drives it event by event.
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t, uint16_t, uint8_t
from hftcore._ext.types cimport px_t, qty_t, ts_t
from hftcore._ext.book cimport L2BookC

# Msg.kind: requests travelling to the exchange, responses travelling back, timers.
cpdef enum:
    MSG_NEW = 1            # a new order reaches the matching engine
    MSG_CANCEL = 2
    MSG_AMEND = 3          # price / total size
    RSP_ACK = 10
    RSP_REJECT = 11        # aux = SimReject
    RSP_FILL = 12          # price, qty, aux = liquidity (0 maker, 1 taker)
    RSP_CANCELED = 13
    RSP_EXPIRED = 14       # IOC / FOK / market remainder
    RSP_REPLACED = 15      # price, qty = the new price and total size
    RSP_CANCEL_REJECT = 16 # aux = SimReject
    RSP_REPLACE_REJECT = 17
    MSG_TIMER = 20         # handle = timer id

# Reasons the simulated venue refuses something (RSP_*_REJECT aux)
cpdef enum:
    SIM_OK = 0
    SIM_POST_ONLY = 1      # a post-only order would have taken liquidity
    SIM_UNKNOWN_ORDER = 2  # cancel / amend of an order no longer on the book (filled, canceled)
    SIM_BAD_AMEND = 3      # the new size is not above what already filled
    SIM_NO_LIQUIDITY = 4   # a market order found nothing to trade against

# SimOrder.flags
cpdef enum:
    SO_IOC = 1
    SO_FOK = 2
    SO_POST_ONLY = 4
    SO_MARKET = 8          # price is the protection price (0: none)

# Latency model kinds
cdef enum:
    LAT_CONST = 0
    LAT_TABLE = 1          # cycle through pre-drawn samples (a distribution drawn with the seed)
    LAT_FEED = 2           # the instrument's last feed delay (local - exchange ts) + value

ctypedef struct Latency:
    int kind
    int64_t value
    int64_t* table
    Py_ssize_t n
    Py_ssize_t next

ctypedef struct Msg:
    ts_t ts
    uint64_t seq
    int64_t handle         # engine order handle / timer id
    px_t price
    qty_t qty
    int32_t slot
    uint8_t kind
    uint8_t aux
    uint16_t _pad

ctypedef struct SimOrder:
    int64_t handle
    px_t price
    qty_t size             # total size
    qty_t filled
    qty_t queue_ahead      # visible size estimated ahead of us at our level
    qty_t traded           # trades at our level since its last depth update (not yet in it)
    uint32_t inst
    uint8_t side
    uint8_t flags
    uint8_t live           # 1 resting on the book, 2 in flight (not yet arrived), 0 free
    uint8_t _pad

ctypedef struct Consumed:  # displayed liquidity our aggressive orders took, until it updates
    uint32_t inst
    int side
    px_t price
    qty_t qty


cdef class SimCore:
    cdef Msg* heap
    cdef Py_ssize_t heap_n
    cdef Py_ssize_t heap_cap
    cdef uint64_t seq
    cdef SimOrder* orders
    cdef Py_ssize_t n_orders      # slots in use (high-water mark)
    cdef Py_ssize_t cap_orders
    cdef int32_t free_head        # free slot list through SimOrder.handle (-1 none)
    cdef int32_t* resting         # per instrument: resting orders
    cdef int32_t* consumed_n      # per instrument: Consumed entries
    cdef Py_ssize_t n_inst
    cdef Consumed* consumed
    cdef Py_ssize_t n_consumed
    cdef Py_ssize_t cap_consumed
    cdef Latency lat_entry
    cdef Latency lat_response
    cdef Latency lat_cancel
    cdef ts_t* feed_delay         # per instrument: last local_ts - exchange_ts
    cdef px_t* lvl_px             # scratch for walking levels
    cdef qty_t* lvl_qty
    cdef Py_ssize_t lvl_cap
    cdef readonly int64_t n_fills
    cdef readonly int64_t n_maker_fills
    cdef readonly int64_t n_taker_fills
    cdef readonly int64_t n_rejects
    cdef readonly int64_t n_expired
    cdef readonly int64_t trade_seq
    cdef object _tables           # keeps latency sample arrays alive

    cdef int push(self, ts_t ts, int kind, int64_t handle, int32_t slot, px_t price, qty_t qty,
                  int aux) except -1
    cdef void pop(self, Msg* out) noexcept nogil
    cdef ts_t sample(self, Latency* lat, uint32_t inst) noexcept nogil
    cdef int32_t new_slot(self) except -2
    cdef int arrive_new(self, Msg* m, L2BookC* book, ts_t now) except -1
    cdef int arrive_cancel(self, Msg* m, ts_t now) except -1
    cdef int arrive_amend(self, Msg* m, L2BookC* book, ts_t now) except -1
    cdef int take(self, SimOrder* o, int32_t slot, L2BookC* book, ts_t rts) except -1
    cdef int rest(self, SimOrder* o, int32_t slot, L2BookC* book) noexcept
    cdef void retire(self, SimOrder* o, int32_t slot) noexcept
    cdef int fill(self, SimOrder* o, int32_t slot, px_t price, qty_t qty, int taker,
                  ts_t rts) except -1
    cdef int on_depth(self, uint32_t inst, int side, px_t price, qty_t old, qty_t new,
                      ts_t now) except -1
    cdef int on_trade(self, uint32_t inst, int side, px_t price, qty_t size, L2BookC* book,
                      ts_t now) except -1
    cdef int on_message_end(self, uint32_t inst, L2BookC* book, ts_t now) except -1
    cdef qty_t consumed_at(self, uint32_t inst, int side, px_t price) noexcept nogil
    cdef int add_consumed(self, uint32_t inst, int side, px_t price, qty_t qty) except -1
    cdef void clear_consumed(self, uint32_t inst, int side, px_t price) noexcept nogil
    cdef void clear_consumed_all(self, uint32_t inst) noexcept nogil
    cdef bint _more(self, L2BookC* book, int side, Py_ssize_t* n) noexcept
    cdef int _consume_through(self, uint32_t inst, int side, px_t limit, qty_t qty,
                              L2BookC* book) except -1
    cdef bint crosses(self, SimOrder* o, L2BookC* book) noexcept
    cdef _set_latency(self, Latency* lat, spec, str what)
    cdef qty_t available(self, uint32_t inst, int side, px_t limit, int limited,
                         L2BookC* book) noexcept
