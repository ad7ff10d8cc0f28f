# Exchange message decoders: hand-written scanners, one per fixed venue schema, over
# `const char*` without the GIL.  Everything they read is validated (string escapes and UTF-8,
# number grammar, nesting depth); prices and sizes go from the wire text to int64 with fx_parse.
#
# Layout: JSON primitives (sk_*), record writers (put_*), then one section per venue, then the
# Python classes.  All parsing functions return 0 / a kind on success and -1 on failure with the
# error code and position stored in the Scan.
cimport cython
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t, INT64_MAX, INT64_MIN
from libc.string cimport memcmp, memcpy, memset, strlen
from cpython.mem cimport PyMem_RawMalloc, PyMem_RawRealloc, PyMem_RawFree
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.buffer cimport PyBUF_WRITABLE
from posix.time cimport clock_gettime, timespec

cdef extern from "<time.h>" nogil:
    enum: CLOCK_THREAD_CPUTIME_ID

from hftcore._ext.types cimport (
    BookDelta, TradeRecord, BBORecord, OrderUpdate, ts_t, px_t, qty_t,
    SIDE_BID, SIDE_ASK, SIDE_NONE, DELTA_SNAPSHOT, DELTA_CLEAR, DELTA_LAST, DELTA_REPUBLISH,
    TRADE_ID_TEXT, BBO_NO_SIZE, BBO_NO_BID, BBO_NO_ASK, ORDER_IS_FILL, ORDER_IS_MAKER,
    ORDER_HAS_FEE, ORDER_TRADE_ID_TEXT,
)
from hftcore._ext.fixed cimport fx_parse, FX_OK, FX_PRECISION, RND_EXACT, HFX_POW10

import numpy as np

from hftcore.errors import DecodeError

# ---------------------------------------------------------------------------------------------
# JSON primitives
# ---------------------------------------------------------------------------------------------

cdef inline int fail(Scan* sc, int code, const char* at) noexcept nogil:
    if sc.err == 0:
        if at >= sc.end and (code == E_SYNTAX or code == E_TYPE):
            code = E_TRUNCATED
        sc.err = code
        sc.err_at = at if at <= sc.end else sc.end
    return -1


cdef inline bint keq(const char* k, Py_ssize_t n, const char* lit) noexcept nogil:
    return (n > 0 and k[0] == lit[0] and n == <Py_ssize_t>strlen(lit)
            and memcmp(k, lit, <size_t>n) == 0)


cdef inline void sk_ws(Scan* sc) noexcept nogil:
    cdef const char* p = sc.p
    while p < sc.end and (p[0] == b' ' or p[0] == b'\n' or p[0] == b'\r' or p[0] == b'\t'):
        p += 1
    sc.p = p


cdef inline int wrong(Scan* sc) noexcept nogil:
    """Fail at sc.p: a type error when a JSON value starts there, else a syntax error."""
    cdef char c
    if sc.p >= sc.end:
        return fail(sc, E_TRUNCATED, sc.p)
    c = sc.p[0]
    if (c == b'{' or c == b'[' or c == b'"' or c == b'-' or (c >= b'0' and c <= b'9')
            or c == b't' or c == b'f' or c == b'n'):
        return fail(sc, E_TYPE, sc.p)
    return fail(sc, E_SYNTAX, sc.p)


cdef inline int sk_char(Scan* sc, char ch) noexcept nogil:
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == ch:
        sc.p += 1
        return 0
    return fail(sc, E_SYNTAX, sc.p)


cdef inline int hexval(char c) noexcept nogil:
    if c >= b'0' and c <= b'9':
        return c - 48
    if c >= b'a' and c <= b'f':
        return c - 87
    if c >= b'A' and c <= b'F':
        return c - 55
    return -1


cdef inline int hex4(const char* p) noexcept nogil:
    cdef int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3])
    if a < 0 or b < 0 or c < 0 or d < 0:
        return -1
    return (a << 12) | (b << 8) | (c << 4) | d


cdef extern from *:
    """
    /* 1 for bytes that end the fast scan of a JSON string: quote, backslash, control
       characters and non-ASCII (validated by the slow path). */
    static const unsigned char HFT_STR_STOP[256] = {
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
        0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1};
    """
    const unsigned char HFT_STR_STOP[256]


cdef inline bint cont(const char* p) noexcept nogil:
    return (<unsigned char>p[0] & 0xC0) == 0x80


cdef int sk_string_slow(Scan* sc, const char* start, const char* p, const char** s,
                        Py_ssize_t* n) noexcept nogil:
    """The rest of a string from p (escapes, non-ASCII): validates and ends after the quote."""
    cdef const char* end = sc.end
    cdef unsigned char c, c1
    cdef int u, lo, need
    while True:
        while p < end:
            c = <unsigned char>p[0]
            if c == 34 or c == 92 or c < 0x20 or c >= 0x80:
                break
            p += 1
        if p >= end:
            return fail(sc, E_TRUNCATED, p)
        c = <unsigned char>p[0]
        if c == 34:                                       # closing quote
            s[0] = start
            n[0] = p - start
            sc.p = p + 1
            return 0
        if c == 92:                                       # backslash
            if p + 1 >= end:
                return fail(sc, E_TRUNCATED, p)
            c1 = <unsigned char>p[1]
            if (c1 == 34 or c1 == 92 or c1 == 47 or c1 == 98 or c1 == 102 or c1 == 110
                    or c1 == 114 or c1 == 116):
                p += 2
                continue
            if c1 != 117:                                 # 'u'
                return fail(sc, E_ESCAPE, p)
            if p + 6 > end:
                return fail(sc, E_TRUNCATED, p)
            u = hex4(p + 2)
            if u < 0:
                return fail(sc, E_ESCAPE, p)
            if u >= 0xDC00 and u <= 0xDFFF:               # lone low surrogate
                return fail(sc, E_ESCAPE, p)
            if u >= 0xD800 and u <= 0xDBFF:               # needs a low surrogate next
                if p + 12 > end:
                    return fail(sc, E_TRUNCATED, p)
                if p[6] != b'\\' or p[7] != b'u':
                    return fail(sc, E_ESCAPE, p)
                lo = hex4(p + 8)
                if lo < 0xDC00 or lo > 0xDFFF:
                    return fail(sc, E_ESCAPE, p)
                p += 12
            else:
                p += 6
            continue
        if c < 0x20:
            return fail(sc, E_SYNTAX, p)                  # raw control character
        # UTF-8 sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF)
        if c >= 0xC2 and c <= 0xDF:
            need = 1
        elif c >= 0xE0 and c <= 0xEF:
            need = 2
        elif c >= 0xF0 and c <= 0xF4:
            need = 3
        else:
            return fail(sc, E_UTF8, p)
        if p + need >= end:
            return fail(sc, E_TRUNCATED, p)
        c1 = <unsigned char>p[1]
        if ((c == 0xE0 and c1 < 0xA0) or (c == 0xED and c1 > 0x9F)
                or (c == 0xF0 and c1 < 0x90) or (c == 0xF4 and c1 > 0x8F)):
            return fail(sc, E_UTF8, p)
        if not cont(p + 1) or (need >= 2 and not cont(p + 2)) or (need == 3 and not cont(p + 3)):
            return fail(sc, E_UTF8, p)
        p += need + 1


cdef inline int sk_string(Scan* sc, const char** s, Py_ssize_t* n) noexcept nogil:
    """A JSON string; s/n get the raw text between the quotes (escapes left as they are)."""
    cdef const char* p
    cdef const char* start
    cdef const char* end = sc.end
    cdef unsigned char c
    sk_ws(sc)
    p = sc.p
    if p >= end or p[0] != b'"':
        return wrong(sc)
    p += 1
    start = p
    while p < end and not HFT_STR_STOP[<unsigned char>p[0]]:
        p += 1
    if p < end and p[0] == b'"':
        s[0] = start
        n[0] = p - start
        sc.p = p + 1
        return 0
    return sk_string_slow(sc, start, p, s, n)


cdef inline int sk_number(Scan* sc, const char** s, Py_ssize_t* n) noexcept nogil:
    """A JSON number (RFC 8259 grammar); s/n get its text."""
    cdef const char* p
    cdef const char* start
    cdef const char* end = sc.end
    sk_ws(sc)
    p = sc.p
    start = p
    if p < end and p[0] == b'-':
        p += 1
    if p >= end:
        return fail(sc, E_TRUNCATED, p)
    if p[0] == b'0':
        p += 1
    elif p[0] >= b'1' and p[0] <= b'9':
        while p < end and p[0] >= b'0' and p[0] <= b'9':
            p += 1
    elif p == start:
        return wrong(sc)
    else:
        return fail(sc, E_SYNTAX, p)
    if p < end and p[0] == b'.':
        p += 1
        if p >= end or p[0] < b'0' or p[0] > b'9':
            return fail(sc, E_SYNTAX, p)
        while p < end and p[0] >= b'0' and p[0] <= b'9':
            p += 1
    if p < end and (p[0] == b'e' or p[0] == b'E'):
        p += 1
        if p < end and (p[0] == b'+' or p[0] == b'-'):
            p += 1
        if p >= end or p[0] < b'0' or p[0] > b'9':
            return fail(sc, E_SYNTAX, p)
        while p < end and p[0] >= b'0' and p[0] <= b'9':
            p += 1
    s[0] = start
    n[0] = p - start
    sc.p = p
    return 0


cdef inline int lit(Scan* sc, const char* word) noexcept nogil:
    cdef Py_ssize_t n = <Py_ssize_t>strlen(word)
    if sc.end - sc.p < n:
        return fail(sc, E_TRUNCATED, sc.end)
    if memcmp(sc.p, word, <size_t>n) != 0:
        return fail(sc, E_SYNTAX, sc.p)
    sc.p += n
    return 0


cdef int sk_value(Scan* sc, int depth) noexcept nogil:
    """Skip one JSON value, validating it fully (depth-limited)."""
    cdef const char* s
    cdef Py_ssize_t n
    cdef char c, close
    sk_ws(sc)
    if sc.p >= sc.end:
        return fail(sc, E_TRUNCATED, sc.p)
    c = sc.p[0]
    close = b'}' if c == b'{' else b']'
    if c == b'"':
        return sk_string(sc, &s, &n)
    if c == b'{' or c == b'[':
        if depth >= MAX_DEPTH:
            return fail(sc, E_DEPTH, sc.p)
        sc.p += 1
        sk_ws(sc)
        if sc.p < sc.end and sc.p[0] == close:
            sc.p += 1
            return 0
        while True:
            if c == b'{':
                if sk_string(sc, &s, &n) < 0 or sk_char(sc, b':') < 0:
                    return -1
            if sk_value(sc, depth + 1) < 0:
                return -1
            sk_ws(sc)
            if sc.p >= sc.end:
                return fail(sc, E_TRUNCATED, sc.p)
            if sc.p[0] == b',':
                sc.p += 1
                continue
            if sc.p[0] == close:
                sc.p += 1
                return 0
            return fail(sc, E_SYNTAX, sc.p)
    if c == b't':
        return lit(sc, b"true")
    if c == b'f':
        return lit(sc, b"false")
    if c == b'n':
        return lit(sc, b"null")
    return sk_number(sc, &s, &n)


cdef inline int ob_open(Scan* sc) noexcept nogil:
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'{':
        sc.p += 1
        return 0
    return wrong(sc)


cdef inline int ar_open(Scan* sc) noexcept nogil:
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'[':
        sc.p += 1
        return 0
    return wrong(sc)


cdef inline int ob_key(Scan* sc, int* st, const char** k, Py_ssize_t* kn) noexcept nogil:
    """Next key of an object opened with ob_open (st starts at 0): 1 key read with its colon,
    0 end of object consumed, -1 error."""
    sk_ws(sc)
    if sc.p >= sc.end:
        return fail(sc, E_TRUNCATED, sc.p)
    if sc.p[0] == b'}':
        if st[0] == 2:                                    # "{...,}"
            return fail(sc, E_SYNTAX, sc.p)
        sc.p += 1
        return 0
    if st[0] == 1:
        if sc.p[0] != b',':
            return fail(sc, E_SYNTAX, sc.p)
        sc.p += 1
        sk_ws(sc)
        if sc.p < sc.end and sc.p[0] == b'}':
            return fail(sc, E_SYNTAX, sc.p)
    st[0] = 1
    # fast path: a plain ASCII key directly followed by ':'
    cdef const char* p = sc.p
    cdef const char* q
    cdef unsigned char c
    if p < sc.end and p[0] == b'"':
        q = p + 1
        while q < sc.end and not HFT_STR_STOP[<unsigned char>q[0]]:
            q += 1
        if q + 1 < sc.end and q[0] == b'"' and q[1] == b':':
            k[0] = p + 1
            kn[0] = q - p - 1
            sc.p = q + 2
            return 1
    if sk_string(sc, k, kn) < 0 or sk_char(sc, b':') < 0:
        return -1
    return 1


cdef inline int ar_next(Scan* sc, int* st) noexcept nogil:
    """1 when another element follows (positioned at it), 0 when the array ended (consumed)."""
    sk_ws(sc)
    if sc.p >= sc.end:
        return fail(sc, E_TRUNCATED, sc.p)
    if sc.p[0] == b']':
        sc.p += 1
        return 0
    if st[0] == 1:
        if sc.p[0] != b',':
            return fail(sc, E_SYNTAX, sc.p)
        sc.p += 1
        sk_ws(sc)
        if sc.p < sc.end and sc.p[0] == b']':
            return fail(sc, E_SYNTAX, sc.p)
    st[0] = 1
    return 1


cdef inline int ar_end(Scan* sc, int* st) noexcept nogil:
    """The array must end here: extra elements are an error."""
    cdef int r = ar_next(sc, st)
    if r == 0:
        return 0
    if r > 0:
        return fail(sc, E_EXTRA, sc.p)
    return -1


cdef inline int ar_more(Scan* sc, int* st) noexcept nogil:
    """Another element must follow: a short array is a missing field."""
    cdef int r = ar_next(sc, st)
    if r > 0:
        return 0
    if r == 0:
        return fail(sc, E_MISSING, sc.p - 1)
    return -1


cdef inline int skip_unknown(DecState* d, Scan* sc, const char* key) noexcept nogil:
    if d.strict:
        return fail(sc, E_EXTRA, key)
    return sk_value(sc, 1)


cdef inline int dup(Scan* sc, uint64_t* seen, int bit, const char* key) noexcept nogil:
    """Mark a field seen; a duplicate key is an error."""
    cdef uint64_t m = (<uint64_t>1) << bit
    if seen[0] & m:
        return fail(sc, E_EXTRA, key)
    seen[0] |= m
    return 0


