# Order books: L2 price-level book and L3 order-level book over C structs.
#
# See book.pxd for the layout.  Everything on the update path is `noexcept nogil` and returns a
# code; the Python classes turn negative codes into exceptions.
cimport cython
cimport numpy as cnp
from cpython.mem cimport PyMem_RawMalloc, PyMem_RawRealloc, PyMem_RawFree
from cpython.object cimport PyObject, PyTypeObject
from libc.string cimport memset, memmove, memcpy
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t, INT64_MIN, INT64_MAX, uint8_t
from hftcore._ext.types cimport (px_t, qty_t, ts_t, BookDelta, SIDE_BID, SIDE_ASK,
                                 DELTA_CLEAR, DELTA_CLEAR_SIDE)
from hftcore._ext.fixed cimport fx_format, FMT_DIGITS, FMT_TRIM, FX_FORMAT_MAX

import numpy as np

cnp.import_array()

cdef extern from *:
    """
    /* depth() reuses its last result when nothing outside the book holds it any more: the
       cached 4-tuple is referenced only by the cache and the caller's temporary, each array
       only by the tuple, and the arrays still own the buffers they were made with. */
    static inline int hbk_depth_reusable(PyObject *t, void **data) {
        Py_ssize_t i;
        PyArrayObject *a;
        if (Py_REFCNT(t) != 2) return 0;
        for (i = 0; i < 4; i++) {
            a = (PyArrayObject *)PyTuple_GET_ITEM(t, i);
            if (Py_REFCNT((PyObject *)a) != 1 || PyArray_DATA(a) != data[i]
                || PyArray_NDIM(a) != 1 || PyArray_STRIDES(a)[0] != 8
                || !PyArray_ISWRITEABLE(a))
                return 0;
        }
        return 1;
    }
    static inline void hbk_set_len(PyObject *t, Py_ssize_t i, npy_intp n) {
        PyArray_DIMS((PyArrayObject *)PyTuple_GET_ITEM(t, i))[0] = n;
    }

    /* L2Book.apply is installed as a METH_FASTCALL method descriptor (see the end of the
       module): positional arguments straight from the interpreter's stack, no keyword parsing
       and no argument reference counting, which is most of a Python-level update's cost. */
    static PyMethodDef hbk_apply_def;
    static int hbk_install_method(PyTypeObject *type, const char *name, void *fn,
                                  const char *doc) {
        PyObject *descr;
        int rc;
        hbk_apply_def.ml_name = name;
        hbk_apply_def.ml_meth = (PyCFunction)fn;
        hbk_apply_def.ml_flags = METH_FASTCALL;
        hbk_apply_def.ml_doc = doc;
        descr = PyDescr_NewMethod(type, &hbk_apply_def);
        if (descr == NULL) return -1;
        rc = PyDict_SetItemString(type->tp_dict, name, descr);
        Py_DECREF(descr);
        PyType_Modified(type);
        return rc;
    }
    """
    int hbk_install_method(PyTypeObject* type, const char* name, void* fn,
                           const char* doc) except -1
    bint hbk_depth_reusable(object t, void** data) noexcept
    void hbk_set_len(object t, Py_ssize_t i, cnp.npy_intp n) noexcept

cdef extern from *:
    """
    static inline int hbk_clz(uint64_t x) { return __builtin_clzll(x); }
    static inline int hbk_ctz(uint64_t x) { return __builtin_ctzll(x); }

    typedef __int128 hbk_i128;
    /* acc += a * b; returns 1 on int128 overflow (acc then undefined) */
    static inline int hbk_mac(hbk_i128 *acc, int64_t a, int64_t b) {
        return __builtin_add_overflow(*acc, (hbk_i128)a * (hbk_i128)b, acc);
    }
    static PyObject *hbk_i128_to_py(hbk_i128 v) {
        unsigned char buf[16];
        unsigned __int128 u = (unsigned __int128)v;
        int i;
        for (i = 0; i < 16; i++) { buf[i] = (unsigned char)(u & 0xFF); u >>= 8; }
        return _PyLong_FromByteArray(buf, 16, 1, 1);
    }

    static uint32_t hbk_crc_table[256];
    static int hbk_crc_ready = 0;
    static void hbk_crc_init(void) {
        uint32_t i, c;
        int k;
        for (i = 0; i < 256; i++) {
            c = i;
            for (k = 0; k < 8; k++) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
            hbk_crc_table[i] = c;
        }
        hbk_crc_ready = 1;
    }
    /* Standard CRC-32 (IEEE 802.3, reflected, as zlib.crc32); crc is the running value. */
    static inline uint32_t hbk_crc32(uint32_t crc, const char *p, Py_ssize_t n) {
        Py_ssize_t i;
        crc = ~crc;
        for (i = 0; i < n; i++) crc = hbk_crc_table[(crc ^ (uint8_t)p[i]) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }
    """
    int hbk_clz(uint64_t x) noexcept nogil
    ctypedef long long hbk_i128       # __int128 in C
    bint hbk_mac(hbk_i128* acc, int64_t a, int64_t b) noexcept nogil
    object hbk_i128_to_py(hbk_i128 v)
    int hbk_ctz(uint64_t x) noexcept nogil
    void hbk_crc_init() noexcept nogil
    uint32_t hbk_crc32(uint32_t crc, const char* p, Py_ssize_t n) noexcept nogil

hbk_crc_init()

BOOK_DELTA_DTYPE = np.dtype([
    ("exchange_ts", "<i8"), ("local_ts", "<i8"), ("sequence", "<i8"), ("price", "<i8"),
    ("size", "<i8"), ("instrument_id", "<u4"), ("side", "u1"), ("flags", "u1"),
    ("_pad", "<u2"),
])
assert BOOK_DELTA_DTYPE.itemsize == sizeof(BookDelta)

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


DELTA_FLAG_SNAPSHOT = 1
DELTA_FLAG_CLEAR = 2
DELTA_FLAG_LAST = 4
DELTA_FLAG_CLEAR_SIDE = 8

_CROSS_POLICIES = {"pass": CROSS_PASS, "raise": CROSS_RAISE, "drop": CROSS_DROP}


# ----------------------------------------------------------------------------------------------
# One side: ladder + overflow
# ----------------------------------------------------------------------------------------------

cdef inline void* _raw_alloc(Py_ssize_t n, Py_ssize_t size) noexcept nogil:
    if n <= 0 or n > (<Py_ssize_t>0x7FFFFFFFFFFFFFFF) // size:
        return NULL
    return PyMem_RawMalloc(<size_t>(n * size))


cdef inline int64_t _okey(const BookSide* s, int64_t idx) noexcept nogil:
    # price index <-> key (both ways): keys ascend from the best toward worse levels on both
    # sides (bids use ~idx, which cannot overflow), so one branch-free code path serves both
    return idx ^ s.mask


cdef inline bint _better(const BookSide* s, int64_t a, int64_t b) noexcept nogil:
    return a < b


cdef inline Py_ssize_t _prev_slot(const BookSide* s, Py_ssize_t i) noexcept nogil:
    """Highest occupied slot strictly below i (0 <= i <= cap), or -1."""
    cdef Py_ssize_t w = i >> 6
    cdef Py_ssize_t sw
    cdef uint64_t m
    if w < s.nwords:
        m = s.bits[w] & ((<uint64_t>1 << (i & 63)) - 1)
        if m:
            return (w << 6) + 63 - hbk_clz(m)
    if w == 0:
        return -1
    w -= 1
    sw = w >> 6
    m = s.summ[sw] & ((<uint64_t>2 << (w & 63)) - 1)
    while True:
        if m:
            w = (sw << 6) + 63 - hbk_clz(m)
            return (w << 6) + 63 - hbk_clz(s.bits[w])
        if sw == 0:
            return -1
        sw -= 1
        m = s.summ[sw]


