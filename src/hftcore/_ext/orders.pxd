# The trading core in C: the order table and its state machine, the binary order journal, and
# positions with exact PnL.  One extension module; its parts live in orders.pyx (order table and
# state machine), journal.pxi (journal writer and reader) and portfolio.pxi (positions).
#
# The engine cimports this file:
#     from hftcore._ext.orders cimport OrderCore, ...
# and calls the `c_*` methods of OrderCore (with the GIL: they call the risk engine's Python API
# and may raise); see OrderCore below.
from libc.stdint cimport int64_t, int32_t, uint32_t, uint16_t, uint8_t, uint64_t
from cpython.object cimport PyObject
from hftcore._ext.risk cimport RiskCore

cdef extern from "trading.h":
    # opaque to Cython on purpose: only the checked helpers of trading.h touch its value
    ctypedef struct hc_i128:
        pass
    ctypedef struct hc_jfile:
        int fd
        char* base
        size_t page
        int running

# -- codes (one definition; hftcore.model builds its IntEnums from these) ------------------------
cdef enum:
    ST_NEW = 0
    ST_PENDING_NEW = 1
    ST_ACCEPTED = 2
    ST_PARTIALLY_FILLED = 3
    ST_FILLED = 4
    ST_PENDING_CANCEL = 5
    ST_PENDING_REPLACE = 6
    ST_CANCELED = 7
    ST_REJECTED = 8
    ST_EXPIRED = 9
    ST_UNKNOWN = 10
    ST_COUNT = 11

cdef enum:
    TIF_GTC = 0
    TIF_IOC = 1
    TIF_FOK = 2
    TIF_GTX = 3
    TIF_DAY = 4
    TIF_COUNT = 5

cdef enum:
    LIQ_MAKER = 0
    LIQ_TAKER = 1
    LIQ_COUNT = 2

cdef enum:
    ORDER_TYPE_COUNT = 5          # OT_LIMIT .. OT_LIMIT_MAKER (hftcore._ext.risk)

# history events (Order.history names them)
cdef enum:
    EV_NEW = 0
    EV_SUBMIT = 1
    EV_RISK_REJECT = 2
    EV_CANCEL = 3
    EV_CANCEL_UNSENT = 4
    EV_REPLACE = 5
    EV_ACK = 6
    EV_REJECT = 7
    EV_FILL = 8
    EV_CANCELED = 9
    EV_EXPIRED = 10
    EV_CANCEL_REJECTED = 11
    EV_REPLACE_REJECTED = 12
    EV_REPLACED = 13
    EV_TIMEOUT = 14
    EV_RECONCILE = 15
    EV_LATE_ACK = 16
    EV_ACK_AFTER_REJECT = 17
    EV_LATE_FILL = 18
    EV_COUNT = 19

# journal record types (see journal.pxi for the layout and RECORD_SCHEMA for the fields)
cdef enum:
    REC_SESSION = 1
    REC_CLOCK = 2
    REC_INSTRUMENT = 3
    REC_NEW = 4
    REC_SUBMIT = 5
    REC_RISK_REJECT = 6
    REC_CANCEL = 7
    REC_REPLACE = 8
    REC_ACK = 9
    REC_REJECT = 10
    REC_FILL = 11
    REC_CANCELED = 12
    REC_EXPIRED = 13
    REC_CANCEL_REJECT = 14
    REC_REPLACE_REJECT = 15
    REC_REPLACED = 16
    REC_TIMEOUT = 17
    REC_VENUE_STATUS = 18
    REC_TYPES = 19

# OrderRec.flags
cdef enum:
    FL_ACKED = 1                  # the venue has shown it knows the order (ack, fill, amend)
    FL_PRUNED = 2                 # forgotten by prune(): the slot is dead
    FL_RISK_REJECTED = 4          # rejected by our own risk check (never sent)
    FL_OPEN = 8                   # in the open list

cdef enum:
    CHUNK_BITS = 10               # orders are stored in chunks of 1024 records
    CHUNK_SIZE = 1024
    TID_SET_AT = 8                # from this many fills on, an order's trade ids go into a set

# -- portfolio -----------------------------------------------------------------------------------
ctypedef struct PositionState:
    int64_t net                   # signed, raw size
    int64_t bought
    int64_t sold
    int64_t fills
    int64_t mark                  # raw price (has_mark)
    int64_t maker_rate            # fee rates at 8 decimals
    int64_t taker_rate
    hc_i128 cost                  # value decimals (price_decimals + size_decimals)
    hc_i128 realized
    hc_i128 fees
    hc_i128 turnover
    uint8_t has_mark
    uint8_t own_rates             # the portfolio has a fee schedule for this instrument