cdef inline int int_text(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """Decimal integer text -> int64: 0 ok, E_NUMBER malformed or overflow."""
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef uint64_t v = 0, c, lim
    if n > 0 and s[0] == b'-':
        neg = True
        i = 1
    if i >= n:
        return E_NUMBER
    lim = <uint64_t>INT64_MAX + (1 if neg else 0)
    if n - i > 19:
        return E_NUMBER
    while i < n:
        c = <unsigned char>s[i] - 48
        if c > 9:
            return E_NUMBER
        if n - i == 1 and v > (lim - c) // 10:           # only a 19-digit value can overflow
            return E_NUMBER
        v = v * 10 + c
        i += 1
    out[0] = <int64_t>(~v + 1) if neg else <int64_t>v
    return 0


cdef inline int sk_int(Scan* sc, int64_t* out) noexcept nogil:
    """A JSON integer (a number without fraction or exponent), in one pass."""
    cdef const char* p
    cdef const char* start
    cdef const char* end = sc.end
    cdef uint64_t v = 0, c, lim = <uint64_t>INT64_MAX
    cdef bint neg = False
    cdef int nd
    sk_ws(sc)
    p = sc.p
    start = p
    if p < end and p[0] == b'-':
        neg = True
        lim += 1
        p += 1
    if p >= end:
        return fail(sc, E_TRUNCATED, p)
    c = <unsigned char>p[0] - 48
    if c > 9:
        return wrong(sc) if p == start else fail(sc, E_SYNTAX, p)
    if c == 0 and p + 1 < end and p[1] >= b'0' and p[1] <= b'9':
        return fail(sc, E_SYNTAX, p)                      # leading zero
    nd = 0
    while True:                                           # < 19 digits cannot overflow
        nd += 1
        if nd == 19:
            if v > (lim - c) // 10:
                return fail(sc, E_NUMBER, start)
        elif nd > 19:
            return fail(sc, E_NUMBER, start)
        v = v * 10 + c
        p += 1
        if p >= end:
            break
        c = <unsigned char>p[0] - 48
        if c > 9:
            break
    if p < end and (p[0] == b'.' or p[0] == b'e' or p[0] == b'E'):
        return fail(sc, E_NUMBER, start)                  # a fraction where an integer belongs
    out[0] = <int64_t>(~v + 1) if neg else <int64_t>v
    sc.p = p
    return 0


cdef inline int sk_int_str(Scan* sc, int64_t* out) noexcept nogil:
    """A JSON string holding an integer ("1652459225464")."""
    cdef const char* s
    cdef Py_ssize_t n
    if sk_string(sc, &s, &n) < 0:
        return -1
    if int_text(s, n, out):
        return fail(sc, E_NUMBER, s)
    return 0


cdef inline int sk_int_any(Scan* sc, int64_t* out) noexcept nogil:
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'"':
        return sk_int_str(sc, out)
    return sk_int(sc, out)


cdef inline int sk_bool(Scan* sc, bint* out) noexcept nogil:
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == b't':
        out[0] = True
        return lit(sc, b"true")
    if sc.p < sc.end and sc.p[0] == b'f':
        out[0] = False
        return lit(sc, b"false")
    return wrong(sc)


cdef inline int dec_span_fast(const char* p, Py_ssize_t n, int decimals,
                              int64_t* out) noexcept nogil:
    """"123.4500" forms (digits, optional dot, digits; <= 18 digits, <= decimals after the dot)
    exactly, else 0 (use fx_parse)."""
    cdef const char* end = p + n
    cdef uint64_t v = 0
    cdef int nint = 0, nfrac = 0
    cdef unsigned int c
    while p < end:
        c = <unsigned char>p[0] - 48
        if c > 9:
            break
        v = v * 10 + c
        nint += 1
        p += 1
    if p < end and p[0] == b'.':
        p += 1
        while p < end:
            c = <unsigned char>p[0] - 48
            if c > 9:
                break
            v = v * 10 + c
            nfrac += 1
            p += 1
    if (p != end or nint + nfrac == 0 or nint + nfrac > 18 or nfrac > decimals
            or nint + decimals > 18):
        return 0
    out[0] = <int64_t>(v * HFX_POW10[decimals - nfrac])
    return 1


cdef inline int dec_text(Scan* sc, const char* s, Py_ssize_t n, int decimals, bint allow_neg,
                         int64_t* out) noexcept nogil:
    cdef int r
    if n > 0 and n <= 19 and decimals >= 0 and decimals <= 18 and dec_span_fast(s, n, decimals, out):
        return 0
    r = fx_parse(s, n, decimals, RND_EXACT, out)
    if r == FX_OK:
        if out[0] < 0 and not allow_neg:
            return fail(sc, E_NUMBER, s)
        return 0
    if r == FX_PRECISION:
        return fail(sc, E_PRECISION, s)
    return fail(sc, E_NUMBER, s)


cdef inline int sk_dec(Scan* sc, int decimals, int64_t* out) noexcept nogil:
    """A non-negative decimal in a JSON string ("0.35130000") -> int64 at decimals."""
    cdef const char* s
    cdef Py_ssize_t n
    cdef const char* after
    sk_ws(sc)
    if (sc.p < sc.end and sc.p[0] == b'"'
            and hft_dec_fast(sc.p + 1, sc.end, decimals, out, &after)):
        sc.p = after
        return 0
    if sk_string(sc, &s, &n) < 0:
        return -1
    return dec_text(sc, s, n, decimals, False, out)


cdef inline int sk_dec_opt(Scan* sc, int decimals, bint allow_neg, int64_t* out) noexcept nogil:
    """Like sk_dec, but "" (an absent optional value) reads as 0; signed when allow_neg."""
    cdef const char* s
    cdef Py_ssize_t n
    if sk_string(sc, &s, &n) < 0:
        return -1
    if n == 0:
        out[0] = 0
        return 0
    return dec_text(sc, s, n, decimals, allow_neg, out)


cdef inline int sk_dec_num(Scan* sc, int decimals, int64_t* out) noexcept nogil:
    """A non-negative JSON number (Kraken v2 sends numbers): its exact text -> int64."""
    cdef const char* s
    cdef Py_ssize_t n
    if sk_number(sc, &s, &n) < 0:
        return -1
    return dec_text(sc, s, n, decimals, False, out)


cdef inline int ms_to_ns(Scan* sc, int64_t ms, const char* at, int64_t* out) noexcept nogil:
    if ms < 0 or ms > INT64_MAX // 1000000:
        return fail(sc, E_NUMBER, at)
    out[0] = ms * 1000000
    return 0


cdef inline int sk_ms(Scan* sc, int64_t* out) noexcept nogil:
    """Milliseconds (JSON integer or integer string) -> ns."""
    cdef int64_t v
    cdef const char* at
    sk_ws(sc)
    at = sc.p
    if sk_int_any(sc, &v) < 0:
        return -1
    return ms_to_ns(sc, v, at, out)


cdef inline int sk_sec_text(Scan* sc, int64_t* out) noexcept nogil:
    """Seconds as decimal text ("1618678133.365913", Kraken v1) -> ns."""
    cdef const char* s
    cdef Py_ssize_t n
    cdef const char* after
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'"' and hft_sec_fast(sc.p + 1, sc.end, out, &after):
        sc.p = after
        return 0
    if sk_string(sc, &s, &n) < 0:
        return -1
    return dec_text(sc, s, n, 9, False, out)


cdef inline int digits(const char* s, int n, int* out) noexcept nogil:
    cdef int v = 0, i
    for i in range(n):
        if s[i] < b'0' or s[i] > b'9':
            return -1
        v = v * 10 + (s[i] - 48)
    out[0] = v
    return 0


cdef int iso_text(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """RFC 3339 UTC time "2021-04-17T16:43:37.075687Z" (fraction 0-9 digits; Z or +00:00)."""
    cdef int y, mo, d, h, mi, sec, i, nd
    cdef int era, yoe, mp, doy, doe
    cdef int64_t days, frac = 0
    cdef Py_ssize_t k
    if n < 20:
        return -1
    if (digits(s, 4, &y) or s[4] != b'-' or digits(s + 5, 2, &mo) or s[7] != b'-'
            or digits(s + 8, 2, &d) or (s[10] != b'T' and s[10] != b' ')
            or digits(s + 11, 2, &h) or s[13] != b':' or digits(s + 14, 2, &mi)
            or s[16] != b':' or digits(s + 17, 2, &sec)):
        return -1
    if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 or y < 1970:
        return -1
    k = 19
    if k < n and s[k] == b'.':
        k += 1
        nd = 0
        while k < n and s[k] >= b'0' and s[k] <= b'9':
            if nd < 9:
                frac = frac * 10 + (s[k] - 48)
                nd += 1
            elif s[k] != b'0':
                return -1                                 # below 1 ns: refuse to round
            k += 1
        if nd == 0:
            return -1
        for i in range(nd, 9):
            frac *= 10
    if k + 1 == n and s[k] == b'Z':
        pass
    elif k + 6 == n and memcmp(s + k, b"+00:00", 6) == 0:
        pass
    else:
        return -1
    # days from civil (proleptic Gregorian)
    if mo <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    mp = (mo + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = <int64_t>era * 146097 + doe - 719468
    out[0] = ((days * 86400 + h * 3600 + mi * 60 + sec) * 1000000000) + frac
    return 0


cdef inline int sk_iso(Scan* sc, int64_t* out) noexcept nogil:
    cdef const char* s
    cdef Py_ssize_t n
    if sk_string(sc, &s, &n) < 0:
        return -1
    if iso_text(s, n, out):
        return fail(sc, E_NUMBER, s)
    return 0


cdef inline int copy_text(Scan* sc, char* dst, Py_ssize_t cap, const char* s,
                          Py_ssize_t n) noexcept nogil:
    if n >= cap:
        return fail(sc, E_TOO_LONG, s)
    memcpy(dst, s, <size_t>n)
    dst[n] = 0
    return 0


cdef inline int sk_text(Scan* sc, char* dst, Py_ssize_t cap) noexcept nogil:
    cdef const char* s
    cdef Py_ssize_t n
    if sk_string(sc, &s, &n) < 0:
        return -1
    return copy_text(sc, dst, cap, s, n)


cdef inline int sk_text_or_null(Scan* sc, char* dst, Py_ssize_t cap) noexcept nogil:
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'n':
        dst[0] = 0
        return lit(sc, b"null")
    return sk_text(sc, dst, cap)


cdef inline int id_text(Scan* sc, const char* s, Py_ssize_t n, char* text, Py_ssize_t cap,
                        int64_t* num) noexcept nogil:
    """An id: kept as text, and as int64 when it is all digits (else -1)."""
    if copy_text(sc, text, cap, s, n) < 0:
        return -1
    if int_text(s, n, num) or num[0] < 0:
        num[0] = -1
    return 0


cdef inline int sk_id(Scan* sc, char* text, Py_ssize_t cap, int64_t* num) noexcept nogil:
    """An id sent as a JSON string or integer."""
    cdef const char* s
    cdef Py_ssize_t n
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'"':
        if sk_string(sc, &s, &n) < 0:
            return -1
    else:
        if sk_number(sc, &s, &n) < 0:
            return -1
        if int_text(s, n, num):
            return fail(sc, E_NUMBER, s)
    return id_text(sc, s, n, text, cap, num)


cdef inline int sk_trade_id(Scan* sc, int64_t* out, uint8_t* flags) noexcept nogil:
    """A trade id, JSON integer or string; non-numeric text -> -1 with TRADE_ID_TEXT."""
    cdef const char* s
    cdef Py_ssize_t n
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'"':
        if sk_string(sc, &s, &n) < 0:
            return -1
        if int_text(s, n, out) or out[0] < 0:
            out[0] = -1
            flags[0] |= TRADE_ID_TEXT
        return 0
    return sk_int(sc, out)


# ---------------------------------------------------------------------------------------------
# Symbols and records
# ---------------------------------------------------------------------------------------------

cdef inline uint64_t sym_hash(const char* s, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = 1469598103934665603ULL
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ <unsigned char>s[i]) * 1099511628211ULL
    return h


cdef SymEntry* sym_find(DecState* d, const char* s, Py_ssize_t n) noexcept nogil:
    cdef uint64_t mask, i
    cdef SymEntry* e
    if d.sym_cap == 0 or n > SYMBOL_MAX:
        return NULL
    mask = <uint64_t>d.sym_cap - 1
    i = sym_hash(s, n) & mask
    while True:
        e = &d.syms[i]
        if not e.used:
            return NULL
        if e.length == n and memcmp(e.name, s, <size_t>n) == 0:
            return e
        i = (i + 1) & mask


cdef inline SymEntry* sym_get(DecState* d, Scan* sc, const char* s, Py_ssize_t n) noexcept nogil:
    """Look a symbol up and remember its text for the message (unknown -> NULL, not an error)."""
    cdef SymEntry* e = sym_find(d, s, n)
    cdef Py_ssize_t m = n if n <= SYMBOL_MAX else SYMBOL_MAX
    memcpy(d.info.symbol, s, <size_t>m)
    d.info.symbol[m] = 0
    d.info.symbol_len = <int>m
    if e != NULL and d.info.instrument_id == 0:
        d.info.instrument_id = e.instrument_id
    return e


cdef int grow(DecState* d, void** buf, Py_ssize_t* cap, size_t item) noexcept nogil:
    cdef Py_ssize_t ncap
    cdef void* nb
    ncap = cap[0] * 2 if cap[0] > 0 else 64
    if <size_t>ncap > (<size_t>INT64_MAX) // item:
        return -1
    if d.exports > 0:
        # numpy views may point into the old buffer: copy, and retire it until they are gone
        if d.n_retired == 32:
            return -1
        nb = PyMem_RawMalloc(<size_t>ncap * item)
        if nb == NULL:
            return -1
        if cap[0] > 0:
            memcpy(nb, buf[0], <size_t>cap[0] * item)
        d.retired[d.n_retired] = buf[0]
        d.n_retired += 1
    else:
        nb = PyMem_RawRealloc(buf[0], <size_t>ncap * item)
        if nb == NULL:
            return -1
    buf[0] = nb
    cap[0] = ncap
    return 0


cdef inline BookDelta* new_delta(DecState* d, Scan* sc) noexcept nogil:
    cdef BookDelta* r
    if d.info.n_deltas == d.cap_deltas:
        if grow(d, <void**>&d.deltas, &d.cap_deltas, sizeof(BookDelta)) < 0:
            fail(sc, E_CAPACITY, sc.p)
            return NULL
    r = &d.deltas[d.info.n_deltas]
    d.info.n_deltas += 1
    return r


cdef inline TradeRecord* new_trade(DecState* d, Scan* sc) noexcept nogil:
    cdef TradeRecord* r
    if d.info.n_trades == d.cap_trades:
        if grow(d, <void**>&d.trades, &d.cap_trades, sizeof(TradeRecord)) < 0:
            fail(sc, E_CAPACITY, sc.p)
            return NULL
    r = &d.trades[d.info.n_trades]
    d.info.n_trades += 1
    memset(r, 0, sizeof(TradeRecord))
    r.local_ts = d.info.local_ts
    r.trade_id = -1
    r.side = SIDE_NONE
    return r


cdef inline BBORecord* new_bbo(DecState* d, Scan* sc) noexcept nogil:
    cdef BBORecord* r
    if d.info.n_bbos == d.cap_bbos:
        if grow(d, <void**>&d.bbos, &d.cap_bbos, sizeof(BBORecord)) < 0:
            fail(sc, E_CAPACITY, sc.p)
            return NULL
    r = &d.bbos[d.info.n_bbos]
    d.info.n_bbos += 1
    memset(r, 0, sizeof(BBORecord))
    r.local_ts = d.info.local_ts
    return r


cdef inline OrderUpdate* new_order(DecState* d, Scan* sc) noexcept nogil:
    cdef OrderUpdate* r
    if d.info.n_orders == d.cap_orders:
        if grow(d, <void**>&d.orders, &d.cap_orders, sizeof(OrderUpdate)) < 0:
            fail(sc, E_CAPACITY, sc.p)
            return NULL
    r = &d.orders[d.info.n_orders]
    d.info.n_orders += 1
    memset(r, 0, sizeof(OrderUpdate))
    r.local_ts = d.info.local_ts
    r.venue_order_id = -1
    r.trade_id = -1
    r.status = 10                                         # OrderStatus.UNKNOWN
    r.order_type = 255
    r.side = SIDE_NONE
    return r


cdef inline int put_delta(DecState* d, Scan* sc, SymEntry* sym, int side, px_t px, qty_t sz,
                          ts_t ets, int64_t seq, int flags) noexcept nogil:
    cdef BookDelta* r = new_delta(d, sc)
    if r == NULL:
        return -1
    r.exchange_ts = ets
    r.local_ts = d.info.local_ts
    r.sequence = seq
    r.price = px
    r.size = sz
    r.instrument_id = sym.instrument_id
    r.side = <uint8_t>side
    r.flags = <uint8_t>flags
    r._pad = 0
    return 0


cdef inline void finish_deltas(DecState* d, Py_ssize_t first, ts_t ets, int64_t seq,
                               bint snapshot) noexcept nogil:
    """Stamp one instrument's deltas [first, n) of a message: time, sequence, snapshot flags."""
    cdef Py_ssize_t i
    cdef BookDelta* r
    for i in range(first, d.info.n_deltas):
        r = &d.deltas[i]
        if r.exchange_ts == 0:
            r.exchange_ts = ets
        r.sequence = seq
        if snapshot:
            r.flags |= DELTA_SNAPSHOT
    if snapshot and first < d.info.n_deltas:
        d.deltas[first].flags |= DELTA_CLEAR


cdef inline int empty_snapshot(DecState* d, Scan* sc, SymEntry* sym, ts_t ets,
                               int64_t seq) noexcept nogil:
    """A snapshot with no levels still clears the book: one SIDE_NONE record of size 0."""
    return put_delta(d, sc, sym, SIDE_NONE, 0, 0, ets, seq, DELTA_SNAPSHOT | DELTA_CLEAR)


cdef inline void mark_last(DecState* d) noexcept nogil:
    if d.info.n_deltas > 0:
        d.deltas[d.info.n_deltas - 1].flags |= DELTA_LAST


cdef extern from *:
    """
    #include <string.h>
    /* The common wire decimal "123.4500" at p (just after the opening quote), exactly:
       1 with *out and *after (past the closing quote), or 0 for anything else (signs, exponents,
       more than 18 digits, more decimals than allowed, no closing quote) -- the caller then
       runs the full parser, which also reports errors. */
    static inline int hft_dec_fast(const char *p, const char *end, int decimals, int64_t *out,
                                   const char **after) {
        static const uint64_t P10[19] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL,
            1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
            100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
            1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
            1000000000000000000ULL};
        const char *lim = (end - p > 40) ? p + 40 : end;
        const char *s0 = p;
        uint64_t v = 0;
        unsigned c;
        int nint, nfrac = 0;
        while (p < lim && (c = (unsigned char)*p - 48u) <= 9) { v = v * 10 + c; p++; }
        nint = (int)(p - s0);
        if (p < lim && *p == '.') {
            const char *f0 = ++p;
            while (p < lim && (c = (unsigned char)*p - 48u) <= 9) { v = v * 10 + c; p++; }
            nfrac = (int)(p - f0);
        }
        if (p >= end || *p != '"' || nint + nfrac == 0 || nint + nfrac > 18 ||
            nfrac > decimals || decimals > 18 || nint + decimals > 18)
            return 0;
        *out = (int64_t)(v * P10[decimals - nfrac]);
        *after = p + 1;
        return 1;
    }

    /* "1618678133.365913" (seconds, up to 11 integer and 9 fractional digits, closing quote)
       -> ns; 0 to fall back. */
    static inline int hft_sec_fast(const char *p, const char *end, int64_t *out,
                                   const char **after) {
        const char *lim = (end - p > 24) ? p + 24 : end;
        const char *s0 = p;
        uint64_t sec = 0, frac = 0;
        unsigned c;
        int nf = 0;
        while (p < lim && (c = (unsigned char)*p - 48u) <= 9) { sec = sec * 10 + c; p++; }
        if (p == s0 || p - s0 > 11) return 0;
        if (p < lim && *p == '.') {
            const char *f0 = ++p;
            while (p < lim && (c = (unsigned char)*p - 48u) <= 9) { frac = frac * 10 + c; p++; }
            nf = (int)(p - f0);
            if (nf > 9) return 0;
            while (nf < 9) { frac *= 10; nf++; }
        }
        if (p >= end || *p != '"') return 0;
        *out = (int64_t)(sec * 1000000000ULL + frac);
        *after = p + 1;
        return 1;
    }
    """
    int hft_sec_fast(const char* p, const char* end, int64_t* out,
                     const char** after) noexcept nogil
    int hft_dec_fast(const char* p, const char* end, int decimals, int64_t* out,
                     const char** after) noexcept nogil


cdef inline int dec_fast(const char* p, const char* end, int decimals, int64_t* out,
                         const char** after) noexcept nogil:
    """See hft_dec_fast: the exact fast path for "123.4500" (0 means: use the full parser)."""
    return hft_dec_fast(p, end, decimals, out, after)


cdef inline int sk_dec_hot(Scan* sc, int decimals, int64_t* out) noexcept nogil:
    """sk_dec with the fast path first."""
    cdef const char* p = sc.p
    cdef const char* after
    if p < sc.end and p[0] == b'"' and dec_fast(p + 1, sc.end, decimals, out, &after):
        sc.p = after
        return 0
    return sk_dec(sc, decimals, out)


cdef int lv_pairs_slow(DecState* d, Scan* sc, SymEntry* sym, int side, int st) noexcept nogil:
    """[["price","size"], ...] with full validation and precise errors."""
    cdef int st2
    cdef int r
    cdef px_t px
    cdef qty_t sz
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        st2 = 0
        if (ar_open(sc) < 0 or ar_more(sc, &st2) < 0 or sk_dec(sc, sym.price_decimals, &px) < 0
                or ar_more(sc, &st2) < 0 or sk_dec(sc, sym.size_decimals, &sz) < 0
                or ar_end(sc, &st2) < 0):
            return -1
        if put_delta(d, sc, sym, side, px, sz, 0, 0, 0) < 0:
            return -1


cdef int lv_pairs(DecState* d, Scan* sc, SymEntry* sym, int side) noexcept nogil:
    """[["price","size"], ...] (Binance, Bybit, Coinbase snapshot).  A tight loop for compact
    well-formed levels; anything else (whitespace, escapes, errors) goes to lv_pairs_slow from
    the start of the level it could not read."""
    cdef const char* p
    cdef const char* end = sc.end
    cdef const char* lvl
    cdef const char* after
    cdef px_t px
    cdef qty_t sz
    cdef int pd = sym.price_decimals, qd = sym.size_decimals
    cdef int st = 0
    cdef bint after_comma = False
    cdef BookDelta* r
    if ar_open(sc) < 0:
        return -1
    p = sc.p
    if p < end and p[0] == b']':
        sc.p = p + 1
        return 0
    while True:
        lvl = p
        if (end - p < 7 or p[0] != b'[' or p[1] != b'"'
                or not dec_fast(p + 2, end, pd, &px, &after)):
            break
        p = after
        if end - p < 3 or p[0] != b',' or p[1] != b'"' or not dec_fast(p + 2, end, qd, &sz, &after):
            break
        p = after
        if end - p < 2 or p[0] != b']':
            break
        r = new_delta(d, sc)
        if r == NULL:
            return -1
        r.exchange_ts = 0
        r.local_ts = d.info.local_ts
        r.sequence = 0
        r.price = px
        r.size = sz
        r.instrument_id = sym.instrument_id
        r.side = <uint8_t>side
        r.flags = 0
        r._pad = 0
        st = 1
        if p[1] == b',':
            p += 2
            after_comma = True
            continue
        if p[1] == b']':
            sc.p = p + 2
            return 0
        lvl = p + 1
        after_comma = False
        break
    # not the compact form: validate and read the rest the careful way (from the comma that
    # preceded the level it could not read, when there was one)
    sc.p = lvl - 1 if after_comma else lvl
    return lv_pairs_slow(d, sc, sym, side, st)


ctypedef struct Span:
    const char* s
    Py_ssize_t n


cdef inline int sk_span(Scan* sc, Span* out) noexcept nogil:
    return sk_string(sc, &out.s, &out.n)


cdef inline int span_dec(Scan* sc, Span* v, int decimals, bint allow_neg, int64_t* out) noexcept nogil:
    """Parse a saved string span; a missing one (s == NULL) or "" reads as 0."""
    if v.s == NULL or v.n == 0:
        out[0] = 0
        return 0
    return dec_text(sc, v.s, v.n, decimals, allow_neg, out)


cdef inline bint span_eq(Span* v, const char* word) noexcept nogil:
    return v.s != NULL and keq(v.s, v.n, word)


cdef int peek_keys(Scan* sc0, const char** names, int count, Span* values,
                   uint64_t* found) noexcept nogil:
    """Scan an object's top-level keys on a copy of the scanner: `found` gets bit i when
    names[i] is present, values[i] the text of its value when that is a string.  Everything
    is validated.  Stops early when names[0] is the first key (the usual discriminator)."""
    cdef Scan c = sc0[0]
    cdef int st = 0, r, i, idx, nkeys = 0
    cdef const char* k
    cdef Py_ssize_t kn
    found[0] = 0
    for i in range(count):
        values[i].s = NULL
        values[i].n = 0
    if ob_open(&c) < 0:
        sc0.err = c.err
        sc0.err_at = c.err_at
        return -1
    while True:
        r = ob_key(&c, &st, &k, &kn)
        if r == 0:
            return 0
        if r < 0:
            break
        nkeys += 1
        idx = -1
        for i in range(count):
            if keq(k, kn, names[i]):
                idx = i
                break
        sk_ws(&c)
        if idx >= 0:
            found[0] |= (<uint64_t>1) << idx
        if idx >= 0 and c.p < c.end and c.p[0] == b'"':
            if sk_span(&c, &values[idx]) < 0:
                break
            if idx == 0 and nkeys == 1:
                return 0
        elif sk_value(&c, 1) < 0:
            break
    sc0.err = c.err
    sc0.err_at = c.err_at
    return -1


cdef inline int other(Scan* sc, int kind) noexcept nogil:
    """A recognised non-hot message: validate the rest of it and report its kind."""
    if sk_value(sc, 0) < 0:
        return -1
    return kind


cdef inline int side_word(Span* v) noexcept nogil:
    """buy/Buy/BUY/bid/b -> SIDE_BID, sell/Sell/SELL/ask/offer/s -> SIDE_ASK, else -1."""
    if v.s == NULL or v.n == 0:
        return -1
    if (keq(v.s, v.n, b"buy") or keq(v.s, v.n, b"Buy") or keq(v.s, v.n, b"BUY")
            or keq(v.s, v.n, b"bid") or keq(v.s, v.n, b"b")):
        return SIDE_BID
    if (keq(v.s, v.n, b"sell") or keq(v.s, v.n, b"Sell") or keq(v.s, v.n, b"SELL")
            or keq(v.s, v.n, b"ask") or keq(v.s, v.n, b"offer") or keq(v.s, v.n, b"s")):
        return SIDE_ASK
    return -1


cdef inline int need_side(Scan* sc, Span* v, uint8_t* out) noexcept nogil:
    cdef int r = side_word(v)
    if r < 0:
        return fail(sc, E_SHAPE if v.s != NULL else E_MISSING, v.s if v.s != NULL else sc.p)
    out[0] = <uint8_t>r
    return 0


cdef inline int missing(Scan* sc) noexcept nogil:
    return fail(sc, E_MISSING, sc.p - 1 if sc.p > sc.base else sc.p)


# ---------------------------------------------------------------------------------------------
# Binance spot
# ---------------------------------------------------------------------------------------------

cdef int bn_levels(DecState* d, Scan* sc, SymEntry* sym, int side,
                   const char** defer) noexcept nogil:
    """Parse a level array now when the symbol is known, else remember where it is."""
    sk_ws(sc)
    if sym == NULL:
        defer[0] = sc.p
        return sk_value(sc, 1)
    return lv_pairs(d, sc, sym, side)


cdef int bn_depth(DecState* d, Scan* sc) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t U = 0, u = 0, pu = -1, E = 0, T
    cdef Span s
    cdef SymEntry* sym = NULL
    cdef bint unknown = False
    cdef const char* defer_b = NULL
    cdef const char* defer_a = NULL
    cdef Scan sub
    d.info.what = b"depthUpdate"
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if kn == 1:
            if k[0] == b'b':
                if dup(sc, &seen, 0, k) < 0 or bn_levels(d, sc, sym, SIDE_BID, &defer_b) < 0:
                    return -1
                continue
            if k[0] == b'a':
                if dup(sc, &seen, 1, k) < 0 or bn_levels(d, sc, sym, SIDE_ASK, &defer_a) < 0:
                    return -1
                continue
            if k[0] == b'U':
                if dup(sc, &seen, 2, k) < 0 or sk_int(sc, &U) < 0:
                    return -1
                continue
            if k[0] == b'u':
                if dup(sc, &seen, 3, k) < 0 or sk_int(sc, &u) < 0:
                    return -1
                continue
            if k[0] == b'E':
                if dup(sc, &seen, 4, k) < 0 or sk_ms(sc, &E) < 0:
                    return -1
                continue
            if k[0] == b's':
                if dup(sc, &seen, 5, k) < 0 or sk_span(sc, &s) < 0:
                    return -1
                sym = sym_get(d, sc, s.s, s.n)
                unknown = sym == NULL
                continue
            if k[0] == b'e':
                if dup(sc, &seen, 6, k) < 0 or sk_span(sc, &s) < 0:
                    return -1
                continue
            if k[0] == b'T':                              # futures transaction time
                if dup(sc, &seen, 7, k) < 0 or sk_int(sc, &T) < 0:
                    return -1
                continue
        elif keq(k, kn, b"pu"):                           # futures: previous final update id
            if dup(sc, &seen, 8, k) < 0 or sk_int(sc, &pu) < 0:
                return -1
            continue
        if skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 0x3F) != 0x3F:
        return missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    if defer_b != NULL or defer_a != NULL:
        sub = sc[0]
        if defer_b != NULL:
            sub.p = defer_b
            if lv_pairs(d, &sub, sym, SIDE_BID) < 0:
                sc.err = sub.err
                sc.err_at = sub.err_at
                return -1
        if defer_a != NULL:
            sub.p = defer_a
            if lv_pairs(d, &sub, sym, SIDE_ASK) < 0:
                sc.err = sub.err
                sc.err_at = sub.err_at
                return -1
    finish_deltas(d, 0, E, u, False)
    mark_last(d)
    d.info.exchange_ts = E
    d.info.first_seq = U
    d.info.last_seq = u
    d.info.prev_seq = pu
    d.info.flags |= INFO_HAS_SEQ
    return K_BOOK_UPDATE


cdef int bn_trade(DecState* d, Scan* sc, bint agg) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t tid = 0, T = 0, E = 0, ignore
    cdef Span s, p, q, ev
    cdef bint m = False, M
    cdef SymEntry* sym
    cdef TradeRecord* t
    d.info.what = b"aggTrade" if agg else b"trade"
    p.s = NULL
    q.s = NULL
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if kn == 1:
            if k[0] == b'p':
                if dup(sc, &seen, 0, k) < 0 or sk_span(sc, &p) < 0:
                    return -1
                continue
            if k[0] == b'q':
                if dup(sc, &seen, 1, k) < 0 or sk_span(sc, &q) < 0:
                    return -1
                continue
            if k[0] == b's':
                if dup(sc, &seen, 2, k) < 0 or sk_span(sc, &s) < 0:
                    return -1
                continue
            if (k[0] == b'a' and agg) or (k[0] == b't' and not agg):
                if dup(sc, &seen, 3, k) < 0 or sk_int(sc, &tid) < 0:
                    return -1
                continue
            if k[0] == b'T':
                if dup(sc, &seen, 4, k) < 0 or sk_ms(sc, &T) < 0:
                    return -1
                continue
            if k[0] == b'm':
                if dup(sc, &seen, 5, k) < 0 or sk_bool(sc, &m) < 0:
                    return -1
                continue
            if k[0] == b'E':
                if dup(sc, &seen, 6, k) < 0 or sk_ms(sc, &E) < 0:
                    return -1
                continue
            if k[0] == b'e':
                if dup(sc, &seen, 7, k) < 0 or sk_span(sc, &ev) < 0:
                    return -1
                continue
            if k[0] == b'M':
                if dup(sc, &seen, 8, k) < 0 or sk_bool(sc, &M) < 0:
                    return -1
                continue
            if (k[0] == b'f' or k[0] == b'l') and agg:      # first / last trade id
                if dup(sc, &seen, 9 if k[0] == b'f' else 10, k) < 0 or sk_int(sc, &ignore) < 0:
                    return -1
                continue
            if (k[0] == b'b' or k[0] == b'a') and not agg:  # buyer / seller order ids (old)
                if dup(sc, &seen, 9 if k[0] == b'b' else 10, k) < 0 or sk_int(sc, &ignore) < 0:
                    return -1
                continue
        if skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 0x3F) != 0x3F:
        return missing(sc)
    sym = sym_get(d, sc, s.s, s.n)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    t = new_trade(d, sc)
    if t == NULL:
        return -1
    if (span_dec(sc, &p, sym.price_decimals, False, &t.price) < 0
            or span_dec(sc, &q, sym.size_decimals, False, &t.size) < 0):
        return -1
    if p.n == 0 or q.n == 0:
        return fail(sc, E_NUMBER, p.s if p.n == 0 else q.s)
    t.exchange_ts = T
    t.trade_id = tid
    t.instrument_id = sym.instrument_id
    t.side = SIDE_ASK if m else SIDE_BID             # m: the buyer was the maker
    d.info.exchange_ts = E if E else T
    return K_TRADE


cdef int bn_book_ticker(DecState* d, Scan* sc) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t u = 0, E = 0, T = 0
    cdef Span s, b, B, a, A, e
    cdef SymEntry* sym
    cdef BBORecord* o
    d.info.what = b"bookTicker"
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if kn == 1:
            if k[0] == b'b':
                if dup(sc, &seen, 0, k) < 0 or sk_span(sc, &b) < 0:
                    return -1
                continue
            if k[0] == b'B':
                if dup(sc, &seen, 1, k) < 0 or sk_span(sc, &B) < 0:
                    return -1
                continue
            if k[0] == b'a':
                if dup(sc, &seen, 2, k) < 0 or sk_span(sc, &a) < 0:
                    return -1
                continue
            if k[0] == b'A':
                if dup(sc, &seen, 3, k) < 0 or sk_span(sc, &A) < 0:
                    return -1
                continue
            if k[0] == b's':
                if dup(sc, &seen, 4, k) < 0 or sk_span(sc, &s) < 0:
                    return -1
                continue
            if k[0] == b'u':
                if dup(sc, &seen, 5, k) < 0 or sk_int(sc, &u) < 0:
                    return -1
                continue
            if k[0] == b'e':
                if dup(sc, &seen, 6, k) < 0 or sk_span(sc, &e) < 0:
                    return -1
                continue
            if k[0] == b'E':
                if dup(sc, &seen, 7, k) < 0 or sk_ms(sc, &E) < 0:
                    return -1
                continue
            if k[0] == b'T':
                if dup(sc, &seen, 8, k) < 0 or sk_ms(sc, &T) < 0:
                    return -1
                continue
        if skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 0x3F) != 0x3F:
        return missing(sc)
    sym = sym_get(d, sc, s.s, s.n)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    o = new_bbo(d, sc)
    if o == NULL:
        return -1
    if (dec_text(sc, b.s, b.n, sym.price_decimals, False, &o.bid_price) < 0
            or dec_text(sc, B.s, B.n, sym.size_decimals, False, &o.bid_size) < 0
            or dec_text(sc, a.s, a.n, sym.price_decimals, False, &o.ask_price) < 0
            or dec_text(sc, A.s, A.n, sym.size_decimals, False, &o.ask_size) < 0):
        return -1
    o.exchange_ts = T if T else E
    o.sequence = u
    o.instrument_id = sym.instrument_id
    d.info.exchange_ts = o.exchange_ts
    d.info.last_seq = u
    d.info.first_seq = u
    d.info.flags |= INFO_HAS_SEQ
    return K_BBO


