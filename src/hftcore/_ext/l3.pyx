# L3 (order-level) order book: order table, hash indexes and FIFO queues in C (see l3.pxd).
cimport cython
cimport numpy as cnp
from cpython.bool cimport PyBool_Check
from cpython.long cimport PyLong_Check, PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_RawRealloc, PyMem_RawFree
from libc.string cimport memset, memcpy
from libc.stdint cimport int64_t, uint64_t, uintptr_t, INT64_MAX
from hftcore._ext.types cimport px_t, qty_t
from hftcore._ext.ladder cimport (
    BOOK_TOP, BOOK_EBADSIDE, BOOK_ENEGSIZE, BOOK_ENOMEM, BOOK_EOFFGRID, BOOK_EOVERFLOW,
)
from hftcore._ext.book cimport (
    L2Book, l2_apply, l2_clear, CLEAR_BOTH, ALL_INSTRUMENTS, int64_arg,
)

import operator

import numpy as np

cnp.import_array()

cdef extern from *:
    """
    /* Bucket of a 128-bit key: splitmix64's finaliser over both halves (a bijection of the
       low half, so sequential numeric ids spread evenly). */
    static inline uint64_t id_index_hash(uint64_t low, uint64_t high) {
        uint64_t x = low ^ (high * 0x9E3779B97F4A7C15ull);
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBull;
        x ^= x >> 31;
        return x;
    }
    """
    uint64_t id_index_hash(uint64_t low, uint64_t high) noexcept nogil

L3_EVENT_DTYPE = np.dtype([
    ("exchange_ts", "<i8"), ("local_ts", "<i8"), ("sequence", "<i8"), ("order_id", "<u8"),
    ("order_id_high", "<u8"), ("price", "<i8"), ("size", "<i8"), ("instrument_id", "<u4"),
    ("action", "u1"), ("side", "u1"), ("flags", "u1"), ("_pad", "u1"),
])
assert L3_EVENT_DTYPE.itemsize == sizeof(L3Event)

# L3Event.action and flags, read from l3.pxd (the one definition)
L3_ACTION_ADD = L3_ADD
L3_ACTION_CANCEL = L3_CANCEL
L3_ACTION_MODIFY = L3_MODIFY
L3_ACTION_EXECUTE = L3_EXECUTE
L3_ACTION_CLEAR = L3_CLEAR
L3_FLAG_KEEP_PRICE = L3_KEEP_PRICE


# ----------------------------------------------------------------------------------------------
# Arrays that grow
# ----------------------------------------------------------------------------------------------

cdef inline bint grow_array(void** array, Py_ssize_t capacity, Py_ssize_t item) noexcept nogil:
    """Reallocate *array to `capacity` items; False (array unchanged) when memory is short."""
    cdef void* p
    if capacity > (<Py_ssize_t>0x7FFFFFFFFFFFFFFF) // item:
        return False
    p = PyMem_RawRealloc(array[0], <size_t>(capacity * item))
    if p == NULL:
        return False
    array[0] = p
    return True


cdef inline Py_ssize_t next_capacity(Py_ssize_t capacity, Py_ssize_t need) noexcept nogil:
    """The doubled capacity that holds `need` items (at least 64), or -1 past 2**40."""
    cdef Py_ssize_t c = capacity if capacity >= 64 else 64
    while c < need:
        if c > (<Py_ssize_t>1 << 40):
            return -1
        c *= 2
    return c


# ----------------------------------------------------------------------------------------------
# IdIndex: 128-bit key -> value, open addressing with linear probing
# ----------------------------------------------------------------------------------------------

cdef inline Py_ssize_t index_find_bucket(const IdIndex* ix, uint64_t low,
                                         uint64_t high) noexcept nogil:
    """Bucket holding the key, or -1."""
    cdef uint64_t mask
    cdef Py_ssize_t i
    if ix.count == 0:
        return -1
    mask = <uint64_t>ix.capacity - 1
    i = <Py_ssize_t>(id_index_hash(low, high) & mask)
    while ix.value[i] >= 0:
        if ix.key_low[i] == low and ix.key_high[i] == high:
            return i
        i = <Py_ssize_t>((<uint64_t>i + 1) & mask)
    return -1


cdef inline int64_t index_get(const IdIndex* ix, uint64_t low, uint64_t high) noexcept nogil:
    """The key's value, or -1."""
    cdef Py_ssize_t i = index_find_bucket(ix, low, high)
    return ix.value[i] if i >= 0 else -1


cdef inline void index_put_new(IdIndex* ix, uint64_t low, uint64_t high,
                               int64_t value) noexcept nogil:
    """Insert a key that is not in the index (room reserved by index_reserve)."""
    cdef uint64_t mask = <uint64_t>ix.capacity - 1
    cdef Py_ssize_t i = <Py_ssize_t>(id_index_hash(low, high) & mask)
    while ix.value[i] >= 0:
        i = <Py_ssize_t>((<uint64_t>i + 1) & mask)
    ix.key_low[i] = low
    ix.key_high[i] = high
    ix.value[i] = value
    ix.count += 1


