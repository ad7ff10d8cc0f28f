# L2 (price-level) order book: the C API that decoders and the engine call without Python.
#
# A book is two price ladders (ladder.pxd: BookSide), bids and asks, plus the book's tick,
# crossed-book policy, depth limit, counters and the last update's sequence and timestamps.
# Every function is `noexcept nogil` and returns BOOK_* bits (>= 0) or an error code (< 0).
from cpython.bool cimport PyBool_Check
from cpython.long cimport PyLong_Check, PyLong_AsLongLongAndOverflow
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t
from hftcore._ext.types cimport px_t, qty_t, ts_t, BookDelta
from hftcore._ext.ladder cimport (
    BookSide, wide_int, BOOK_TOP, BOOK_MISSING, BOOK_INSERT, BOOK_DELETE, BOOK_EBADSIDE,
    BOOK_ENEGSIZE, BOOK_ENOMEM, BOOK_ECROSSED, BOOK_EOFFGRID, BOOK_EOVERFLOW, BOOK_EBADWINDOW,
    LADDER_MIN, LADDER_MAX,
)

# Crossed-book policy.
cdef enum:
    CROSS_PASS = 0           # apply and count (default)
    CROSS_RAISE = 1          # refuse an update that would cross the book (error code)
    CROSS_DROP = 2           # apply, then delete the opposite side's levels it crosses (stale)

# Which side(s) l2_clear clears.
cdef enum:
    CLEAR_BOTH = 2

# Instrument filter of l2_apply_deltas_of: every record.
cdef enum:
    ALL_INSTRUMENTS = -1

ctypedef struct L2BookC:
    BookSide sides[2]        # [SIDE_BID], [SIDE_ASK]
    int64_t tick             # price units per ladder slot (1 = every price unit)
    int price_decimals
    int size_decimals
    int cross_policy
    Py_ssize_t max_depth     # keep at most this many levels per side (0 = unlimited)
    int64_t sequence
    ts_t exchange_ts
    ts_t local_ts
    uint64_t updates
    uint64_t missing_deletes
    uint64_t crosses
    uint64_t dropped         # levels removed by CROSS_DROP or by max_depth truncation

cdef int l2_init(L2BookC* b, Py_ssize_t window, int64_t tick) noexcept nogil
cdef void l2_free(L2BookC* b) noexcept nogil
cdef int l2_check(const L2BookC* b, int64_t side, px_t price, qty_t size) noexcept nogil
cdef int l2_apply(L2BookC* b, int side, px_t price, qty_t size) noexcept nogil
cdef Py_ssize_t l2_apply_batch(L2BookC* b, const int64_t* sides, const px_t* prices,
                               const qty_t* sizes, Py_ssize_t n, int* err,
                               int64_t* bbo_out) noexcept nogil
cdef Py_ssize_t l2_apply_deltas(L2BookC* b, const BookDelta* d, Py_ssize_t n,
                                int* err) noexcept nogil
cdef Py_ssize_t l2_apply_deltas_of(L2BookC* b, const BookDelta* d, Py_ssize_t n,
                                   int64_t instrument_id, Py_ssize_t* applied,
                                   int* err) noexcept nogil
cdef void l2_clear(L2BookC* b, int side) noexcept nogil
cdef void l2_truncate(L2BookC* b, Py_ssize_t depth) noexcept nogil
cdef qty_t l2_level_size(const L2BookC* b, int side, px_t price) noexcept nogil
cdef Py_ssize_t l2_depth(const L2BookC* b, int side, Py_ssize_t n, px_t* px,
                         qty_t* qty) noexcept nogil
cdef void l2_volume_within(const L2BookC* b, int side, px_t price, wide_int* total) noexcept nogil
cdef qty_t l2_cost(const L2BookC* b, int side, qty_t size, wide_int* notional,
                   px_t* worst) noexcept nogil
cdef void l2_top_volume(const L2BookC* b, int side, Py_ssize_t n, wide_int* total) noexcept nogil
cdef uint32_t l2_checksum_kraken(const L2BookC* b) noexcept nogil
cdef int32_t l2_checksum_okx(const L2BookC* b) noexcept nogil
cdef uint32_t l2_checksum_interleaved(const L2BookC* b, Py_ssize_t depth) noexcept nogil
cdef int32_t l2_checksum_bitfinex(const L2BookC* b) noexcept nogil
cdef Py_ssize_t js_number_text(int64_t v, bint negate, int decimals, char* out) noexcept nogil
cdef uint32_t crc32_update(uint32_t crc, const char* data, Py_ssize_t n) noexcept nogil


cdef inline bint l2_best(const L2BookC* b, int side, px_t* price, qty_t* size) noexcept nogil:
    """Best level of a side (0 bid, 1 ask): False when the side is empty."""
    cdef const BookSide* s = &b.sides[side]
    if s.nlevels == 0:
        return False
    price[0] = (s.best ^ s.mask) * b.tick
    size[0] = s.best_qty
    return True


# Python-argument helpers shared by the book modules: int (or IntEnum, or an object with
# __index__ such as a numpy integer) only; bool, float, str and the rest raise TypeError naming
# the parameter, values outside int64 raise OverflowError naming it.
cdef int64_t int64_arg_slow(object value, const char* name) except? -1

cdef inline int64_t int64_arg(object value, const char* name) except? -1:
    cdef int overflow = 0
    cdef long long v
    if PyLong_Check(value) and not PyBool_Check(value):
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0:
            return v
    return int64_arg_slow(value, name)


cdef class L2Book:
    cdef L2BookC book
    cdef object _bb_obj          # cached Python int of the best bid / ask price
    cdef object _ba_obj
    cdef int64_t _bb_px
    cdef int64_t _ba_px
    cdef int _busy               # set while apply_batch / apply_deltas run without the GIL
    cdef int _view_of_l3         # the aggregated view of an L3Book: writes refused
    cdef int _check_writable(self) except -1
    cdef int _check_readable(self) except -1
    cdef object _levels_list(self, int side, Py_ssize_t n)
