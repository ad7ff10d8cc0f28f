# L2 (price-level) order book over two price ladders (ladder.pxd).
#
# Everything on the update path is `noexcept nogil` and returns a code; the Python class checks
# its arguments (int only, in range), turns negative codes into exceptions naming the parameter,
# and changes nothing when it raises.
cimport cython
cimport numpy as cnp
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport memset, memcpy
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t, INT64_MIN, INT64_MAX, uintptr_t
from hftcore._ext.types cimport (px_t, qty_t, ts_t, BookDelta, DELTA_SNAPSHOT, DELTA_CLEAR,
                                 DELTA_LAST, DELTA_CLEAR_SIDE)
from hftcore._ext.ladder cimport (
    side_init, side_free, side_clear, side_set, side_get, side_pop_worst, side_cursor_start,
    side_cursor_next, side_copy_top, wide_add, wide_add_product,
)
from hftcore._ext.fixed cimport fx_format, FMT_FIXED, FMT_DIGITS, FMT_TRIM, FX_FORMAT_MAX

import operator

import numpy as np

cnp.import_array()

cdef extern from *:
    """
    /* CRC-32 (IEEE 802.3, reflected, as zlib.crc32) for the venues' book checksums. */
    static uint32_t crc32_table[256];
    static void crc32_fill_table(void) {
        uint32_t i, c;
        int k;
        for (i = 0; i < 256; i++) {
            c = i;
            for (k = 0; k < 8; k++) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
            crc32_table[i] = c;
        }
    }
    static inline uint32_t crc32_bytes(uint32_t crc, const char *p, Py_ssize_t n) {
        Py_ssize_t i;
        crc = ~crc;
        for (i = 0; i < n; i++) crc = crc32_table[(crc ^ (uint8_t)p[i]) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }
    """
    void crc32_fill_table() noexcept nogil
    uint32_t crc32_bytes(uint32_t crc, const char* p, Py_ssize_t n) noexcept nogil

crc32_fill_table()

from hftcore._ext.records import BOOK_DELTA_DTYPE  # the one definition (records owns dtypes)
assert BOOK_DELTA_DTYPE.itemsize == sizeof(BookDelta)

# BookDelta.flags, read from types.pxd (the one definition)
DELTA_FLAG_SNAPSHOT = DELTA_SNAPSHOT
DELTA_FLAG_CLEAR = DELTA_CLEAR
DELTA_FLAG_LAST = DELTA_LAST
DELTA_FLAG_CLEAR_SIDE = DELTA_CLEAR_SIDE

_DELTA_FIELDS = ("exchange_ts", "local_ts", "sequence", "price", "size", "instrument_id", "side",
                 "flags")
_delta_dtype_ok = {BOOK_DELTA_DTYPE: True}


def _is_delta_dtype(dt):
    """Any structured dtype with BookDelta's size and the same fields at the same offsets (the
    decoders' own mirror, with or without the padding field, is accepted)."""
    ok = _delta_dtype_ok.get(dt)
    if ok is None:
        ours = BOOK_DELTA_DTYPE.fields
        theirs = dt.fields
        ok = (dt.itemsize == sizeof(BookDelta) and theirs is not None
              and all(f in theirs and theirs[f][:2] == ours[f][:2] for f in _DELTA_FIELDS))
        _delta_dtype_ok[dt] = ok
    return ok


_CROSS_POLICIES = {"pass": CROSS_PASS, "raise": CROSS_RAISE, "drop": CROSS_DROP}


# ----------------------------------------------------------------------------------------------
# The L2 book C API
# ----------------------------------------------------------------------------------------------

cdef int l2_init(L2BookC* b, Py_ssize_t window, int64_t tick) noexcept nogil:
    """Allocate both sides. window: ladder slots per side, a power of two within
    LADDER_MIN..LADDER_MAX (BOOK_EBADWINDOW otherwise); tick > 0 (BOOK_EOFFGRID otherwise).
    On an error, l2_free still has to be called."""
    cdef int rc
    memset(b, 0, sizeof(L2BookC))
    if tick <= 0:
        return BOOK_EOFFGRID
    if window < LADDER_MIN or window > LADDER_MAX or window & (window - 1):
        return BOOK_EBADWINDOW
    b.tick = tick
    rc = side_init(&b.sides[0], window, 1)
    if rc == 0:
        rc = side_init(&b.sides[1], window, 0)
    return rc


cdef void l2_free(L2BookC* b) noexcept nogil:
    side_free(&b.sides[0])
    side_free(&b.sides[1])


cdef inline int l2_price_index(const L2BookC* b, px_t price, int64_t* index) noexcept nogil:
    if b.tick == 1:
        index[0] = price
        return 0
    if price % b.tick != 0:
        return BOOK_EOFFGRID
    index[0] = price // b.tick
    return 0


cdef inline bint l2_would_cross(const L2BookC* b, int side, int64_t index) noexcept nogil:
    """Would a level at this price index on `side` cross the other side's best?"""
    cdef const BookSide* other = &b.sides[1 - side]
    if other.nlevels == 0:
        return False
    if side == 0:
        return index > other.best            # bid above the best ask
    return index < ~other.best               # ask below the best bid


cdef int l2_check(const L2BookC* b, int64_t side, px_t price, qty_t size) noexcept nogil:
    """Would l2_apply accept this update? 0, or the error code it would return (other than
    BOOK_ENOMEM). Changes nothing."""
    cdef int64_t index
    if <uint64_t>side > 1:
        return BOOK_EBADSIDE
    if size < 0:
        return BOOK_ENEGSIZE
    if l2_price_index(b, price, &index) < 0:
        return BOOK_EOFFGRID
    if b.cross_policy == CROSS_RAISE and size > 0 and l2_would_cross(b, <int>side, index):
        return BOOK_ECROSSED
    return 0


cdef inline int l2_settle_cross(L2BookC* b, int side, int r) noexcept nogil:
    """After an update that moved the top of `side`: count a crossed book, or (CROSS_DROP)
    delete the opposite side's levels it crosses."""
    cdef BookSide* bid = &b.sides[0]
    cdef BookSide* ask = &b.sides[1]
    cdef BookSide* other
    if bid.nlevels == 0 or ask.nlevels == 0 or ~bid.best <= ask.best:
        return r
    if b.cross_policy == CROSS_DROP:
        other = &b.sides[1 - side]
        while other.nlevels and ~bid.best > ask.best:
            side_set(other, other.best, 0)
            b.dropped += 1
        return r | BOOK_TOP
    b.crosses += 1
    return r


cdef inline int l2_apply_on_side(L2BookC* b, int side, px_t price, qty_t size) noexcept nogil:
    """l2_apply for a side already checked to be 0 or 1."""
    cdef int64_t index = price
    cdef int r
    cdef BookSide* s
    if size < 0:
        return BOOK_ENEGSIZE
    if b.tick != 1:
        if price % b.tick != 0:
            return BOOK_EOFFGRID
        index = price // b.tick
    if b.cross_policy == CROSS_RAISE and size > 0 and l2_would_cross(b, side, index):
        return BOOK_ECROSSED
    s = &b.sides[side]
    r = side_set(s, index ^ s.mask, size)
    if r < 0:
        return r
    b.updates += 1
    if r & BOOK_MISSING:
        b.missing_deletes += 1
    elif r & BOOK_INSERT and b.max_depth and s.nlevels > b.max_depth:
        side_pop_worst(s)
        b.dropped += 1
    if r & BOOK_TOP and size > 0:
        r = l2_settle_cross(b, side, r)
    return r