cdef inline Py_ssize_t _next_slot(const BookSide* s, Py_ssize_t i) noexcept nogil:
    """Lowest occupied slot strictly above i (-1 <= i < cap), or -1."""
    cdef Py_ssize_t w, sw
    cdef uint64_t m
    i += 1
    if i >= s.cap:
        return -1
    w = i >> 6
    m = s.bits[w] & ~((<uint64_t>1 << (i & 63)) - 1)
    if m:
        return (w << 6) + hbk_ctz(m)
    w += 1
    if w >= s.nwords:
        return -1
    sw = w >> 6
    m = s.summ[sw] & ~((<uint64_t>1 << (w & 63)) - 1)
    while True:
        if m:
            w = (sw << 6) + hbk_ctz(m)
            return (w << 6) + hbk_ctz(s.bits[w])
        sw += 1
        if sw >= s.nsumm:
            return -1
        m = s.summ[sw]


cdef inline Py_ssize_t _worse_slot(const BookSide* s, Py_ssize_t i) noexcept nogil:
    return _next_slot(s, i)


cdef inline Py_ssize_t _worst_slot(const BookSide* s) noexcept nogil:
    return _prev_slot(s, s.cap)


cdef inline void _slot_set_bit(BookSide* s, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t w = i >> 6
    s.bits[w] |= (<uint64_t>1 << (i & 63))
    s.summ[w >> 6] |= (<uint64_t>1 << (w & 63))


cdef inline void _slot_clear_bit(BookSide* s, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t w = i >> 6
    s.bits[w] &= ~(<uint64_t>1 << (i & 63))
    if s.bits[w] == 0:
        s.summ[w >> 6] &= ~(<uint64_t>1 << (w & 63))


cdef int _side_init(BookSide* s, Py_ssize_t cap, int is_bid) noexcept nogil:
    s.cap = cap
    s.nwords = cap >> 6
    s.nsumm = (s.nwords + 63) >> 6
    s.is_bid = is_bid
    s.mask = -1 if is_bid else 0
    s.qty = <qty_t*>_raw_alloc(cap, sizeof(qty_t))
    s.bits = <uint64_t*>_raw_alloc(s.nwords, sizeof(uint64_t))
    s.summ = <uint64_t*>_raw_alloc(s.nsumm, sizeof(uint64_t))
    s.ocap = 64
    s.okey = <int64_t*>_raw_alloc(s.ocap, sizeof(int64_t))
    s.oqty = <qty_t*>_raw_alloc(s.ocap, sizeof(qty_t))
    if s.qty == NULL or s.bits == NULL or s.summ == NULL or s.okey == NULL or s.oqty == NULL:
        return BOOK_ENOMEM
    memset(s.qty, 0, cap * sizeof(qty_t))
    memset(s.bits, 0, s.nwords * sizeof(uint64_t))
    memset(s.summ, 0, s.nsumm * sizeof(uint64_t))
    s.base = 0
    s.nladder = 0
    s.on = 0
    s.nlevels = 0
    s.best = 0
    s.best_qty = 0
    return 0


cdef void _side_free(BookSide* s) noexcept nogil:
    PyMem_RawFree(s.qty)
    PyMem_RawFree(s.bits)
    PyMem_RawFree(s.summ)
    PyMem_RawFree(s.okey)
    PyMem_RawFree(s.oqty)
    s.qty = NULL
    s.bits = NULL
    s.summ = NULL
    s.okey = NULL
    s.oqty = NULL
    s.nlevels = 0
    s.nladder = 0
    s.on = 0


cdef void _side_clear(BookSide* s) noexcept nogil:
    cdef Py_ssize_t w
    if s.nladder:
        for w in range(s.nwords):
            if s.bits[w]:
                memset(s.qty + (w << 6), 0, 64 * sizeof(qty_t))
                s.bits[w] = 0
        memset(s.summ, 0, s.nsumm * sizeof(uint64_t))
    s.nladder = 0
    s.on = 0
    s.nlevels = 0
    s.best_qty = 0


cdef inline void _side_place(BookSide* s, int64_t best) noexcept nogil:
    """Set the window so that the key `best` sits at its first quarter (3/4 for worse levels)."""
    cdef int64_t off = s.cap >> 2
    cdef int64_t base
    if best < INT64_MIN + off:
        base = INT64_MIN
    else:
        base = best - off
    if base > INT64_MAX - (s.cap - 1):
        base = INT64_MAX - (s.cap - 1)
    s.base = base


cdef inline uint64_t _slot_of(const BookSide* s, int64_t idx) noexcept nogil:
    return <uint64_t>idx - <uint64_t>s.base


cdef int _ovf_reserve(BookSide* s, Py_ssize_t need) noexcept nogil:
    cdef Py_ssize_t c = s.ocap
    cdef void* k
    cdef void* q
    if need <= c:
        return 0
    while c < need:
        if c > (<Py_ssize_t>1 << 56):
            return BOOK_ENOMEM
        c *= 2
    k = PyMem_RawRealloc(s.okey, <size_t>c * sizeof(int64_t))
    if k == NULL:
        return BOOK_ENOMEM
    s.okey = <int64_t*>k
    q = PyMem_RawRealloc(s.oqty, <size_t>c * sizeof(qty_t))
    if q == NULL:
        return BOOK_ENOMEM
    s.oqty = <qty_t*>q
    s.ocap = c
    return 0


cdef inline Py_ssize_t _ovf_search(const BookSide* s, int64_t key) noexcept nogil:
    """First overflow position with okey >= key."""
    cdef Py_ssize_t lo = 0, hi = s.on, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if s.okey[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef int _side_recentre(BookSide* s, int64_t best) noexcept nogil:
    """Move the window so `best` (a level better than every current one, or the first overflow
    level when the ladder is empty) is inside it; re-partition ladder and overflow levels."""
    cdef Py_ssize_t n = s.nladder, k = 0, i, keep, rest
    cdef int64_t* tk = NULL
    cdef qty_t* tq = NULL
    cdef Py_ssize_t slot
    cdef uint64_t sl
    if n:
        tk = <int64_t*>_raw_alloc(n, sizeof(int64_t))
        tq = <qty_t*>_raw_alloc(n, sizeof(qty_t))
        # reserve the overflow room first: after the ladder is emptied nothing may fail
        if tk == NULL or tq == NULL or _ovf_reserve(s, s.on + n) < 0:
            PyMem_RawFree(tk)
            PyMem_RawFree(tq)
            return BOOK_ENOMEM
        # ladder levels best-first
        slot = _next_slot(s, -1)
        while slot >= 0:
            tk[k] = s.base + slot
            tq[k] = s.qty[slot]
            k += 1
            slot = _worse_slot(s, slot)
        for i in range(s.nwords):
            if s.bits[i]:
                memset(s.qty + (i << 6), 0, 64 * sizeof(qty_t))
                s.bits[i] = 0
        memset(s.summ, 0, s.nsumm * sizeof(uint64_t))
    s.nladder = 0
    _side_place(s, best)
    # old ladder levels that still fit go back to the ladder; the rest lead the overflow
    keep = 0
    while keep < k:
        sl = _slot_of(s, tk[keep])
        if sl >= <uint64_t>s.cap:
            break
        s.qty[sl] = tq[keep]
        _slot_set_bit(s, <Py_ssize_t>sl)
        keep += 1
    s.nladder = keep
    rest = k - keep
    if rest:
        memmove(s.okey + rest, s.okey, s.on * sizeof(int64_t))
        memmove(s.oqty + rest, s.oqty, s.on * sizeof(qty_t))
        for i in range(rest):
            s.okey[i] = tk[keep + i]
            s.oqty[i] = tq[keep + i]
        s.on += rest
    PyMem_RawFree(tk)
    PyMem_RawFree(tq)
    # overflow levels that now fall inside the window move to the ladder
    i = 0
    while i < s.on:
        sl = _slot_of(s, s.okey[i])
        if sl >= <uint64_t>s.cap:
            break
        s.qty[sl] = s.oqty[i]
        _slot_set_bit(s, <Py_ssize_t>sl)
        i += 1
    if i:
        s.nladder += i
        s.on -= i
        memmove(s.okey, s.okey + i, s.on * sizeof(int64_t))
        memmove(s.oqty, s.oqty + i, s.on * sizeof(qty_t))
    return 0


cdef inline void _side_refresh_best(BookSide* s, Py_ssize_t from_slot) noexcept nogil:
    """The best level was removed from the ladder: find the next one."""
    cdef Py_ssize_t ns = _worse_slot(s, from_slot)
    if ns >= 0:
        s.best = s.base + ns
        s.best_qty = s.qty[ns]
    elif s.on > 0:
        _side_recentre(s, s.okey[0])   # cannot fail: ladder is empty, nothing to alloc
        ns = _next_slot(s, -1)
        s.best = s.base + ns
        s.best_qty = s.qty[ns]
    else:
        s.best_qty = 0


cdef int _side_set(BookSide* s, int64_t idx, qty_t q) noexcept nogil:
    cdef uint64_t sl
    cdef Py_ssize_t i
    cdef qty_t old
    cdef int r, rc
    cdef int64_t key
    if q == 0:
        if s.nlevels == 0:
            return BOOK_MISSING
        sl = _slot_of(s, idx)
        if sl < <uint64_t>s.cap:
            if s.qty[sl] == 0:
                return BOOK_MISSING
            s.qty[sl] = 0
            _slot_clear_bit(s, <Py_ssize_t>sl)
            s.nladder -= 1
            s.nlevels -= 1
            if idx == s.best:
                _side_refresh_best(s, <Py_ssize_t>sl)
                return BOOK_TOP | BOOK_DELETE
            return BOOK_DELETE
        key = idx
        i = _ovf_search(s, key)
        if i >= s.on or s.okey[i] != key:
            return BOOK_MISSING
        s.on -= 1
        memmove(s.okey + i, s.okey + i + 1, (s.on - i) * sizeof(int64_t))
        memmove(s.oqty + i, s.oqty + i + 1, (s.on - i) * sizeof(qty_t))
        s.nlevels -= 1
        return BOOK_DELETE
    if s.nlevels == 0:
        _side_place(s, idx)
        sl = _slot_of(s, idx)
        s.qty[sl] = q
        _slot_set_bit(s, <Py_ssize_t>sl)
        s.nladder = 1
        s.nlevels = 1
        s.best = idx
        s.best_qty = q
        return BOOK_TOP | BOOK_INSERT
    sl = _slot_of(s, idx)
    if sl < <uint64_t>s.cap:
        old = s.qty[sl]
        s.qty[sl] = q
        r = 0
        if old == 0:
            _slot_set_bit(s, <Py_ssize_t>sl)
            s.nladder += 1
            s.nlevels += 1
            r = BOOK_INSERT
        if idx == s.best:
            s.best_qty = q
            if old != q:
                r |= BOOK_TOP
        elif _better(s, idx, s.best):
            s.best = idx
            s.best_qty = q
            r |= BOOK_TOP
        return r
    if _better(s, idx, s.best):
        rc = _side_recentre(s, idx)
        if rc < 0:
            return rc
        sl = _slot_of(s, idx)
        s.qty[sl] = q
        _slot_set_bit(s, <Py_ssize_t>sl)
        s.nladder += 1
        s.nlevels += 1
        s.best = idx
        s.best_qty = q
        return BOOK_TOP | BOOK_INSERT
    key = idx
    i = _ovf_search(s, key)
    if i < s.on and s.okey[i] == key:
        s.oqty[i] = q
        return 0
    rc = _ovf_reserve(s, s.on + 1)
    if rc < 0:
        return rc
    memmove(s.okey + i + 1, s.okey + i, (s.on - i) * sizeof(int64_t))
    memmove(s.oqty + i + 1, s.oqty + i, (s.on - i) * sizeof(qty_t))
    s.okey[i] = key
    s.oqty[i] = q
    s.on += 1
    s.nlevels += 1
    return BOOK_INSERT


cdef void _side_pop_worst(BookSide* s) noexcept nogil:
    cdef Py_ssize_t sl
    if s.nlevels == 0:
        return
    if s.on > 0:
        s.on -= 1
        s.nlevels -= 1
        return
    sl = _worst_slot(s)
    _side_set(s, s.base + sl, 0)


cdef inline Py_ssize_t _cur_start(const BookSide* s) noexcept nogil:
    return <Py_ssize_t>_slot_of(s, s.best) if s.nlevels else -1


cdef inline bint _cur_next(const BookSide* s, Py_ssize_t* slot, Py_ssize_t* oi, int64_t* idx,
                           qty_t* q) noexcept nogil:
    """Step a best-first cursor (slot from _cur_start, oi from 0) over a side's levels."""
    if slot[0] >= 0:
        idx[0] = s.base + slot[0]
        q[0] = s.qty[slot[0]]
        slot[0] = _worse_slot(s, slot[0])
        return True
    if oi[0] < s.on:
        idx[0] = s.okey[oi[0]]
        q[0] = s.oqty[oi[0]]
        oi[0] += 1
        return True
    return False


cdef inline Py_ssize_t _side_walk(const BookSide* s, Py_ssize_t n, int64_t tick, px_t* px,
                                  qty_t* qty) noexcept nogil:
    """Copy up to n levels best-first into px/qty; returns the count."""
    cdef Py_ssize_t k = 0, w, slot, i
    cdef uint64_t m
    cdef int64_t mask = s.mask
    if s.nlevels == 0 or n <= 0:
        return 0
    # ladder: scan occupancy words from the best, bit by bit within a word
    slot = <Py_ssize_t>_slot_of(s, s.best)
    w = slot >> 6
    m = s.bits[w] & ~((<uint64_t>1 << (slot & 63)) - 1)
    while True:
        while m and k < n:
            slot = (w << 6) + hbk_ctz(m)
            m &= m - 1
            px[k] = ((s.base + slot) ^ mask) * tick
            qty[k] = s.qty[slot]
            k += 1
        if k >= n:
            return k
        w += 1
        if w >= s.nwords:
            break
        m = s.bits[w]
        if m == 0:
            slot = _next_slot(s, (w << 6) + 63)
            if slot < 0:
                break
            w = slot >> 6
            m = s.bits[w]
    i = 0
    while k < n and i < s.on:
        px[k] = (s.okey[i] ^ mask) * tick
        qty[k] = s.oqty[i]
        k += 1
        i += 1
    return k


cdef qty_t _side_get(const BookSide* s, int64_t idx) noexcept nogil:
    cdef uint64_t sl
    cdef Py_ssize_t i
    cdef int64_t key
    if s.nlevels == 0:
        return 0
    sl = _slot_of(s, idx)
    if sl < <uint64_t>s.cap:
        return s.qty[sl]
    key = idx
    i = _ovf_search(s, key)
    if i < s.on and s.okey[i] == key:
        return s.oqty[i]
    return 0


# ----------------------------------------------------------------------------------------------
# The L2 book C API
# ----------------------------------------------------------------------------------------------

cdef int l2_init(L2BookC* b, Py_ssize_t window, int64_t tick) noexcept nogil:
    """Allocate both sides. window: ladder slots per side (rounded up to a power of two, >= 64)."""
    cdef Py_ssize_t cap = 64
    cdef int rc
    memset(b, 0, sizeof(L2BookC))
    if tick <= 0:
        return BOOK_EOFFGRID
    while cap < window and cap < (<Py_ssize_t>1 << 26):
        cap <<= 1
    b.tick = tick
    rc = _side_init(&b.sides[0], cap, 1)
    if rc == 0:
        rc = _side_init(&b.sides[1], cap, 0)
    return rc


cdef void l2_free(L2BookC* b) noexcept nogil:
    _side_free(&b.sides[0])
    _side_free(&b.sides[1])


cdef inline int _check_cross(L2BookC* b, int side, int r) noexcept nogil:
    cdef BookSide* bid = &b.sides[0]
    cdef BookSide* ask = &b.sides[1]
    cdef BookSide* other
    if bid.nlevels == 0 or ask.nlevels == 0 or ~bid.best <= ask.best:
        return r
    if b.cross_policy == CROSS_DROP:
        other = &b.sides[1 - side]
        while other.nlevels and ~bid.best > ask.best:
            _side_set(other, other.best, 0)
            b.dropped += 1
        return r | BOOK_TOP
    b.crosses += 1
    return r


cdef int l2_apply(L2BookC* b, int side, px_t price, qty_t size) noexcept nogil:
    """Set the size of a level (0 deletes). Returns BOOK_* bits (>= 0) or an error code (< 0)."""
    cdef int64_t idx = price
    cdef int r
    cdef BookSide* s
    if <unsigned int>side > 1:
        return BOOK_EBADSIDE
    if size < 0:
        return BOOK_ENEGSIZE
    if b.tick != 1:
        if price % b.tick != 0:
            return BOOK_EOFFGRID
        idx = price // b.tick
    if b.cross_policy == CROSS_RAISE and size > 0:
        s = &b.sides[1 - side]
        if s.nlevels and (idx > s.best if side == 0 else idx < ~s.best):
            return BOOK_ECROSSED
    s = &b.sides[side]
    r = _side_set(s, idx ^ s.mask, size)
    if r < 0:
        return r
    b.updates += 1
    if r & BOOK_MISSING:
        b.missing_deletes += 1
    elif r & BOOK_INSERT and b.max_depth and s.nlevels > b.max_depth:
        _side_pop_worst(s)
        b.dropped += 1
    if r & BOOK_TOP and size > 0:
        r = _check_cross(b, side, r)
    return r


cdef Py_ssize_t l2_apply_batch(L2BookC* b, const int64_t* sides, const px_t* prices,
                               const qty_t* sizes, Py_ssize_t n, int* err,
                               int64_t* bbo_out) noexcept nogil:
    """Apply n updates; returns the number applied (n unless an error stopped it, code in err).
    bbo_out (may be NULL): 2n int64, best bid and best ask price after each update
    (INT64_MIN when the side is empty)."""
    cdef Py_ssize_t i
    cdef int r
    err[0] = 0
    for i in range(n):
        r = l2_apply(b, <int>sides[i], prices[i], sizes[i])
        if r < 0:
            err[0] = r
            return i
        if bbo_out != NULL:
            bbo_out[2 * i] = (~b.sides[0].best * b.tick) if b.sides[0].nlevels else INT64_MIN
            bbo_out[2 * i + 1] = (b.sides[1].best * b.tick) if b.sides[1].nlevels else INT64_MIN
    return n


cdef Py_ssize_t l2_apply_deltas(L2BookC* b, const BookDelta* d, Py_ssize_t n,
                                int* err) noexcept nogil:
    """Apply BookDelta records honouring DELTA_CLEAR / DELTA_CLEAR_SIDE; the book's sequence and
    timestamps follow the records.  A clearing record with size 0 only clears."""
    cdef Py_ssize_t i
    cdef int r
    cdef int side
    err[0] = 0
    for i in range(n):
        side = d[i].side
        if d[i].flags & DELTA_CLEAR:
            l2_clear(b, CLEAR_BOTH)
        if d[i].flags & DELTA_CLEAR_SIDE and side <= 1:
            l2_clear(b, side)
        if not (d[i].flags & (DELTA_CLEAR | DELTA_CLEAR_SIDE) and d[i].size == 0):
            r = l2_apply(b, side, d[i].price, d[i].size)
            if r < 0:
                err[0] = r
                return i
        b.sequence = d[i].sequence
        b.exchange_ts = d[i].exchange_ts
        b.local_ts = d[i].local_ts
    return n


cdef void l2_clear(L2BookC* b, int side) noexcept nogil:
    """Clear one side (0, 1) or both (CLEAR_BOTH)."""
    if side == 0 or side == CLEAR_BOTH:
        _side_clear(&b.sides[0])
    if side == 1 or side == CLEAR_BOTH:
        _side_clear(&b.sides[1])


cdef void l2_truncate(L2BookC* b, Py_ssize_t depth) noexcept nogil:
    """Keep at most `depth` levels per side (drop the worst)."""
    cdef int k
    cdef BookSide* s
    if depth < 0:
        depth = 0
    for k in range(2):
        s = &b.sides[k]
        while s.nlevels > depth:
            if s.on > 0:
                if s.on >= s.nlevels - depth:
                    s.on -= s.nlevels - depth
                    s.nlevels = depth
                    break
                s.nlevels -= s.on
                s.on = 0
            else:
                _side_pop_worst(s)


cdef qty_t l2_level_size(const L2BookC* b, int side, px_t price) noexcept nogil:
    """Size at a price (0 when there is no level, the side is invalid or the price off-grid)."""
    if <unsigned int>side > 1:
        return 0
    if b.tick != 1:
        if price % b.tick != 0:
            return 0
        return _side_get(&b.sides[side], (price // b.tick) ^ b.sides[side].mask)
    return _side_get(&b.sides[side], price ^ b.sides[side].mask)


cdef Py_ssize_t l2_depth(const L2BookC* b, int side, Py_ssize_t n, px_t* px,
                         qty_t* qty) noexcept nogil:
    """Copy up to n levels of a side best-first; returns how many were written."""
    return _side_walk(&b.sides[side], n, b.tick, px, qty)


cdef uint32_t crc32_update(uint32_t crc, const char* data, Py_ssize_t n) noexcept nogil:
    return hbk_crc32(crc, data, n)


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
        n = _side_walk(&b.sides[side], 10, b.tick, px, qty)
        for i in range(n):
            k = fx_format(px[i], b.price_decimals, FMT_DIGITS, buf)
            crc = hbk_crc32(crc, buf, k)
            k = fx_format(qty[i], b.size_decimals, FMT_DIGITS, buf)
            crc = hbk_crc32(crc, buf, k)
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
    nb = _side_walk(&b.sides[0], depth, b.tick, bpx, bq)
    na = _side_walk(&b.sides[1], depth, b.tick, apx, aq)
    for i in range(depth):
        if i < nb:
            if not first:
                crc = hbk_crc32(crc, b":", 1)
            first = False
            k = fx_format(bpx[i], b.price_decimals, FMT_TRIM, buf)
            crc = hbk_crc32(crc, buf, k)
            crc = hbk_crc32(crc, b":", 1)
            k = fx_format(bq[i], b.size_decimals, FMT_TRIM, buf)
            crc = hbk_crc32(crc, buf, k)
        if i < na:
            if not first:
                crc = hbk_crc32(crc, b":", 1)
            first = False
            k = fx_format(apx[i], b.price_decimals, FMT_TRIM, buf)
            crc = hbk_crc32(crc, buf, k)
            crc = hbk_crc32(crc, b":", 1)
            k = fx_format(aq[i], b.size_decimals, FMT_TRIM, buf)
            crc = hbk_crc32(crc, buf, k)
    return crc


cdef int32_t l2_checksum_okx(const L2BookC* b) noexcept nogil:
    """OKX v5: the interleaved CRC32 over the top 25 levels, as a signed int32."""
    return <int32_t>l2_checksum_interleaved(b, 25)


# ----------------------------------------------------------------------------------------------
# Python surface
# ----------------------------------------------------------------------------------------------

class CrossedBookError(ValueError):
    """An update would cross the book and the book's policy is ``"raise"``."""


cdef inline int _side_arg(object side) except -1:
    cdef long v = side
    if v != 0 and v != 1:
        raise ValueError(f"side must be 0 (bid) or 1 (ask), not {side!r}")
    return <int>v


cdef cnp.ndarray _i64_array(object a, str name):
    cdef cnp.ndarray arr = np.ascontiguousarray(a, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    return arr


cdef inline object _new_i64(Py_ssize_t n):
    cdef cnp.npy_intp dims = n
    return cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)


@cython.final
cdef class L2Book:
    """Price-level (L2) order book with int64 prices and sizes.

    Parameters
    ----------
    price_decimals, size_decimals : int
        Decimals of the integer prices and sizes (used by `checksum` to rebuild the venue's text).
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
        Price-ladder slots per side kept dense around the best (rounded up to a power of two).
        Levels farther away live in a sorted overflow; any price is accepted.

    Notes
    -----
    Sides use the `hftcore.Side` codes: 0 = bid (BUY), 1 = ask (SELL).
    """

    def __cinit__(self, int price_decimals=0, int size_decimals=0, *, int64_t tick=1,
                  Py_ssize_t max_depth=0, str cross_policy="pass", Py_ssize_t window=8192):
        cdef int rc
        if not 0 <= price_decimals <= 18 or not 0 <= size_decimals <= 18:
            raise ValueError("decimals must be within 0..18")
        if tick <= 0:
            raise ValueError("tick must be positive")
        if max_depth < 0:
            raise ValueError("max_depth must be >= 0")
        if cross_policy not in _CROSS_POLICIES:
            raise ValueError(f"cross_policy must be one of {sorted(_CROSS_POLICIES)}")
        rc = l2_init(&self.book, window, tick)
        if rc < 0:
            l2_free(&self.book)
            raise MemoryError("cannot allocate the order book")
        self.book.price_decimals = price_decimals
        self.book.size_decimals = size_decimals
        self.book.max_depth = max_depth
        self.book.cross_policy = _CROSS_POLICIES[cross_policy]
        self._bb_obj = None
        self._ba_obj = None
        self._depth = [None, None]

    def __dealloc__(self):
        l2_free(&self.book)

    cdef int _guard(self) except -1:
        # apply_batch / apply_deltas run without the GIL: another thread must not touch the
        # book's arrays meanwhile (top-of-book properties read plain fields and stay allowed)
        if self._busy:
            raise RuntimeError("the book is being updated by apply_batch in another thread")
        return 0

    cdef int _raise(self, int rc) except -1:
        if rc == BOOK_EBADSIDE:
            raise ValueError("side must be 0 (bid) or 1 (ask)")
        if rc == BOOK_ENEGSIZE:
            raise ValueError("size must be >= 0")
        if rc == BOOK_ENOMEM:
            raise MemoryError("cannot grow the order book")
        if rc == BOOK_ECROSSED:
            raise CrossedBookError("the update would cross the book")
        if rc == BOOK_EOFFGRID:
            raise ValueError(f"price is not a multiple of the tick {self.book.tick}")
        raise ValueError(f"order book error {rc}")

    # -- writes ----------------------------------------------------------------------------

    # apply(side, price, size, /) is installed below as a METH_FASTCALL method

    def apply_batch(self, sides, prices=None, sizes=None, bbo=None):
        """Apply a batch of updates without the GIL; returns the number applied.

        Either parallel integer arrays ``(sides, prices, sizes)``, or one numpy structured
        array as `sides`: BookDelta records (as `apply_deltas`, flags honoured) or any array
        with ``side``, ``price`` and ``size`` fields. `bbo`, if given, is an int64 array of
        shape (n, 2) that receives the best bid and best ask price after each update
        (``-2**63`` for an empty side). On an error the rows before the failing one stay
        applied and ValueError names the row.
        """
        if prices is None and sizes is None:
            if not isinstance(sides, np.ndarray) or sides.dtype.fields is None:
                raise TypeError("apply_batch takes (sides, prices, sizes) or a structured array")
            if _is_delta_dtype(sides.dtype) and bbo is None:
                return self.apply_deltas(sides)
            fields = sides.dtype.fields
            if "side" not in fields or "price" not in fields or "size" not in fields:
                raise ValueError("a structured batch needs side, price and size fields")
            return self.apply_batch(sides["side"], sides["price"], sides["size"], bbo)
        if prices is None or sizes is None:
            raise TypeError("apply_batch takes (sides, prices, sizes) or a structured array")
        cdef cnp.ndarray s = _i64_array(sides, "sides")
        cdef cnp.ndarray p = _i64_array(prices, "prices")
        cdef cnp.ndarray q = _i64_array(sizes, "sizes")
        cdef Py_ssize_t n = s.shape[0]
        cdef Py_ssize_t done
        cdef int err = 0
        cdef int64_t* out = NULL
        cdef cnp.ndarray o
        if p.shape[0] != n or q.shape[0] != n:
            raise ValueError("sides, prices and sizes must have the same length")
        if bbo is not None:
            o = bbo
            if (o.dtype != np.int64 or o.ndim != 2 or o.shape[0] < n or o.shape[1] != 2
                    or not o.flags.c_contiguous or not o.flags.writeable):
                raise ValueError("bbo must be a writeable C-contiguous int64 array of shape (n, 2)")
            out = <int64_t*>cnp.PyArray_DATA(o)
        self._guard()
        self._busy = 1
        try:
            with nogil:
                done = l2_apply_batch(&self.book, <const int64_t*>cnp.PyArray_DATA(s),
                                      <const int64_t*>cnp.PyArray_DATA(p),
                                      <const int64_t*>cnp.PyArray_DATA(q), n, &err, out)
        finally:
            self._busy = 0
        if err:
            try:
                self._raise(err)
            except (ValueError, MemoryError) as exc:
                raise type(exc)(f"row {done}: {exc}") from None
        return done

    def apply_deltas(self, records):
        """Apply a batch of BookDelta records (`BOOK_DELTA_DTYPE` array or a bytes-like buffer
        of 48-byte records) without the GIL; returns the number applied.

        DELTA_CLEAR clears the book and DELTA_CLEAR_SIDE the record's side before the record is
        applied (a clearing record with size 0 only clears); `sequence`, `exchange_ts` and
        `local_ts` follow the records.
        """
        cdef const unsigned char[::1] raw
        cdef Py_ssize_t n, done
        cdef int err = 0
        if isinstance(records, np.ndarray):
            if not _is_delta_dtype(records.dtype):
                raise ValueError("records must be BookDelta records (BOOK_DELTA_DTYPE layout)")
            records = np.ascontiguousarray(records).reshape(-1).view(np.uint8)
        raw = records
        if raw.shape[0] % sizeof(BookDelta):
            raise ValueError("buffer length is not a multiple of the 48-byte BookDelta record")
        n = raw.shape[0] // sizeof(BookDelta)
        if n == 0:
            return 0
        self._guard()
        self._busy = 1
        try:
            with nogil:
                done = l2_apply_deltas(&self.book, <const BookDelta*>&raw[0], n, &err)
        finally:
            self._busy = 0
        if err:
            try:
                self._raise(err)
            except (ValueError, MemoryError) as exc:
                raise type(exc)(f"record {done}: {exc}") from None
        return done

    def apply_snapshot(self, sides, prices, sizes, side=None):
        """Replace the book (or only `side`) with the given levels; returns the number applied."""
        self._guard()
        cdef int sd
        if side is None:
            l2_clear(&self.book, CLEAR_BOTH)
        else:
            sd = _side_arg(side)
            arr = _i64_array(sides, "sides")
            if arr.shape[0] and (arr != sd).any():
                raise ValueError("a one-sided snapshot holds levels of another side")
            l2_clear(&self.book, sd)
        return self.apply_batch(sides, prices, sizes)

    def clear(self, side=None):
        """Remove every level (of `side` only, when given)."""
        self._guard()
        l2_clear(&self.book, CLEAR_BOTH if side is None else _side_arg(side))

    def truncate(self, Py_ssize_t depth):
        """Keep at most `depth` levels per side, dropping the worst."""
        self._guard()
        if depth < 0:
            raise ValueError("depth must be >= 0")
        l2_truncate(&self.book, depth)

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
        if self.book.sides[0].nlevels == 0 or self.book.sides[1].nlevels == 0:
            return None
        return (<object>self.book.sides[1].best - <object>(~self.book.sides[0].best)) * self.book.tick

    @property
    def mid_x2(self):
        """best_bid + best_ask (twice the mid, exact), or None if a side is empty."""
        if self.book.sides[0].nlevels == 0 or self.book.sides[1].nlevels == 0:
            return None
        return (<object>(~self.book.sides[0].best) + <object>self.book.sides[1].best) * self.book.tick

    @property
    def mid(self):
        """Mid price, exact, as a count of ``10**-(price_decimals + 1)`` (one more decimal than
        prices so a half tick is representable), or None if a side is empty."""
        m = self.mid_x2
        return None if m is None else m * 5

    def microprice(self, int extra_decimals=0):
        """Size-weighted mid ``(bid*ask_size + ask*bid_size) / (bid_size + ask_size)`` as a count
        of ``10**-(price_decimals + extra_decimals)``, rounded half-even; None if a side is empty.
        """
        if self.book.sides[0].nlevels == 0 or self.book.sides[1].nlevels == 0:
            return None
        if not 0 <= extra_decimals <= 18:
            raise ValueError("extra_decimals must be within 0..18")
        bid = ~self.book.sides[0].best * self.book.tick
        ask = self.book.sides[1].best * self.book.tick
        bq = self.book.sides[0].best_qty
        aq = self.book.sides[1].best_qty
        num = (bid * aq + ask * bq) * 10 ** extra_decimals
        den = aq + bq
        q, r = divmod(num, den)
        if 2 * r > den or (2 * r == den and q & 1):
            q += 1
        return q

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

    def depth(self, Py_ssize_t n):
        """Top `n` levels: ``(bid_px, bid_sz, ask_px, ask_sz)`` int64 arrays, best first; each
        pair is as long as that side has levels, at most `n`. Cost O(n), not O(book).

        The arrays are new objects as far as the caller can tell: a previous result is recycled
        only once nothing outside the book references it any more.
        """
        self._guard()
        cdef Py_ssize_t nb, na, i
        cdef int k = self._depth_next
        cdef object t = self._depth[k]
        if n < 0:
            raise ValueError("n must be >= 0")
        nb = self.book.sides[0].nlevels
        na = self.book.sides[1].nlevels
        if nb > n:
            nb = n
        if na > n:
            na = n
        # two slots used in turn, so `bp, bs, ap, az = book.depth(n)` in a loop (the names still
        # holding the previous result during the call) recycles too
        self._depth_next = 1 - k
        if (t is None or n > self._depth_cap[k]
                or not hbk_depth_reusable(t, &self._depth_data[4 * k])):
            self._depth_cap[k] = n if n > 8 else 8
            t = (_new_i64(self._depth_cap[k]), _new_i64(self._depth_cap[k]),
                 _new_i64(self._depth_cap[k]), _new_i64(self._depth_cap[k]))
            for i in range(4):
                self._depth_data[4 * k + i] = cnp.PyArray_DATA(<cnp.ndarray>t[i])
            self._depth[k] = t
        hbk_set_len(t, 0, nb)
        hbk_set_len(t, 1, nb)
        hbk_set_len(t, 2, na)
        hbk_set_len(t, 3, na)
        _side_walk(&self.book.sides[0], nb, self.book.tick,
                   <px_t*>self._depth_data[4 * k], <qty_t*>self._depth_data[4 * k + 1])
        _side_walk(&self.book.sides[1], na, self.book.tick,
                   <px_t*>self._depth_data[4 * k + 2], <qty_t*>self._depth_data[4 * k + 3])
        return t

    def depth_into(self, int side, int64_t[::1] prices, int64_t[::1] sizes):
        """Write the top levels of `side` into caller-owned int64 arrays (as many as fit);
        returns how many were written. Allocation-free variant of `depth`."""
        self._guard()
        cdef Py_ssize_t n = min(prices.shape[0], sizes.shape[0])
        if <unsigned int>side > 1:
            self._raise(BOOK_EBADSIDE)
        if n == 0:
            return 0
        return _side_walk(&self.book.sides[side], n, self.book.tick, &prices[0], &sizes[0])

    def level(self, int side, Py_ssize_t i):
        """The i-th level (0 = best) of `side` as ``(price, size)``; IndexError past the end."""
        self._guard()
        cdef const BookSide* s
        cdef Py_ssize_t slot, oi = 0, k = 0
        cdef int64_t idx
        cdef qty_t q
        if <unsigned int>side > 1:
            self._raise(BOOK_EBADSIDE)
        s = &self.book.sides[side]
        if i < 0:
            i += s.nlevels
        if i < 0 or i >= s.nlevels:
            raise IndexError("level index out of range")
        slot = _cur_start(s)
        while _cur_next(s, &slot, &oi, &idx, &q):
            if k == i:
                return (idx ^ s.mask) * self.book.tick, q
            k += 1
        raise IndexError("level index out of range")  # pragma: no cover

    def size_at(self, int side, int64_t price):
        """Size of the level at `price` (0 when there is none)."""
        self._guard()
        if <unsigned int>side > 1:
            self._raise(BOOK_EBADSIDE)
        return l2_level_size(&self.book, side, price)

    def levels(self, int side, n=None):
        """List of ``(price, size)`` of `side`, best first (all levels, or the top `n`)."""
        self._guard()
        cdef Py_ssize_t m
        if <unsigned int>side > 1:
            self._raise(BOOK_EBADSIDE)
        m = self.book.sides[side].nlevels if n is None else min(<Py_ssize_t>n,
                                                                 self.book.sides[side].nlevels)
        if m <= 0:
            return []
        px = _new_i64(m)
        qt = _new_i64(m)
        _side_walk(&self.book.sides[side], m, self.book.tick,
                   <px_t*>cnp.PyArray_DATA(px), <qty_t*>cnp.PyArray_DATA(qt))
        return list(zip(px.tolist(), qt.tolist()))

    def volume_within(self, int side, int64_t price):
        """Total size of the levels of `side` at `price` or better."""
        self._guard()
        cdef const BookSide* s
        cdef Py_ssize_t slot, oi = 0
        cdef int64_t idx, px
        cdef int64_t tick = self.book.tick
        cdef qty_t q
        cdef hbk_i128 total = 0
        if <unsigned int>side > 1:
            self._raise(BOOK_EBADSIDE)
        s = &self.book.sides[side]
        slot = _cur_start(s)
        with nogil:
            while _cur_next(s, &slot, &oi, &idx, &q):
                px = (idx ^ s.mask) * tick
                if (px < price) if side == 0 else (px > price):
                    break
                total += q
        return hbk_i128_to_py(total)

    def cost(self, int side, int64_t size):
        """Walk `side` from the best for `size`: ``(filled, notional, worst_price)`` where
        notional = sum(price * size) is a count of ``10**-(price_decimals + size_decimals)``
        and worst_price is the last level touched (None when nothing was filled)."""
        self._guard()
        cdef const BookSide* s
        cdef Py_ssize_t slot, oi = 0
        cdef int64_t idx
        cdef qty_t q, take
        cdef qty_t left = size
        if <unsigned int>side > 1:
            self._raise(BOOK_EBADSIDE)
        if size < 0:
            raise ValueError("size must be >= 0")
        cdef int64_t tick = self.book.tick
        cdef int64_t last = 0
        cdef hbk_i128 acc = 0     # sum(take) <= size < 2**63 and |price| <= 2**63: fits
        s = &self.book.sides[side]
        slot = _cur_start(s)
        with nogil:
            while left > 0 and _cur_next(s, &slot, &oi, &idx, &q):
                take = q if q < left else left
                last = (idx ^ s.mask) * tick
                hbk_mac(&acc, last, take)
                left -= take
        notional = hbk_i128_to_py(acc)
        return size - left, notional, (last if left < size else None)

    def price_for_size(self, int side, int64_t size):
        """Worst price reached when taking `size` from `side`, or None if the side holds less."""
        filled, _, worst = self.cost(side, size)
        return worst if filled == size and size > 0 else None

    def vwap(self, int side, int64_t size):
        """Volume-weighted average price to take up to `size` from `side`, rounded half-even to
        the price decimals; None when nothing can be filled."""
        filled, notional, _ = self.cost(side, size)
        if filled == 0:
            return None
        q, r = divmod(notional, filled)
        if 2 * r > filled or (2 * r == filled and q & 1):
            q += 1
        return q

    def imbalance(self, Py_ssize_t n=1):
        """``(bid_volume - ask_volume) / (bid_volume + ask_volume)`` over the top `n` levels of
        each side (a ratio, as float), or None when both are empty."""
        bp, bs, ap, az = self.depth(n)
        bv = int(bs.sum())
        av = int(az.sum())
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
        return (f"L2Book(bids={self.book.sides[0].nlevels}, asks={self.book.sides[1].nlevels}, "
                f"best_bid={self.best_bid}, best_ask={self.best_ask})")

    # -- checksums -----------------------------------------------------------------------

    def checksum(self, str venue):
        """Venue checksum computed from the book, using the book's price and size decimals.

        ``"kraken"``: spot v1 and v2, CRC32 over the top 10 asks then bids as digits without
        dot and leading zeros (unsigned). ``"okx"``: v5, CRC32 over the top 25 levels
        interleaved as ``bid_px:bid_sz:ask_px:ask_sz:...`` in trimmed text, signed int32.
        ``"aevo"``: the same interleaved form over the top 100 levels, unsigned.
        """
        self._guard()
        v = venue.lower()
        if v == "kraken":
            return l2_checksum_kraken(&self.book)
        if v == "okx":
            return l2_checksum_okx(&self.book)
        if v == "aevo":
            return l2_checksum_interleaved(&self.book, 100)
        raise ValueError(f"no checksum for venue {venue!r} (known: kraken, okx, aevo)")

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
    def sequence(self, int64_t v):
        self.book.sequence = v

    @property
    def exchange_ts(self):
        """Exchange timestamp (ns) of the last update."""
        return self.book.exchange_ts

    @exchange_ts.setter
    def exchange_ts(self, int64_t v):
        self.book.exchange_ts = v

    @property
    def local_ts(self):
        """Local receive timestamp (ns) of the last update."""
        return self.book.local_ts

    @local_ts.setter
    def local_ts(self, int64_t v):
        self.book.local_ts = v

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


_L3_FORWARDED = frozenset({
    "spread", "mid", "mid_x2", "microprice", "is_crossed", "is_locked", "depth_into", "level",
    "size_at", "volume_within", "cost", "price_for_size", "vwap", "imbalance", "price_decimals",
    "size_decimals", "tick",
})


@cython.final
cdef class L3Book:
    """Order-level (L3) book: orders queue FIFO per price level; an `L2Book` view aggregates them.

    Parameters
    ----------
    price_decimals, size_decimals : int
        Decimals of the integer prices and sizes.
    tick, window : int, optional
        As for `L2Book`.

    Notes
    -----
    `cancel`, `modify` and `execute` of an unknown order id return False and count it in
    `unknown_orders`; adding an id that is already live raises ValueError. The L2 read API
    (`best_bid`, `depth`, `checksum`, ...) is available on the book itself or on `l2`.
    """

    def __cinit__(self, int price_decimals=0, int size_decimals=0, *, int64_t tick=1,
                  Py_ssize_t window=8192):
        self._oid = NULL
        self._px = NULL
        self._sz = NULL
        self._prev = NULL
        self._next = NULL
        self._side = NULL
        self._cap = 0
        self._free = -1
        self._used = 0
        self._l2 = L2Book(price_decimals, size_decimals, tick=tick, window=window)
        self._orders = {}
        self._levels = {}
        self.unknown_orders = 0

    def __dealloc__(self):
        PyMem_RawFree(self._oid)
        PyMem_RawFree(self._px)
        PyMem_RawFree(self._sz)
        PyMem_RawFree(self._prev)
        PyMem_RawFree(self._next)
        PyMem_RawFree(self._side)

    cdef Py_ssize_t _alloc(self) except -1:
        cdef Py_ssize_t i, c
        cdef void* p
        if self._free >= 0:
            i = self._free
            self._free = self._next[i]
            return i
        if self._used == self._cap:
            c = 1024 if self._cap == 0 else self._cap * 2
            if c > (<Py_ssize_t>1 << 40):
                raise MemoryError("too many orders")
            for name in range(6):
                if name == 0:
                    p = PyMem_RawRealloc(self._oid, c * sizeof(int64_t))
                    if p == NULL:
                        raise MemoryError()
                    self._oid = <int64_t*>p
                elif name == 1:
                    p = PyMem_RawRealloc(self._px, c * sizeof(int64_t))
                    if p == NULL:
                        raise MemoryError()
                    self._px = <int64_t*>p
                elif name == 2:
                    p = PyMem_RawRealloc(self._sz, c * sizeof(int64_t))
                    if p == NULL:
                        raise MemoryError()
                    self._sz = <int64_t*>p
                elif name == 3:
                    p = PyMem_RawRealloc(self._prev, c * sizeof(int64_t))
                    if p == NULL:
                        raise MemoryError()
                    self._prev = <int64_t*>p
                elif name == 4:
                    p = PyMem_RawRealloc(self._next, c * sizeof(int64_t))
                    if p == NULL:
                        raise MemoryError()
                    self._next = <int64_t*>p
                else:
                    p = PyMem_RawRealloc(self._side, c * sizeof(unsigned char))
                    if p == NULL:
                        raise MemoryError()
                    self._side = <unsigned char*>p
            self._cap = c
        i = self._used
        self._used += 1
        return i

    cdef int _set_level(self, int side, int64_t price, int64_t delta) except -1:
        cdef qty_t total = l2_level_size(&self._l2.book, side, price)
        cdef int r
        self._l2._guard()
        total = l2_level_size(&self._l2.book, side, price)
        if delta > 0 and total > INT64_MAX - delta:
            raise OverflowError("level size overflows int64")
        r = l2_apply(&self._l2.book, side, price, total + delta)
        if r < 0:
            self._l2._raise(r)
        return 0

    cdef int _unlink(self, Py_ssize_t i) except -1:
        cdef int side = self._side[i]
        cdef int64_t price = self._px[i]
        key = (side, price)
        ends = self._levels[key]
        if self._prev[i] >= 0:
            self._next[self._prev[i]] = self._next[i]
        else:
            ends[0] = self._next[i]
        if self._next[i] >= 0:
            self._prev[self._next[i]] = self._prev[i]
        else:
            ends[1] = self._prev[i]
        if ends[0] < 0:
            del self._levels[key]
        self._set_level(side, price, -self._sz[i])
        del self._orders[self._oid[i]]
        self._next[i] = self._free
        self._free = i
        return 0

    def add(self, int64_t order_id, int side, int64_t price, int64_t size):
        """Add an order at the back of its price level's queue."""
        cdef Py_ssize_t i
        if <unsigned int>side > 1:
            raise ValueError("side must be 0 (bid) or 1 (ask)")
        if size <= 0:
            raise ValueError("size must be > 0")
        if order_id in self._orders:
            raise ValueError(f"order {order_id} is already in the book")
        if price % self._l2.book.tick != 0:
            raise ValueError(f"price is not a multiple of the tick {self._l2.book.tick}")
        i = self._alloc()
        try:
            self._set_level(side, price, size)
        except BaseException:
            self._next[i] = self._free
            self._free = i
            raise
        self._oid[i] = order_id
        self._px[i] = price
        self._sz[i] = size
        self._side[i] = <unsigned char>side
        self._next[i] = -1
        key = (side, price)
        ends = self._levels.get(key)
        if ends is None:
            self._prev[i] = -1
            self._levels[key] = [i, i]
        else:
            self._prev[i] = ends[1]
            self._next[<Py_ssize_t>ends[1]] = i
            ends[1] = i
        self._orders[order_id] = i

    def cancel(self, int64_t order_id):
        """Remove an order; False (counted) when the id is unknown."""
        i = self._orders.get(order_id)
        if i is None:
            self.unknown_orders += 1
            return False
        self._unlink(i)
        return True

    def execute(self, int64_t order_id, int64_t size):
        """Fill `size` of an order (it leaves the book when fully filled); False (counted) when
        the id is unknown. ValueError when size is not within 1..remaining."""
        cdef Py_ssize_t i
        o = self._orders.get(order_id)
        if o is None:
            self.unknown_orders += 1
            return False
        i = o
        if size <= 0 or size > self._sz[i]:
            raise ValueError(f"execute size must be within 1..{self._sz[i]}")
        if size == self._sz[i]:
            self._unlink(i)
        else:
            self._set_level(self._side[i], self._px[i], -size)
            self._sz[i] -= size
        return True

    def modify(self, int64_t order_id, int64_t size, price=None):
        """Change an order's size (and price). Reducing the size at the same price keeps the
        queue position; a larger size or a new price sends it to the back. Size 0 cancels.
        False (counted) when the id is unknown."""
        cdef Py_ssize_t i
        cdef int side
        cdef int64_t new_px
        o = self._orders.get(order_id)
        if o is None:
            self.unknown_orders += 1
            return False
        if size < 0:
            raise ValueError("size must be >= 0")
        i = o
        if size == 0:
            self._unlink(i)
            return True
        new_px = self._px[i] if price is None else price
        if new_px == self._px[i] and size <= self._sz[i]:
            self._set_level(self._side[i], self._px[i], size - self._sz[i])
            self._sz[i] = size
            return True
        if new_px % self._l2.book.tick != 0:
            raise ValueError(f"price is not a multiple of the tick {self._l2.book.tick}")
        side = self._side[i]
        self._unlink(i)
        self.add(order_id, side, new_px, size)
        return True

    def order(self, int64_t order_id):
        """``(side, price, size)`` of a live order; KeyError when unknown."""
        cdef Py_ssize_t i = self._orders[order_id]
        return self._side[i], self._px[i], self._sz[i]

    def queue_position(self, int64_t order_id):
        """Total size queued ahead of an order at its price level; KeyError when unknown."""
        cdef Py_ssize_t i = self._orders[order_id]
        cdef int64_t j = self._prev[i]
        ahead = 0
        while j >= 0:
            ahead += self._sz[j]
            j = self._prev[j]
        return ahead

    def orders_at(self, int side, int64_t price):
        """``[(order_id, size), ...]`` queued at a level, front first."""
        ends = self._levels.get((side, price))
        out = []
        if ends is None:
            return out
        cdef int64_t j = ends[0]
        while j >= 0:
            out.append((self._oid[j], self._sz[j]))
            j = self._next[j]
        return out

    def clear(self):
        """Remove every order."""
        self._orders.clear()
        self._levels.clear()
        self._used = 0
        self._free = -1
        self._l2.clear()

    @property
    def l2(self):
        """The aggregated `L2Book` (read it; writing to it desynchronises the L3 book)."""
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

    def depth(self, Py_ssize_t n):
        """Aggregated top `n` levels, as `L2Book.depth`."""
        return self._l2.depth(n)

    def levels(self, int side, n=None):
        """Aggregated levels of a side, as `L2Book.levels`."""
        return self._l2.levels(side, n)

    def checksum(self, str venue):
        """Venue checksum of the aggregated book, as `L2Book.checksum`."""
        return self._l2.checksum(venue)

    def __getattr__(self, name):
        # the rest of the L2 *read* API; writes go through the orders only
        if name not in _L3_FORWARDED:
            raise AttributeError(f"'L3Book' object has no attribute {name!r}")
        return getattr(self._l2, name)

    def __len__(self):
        return len(self._orders)

    def __contains__(self, order_id):
        return order_id in self._orders

    def __repr__(self):
        return (f"L3Book(orders={len(self._orders)}, best_bid={self.best_bid}, "
                f"best_ask={self.best_ask})")


# ----------------------------------------------------------------------------------------------
# L2Book.apply: the per-update entry from Python
# ----------------------------------------------------------------------------------------------

cdef object _l2_apply_fastcall(object self, PyObject** args, Py_ssize_t nargs):
    cdef L2Book book = <L2Book>self
    cdef int64_t side, price, size
    cdef int r
    if nargs != 3:
        raise TypeError(f"apply() takes exactly 3 positional arguments ({nargs} given)")
    side = <object>args[0]       # Cython's inline int conversion (cheaper than PyLong_As*)
    price = <object>args[1]
    size = <object>args[2]
    if book._busy:
        book._guard()
    r = l2_apply(&book.book, <int>side if 0 <= side <= 1 else 2, price, size)
    if r < 0:
        book._raise(r)
    if r & BOOK_TOP:
        return True
    return False


_APPLY_DOC = b"""apply($self, side, price, size, /)
--

Set the size of the level at `price` on `side` (0 deletes it).

Returns True when the top of the book (best price or size of either side) changed.
Deleting a level that does not exist is counted in `missing_deletes`, not an error.
"""

hbk_install_method(<PyTypeObject*>L2Book, "apply", <void*>_l2_apply_fastcall, _APPLY_DOC)