cdef uint8_t status_code(Span* v) noexcept nogil:
    """Venue order-state text -> hftcore.OrderStatus code; new words -> UNKNOWN (10)."""
    if v.s == NULL:
        return 10
    if (span_eq(v, b"NEW") or span_eq(v, b"New") or span_eq(v, b"live") or span_eq(v, b"OPEN")
            or span_eq(v, b"Untriggered") or span_eq(v, b"Triggered") or span_eq(v, b"open")):
        return 2
    if span_eq(v, b"PENDING_NEW") or span_eq(v, b"PENDING") or span_eq(v, b"pending"):
        return 1
    if (span_eq(v, b"PARTIALLY_FILLED") or span_eq(v, b"PartiallyFilled")
            or span_eq(v, b"partially_filled")):
        return 3
    if span_eq(v, b"FILLED") or span_eq(v, b"Filled") or span_eq(v, b"filled"):
        return 4
    if (span_eq(v, b"PENDING_CANCEL") or span_eq(v, b"CANCEL_QUEUED")
            or span_eq(v, b"pending_cancel")):
        return 5
    if (span_eq(v, b"CANCELED") or span_eq(v, b"Cancelled") or span_eq(v, b"canceled")
            or span_eq(v, b"CANCELLED") or span_eq(v, b"PartiallyFilledCanceled")
            or span_eq(v, b"Deactivated") or span_eq(v, b"mmp_canceled")):
        return 7
    if (span_eq(v, b"REJECTED") or span_eq(v, b"Rejected") or span_eq(v, b"FAILED")
            or span_eq(v, b"rejected")):
        return 8
    if span_eq(v, b"EXPIRED") or span_eq(v, b"EXPIRED_IN_MATCH") or span_eq(v, b"expired"):
        return 9
    return 10


cdef uint8_t order_type_code(Span* v) noexcept nogil:
    """Venue order-type text -> hftcore.OrderType code; unknown -> 255."""
    if v.s == NULL:
        return 255
    if (span_eq(v, b"LIMIT") or span_eq(v, b"Limit") or span_eq(v, b"limit")
            or span_eq(v, b"fok") or span_eq(v, b"ioc") or span_eq(v, b"optimal_limit_ioc")):
        return 0
    if span_eq(v, b"MARKET") or span_eq(v, b"Market") or span_eq(v, b"market"):
        return 1
    if span_eq(v, b"STOP_LOSS") or span_eq(v, b"TAKE_PROFIT") or span_eq(v, b"STOP"):
        return 2
    if (span_eq(v, b"STOP_LOSS_LIMIT") or span_eq(v, b"TAKE_PROFIT_LIMIT")
            or span_eq(v, b"STOP_LIMIT")):
        return 3
    if span_eq(v, b"LIMIT_MAKER") or span_eq(v, b"post_only"):
        return 4
    return 255


cdef int bn_exec(DecState* d, Scan* sc) noexcept nogil:
    cdef int st = 0, r, i
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t E = 0, T = 0, oid = 0, tid = -1
    cdef Span v[14]
    cdef bint maker = False, bv
    cdef SymEntry* sym
    cdef OrderUpdate* o
    # string fields: 0 s, 1 c, 2 S, 3 o, 4 q, 5 p, 6 x, 7 X, 8 l, 9 z, 10 L, 11 n, 12 N, 13 C
    cdef const char* names = b"scSoqpxXlzLnNC"
    d.info.what = b"executionReport"
    for i in range(14):
        v[i].s = NULL
        v[i].n = 0
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if kn == 1:
            for i in range(14):
                if k[0] == names[i]:
                    break
            else:
                i = -1
            if i >= 0:
                if dup(sc, &seen, i, k) < 0:
                    return -1
                if i == 12:
                    sk_ws(sc)
                    if sc.p < sc.end and sc.p[0] == b'n':
                        if lit(sc, b"null") < 0:
                            return -1
                        continue
                if sk_span(sc, &v[i]) < 0:
                    return -1
                continue
            if k[0] == b'E':
                if dup(sc, &seen, 20, k) < 0 or sk_ms(sc, &E) < 0:
                    return -1
                continue
            if k[0] == b'T':
                if dup(sc, &seen, 21, k) < 0 or sk_ms(sc, &T) < 0:
                    return -1
                continue
            if k[0] == b'i':
                if dup(sc, &seen, 22, k) < 0 or sk_int(sc, &oid) < 0:
                    return -1
                continue
            if k[0] == b't':
                if dup(sc, &seen, 23, k) < 0 or sk_int(sc, &tid) < 0:
                    return -1
                continue
            if k[0] == b'm':
                if dup(sc, &seen, 24, k) < 0 or sk_bool(sc, &maker) < 0:
                    return -1
                continue
            if k[0] == b'w' or k[0] == b'M':
                if dup(sc, &seen, 25 if k[0] == b'w' else 26, k) < 0 or sk_bool(sc, &bv) < 0:
                    return -1
                continue
        if sk_value(sc, 1) < 0:                           # many optional fields: skipped
            return -1
    # required: s c S o q p x X l z L, E i
    if (seen & 0x7FF) != 0x7FF or not (seen >> 20) & 1 or not (seen >> 22) & 1:
        return missing(sc)
    sym = sym_get(d, sc, v[0].s, v[0].n)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    o = new_order(d, sc)
    if o == NULL:
        return -1
    if need_side(sc, &v[2], &o.side) < 0:
        return -1
    if (span_dec(sc, &v[5], sym.price_decimals, False, &o.price) < 0
            or span_dec(sc, &v[4], sym.size_decimals, False, &o.size) < 0
            or span_dec(sc, &v[9], sym.size_decimals, False, &o.filled_size) < 0
            or span_dec(sc, &v[10], sym.price_decimals, False, &o.last_fill_price) < 0
            or span_dec(sc, &v[8], sym.size_decimals, False, &o.last_fill_size) < 0
            or span_dec(sc, &v[11], d.fee_decimals, True, &o.fee) < 0):
        return -1
    # a cancel reports the canceled order's client id in "C"
    if v[13].s != NULL and v[13].n > 0:
        if copy_text(sc, o.client_order_id, 48, v[13].s, v[13].n) < 0:
            return -1
    elif copy_text(sc, o.client_order_id, 48, v[1].s, v[1].n) < 0:
        return -1
    if v[12].s != NULL:
        if copy_text(sc, o.fee_asset, 16, v[12].s, v[12].n) < 0:
            return -1
        o.flags |= ORDER_HAS_FEE
    o.venue_order_id = oid
    r = 0
    while oid > 0 or r == 0:                              # numeric id as text too
        r += 1
        oid //= 10
    oid = o.venue_order_id
    for i in range(r - 1, -1, -1):
        o.venue_order_id_text[i] = <char>(48 + oid % 10)
        oid //= 10
    o.venue_order_id_text[r] = 0
    o.status = status_code(&v[7])
    o.order_type = order_type_code(&v[3])
    if span_eq(&v[6], b"TRADE"):
        o.flags |= ORDER_IS_FILL
        o.trade_id = tid
        if maker:
            o.flags |= ORDER_IS_MAKER
    o.exchange_ts = E
    o.transact_ts = T
    o.instrument_id = sym.instrument_id
    d.info.exchange_ts = E
    return K_ORDER


cdef int bn_event(DecState* d, Scan* sc) noexcept nogil:
    """One Binance event object (bare, or the value of "data" / "event")."""
    cdef const char* names[7]
    cdef Span vals[7]
    cdef uint64_t found
    cdef Span* e = &vals[0]
    names[0] = b"e"
    names[1] = b"B"
    names[2] = b"lastUpdateId"
    names[3] = b"result"
    names[4] = b"error"
    names[5] = b"code"
    names[6] = b"u"
    sk_ws(sc)
    if sc.p >= sc.end or sc.p[0] != b'{':
        if sc.p < sc.end and sc.p[0] == b'[':
            if sk_value(sc, 0) < 0:
                return -1
            return fail(sc, E_SHAPE, sc.base)
        return wrong(sc)
    if sc.end - sc.p > 6 and memcmp(sc.p, b'{"e":"', 6) == 0:
        # the usual form: the event name first
        e.s = sc.p + 6
        e.n = 0
        while e.s + e.n < sc.end and e.s[e.n] != b'"' and e.s[e.n] != b'\\':
            e.n += 1
        if e.s + e.n < sc.end and e.s[e.n] == b'"':
            found = 1
        elif peek_keys(sc, names, 7, vals, &found) < 0:
            return -1
    elif peek_keys(sc, names, 7, vals, &found) < 0:
        return -1
    if found & 1:
        if e.s == NULL:
            return fail(sc, E_TYPE, sc.p)
        if keq(e.s, e.n, b"depthUpdate"):
            return bn_depth(d, sc)
        if keq(e.s, e.n, b"trade"):
            return bn_trade(d, sc, False)
        if keq(e.s, e.n, b"aggTrade"):
            return bn_trade(d, sc, True)
        if keq(e.s, e.n, b"bookTicker"):
            return bn_book_ticker(d, sc)
        if keq(e.s, e.n, b"executionReport"):
            return bn_exec(d, sc)
        d.info.what = b"event"
        return other(sc, K_OTHER)                         # kline, 24hrTicker, account events...
    if (found & 2) and (found & 64):
        return bn_book_ticker(d, sc)
    if found & 4:
        d.info.what = b"depth snapshot"
        if sk_value(sc, 0) < 0:
            return -1
        return fail(sc, E_NEEDS_SYMBOL, sc.base)
    if found & (16 | 32):
        d.info.what = b"error"
        return other(sc, K_VENUE_ERROR)
    if found & 8:
        d.info.what = b"response"
        return other(sc, K_SUBSCRIBED)
    if sk_value(sc, 0) < 0:
        return -1
    return fail(sc, E_SHAPE, sc.base)