cdef int l2_apply(L2BookC* b, int side, px_t price, qty_t size) noexcept nogil:
    """Set the size of a level (0 deletes). Returns BOOK_* bits (>= 0) or an error code (< 0),
    and then nothing changed."""
    if <unsigned int>side > 1:
        return BOOK_EBADSIDE
    return l2_apply_on_side(b, side, price, size)


cdef Py_ssize_t l2_apply_batch(L2BookC* b, const int64_t* sides, const px_t* prices,
                               const qty_t* sizes, Py_ssize_t n, int* err,
                               int64_t* bbo_out) noexcept nogil:
    """Apply n updates; returns the number applied (n unless an error stopped it: the code is
    in err and that row changed nothing). A side is checked as the int64 it is (not truncated).
    bbo_out (may be NULL): 2n int64, best bid and best ask price after each update
    (INT64_MIN when the side is empty)."""
    cdef Py_ssize_t i
    cdef int r
    err[0] = 0
    for i in range(n):
        if <uint64_t>sides[i] > 1:
            err[0] = BOOK_EBADSIDE
            return i
        r = l2_apply_on_side(b, <int>sides[i], prices[i], sizes[i])
        if r < 0:
            err[0] = r
            return i
        if bbo_out != NULL:
            bbo_out[2 * i] = (~b.sides[0].best * b.tick) if b.sides[0].nlevels else INT64_MIN
            bbo_out[2 * i + 1] = (b.sides[1].best * b.tick) if b.sides[1].nlevels else INT64_MIN
    return n


cdef inline int l2_check_delta(const L2BookC* b, const BookDelta* d) noexcept nogil:
    """Would this record apply? Checked before its clear flags empty anything."""
    if d.flags & DELTA_CLEAR_SIDE and d.side > 1:
        return BOOK_EBADSIDE
    if d.size < 0:
        return BOOK_ENEGSIZE
    if d.flags & (DELTA_CLEAR | DELTA_CLEAR_SIDE) and d.size == 0:
        return 0                             # a clearing record of size 0 only clears
    if d.flags & DELTA_CLEAR:                # both sides emptied first: nothing to cross
        return l2_check(b, d.side, d.price, 0)
    return l2_check(b, d.side, d.price, d.size)


cdef Py_ssize_t l2_apply_deltas_of(L2BookC* b, const BookDelta* d, Py_ssize_t n,
                                   int64_t instrument_id, Py_ssize_t* applied,
                                   int* err) noexcept nogil:
    """Apply the BookDelta records of one instrument (every record when instrument_id is
    ALL_INSTRUMENTS), honouring DELTA_CLEAR / DELTA_CLEAR_SIDE; the book's sequence and
    timestamps follow the records applied. Returns the index reached (n, or the failing record:
    its code in err, and that record changed nothing); applied counts the records applied.
    d must be aligned for BookDelta."""
    cdef Py_ssize_t i
    cdef int r
    cdef const BookDelta* rec
    err[0] = 0
    applied[0] = 0
    for i in range(n):
        rec = &d[i]
        if instrument_id >= 0 and rec.instrument_id != instrument_id:
            continue
        r = l2_check_delta(b, rec)
        if r < 0:
            err[0] = r
            return i
        if rec.flags & DELTA_CLEAR:
            l2_clear(b, CLEAR_BOTH)
        if rec.flags & DELTA_CLEAR_SIDE:
            l2_clear(b, rec.side)
        if not (rec.flags & (DELTA_CLEAR | DELTA_CLEAR_SIDE) and rec.size == 0):
            r = l2_apply(b, rec.side, rec.price, rec.size)
            if r < 0:                        # only BOOK_ENOMEM, and only without a clear
                err[0] = r
                return i
        b.sequence = rec.sequence
        b.exchange_ts = rec.exchange_ts
        b.local_ts = rec.local_ts
        applied[0] += 1
    return n


cdef Py_ssize_t l2_apply_deltas(L2BookC* b, const BookDelta* d, Py_ssize_t n,
                                int* err) noexcept nogil:
    """Apply every BookDelta record (l2_apply_deltas_of for all instruments); returns the
    number applied (n unless an error stopped it, code in err)."""
    cdef Py_ssize_t applied
    return l2_apply_deltas_of(b, d, n, ALL_INSTRUMENTS, &applied, err)


cdef void l2_clear(L2BookC* b, int side) noexcept nogil:
    """Clear one side (0, 1) or both (CLEAR_BOTH)."""
    if side == 0 or side == CLEAR_BOTH:
        side_clear(&b.sides[0])
    if side == 1 or side == CLEAR_BOTH:
        side_clear(&b.sides[1])


cdef void l2_truncate(L2BookC* b, Py_ssize_t depth) noexcept nogil:
    """Keep at most `depth` levels per side (drop the worst)."""
    cdef int k
    cdef BookSide* s
    if depth < 0:
        depth = 0
    for k in range(2):
        s = &b.sides[k]
        while s.nlevels > depth:
            if s.overflow_levels > 0:
                if s.overflow_levels >= s.nlevels - depth:
                    s.overflow_levels -= s.nlevels - depth
                    s.nlevels = depth
                    break
                s.nlevels -= s.overflow_levels
                s.overflow_levels = 0
            else:
                side_pop_worst(s)


cdef qty_t l2_level_size(const L2BookC* b, int side, px_t price) noexcept nogil:
    """Size at a price (0 when there is no level, the side is invalid or the price off-grid)."""
    cdef int64_t index
    if <unsigned int>side > 1 or l2_price_index(b, price, &index) < 0:
        return 0
    return side_get(&b.sides[side], index ^ b.sides[side].mask)


cdef Py_ssize_t l2_depth(const L2BookC* b, int side, Py_ssize_t n, px_t* px,
                         qty_t* qty) noexcept nogil:
    """Copy up to n levels of a side best-first; returns how many were written."""
    if <unsigned int>side > 1:
        return 0
    return side_copy_top(&b.sides[side], n, b.tick, px, qty)


cdef void l2_volume_within(const L2BookC* b, int side, px_t price, wide_int* total) noexcept nogil:
    """total = the summed size of `side`'s levels at `price` or better (exact: 128 bits)."""
    cdef const BookSide* s = &b.sides[side & 1]
    cdef Py_ssize_t slot = side_cursor_start(s), overflow_pos = 0
    cdef int64_t key, index
    cdef qty_t q
    total.low = 0
    total.high = 0
    if <unsigned int>side > 1:
        return
    if l2_price_index(b, price, &index) < 0:
        # off-grid: bids at or above it start at the grid price above (ceiling), asks at or
        # below it end at the grid price below (floor); C division truncates toward zero
        index = price // b.tick
        if side == 0 and price > 0:
            index += 1
        elif side == 1 and price < 0:
            index -= 1
    while side_cursor_next(s, &slot, &overflow_pos, &key, &q):
        if (key ^ s.mask) < index if side == 0 else (key ^ s.mask) > index:
            break
        wide_add(total, q)