cdef class Position:
    cdef PositionState s
    cdef readonly object instrument
    cdef int32_t vdec
    cdef int book(self, int side, int64_t qty, int64_t price, hc_i128 fee,
                  PositionState* out) noexcept

cdef class PortfolioCore:
    cdef dict _positions
    cdef dict _fees
    cdef object _default_fees
    cdef int64_t _maker
    cdef int64_t _taker
    cdef object _last_inst
    cdef Position _last_pos
    cdef Position position_of(self, object instrument)
    cdef int prepare(self, Position p, int side, int64_t qty, int64_t price, hc_i128 fee,
                     bint has_fee, int liquidity, PositionState* out) noexcept
    cdef void commit(self, Position p, PositionState* st) noexcept

# -- journal ---------------------------------------------------------------------------------------
cdef class JournalWriter:
    cdef hc_jfile jf              # the file, its mapping and its thread (trading.h)
    cdef char* base               # = jf.base, fixed while open
    cdef size_t end               # logical end: the next record goes here
    cdef readonly int64_t records
    cdef int64_t synced
    cdef readonly int mode        # 0: none, 1: interval, 2: every record
    cdef int error                # sticky errno of a failed sync, raised by the next append
    cdef readonly object path
    cdef int _fail_open(self, int e) except -1
    cdef int _grow(self, size_t need) except -1
    cdef char* reserve(self, uint32_t length) except NULL
    cdef int commit(self, char* rec, uint32_t length) except -1
    cdef int write_record(self, int rtype, const int64_t* fields, int nf, tuple strs) except -1
    cdef int write_text(self, int rtype, const int64_t* fields, int nf, str text) except -1

# -- order table -----------------------------------------------------------------------------------
ctypedef struct OrderEvent:       # one history entry
    int64_t ts
    uint8_t status
    uint8_t event
    uint16_t _pad0
    uint32_t _pad1

ctypedef struct OrderFill:        # one booked execution
    int64_t qty
    int64_t price
    int64_t ts
    hc_i128 fee
    PyObject* trade_id            # str, owned
    uint8_t liquidity
    uint8_t has_fee

ctypedef struct BookedFill:       # booking order of every fill (OrderManager.fills)
    int64_t handle
    int64_t index

ctypedef struct OrderRec:
    int64_t seq                   # n of the client id "{prefix}{session}-{n}"; 0: empty slot
    int64_t size
    int64_t price
    int64_t filled
    int64_t sent_ns
    int32_t inst                  # index into the instrument table
    int32_t open_pos              # index in the open list (-1: not open)
    uint8_t status
    uint8_t prior_status          # status before PENDING_CANCEL/REPLACE or UNKNOWN
    uint8_t side
    uint8_t order_type
    uint8_t tif
    uint8_t flags
    uint16_t _pad
    int32_t n_hist
    int32_t cap_hist
    int32_t n_fills
    int32_t cap_fills
    OrderEvent* hist
    OrderFill* fills
    PyObject* cid                 # str, owned
    PyObject* vid                 # venue order id (str) or NULL
    PyObject* reason              # str or NULL
    PyObject* tids                # set of trade ids once the order has TID_SET_AT fills

ctypedef struct InstInfo:
    int32_t risk_index            # -1: not looked up / unknown to the risk engine
    int32_t venue                 # index into the venue list (cancel rate limits)