# -- Binance templates: the documented compact key order, read straight through -------------
# Each returns the kind, -1 on a genuine error (the same one the generic path would report), or
# -2 when the message is not in exactly this form; the caller then resets and runs the generic,
# order-independent path.  Every value is still fully validated.

cdef extern from *:
    """
    /* A literal at *pp: always inlined so that memcmp of a constant length becomes a few
       compares. */
    static inline __attribute__((always_inline)) int hft_lit(const char **pp, const char *end,
                                                             const char *w, Py_ssize_t n) {
        if (end - *pp >= n && memcmp(*pp, w, (size_t)n) == 0) { *pp += n; return 1; }
        return 0;
    }
    """
    bint fl "hft_lit"(const char** pp, const char* end, const char* word, Py_ssize_t n) noexcept nogil


cdef inline bint f_int(const char** pp, const char* end, int64_t* out) noexcept nogil:
    """Non-negative JSON integer of 1-18 digits, no leading zero, not followed by . e E."""
    cdef const char* p = pp[0]
    cdef const char* start = p
    cdef uint64_t v = 0
    cdef unsigned int c
    while p < end:
        c = <unsigned char>p[0] - 48
        if c > 9:
            break
        v = v * 10 + c
        p += 1
    if p == start or p - start > 18 or p >= end or (start[0] == b'0' and p - start > 1):
        return False
    if p[0] == b'.' or p[0] == b'e' or p[0] == b'E':
        return False
    out[0] = <int64_t>v
    pp[0] = p
    return True


cdef inline bint f_ms(const char** pp, const char* end, int64_t* out) noexcept nogil:
    cdef int64_t v
    if not f_int(pp, end, &v) or v > INT64_MAX // 1000000:
        return False
    out[0] = v * 1000000
    return True


cdef inline bint f_str(const char** pp, const char* end, Span* out) noexcept nogil:
    """String contents after an opening quote already matched; consumes the closing quote."""
    cdef const char* p = pp[0]
    while p < end and not HFT_STR_STOP[<unsigned char>p[0]]:
        p += 1
    if p >= end or p[0] != b'"':
        return False
    out.s = pp[0]
    out.n = p - pp[0]
    pp[0] = p + 1
    return True


cdef inline bint f_dec(const char** pp, const char* end, int decimals, int64_t* out) noexcept nogil:
    """Decimal string contents after the opening quote; consumes the closing quote."""
    cdef const char* after
    if dec_fast(pp[0], end, decimals, out, &after):
        pp[0] = after
        return True
    return False


cdef inline bint f_bool(const char** pp, const char* end, bint* out) noexcept nogil:
    if fl(pp, end, b"true", 4):
        out[0] = True
        return True
    if fl(pp, end, b"false", 5):
        out[0] = False
        return True
    return False


cdef int bn_fast_trade(DecState* d, Scan* sc, const char** pp, bint agg) noexcept nogil:
    cdef const char* p = pp[0]
    cdef const char* end = sc.end
    cdef int64_t E, tid, T, x
    cdef Span sy
    cdef SymEntry* sym
    cdef TradeRecord* t
    cdef bint m, M
    cdef px_t px
    cdef qty_t sz
    if not f_ms(&p, end, &E) or not fl(&p, end, b',"s":"', 6) or not f_str(&p, end, &sy):
        return -2
    if not fl(&p, end, b',"a":' if agg else b',"t":', 5) or not f_int(&p, end, &tid):
        return -2
    sym = sym_find(d, sy.s, sy.n)
    if sym == NULL:
        return -2
    if (not fl(&p, end, b',"p":"', 6) or not f_dec(&p, end, sym.price_decimals, &px)
            or not fl(&p, end, b',"q":"', 6) or not f_dec(&p, end, sym.size_decimals, &sz)):
        return -2
    if agg:
        if (not fl(&p, end, b',"f":', 5) or not f_int(&p, end, &x) or not fl(&p, end, b',"l":', 5)
                or not f_int(&p, end, &x)):
            return -2
    elif fl(&p, end, b',"b":', 5):
        if not f_int(&p, end, &x) or not fl(&p, end, b',"a":', 5) or not f_int(&p, end, &x):
            return -2
    if (not fl(&p, end, b',"T":', 5) or not f_ms(&p, end, &T) or not fl(&p, end, b',"m":', 5)
            or not f_bool(&p, end, &m) or not fl(&p, end, b',"M":', 5) or not f_bool(&p, end, &M)
            or not fl(&p, end, b"}", 1)):
        return -2
    sym_get(d, sc, sy.s, sy.n)
    t = new_trade(d, sc)
    if t == NULL:
        return -1
    t.price = px
    t.size = sz
    t.exchange_ts = T
    t.trade_id = tid
    t.instrument_id = sym.instrument_id
    t.side = SIDE_ASK if m else SIDE_BID
    d.info.exchange_ts = E
    d.info.what = b"aggTrade" if agg else b"trade"
    pp[0] = p
    return K_TRADE


cdef int bn_fast_depth(DecState* d, Scan* sc, const char** pp) noexcept nogil:
    cdef const char* p = pp[0]
    cdef const char* end = sc.end
    cdef int64_t E, U, u
    cdef Span sy
    cdef SymEntry* sym
    if (not f_ms(&p, end, &E) or not fl(&p, end, b',"s":"', 6) or not f_str(&p, end, &sy)
            or not fl(&p, end, b',"U":', 5) or not f_int(&p, end, &U) or not fl(&p, end, b',"u":', 5)
            or not f_int(&p, end, &u) or not fl(&p, end, b',"b":', 5)):
        return -2
    sym = sym_find(d, sy.s, sy.n)
    if sym == NULL:
        return -2
    d.info.what = b"depthUpdate"
    sc.p = p
    if lv_pairs(d, sc, sym, SIDE_BID) < 0:
        return -1
    p = sc.p
    if not fl(&p, end, b',"a":', 5):
        return -2
    sc.p = p
    if lv_pairs(d, sc, sym, SIDE_ASK) < 0:
        return -1
    p = sc.p
    if not fl(&p, end, b"}", 1):
        return -2
    sym_get(d, sc, sy.s, sy.n)
    finish_deltas(d, 0, E, u, False)
    mark_last(d)
    d.info.exchange_ts = E
    d.info.first_seq = U
    d.info.last_seq = u
    d.info.prev_seq = -1
    d.info.flags |= INFO_HAS_SEQ
    pp[0] = p
    return K_BOOK_UPDATE


cdef int bn_fast_ticker(DecState* d, Scan* sc, const char** pp) noexcept nogil:
    cdef const char* p = pp[0]
    cdef const char* end = sc.end
    cdef int64_t u
    cdef Span sy
    cdef SymEntry* sym
    cdef BBORecord* o
    cdef px_t bp, ap
    cdef qty_t bs, as_
    if not f_int(&p, end, &u) or not fl(&p, end, b',"s":"', 6) or not f_str(&p, end, &sy):
        return -2
    sym = sym_find(d, sy.s, sy.n)
    if sym == NULL:
        return -2
    if (not fl(&p, end, b',"b":"', 6) or not f_dec(&p, end, sym.price_decimals, &bp)
            or not fl(&p, end, b',"B":"', 6) or not f_dec(&p, end, sym.size_decimals, &bs)
            or not fl(&p, end, b',"a":"', 6) or not f_dec(&p, end, sym.price_decimals, &ap)
            or not fl(&p, end, b',"A":"', 6) or not f_dec(&p, end, sym.size_decimals, &as_)
            or not fl(&p, end, b"}", 1)):
        return -2
    sym_get(d, sc, sy.s, sy.n)
    o = new_bbo(d, sc)
    if o == NULL:
        return -1
    o.bid_price = bp
    o.bid_size = bs
    o.ask_price = ap
    o.ask_size = as_
    o.sequence = u
    o.instrument_id = sym.instrument_id
    d.info.what = b"bookTicker"
    d.info.first_seq = u
    d.info.last_seq = u
    d.info.flags |= INFO_HAS_SEQ
    pp[0] = p
    return K_BBO


cdef int bn_fast_event(DecState* d, Scan* sc, const char** pp) noexcept nogil:
    if fl(pp, sc.end, b'{"e":"depthUpdate","E":', 23):
        return bn_fast_depth(d, sc, pp)
    if fl(pp, sc.end, b'{"e":"trade","E":', 17):
        return bn_fast_trade(d, sc, pp, False)
    if fl(pp, sc.end, b'{"e":"aggTrade","E":', 20):
        return bn_fast_trade(d, sc, pp, True)
    if fl(pp, sc.end, b'{"u":', 5):
        return bn_fast_ticker(d, sc, pp)
    return -2


cdef int bn_fast(DecState* d, Scan* sc) noexcept nogil:
    """Templates for bare events and the combined-stream wrapper."""
    cdef const char* p = sc.p
    cdef Span st
    cdef int r
    if fl(&p, sc.end, b'{"stream":"', 11):
        if not f_str(&p, sc.end, &st) or not fl(&p, sc.end, b',"data":', 8):
            return -2
        r = bn_fast_event(d, sc, &p)
        if r < 0:
            return r
        if not fl(&p, sc.end, b"}", 1):
            return -2
    else:
        r = bn_fast_event(d, sc, &p)
        if r < 0:
            return r
    sc.p = p
    return r


cdef inline void reset_message(DecState* d) noexcept nogil:
    d.info.n_deltas = 0
    d.info.n_trades = 0
    d.info.n_bbos = 0
    d.info.n_orders = 0
    d.info.instrument_id = 0
    d.info.flags = 0
    d.info.exchange_ts = 0


cdef int bn_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* obj
    cdef const char* k
    cdef Py_ssize_t kn
    cdef int st = 0, r, kind = -2
    cdef uint64_t seen = 0
    cdef Span s
    cdef int64_t sid
    r = bn_fast(d, sc)
    if r >= 0 or r == -1:
        return r
    reset_message(d)
    sk_ws(sc)
    obj = sc.p
    if ob_open(sc) < 0:
        if sc.p < sc.end and sc.p[0] == b'[':
            sc.err = 0
            if sk_value(sc, 0) < 0:
                return -1
            return fail(sc, E_SHAPE, sc.base)
        return -1
    r = ob_key(sc, &st, &k, &kn)
    if r < 0:
        return -1
    if r == 0 or not (keq(k, kn, b"stream") or keq(k, kn, b"data")
                      or keq(k, kn, b"subscriptionId") or keq(k, kn, b"event")):
        sc.p = obj
        return bn_event(d, sc)
    while True:                                           # {"stream":..,"data":..} wrappers
        if keq(k, kn, b"stream"):
            if dup(sc, &seen, 0, k) < 0 or sk_span(sc, &s) < 0:
                return -1
        elif keq(k, kn, b"subscriptionId"):
            if dup(sc, &seen, 1, k) < 0 or sk_int(sc, &sid) < 0:
                return -1
        elif keq(k, kn, b"data") or keq(k, kn, b"event"):
            if dup(sc, &seen, 2, k) < 0:
                return -1
            kind = bn_event(d, sc)
            if kind < 0:
                return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
    if kind == -2:
        d.info.what = b"wrapper"
        return missing(sc)
    return kind


