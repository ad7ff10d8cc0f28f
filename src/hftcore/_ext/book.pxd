# Order books: the C-level API that decoders and the engine call without Python.
#
# L2 layout (per side): a dense price ladder of `cap` slots (a power of two) indexed by
# (key - base), key = price / tick for asks and ~(price / tick) for bids (so keys ascend from the
# best toward worse levels on both sides and one branch-free code path serves both), with an occupancy bitmap and a one-bit-per-word summary so the next best
# level is found with clz/ctz; levels outside the window live in a sorted "overflow" array ordered
# from nearest-to-best to farthest.  The best level is always inside the window (the window is
# moved when the best leaves it), so updates near the top are O(1) and a size-only update never
# moves any other level.
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t
from hftcore._ext.types cimport px_t, qty_t, ts_t, BookDelta

# l2_apply result bits (>= 0) and error codes (< 0).
cdef enum:
    BOOK_TOP = 1             # the best price or best size of some side changed
    BOOK_MISSING = 2         # a delete of a level that does not exist (counted, not an error)
    BOOK_INSERT = 4          # a new level was created
    BOOK_DELETE = 8          # a level was removed

    BOOK_EBADSIDE = -1       # side not 0 (bid) or 1 (ask)
    BOOK_ENEGSIZE = -2       # size < 0
    BOOK_ENOMEM = -3         # allocation failed
    BOOK_ECROSSED = -4       # the update would cross the book and the policy is CROSS_RAISE
    BOOK_EOFFGRID = -5       # price not a multiple of the book's tick

# Crossed-book policy.
cdef enum:
    CROSS_PASS = 0           # apply and count (default)
    CROSS_RAISE = 1          # refuse an update that would cross the book (error code)
    CROSS_DROP = 2           # apply, then delete the opposite side's levels it crosses (stale)

# Which side(s) l2_clear clears.
cdef enum:
    CLEAR_BOTH = 2

ctypedef struct BookSide:
    int64_t base             # ladder slot 0 in tick units
    Py_ssize_t cap           # ladder slots (power of two, >= 64)
    Py_ssize_t nwords        # cap / 64
    Py_ssize_t nsumm         # ceil(nwords / 64)
    qty_t* qty               # [cap] size per slot, 0 = no level
    uint64_t* bits           # [nwords] occupancy
    uint64_t* summ           # [nsumm] bit w set when bits[w] != 0
    Py_ssize_t nladder       # levels in the ladder
    int64_t* okey            # overflow keys, ascending: ~idx for bids, idx for asks
    qty_t* oqty
    Py_ssize_t on            # overflow levels
    Py_ssize_t ocap
    int64_t best             # key of the best level (valid when nlevels > 0)
    qty_t best_qty
    Py_ssize_t nlevels
    int is_bid
    int64_t mask             # key = price index ^ mask: -1 for bids (~idx), 0 for asks

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
cdef int l2_apply(L2BookC* b, int side, px_t price, qty_t size) noexcept nogil
cdef Py_ssize_t l2_apply_batch(L2BookC* b, const int64_t* sides, const px_t* prices,
                               const qty_t* sizes, Py_ssize_t n, int* err,
                               int64_t* bbo_out) noexcept nogil
cdef Py_ssize_t l2_apply_deltas(L2BookC* b, const BookDelta* d, Py_ssize_t n,
                                int* err) noexcept nogil
cdef void l2_clear(L2BookC* b, int side) noexcept nogil
cdef void l2_truncate(L2BookC* b, Py_ssize_t depth) noexcept nogil
cdef qty_t l2_level_size(const L2BookC* b, int side, px_t price) noexcept nogil
cdef Py_ssize_t l2_depth(const L2BookC* b, int side, Py_ssize_t n, px_t* px,
                         qty_t* qty) noexcept nogil
cdef uint32_t l2_checksum_kraken(const L2BookC* b) noexcept nogil
cdef int32_t l2_checksum_okx(const L2BookC* b) noexcept nogil
cdef uint32_t crc32_update(uint32_t crc, const char* data, Py_ssize_t n) noexcept nogil


cdef inline bint l2_best(const L2BookC* b, int side, px_t* price, qty_t* size) noexcept nogil:
    """Best level of a side (0 bid, 1 ask): False when the side is empty."""
    cdef const BookSide* s = &b.sides[side]
    if s.nlevels == 0:
        return False
    price[0] = (s.best ^ s.mask) * b.tick
    size[0] = s.best_qty
    return True


cdef class L2Book:
    cdef L2BookC book
    cdef object _bb_obj          # cached Python int of the best bid / ask price
    cdef object _ba_obj
    cdef int64_t _bb_px
    cdef int64_t _ba_px
    cdef list _depth             # last depth() results, recycled when nobody else holds them
    cdef void* _depth_data[8]
    cdef Py_ssize_t _depth_cap[2]
    cdef int _depth_next
    cdef int _raise(self, int rc) except -1


cdef class L3Book:
    cdef L2Book _l2
    cdef dict _orders            # order_id -> pool index
    cdef dict _levels            # (side, price) -> [head, tail] pool indices
    cdef int64_t* _oid
    cdef int64_t* _px
    cdef int64_t* _sz
    cdef int64_t* _prev
    cdef int64_t* _next
    cdef unsigned char* _side
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _free        # head of the free list (-1 none)
    cdef Py_ssize_t _used
    cdef readonly uint64_t unknown_orders
    cdef Py_ssize_t _alloc(self) except -1
    cdef int _set_level(self, int side, int64_t price, int64_t delta) except -1
    cdef int _unlink(self, Py_ssize_t i) except -1
