# The price ladder: one side of a price-level book, as inline nogil operations.
#
# Layout: a dense ladder of `cap` slots (a power of two) indexed by (key - base), where the key
# of a price is its index (price / tick) for asks and ~index for bids.  Keys then ascend from the
# best level toward worse ones on both sides, so one branch-free code path serves both.  An
# occupancy bitmap (one bit per slot) and a summary bitmap (one bit per 64-slot word) find the
# next level with a bit scan.  Levels outside the window live in a sorted overflow array, keys
# ascending (nearest to the best first).  The best level is always inside the window: when it
# leaves, the window moves.  Updates near the top are O(1) and a size-only update never moves
# another level.
#
# Every function returns BOOK_* bits (>= 0) or an error code (< 0); nothing here raises.
from cpython.mem cimport PyMem_RawMalloc, PyMem_RawRealloc, PyMem_RawFree
from libc.stdint cimport int64_t, uint64_t, INT64_MIN, INT64_MAX
from libc.string cimport memset, memmove
from hftcore._ext.types cimport px_t, qty_t

cdef extern from "ladder.h":
    int highest_set_bit(uint64_t word) noexcept nogil
    int lowest_set_bit(uint64_t word) noexcept nogil
    ctypedef struct wide_int:
        uint64_t low
        int64_t high
    bint wide_add(wide_int* w, int64_t v) noexcept nogil
    bint wide_add_product(wide_int* w, int64_t a, int64_t b) noexcept nogil

# Result bits (>= 0) and error codes (< 0) of the book operations.
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
    BOOK_EOVERFLOW = -6      # a level's total size would pass the int64 range (L3 aggregation)
    BOOK_EBADWINDOW = -7     # ladder window not a power of two within LADDER_MIN..LADDER_MAX

cdef enum:
    LADDER_MIN = 64          # ladder slots per side, smallest and largest window
    LADDER_MAX = 1 << 26

ctypedef struct BookSide:
    int64_t base             # key of ladder slot 0
    Py_ssize_t cap           # ladder slots (power of two, LADDER_MIN..LADDER_MAX)
    Py_ssize_t nwords        # occupancy words: cap / 64
    Py_ssize_t nsummary      # summary words: ceil(nwords / 64)
    qty_t* qty               # [cap] size per slot, 0 = no level
    uint64_t* occupied       # [nwords] bit i of word w set: slot 64 * w + i holds a level
    uint64_t* summary        # [nsummary] bit w set: occupied[w] != 0
    Py_ssize_t ladder_levels # levels inside the window
    int64_t* overflow_key    # levels outside the window, keys ascending (nearest to best first)
    qty_t* overflow_qty
    Py_ssize_t overflow_levels
    Py_ssize_t overflow_cap
    int64_t best             # key of the best level (valid when nlevels > 0)
    qty_t best_qty
    Py_ssize_t nlevels
    int is_bid
    int64_t mask             # key = price index ^ mask: -1 for bids (~index), 0 for asks


cdef inline void* ladder_alloc(Py_ssize_t n, Py_ssize_t size) noexcept nogil:
    """n * size bytes (NULL when n <= 0, on overflow or when memory is short)."""
    if n <= 0 or n > (<Py_ssize_t>0x7FFFFFFFFFFFFFFF) // size:
        return NULL
    return PyMem_RawMalloc(<size_t>(n * size))


cdef inline uint64_t side_slot(const BookSide* s, int64_t key) noexcept nogil:
    """Ladder slot of a key; >= cap when the key is outside the window (unsigned: no overflow)."""
    return <uint64_t>key - <uint64_t>s.base


cdef inline Py_ssize_t ladder_occupied_below(const BookSide* s, Py_ssize_t i) noexcept nogil:
    """Highest occupied slot strictly below i (0 <= i <= cap), or -1."""
    cdef Py_ssize_t w = i >> 6
    cdef Py_ssize_t sw
    cdef uint64_t m
    if w < s.nwords:
        m = s.occupied[w] & ((<uint64_t>1 << (i & 63)) - 1)
        if m:
            return (w << 6) + highest_set_bit(m)
    if w == 0:
        return -1
    w -= 1
    sw = w >> 6
    m = s.summary[sw] & ((<uint64_t>2 << (w & 63)) - 1)
    while True:
        if m:
            w = (sw << 6) + highest_set_bit(m)
            return (w << 6) + highest_set_bit(s.occupied[w])
        if sw == 0:
            return -1
        sw -= 1
        m = s.summary[sw]