cdef int bn_snapshot(DecState* d, Scan* sc, SymEntry* sym) noexcept nogil:
    """REST GET /api/v3/depth: {"lastUpdateId":..,"bids":[..],"asks":[..]}."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t last = 0
    d.info.what = b"depth snapshot"
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"lastUpdateId"):
            if dup(sc, &seen, 0, k) < 0 or sk_int(sc, &last) < 0:
                return -1
        elif keq(k, kn, b"bids"):
            if dup(sc, &seen, 1, k) < 0 or lv_pairs(d, sc, sym, SIDE_BID) < 0:
                return -1
        elif keq(k, kn, b"asks"):
            if dup(sc, &seen, 2, k) < 0 or lv_pairs(d, sc, sym, SIDE_ASK) < 0:
                return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if seen != 7:
        return missing(sc)
    if d.info.n_deltas == 0 and empty_snapshot(d, sc, sym, 0, last) < 0:
        return -1
    finish_deltas(d, 0, 0, last, True)
    mark_last(d)
    d.info.instrument_id = sym.instrument_id
    d.info.first_seq = last
    d.info.last_seq = last
    d.info.flags |= INFO_HAS_SEQ
    return K_BOOK_SNAPSHOT


# ---------------------------------------------------------------------------------------------
# Shared helpers for object-per-record messages
# ---------------------------------------------------------------------------------------------

cdef enum:
    MAXF = 24

cdef int collect(DecState* d, Scan* sc, const char** names, int count, Span* v,
                 uint64_t* found) noexcept nogil:
    """Read one object: v[i] gets the raw text of names[i]'s value (a string's contents, or the
    literal text of a number / true / false; null leaves it empty); other keys are validated and
    skipped (errors in strict mode).  Duplicates are errors."""
    cdef int st = 0, r, i, idx
    cdef const char* k
    cdef const char* start
    cdef Py_ssize_t kn
    found[0] = 0
    for i in range(count):
        v[i].s = NULL
        v[i].n = 0
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            return 0
        if r < 0:
            return -1
        idx = -1
        for i in range(count):
            if keq(k, kn, names[i]):
                idx = i
                break
        if idx < 0:
            if skip_unknown(d, sc, k) < 0:
                return -1
            continue
        if dup(sc, found, idx, k) < 0:
            return -1
        sk_ws(sc)
        if sc.p < sc.end and sc.p[0] == b'"':
            if sk_span(sc, &v[idx]) < 0:
                return -1
        elif sc.p < sc.end and sc.p[0] == b'n':
            if lit(sc, b"null") < 0:
                return -1
        else:
            start = sc.p
            if sk_value(sc, 1) < 0:
                return -1
            v[idx].s = start
            v[idx].n = sc.p - start


cdef inline int need(Scan* sc, uint64_t found, uint64_t mask) noexcept nogil:
    if (found & mask) != mask:
        return missing(sc)
    return 0


cdef inline int v_dec(Scan* sc, Span* v, int decimals, int64_t* out) noexcept nogil:
    """A required non-negative decimal field."""
    if v.s == NULL or v.n == 0:
        return fail(sc, E_MISSING if v.s == NULL else E_NUMBER, v.s if v.s != NULL else sc.p)
    return dec_text(sc, v.s, v.n, decimals, False, out)


cdef inline int v_int(Scan* sc, Span* v, int64_t* out) noexcept nogil:
    if v.s == NULL:
        return missing(sc)
    if int_text(v.s, v.n, out):
        return fail(sc, E_NUMBER, v.s)
    return 0


cdef inline int v_ms(Scan* sc, Span* v, int64_t* out) noexcept nogil:
    cdef int64_t ms
    if v_int(sc, v, &ms) < 0:
        return -1
    return ms_to_ns(sc, ms, v.s, out)


cdef inline int v_iso(Scan* sc, Span* v, int64_t* out) noexcept nogil:
    if v.s == NULL:
        return missing(sc)
    if iso_text(v.s, v.n, out):
        return fail(sc, E_NUMBER, v.s)
    return 0


cdef inline int v_bool(Scan* sc, Span* v, bint* out) noexcept nogil:
    if v.s == NULL:
        out[0] = False
        return 0
    if keq(v.s, v.n, b"true"):
        out[0] = True
    elif keq(v.s, v.n, b"false"):
        out[0] = False
    else:
        return fail(sc, E_TYPE, v.s)
    return 0


cdef inline int v_trade_id(Scan* sc, Span* v, int64_t* out, uint8_t* flags) noexcept nogil:
    if v.s == NULL:
        return missing(sc)
    if int_text(v.s, v.n, out) or out[0] < 0:
        out[0] = -1
        flags[0] |= TRADE_ID_TEXT
    return 0


cdef inline int v_text(Scan* sc, Span* v, char* dst, Py_ssize_t cap) noexcept nogil:
    if v.s == NULL:
        dst[0] = 0
        return 0
    return copy_text(sc, dst, cap, v.s, v.n)


cdef inline int sub_scan(Scan* sc, Scan* sub, const char* at) noexcept nogil:
    sub[0] = sc[0]
    sub.p = at
    return 0


cdef inline int lift(Scan* sc, Scan* sub) noexcept nogil:
    sc.err = sub.err
    sc.err_at = sub.err_at
    return -1


cdef inline int starts(Span* v, const char* prefix) noexcept nogil:
    cdef Py_ssize_t n = <Py_ssize_t>strlen(prefix)
    return v.s != NULL and v.n >= n and memcmp(v.s, prefix, <size_t>n) == 0


# ---------------------------------------------------------------------------------------------
# Bybit v5
# ---------------------------------------------------------------------------------------------

cdef int by_book_data(DecState* d, Scan* sc, SymEntry** symp, int64_t* u, int64_t* seq) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef Span s
    cdef SymEntry* sym = NULL
    cdef bint unknown = False
    cdef const char* defer_b = NULL
    cdef const char* defer_a = NULL
    cdef Scan sub
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"b"):
            if dup(sc, &seen, 0, k) < 0 or bn_levels(d, sc, sym, SIDE_BID, &defer_b) < 0:
                return -1
        elif keq(k, kn, b"a"):
            if dup(sc, &seen, 1, k) < 0 or bn_levels(d, sc, sym, SIDE_ASK, &defer_a) < 0:
                return -1
        elif keq(k, kn, b"s"):
            if dup(sc, &seen, 2, k) < 0 or sk_span(sc, &s) < 0:
                return -1
            sym = sym_get(d, sc, s.s, s.n)
            unknown = sym == NULL
        elif keq(k, kn, b"u"):
            if dup(sc, &seen, 3, k) < 0 or sk_int(sc, u) < 0:
                return -1
        elif keq(k, kn, b"seq"):
            if dup(sc, &seen, 4, k) < 0 or sk_int(sc, seq) < 0:
                return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 0xF) != 0xF:
        return missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    if defer_b != NULL:
        sub_scan(sc, &sub, defer_b)
        if lv_pairs(d, &sub, sym, SIDE_BID) < 0:
            return lift(sc, &sub)
    if defer_a != NULL:
        sub_scan(sc, &sub, defer_a)
        if lv_pairs(d, &sub, sym, SIDE_ASK) < 0:
            return lift(sc, &sub)
    symp[0] = sym
    return 0


cdef int by_book(DecState* d, Scan* sc) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef Span typ, topic
    cdef int64_t ts = 0, cts = 0, u = 0, seq = 0
    cdef SymEntry* sym = NULL
    cdef bint snap
    d.info.what = b"orderbook"
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"topic"):
            if dup(sc, &seen, 0, k) < 0 or sk_span(sc, &topic) < 0:
                return -1
        elif keq(k, kn, b"type"):
            if dup(sc, &seen, 1, k) < 0 or sk_span(sc, &typ) < 0:
                return -1
        elif keq(k, kn, b"ts"):
            if dup(sc, &seen, 2, k) < 0 or sk_ms(sc, &ts) < 0:
                return -1
        elif keq(k, kn, b"data"):
            if dup(sc, &seen, 3, k) < 0:
                return -1
            r = by_book_data(d, sc, &sym, &u, &seq)
            if r < 0:
                return -1
            if r == K_UNKNOWN_SYMBOL:
                sym = NULL
        elif keq(k, kn, b"cts"):
            if dup(sc, &seen, 4, k) < 0 or sk_ms(sc, &cts) < 0:
                return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 0xF) != 0xF:
        return missing(sc)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    if span_eq(&typ, b"snapshot"):
        snap = True
    elif span_eq(&typ, b"delta"):
        snap = False
    else:
        return fail(sc, E_SHAPE, typ.s)
    if snap and d.info.n_deltas == 0 and empty_snapshot(d, sc, sym, ts, u) < 0:
        return -1
    finish_deltas(d, 0, ts, u, snap)
    mark_last(d)
    d.info.exchange_ts = ts
    d.info.first_seq = u
    d.info.last_seq = u
    d.info.cross_seq = seq
    d.info.flags |= INFO_HAS_SEQ
    return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE


cdef int by_trades(DecState* d, Scan* sc) noexcept nogil:
    cdef int st = 0, r, ast
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0, f
    cdef int64_t ts = 0
    cdef Span v[6]
    cdef const char* names[6]
    cdef bint unknown = False
    cdef SymEntry* sym
    cdef TradeRecord* t
    names[0] = b"s"
    names[1] = b"p"
    names[2] = b"v"
    names[3] = b"S"
    names[4] = b"T"
    names[5] = b"i"
    d.info.what = b"publicTrade"
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"data"):
            if dup(sc, &seen, 0, k) < 0 or ar_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = ar_next(sc, &ast)
                if r == 0:
                    break
                if r < 0 or collect(d, sc, names, 6, v, &f) < 0 or need(sc, f, 0x3F) < 0:
                    return -1
                sym = sym_get(d, sc, v[0].s, v[0].n)
                if sym == NULL:
                    unknown = True
                    continue
                t = new_trade(d, sc)
                if (t == NULL or v_dec(sc, &v[1], sym.price_decimals, &t.price) < 0
                        or v_dec(sc, &v[2], sym.size_decimals, &t.size) < 0
                        or need_side(sc, &v[3], &t.side) < 0
                        or v_ms(sc, &v[4], &t.exchange_ts) < 0
                        or v_trade_id(sc, &v[5], &t.trade_id, &t.flags) < 0):
                    return -1
                t.instrument_id = sym.instrument_id
        elif keq(k, kn, b"ts"):
            if dup(sc, &seen, 1, k) < 0 or sk_ms(sc, &ts) < 0:
                return -1
        elif keq(k, kn, b"topic") or keq(k, kn, b"type"):
            if sk_value(sc, 1) < 0:
                return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    d.info.exchange_ts = ts
    return K_TRADE


cdef int by_orders(DecState* d, Scan* sc, bint execution) noexcept nogil:
    cdef int st = 0, r, ast
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0, f
    cdef int64_t ts = 0, oq, leaves
    cdef Span v[16]
    cdef const char* names[16]
    cdef bint unknown = False, maker
    cdef SymEntry* sym
    cdef OrderUpdate* o
    # 0 symbol 1 orderId 2 orderLinkId 3 side 4 orderType 5 price/orderPrice 6 qty/orderQty
    # 7 orderStatus/leavesQty 8 cumExecQty/execQty 9 avgPrice/execPrice 10 cumExecFee/execFee
    # 11 updatedTime/execTime 12 feeCurrency 13 -/execId 14 -/isMaker
    names[0] = b"symbol"
    names[1] = b"orderId"
    names[2] = b"orderLinkId"
    names[3] = b"side"
    names[4] = b"orderType"
    if execution:
        names[5] = b"orderPrice"
        names[6] = b"orderQty"
        names[7] = b"leavesQty"
        names[8] = b"execQty"
        names[9] = b"execPrice"
        names[10] = b"execFee"
        names[11] = b"execTime"
    else:
        names[5] = b"price"
        names[6] = b"qty"
        names[7] = b"orderStatus"
        names[8] = b"cumExecQty"
        names[9] = b"avgPrice"
        names[10] = b"cumExecFee"
        names[11] = b"updatedTime"
    names[12] = b"feeCurrency"
    names[13] = b"execId"
    names[14] = b"isMaker"
    d.info.what = b"execution" if execution else b"order"
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"data"):
            if dup(sc, &seen, 0, k) < 0 or ar_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = ar_next(sc, &ast)
                if r == 0:
                    break
                if r < 0 or collect(d, sc, names, 15, v, &f) < 0:
                    return -1
                if need(sc, f, 0x2FFF if execution else 0xFFF) < 0:
                    return -1
                sym = sym_get(d, sc, v[0].s, v[0].n)
                if sym == NULL:
                    unknown = True
                    continue
                o = new_order(d, sc)
                if (o == NULL or need_side(sc, &v[3], &o.side) < 0
                        or id_text(sc, v[1].s, v[1].n, o.venue_order_id_text, 48,
                                   &o.venue_order_id) < 0
                        or v_text(sc, &v[2], o.client_order_id, 48) < 0
                        or span_dec(sc, &v[5], sym.price_decimals, False, &o.price) < 0
                        or span_dec(sc, &v[6], sym.size_decimals, False, &o.size) < 0
                        or span_dec(sc, &v[10], d.fee_decimals, True, &o.fee) < 0
                        or v_ms(sc, &v[11], &o.transact_ts) < 0
                        or v_text(sc, &v[12], o.fee_asset, 16) < 0):
                    return -1
                o.order_type = order_type_code(&v[4])
                o.instrument_id = sym.instrument_id
                o.flags |= ORDER_HAS_FEE
                if execution:
                    if (span_dec(sc, &v[7], sym.size_decimals, False, &leaves) < 0
                            or span_dec(sc, &v[8], sym.size_decimals, False, &o.last_fill_size) < 0
                            or span_dec(sc, &v[9], sym.price_decimals, False, &o.last_fill_price) < 0
                            or v_text(sc, &v[13], o.trade_id_text, 48) < 0
                            or v_bool(sc, &v[14], &maker) < 0):
                        return -1
                    if int_text(v[13].s, v[13].n, &o.trade_id) or o.trade_id < 0:
                        o.trade_id = -1
                        o.flags |= ORDER_TRADE_ID_TEXT
                    o.filled_size = o.size - leaves if o.size >= leaves else 0
                    o.status = 3 if leaves > 0 else 4
                    o.flags |= ORDER_IS_FILL
                    if maker:
                        o.flags |= ORDER_IS_MAKER
                else:
                    if (span_dec(sc, &v[8], sym.size_decimals, False, &o.filled_size) < 0
                            or span_dec(sc, &v[9], sym.price_decimals, False, &o.avg_price) < 0):
                        return -1
                    o.status = status_code(&v[7])
                o.exchange_ts = o.transact_ts
        elif keq(k, kn, b"creationTime"):
            if dup(sc, &seen, 1, k) < 0 or sk_ms(sc, &ts) < 0:
                return -1
        elif keq(k, kn, b"topic") or keq(k, kn, b"id"):
            if sk_value(sc, 1) < 0:
                return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    d.info.exchange_ts = ts
    return K_ORDER


cdef int by_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[4]
    cdef Span v[4]
    cdef uint64_t found
    cdef Span* topic = &v[0]
    names[0] = b"topic"
    names[1] = b"op"
    names[2] = b"ret_msg"
    names[3] = b"success"
    sk_ws(sc)
    if sc.p >= sc.end or sc.p[0] != b'{':
        if sk_value(sc, 0) < 0:
            return -1
        return fail(sc, E_SHAPE, sc.base)
    if peek_keys(sc, names, 4, v, &found) < 0:
        return -1
    if found & 1:
        if topic.s == NULL:
            return fail(sc, E_TYPE, sc.p)
        if starts(topic, b"orderbook."):
            return by_book(d, sc)
        if starts(topic, b"publicTrade.") or starts(topic, b"trade."):
            return by_trades(d, sc)
        if span_eq(topic, b"order") or starts(topic, b"order."):
            return by_orders(d, sc, False)
        if span_eq(topic, b"execution") or starts(topic, b"execution."):
            return by_orders(d, sc, True)
        d.info.what = b"topic"
        return other(sc, K_OTHER)
    if found & 2:
        d.info.what = b"op"
        if span_eq(&v[1], b"pong") or span_eq(&v[1], b"ping"):
            return other(sc, K_HEARTBEAT)
        if collect(d, sc, names, 4, v, &found) < 0:
            return -1
        if span_eq(&v[3], b"false"):
            return K_VENUE_ERROR
        return K_SUBSCRIBED
    if found & 4:
        return other(sc, K_VENUE_ERROR)
    if sk_value(sc, 0) < 0:
        return -1
    return fail(sc, E_SHAPE, sc.base)


# ---------------------------------------------------------------------------------------------
# OKX v5
# ---------------------------------------------------------------------------------------------

cdef int lv_okx(DecState* d, Scan* sc, SymEntry* sym, int side) noexcept nogil:
    """[["px","sz","0","orders"], ...] (the third field is the deprecated liquidation count)."""
    cdef int st = 0, st2, r
    cdef px_t px
    cdef qty_t sz
    cdef Span x
    if ar_open(sc) < 0:
        return -1
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        st2 = 0
        if (ar_open(sc) < 0 or ar_more(sc, &st2) < 0
                or sk_dec_hot(sc, sym.price_decimals, &px) < 0
                or ar_more(sc, &st2) < 0 or sk_dec_hot(sc, sym.size_decimals, &sz) < 0
                or ar_more(sc, &st2) < 0 or sk_span(sc, &x) < 0
                or ar_more(sc, &st2) < 0 or sk_span(sc, &x) < 0 or ar_end(sc, &st2) < 0):
            return -1
        if put_delta(d, sc, sym, side, px, sz, 0, 0, 0) < 0:
            return -1


cdef enum:
    OK_BOOK = 1
    OK_BOOK_FULL = 2        # books5 / bbo-tbt: every message is a snapshot
    OK_TRADES = 3
    OK_TICKERS = 4
    OK_ORDERS = 5
    OK_OTHER = 6


cdef int ok_book_item(DecState* d, Scan* sc, SymEntry* sym, bint snap) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t ts = 0, cs = 0, seq = 0, prev = -1
    cdef Py_ssize_t first = d.info.n_deltas
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"asks"):
            if dup(sc, &seen, 0, k) < 0 or lv_okx(d, sc, sym, SIDE_ASK) < 0:
                return -1
        elif keq(k, kn, b"bids"):
            if dup(sc, &seen, 1, k) < 0 or lv_okx(d, sc, sym, SIDE_BID) < 0:
                return -1
        elif keq(k, kn, b"ts"):
            if dup(sc, &seen, 2, k) < 0 or sk_ms(sc, &ts) < 0:
                return -1
        elif keq(k, kn, b"checksum"):
            if dup(sc, &seen, 3, k) < 0 or sk_int(sc, &cs) < 0:
                return -1
        elif keq(k, kn, b"seqId"):
            if dup(sc, &seen, 4, k) < 0 or sk_int(sc, &seq) < 0:
                return -1
        elif keq(k, kn, b"prevSeqId"):
            if dup(sc, &seen, 5, k) < 0 or sk_int(sc, &prev) < 0:
                return -1
        elif keq(k, kn, b"instId"):
            if dup(sc, &seen, 6, k) < 0 or sk_value(sc, 1) < 0:
                return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 7) != 7:
        return missing(sc)
    if snap and d.info.n_deltas == first and empty_snapshot(d, sc, sym, ts, seq) < 0:
        return -1
    finish_deltas(d, first, ts, seq, snap)
    d.info.exchange_ts = ts
    if seen & 8:
        d.info.checksum = cs
        d.info.flags |= INFO_HAS_CHECKSUM
    if seen & 16:
        d.info.last_seq = seq
        d.info.first_seq = seq
        d.info.prev_seq = prev
        d.info.flags |= INFO_HAS_SEQ
    return 0


cdef int ok_data(DecState* d, Scan* sc, int ch, SymEntry* sym, bint snap) noexcept nogil:
    """The "data" array of a channel message (sym: the arg's instrument, may be NULL)."""
    cdef int st = 0, r
    cdef uint64_t f
    cdef Span v[16]
    cdef const char* names[16]
    cdef SymEntry* s2
    cdef bint unknown = False
    cdef TradeRecord* t
    cdef BBORecord* b
    cdef OrderUpdate* o
    cdef int64_t fee
    if ar_open(sc) < 0:
        return -1
    if ch == OK_TRADES:
        names[0] = b"instId"; names[1] = b"tradeId"; names[2] = b"px"; names[3] = b"sz"
        names[4] = b"side"; names[5] = b"ts"
    elif ch == OK_TICKERS:
        names[0] = b"instId"; names[1] = b"bidPx"; names[2] = b"bidSz"; names[3] = b"askPx"
        names[4] = b"askSz"; names[5] = b"ts"
    elif ch == OK_ORDERS:
        names[0] = b"instId"; names[1] = b"ordId"; names[2] = b"clOrdId"; names[3] = b"side"
        names[4] = b"ordType"; names[5] = b"px"; names[6] = b"sz"; names[7] = b"state"
        names[8] = b"accFillSz"; names[9] = b"avgPx"; names[10] = b"fillPx"
        names[11] = b"fillSz"; names[12] = b"fee"; names[13] = b"feeCcy"; names[14] = b"tradeId"
        names[15] = b"uTime"
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            break
        if r < 0:
            return -1
        if ch == OK_BOOK or ch == OK_BOOK_FULL:
            if sym == NULL:
                if sk_value(sc, 1) < 0:
                    return -1
                unknown = True
                continue
            if ok_book_item(d, sc, sym, snap) < 0:
                return -1
            continue
        if collect(d, sc, names, 16 if ch == OK_ORDERS else 6, v, &f) < 0:
            return -1
        if need(sc, f, 0x3F if ch != OK_ORDERS else 0x80FF) < 0:
            return -1
        s2 = sym_get(d, sc, v[0].s, v[0].n)
        if s2 == NULL:
            unknown = True
            continue
        if ch == OK_TRADES:
            t = new_trade(d, sc)
            if (t == NULL or v_dec(sc, &v[2], s2.price_decimals, &t.price) < 0
                    or v_dec(sc, &v[3], s2.size_decimals, &t.size) < 0
                    or need_side(sc, &v[4], &t.side) < 0
                    or v_ms(sc, &v[5], &t.exchange_ts) < 0
                    or v_trade_id(sc, &v[1], &t.trade_id, &t.flags) < 0):
                return -1
            t.instrument_id = s2.instrument_id
            d.info.exchange_ts = t.exchange_ts
        elif ch == OK_TICKERS:
            b = new_bbo(d, sc)
            if (b == NULL or span_dec(sc, &v[1], s2.price_decimals, False, &b.bid_price) < 0
                    or span_dec(sc, &v[2], s2.size_decimals, False, &b.bid_size) < 0
                    or span_dec(sc, &v[3], s2.price_decimals, False, &b.ask_price) < 0
                    or span_dec(sc, &v[4], s2.size_decimals, False, &b.ask_size) < 0
                    or v_ms(sc, &v[5], &b.exchange_ts) < 0):
                return -1
            if v[1].n == 0:
                b.flags |= BBO_NO_BID
            if v[3].n == 0:
                b.flags |= BBO_NO_ASK
            b.instrument_id = s2.instrument_id
            d.info.exchange_ts = b.exchange_ts
        else:
            o = new_order(d, sc)
            if (o == NULL or need_side(sc, &v[3], &o.side) < 0
                    or id_text(sc, v[1].s, v[1].n, o.venue_order_id_text, 48,
                               &o.venue_order_id) < 0
                    or v_text(sc, &v[2], o.client_order_id, 48) < 0
                    or span_dec(sc, &v[5], s2.price_decimals, False, &o.price) < 0
                    or span_dec(sc, &v[6], s2.size_decimals, False, &o.size) < 0
                    or span_dec(sc, &v[8], s2.size_decimals, False, &o.filled_size) < 0
                    or span_dec(sc, &v[9], s2.price_decimals, False, &o.avg_price) < 0
                    or span_dec(sc, &v[10], s2.price_decimals, False, &o.last_fill_price) < 0
                    or span_dec(sc, &v[11], s2.size_decimals, False, &o.last_fill_size) < 0
                    or span_dec(sc, &v[12], d.fee_decimals, True, &fee) < 0
                    or v_text(sc, &v[13], o.fee_asset, 16) < 0
                    or v_text(sc, &v[14], o.trade_id_text, 48) < 0
                    or v_ms(sc, &v[15], &o.exchange_ts) < 0):
                return -1
            o.fee = -fee                                  # OKX: negative fee = paid
            if v[12].s != NULL:
                o.flags |= ORDER_HAS_FEE
            if v[14].n > 0:
                if int_text(v[14].s, v[14].n, &o.trade_id) or o.trade_id < 0:
                    o.trade_id = -1
                    o.flags |= ORDER_TRADE_ID_TEXT
            if o.last_fill_size > 0:
                o.flags |= ORDER_IS_FILL
            o.transact_ts = o.exchange_ts
            o.status = status_code(&v[7])
            o.order_type = order_type_code(&v[4])
            o.instrument_id = s2.instrument_id
            d.info.exchange_ts = o.exchange_ts
    return K_UNKNOWN_SYMBOL if unknown else 0


cdef int ok_arg(DecState* d, Scan* sc, Span* channel, Span* inst) noexcept nogil:
    cdef const char* names[2]
    cdef Span v[2]
    cdef uint64_t f
    names[0] = b"channel"
    names[1] = b"instId"
    if collect(d, sc, names, 2, v, &f) < 0:
        return -1
    if not (f & 1):
        return missing(sc)
    channel[0] = v[0]
    inst[0] = v[1]
    return 0


cdef int ok_channel(Span* c) noexcept nogil:
    if span_eq(c, b"books") or span_eq(c, b"books-l2-tbt") or span_eq(c, b"books50-l2-tbt"):
        return OK_BOOK
    if span_eq(c, b"books5") or span_eq(c, b"bbo-tbt"):
        return OK_BOOK_FULL
    if span_eq(c, b"trades") or span_eq(c, b"trades-all"):
        return OK_TRADES
    if span_eq(c, b"tickers"):
        return OK_TICKERS
    if span_eq(c, b"orders"):
        return OK_ORDERS
    return OK_OTHER


cdef int ok_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[3]
    cdef Span v[3]
    cdef uint64_t found, seen = 0
    cdef int st = 0, r, ch = 0, res = 0
    cdef const char* k
    cdef Py_ssize_t kn
    cdef Span channel, inst, action
    cdef SymEntry* sym = NULL
    cdef const char* defer = NULL
    cdef bint snap = False
    cdef Scan sub
    sk_ws(sc)
    if sc.end - sc.p == 4 and memcmp(sc.p, b"pong", 4) == 0:
        sc.p += 4
        d.info.what = b"pong"
        return K_HEARTBEAT
    if sc.p >= sc.end or sc.p[0] != b'{':
        if sk_value(sc, 0) < 0:
            return -1
        return fail(sc, E_SHAPE, sc.base)
    names[0] = b"event"
    names[1] = b"arg"
    names[2] = b"data"
    if sc.end - sc.p > 7 and memcmp(sc.p, b'{"arg":', 7) == 0:
        found = 6                                         # a channel message (arg first)
    elif peek_keys(sc, names, 3, v, &found) < 0:
        return -1
    if found & 1:
        d.info.what = b"event"
        if span_eq(&v[0], b"error"):
            return other(sc, K_VENUE_ERROR)
        if (span_eq(&v[0], b"subscribe") or span_eq(&v[0], b"unsubscribe")
                or span_eq(&v[0], b"login")):
            return other(sc, K_SUBSCRIBED)
        return other(sc, K_STATUS)
    if (found & 6) != 6:
        if sk_value(sc, 0) < 0:
            return -1
        return fail(sc, E_SHAPE, sc.base)
    action.s = NULL
    action.n = 0
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"arg"):
            if dup(sc, &seen, 0, k) < 0 or ok_arg(d, sc, &channel, &inst) < 0:
                return -1
            ch = ok_channel(&channel)
            d.info.what = b"channel"
            if ch == OK_OTHER:
                if inst.s != NULL:
                    sym_get(d, sc, inst.s, inst.n)
                continue
            if inst.s != NULL:
                sym = sym_get(d, sc, inst.s, inst.n)
        elif keq(k, kn, b"action"):
            if dup(sc, &seen, 1, k) < 0 or sk_span(sc, &action) < 0:
                return -1
        elif keq(k, kn, b"data"):
            if dup(sc, &seen, 2, k) < 0:
                return -1
            sk_ws(sc)
            if ch == 0 or ch == OK_OTHER or (ch == OK_BOOK and action.s == NULL):
                defer = sc.p
                if sk_value(sc, 1) < 0:
                    return -1
            else:
                snap = ch == OK_BOOK_FULL or span_eq(&action, b"snapshot")
                res = ok_data(d, sc, ch, sym, snap)
                if res < 0:
                    return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 5) != 5:
        return missing(sc)
    if ch == OK_OTHER:
        return K_OTHER
    if ch == OK_BOOK and action.s == NULL:
        return missing(sc)
    if defer != NULL:
        snap = ch == OK_BOOK_FULL or span_eq(&action, b"snapshot")
        sub_scan(sc, &sub, defer)
        res = ok_data(d, &sub, ch, sym, snap)
        if res < 0:
            return lift(sc, &sub)
    if res == K_UNKNOWN_SYMBOL:
        return K_UNKNOWN_SYMBOL
    if ch == OK_BOOK or ch == OK_BOOK_FULL:
        if ch == OK_BOOK and not snap and not span_eq(&action, b"update"):
            return fail(sc, E_SHAPE, action.s)
        d.info.what = b"books"
        mark_last(d)
        return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE
    if ch == OK_TRADES:
        return K_TRADE
    if ch == OK_TICKERS:
        return K_BBO
    return K_ORDER


