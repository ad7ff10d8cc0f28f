# L3 (order-level) order book: the C API, nogil, for full-order-book feeds (Coinbase "full",
# Kraken "level3") and the simulator's queue positions.
#
# Orders live in a struct-of-arrays table (one slot per live order, free slots linked), queued
# FIFO per price level through prev/next slot links.  Two open-addressing hash indexes over
# struct-of-arrays (linear probing, backward-shift deletion: no tombstones) map an order id to
# its slot and a (side, price) to its level's queue.  Level sizes are summed into an L2 book
# (the `aggregate`), so every L2 read works on an L3 book.  No Python object per operation.
#
# Every function is `noexcept nogil` and returns BOOK_* bits of the aggregate (>= 0, plus
# L3_UNKNOWN_ORDER) or an error code (< 0), and then nothing changed.
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t
from hftcore._ext.types cimport px_t, qty_t, ts_t
from hftcore._ext.book cimport L2Book, L2BookC

# L3Event.action
cdef enum:
    L3_ADD = 1               # a new order at the back of its level: side, price, size (> 0)
    L3_CANCEL = 2            # remove an order
    L3_MODIFY = 3            # new size (0 cancels) and price; smaller at the same price keeps
                             # the queue position, otherwise the order goes to the back
    L3_EXECUTE = 4           # fill `size` (1..remaining) of a resting order
    L3_CLEAR = 5             # remove every order (a snapshot follows)

# L3Event.flags
cdef enum:
    L3_KEEP_PRICE = 1        # L3_MODIFY: keep the order's price (the record's price is ignored)

# Result bit (with the aggregate's BOOK_TOP / BOOK_INSERT / BOOK_DELETE) and error codes.
cdef enum:
    L3_UNKNOWN_ORDER = 16    # cancel / modify / execute of an id not in the book (counted)
    L3_EDUPLICATE = -20      # add of an order id that is in the book
    L3_EBADSIZE = -21        # add with a size <= 0
    L3_EBADFILL = -22        # execute of a size not within 1..remaining
    L3_EBADACTION = -23      # an L3Event action that is none of the above

ctypedef struct OrderId:     # up to 128 bits: numeric ids, UUIDs (Coinbase), packed text ids
    uint64_t low
    uint64_t high

ctypedef struct L3Event:     # 64 bytes; numpy mirror L3_EVENT_DTYPE
    ts_t exchange_ts
    ts_t local_ts
    int64_t sequence
    uint64_t order_id        # low 64 bits of the order id
    uint64_t order_id_high   # high 64 bits (0 for numeric ids)
    px_t price
    qty_t size
    uint32_t instrument_id
    uint8_t action
    uint8_t side
    uint8_t flags
    uint8_t _pad

ctypedef struct IdIndex:     # 128-bit key -> int64 value; open addressing over arrays
    uint64_t* key_low
    uint64_t* key_high
    int64_t* value           # -1: empty bucket
    Py_ssize_t capacity      # buckets: a power of two, 0 before the first insert
    Py_ssize_t count

ctypedef struct OrderTable:  # one slot per live order
    uint64_t* id_low
    uint64_t* id_high
    px_t* price
    qty_t* size
    int64_t* prev            # neighbours in the level's FIFO queue (-1: none)
    int64_t* next            # (also links the free slots)
    int64_t* level           # slot of the order's level in the LevelTable
    uint8_t* side
    Py_ssize_t capacity
    Py_ssize_t used          # slots handed out so far (the free list holds the returned ones)
    Py_ssize_t free_head
    Py_ssize_t count

ctypedef struct LevelTable:  # one FIFO queue per (side, price) holding orders
    int64_t* head            # front order slot
    int64_t* tail            # back order slot
    int64_t* orders          # orders queued (also links the free slots)
    qty_t* total             # their summed size (what the aggregate holds for the level)
    Py_ssize_t capacity
    Py_ssize_t used
    Py_ssize_t free_head
    Py_ssize_t count

ctypedef struct L3BookC:
    L2BookC* aggregate       # sizes summed per level (the L2Book the L3Book object owns)
    IdIndex order_index      # order id -> order slot
    IdIndex level_index      # (price, side) -> level slot
    OrderTable orders
    LevelTable levels
    uint64_t unknown_orders

cdef void l3_init(L3BookC* b, L2BookC* aggregate) noexcept nogil
cdef void l3_free(L3BookC* b) noexcept nogil
cdef int l3_reserve(L3BookC* b, Py_ssize_t orders) noexcept nogil
cdef int l3_add(L3BookC* b, OrderId order_id, int side, px_t price, qty_t size) noexcept nogil
cdef int l3_cancel(L3BookC* b, OrderId order_id) noexcept nogil
cdef int l3_execute(L3BookC* b, OrderId order_id, qty_t size) noexcept nogil
cdef int l3_modify(L3BookC* b, OrderId order_id, qty_t size, px_t price,
                   bint keep_price) noexcept nogil
cdef void l3_clear(L3BookC* b) noexcept nogil
cdef Py_ssize_t l3_find(const L3BookC* b, OrderId order_id) noexcept nogil
cdef int l3_queue_position(const L3BookC* b, OrderId order_id, int64_t* orders_ahead,
                           qty_t* size_ahead) noexcept nogil
cdef Py_ssize_t l3_apply_events(L3BookC* b, const L3Event* events, Py_ssize_t n,
                                int64_t instrument_id, Py_ssize_t* applied,
                                int* err) noexcept nogil


cdef class L3Book:
    cdef L3BookC book
    cdef L2Book _l2
    cdef int _busy               # set while apply_events runs without the GIL
    cdef int _check_writable(self) except -1
    cdef int _check_readable(self) except -1