cdef qty_t l2_cost(const L2BookC* b, int side, qty_t size, wide_int* notional,
                   px_t* worst) noexcept nogil:
    """Walk `side` from the best for `size` (>= 0): returns the size filled; notional =
    sum(price * size taken), exact (|notional| < 2**126: sizes sum to <= size < 2**63);
    worst = the last level's price (untouched when nothing was filled)."""
    cdef const BookSide* s = &b.sides[side & 1]
    cdef Py_ssize_t slot = side_cursor_start(s), overflow_pos = 0
    cdef int64_t key
    cdef qty_t q, take, left = size
    notional.low = 0
    notional.high = 0
    if <unsigned int>side > 1 or size < 0:
        return 0
    while left > 0 and side_cursor_next(s, &slot, &overflow_pos, &key, &q):
        take = q if q < left else left
        worst[0] = (key ^ s.mask) * b.tick
        wide_add_product(notional, worst[0], take)
        left -= take
    return size - left


cdef void l2_top_volume(const L2BookC* b, int side, Py_ssize_t n, wide_int* total) noexcept nogil:
    """total = the summed size of the top n levels of `side` (exact: 128 bits)."""
    cdef const BookSide* s = &b.sides[side & 1]
    cdef Py_ssize_t slot = side_cursor_start(s), overflow_pos = 0, k = 0
    cdef int64_t key
    cdef qty_t q
    total.low = 0
    total.high = 0
    if <unsigned int>side > 1:
        return
    while k < n and side_cursor_next(s, &slot, &overflow_pos, &key, &q):
        wide_add(total, q)
        k += 1


cdef uint32_t crc32_update(uint32_t crc, const char* data, Py_ssize_t n) noexcept nogil:
    return crc32_bytes(crc, data, n)


cdef uint32_t l2_checksum_kraken(const L2BookC* b) noexcept nogil:
    """Kraken v1: CRC32 over the top 10 asks (best first) then the top 10 bids, each price then
    size as fixed-decimal text without the dot and without leading zeros."""
    cdef px_t px[10]
    cdef qty_t qty[10]
    cdef char buf[FX_FORMAT_MAX]
    cdef Py_ssize_t n, i, k
    cdef int side
    cdef uint32_t crc = 0
    for side in range(1, -1, -1):
        n = side_copy_top(&b.sides[side], 10, b.tick, px, qty)
        for i in range(n):
            k = fx_format(px[i], b.price_decimals, FMT_DIGITS, buf)
            crc = crc32_bytes(crc, buf, k)
            k = fx_format(qty[i], b.size_decimals, FMT_DIGITS, buf)
            crc = crc32_bytes(crc, buf, k)
    return crc


cdef uint32_t l2_checksum_interleaved(const L2BookC* b, Py_ssize_t depth) noexcept nogil:
    """CRC32 over 'bid_px:bid_sz:ask_px:ask_sz:...' for the top `depth` (<= 100) levels,
    interleaved, each value in trimmed decimal text (OKX with depth 25, Aevo with 100)."""
    cdef px_t bpx[100]
    cdef qty_t bq[100]
    cdef px_t apx[100]
    cdef qty_t aq[100]
    cdef char buf[FX_FORMAT_MAX]
    cdef Py_ssize_t nb, na, i, k
    cdef bint first = True
    cdef uint32_t crc = 0
    if depth > 100:
        depth = 100
    nb = side_copy_top(&b.sides[0], depth, b.tick, bpx, bq)
    na = side_copy_top(&b.sides[1], depth, b.tick, apx, aq)
    for i in range(depth):
        if i < nb:
            if not first:
                crc = crc32_bytes(crc, b":", 1)
            first = False
            k = fx_format(bpx[i], b.price_decimals, FMT_TRIM, buf)
            crc = crc32_bytes(crc, buf, k)
            crc = crc32_bytes(crc, b":", 1)
            k = fx_format(bq[i], b.size_decimals, FMT_TRIM, buf)
            crc = crc32_bytes(crc, buf, k)
        if i < na:
            if not first:
                crc = crc32_bytes(crc, b":", 1)
            first = False
            k = fx_format(apx[i], b.price_decimals, FMT_TRIM, buf)
            crc = crc32_bytes(crc, buf, k)
            crc = crc32_bytes(crc, b":", 1)
            k = fx_format(aq[i], b.size_decimals, FMT_TRIM, buf)
            crc = crc32_bytes(crc, buf, k)
    return crc


cdef int32_t l2_checksum_okx(const L2BookC* b) noexcept nogil:
    """OKX v5: the interleaved CRC32 over the top 25 levels, as a signed int32."""
    return <int32_t>l2_checksum_interleaved(b, 25)