cdef inline Py_ssize_t ladder_occupied_above(const BookSide* s, Py_ssize_t i) noexcept nogil:
    """Lowest occupied slot strictly above i (-1 <= i < cap), or -1: the next worse level."""
    cdef Py_ssize_t w, sw
    cdef uint64_t m
    i += 1
    if i >= s.cap:
        return -1
    w = i >> 6
    m = s.occupied[w] & ~((<uint64_t>1 << (i & 63)) - 1)
    if m:
        return (w << 6) + lowest_set_bit(m)
    w += 1
    if w >= s.nwords:
        return -1
    sw = w >> 6
    m = s.summary[sw] & ~((<uint64_t>1 << (w & 63)) - 1)
    while True:
        if m:
            w = (sw << 6) + lowest_set_bit(m)
            return (w << 6) + lowest_set_bit(s.occupied[w])
        sw += 1
        if sw >= s.nsummary:
            return -1
        m = s.summary[sw]


cdef inline void ladder_mark(BookSide* s, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t w = i >> 6
    s.occupied[w] |= (<uint64_t>1 << (i & 63))
    s.summary[w >> 6] |= (<uint64_t>1 << (w & 63))


cdef inline void ladder_unmark(BookSide* s, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t w = i >> 6
    s.occupied[w] &= ~(<uint64_t>1 << (i & 63))
    if s.occupied[w] == 0:
        s.summary[w >> 6] &= ~(<uint64_t>1 << (w & 63))


cdef inline void ladder_empty(BookSide* s) noexcept nogil:
    """Zero the ladder's sizes and bitmaps (only the words in use)."""
    cdef Py_ssize_t w
    if s.ladder_levels:
        for w in range(s.nwords):
            if s.occupied[w]:
                memset(s.qty + (w << 6), 0, 64 * sizeof(qty_t))
                s.occupied[w] = 0
        memset(s.summary, 0, s.nsummary * sizeof(uint64_t))
    s.ladder_levels = 0


cdef inline int side_init(BookSide* s, Py_ssize_t cap, int is_bid) noexcept nogil:
    """Allocate an empty side of `cap` ladder slots (a power of two, checked by the caller)."""
    s.cap = cap
    s.nwords = cap >> 6
    s.nsummary = (s.nwords + 63) >> 6
    s.is_bid = is_bid
    s.mask = -1 if is_bid else 0
    s.qty = <qty_t*>ladder_alloc(cap, sizeof(qty_t))
    s.occupied = <uint64_t*>ladder_alloc(s.nwords, sizeof(uint64_t))
    s.summary = <uint64_t*>ladder_alloc(s.nsummary, sizeof(uint64_t))
    s.overflow_cap = 64
    s.overflow_key = <int64_t*>ladder_alloc(s.overflow_cap, sizeof(int64_t))
    s.overflow_qty = <qty_t*>ladder_alloc(s.overflow_cap, sizeof(qty_t))
    s.base = 0
    s.ladder_levels = 0
    s.overflow_levels = 0
    s.nlevels = 0
    s.best = 0
    s.best_qty = 0
    if (s.qty == NULL or s.occupied == NULL or s.summary == NULL or s.overflow_key == NULL
            or s.overflow_qty == NULL):
        return BOOK_ENOMEM
    memset(s.qty, 0, cap * sizeof(qty_t))
    memset(s.occupied, 0, s.nwords * sizeof(uint64_t))
    memset(s.summary, 0, s.nsummary * sizeof(uint64_t))
    return 0


cdef inline void side_free(BookSide* s) noexcept nogil:
    PyMem_RawFree(s.qty)
    PyMem_RawFree(s.occupied)
    PyMem_RawFree(s.summary)
    PyMem_RawFree(s.overflow_key)
    PyMem_RawFree(s.overflow_qty)
    s.qty = NULL
    s.occupied = NULL
    s.summary = NULL
    s.overflow_key = NULL
    s.overflow_qty = NULL
    s.nlevels = 0
    s.ladder_levels = 0
    s.overflow_levels = 0


cdef inline void side_clear(BookSide* s) noexcept nogil:
    ladder_empty(s)
    s.overflow_levels = 0
    s.nlevels = 0
    s.best_qty = 0


cdef inline void side_place_window(BookSide* s, int64_t best) noexcept nogil:
    """Set the window so that the key `best` sits at its first quarter (3/4 for worse levels),
    clamped to the int64 range."""
    cdef int64_t ahead = s.cap >> 2
    cdef int64_t base
    if best < INT64_MIN + ahead:
        base = INT64_MIN
    else:
        base = best - ahead
    if base > INT64_MAX - (s.cap - 1):
        base = INT64_MAX - (s.cap - 1)
    s.base = base


cdef inline int overflow_reserve(BookSide* s, Py_ssize_t need) noexcept nogil:
    """Room for `need` overflow levels; BOOK_ENOMEM (nothing changed) when memory is short."""
    cdef Py_ssize_t c = s.overflow_cap
    cdef void* k
    cdef void* q
    if need <= c:
        return 0
    while c < need:
        if c > (<Py_ssize_t>1 << 56):
            return BOOK_ENOMEM
        c *= 2
    k = PyMem_RawRealloc(s.overflow_key, <size_t>c * sizeof(int64_t))
    if k == NULL:
        return BOOK_ENOMEM
    s.overflow_key = <int64_t*>k
    q = PyMem_RawRealloc(s.overflow_qty, <size_t>c * sizeof(qty_t))
    if q == NULL:
        return BOOK_ENOMEM      # the key array is larger than needed: harmless
    s.overflow_qty = <qty_t*>q
    s.overflow_cap = c
    return 0


cdef inline Py_ssize_t overflow_search(const BookSide* s, int64_t key) noexcept nogil:
    """First overflow position whose key is >= key."""
    cdef Py_ssize_t lo = 0, hi = s.overflow_levels, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if s.overflow_key[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline int side_move_window(BookSide* s, int64_t best) noexcept nogil:
    """Move the window so `best` (a key better than every level, or the first overflow level when
    the ladder is empty) is inside it, re-partitioning ladder and overflow levels.  Allocates
    only when the ladder holds levels; on BOOK_ENOMEM nothing changed."""
    cdef Py_ssize_t n = s.ladder_levels, k = 0, i, keep, rest
    cdef int64_t* moved_key = NULL
    cdef qty_t* moved_qty = NULL
    cdef Py_ssize_t slot
    cdef uint64_t sl
    if n:
        moved_key = <int64_t*>ladder_alloc(n, sizeof(int64_t))
        moved_qty = <qty_t*>ladder_alloc(n, sizeof(qty_t))
        # reserve the overflow room first: once the ladder is emptied nothing may fail
        if (moved_key == NULL or moved_qty == NULL
                or overflow_reserve(s, s.overflow_levels + n) < 0):
            PyMem_RawFree(moved_key)
            PyMem_RawFree(moved_qty)
            return BOOK_ENOMEM
        slot = ladder_occupied_above(s, -1)
        while slot >= 0:         # ladder levels, best first
            moved_key[k] = s.base + slot
            moved_qty[k] = s.qty[slot]
            k += 1
            slot = ladder_occupied_above(s, slot)
        ladder_empty(s)
    side_place_window(s, best)
    # old ladder levels that still fit go back to the ladder; the rest lead the overflow
    keep = 0
    while keep < k:
        sl = side_slot(s, moved_key[keep])
        if sl >= <uint64_t>s.cap:
            break
        s.qty[sl] = moved_qty[keep]
        ladder_mark(s, <Py_ssize_t>sl)
        keep += 1
    s.ladder_levels = keep
    rest = k - keep
    if rest:
        memmove(s.overflow_key + rest, s.overflow_key, s.overflow_levels * sizeof(int64_t))
        memmove(s.overflow_qty + rest, s.overflow_qty, s.overflow_levels * sizeof(qty_t))
        for i in range(rest):
            s.overflow_key[i] = moved_key[keep + i]
            s.overflow_qty[i] = moved_qty[keep + i]
        s.overflow_levels += rest
    PyMem_RawFree(moved_key)
    PyMem_RawFree(moved_qty)
    # overflow levels that now fall inside the window move to the ladder
    i = 0
    while i < s.overflow_levels:
        sl = side_slot(s, s.overflow_key[i])
        if sl >= <uint64_t>s.cap:
            break
        s.qty[sl] = s.overflow_qty[i]
        ladder_mark(s, <Py_ssize_t>sl)
        i += 1
    if i:
        s.ladder_levels += i
        s.overflow_levels -= i
        memmove(s.overflow_key, s.overflow_key + i, s.overflow_levels * sizeof(int64_t))
        memmove(s.overflow_qty, s.overflow_qty + i, s.overflow_levels * sizeof(qty_t))
    return 0


cdef inline void side_refresh_best(BookSide* s, Py_ssize_t from_slot) noexcept nogil:
    """The best level (at from_slot) was removed from the ladder: find the next one."""
    cdef Py_ssize_t next_slot = ladder_occupied_above(s, from_slot)
    if next_slot >= 0:
        s.best = s.base + next_slot
        s.best_qty = s.qty[next_slot]
    elif s.overflow_levels > 0:
        side_move_window(s, s.overflow_key[0])   # cannot fail: the ladder is empty
        next_slot = ladder_occupied_above(s, -1)
        s.best = s.base + next_slot
        s.best_qty = s.qty[next_slot]
    else:
        s.best_qty = 0


cdef inline int side_set(BookSide* s, int64_t key, qty_t q) noexcept nogil:
    """Set the size of the level at `key` (0 deletes it).  Returns BOOK_* bits, or BOOK_ENOMEM
    with nothing changed.  Deletes and size changes of existing levels never allocate."""
    cdef uint64_t sl
    cdef Py_ssize_t i
    cdef qty_t old
    cdef int r, rc
    if q == 0:
        if s.nlevels == 0:
            return BOOK_MISSING
        sl = side_slot(s, key)
        if sl < <uint64_t>s.cap:
            if s.qty[sl] == 0:
                return BOOK_MISSING
            s.qty[sl] = 0
            ladder_unmark(s, <Py_ssize_t>sl)
            s.ladder_levels -= 1
            s.nlevels -= 1
            if key == s.best:
                side_refresh_best(s, <Py_ssize_t>sl)
                return BOOK_TOP | BOOK_DELETE
            return BOOK_DELETE
        i = overflow_search(s, key)
        if i >= s.overflow_levels or s.overflow_key[i] != key:
            return BOOK_MISSING
        s.overflow_levels -= 1
        memmove(s.overflow_key + i, s.overflow_key + i + 1,
                (s.overflow_levels - i) * sizeof(int64_t))
        memmove(s.overflow_qty + i, s.overflow_qty + i + 1,
                (s.overflow_levels - i) * sizeof(qty_t))
        s.nlevels -= 1
        return BOOK_DELETE
    if s.nlevels == 0:
        side_place_window(s, key)
        sl = side_slot(s, key)
        s.qty[sl] = q
        ladder_mark(s, <Py_ssize_t>sl)
        s.ladder_levels = 1
        s.nlevels = 1
        s.best = key
        s.best_qty = q
        return BOOK_TOP | BOOK_INSERT
    sl = side_slot(s, key)
    if sl < <uint64_t>s.cap:
        old = s.qty[sl]
        s.qty[sl] = q
        r = 0
        if old == 0:
            ladder_mark(s, <Py_ssize_t>sl)
            s.ladder_levels += 1
            s.nlevels += 1
            r = BOOK_INSERT
        if key == s.best:
            s.best_qty = q
            if old != q:
                r |= BOOK_TOP
        elif key < s.best:
            s.best = key
            s.best_qty = q
            r |= BOOK_TOP
        return r
    if key < s.best:
        rc = side_move_window(s, key)
        if rc < 0:
            return rc
        sl = side_slot(s, key)
        s.qty[sl] = q
        ladder_mark(s, <Py_ssize_t>sl)
        s.ladder_levels += 1
        s.nlevels += 1
        s.best = key
        s.best_qty = q
        return BOOK_TOP | BOOK_INSERT
    i = overflow_search(s, key)
    if i < s.overflow_levels and s.overflow_key[i] == key:
        s.overflow_qty[i] = q
        return 0
    rc = overflow_reserve(s, s.overflow_levels + 1)
    if rc < 0:
        return rc
    memmove(s.overflow_key + i + 1, s.overflow_key + i, (s.overflow_levels - i) * sizeof(int64_t))
    memmove(s.overflow_qty + i + 1, s.overflow_qty + i, (s.overflow_levels - i) * sizeof(qty_t))
    s.overflow_key[i] = key
    s.overflow_qty[i] = q
    s.overflow_levels += 1
    s.nlevels += 1
    return BOOK_INSERT


cdef inline qty_t side_get(const BookSide* s, int64_t key) noexcept nogil:
    """Size of the level at `key` (0 when there is none)."""
    cdef uint64_t sl
    cdef Py_ssize_t i
    if s.nlevels == 0:
        return 0
    sl = side_slot(s, key)
    if sl < <uint64_t>s.cap:
        return s.qty[sl]
    i = overflow_search(s, key)
    if i < s.overflow_levels and s.overflow_key[i] == key:
        return s.overflow_qty[i]
    return 0


cdef inline void side_pop_worst(BookSide* s) noexcept nogil:
    """Remove the worst level (never allocates)."""
    if s.nlevels == 0:
        return
    if s.overflow_levels > 0:
        s.overflow_levels -= 1
        s.nlevels -= 1
        return
    side_set(s, s.base + ladder_occupied_below(s, s.cap), 0)


cdef inline Py_ssize_t side_cursor_start(const BookSide* s) noexcept nogil:
    """Start of a best-first walk (pass it and an overflow position of 0 to side_cursor_next)."""
    return <Py_ssize_t>side_slot(s, s.best) if s.nlevels else -1


cdef inline bint side_cursor_next(const BookSide* s, Py_ssize_t* slot, Py_ssize_t* overflow_pos,
                                  int64_t* key, qty_t* q) noexcept nogil:
    """Step a best-first walk over a side's levels; False past the last one."""
    if slot[0] >= 0:
        key[0] = s.base + slot[0]
        q[0] = s.qty[slot[0]]
        slot[0] = ladder_occupied_above(s, slot[0])
        return True
    if overflow_pos[0] < s.overflow_levels:
        key[0] = s.overflow_key[overflow_pos[0]]
        q[0] = s.overflow_qty[overflow_pos[0]]
        overflow_pos[0] += 1
        return True
    return False


cdef inline Py_ssize_t side_copy_top(const BookSide* s, Py_ssize_t n, int64_t tick, px_t* px,
                                     qty_t* qty) noexcept nogil:
    """Copy up to n levels best-first into px/qty (prices, not keys); returns the count."""
    cdef Py_ssize_t k = 0, w, slot, i
    cdef uint64_t m
    cdef int64_t mask = s.mask
    cdef int64_t base = s.base               # locals: the stores below may alias the side
    cdef const qty_t* sizes = s.qty
    cdef const uint64_t* occupied = s.occupied
    cdef Py_ssize_t nwords = s.nwords
    if s.nlevels == 0 or n <= 0:
        return 0
    # ladder: occupancy words from the best, bit by bit within a word
    slot = <Py_ssize_t>side_slot(s, s.best)
    w = slot >> 6
    m = occupied[w] & ~((<uint64_t>1 << (slot & 63)) - 1)
    while True:
        while m and k < n:
            slot = (w << 6) + lowest_set_bit(m)
            m &= m - 1
            px[k] = ((base + slot) ^ mask) * tick
            qty[k] = sizes[slot]
            k += 1
        if k >= n:
            return k
        w += 1
        if w >= nwords:
            break
        m = occupied[w]
        if m == 0:
            slot = ladder_occupied_above(s, (w << 6) + 63)
            if slot < 0:
                break
            w = slot >> 6
            m = occupied[w]
    i = 0
    while k < n and i < s.overflow_levels:
        px[k] = (s.overflow_key[i] ^ mask) * tick
        qty[k] = s.overflow_qty[i]
        k += 1
        i += 1
    return k