# ---------------------------------------------------------------------------------------------
# Kraken websocket v1 (arrays) and v2 (objects)
# ---------------------------------------------------------------------------------------------

cdef int lv_kraken1(DecState* d, Scan* sc, SymEntry* sym, int side, int64_t* max_ts) noexcept nogil:
    """[["price","volume","timestamp"(,"r")], ...]"""
    cdef int st = 0, st2, r, fl
    cdef px_t px
    cdef qty_t sz
    cdef int64_t ts
    cdef Span x
    if ar_open(sc) < 0:
        return -1
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        st2 = 0
        if (ar_open(sc) < 0 or ar_more(sc, &st2) < 0 or sk_dec(sc, sym.price_decimals, &px) < 0
                or ar_more(sc, &st2) < 0 or sk_dec(sc, sym.size_decimals, &sz) < 0
                or ar_more(sc, &st2) < 0 or sk_sec_text(sc, &ts) < 0):
            return -1
        fl = 0
        r = ar_next(sc, &st2)
        if r < 0:
            return -1
        if r == 1:
            if sk_span(sc, &x) < 0:
                return -1
            if not keq(x.s, x.n, b"r"):
                return fail(sc, E_SHAPE, x.s)
            fl = DELTA_REPUBLISH
            d.info.flags |= INFO_REPUBLISH
            if ar_end(sc, &st2) < 0:
                return -1
        if ts > max_ts[0]:
            max_ts[0] = ts
        if put_delta(d, sc, sym, side, px, sz, ts, 0, fl) < 0:
            return -1


cdef int kr1_book(DecState* d, Scan* sc, SymEntry* sym, bint* snap) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t max_ts = 0, cs
    cdef Span c
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"as") or keq(k, kn, b"bs"):
            if dup(sc, &seen, 0 if k[0] == b'a' else 1, k) < 0:
                return -1
            snap[0] = True
            if lv_kraken1(d, sc, sym, SIDE_ASK if k[0] == b'a' else SIDE_BID, &max_ts) < 0:
                return -1
        elif keq(k, kn, b"a") or keq(k, kn, b"b"):
            if dup(sc, &seen, 2 if k[0] == b'a' else 3, k) < 0:
                return -1
            if lv_kraken1(d, sc, sym, SIDE_ASK if k[0] == b'a' else SIDE_BID, &max_ts) < 0:
                return -1
        elif keq(k, kn, b"c"):
            if dup(sc, &seen, 4, k) < 0 or sk_span(sc, &c) < 0:
                return -1
            if int_text(c.s, c.n, &cs) or cs < 0 or cs > <int64_t>4294967295:
                return fail(sc, E_NUMBER, c.s)
            d.info.checksum = cs
            d.info.flags |= INFO_HAS_CHECKSUM
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 3) and (seen & 12):
        return fail(sc, E_SHAPE, sc.p - 1)                # snapshot and update keys mixed
    if seen == 0 or seen == 16:
        return missing(sc)
    if max_ts > d.info.exchange_ts:
        d.info.exchange_ts = max_ts
    return 0


cdef int kr1_trades(DecState* d, Scan* sc, SymEntry* sym) noexcept nogil:
    """[["price","volume","time","b|s","l|m","misc"], ...]"""
    cdef int st = 0, st2, r
    cdef TradeRecord* t
    cdef Span sd, x
    if ar_open(sc) < 0:
        return -1
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        t = new_trade(d, sc)
        if t == NULL:
            return -1
        st2 = 0
        if (ar_open(sc) < 0 or ar_more(sc, &st2) < 0 or sk_dec(sc, sym.price_decimals, &t.price) < 0
                or ar_more(sc, &st2) < 0 or sk_dec(sc, sym.size_decimals, &t.size) < 0
                or ar_more(sc, &st2) < 0 or sk_sec_text(sc, &t.exchange_ts) < 0
                or ar_more(sc, &st2) < 0 or sk_span(sc, &sd) < 0
                or ar_more(sc, &st2) < 0 or sk_span(sc, &x) < 0
                or ar_more(sc, &st2) < 0 or sk_span(sc, &x) < 0 or ar_end(sc, &st2) < 0
                or need_side(sc, &sd, &t.side) < 0):
            return -1
        t.instrument_id = sym.instrument_id
        if t.exchange_ts > d.info.exchange_ts:
            d.info.exchange_ts = t.exchange_ts


cdef int kr1_quote(Scan* sc, Span* v, int pdec, int sdec, int64_t* px, int64_t* sz) noexcept nogil:
    """Ticker side: ["price", wholeLotVolume, "lotVolume"]."""
    cdef Scan sub
    cdef int st = 0
    cdef int64_t whole
    if v.s == NULL:
        return missing(sc)
    sub_scan(sc, &sub, v.s)
    sub.end = v.s + v.n
    if (ar_open(&sub) < 0 or ar_more(&sub, &st) < 0 or sk_dec(&sub, pdec, px) < 0
            or ar_more(&sub, &st) < 0 or sk_int_any(&sub, &whole) < 0
            or ar_more(&sub, &st) < 0 or sk_dec(&sub, sdec, sz) < 0 or ar_end(&sub, &st) < 0):
        sub.end = sc.end
        return lift(sc, &sub)
    return 0


cdef inline const char* back_string(const char* base, const char* q, Span* out) noexcept nogil:
    """q points at a closing quote: find the opening one (no backslash inside); NULL if not."""
    cdef const char* p = q - 1
    while p >= base and p[0] != b'"':
        if p[0] == b'\\' or <unsigned char>p[0] < 0x20:
            return NULL
        p -= 1
    if p < base:
        return NULL
    out.s = p + 1
    out.n = q - p - 1
    return p


cdef inline const char* back_ws(const char* base, const char* p) noexcept nogil:
    while p >= base and (p[0] == b' ' or p[0] == b'\n' or p[0] == b'\r' or p[0] == b'\t'):
        p -= 1
    return p


cdef int kr1_book_fast(DecState* d, Scan* sc) noexcept nogil:
    """v1 book messages in one pass: the pair is read from the end of the frame first, so the
    levels can be parsed as they come.  -2: not this form (the caller uses the general path)."""
    cdef const char* p = back_ws(sc.p, sc.end - 1)
    cdef const char* name_at
    cdef Span name, pair, x
    cdef SymEntry* sym
    cdef int st = 0, r
    cdef int64_t chan
    cdef bint snap = False
    if p < sc.p or p[0] != b']':
        return -2
    p = back_ws(sc.p, p - 1)
    if p < sc.p or p[0] != b'"':
        return -2
    p = back_string(sc.p, p, &pair)
    if p == NULL:
        return -2
    p = back_ws(sc.p, p - 1)
    if p < sc.p or p[0] != b',':
        return -2
    p = back_ws(sc.p, p - 1)
    if p < sc.p or p[0] != b'"':
        return -2
    name_at = back_string(sc.p, p, &name)
    if name_at == NULL or not starts(&name, b"book"):
        return -2
    sym = sym_find(d, pair.s, pair.n)
    if sym == NULL:
        return -2
    d.info.what = b"book"
    if ar_open(sc) < 0 or ar_more(sc, &st) < 0 or sk_int(sc, &chan) < 0:
        return -1
    while True:
        r = ar_more(sc, &st)
        if r < 0:
            return -1
        if sc.p == name_at:
            break
        if sc.p > name_at or kr1_book(d, sc, sym, &snap) < 0:
            return -1
    if (sk_span(sc, &x) < 0 or x.s != name.s or ar_more(sc, &st) < 0 or sk_span(sc, &x) < 0
            or x.s != pair.s or ar_end(sc, &st) < 0):
        return -1
    sym_get(d, sc, pair.s, pair.n)
    if snap and d.info.n_deltas == 0 and empty_snapshot(d, sc, sym, 0, 0) < 0:
        return -1
    finish_deltas(d, 0, 0, 0, snap)
    mark_last(d)
    return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE


cdef int kr1_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* el[8]
    cdef int st = 0, r, count = 0, i
    cdef Span name, pair
    cdef Scan sub
    cdef SymEntry* sym
    cdef bint snap = False
    cdef int64_t chan
    cdef const char* names[2]
    cdef Span v[2]
    cdef uint64_t f
    cdef BBORecord* b
    cdef const char* start = sc.p
    r = kr1_book_fast(d, sc)
    if r >= 0:
        return r
    # not the plain book form, or an error: the general path decides (and reports)
    reset_message(d)
    sc.p = start
    sc.err = 0
    d.info.checksum = 0
    d.info.what = b"v1 array"
    if ar_open(sc) < 0:
        return -1
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            break
        if r < 0:
            return -1
        if count == 8:
            return fail(sc, E_EXTRA, sc.p)
        el[count] = sc.p
        count += 1
        if sk_value(sc, 1) < 0:
            return -1
    if count == 3:                                        # [payload, "ownTrades", {"sequence"}]
        sub_scan(sc, &sub, el[1])
        if sk_span(&sub, &name) == 0 and (span_eq(&name, b"ownTrades")
                                          or span_eq(&name, b"openOrders")):
            d.info.what = b"private"
            return K_OTHER
        return fail(sc, E_SHAPE, sc.base)
    if count < 4:
        return fail(sc, E_SHAPE, sc.base)
    sub_scan(sc, &sub, el[0])
    if sk_int(&sub, &chan) < 0:
        return lift(sc, &sub)
    sub_scan(sc, &sub, el[count - 2])
    if sk_span(&sub, &name) < 0:
        return lift(sc, &sub)
    sub_scan(sc, &sub, el[count - 1])
    if sk_span(&sub, &pair) < 0:
        return lift(sc, &sub)
    if starts(&name, b"book"):
        d.info.what = b"book"
        sym = sym_get(d, sc, pair.s, pair.n)
        if sym == NULL:
            return K_UNKNOWN_SYMBOL
        for i in range(1, count - 2):
            sub_scan(sc, &sub, el[i])
            if kr1_book(d, &sub, sym, &snap) < 0:
                return lift(sc, &sub)
        if snap and count != 4:
            return fail(sc, E_SHAPE, el[2])
        if snap and d.info.n_deltas == 0 and empty_snapshot(d, sc, sym, 0, 0) < 0:
            return -1
        finish_deltas(d, 0, 0, 0, snap)
        mark_last(d)
        return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE
    if count != 4:
        return fail(sc, E_SHAPE, el[2])
    if span_eq(&name, b"trade"):
        d.info.what = b"trade"
        sym = sym_get(d, sc, pair.s, pair.n)
        if sym == NULL:
            return K_UNKNOWN_SYMBOL
        sub_scan(sc, &sub, el[1])
        if kr1_trades(d, &sub, sym) < 0:
            return lift(sc, &sub)
        return K_TRADE
    if span_eq(&name, b"ticker"):
        d.info.what = b"ticker"
        sym = sym_get(d, sc, pair.s, pair.n)
        if sym == NULL:
            return K_UNKNOWN_SYMBOL
        names[0] = b"b"
        names[1] = b"a"
        sub_scan(sc, &sub, el[1])
        if collect(d, &sub, names, 2, v, &f) < 0:
            return lift(sc, &sub)
        b = new_bbo(d, sc)
        if (b == NULL or kr1_quote(sc, &v[0], sym.price_decimals, sym.size_decimals,
                                   &b.bid_price, &b.bid_size) < 0
                or kr1_quote(sc, &v[1], sym.price_decimals, sym.size_decimals,
                             &b.ask_price, &b.ask_size) < 0):
            return -1
        b.instrument_id = sym.instrument_id
        return K_BBO
    d.info.what = b"channel"
    sym_get(d, sc, pair.s, pair.n)
    return K_OTHER                                        # ohlc, spread, ...


cdef int lv_kraken2(DecState* d, Scan* sc, SymEntry* sym, int side) noexcept nogil:
    """[{"price": 105944.2, "qty": 0.136}, ...]: numbers, their exact text."""
    cdef int st = 0, r
    cdef const char* names[2]
    cdef Span v[2]
    cdef uint64_t f
    cdef px_t px
    cdef qty_t sz
    names[0] = b"price"
    names[1] = b"qty"
    if ar_open(sc) < 0:
        return -1
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        if collect(d, sc, names, 2, v, &f) < 0 or need(sc, f, 3) < 0:
            return -1
        if v[0].s[-1] == b'"' or v[1].s[-1] == b'"':            # strings: v2 sends numbers
            return fail(sc, E_TYPE, v[0].s)
        if v_dec(sc, &v[0], sym.price_decimals, &px) < 0 or v_dec(sc, &v[1], sym.size_decimals, &sz) < 0:
            return -1
        if put_delta(d, sc, sym, side, px, sz, 0, 0, 0) < 0:
            return -1


cdef int kr2_book_item(DecState* d, Scan* sc, bint snap, bint* unknown) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t ts = 0, cs = 0
    cdef Span s
    cdef SymEntry* sym = NULL
    cdef const char* defer_b = NULL
    cdef const char* defer_a = NULL
    cdef Py_ssize_t first = d.info.n_deltas
    cdef Scan sub
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"symbol"):
            if dup(sc, &seen, 0, k) < 0 or sk_span(sc, &s) < 0:
                return -1
            sym = sym_get(d, sc, s.s, s.n)
        elif keq(k, kn, b"bids") or keq(k, kn, b"asks"):
            if dup(sc, &seen, 1 if k[0] == b'b' else 2, k) < 0:
                return -1
            sk_ws(sc)
            if sym == NULL:
                if k[0] == b'b':
                    defer_b = sc.p
                else:
                    defer_a = sc.p
                if sk_value(sc, 1) < 0:
                    return -1
            elif lv_kraken2(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK) < 0:
                return -1
        elif keq(k, kn, b"checksum"):
            if dup(sc, &seen, 3, k) < 0 or sk_int(sc, &cs) < 0:
                return -1
            if cs < 0 or cs > <int64_t>4294967295:
                return fail(sc, E_NUMBER, sc.p - 1)
        elif keq(k, kn, b"timestamp"):
            if dup(sc, &seen, 4, k) < 0 or sk_iso(sc, &ts) < 0:
                return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 7) != 7:
        return missing(sc)
    if sym == NULL:
        unknown[0] = True
        return 0
    if defer_b != NULL:
        sub_scan(sc, &sub, defer_b)
        if lv_kraken2(d, &sub, sym, SIDE_BID) < 0:
            return lift(sc, &sub)
    if defer_a != NULL:
        sub_scan(sc, &sub, defer_a)
        if lv_kraken2(d, &sub, sym, SIDE_ASK) < 0:
            return lift(sc, &sub)
    if snap and d.info.n_deltas == first and empty_snapshot(d, sc, sym, ts, 0) < 0:
        return -1
    finish_deltas(d, first, ts, 0, snap)
    if seen & 8:
        d.info.checksum = cs
        d.info.flags |= INFO_HAS_CHECKSUM
    d.info.exchange_ts = ts
    return 0


cdef int kr2_items(DecState* d, Scan* sc, int what, bint snap) noexcept nogil:
    """The "data" array: what 1 book, 2 trade, 3 ticker."""
    cdef int st = 0, r
    cdef bint unknown = False
    cdef const char* names[7]
    cdef Span v[7]
    cdef uint64_t f
    cdef SymEntry* sym
    cdef TradeRecord* t
    cdef BBORecord* b
    if what == 2:
        names[0] = b"symbol"; names[1] = b"price"; names[2] = b"qty"; names[3] = b"side"
        names[4] = b"timestamp"; names[5] = b"trade_id"; names[6] = b"ord_type"
    else:
        names[0] = b"symbol"; names[1] = b"bid"; names[2] = b"bid_qty"; names[3] = b"ask"
        names[4] = b"ask_qty"; names[5] = b"timestamp"; names[6] = b"last"
    if ar_open(sc) < 0:
        return -1
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            break
        if r < 0:
            return -1
        if what == 1:
            if kr2_book_item(d, sc, snap, &unknown) < 0:
                return -1
            continue
        if collect(d, sc, names, 7, v, &f) < 0 or need(sc, f, 0x1F) < 0:
            return -1
        sym = sym_get(d, sc, v[0].s, v[0].n)
        if sym == NULL:
            unknown = True
            continue
        if what == 2:
            t = new_trade(d, sc)
            if (t == NULL or v_dec(sc, &v[1], sym.price_decimals, &t.price) < 0
                    or v_dec(sc, &v[2], sym.size_decimals, &t.size) < 0
                    or need_side(sc, &v[3], &t.side) < 0 or v_iso(sc, &v[4], &t.exchange_ts) < 0):
                return -1
            if v[5].s != NULL and v_trade_id(sc, &v[5], &t.trade_id, &t.flags) < 0:
                return -1
            t.instrument_id = sym.instrument_id
            d.info.exchange_ts = t.exchange_ts
        else:
            b = new_bbo(d, sc)
            if (b == NULL or v_dec(sc, &v[1], sym.price_decimals, &b.bid_price) < 0
                    or v_dec(sc, &v[2], sym.size_decimals, &b.bid_size) < 0
                    or v_dec(sc, &v[3], sym.price_decimals, &b.ask_price) < 0
                    or v_dec(sc, &v[4], sym.size_decimals, &b.ask_size) < 0):
                return -1
            if v[5].s != NULL and v_iso(sc, &v[5], &b.exchange_ts) < 0:
                return -1
            b.instrument_id = sym.instrument_id
    return K_UNKNOWN_SYMBOL if unknown else 0


cdef int kr2_decode(DecState* d, Scan* sc, Span* channel) noexcept nogil:
    cdef int st = 0, r, what, res = 0
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef Span typ, ch
    cdef const char* defer = NULL
    cdef Scan sub
    typ.s = NULL
    typ.n = 0
    if span_eq(channel, b"book"):
        what = 1
        d.info.what = b"book"
    elif span_eq(channel, b"trade"):
        what = 2
        d.info.what = b"trade"
    elif span_eq(channel, b"ticker"):
        what = 3
        d.info.what = b"ticker"
    else:
        d.info.what = b"channel"
        if span_eq(channel, b"heartbeat"):
            return other(sc, K_HEARTBEAT)
        if span_eq(channel, b"status"):
            return other(sc, K_STATUS)
        return other(sc, K_OTHER)                         # level3, ohlc, instrument, executions..
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"channel"):
            if dup(sc, &seen, 0, k) < 0 or sk_span(sc, &ch) < 0:
                return -1
        elif keq(k, kn, b"type"):
            if dup(sc, &seen, 1, k) < 0 or sk_span(sc, &typ) < 0:
                return -1
        elif keq(k, kn, b"data"):
            if dup(sc, &seen, 2, k) < 0:
                return -1
            sk_ws(sc)
            if typ.s == NULL:
                defer = sc.p
                if sk_value(sc, 1) < 0:
                    return -1
            else:
                res = kr2_items(d, sc, what, span_eq(&typ, b"snapshot"))
                if res < 0:
                    return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if seen != 7:
        return missing(sc)
    if not span_eq(&typ, b"snapshot") and not span_eq(&typ, b"update"):
        return fail(sc, E_SHAPE, typ.s)
    if defer != NULL:
        sub_scan(sc, &sub, defer)
        res = kr2_items(d, &sub, what, span_eq(&typ, b"snapshot"))
        if res < 0:
            return lift(sc, &sub)
    if res == K_UNKNOWN_SYMBOL:
        return K_UNKNOWN_SYMBOL
    if what == 1:
        mark_last(d)
        return K_BOOK_SNAPSHOT if span_eq(&typ, b"snapshot") else K_BOOK_UPDATE
    return K_TRADE if what == 2 else K_BBO