cdef Py_ssize_t js_number_text(int64_t v, bint negate, int decimals, char* out) noexcept nogil:
    """v (a count of 10**-decimals; negated when ``negate``) as JavaScript prints the number
    (Bitfinex checksums): trimmed decimal text ("0.5", "100", "-3.25") when |value| >= 1e-6,
    else the significant digits in exponent form ("1.5e-7", "-2e-9").  int64 counts at 0..18
    decimals stay below 1e21, where JavaScript would switch to exponent form for large numbers.
    Exact: made from the integer, never through a float.  Returns the length written (at most
    FX_FORMAT_MAX bytes), -1 for decimals outside 0..18."""
    cdef char digits[24]
    cdef int nd = 0, n = 0, j, low = 0, e
    cdef bint neg = (v < 0) != negate
    cdef uint64_t u
    if decimals < 0 or decimals > 18:
        return -1
    u = (~(<uint64_t>v) + 1) if v < 0 else <uint64_t>v
    if u == 0:
        out[0] = b'0'                   # JavaScript prints -0 as "0" too
        return 1
    while u:                            # digits, least significant first
        digits[nd] = <char>(48 + u % 10)
        u //= 10
        nd += 1
    while digits[low] == b'0':          # trailing zeros
        low += 1
    if neg:
        out[n] = b'-'
        n += 1
    e = decimals - (nd - 1)             # value = d.ddd * 10**-e
    if e <= 6:                          # >= 1e-6: plain decimal text, trailing zeros trimmed
        if nd <= decimals:
            out[n] = b'0'
            n += 1
            out[n] = b'.'
            n += 1
            for j in range(decimals - nd):
                out[n] = b'0'
                n += 1
            j = nd - 1
        else:
            j = nd - 1
            while j >= decimals:        # the integer digits
                out[n] = digits[j]
                n += 1
                j -= 1
            if low >= decimals:         # no fractional digits left
                return n
            out[n] = b'.'
            n += 1
        while j >= low:
            out[n] = digits[j]
            n += 1
            j -= 1
        return n
    out[n] = digits[nd - 1]             # below 1e-6: mantissa and exponent ("1.5e-7")
    n += 1
    if nd - 1 > low:
        out[n] = b'.'
        n += 1
        j = nd - 2
        while j >= low:
            out[n] = digits[j]
            n += 1
            j -= 1
    out[n] = b'e'
    out[n + 1] = b'-'
    n += 2
    if e >= 10:
        out[n] = <char>(48 + e // 10)
        n += 1
    out[n] = <char>(48 + e % 10)
    return n + 1


cdef int32_t l2_checksum_bitfinex(const L2BookC* b) noexcept nogil:
    """Bitfinex v2: CRC32 over 'bid_px:bid_amount:ask_px:-ask_amount:...' for the top 25 levels
    interleaved, each number as JavaScript prints it (js_number_text), as a signed int32."""
    cdef px_t bpx[25]
    cdef qty_t bq[25]
    cdef px_t apx[25]
    cdef qty_t aq[25]
    cdef char buf[FX_FORMAT_MAX]
    cdef Py_ssize_t nb, na, i, k
    cdef bint first = True
    cdef uint32_t crc = 0
    nb = side_copy_top(&b.sides[0], 25, b.tick, bpx, bq)
    na = side_copy_top(&b.sides[1], 25, b.tick, apx, aq)
    for i in range(25):
        if i < nb:
            if not first:
                crc = crc32_bytes(crc, b":", 1)
            first = False
            k = js_number_text(bpx[i], False, b.price_decimals, buf)
            crc = crc32_bytes(crc, buf, k)
            crc = crc32_bytes(crc, b":", 1)
            k = js_number_text(bq[i], False, b.size_decimals, buf)
            crc = crc32_bytes(crc, buf, k)
        if i < na:
            if not first:
                crc = crc32_bytes(crc, b":", 1)
            first = False
            k = js_number_text(apx[i], False, b.price_decimals, buf)
            crc = crc32_bytes(crc, buf, k)
            crc = crc32_bytes(crc, b":", 1)
            k = js_number_text(aq[i], True, b.size_decimals, buf)
            crc = crc32_bytes(crc, buf, k)
    return <int32_t>crc


# ----------------------------------------------------------------------------------------------
# Python arguments: int only, checked, errors name the parameter
# ----------------------------------------------------------------------------------------------

class CrossedBookError(ValueError):
    """An update would cross the book and the book's policy is ``"raise"``."""


cdef int64_t int64_arg_slow(object value, const char* name) except? -1:
    """The rare branch of int64_arg: int subclasses out of range, bool, numpy integers (their
    __index__), and everything that is not an integer."""
    cdef str what = name.decode()
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an int, not bool")
    if isinstance(value, int):
        raise OverflowError(f"{what} {value} is outside the int64 range")
    if isinstance(value, (float, np.floating, str, bytes)) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
    return int64_arg(value, name)


cdef inline int64_t _ranged(object value, const char* name, int64_t lo, int64_t hi) except? -1:
    cdef int64_t v = int64_arg(value, name)
    if v < lo or v > hi:
        raise ValueError(f"{name.decode()} must be within {lo}..{hi}, not {v}")
    return v


cdef inline int _side(object value) except -1:
    cdef int64_t v = int64_arg(value, "side")
    if <uint64_t>v > 1:
        raise ValueError(f"side must be 0 (bid) or 1 (ask), not {v}")
    return <int>v


cdef object _error(const L2BookC* b, int rc, int64_t side, int64_t price, int64_t size):
    """The exception for a BOOK_* error code (the same text on the scalar and batch paths)."""
    if rc == BOOK_EBADSIDE:
        return ValueError(f"side must be 0 (bid) or 1 (ask), not {side}")
    if rc == BOOK_ENEGSIZE:
        return ValueError(f"size must be >= 0, not {size}")
    if rc == BOOK_ENOMEM:
        return MemoryError("cannot grow the order book")
    if rc == BOOK_ECROSSED:
        return CrossedBookError(f"the update would cross the book: "
                                f"{'bid' if side == 0 else 'ask'} at {price}")
    if rc == BOOK_EOFFGRID:
        return ValueError(f"price {price} is not a multiple of the tick {b.tick}")
    if rc == BOOK_EOVERFLOW:
        return OverflowError(f"the level at {price} would hold more than the int64 range")
    return ValueError(f"order book error {rc}")


cdef object _at_row(object exc, str where):
    """The same exception, its message prefixed with the row or record that failed."""
    return type(exc)(f"{where}: {exc}")


cdef object _empty_i64 = np.empty(0, dtype=np.int64)


cdef cnp.ndarray int64_array(object values, str name):
    """A C-contiguous int64 copy (or the array itself) of one-dimensional integer values.

    Numpy integer arrays of any width are accepted (uint64 only within the int64 range); a
    list or other sequence is checked element by element as the scalar path checks an
    argument. Floats, bools, text and other objects raise the scalar path's TypeError, values
    out of the int64 range its OverflowError."""
    cdef cnp.ndarray arr
    cdef str kind
    cdef bytes encoded
    if not isinstance(values, np.ndarray):
        if isinstance(values, (str, bytes)):
            raise TypeError(f"{name} must be integers, not {type(values).__name__}")
        try:
            items = list(values)
        except TypeError:
            raise TypeError(f"{name} must be integers, not {type(values).__name__}") from None
        encoded = name.encode()
        for v in items:
            int64_arg(v, encoded)
        return np.array(items, dtype=np.int64) if items else _empty_i64
    arr = values
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, not {arr.ndim}-dimensional")
    kind = arr.dtype.kind
    if kind == "i":
        pass
    elif kind == "u":
        if arr.dtype.itemsize == 8 and arr.shape[0] and arr.max() > INT64_MAX:
            raise OverflowError(f"{name}: {arr.max()} is outside the int64 range")
    elif kind == "O":
        encoded = name.encode()
        for v in arr:
            int64_arg(v, encoded)
        arr = arr.astype(np.int64)
    else:
        raise TypeError(f"{name} must be integers, not {arr.dtype}")
    if cnp.PyArray_TYPE(arr) == cnp.NPY_INT64 and cnp.PyArray_ISCARRAY_RO(arr):
        return arr                           # contiguous and aligned: read in place
    # a copy: other widths, strides, and int64 at an odd address (a field of a packed
    # structured array, a buffer at an offset) that C must not load 8 bytes at a time from
    return np.array(arr, dtype=np.int64, order="C")


# ----------------------------------------------------------------------------------------------
# Python surface
# ----------------------------------------------------------------------------------------------

cdef inline object _new_i64(Py_ssize_t n):
    cdef cnp.npy_intp dims = n
    return cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)


# depth() hands out views of a shared int64 "slab": one numpy allocation serves many results,
# so a result costs four array headers and no data allocation of its own.  A result keeps its
# slab (at most SLAB_ITEMS * 8 bytes) alive and nothing else; slab space is never reused, so
# a result's values are never overwritten.
cdef extern from "numpy/arrayobject.h":
    # public NumPy C API (steals a reference to descr)
    object PyArray_NewFromDescr(PyTypeObject* subtype, cnp.dtype descr, int nd,
                                cnp.npy_intp* dims, cnp.npy_intp* strides, void* data,
                                int flags, PyObject* obj)

cdef enum:
    SLAB_ITEMS = 512
cdef cnp.dtype _int64_dtype = np.dtype(np.int64)
cdef object _slab = None
cdef int64_t* _slab_next = NULL
cdef Py_ssize_t _slab_left = 0


cdef int64_t* _slab_take(Py_ssize_t items) except NULL:
    """Room for `items` int64 values in the current slab (a new slab when it is full; a
    result larger than a quarter slab gets a slab of its own)."""
    global _slab, _slab_next, _slab_left
    cdef int64_t* p
    if _slab is None or items > _slab_left:
        _slab = _new_i64(items if items > SLAB_ITEMS // 4 else SLAB_ITEMS)
        _slab_next = <int64_t*>cnp.PyArray_DATA(_slab)
        _slab_left = cnp.PyArray_DIM(_slab, 0)
    p = _slab_next
    _slab_next += items
    _slab_left -= items
    return p


cdef inline object _slab_view(object slab, int64_t* data, Py_ssize_t n):
    """A writeable int64 array of n values at `data`, inside `slab` (which it keeps alive)."""
    cdef cnp.npy_intp dims = n
    cdef cnp.ndarray view
    Py_INCREF(_int64_dtype)                  # PyArray_NewFromDescr steals it
    view = PyArray_NewFromDescr(<PyTypeObject*>cnp.ndarray, _int64_dtype, 1, &dims, NULL,
                                data, cnp.NPY_ARRAY_CARRAY, NULL)
    Py_INCREF(slab)                          # PyArray_SetBaseObject steals it
    cnp.PyArray_SetBaseObject(view, slab)
    return view


cdef inline int _check_out_array(object arr, str name) except -1:
    """A caller's output array: numpy, int64, one-dimensional, C-contiguous, aligned,
    writeable."""
    if not cnp.PyArray_Check(arr):
        raise TypeError(f"{name} must be a numpy int64 array, not {type(arr).__name__}")
    if cnp.PyArray_TYPE(<cnp.ndarray>arr) != cnp.NPY_INT64:
        raise TypeError(f"{name} must be an int64 array, not {arr.dtype}")
    if cnp.PyArray_NDIM(<cnp.ndarray>arr) != 1 or not cnp.PyArray_ISCARRAY(<cnp.ndarray>arr):
        raise ValueError(f"{name} must be a writeable, aligned, C-contiguous one-dimensional "
                         "array")
    return 0


cdef inline object _wide_to_int(const wide_int* w):
    return (<object>w.high << 64) + <object>w.low


cdef inline object _round_half_even(object num, object den):
    """num / den (den > 0) rounded half to even, exactly."""
    q, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and q & 1):
        q += 1
    return q