cdef int index_reserve(IdIndex* ix, Py_ssize_t count) noexcept nogil:
    """Room for `count` keys at a load of at most 1/2; BOOK_ENOMEM with the index unchanged."""
    cdef IdIndex bigger
    cdef Py_ssize_t i, capacity = ix.capacity if ix.capacity else 64
    if count <= ix.capacity // 2:
        return 0
    while count > capacity // 2:
        if capacity > (<Py_ssize_t>1 << 41):
            return BOOK_ENOMEM
        capacity *= 2
    bigger.key_low = NULL
    bigger.key_high = NULL
    bigger.value = NULL
    if not (grow_array(<void**>&bigger.key_low, capacity, sizeof(uint64_t))
            and grow_array(<void**>&bigger.key_high, capacity, sizeof(uint64_t))
            and grow_array(<void**>&bigger.value, capacity, sizeof(int64_t))):
        PyMem_RawFree(bigger.key_low)
        PyMem_RawFree(bigger.key_high)
        PyMem_RawFree(bigger.value)
        return BOOK_ENOMEM
    memset(bigger.value, 0xFF, capacity * sizeof(int64_t))      # every bucket -1: empty
    bigger.capacity = capacity
    bigger.count = 0
    for i in range(ix.capacity):
        if ix.value[i] >= 0:
            index_put_new(&bigger, ix.key_low[i], ix.key_high[i], ix.value[i])
    PyMem_RawFree(ix.key_low)
    PyMem_RawFree(ix.key_high)
    PyMem_RawFree(ix.value)
    ix[0] = bigger
    return 0


cdef void index_remove_bucket(IdIndex* ix, Py_ssize_t i) noexcept nogil:
    """Empty bucket i and repair the probe chains through it: each later key of the cluster
    whose home bucket is not cyclically within (i, j] moves back into the hole."""
    cdef uint64_t mask = <uint64_t>ix.capacity - 1
    cdef Py_ssize_t j = i, home
    while True:
        j = <Py_ssize_t>((<uint64_t>j + 1) & mask)
        if ix.value[j] < 0:
            break
        home = <Py_ssize_t>(id_index_hash(ix.key_low[j], ix.key_high[j]) & mask)
        # distance from home to j against distance from i to j, cyclically
        if ((<uint64_t>(j - home)) & mask) >= ((<uint64_t>(j - i)) & mask):
            ix.key_low[i] = ix.key_low[j]
            ix.key_high[i] = ix.key_high[j]
            ix.value[i] = ix.value[j]
            i = j
    ix.value[i] = -1
    ix.count -= 1


cdef void index_free(IdIndex* ix) noexcept nogil:
    PyMem_RawFree(ix.key_low)
    PyMem_RawFree(ix.key_high)
    PyMem_RawFree(ix.value)
    memset(ix, 0, sizeof(IdIndex))


cdef void index_clear(IdIndex* ix) noexcept nogil:
    if ix.capacity:
        memset(ix.value, 0xFF, ix.capacity * sizeof(int64_t))
    ix.count = 0


# ----------------------------------------------------------------------------------------------
# Order and level tables
# ----------------------------------------------------------------------------------------------

cdef int orders_reserve(OrderTable* t, Py_ssize_t count) noexcept nogil:
    """Room for `count` live orders; BOOK_ENOMEM with the table unchanged (arrays that did
    grow keep their contents)."""
    cdef Py_ssize_t c
    if count <= t.capacity:
        return 0
    c = next_capacity(t.capacity, count)
    if c < 0:
        return BOOK_ENOMEM
    if not (grow_array(<void**>&t.id_low, c, sizeof(uint64_t))
            and grow_array(<void**>&t.id_high, c, sizeof(uint64_t))
            and grow_array(<void**>&t.price, c, sizeof(px_t))
            and grow_array(<void**>&t.size, c, sizeof(qty_t))
            and grow_array(<void**>&t.prev, c, sizeof(int64_t))
            and grow_array(<void**>&t.next, c, sizeof(int64_t))
            and grow_array(<void**>&t.level, c, sizeof(int64_t))
            and grow_array(<void**>&t.side, c, sizeof(uint8_t))):
        return BOOK_ENOMEM
    t.capacity = c
    return 0


cdef inline Py_ssize_t orders_take(OrderTable* t) noexcept nogil:
    """A free order slot (room reserved)."""
    cdef Py_ssize_t i
    if t.free_head >= 0:
        i = t.free_head
        t.free_head = t.next[i]
    else:
        i = t.used
        t.used += 1
    t.count += 1
    return i


cdef inline void orders_give_back(OrderTable* t, Py_ssize_t i) noexcept nogil:
    t.next[i] = t.free_head
    t.free_head = i
    t.count -= 1