cdef int kr_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[4]
    cdef Span v[4]
    cdef uint64_t found
    sk_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'[':
        return kr1_decode(d, sc)
    if sc.p >= sc.end or sc.p[0] != b'{':
        if sk_value(sc, 0) < 0:
            return -1
        return fail(sc, E_SHAPE, sc.base)
    names[0] = b"channel"
    names[1] = b"event"
    names[2] = b"method"
    names[3] = b"error"
    if peek_keys(sc, names, 4, v, &found) < 0:
        return -1
    if found & 1:
        if v[0].s == NULL:
            return fail(sc, E_TYPE, sc.p)
        return kr2_decode(d, sc, &v[0])
    if found & 2:
        d.info.what = b"event"
        if span_eq(&v[1], b"heartbeat") or span_eq(&v[1], b"pong") or span_eq(&v[1], b"ping"):
            return other(sc, K_HEARTBEAT)
        if span_eq(&v[1], b"systemStatus"):
            return other(sc, K_STATUS)
        if span_eq(&v[1], b"subscriptionStatus"):
            return other(sc, K_VENUE_ERROR if found & 8 else K_SUBSCRIBED)
        if span_eq(&v[1], b"error"):
            return other(sc, K_VENUE_ERROR)
        return other(sc, K_OTHER)
    if found & 4:
        d.info.what = b"method"
        if span_eq(&v[2], b"pong"):
            return other(sc, K_HEARTBEAT)
        return other(sc, K_VENUE_ERROR if found & 8 else K_SUBSCRIBED)
    if sk_value(sc, 0) < 0:
        return -1
    return fail(sc, E_SHAPE, sc.base)


# ---------------------------------------------------------------------------------------------
# Coinbase Exchange feed ("type") and Advanced Trade ("channel")
# ---------------------------------------------------------------------------------------------

cdef int lv_changes(DecState* d, Scan* sc, SymEntry* sym, int64_t ts) noexcept nogil:
    """[["buy"|"sell","price","size"], ...]"""
    cdef int st = 0, st2, r
    cdef px_t px
    cdef qty_t sz
    cdef Span sd
    cdef uint8_t side
    if ar_open(sc) < 0:
        return -1
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        st2 = 0
        if (ar_open(sc) < 0 or ar_more(sc, &st2) < 0 or sk_span(sc, &sd) < 0
                or ar_more(sc, &st2) < 0 or sk_dec(sc, sym.price_decimals, &px) < 0
                or ar_more(sc, &st2) < 0 or sk_dec(sc, sym.size_decimals, &sz) < 0
                or ar_end(sc, &st2) < 0 or need_side(sc, &sd, &side) < 0):
            return -1
        if put_delta(d, sc, sym, side, px, sz, ts, 0, 0) < 0:
            return -1


cdef int co_book(DecState* d, Scan* sc, bint snap) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t ts = 0
    cdef Span s
    cdef SymEntry* sym = NULL
    cdef bint unknown = False
    cdef const char* defer[3]
    cdef Scan sub
    defer[0] = NULL
    defer[1] = NULL
    defer[2] = NULL
    d.info.what = b"snapshot" if snap else b"l2update"
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"type"):
            if dup(sc, &seen, 0, k) < 0 or sk_span(sc, &s) < 0:
                return -1
        elif keq(k, kn, b"product_id"):
            if dup(sc, &seen, 1, k) < 0 or sk_span(sc, &s) < 0:
                return -1
            sym = sym_get(d, sc, s.s, s.n)
            unknown = sym == NULL
        elif snap and (keq(k, kn, b"bids") or keq(k, kn, b"asks")):
            if dup(sc, &seen, 2 if k[0] == b'b' else 3, k) < 0:
                return -1
            sk_ws(sc)
            if sym == NULL:
                defer[0 if k[0] == b'b' else 1] = sc.p
                if sk_value(sc, 1) < 0:
                    return -1
            elif lv_pairs(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK) < 0:
                return -1
        elif not snap and keq(k, kn, b"changes"):
            if dup(sc, &seen, 2, k) < 0:
                return -1
            sk_ws(sc)
            seen |= 8
            if sym == NULL:                               # product_id not seen yet
                defer[2] = sc.p
                if sk_value(sc, 1) < 0:
                    return -1
            elif lv_changes(d, sc, sym, 0) < 0:           # the time is stamped at the end
                return -1
        elif keq(k, kn, b"time"):
            if dup(sc, &seen, 4, k) < 0 or sk_iso(sc, &ts) < 0:
                return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 0xF) != 0xF or (not snap and not (seen & 16)):
        return missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    if defer[0] != NULL:
        sub_scan(sc, &sub, defer[0])
        if lv_pairs(d, &sub, sym, SIDE_BID) < 0:
            return lift(sc, &sub)
    if defer[1] != NULL:
        sub_scan(sc, &sub, defer[1])
        if lv_pairs(d, &sub, sym, SIDE_ASK) < 0:
            return lift(sc, &sub)
    if defer[2] != NULL:
        sub_scan(sc, &sub, defer[2])
        if lv_changes(d, &sub, sym, ts) < 0:
            return lift(sc, &sub)
    if snap and d.info.n_deltas == 0 and empty_snapshot(d, sc, sym, ts, 0) < 0:
        return -1
    finish_deltas(d, 0, ts, 0, snap)
    mark_last(d)
    d.info.exchange_ts = ts
    return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE


cdef int co_match(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[7]
    cdef Span v[7]
    cdef uint64_t f
    cdef SymEntry* sym
    cdef TradeRecord* t
    cdef uint8_t maker_side
    cdef int64_t seq
    names[0] = b"product_id"; names[1] = b"trade_id"; names[2] = b"price"; names[3] = b"size"
    names[4] = b"side"; names[5] = b"time"; names[6] = b"sequence"
    d.info.what = b"match"
    if collect(d, sc, names, 7, v, &f) < 0 or need(sc, f, 0x7F) < 0:
        return -1
    sym = sym_get(d, sc, v[0].s, v[0].n)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    t = new_trade(d, sc)
    if (t == NULL or v_dec(sc, &v[2], sym.price_decimals, &t.price) < 0
            or v_dec(sc, &v[3], sym.size_decimals, &t.size) < 0
            or need_side(sc, &v[4], &maker_side) < 0 or v_iso(sc, &v[5], &t.exchange_ts) < 0
            or v_trade_id(sc, &v[1], &t.trade_id, &t.flags) < 0 or v_int(sc, &v[6], &seq) < 0):
        return -1
    t.side = SIDE_ASK if maker_side == SIDE_BID else SIDE_BID   # "side" is the maker's
    t.instrument_id = sym.instrument_id
    d.info.exchange_ts = t.exchange_ts
    d.info.first_seq = seq
    d.info.last_seq = seq
    d.info.flags |= INFO_HAS_SEQ
    return K_TRADE


cdef int co_ticker(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[7]
    cdef Span v[7]
    cdef uint64_t f
    cdef SymEntry* sym
    cdef BBORecord* b
    names[0] = b"product_id"; names[1] = b"best_bid"; names[2] = b"best_ask"
    names[3] = b"sequence"; names[4] = b"time"; names[5] = b"best_bid_size"
    names[6] = b"best_ask_size"
    d.info.what = b"ticker"
    if collect(d, sc, names, 7, v, &f) < 0 or need(sc, f, 0x7) < 0:
        return -1
    sym = sym_get(d, sc, v[0].s, v[0].n)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    b = new_bbo(d, sc)
    if (b == NULL or v_dec(sc, &v[1], sym.price_decimals, &b.bid_price) < 0
            or v_dec(sc, &v[2], sym.price_decimals, &b.ask_price) < 0
            or span_dec(sc, &v[5], sym.size_decimals, False, &b.bid_size) < 0
            or span_dec(sc, &v[6], sym.size_decimals, False, &b.ask_size) < 0):
        return -1
    if v[5].s == NULL or v[6].s == NULL:
        b.flags |= BBO_NO_SIZE
    if v[3].s != NULL:
        if v_int(sc, &v[3], &b.sequence) < 0:
            return -1
        d.info.first_seq = b.sequence
        d.info.last_seq = b.sequence
        d.info.flags |= INFO_HAS_SEQ
    if v[4].s != NULL and v_iso(sc, &v[4], &b.exchange_ts) < 0:
        return -1
    b.instrument_id = sym.instrument_id
    d.info.exchange_ts = b.exchange_ts
    return K_BBO


cdef int at_updates(DecState* d, Scan* sc, SymEntry* sym) noexcept nogil:
    """[{"side":"bid|offer","event_time":..,"price_level":..,"new_quantity":..}, ...]"""
    cdef int st = 0, r
    cdef const char* names[4]
    cdef Span v[4]
    cdef uint64_t f
    cdef px_t px
    cdef qty_t sz
    cdef int64_t ts
    cdef uint8_t side
    names[0] = b"side"; names[1] = b"event_time"; names[2] = b"price_level"
    names[3] = b"new_quantity"
    if ar_open(sc) < 0:
        return -1
    while True:
        r = ar_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        if (collect(d, sc, names, 4, v, &f) < 0 or need(sc, f, 0xF) < 0
                or need_side(sc, &v[0], &side) < 0 or v_iso(sc, &v[1], &ts) < 0
                or v_dec(sc, &v[2], sym.price_decimals, &px) < 0
                or v_dec(sc, &v[3], sym.size_decimals, &sz) < 0):
            return -1
        if put_delta(d, sc, sym, side, px, sz, ts, 0, 0) < 0:
            return -1


cdef int at_event(DecState* d, Scan* sc, int ch, int* kind, bint* unknown) noexcept nogil:
    """One element of "events": l2_data (ch 1), market_trades (2), user (3)."""
    cdef int st = 0, r, ast
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0, f
    cdef Span typ, s
    cdef SymEntry* sym = NULL
    cdef const char* defer = NULL
    cdef Py_ssize_t first = d.info.n_deltas
    cdef Scan sub
    cdef const char* names[12]
    cdef Span v[12]
    cdef TradeRecord* t
    cdef OrderUpdate* o
    cdef int64_t leaves
    typ.s = NULL
    typ.n = 0
    if ch == 2:
        names[0] = b"product_id"; names[1] = b"trade_id"; names[2] = b"price"
        names[3] = b"size"; names[4] = b"side"; names[5] = b"time"
    elif ch == 3:
        names[0] = b"product_id"; names[1] = b"order_id"; names[2] = b"client_order_id"
        names[3] = b"order_side"; names[4] = b"order_type"; names[5] = b"status"
        names[6] = b"cumulative_quantity"; names[7] = b"leaves_quantity"
        names[8] = b"avg_price"; names[9] = b"total_fees"; names[10] = b"limit_price"
        names[11] = b"creation_time"
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"type"):
            if dup(sc, &seen, 0, k) < 0 or sk_span(sc, &typ) < 0:
                return -1
        elif ch == 1 and keq(k, kn, b"product_id"):
            if dup(sc, &seen, 1, k) < 0 or sk_span(sc, &s) < 0:
                return -1
            sym = sym_get(d, sc, s.s, s.n)
            if sym == NULL:
                unknown[0] = True
        elif ch == 1 and keq(k, kn, b"updates"):
            if dup(sc, &seen, 2, k) < 0:
                return -1
            sk_ws(sc)
            defer = sc.p
            if sk_value(sc, 1) < 0:
                return -1
        elif (ch == 2 and keq(k, kn, b"trades")) or (ch == 3 and keq(k, kn, b"orders")):
            if dup(sc, &seen, 3, k) < 0 or ar_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = ar_next(sc, &ast)
                if r == 0:
                    break
                if r < 0:
                    return -1
                if collect(d, sc, names, 6 if ch == 2 else 12, v, &f) < 0:
                    return -1
                if need(sc, f, 0x3F if ch == 2 else 0xEB) < 0:
                    return -1
                sym = sym_get(d, sc, v[0].s, v[0].n)
                if sym == NULL:
                    unknown[0] = True
                    continue
                if ch == 2:
                    t = new_trade(d, sc)
                    if (t == NULL or v_dec(sc, &v[2], sym.price_decimals, &t.price) < 0
                            or v_dec(sc, &v[3], sym.size_decimals, &t.size) < 0
                            or need_side(sc, &v[4], &t.side) < 0
                            or v_iso(sc, &v[5], &t.exchange_ts) < 0
                            or v_trade_id(sc, &v[1], &t.trade_id, &t.flags) < 0):
                        return -1
                    t.instrument_id = sym.instrument_id
                else:
                    o = new_order(d, sc)
                    if (o == NULL or need_side(sc, &v[3], &o.side) < 0
                            or id_text(sc, v[1].s, v[1].n, o.venue_order_id_text, 48,
                                       &o.venue_order_id) < 0
                            or v_text(sc, &v[2], o.client_order_id, 48) < 0
                            or span_dec(sc, &v[6], sym.size_decimals, False, &o.filled_size) < 0
                            or span_dec(sc, &v[7], sym.size_decimals, False, &leaves) < 0
                            or span_dec(sc, &v[8], sym.price_decimals, False, &o.avg_price) < 0
                            or span_dec(sc, &v[9], d.fee_decimals, True, &o.fee) < 0
                            or span_dec(sc, &v[10], sym.price_decimals, False, &o.price) < 0):
                        return -1
                    if v[11].s != NULL and v_iso(sc, &v[11], &o.transact_ts) < 0:
                        return -1
                    if hfx_add_ok(o.filled_size, leaves, &o.size) < 0:
                        return fail(sc, E_NUMBER, v[7].s)
                    o.status = status_code(&v[5])
                    o.order_type = order_type_code(&v[4])
                    o.flags |= ORDER_HAS_FEE
                    o.instrument_id = sym.instrument_id
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return missing(sc)
    if ch == 1:
        if (seen & 7) != 7:
            return missing(sc)
        if sym == NULL:
            return 0
        sub_scan(sc, &sub, defer)
        if at_updates(d, &sub, sym) < 0:
            return lift(sc, &sub)
        if span_eq(&typ, b"snapshot"):
            kind[0] = K_BOOK_SNAPSHOT
            if d.info.n_deltas == first and empty_snapshot(d, sc, sym, 0, 0) < 0:
                return -1
            finish_deltas(d, first, 0, 0, True)
        elif span_eq(&typ, b"update"):
            if kind[0] != K_BOOK_SNAPSHOT:
                kind[0] = K_BOOK_UPDATE
            finish_deltas(d, first, 0, 0, False)
        else:
            return fail(sc, E_SHAPE, typ.s)
    elif not (seen & 8):
        return missing(sc)
    return 0


cdef inline int hfx_add_ok(int64_t a, int64_t b, int64_t* out) noexcept nogil:
    if b > 0 and a > INT64_MAX - b:
        return -1
    out[0] = a + b
    return 0


cdef int at_decode(DecState* d, Scan* sc, Span* channel) noexcept nogil:
    cdef int st = 0, r, ch, ast, kind = 0
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t seq = 0, ts = 0
    cdef bint unknown = False
    cdef Py_ssize_t i
    if span_eq(channel, b"l2_data"):
        ch = 1
        d.info.what = b"l2_data"
    elif span_eq(channel, b"market_trades"):
        ch = 2
        d.info.what = b"market_trades"
    elif span_eq(channel, b"user"):
        ch = 3
        d.info.what = b"user"
    else:
        d.info.what = b"channel"
        if span_eq(channel, b"heartbeats"):
            return other(sc, K_HEARTBEAT)
        if span_eq(channel, b"subscriptions"):
            return other(sc, K_SUBSCRIBED)
        if span_eq(channel, b"status"):
            return other(sc, K_STATUS)
        return other(sc, K_OTHER)                         # ticker, candles, futures...
    if ob_open(sc) < 0:
        return -1
    while True:
        r = ob_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if keq(k, kn, b"channel"):
            if dup(sc, &seen, 0, k) < 0 or sk_value(sc, 1) < 0:
                return -1
        elif keq(k, kn, b"sequence_num"):
            if dup(sc, &seen, 1, k) < 0 or sk_int(sc, &seq) < 0:
                return -1
        elif keq(k, kn, b"timestamp"):
            if dup(sc, &seen, 2, k) < 0 or sk_iso(sc, &ts) < 0:
                return -1
        elif keq(k, kn, b"events"):
            if dup(sc, &seen, 3, k) < 0 or ar_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = ar_next(sc, &ast)
                if r == 0:
                    break
                if r < 0 or at_event(d, sc, ch, &kind, &unknown) < 0:
                    return -1
        elif skip_unknown(d, sc, k) < 0:
            return -1
    if (seen & 9) != 9:
        return missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    for i in range(d.info.n_deltas):
        d.deltas[i].sequence = seq
        if d.deltas[i].exchange_ts == 0:
            d.deltas[i].exchange_ts = ts
    for i in range(d.info.n_trades):
        d.trades[i].exchange_ts = d.trades[i].exchange_ts or ts
    for i in range(d.info.n_orders):
        d.orders[i].exchange_ts = ts
    d.info.exchange_ts = ts
    d.info.first_seq = seq
    d.info.last_seq = seq
    d.info.flags |= INFO_HAS_SEQ
    if ch == 1:
        mark_last(d)
        return kind if kind else K_BOOK_UPDATE
    return K_TRADE if ch == 2 else K_ORDER


cdef int co_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[2]
    cdef Span v[2]
    cdef uint64_t found
    cdef Span* t = &v[0]
    sk_ws(sc)
    if sc.p >= sc.end or sc.p[0] != b'{':
        if sk_value(sc, 0) < 0:
            return -1
        return fail(sc, E_SHAPE, sc.base)
    names[0] = b"type"
    names[1] = b"channel"
    if peek_keys(sc, names, 2, v, &found) < 0:
        return -1
    if found & 1:
        if t.s == NULL:
            return fail(sc, E_TYPE, sc.p)
        if span_eq(t, b"l2update"):
            return co_book(d, sc, False)
        if span_eq(t, b"snapshot"):
            return co_book(d, sc, True)
        if span_eq(t, b"match") or span_eq(t, b"last_match"):
            return co_match(d, sc)
        if span_eq(t, b"ticker"):
            return co_ticker(d, sc)
        d.info.what = b"type"
        if span_eq(t, b"subscriptions"):
            return other(sc, K_SUBSCRIBED)
        if span_eq(t, b"heartbeat"):
            return other(sc, K_HEARTBEAT)
        if span_eq(t, b"error"):
            return other(sc, K_VENUE_ERROR)
        if span_eq(t, b"status"):
            return other(sc, K_STATUS)
        return other(sc, K_OTHER)                         # full channel: received/open/done...
    if found & 2:
        if v[1].s == NULL:
            return fail(sc, E_TYPE, sc.p)
        return at_decode(d, sc, &v[1])
    if sk_value(sc, 0) < 0:
        return -1
    return fail(sc, E_SHAPE, sc.base)


# ---------------------------------------------------------------------------------------------
# Python classes
# ---------------------------------------------------------------------------------------------

KIND_NAMES = ("none", "book_snapshot", "book_update", "trade", "bbo", "order", "unknown_symbol",
              "heartbeat", "subscribed", "venue_error", "status", "other")
ERROR_NAMES = ("", "truncated input", "invalid JSON", "invalid UTF-8", "invalid string escape",
               "nesting too deep", "wrong JSON type", "missing field", "extra field or element",
               "invalid or out-of-range number", "more decimals than the instrument allows",
               "unexpected message shape", "record buffer cannot grow", "text too long",
               "REST depth snapshot needs its symbol: use decode_depth_snapshot")


def _dtype(names, formats, offsets, itemsize):
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": itemsize})


cdef BookDelta _bd
cdef TradeRecord _tr
cdef BBORecord _bb
cdef OrderUpdate _ou

cdef Py_ssize_t _off(void* field, void* base):
    return <char*>field - <char*>base

# the same dtype as hftcore._ext.book.BOOK_DELTA_DTYPE (equal dtypes: books accept decoder views)
BOOK_DELTA_DTYPE = np.dtype([
    ("exchange_ts", "<i8"), ("local_ts", "<i8"), ("sequence", "<i8"), ("price", "<i8"),
    ("size", "<i8"), ("instrument_id", "<u4"), ("side", "u1"), ("flags", "u1"), ("_pad", "<u2")])
assert BOOK_DELTA_DTYPE.itemsize == sizeof(BookDelta)
assert BOOK_DELTA_DTYPE.fields["price"][1] == _off(&_bd.price, &_bd)
assert BOOK_DELTA_DTYPE.fields["instrument_id"][1] == _off(&_bd.instrument_id, &_bd)
assert BOOK_DELTA_DTYPE.fields["flags"][1] == _off(&_bd.flags, &_bd)
TRADE_DTYPE = _dtype(
    ["exchange_ts", "local_ts", "trade_id", "price", "size", "instrument_id", "side", "flags"],
    ["<i8", "<i8", "<i8", "<i8", "<i8", "<u4", "u1", "u1"],
    [_off(&_tr.exchange_ts, &_tr), _off(&_tr.local_ts, &_tr), _off(&_tr.trade_id, &_tr),
     _off(&_tr.price, &_tr), _off(&_tr.size, &_tr), _off(&_tr.instrument_id, &_tr),
     _off(&_tr.side, &_tr), _off(&_tr.flags, &_tr)],
    sizeof(TradeRecord))
BBO_DTYPE = _dtype(
    ["exchange_ts", "local_ts", "sequence", "bid_price", "bid_size", "ask_price", "ask_size",
     "instrument_id", "flags"],
    ["<i8", "<i8", "<i8", "<i8", "<i8", "<i8", "<i8", "<u4", "<u4"],
    [_off(&_bb.exchange_ts, &_bb), _off(&_bb.local_ts, &_bb), _off(&_bb.sequence, &_bb),
     _off(&_bb.bid_price, &_bb), _off(&_bb.bid_size, &_bb), _off(&_bb.ask_price, &_bb),
     _off(&_bb.ask_size, &_bb), _off(&_bb.instrument_id, &_bb), _off(&_bb.flags, &_bb)],
    sizeof(BBORecord))
ORDER_UPDATE_DTYPE = _dtype(
    ["exchange_ts", "local_ts", "transact_ts", "venue_order_id", "trade_id", "price", "size",
     "filled_size", "avg_price", "last_fill_price", "last_fill_size", "fee", "instrument_id",
     "side", "status", "order_type", "flags", "client_order_id", "venue_order_id_text",
     "trade_id_text", "fee_asset"],
    ["<i8"] * 12 + ["<u4", "u1", "u1", "u1", "u1", "S48", "S48", "S48", "S16"],
    [_off(&_ou.exchange_ts, &_ou), _off(&_ou.local_ts, &_ou), _off(&_ou.transact_ts, &_ou),
     _off(&_ou.venue_order_id, &_ou), _off(&_ou.trade_id, &_ou), _off(&_ou.price, &_ou),
     _off(&_ou.size, &_ou), _off(&_ou.filled_size, &_ou), _off(&_ou.avg_price, &_ou),
     _off(&_ou.last_fill_price, &_ou), _off(&_ou.last_fill_size, &_ou), _off(&_ou.fee, &_ou),
     _off(&_ou.instrument_id, &_ou), _off(&_ou.side, &_ou), _off(&_ou.status, &_ou),
     _off(&_ou.order_type, &_ou), _off(&_ou.flags, &_ou), _off(&_ou.client_order_id, &_ou),
     _off(&_ou.venue_order_id_text, &_ou), _off(&_ou.trade_id_text, &_ou),
     _off(&_ou.fee_asset, &_ou)],
    sizeof(OrderUpdate))


@cython.final
cdef class _RecordBuffer:
    """Read-only buffer over one of a decoder's record arrays; counts as an export while a
    numpy view holds it, so a growing decoder retires (does not free) the memory under it."""
    cdef Decoder owner
    cdef char* ptr
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __getbuffer__(self, Py_buffer* buf, int flags):
        if flags & PyBUF_WRITABLE:
            raise BufferError("decoder record views are read-only")
        buf.buf = self.ptr
        buf.obj = self
        buf.len = self.nbytes
        buf.readonly = 1
        buf.itemsize = 1
        buf.format = NULL
        buf.ndim = 1
        self.shape[0] = self.nbytes
        self.strides[0] = 1
        buf.shape = self.shape
        buf.strides = self.strides
        buf.suboffsets = NULL
        buf.internal = NULL
        self.owner.st.exports += 1

    def __releasebuffer__(self, Py_buffer* buf):
        cdef DecState* d = &self.owner.st
        d.exports -= 1
        if d.exports == 0:
            while d.n_retired > 0:
                d.n_retired -= 1
                PyMem_RawFree(d.retired[d.n_retired])


cdef class Decoder:
    """Base of the venue decoders: a symbol table and reusable record batches.

    ``decode(frame, recv_ts)`` returns the message kind (``hftcore.MessageKind``) and fills
    ``deltas`` / ``trades`` / ``bbos`` / ``orders``.  Those arrays are numpy views of the
    decoder's own memory, *borrowed until the next decode*: copy what you keep.
    """

    def __cinit__(self, *args, **kwargs):
        memset(&self.st, 0, sizeof(DecState))
        self.venue = ""

    def __init__(self, instruments=(), *, bint strict=False, int fee_decimals=10,
                 Py_ssize_t capacity=256):
        if fee_decimals < 0 or fee_decimals > 18:
            raise ValueError("fee_decimals must be 0..18")
        self.st.strict = strict
        self.st.fee_decimals = fee_decimals
        self.reserve(capacity)
        for inst in instruments:
            self.add_instrument(inst)

    def __dealloc__(self):
        PyMem_RawFree(self.st.deltas)
        PyMem_RawFree(self.st.trades)
        PyMem_RawFree(self.st.bbos)
        PyMem_RawFree(self.st.orders)
        PyMem_RawFree(self.st.syms)
        while self.st.n_retired > 0:
            self.st.n_retired -= 1
            PyMem_RawFree(self.st.retired[self.st.n_retired])

    def reserve(self, Py_ssize_t capacity):
        """Make room for ``capacity`` records of each type (buffers otherwise grow by doubling)."""
        if capacity < 1 or capacity > (1 << 26):
            raise ValueError("capacity must be 1..2**26")
        while self.st.cap_deltas < capacity:
            if grow(&self.st, <void**>&self.st.deltas, &self.st.cap_deltas, sizeof(BookDelta)):
                raise MemoryError()
        while self.st.cap_trades < capacity:
            if grow(&self.st, <void**>&self.st.trades, &self.st.cap_trades, sizeof(TradeRecord)):
                raise MemoryError()
        while self.st.cap_bbos < capacity:
            if grow(&self.st, <void**>&self.st.bbos, &self.st.cap_bbos, sizeof(BBORecord)):
                raise MemoryError()
        while self.st.cap_orders < capacity:
            if grow(&self.st, <void**>&self.st.orders, &self.st.cap_orders, sizeof(OrderUpdate)):
                raise MemoryError()

    # -- symbols ---------------------------------------------------------------------------

    def add_symbol(self, symbol, instrument_id, price_decimals, size_decimals):
        """Map the venue's symbol text to an instrument id and its price/size decimals."""
        cdef bytes key = symbol.encode() if isinstance(symbol, str) else bytes(symbol)
        cdef Py_ssize_t n = len(key)
        cdef SymEntry* e
        cdef SymEntry* old
        cdef Py_ssize_t oldcap, i
        cdef uint64_t j, mask
        if n == 0 or n > SYMBOL_MAX:
            raise ValueError(f"symbol must be 1..{SYMBOL_MAX} bytes: {symbol!r}")
        if not 0 <= price_decimals <= 18 or not 0 <= size_decimals <= 18:
            raise ValueError("decimals must be 0..18")
        if not 0 <= instrument_id < 2 ** 32:
            raise ValueError("instrument_id must fit in 32 bits")
        if (self.st.sym_count + 1) * 2 > self.st.sym_cap:
            old = self.st.syms
            oldcap = self.st.sym_cap
            self.st.sym_cap = oldcap * 2 if oldcap else 16
            self.st.syms = <SymEntry*>PyMem_RawMalloc(<size_t>self.st.sym_cap * sizeof(SymEntry))
            if self.st.syms == NULL:
                self.st.syms = old
                self.st.sym_cap = oldcap
                raise MemoryError()
            memset(self.st.syms, 0, <size_t>self.st.sym_cap * sizeof(SymEntry))
            mask = <uint64_t>self.st.sym_cap - 1
            for i in range(oldcap):
                if old[i].used:
                    j = sym_hash(old[i].name, old[i].length) & mask
                    while self.st.syms[j].used:
                        j = (j + 1) & mask
                    self.st.syms[j] = old[i]
            PyMem_RawFree(old)
        mask = <uint64_t>self.st.sym_cap - 1
        j = sym_hash(key, n) & mask
        while True:
            e = &self.st.syms[j]
            if not e.used:
                self.st.sym_count += 1
                break
            if e.length == n and memcmp(e.name, <const char*>key, <size_t>n) == 0:
                break
            j = (j + 1) & mask
        memcpy(e.name, <const char*>key, <size_t>n)
        e.name[n] = 0
        e.length = <int>n
        e.used = 1
        e.instrument_id = instrument_id
        e.price_decimals = price_decimals
        e.size_decimals = size_decimals

    def add_instrument(self, instrument):
        """Add an ``hftcore.Instrument`` (its symbol, instrument_id and decimals)."""
        self.add_symbol(instrument.symbol, instrument.instrument_id,
                        instrument.price_decimals, instrument.size_decimals)

    @property
    def symbols(self):
        """symbol -> (instrument_id, price_decimals, size_decimals)."""
        out = {}
        for i in range(self.st.sym_cap):
            if self.st.syms[i].used:
                out[self.st.syms[i].name[:self.st.syms[i].length].decode()] = (
                    self.st.syms[i].instrument_id, self.st.syms[i].price_decimals,
                    self.st.syms[i].size_decimals)
        return out

    # -- decoding --------------------------------------------------------------------------

    cdef int decode_c(self, const char* data, Py_ssize_t n, ts_t recv_ts) noexcept nogil:
        cdef Scan sc
        cdef int kind
        cdef DecState* d = &self.st
        memset(&d.info, 0, sizeof(MsgInfo))
        d.info.local_ts = recv_ts
        d.info.prev_seq = -1
        d.info.what = b""
        sc.base = data
        sc.p = data
        sc.end = data + n
        sc.err = 0
        sc.err_at = data
        d.n_messages += 1
        kind = self._decode(d, &sc)
        if kind >= 0:
            sk_ws(&sc)
            if sc.p != sc.end:
                kind = fail(&sc, E_EXTRA, sc.p)
        if kind < 0:
            if sc.err == 0:
                sc.err = E_SHAPE
            d.info.n_deltas = 0
            d.info.n_trades = 0
            d.info.n_bbos = 0
            d.info.n_orders = 0
            d.info.kind = K_NONE
            d.info.err = sc.err
            d.info.err_offset = sc.err_at - data
            d.n_errors += 1
            return -sc.err
        if kind == K_UNKNOWN_SYMBOL:
            d.info.n_deltas = 0
            d.info.n_trades = 0
            d.info.n_bbos = 0
            d.info.n_orders = 0
        d.info.kind = kind
        d.counts[kind] += 1
        return kind

    cdef int _decode(self, DecState* st, Scan* sc) noexcept nogil:
        return fail(sc, E_SHAPE, sc.p)

    def decode(self, data, long long recv_ts=0):
        """Decode one message (bytes-like) received at ``recv_ts`` (ns); returns its kind.

        Raises ``hftcore.DecodeError`` (venue, kind, byte offset) on bad input; then every
        record batch is empty.
        """
        cdef const unsigned char[::1] mv
        cdef int r
        if type(data) is bytes:
            r = self.decode_c(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), recv_ts)
        else:
            mv = data
            if mv.shape[0] == 0:
                r = self.decode_c(b"", 0, recv_ts)
            else:
                r = self.decode_c(<const char*>&mv[0], mv.shape[0], recv_ts)
        if r < 0:
            self._raise(-r)
        return r

    def decode_loop(self, data, Py_ssize_t repeat, long long recv_ts=0):
        """Decode ``data`` ``repeat`` times in a loop without the GIL (benchmarks: the cost of
        the C entry point the engine calls).  Returns the elapsed nanoseconds."""
        cdef const unsigned char[::1] mv = data
        cdef const char* p
        cdef Py_ssize_t n = mv.shape[0], i
        if n == 0:
            raise ValueError("empty message")
        p = <const char*>&mv[0]
        cdef int r = 0
        cdef timespec t0, t1
        with nogil:
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0)
            for i in range(repeat):
                r = self.decode_c(p, n, recv_ts)
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1)
        if r < 0:
            self._raise(-r)
        return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)

    def _raise(self, int code):
        if code == E_CAPACITY:
            raise MemoryError(f"{self.venue}: the record buffers could not grow (out of memory, "
                              "or too many old buffers held by live numpy views)")
        what = (<bytes>self.st.info.what).decode() if self.st.info.what != NULL else ""
        raise DecodeError(ERROR_NAMES[code] if 0 < code < E_COUNT else "decode error",
                          self.venue, what, self.st.info.err_offset)

    def _view(self, size_t addr, Py_ssize_t n, Py_ssize_t item, object dtype):
        cdef void* ptr = <void*>addr
        cdef _RecordBuffer b
        if n == 0:
            return np.empty(0, dtype=dtype)
        b = _RecordBuffer.__new__(_RecordBuffer)
        b.owner = self
        b.ptr = <char*>ptr
        b.nbytes = n * item
        return np.frombuffer(b, dtype=dtype, count=n)

    @property
    def deltas(self):
        """Book deltas of the last message (numpy view, borrowed until the next decode)."""
        return self._view(<size_t>self.st.deltas, self.st.info.n_deltas, sizeof(BookDelta),
                          BOOK_DELTA_DTYPE)

    @property
    def trades(self):
        """Trades of the last message (numpy view, borrowed until the next decode)."""
        return self._view(<size_t>self.st.trades, self.st.info.n_trades, sizeof(TradeRecord), TRADE_DTYPE)

    @property
    def bbos(self):
        """Best bid/offer records of the last message (numpy view, borrowed)."""
        return self._view(<size_t>self.st.bbos, self.st.info.n_bbos, sizeof(BBORecord), BBO_DTYPE)

    @property
    def orders(self):
        """Order updates of the last message (numpy view, borrowed)."""
        return self._view(<size_t>self.st.orders, self.st.info.n_orders, sizeof(OrderUpdate),
                          ORDER_UPDATE_DTYPE)

    @property
    def n_deltas(self):
        return self.st.info.n_deltas

    @property
    def n_trades(self):
        return self.st.info.n_trades

    @property
    def n_bbos(self):
        return self.st.info.n_bbos

    @property
    def n_orders(self):
        return self.st.info.n_orders

    @property
    def kind(self):
        return self.st.info.kind

    @property
    def instrument_id(self):
        return self.st.info.instrument_id

    @property
    def symbol(self):
        """The last message's symbol text ('' when it had none)."""
        return self.st.info.symbol[:self.st.info.symbol_len].decode("utf-8", "replace")

    @property
    def exchange_ts(self):
        return self.st.info.exchange_ts

    @property
    def local_ts(self):
        return self.st.info.local_ts

    @property
    def first_seq(self):
        return self.st.info.first_seq

    @property
    def last_seq(self):
        return self.st.info.last_seq

    @property
    def prev_seq(self):
        return self.st.info.prev_seq

    @property
    def cross_seq(self):
        return self.st.info.cross_seq

    @property
    def has_seq(self):
        return bool(self.st.info.flags & INFO_HAS_SEQ)

    @property
    def checksum(self):
        """The venue's book checksum of the last message, or None when it sent none."""
        if self.st.info.flags & INFO_HAS_CHECKSUM:
            return self.st.info.checksum
        return None

    @property
    def republish(self):
        return bool(self.st.info.flags & INFO_REPUBLISH)

    @property
    def counts(self):
        """Messages decoded per kind name, plus 'errors' and 'messages'."""
        out = {KIND_NAMES[i]: self.st.counts[i] for i in range(1, K_COUNT)}
        out["errors"] = self.st.n_errors
        out["messages"] = self.st.n_messages
        return out

    @property
    def exports(self):
        """Number of live numpy views of the record buffers."""
        return self.st.exports


@cython.final
cdef class BinanceDecoder(Decoder):
    """Binance spot: depthUpdate, trade, aggTrade, bookTicker, executionReport (bare, in the
    combined-stream ``{"stream","data"}`` or WebSocket-API ``{"subscriptionId","event"}``
    wrappers) and the REST depth snapshot via :meth:`decode_depth_snapshot`."""

    def __cinit__(self, *args, **kwargs):
        self.venue = "binance"

    cdef int _decode(self, DecState* st, Scan* sc) noexcept nogil:
        return bn_decode(st, sc)

    cdef int decode_depth_snapshot_c(self, const char* data, Py_ssize_t n, ts_t recv_ts,
                                     const char* symbol, Py_ssize_t symbol_len) noexcept nogil:
        cdef Scan sc
        cdef int kind
        cdef DecState* d = &self.st
        cdef SymEntry* sym
        memset(&d.info, 0, sizeof(MsgInfo))
        d.info.local_ts = recv_ts
        d.info.prev_seq = -1
        d.info.what = b"depth snapshot"
        sc.base = data
        sc.p = data
        sc.end = data + n
        sc.err = 0
        sc.err_at = data
        d.n_messages += 1
        sym = sym_get(d, &sc, symbol, symbol_len)
        if sym == NULL:
            d.info.kind = K_UNKNOWN_SYMBOL
            d.counts[K_UNKNOWN_SYMBOL] += 1
            return K_UNKNOWN_SYMBOL
        kind = bn_snapshot(d, &sc, sym)
        if kind >= 0:
            sk_ws(&sc)
            if sc.p != sc.end:
                kind = fail(&sc, E_EXTRA, sc.p)
        if kind < 0:
            d.info.n_deltas = 0
            d.info.kind = K_NONE
            d.info.err = sc.err
            d.info.err_offset = sc.err_at - data
            d.n_errors += 1
            return -sc.err
        d.info.kind = kind
        d.counts[kind] += 1
        return kind

    def decode_depth_snapshot(self, data, str symbol, long long recv_ts=0):
        """Decode a REST ``GET /api/v3/depth`` body for ``symbol``: BOOK_SNAPSHOT deltas whose
        sequence is ``lastUpdateId``."""
        cdef const unsigned char[::1] mv = data
        cdef bytes sym = symbol.encode()
        cdef int r
        if mv.shape[0] == 0:
            r = self.decode_depth_snapshot_c(b"", 0, recv_ts, sym, len(sym))
        else:
            r = self.decode_depth_snapshot_c(<const char*>&mv[0], mv.shape[0], recv_ts, sym,
                                             len(sym))
        if r < 0:
            self._raise(-r)
        return r


@cython.final
cdef class BybitDecoder(Decoder):
    def __cinit__(self, *args, **kwargs):
        self.venue = "bybit"

    cdef int _decode(self, DecState* st, Scan* sc) noexcept nogil:
        return by_decode(st, sc)


@cython.final
cdef class OkxDecoder(Decoder):
    def __cinit__(self, *args, **kwargs):
        self.venue = "okx"

    cdef int _decode(self, DecState* st, Scan* sc) noexcept nogil:
        return ok_decode(st, sc)


@cython.final
cdef class KrakenDecoder(Decoder):
    def __cinit__(self, *args, **kwargs):
        self.venue = "kraken"

    cdef int _decode(self, DecState* st, Scan* sc) noexcept nogil:
        return kr_decode(st, sc)


@cython.final
cdef class CoinbaseDecoder(Decoder):
    def __cinit__(self, *args, **kwargs):
        self.venue = "coinbase"

    cdef int _decode(self, DecState* st, Scan* sc) noexcept nogil:
        return co_decode(st, sc)