@cython.final
cdef class L2Book:
    """Price-level (L2) order book with int64 prices and sizes.

    Parameters
    ----------
    price_decimals, size_decimals : int
        Decimals of the integer prices and sizes (0..18; used by `checksum` to rebuild the
        venue's text).
    tick : int, optional
        Price units between adjacent levels (``1`` = every integer price). Prices must be
        multiples of it.
    max_depth : int, optional
        Keep at most this many levels per side, dropping the worst (``0`` = unlimited), as
        venues with a subscribed depth require (Kraken).
    cross_policy : {"pass", "raise", "drop"}, optional
        On an update that crosses the book (bid > ask): apply and count it (``"pass"``), refuse
        it with `CrossedBookError` (``"raise"``), or apply it and delete the opposite side's
        crossed levels as stale (``"drop"``). A locked book (bid == ask) is not crossed.
    window : int, optional
        Price-ladder slots per side kept dense around the best: a power of two from 64 to
        2**26. Levels farther away live in a sorted overflow; any price is accepted.

    Notes
    -----
    Sides use the `hftcore.Side` codes: 0 = bid (BUY), 1 = ask (SELL). Every argument is an
    ``int`` (an ``IntEnum`` or numpy integer too); anything else raises ``TypeError`` naming the
    parameter, and a refused call changes nothing.
    """

    def __cinit__(self, price_decimals=0, size_decimals=0, *, tick=1, max_depth=0,
                  cross_policy="pass", window=8192):
        cdef int pd = <int>_ranged(price_decimals, "price_decimals", 0, 18)
        cdef int sd = <int>_ranged(size_decimals, "size_decimals", 0, 18)
        cdef int64_t t = _ranged(tick, "tick", 1, INT64_MAX)
        cdef int64_t depth = _ranged(max_depth, "max_depth", 0, INT64_MAX)
        cdef int64_t w = int64_arg(window, "window")
        cdef int rc
        if w < LADDER_MIN or w > LADDER_MAX or w & (w - 1):
            raise ValueError(f"window must be a power of two from {LADDER_MIN} to {LADDER_MAX}, "
                             f"not {w}")
        if not isinstance(cross_policy, str):
            raise TypeError(f"cross_policy must be a str, not {type(cross_policy).__name__}")
        if cross_policy not in _CROSS_POLICIES:
            raise ValueError(f"cross_policy must be one of {sorted(_CROSS_POLICIES)}, "
                             f"not {cross_policy!r}")
        rc = l2_init(&self.book, <Py_ssize_t>w, t)
        if rc < 0:
            l2_free(&self.book)
            raise MemoryError("cannot allocate the order book")
        self.book.price_decimals = pd
        self.book.size_decimals = sd
        self.book.max_depth = <Py_ssize_t>depth
        self.book.cross_policy = _CROSS_POLICIES[cross_policy]

    def __dealloc__(self):
        l2_free(&self.book)

    cdef int _check_writable(self) except -1:
        # apply_batch / apply_deltas run without the GIL: another thread must not touch the
        # book's arrays meanwhile (the top-of-book properties read plain fields and stay allowed)
        if self._busy:
            raise RuntimeError("the book is being updated by a batch in another thread")
        if self._view_of_l3:
            raise RuntimeError("this L2Book is the aggregated view of an L3Book: change the "
                               "orders of the L3Book instead")
        return 0

    cdef int _check_readable(self) except -1:
        if self._busy:
            raise RuntimeError("the book is being updated by a batch in another thread")
        return 0

    # -- writes ----------------------------------------------------------------------------

    @cython.binding(False)      # a plain method descriptor: the interpreter's fastest call path
    def apply(self, side, price, size, /):
        """Set the size of the level at `price` on `side` (0 deletes it).

        Returns True when the top of the book (best price or size of either side) changed.
        Deleting a level that does not exist is counted in `missing_deletes`, not an error.
        """
        cdef int64_t s = int64_arg(side, "side")
        cdef int64_t p = int64_arg(price, "price")
        cdef int64_t q = int64_arg(size, "size")
        cdef int r
        if self._busy or self._view_of_l3:
            self._check_writable()
        r = l2_apply_on_side(&self.book, <int>s, p, q) if <uint64_t>s <= 1 else BOOK_EBADSIDE
        if r < 0:
            raise _error(&self.book, r, s, p, q)
        return (r & BOOK_TOP) != 0

    def apply_batch(self, sides, prices=None, sizes=None, bbo=None):
        """Apply a batch of updates without the GIL; returns the number applied.

        Either parallel integer arrays ``(sides, prices, sizes)``, or one numpy structured
        array as `sides`: BookDelta records (as `apply_deltas`, flags honoured) or any array
        with integer ``side``, ``price`` and ``size`` fields. `bbo`, if given, is an int64
        array of shape (n, 2) that receives the best bid and best ask price after each update
        (``-2**63`` for an empty side). Every row is checked as `apply` checks it; on a bad
        row the rows before it stay applied and the error names the row.
        """
        cdef cnp.ndarray s, p, q, o
        cdef Py_ssize_t n, done
        cdef int err = 0
        cdef int64_t* out = NULL
        if prices is None and sizes is None:
            if not isinstance(sides, np.ndarray) or sides.dtype.fields is None:
                raise TypeError("apply_batch takes (sides, prices, sizes) or a structured array")
            if _is_delta_dtype(sides.dtype) and bbo is None:
                return self.apply_deltas(sides)
            fields = sides.dtype.fields
            if "side" not in fields or "price" not in fields or "size" not in fields:
                raise ValueError("a structured batch needs side, price and size fields")
            return self.apply_batch(int64_array(sides["side"], "side"),
                                    int64_array(sides["price"], "price"),
                                    int64_array(sides["size"], "size"), bbo)
        if prices is None or sizes is None:
            raise TypeError("apply_batch takes (sides, prices, sizes) or a structured array")
        s = int64_array(sides, "sides")
        p = int64_array(prices, "prices")
        q = int64_array(sizes, "sizes")
        n = s.shape[0]
        if p.shape[0] != n or q.shape[0] != n:
            raise ValueError("sides, prices and sizes must have the same length")
        if bbo is not None:
            if not isinstance(bbo, np.ndarray):
                raise TypeError(f"bbo must be a numpy int64 array, not {type(bbo).__name__}")
            o = bbo
            if o.dtype != np.int64:
                raise TypeError(f"bbo must be an int64 array, not {o.dtype}")
            if (o.ndim != 2 or o.shape[0] < n or o.shape[1] != 2
                    or not cnp.PyArray_ISCARRAY(o)):
                raise ValueError("bbo must be a writeable, aligned, C-contiguous int64 array "
                                 "of shape (n, 2)")
            out = <int64_t*>cnp.PyArray_DATA(o)
        self._check_writable()
        if n == 0:
            return 0
        self._busy = 1
        try:
            if n >= 64:         # releasing the GIL costs more than a few rows
                with nogil:
                    done = l2_apply_batch(&self.book, <const int64_t*>cnp.PyArray_DATA(s),
                                          <const int64_t*>cnp.PyArray_DATA(p),
                                          <const int64_t*>cnp.PyArray_DATA(q), n, &err, out)
            else:
                done = l2_apply_batch(&self.book, <const int64_t*>cnp.PyArray_DATA(s),
                                      <const int64_t*>cnp.PyArray_DATA(p),
                                      <const int64_t*>cnp.PyArray_DATA(q), n, &err, out)
        finally:
            self._busy = 0
        if err:
            raise _at_row(_error(&self.book, err, s[done], p[done], q[done]), f"row {done}")
        return done

    def apply_deltas(self, records, instrument_id=None):
        """Apply BookDelta records without the GIL; returns the number applied.

        `records` is a `BOOK_DELTA_DTYPE` array (or any structured dtype with its fields at the
        same offsets) or a bytes-like buffer of 48-byte records, at any alignment. With
        `instrument_id`, only that instrument's records are applied (a venue message may carry
        several instruments). DELTA_CLEAR clears the book and DELTA_CLEAR_SIDE the record's side
        before the record is applied (a clearing record with size 0 only clears); `sequence`,
        `exchange_ts` and `local_ts` follow the records applied. A bad record changes nothing:
        the records before it stay applied and the error names it.
        """
        cdef const unsigned char[::1] raw
        cdef const unsigned char* data
        cdef Py_ssize_t n, done, applied = 0
        cdef int64_t which = ALL_INSTRUMENTS
        cdef int err = 0
        cdef object keep
        cdef const BookDelta* bad
        if instrument_id is not None:
            which = _ranged(instrument_id, "instrument_id", 0, 0xFFFFFFFF)
        if isinstance(records, np.ndarray):
            if records.dtype.fields is None or not _is_delta_dtype(records.dtype):
                raise ValueError("records must be BookDelta records (BOOK_DELTA_DTYPE layout), "
                                 f"not {records.dtype}")
            records = np.ascontiguousarray(records).reshape(-1).view(np.uint8)
        try:
            raw = records
        except (TypeError, ValueError, BufferError):
            raise TypeError("records must be a BookDelta array or a bytes-like buffer, not "
                            f"{type(records).__name__}") from None
        if raw.shape[0] % sizeof(BookDelta):
            raise ValueError(f"records: {raw.shape[0]} bytes is not a whole number of 48-byte "
                             "BookDelta records")
        n = raw.shape[0] // sizeof(BookDelta)
        self._check_writable()
        if n == 0:
            return 0
        data = &raw[0]
        if <uintptr_t>data % 8:
            # records at an odd address: copy them to aligned memory rather than load 8-byte
            # fields from unaligned addresses
            keep = _new_i64(n * (sizeof(BookDelta) // 8))
            memcpy(cnp.PyArray_DATA(keep), data, n * sizeof(BookDelta))
            data = <const unsigned char*>cnp.PyArray_DATA(keep)
        self._busy = 1
        try:
            if n >= 64:         # releasing the GIL costs more than a few rows
                with nogil:
                    done = l2_apply_deltas_of(&self.book, <const BookDelta*>data, n, which,
                                              &applied, &err)
            else:
                done = l2_apply_deltas_of(&self.book, <const BookDelta*>data, n, which,
                                          &applied, &err)
        finally:
            self._busy = 0
        if err:
            bad = &(<const BookDelta*>data)[done]
            raise _at_row(_error(&self.book, err, bad.side, bad.price, bad.size),
                          f"record {done}")
        return applied

    def apply_snapshot(self, sides, prices, sizes, side=None):
        """Replace the book (or only `side`) with the given levels; returns the number applied.

        All or nothing: the levels are checked and built aside, and the book is replaced only
        when every one of them applies.
        """
        cdef cnp.ndarray s = int64_array(sides, "sides")
        cdef cnp.ndarray p = int64_array(prices, "prices")
        cdef cnp.ndarray q = int64_array(sizes, "sizes")
        cdef Py_ssize_t n = s.shape[0], done, slot, overflow_pos = 0
        cdef int only = CLEAR_BOTH
        cdef int err = 0
        cdef L2BookC fresh
        cdef const BookSide* kept
        cdef int64_t key
        cdef qty_t size
        if side is not None:
            only = _side(side)
            if n and (s != only).any():
                raise ValueError(f"a snapshot of side {only} holds levels of another side")
        if p.shape[0] != n or q.shape[0] != n:
            raise ValueError("sides, prices and sizes must have the same length")
        self._check_writable()
        if l2_init(&fresh, self.book.sides[0].cap, self.book.tick) < 0:
            l2_free(&fresh)
            raise MemoryError("cannot allocate the order book")
        fresh.price_decimals = self.book.price_decimals
        fresh.size_decimals = self.book.size_decimals
        fresh.cross_policy = CROSS_PASS
        if only != CLEAR_BOTH:               # the side the snapshot keeps, level by level
            kept = &self.book.sides[1 - only]
            slot = side_cursor_start(kept)
            while side_cursor_next(kept, &slot, &overflow_pos, &key, &size):
                if side_set(&fresh.sides[1 - only], key, size) < 0:
                    l2_free(&fresh)
                    raise MemoryError("cannot allocate the order book")
        fresh.cross_policy = self.book.cross_policy
        fresh.max_depth = self.book.max_depth
        fresh.updates = self.book.updates
        fresh.missing_deletes = self.book.missing_deletes
        fresh.crosses = self.book.crosses
        fresh.dropped = self.book.dropped
        fresh.sequence = self.book.sequence
        fresh.exchange_ts = self.book.exchange_ts
        fresh.local_ts = self.book.local_ts
        done = l2_apply_batch(&fresh, <const int64_t*>cnp.PyArray_DATA(s),
                              <const int64_t*>cnp.PyArray_DATA(p),
                              <const int64_t*>cnp.PyArray_DATA(q), n, &err, NULL)
        if err:
            l2_free(&fresh)
            raise _at_row(_error(&self.book, err, s[done], p[done], q[done]), f"row {done}")
        l2_free(&self.book)
        self.book = fresh                    # same address: C callers' pointers stay valid
        return done

    def clear(self, side=None):
        """Remove every level (of `side` only, when given)."""
        cdef int which = CLEAR_BOTH if side is None else _side(side)
        self._check_writable()
        l2_clear(&self.book, which)

    def truncate(self, depth):
        """Keep at most `depth` levels per side, dropping the worst."""
        cdef int64_t d = _ranged(depth, "depth", 0, INT64_MAX)
        self._check_writable()
        l2_truncate(&self.book, <Py_ssize_t>d)

    # -- top of book ---------------------------------------------------------------------

    @property
    def best_bid(self):
        """Best bid price, or None when there are no bids."""
        cdef BookSide* s = &self.book.sides[0]
        if s.nlevels == 0:
            return None
        if s.best != self._bb_px or self._bb_obj is None:
            self._bb_px = s.best
            self._bb_obj = ~s.best * self.book.tick
        return self._bb_obj

    @property
    def best_ask(self):
        """Best ask price, or None when there are no asks."""
        cdef BookSide* s = &self.book.sides[1]
        if s.nlevels == 0:
            return None
        if s.best != self._ba_px or self._ba_obj is None:
            self._ba_px = s.best
            self._ba_obj = s.best * self.book.tick
        return self._ba_obj

    @property
    def best_bid_size(self):
        """Size at the best bid, or None when there are no bids."""
        return self.book.sides[0].best_qty if self.book.sides[0].nlevels else None

    @property
    def best_ask_size(self):
        """Size at the best ask, or None when there are no asks."""
        return self.book.sides[1].best_qty if self.book.sides[1].nlevels else None

    @property
    def spread(self):
        """best_ask - best_bid (negative when crossed), or None if a side is empty."""
        cdef px_t bid, ask
        cdef qty_t bq, aq
        if not (l2_best(&self.book, 0, &bid, &bq) and l2_best(&self.book, 1, &ask, &aq)):
            return None
        return <object>ask - <object>bid

    @property
    def mid_x2(self):
        """best_bid + best_ask (twice the mid, exact), or None if a side is empty."""
        cdef px_t bid, ask
        cdef qty_t bq, aq
        if not (l2_best(&self.book, 0, &bid, &bq) and l2_best(&self.book, 1, &ask, &aq)):
            return None
        return <object>bid + <object>ask

    @property
    def mid(self):
        """Mid price, exact, as a count of ``10**-(price_decimals + 1)`` (one more decimal than
        prices so a half tick is representable), or None if a side is empty."""
        m = self.mid_x2
        return None if m is None else m * 5

    def microprice(self, extra_decimals=0):
        """Size-weighted mid ``(bid*ask_size + ask*bid_size) / (bid_size + ask_size)`` as an
        exact int count of ``10**-(price_decimals + extra_decimals)`` (`extra_decimals` 0..18),
        rounded half to even; None if a side is empty."""
        cdef int64_t extra = _ranged(extra_decimals, "extra_decimals", 0, 18)
        cdef px_t bid, ask
        cdef qty_t bq, aq
        if not (l2_best(&self.book, 0, &bid, &bq) and l2_best(&self.book, 1, &ask, &aq)):
            return None
        num = (<object>bid * <object>aq + <object>ask * <object>bq) * 10 ** <object>extra
        return _round_half_even(num, <object>aq + <object>bq)

    @property
    def is_crossed(self):
        """True when best bid > best ask."""
        return (self.book.sides[0].nlevels != 0 and self.book.sides[1].nlevels != 0
                and ~self.book.sides[0].best > self.book.sides[1].best)

    @property
    def is_locked(self):
        """True when best bid == best ask."""
        return (self.book.sides[0].nlevels != 0 and self.book.sides[1].nlevels != 0
                and ~self.book.sides[0].best == self.book.sides[1].best)

    # -- levels --------------------------------------------------------------------------

    def depth(self, n):
        """Top `n` levels: ``(bid_px, bid_sz, ask_px, ask_sz)`` int64 arrays, best first; each
        pair is as long as that side has levels, at most `n`. Cost O(n), not O(book).

        The arrays are new and belong to the caller: views of a shared slab that one numpy
        allocation provides for many calls (a kept result keeps at most its 4 KB slab alive;
        slab space is never handed out twice)."""
        cdef int64_t m = _ranged(n, "n", 0, INT64_MAX)
        cdef Py_ssize_t nb = self.book.sides[0].nlevels, na = self.book.sides[1].nlevels
        self._check_readable()
        if nb > m:
            nb = <Py_ssize_t>m
        if na > m:
            na = <Py_ssize_t>m
        cdef int64_t* data = _slab_take(2 * (nb + na))
        cdef object slab = _slab
        side_copy_top(&self.book.sides[0], nb, self.book.tick, data, data + nb)
        side_copy_top(&self.book.sides[1], na, self.book.tick, data + 2 * nb, data + 2 * nb + na)
        return (_slab_view(slab, data, nb), _slab_view(slab, data + nb, nb),
                _slab_view(slab, data + 2 * nb, na), _slab_view(slab, data + 2 * nb + na, na))

    def depth_into(self, side, prices, sizes):
        """Write the top levels of `side` into caller-owned writeable int64 arrays (as many as
        the shorter holds); returns how many were written. The allocation-free `depth`."""
        cdef int sd = _side(side)
        cdef Py_ssize_t n
        _check_out_array(prices, "prices")
        _check_out_array(sizes, "sizes")
        cdef int64_t* p = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>prices)
        cdef int64_t* q = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>sizes)
        n = min(cnp.PyArray_DIM(<cnp.ndarray>prices, 0), cnp.PyArray_DIM(<cnp.ndarray>sizes, 0))
        if n and p < q + n and q < p + n:
            raise ValueError("prices and sizes must not overlap")
        self._check_readable()
        return side_copy_top(&self.book.sides[sd], n, self.book.tick, p, q)

    def level(self, side, i):
        """The i-th level (0 = best, negative from the worst) of `side` as ``(price, size)``;
        IndexError past the end."""
        cdef int sd = _side(side)
        cdef int64_t k = int64_arg(i, "i")
        cdef const BookSide* s = &self.book.sides[sd]
        cdef Py_ssize_t slot, overflow_pos = 0, j = 0
        cdef int64_t key
        cdef qty_t q
        self._check_readable()
        if k < 0:
            k += s.nlevels
        if k < 0 or k >= s.nlevels:
            raise IndexError(f"level {i} is out of range: side {sd} has {s.nlevels} levels")
        slot = side_cursor_start(s)
        while side_cursor_next(s, &slot, &overflow_pos, &key, &q):
            if j == k:
                return (key ^ s.mask) * self.book.tick, q
            j += 1
        raise IndexError("level index out of range")  # pragma: no cover

    def size_at(self, side, price):
        """Size of the level at `price` (0 when there is none)."""
        cdef int sd = _side(side)
        cdef int64_t p = int64_arg(price, "price")
        self._check_readable()
        return l2_level_size(&self.book, sd, p)

    cdef object _levels_list(self, int side, Py_ssize_t n):
        """[(price, size), ...] of the top n levels, built straight from the ladder."""
        cdef const BookSide* s = &self.book.sides[side]
        cdef Py_ssize_t m = s.nlevels if s.nlevels < n else n
        cdef list out
        cdef px_t px[64]
        cdef qty_t qty[64]
        cdef Py_ssize_t k = 0, i, got
        cdef object level
        if m <= 64:
            got = side_copy_top(s, m, self.book.tick, px, qty)
            out = PyList_New(got)
            for i in range(got):
                level = (px[i], qty[i])
                Py_INCREF(level)             # PyList_SET_ITEM steals the reference
                PyList_SET_ITEM(out, i, level)
            return out
        # a long walk: a cursor, no copy
        cdef Py_ssize_t slot = side_cursor_start(s), overflow_pos = 0
        cdef int64_t key, tick = self.book.tick
        cdef qty_t q
        out = PyList_New(m)
        while k < m and side_cursor_next(s, &slot, &overflow_pos, &key, &q):
            level = ((key ^ s.mask) * tick, q)
            Py_INCREF(level)
            PyList_SET_ITEM(out, k, level)
            k += 1
        if k < m:                            # never: nlevels counts the levels walked
            del out[k:]
        return out

    def levels(self, side, n=None):
        """List of ``(price, size)`` of `side`, best first (all levels, or the top `n`)."""
        cdef int sd = _side(side)
        cdef int64_t m = INT64_MAX if n is None else _ranged(n, "n", 0, INT64_MAX)
        self._check_readable()
        return self._levels_list(sd, <Py_ssize_t>m)

    def volume_within(self, side, price):
        """Total size of the levels of `side` at `price` or better (an exact int)."""
        cdef int sd = _side(side)
        cdef int64_t p = int64_arg(price, "price")
        cdef wide_int total
        self._check_readable()
        with nogil:
            l2_volume_within(&self.book, sd, p, &total)
        return _wide_to_int(&total)

    def cost(self, side, size):
        """Walk `side` from the best for `size`: ``(filled, notional, worst_price)`` where
        notional = sum(price * size) is an exact count of
        ``10**-(price_decimals + size_decimals)`` and worst_price is the last level touched
        (None when nothing was filled)."""
        cdef int sd = _side(side)
        cdef int64_t want = _ranged(size, "size", 0, INT64_MAX)
        cdef wide_int notional
        cdef px_t worst = 0
        cdef qty_t filled
        self._check_readable()
        with nogil:
            filled = l2_cost(&self.book, sd, want, &notional, &worst)
        return filled, _wide_to_int(&notional), (worst if filled > 0 else None)

    def price_for_size(self, side, size):
        """Worst price reached when taking `size` from `side`, or None if the side holds less."""
        filled, _, worst = self.cost(side, size)
        return worst if filled == size and size > 0 else None

    def vwap(self, side, size):
        """Volume-weighted average price to take up to `size` from `side`, rounded half to even
        at the price decimals; None when nothing can be filled."""
        filled, notional, _ = self.cost(side, size)
        if filled == 0:
            return None
        return _round_half_even(notional, filled)

    def imbalance(self, n=1):
        """``(bid_volume - ask_volume) / (bid_volume + ask_volume)`` over the top `n` levels of
        each side, or None when both are empty. The volumes are summed exactly; the ratio, a
        float in -1..1, is their correctly rounded quotient."""
        cdef int64_t m = _ranged(n, "n", 0, INT64_MAX)
        cdef wide_int bid_volume, ask_volume
        self._check_readable()
        l2_top_volume(&self.book, 0, <Py_ssize_t>m, &bid_volume)
        l2_top_volume(&self.book, 1, <Py_ssize_t>m, &ask_volume)
        bv = _wide_to_int(&bid_volume)
        av = _wide_to_int(&ask_volume)
        if bv + av == 0:
            return None
        return (bv - av) / (bv + av)

    def __len__(self):
        return self.book.sides[0].nlevels + self.book.sides[1].nlevels

    def __iter__(self):
        """Yield ``(side, price, size)``: bids best first, then asks best first."""
        for side in (0, 1):
            for px, sz in self.levels(side):
                yield side, px, sz

    def __repr__(self):
        cdef px_t px
        cdef qty_t q
        cdef int side
        tops = []
        for side in range(2):
            if l2_best(&self.book, side, &px, &q):
                tops.append(f"{_format(px, self.book.price_decimals, FMT_FIXED)} x "
                            f"{_format(q, self.book.size_decimals, FMT_TRIM)}")
            else:
                tops.append("-")
        state = " crossed" if self.is_crossed else (" locked" if self.is_locked else "")
        return (f"<L2Book bid {tops[0]} | ask {tops[1]}{state}, "
                f"levels {self.book.sides[0].nlevels}/{self.book.sides[1].nlevels}, "
                f"decimals {self.book.price_decimals}/{self.book.size_decimals}, "
                f"tick {self.book.tick}, sequence {self.book.sequence}>")

    # -- checksums -----------------------------------------------------------------------

    def checksum(self, venue):
        """Venue checksum computed from the book, using the book's price and size decimals.

        ``"kraken"``: spot v1 and v2, CRC32 over the top 10 asks then bids as digits without
        dot and leading zeros (unsigned). ``"okx"``: v5, CRC32 over the top 25 levels
        interleaved as ``bid_px:bid_sz:ask_px:ask_sz:...`` in trimmed text, signed int32.
        ``"aevo"``: the same interleaved form over the top 100 levels, unsigned.
        ``"bitfinex"``: v2 ``cs``, CRC32 over the top 25 levels interleaved as
        ``bid_px:bid_amount:ask_px:ask_amount:...`` with the asks' amounts negative, each number
        as JavaScript prints it (trimmed; exponent form below 1e-6: ``1.5e-7``), signed int32.
        """
        if not isinstance(venue, str):
            raise TypeError(f"venue must be a str, not {type(venue).__name__}")
        self._check_readable()
        v = venue.lower()
        if v == "kraken":
            return l2_checksum_kraken(&self.book)
        if v == "okx":
            return l2_checksum_okx(&self.book)
        if v == "aevo":
            return l2_checksum_interleaved(&self.book, 100)
        if v == "bitfinex":
            return l2_checksum_bitfinex(&self.book)
        raise ValueError(f"no checksum for venue {venue!r} (known: kraken, okx, aevo, bitfinex)")

    # -- state ---------------------------------------------------------------------------

    @property
    def price_decimals(self):
        """Decimals of prices."""
        return self.book.price_decimals

    @property
    def size_decimals(self):
        """Decimals of sizes."""
        return self.book.size_decimals

    @property
    def tick(self):
        """Price units per level step."""
        return self.book.tick

    @property
    def window(self):
        """Price-ladder slots per side."""
        return self.book.sides[0].cap

    @property
    def max_depth(self):
        """Levels kept per side (0 = unlimited)."""
        return self.book.max_depth

    @property
    def cross_policy(self):
        """``"pass"``, ``"raise"`` or ``"drop"``."""
        return ("pass", "raise", "drop")[self.book.cross_policy]

    @property
    def sequence(self):
        """Sequence number of the last update (set it, or let `apply_deltas` set it)."""
        return self.book.sequence

    @sequence.setter
    def sequence(self, value):
        self.book.sequence = int64_arg(value, "sequence")

    @property
    def exchange_ts(self):
        """Exchange timestamp (ns) of the last update."""
        return self.book.exchange_ts

    @exchange_ts.setter
    def exchange_ts(self, value):
        self.book.exchange_ts = int64_arg(value, "exchange_ts")

    @property
    def local_ts(self):
        """Local receive timestamp (ns) of the last update."""
        return self.book.local_ts

    @local_ts.setter
    def local_ts(self, value):
        self.book.local_ts = int64_arg(value, "local_ts")

    @property
    def updates(self):
        """Updates applied."""
        return self.book.updates

    @property
    def missing_deletes(self):
        """Deletes of levels that did not exist."""
        return self.book.missing_deletes

    @property
    def crosses(self):
        """Updates that left the book crossed (policy ``"pass"``)."""
        return self.book.crosses

    @property
    def dropped(self):
        """Levels removed by the ``"drop"`` policy or by `max_depth`."""
        return self.book.dropped


cdef str _format(int64_t value, int decimals, int mode):
    cdef char buf[FX_FORMAT_MAX]
    cdef Py_ssize_t k = fx_format(value, decimals, mode, buf)
    return PyUnicode_DecodeASCII(buf, k, NULL)


# The order-level book lives in its own module; it stays importable from here.
from hftcore._ext.l3 import L3Book  # noqa: E402