cdef int levels_reserve(LevelTable* t, Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t c
    if count <= t.capacity:
        return 0
    c = next_capacity(t.capacity, count)
    if c < 0:
        return BOOK_ENOMEM
    if not (grow_array(<void**>&t.head, c, sizeof(int64_t))
            and grow_array(<void**>&t.tail, c, sizeof(int64_t))
            and grow_array(<void**>&t.orders, c, sizeof(int64_t))
            and grow_array(<void**>&t.total, c, sizeof(qty_t))):
        return BOOK_ENOMEM
    t.capacity = c
    return 0


cdef inline Py_ssize_t levels_take(LevelTable* t) noexcept nogil:
    cdef Py_ssize_t i
    if t.free_head >= 0:
        i = t.free_head
        t.free_head = t.orders[i]
    else:
        i = t.used
        t.used += 1
    t.head[i] = -1
    t.tail[i] = -1
    t.orders[i] = 0
    t.total[i] = 0
    t.count += 1
    return i


cdef inline void levels_give_back(LevelTable* t, Py_ssize_t i) noexcept nogil:
    t.orders[i] = t.free_head
    t.free_head = i
    t.count -= 1


# ----------------------------------------------------------------------------------------------
# The L3 book C API
# ----------------------------------------------------------------------------------------------

cdef void l3_init(L3BookC* b, L2BookC* aggregate) noexcept nogil:
    """An empty book summing its levels into `aggregate` (which must outlive it). Tables are
    allocated on the first add."""
    memset(b, 0, sizeof(L3BookC))
    b.aggregate = aggregate
    b.orders.free_head = -1
    b.levels.free_head = -1


cdef void l3_free(L3BookC* b) noexcept nogil:
    cdef OrderTable* t = &b.orders
    index_free(&b.order_index)
    index_free(&b.level_index)
    PyMem_RawFree(t.id_low)
    PyMem_RawFree(t.id_high)
    PyMem_RawFree(t.price)
    PyMem_RawFree(t.size)
    PyMem_RawFree(t.prev)
    PyMem_RawFree(t.next)
    PyMem_RawFree(t.level)
    PyMem_RawFree(t.side)
    PyMem_RawFree(b.levels.head)
    PyMem_RawFree(b.levels.tail)
    PyMem_RawFree(b.levels.orders)
    PyMem_RawFree(b.levels.total)
    l3_init(b, b.aggregate)


cdef int l3_reserve(L3BookC* b, Py_ssize_t orders) noexcept nogil:
    """Room for `orders` live orders on as many levels (BOOK_ENOMEM: nothing changed but
    capacity)."""
    if (orders_reserve(&b.orders, orders) < 0 or levels_reserve(&b.levels, orders) < 0
            or index_reserve(&b.order_index, orders) < 0
            or index_reserve(&b.level_index, orders) < 0):
        return BOOK_ENOMEM
    return 0


cdef inline bint on_grid(const L3BookC* b, px_t price) noexcept nogil:
    return b.aggregate.tick == 1 or price % b.aggregate.tick == 0


cdef inline void queue_append(L3BookC* b, Py_ssize_t level, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t tail = b.levels.tail[level]
    b.orders.prev[i] = tail
    b.orders.next[i] = -1
    b.orders.level[i] = level
    if tail >= 0:
        b.orders.next[tail] = i
    else:
        b.levels.head[level] = i
    b.levels.tail[level] = i
    b.levels.orders[level] += 1


cdef inline void queue_unlink(L3BookC* b, Py_ssize_t i) noexcept nogil:
    """Take order i out of its level's queue; the level goes when it has no order left."""
    cdef Py_ssize_t level = b.orders.level[i]
    cdef int64_t prev = b.orders.prev[i], next = b.orders.next[i]
    cdef Py_ssize_t bucket
    if prev >= 0:
        b.orders.next[prev] = next
    else:
        b.levels.head[level] = next
    if next >= 0:
        b.orders.prev[next] = prev
    else:
        b.levels.tail[level] = prev
    b.levels.orders[level] -= 1
    if b.levels.orders[level] == 0:
        bucket = index_find_bucket(&b.level_index, <uint64_t>b.orders.price[i], b.orders.side[i])
        index_remove_bucket(&b.level_index, bucket)
        levels_give_back(&b.levels, level)


cdef inline Py_ssize_t level_for(L3BookC* b, int side, px_t price) noexcept nogil:
    """The level queue of (side, price), created when missing (room reserved)."""
    cdef int64_t level = index_get(&b.level_index, <uint64_t>price, <uint64_t>side)
    if level < 0:
        level = levels_take(&b.levels)
        index_put_new(&b.level_index, <uint64_t>price, <uint64_t>side, level)
    return level


cdef inline int set_level_size(L3BookC* b, int side, px_t price, qty_t total) noexcept nogil:
    """The aggregate's size at a level; fails (BOOK_ENOMEM) only when it adds a level."""
    return l2_apply(b.aggregate, side, price, total)


cdef int reserve_one_more_slow(L3BookC* b) noexcept nogil:
    if (orders_reserve(&b.orders, b.orders.count + 1) < 0
            or levels_reserve(&b.levels, b.levels.count + 1) < 0
            or index_reserve(&b.order_index, b.order_index.count + 1) < 0
            or index_reserve(&b.level_index, b.level_index.count + 1) < 0):
        return BOOK_ENOMEM
    return 0


cdef inline int reserve_one_more(L3BookC* b) noexcept nogil:
    """Room for one more order and one more level, before anything changes."""
    if (b.orders.count < b.orders.capacity and b.levels.count < b.levels.capacity
            and (b.order_index.count + 1) * 2 <= b.order_index.capacity
            and (b.level_index.count + 1) * 2 <= b.level_index.capacity):
        return 0
    return reserve_one_more_slow(b)


cdef int l3_add(L3BookC* b, OrderId order_id, int side, px_t price, qty_t size) noexcept nogil:
    """Queue a new order at the back of its level. Returns the aggregate's BOOK_* bits, or
    BOOK_EBADSIDE, L3_EBADSIZE (size <= 0), BOOK_EOFFGRID, L3_EDUPLICATE, BOOK_EOVERFLOW (the
    level's total would pass int64), BOOK_ENOMEM; then nothing changed."""
    cdef qty_t total
    cdef Py_ssize_t i
    cdef int64_t level
    cdef int r
    if <unsigned int>side > 1:
        return BOOK_EBADSIDE
    if size <= 0:
        return L3_EBADSIZE
    if not on_grid(b, price):
        return BOOK_EOFFGRID
    if index_find_bucket(&b.order_index, order_id.low, order_id.high) >= 0:
        return L3_EDUPLICATE
    level = index_get(&b.level_index, <uint64_t>price, <uint64_t>side)
    total = b.levels.total[level] if level >= 0 else 0
    if total > INT64_MAX - size:
        return BOOK_EOVERFLOW
    if reserve_one_more(b) < 0:
        return BOOK_ENOMEM
    r = set_level_size(b, side, price, total + size)
    if r < 0:
        return r
    # nothing below can fail
    i = orders_take(&b.orders)
    b.orders.id_low[i] = order_id.low
    b.orders.id_high[i] = order_id.high
    b.orders.price[i] = price
    b.orders.size[i] = size
    b.orders.side[i] = <uint8_t>side
    if level < 0:
        level = levels_take(&b.levels)
        index_put_new(&b.level_index, <uint64_t>price, <uint64_t>side, level)
    b.levels.total[level] = total + size
    queue_append(b, level, i)
    index_put_new(&b.order_index, order_id.low, order_id.high, i)
    return r


cdef inline int remove_order(L3BookC* b, Py_ssize_t bucket) noexcept nogil:
    """Remove the order in `bucket` of the order index (never fails)."""
    cdef Py_ssize_t i = b.order_index.value[bucket]
    cdef Py_ssize_t level = b.orders.level[i]
    cdef qty_t total = b.levels.total[level] - b.orders.size[i]
    cdef int r = set_level_size(b, b.orders.side[i], b.orders.price[i], total)
    b.levels.total[level] = total
    queue_unlink(b, i)
    index_remove_bucket(&b.order_index, bucket)
    orders_give_back(&b.orders, i)
    return r


cdef int l3_cancel(L3BookC* b, OrderId order_id) noexcept nogil:
    """Remove an order: the aggregate's BOOK_* bits, or L3_UNKNOWN_ORDER (counted)."""
    cdef Py_ssize_t bucket = index_find_bucket(&b.order_index, order_id.low, order_id.high)
    if bucket < 0:
        b.unknown_orders += 1
        return L3_UNKNOWN_ORDER
    return remove_order(b, bucket)


cdef int l3_execute(L3BookC* b, OrderId order_id, qty_t size) noexcept nogil:
    """Fill `size` of a resting order (a full fill removes it). The aggregate's BOOK_* bits,
    L3_UNKNOWN_ORDER (counted), or L3_EBADFILL when size is not within 1..remaining."""
    cdef Py_ssize_t bucket = index_find_bucket(&b.order_index, order_id.low, order_id.high)
    cdef Py_ssize_t i
    cdef int side
    cdef px_t price
    cdef int r
    if bucket < 0:
        b.unknown_orders += 1
        return L3_UNKNOWN_ORDER
    i = b.order_index.value[bucket]
    if size <= 0 or size > b.orders.size[i]:
        return L3_EBADFILL
    if size == b.orders.size[i]:
        return remove_order(b, bucket)
    side = b.orders.side[i]
    price = b.orders.price[i]
    b.levels.total[b.orders.level[i]] -= size
    r = set_level_size(b, side, price, b.levels.total[b.orders.level[i]])
    b.orders.size[i] -= size
    return r


cdef int l3_modify(L3BookC* b, OrderId order_id, qty_t size, px_t price,
                   bint keep_price) noexcept nogil:
    """Change an order's size (0 cancels it) and price (kept when keep_price). A smaller size
    at the same price keeps the queue position; a larger size or a new price sends the order
    to the back. The aggregate's BOOK_* bits, L3_UNKNOWN_ORDER (counted), or BOOK_ENEGSIZE,
    BOOK_EOFFGRID, BOOK_EOVERFLOW, BOOK_ENOMEM; then nothing changed."""
    cdef Py_ssize_t bucket = index_find_bucket(&b.order_index, order_id.low, order_id.high)
    cdef Py_ssize_t i
    cdef int64_t level
    cdef int side, r, r_old
    cdef px_t old_price
    cdef qty_t old_size, old_total, new_total
    if bucket < 0:
        b.unknown_orders += 1
        return L3_UNKNOWN_ORDER
    if size < 0:
        return BOOK_ENEGSIZE
    i = b.order_index.value[bucket]
    side = b.orders.side[i]
    old_price = b.orders.price[i]
    old_size = b.orders.size[i]
    if keep_price:
        price = old_price
    elif not on_grid(b, price):
        return BOOK_EOFFGRID
    if size == 0:
        return remove_order(b, bucket)
    old_total = b.levels.total[b.orders.level[i]]
    if price == old_price:
        # the level's total stays within int64: it already holds old_size of it
        if size > old_size and old_total - old_size > INT64_MAX - size:
            return BOOK_EOVERFLOW
        r = set_level_size(b, side, price, old_total - old_size + size)
        b.levels.total[b.orders.level[i]] = old_total - old_size + size
        if size > old_size and b.levels.tail[b.orders.level[i]] != i:
            queue_unlink(b, i)               # the level keeps other orders: it stays
            queue_append(b, b.orders.level[i], i)
        b.orders.size[i] = size
        return r
    level = index_get(&b.level_index, <uint64_t>price, <uint64_t>side)
    new_total = b.levels.total[level] if level >= 0 else 0
    if new_total > INT64_MAX - size:
        return BOOK_EOVERFLOW
    if reserve_one_more(b) < 0:
        return BOOK_ENOMEM
    r = set_level_size(b, side, price, new_total + size)     # may add a level: first
    if r < 0:
        return r
    r_old = set_level_size(b, side, old_price, old_total - old_size)
    b.levels.total[b.orders.level[i]] = old_total - old_size
    queue_unlink(b, i)                       # may free the old level (and its slot)
    b.orders.price[i] = price
    b.orders.size[i] = size
    level = level_for(b, side, price)
    b.levels.total[level] = new_total + size
    queue_append(b, level, i)
    return r | (r_old & BOOK_TOP)


cdef void l3_clear(L3BookC* b) noexcept nogil:
    """Remove every order (capacity is kept)."""
    index_clear(&b.order_index)
    index_clear(&b.level_index)
    b.orders.used = 0
    b.orders.free_head = -1
    b.orders.count = 0
    b.levels.used = 0
    b.levels.free_head = -1
    b.levels.count = 0
    l2_clear(b.aggregate, CLEAR_BOTH)


cdef Py_ssize_t l3_find(const L3BookC* b, OrderId order_id) noexcept nogil:
    """The order's slot in b.orders, or -1."""
    return index_get(&b.order_index, order_id.low, order_id.high)


cdef int l3_queue_position(const L3BookC* b, OrderId order_id, int64_t* orders_ahead,
                           qty_t* size_ahead) noexcept nogil:
    """Orders and total size queued ahead of an order at its level: 0, or L3_UNKNOWN_ORDER.
    O(orders ahead); the size cannot pass int64 (it is part of the level's total)."""
    cdef int64_t j
    cdef Py_ssize_t i = l3_find(b, order_id)
    orders_ahead[0] = 0
    size_ahead[0] = 0
    if i < 0:
        return L3_UNKNOWN_ORDER
    j = b.orders.prev[i]
    while j >= 0:
        orders_ahead[0] += 1
        size_ahead[0] += b.orders.size[j]
        j = b.orders.prev[j]
    return 0


cdef Py_ssize_t l3_apply_events(L3BookC* b, const L3Event* events, Py_ssize_t n,
                                int64_t instrument_id, Py_ssize_t* applied,
                                int* err) noexcept nogil:
    """Apply the L3Event records of one instrument (every record when instrument_id is
    ALL_INSTRUMENTS); the aggregate's sequence and timestamps follow the records applied.
    Returns the index reached (n, or the failing record: its code in err, and that record
    changed nothing); applied counts the records applied. Unknown order ids are counted, not
    errors. events must be aligned for L3Event."""
    cdef Py_ssize_t i
    cdef int r
    cdef const L3Event* e
    cdef OrderId oid
    err[0] = 0
    applied[0] = 0
    for i in range(n):
        e = &events[i]
        if instrument_id >= 0 and e.instrument_id != instrument_id:
            continue
        oid.low = e.order_id
        oid.high = e.order_id_high
        if e.action == L3_ADD:
            r = l3_add(b, oid, e.side, e.price, e.size)
        elif e.action == L3_CANCEL:
            r = l3_cancel(b, oid)
        elif e.action == L3_MODIFY:
            r = l3_modify(b, oid, e.size, e.price, e.flags & L3_KEEP_PRICE)
        elif e.action == L3_EXECUTE:
            r = l3_execute(b, oid, e.size)
        elif e.action == L3_CLEAR:
            l3_clear(b)
            r = 0
        else:
            r = L3_EBADACTION
        if r < 0:
            err[0] = r
            return i
        b.aggregate.sequence = e.sequence
        b.aggregate.exchange_ts = e.exchange_ts
        b.aggregate.local_ts = e.local_ts
        applied[0] += 1
    return n


# ----------------------------------------------------------------------------------------------
# Python surface
# ----------------------------------------------------------------------------------------------

cdef object _MAX_ORDER_ID = (1 << 128) - 1


cdef int _order_id_slow(object value, OrderId* out) except -1:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("order_id must be an int, not bool")
    if not isinstance(value, int):
        if isinstance(value, (float, np.floating, str, bytes)) or not hasattr(type(value),
                                                                             "__index__"):
            raise TypeError(f"order_id must be an int, not {type(value).__name__}")
        value = operator.index(value)
    if value < 0 or value > _MAX_ORDER_ID:
        raise ValueError(f"order_id must be within 0..2**128 - 1, not {value}")
    out.low = <uint64_t>(value & 0xFFFFFFFFFFFFFFFF)
    out.high = <uint64_t>(value >> 64)
    return 0


cdef inline int _order_id(object value, OrderId* out) except -1:
    """An order id: an int within 0..2**128 - 1 (TypeError / ValueError naming order_id)."""
    cdef int overflow = 0
    cdef long long v
    if PyLong_Check(value) and not PyBool_Check(value):
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0 and v >= 0:
            out.low = <uint64_t>v
            out.high = 0
            return 0
    return _order_id_slow(value, out)


cdef inline object _order_id_int(uint64_t low, uint64_t high):
    if high == 0:
        return low
    return (<object>high << 64) | <object>low


cdef object _l3_error(L3Book book, int rc, object order_id, int64_t side, int64_t price,
                      int64_t size):
    """The exception for an error code (the same text from the methods and apply_events)."""
    cdef OrderId oid
    cdef Py_ssize_t i
    if rc == L3_EDUPLICATE:
        return ValueError(f"order {order_id} is already in the book")
    if rc == L3_EBADSIZE:
        return ValueError(f"size must be > 0, not {size}")
    if rc == L3_EBADFILL:
        _order_id(order_id, &oid)
        i = l3_find(&book.book, oid)
        remaining = book.book.orders.size[i] if i >= 0 else 0
        return ValueError(f"execute size must be within 1..{remaining}, not {size}")
    if rc == L3_EBADACTION:
        return ValueError(f"action must be 1..5 (add, cancel, modify, execute, clear), not {side}")
    if rc == BOOK_EBADSIDE:
        return ValueError(f"side must be 0 (bid) or 1 (ask), not {side}")
    if rc == BOOK_ENEGSIZE:
        return ValueError(f"size must be >= 0, not {size}")
    if rc == BOOK_EOFFGRID:
        return ValueError(f"price {price} is not a multiple of the tick {book.book.aggregate.tick}")
    if rc == BOOK_EOVERFLOW:
        return OverflowError(f"the level at {price} would hold more than the int64 range")
    if rc == BOOK_ENOMEM:
        return MemoryError("cannot grow the order book")
    return ValueError(f"order book error {rc}")


_event_dtype_ok = {L3_EVENT_DTYPE: True}
_EVENT_FIELDS = tuple(n for n in L3_EVENT_DTYPE.names if n != "_pad")


def _is_event_dtype(dt):
    ok = _event_dtype_ok.get(dt)
    if ok is None:
        ours = L3_EVENT_DTYPE.fields
        theirs = dt.fields
        ok = (dt.itemsize == sizeof(L3Event) and theirs is not None
              and all(f in theirs and theirs[f][:2] == ours[f][:2] for f in _EVENT_FIELDS))
        _event_dtype_ok[dt] = ok
    return ok


_L3_FORWARDED = frozenset({
    "spread", "mid", "mid_x2", "microprice", "is_crossed", "is_locked", "depth_into", "level",
    "size_at", "volume_within", "cost", "price_for_size", "vwap", "imbalance", "price_decimals",
    "size_decimals", "tick", "window", "sequence", "exchange_ts", "local_ts", "crosses",
})


@cython.final
cdef class L3Book:
    """Order-level (L3) book: orders queue FIFO per price level; an `L2Book` view (`l2`) holds
    the sizes summed per level, so every L2 read works here too.

    Parameters
    ----------
    price_decimals, size_decimals : int
        Decimals of the integer prices and sizes (0..18).
    tick, window : int, optional
        As for `L2Book`.

    Notes
    -----
    Order ids are ints within 0..2**128 - 1 (numeric venue ids, or a UUID's ``.int``).
    `cancel`, `modify` and `execute` of an unknown id return False and count it in
    `unknown_orders`; adding an id that is in the book raises ValueError. Every refused call
    changes nothing. `apply_events` applies a batch of `L3_EVENT_DTYPE` records without the GIL.
    """

    def __cinit__(self, price_decimals=0, size_decimals=0, *, tick=1, window=8192):
        self._l2 = L2Book(price_decimals, size_decimals, tick=tick, window=window)
        self._l2._view_of_l3 = 1
        l3_init(&self.book, &self._l2.book)

    def __dealloc__(self):
        l3_free(&self.book)

    cdef int _check_writable(self) except -1:
        if self._busy:
            raise RuntimeError("the book is being updated by apply_events in another thread")
        return 0

    cdef int _check_readable(self) except -1:
        if self._busy:
            raise RuntimeError("the book is being updated by apply_events in another thread")
        return 0

    # -- writes ----------------------------------------------------------------------------

    def add(self, order_id, side, price, size):
        """Queue a new order at the back of its price level; returns True when the top of the
        book changed. ValueError when the id is in the book, the side is not 0/1, the size not
        > 0 or the price off the tick grid."""
        cdef OrderId oid
        _order_id(order_id, &oid)
        cdef int64_t s = int64_arg(side, "side")
        cdef int64_t p = int64_arg(price, "price")
        cdef int64_t q = int64_arg(size, "size")
        cdef int r
        self._check_writable()
        r = l3_add(&self.book, oid, <int>s, p, q) if <uint64_t>s <= 1 else BOOK_EBADSIDE
        if r < 0:
            raise _l3_error(self, r, order_id, s, p, q)
        return (r & BOOK_TOP) != 0

    def cancel(self, order_id):
        """Remove an order; False (counted in `unknown_orders`) when the id is unknown."""
        cdef OrderId oid
        _order_id(order_id, &oid)
        self._check_writable()
        return l3_cancel(&self.book, oid) != L3_UNKNOWN_ORDER

    def execute(self, order_id, size):
        """Fill `size` of an order (it leaves the book when fully filled); False (counted) when
        the id is unknown. ValueError when size is not within 1..remaining."""
        cdef OrderId oid
        _order_id(order_id, &oid)
        cdef int64_t q = int64_arg(size, "size")
        cdef int r
        self._check_writable()
        r = l3_execute(&self.book, oid, q)
        if r < 0:
            raise _l3_error(self, r, order_id, 0, 0, q)
        return r != L3_UNKNOWN_ORDER

    def modify(self, order_id, size, price=None):
        """Change an order's size (and price). A smaller size at the same price keeps the queue
        position; a larger size or a new price sends it to the back. Size 0 cancels. False
        (counted) when the id is unknown."""
        cdef OrderId oid
        _order_id(order_id, &oid)
        cdef int64_t q = int64_arg(size, "size")
        cdef int64_t p = 0 if price is None else int64_arg(price, "price")
        cdef int r
        self._check_writable()
        r = l3_modify(&self.book, oid, q, p, price is None)
        if r < 0:
            raise _l3_error(self, r, order_id, 0, p, q)
        return r != L3_UNKNOWN_ORDER

    def apply_events(self, records, instrument_id=None):
        """Apply `L3_EVENT_DTYPE` records (add, cancel, modify, execute, clear) without the GIL;
        returns the number applied.

        `records` is an `L3_EVENT_DTYPE` array (or a structured dtype with its fields at the same
        offsets) or a bytes-like buffer of 64-byte records, at any alignment. With
        `instrument_id`, only that instrument's records are applied. Each record is checked as
        the method of its action checks it; a bad record changes nothing: the records before it
        stay applied and the error names it. The book's `sequence`, `exchange_ts` and `local_ts`
        follow the records applied.
        """
        cdef const unsigned char[::1] raw
        cdef const unsigned char* data
        cdef Py_ssize_t n, done, applied = 0
        cdef int64_t which = ALL_INSTRUMENTS
        cdef int err = 0
        cdef object keep
        cdef const L3Event* bad
        if instrument_id is not None:
            which = int64_arg(instrument_id, "instrument_id")
            if which < 0 or which > 0xFFFFFFFF:
                raise ValueError(f"instrument_id must be within 0..4294967295, not {which}")
        if isinstance(records, np.ndarray):
            if records.dtype.fields is None or not _is_event_dtype(records.dtype):
                raise ValueError("records must be L3Event records (L3_EVENT_DTYPE layout), "
                                 f"not {records.dtype}")
            records = np.ascontiguousarray(records).reshape(-1).view(np.uint8)
        try:
            raw = records
        except (TypeError, ValueError, BufferError):
            raise TypeError("records must be an L3Event array or a bytes-like buffer, not "
                            f"{type(records).__name__}") from None
        if raw.shape[0] % sizeof(L3Event):
            raise ValueError(f"records: {raw.shape[0]} bytes is not a whole number of 64-byte "
                             "L3Event records")
        n = raw.shape[0] // sizeof(L3Event)
        self._check_writable()
        if n == 0:
            return 0
        data = &raw[0]
        if <uintptr_t>data % 8:
            # copy records at an odd address to aligned memory (no unaligned 8-byte loads)
            keep = np.empty(n * sizeof(L3Event), dtype=np.uint8)
            memcpy(cnp.PyArray_DATA(keep), data, n * sizeof(L3Event))
            data = <const unsigned char*>cnp.PyArray_DATA(keep)
        self._busy = 1
        self._l2._busy = 1
        try:
            if n >= 64:         # releasing the GIL costs more than a few rows
                with nogil:
                    done = l3_apply_events(&self.book, <const L3Event*>data, n, which, &applied,
                                           &err)
            else:
                done = l3_apply_events(&self.book, <const L3Event*>data, n, which, &applied,
                                       &err)
        finally:
            self._busy = 0
            self._l2._busy = 0
        if err:
            bad = &(<const L3Event*>data)[done]
            exc = _l3_error(self, err, _order_id_int(bad.order_id, bad.order_id_high),
                            bad.action if err == L3_EBADACTION else bad.side, bad.price,
                            bad.size)
            raise type(exc)(f"record {done}: {exc}")
        return applied

    def clear(self):
        """Remove every order."""
        self._check_writable()
        l3_clear(&self.book)

    def reserve(self, orders):
        """Make room for `orders` live orders up front (no growth while a snapshot loads)."""
        cdef int64_t n = int64_arg(orders, "orders")
        if n < 0:
            raise ValueError(f"orders must be >= 0, not {n}")
        self._check_writable()
        if l3_reserve(&self.book, <Py_ssize_t>min(n, <int64_t>1 << 40)) < 0:
            raise MemoryError(f"cannot make room for {n} orders")

    # -- reads ---------------------------------------------------------------------------

    def order(self, order_id):
        """``(side, price, size)`` of an order in the book; KeyError when unknown."""
        cdef OrderId oid
        cdef Py_ssize_t i
        _order_id(order_id, &oid)
        self._check_readable()
        i = l3_find(&self.book, oid)
        if i < 0:
            raise KeyError(order_id)
        return self.book.orders.side[i], self.book.orders.price[i], self.book.orders.size[i]

    def queue_position(self, order_id):
        """Total size queued ahead of an order at its price level; KeyError when unknown."""
        cdef OrderId oid
        cdef int64_t ahead
        cdef qty_t size_ahead
        _order_id(order_id, &oid)
        self._check_readable()
        if l3_queue_position(&self.book, oid, &ahead, &size_ahead) == L3_UNKNOWN_ORDER:
            raise KeyError(order_id)
        return size_ahead

    def orders_ahead(self, order_id):
        """Number of orders queued ahead of an order at its price level; KeyError when
        unknown."""
        cdef OrderId oid
        cdef int64_t ahead
        cdef qty_t size_ahead
        _order_id(order_id, &oid)
        self._check_readable()
        if l3_queue_position(&self.book, oid, &ahead, &size_ahead) == L3_UNKNOWN_ORDER:
            raise KeyError(order_id)
        return ahead

    def orders_at(self, side, price):
        """``[(order_id, size), ...]`` queued at a level, front first."""
        cdef int64_t s = int64_arg(side, "side")
        cdef int64_t p = int64_arg(price, "price")
        cdef int64_t level, j
        if <uint64_t>s > 1:
            raise ValueError(f"side must be 0 (bid) or 1 (ask), not {s}")
        self._check_readable()
        out = []
        level = index_get(&self.book.level_index, <uint64_t>p, <uint64_t>s)
        if level < 0:
            return out
        j = self.book.levels.head[level]
        while j >= 0:
            out.append((_order_id_int(self.book.orders.id_low[j], self.book.orders.id_high[j]),
                        self.book.orders.size[j]))
            j = self.book.orders.next[j]
        return out

    @property
    def unknown_orders(self):
        """Cancels, modifies and executions of order ids that were not in the book."""
        return self.book.unknown_orders

    @property
    def l2(self):
        """The aggregated `L2Book` (read-only: its writes raise RuntimeError)."""
        return self._l2

    @property
    def best_bid(self):
        """Best bid price, or None."""
        return self._l2.best_bid

    @property
    def best_ask(self):
        """Best ask price, or None."""
        return self._l2.best_ask

    @property
    def best_bid_size(self):
        """Aggregated size at the best bid, or None."""
        return self._l2.best_bid_size

    @property
    def best_ask_size(self):
        """Aggregated size at the best ask, or None."""
        return self._l2.best_ask_size

    def depth(self, n):
        """Aggregated top `n` levels, as `L2Book.depth`."""
        return self._l2.depth(n)

    def levels(self, side, n=None):
        """Aggregated levels of a side, as `L2Book.levels`."""
        return self._l2.levels(side, n)

    def checksum(self, venue):
        """Venue checksum of the aggregated book, as `L2Book.checksum`."""
        return self._l2.checksum(venue)

    def __getattr__(self, name):
        # the rest of the L2 *read* API; writes go through the orders only
        if name not in _L3_FORWARDED:
            raise AttributeError(f"'L3Book' object has no attribute {name!r}")
        return getattr(self._l2, name)

    def __len__(self):
        return self.book.orders.count

    def __contains__(self, order_id):
        cdef OrderId oid
        try:
            _order_id(order_id, &oid)
        except (TypeError, ValueError):
            return False
        return l3_find(&self.book, oid) >= 0

    def __repr__(self):
        cdef str l2 = repr(self._l2)          # "<L2Book ...>": its inside follows ours
        return (f"<L3Book orders {self.book.orders.count}, {l2[8:len(l2) - 1]}, "
                f"unknown ids {self.book.unknown_orders}>")