cdef class OrderCore:
    cdef OrderRec** _chunks
    cdef int32_t* _chunk_live
    cdef int64_t _n_chunks
    cdef int64_t _n_orders        # highest client order number issued (handles 0 .. n-1)
    cdef int64_t _live
    cdef int64_t* _open
    cdef int64_t _n_open
    cdef int64_t _cap_open
    cdef BookedFill* _booked
    cdef int64_t _n_booked
    cdef int64_t _cap_booked
    cdef InstInfo* _inst_info
    cdef int32_t _n_insts
    cdef int32_t _cap_insts
    cdef list _insts
    cdef list _inst_pos
    cdef dict _inst_by_id
    cdef dict _inst_by_key
    cdef object _last_inst
    cdef int32_t _last_inst_index
    cdef str _session
    cdef str _prefix
    cdef bytes _id_prefix
    cdef object _clock
    cdef bint _clock_mono
    cdef int64_t _timeout_ns
    cdef PortfolioCore _pf
    cdef object _risk
    cdef object _r_check
    cdef object _r_open
    cdef object _r_fill
    cdef object _r_closed
    cdef object _r_replaced
    cdef RiskCore _r_core          # the risk engine's compiled book, when it may be told directly
    cdef JournalWriter _journal
    cdef int64_t _anchor_ts
    cdef bint _replaying

    # -- C API for the engine (all take the GIL; inputs are validated; errors raise) -----------
    cdef int32_t c_instrument(self, object instrument) except -1
    cdef int64_t c_create(self, int32_t inst, int side, int64_t size, int64_t price,
                          int order_type, int tif, int64_t ts) except -1
    cdef int c_submit(self, int64_t handle, int64_t ts) except -1
    cdef int c_cancel(self, int64_t handle, int64_t ts) except -1
    cdef int c_ack(self, int64_t handle, str venue_order_id, int64_t ts) except -1
    cdef int c_fill(self, int64_t handle, str trade_id, int64_t qty, int64_t price,
                    int liquidity, object fee, int64_t ts) except -1
    cdef int c_canceled(self, int64_t handle, int64_t ts) except -1
    cdef int64_t c_handle(self, object client_order_id) except -2
    cdef str c_client_order_id(self, int64_t handle)
    cdef int c_status(self, int64_t handle) except -1
    cdef int64_t c_filled(self, int64_t handle) except -1
    cdef Order c_order(self, int64_t handle)

    # -- internals ---------------------------------------------------------------------------------
    cdef OrderRec* _rec(self, int64_t h) noexcept
    cdef OrderRec* _need(self, int64_t h) except NULL
    cdef int64_t _now(self, object ts) except? -1
    cdef str _cid_text(self, int64_t seq)
    cdef int _ensure_chunk(self, int64_t c) except -1
    cdef int32_t _add_instrument(self, object instrument) except -1
    cdef Position _position(self, int32_t inst)
    cdef int64_t _order_arg(self, object order) except -1
    cdef int64_t _known(self, object cid) except -1
    cdef int _open_reserve(self) except -1
    cdef bint _has_trade(self, OrderRec* r, str tid) except -1
    cdef bint _risk_position_fits(self, OrderRec* r, int64_t qty) except -1
    cdef int _risk_closed(self, OrderRec* r, int64_t ts) except -1
    cdef int _journal_write(self, int rtype, const int64_t* f, int nf, str text,
                            int64_t ts) except -1
    cdef int _hist(self, OrderRec* r, int status, int event, int64_t ts) except -1
    cdef int _hist_reserve(self, OrderRec* r, int n) except -1
    cdef int _open_add(self, int64_t h, OrderRec* r) except -1
    cdef void _open_remove(self, OrderRec* r) noexcept
    cdef bint _set(self, int64_t h, OrderRec* r, int status, int event, int64_t ts) noexcept
    cdef int _risk_index(self, int32_t inst) except -2
    cdef int _risk_failed(self, object cid, int64_t ts) except -1
    cdef int _risk_open(self, OrderRec* r, int64_t ts) except -1
    cdef int _risk_fill(self, OrderRec* r, int64_t qty, bint closed, int64_t ts) except -1
    cdef int _risk_error(self, OrderRec* r, int64_t ts) except -1
    cdef int _anomaly(self, str kind, OrderRec* r, object cid, int64_t ts, str detail) except -1
    cdef int64_t _new(self, int64_t seq, int32_t inst, int side, int64_t size, int64_t price,
                      int order_type, int tif, int64_t ts, bint live) except -1
    cdef int _submit(self, int64_t h, int64_t ts, int decided) except -1
    cdef int _cancel(self, int64_t h, int64_t ts, bint live) except -1
    cdef int _replace(self, int64_t h, int64_t price, int64_t size, int64_t ts, bint live) except -1
    cdef int _ack(self, int64_t h, object vid, int64_t ts, bint live) except -1
    cdef int _reject(self, int64_t h, str reason, int64_t ts, bint live) except -1
    cdef int _fill(self, int64_t h, str tid, int64_t qty, int64_t price, int liq, hc_i128 fee,
                   bint has_fee, int64_t ts, bint live) except -1
    cdef int _closed(self, int64_t h, int status, int64_t ts, bint live) except -1
    cdef int _request_rejected(self, int64_t h, int pending, str reason, int64_t ts,
                               bint live) except -1
    cdef int _replaced(self, int64_t h, int64_t price, int64_t size, object vid, int64_t ts,
                       bint live) except -1
    cdef int _timeout(self, int64_t h, int64_t ts, bint live) except -1
    cdef int _venue_status(self, int64_t h, int status, object vid, int64_t ts,
                           bint live) except -1

cdef class Order:
    cdef OrderCore core
    cdef int64_t handle
    cdef int64_t seq
    cdef OrderRec* _r(self) except NULL
