# JSON scanning over `const char*` without the GIL, shared by every venue decoder: whitespace,
# strings (escapes and UTF-8 validated), numbers (RFC 8259 grammar), objects, arrays, skipping a
# value (validated, depth-limited), decimal text -> int64 at a number of decimals (exact, via
# fixed.pxd), integers, ids, and times (milliseconds, decimal seconds, RFC 3339) -> int64 ns.
#
# Every function is `cdef inline ... noexcept nogil`.  Functions that read return 0 (or a
# positive result) on success and -1 on failure, with the first error's code and position kept
# in the Scan (scan_fail).  Nothing here knows about venues or records.
from libc.stdint cimport int64_t, uint64_t, uint32_t, INT64_MAX
from libc.string cimport memcmp, memcpy, strlen
from hftcore._ext.fixed cimport fx_parse, FX_OK, FX_PRECISION, RND_EXACT, HFX_POW10
from hftcore._ext.records cimport (
    Scan, MAX_DEPTH, E_TRUNCATED, E_SYNTAX, E_UTF8, E_ESCAPE, E_DEPTH, E_TYPE, E_MISSING,
    E_EXTRA, E_NUMBER, E_PRECISION, E_TOO_LONG, E_TIME,
)


# JSON value types (Field.type)
cdef enum:
    JSON_ABSENT = 0         # the field was not in the object
    JSON_STRING = 1         # Field.s/n: the text between the quotes (escapes left as they are)
    JSON_NUMBER = 2         # Field.s/n: the number's text
    JSON_TRUE = 3
    JSON_FALSE = 4
    JSON_NULL = 5
    JSON_OBJECT = 6         # Field.s/n: the raw text of the value
    JSON_ARRAY = 7

cdef enum:
    CONTROL_KEYS_MAX = 64   # keys checked for duplicates in a control message

ctypedef struct Field:
    const char* s
    Py_ssize_t n
    int type                # JSON_*


cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    /* 1 for bytes that end the fast scan of a JSON string: quote, backslash, control
       characters and non-ASCII (validated by the slow path). */
    static const unsigned char HFT_STRING_STOP[256] = {
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
        0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1};

    /* 8 ASCII digits at p -> their value, or -1 if they are not all digits (SWAR; the
       load goes through memcpy, so p needs no alignment). */
    static inline int64_t hft_eight_digits(const char *p) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t x;
        memcpy(&x, p, 8);
        if ((((x & 0xF0F0F0F0F0F0F0F0ULL) |
              (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4))) !=
                0x3333333333333333ULL)
            return -1;
        x -= 0x3030303030303030ULL;
        x = (x * 10) + (x >> 8);
        x = (((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
             (((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
        return (int64_t)(uint32_t)x;
    #else
        (void)p;
        return -1;
    #endif
    }

    /* The common wire decimal "123.4500" at p (just after the opening quote), exactly:
       1 with *out and *after (past the closing quote), or 0 for anything else (signs, exponents,
       more than 18 digits, more decimals than allowed, no closing quote) -- the caller then
       runs the full parser, which also reports errors.  Unsigned arithmetic only: a long digit
       run may wrap v, but is then refused by the digit count. */
    static inline int hft_decimal_fast(const char *p, const char *end, int decimals,
                                       int64_t *out, const char **after) {
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
            decimals < 0 || nfrac > decimals || decimals > 18 || nint + decimals > 18)
            return 0;
        *out = (int64_t)(v * P10[decimals - nfrac]);
        *after = p + 1;
        return 1;
    }

    /* A JSON number at p written plainly ("27450.1", "0.001", "-2.5" when negatives are
       allowed): its exact value at `decimals`, in one pass that also checks the grammar --
       1 with *out and *after (the byte after the number; the caller checks what it is), or 0
       for anything else (an exponent, a leading zero before a digit, "1.", more than 18
       digits, more decimals than allowed, the end of the buffer): the caller then runs the
       full parser, which also reports errors.  The magnitude v times 10^(decimals - nfrac)
       stays below 10^18, so neither it nor its negation can overflow. */
    static inline int hft_number_fast(const char *p, const char *end, int decimals,
                                      int allow_negative, int64_t *out, const char **after) {
        static const uint64_t P10[19] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL,
            1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
            100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
            1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
            1000000000000000000ULL};
        const char *lim, *s0;
        uint64_t v = 0;
        unsigned c;
        int nint, nfrac = 0, negative = 0;
        if (p < end && *p == '-') {
            if (!allow_negative) return 0;
            negative = 1;
            p++;
        }
        lim = (end - p > 40) ? p + 40 : end;
        s0 = p;
        while (p < lim && (c = (unsigned char)*p - 48u) <= 9) { v = v * 10 + c; p++; }
        nint = (int)(p - s0);
        if (nint == 0 || (nint > 1 && *s0 == '0')) return 0;
        if (p < lim && *p == '.') {
            const char *f0 = ++p;
            while (p < lim && (c = (unsigned char)*p - 48u) <= 9) { v = v * 10 + c; p++; }
            nfrac = (int)(p - f0);
            if (nfrac == 0) return 0;
        }
        if (p >= end || *p == 'e' || *p == 'E' || nint + nfrac > 18 || decimals < 0 ||
            nfrac > decimals || decimals > 18 || nint + decimals > 18)
            return 0;
        v *= P10[decimals - nfrac];
        *out = negative ? -(int64_t)v : (int64_t)v;
        *after = p;
        return 1;
    }

    /* "1618678133.365913" (Unix seconds, at most 10 integer and 9 fractional digits, closing
       quote) -> ns when it fits in int64; 0 to fall back to the checked parser.  10 digits
       times 10^9 stays below 2^64, so the unsigned product cannot wrap. */
    static inline int hft_seconds_fast(const char *p, const char *end, int64_t *out,
                                       const char **after) {
        const char *lim = (end - p > 24) ? p + 24 : end;
        const char *s0 = p;
        uint64_t sec = 0, frac = 0, ns;
        unsigned c;
        int nf = 0;
        while (p < lim && (c = (unsigned char)*p - 48u) <= 9) { sec = sec * 10 + c; p++; }
        if (p == s0 || p - s0 > 10) return 0;
        if (p < lim && *p == '.') {
            const char *f0 = ++p;
            while (p < lim && (c = (unsigned char)*p - 48u) <= 9) { frac = frac * 10 + c; p++; }
            nf = (int)(p - f0);
            if (nf == 0 || nf > 9) return 0;
            while (nf < 9) { frac *= 10; nf++; }
        }
        if (p >= end || *p != '"') return 0;
        ns = sec * 1000000000ULL + frac;
        if (ns > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)ns;
        *after = p + 1;
        return 1;
    }

    /* A literal at *pp: always inlined so that memcmp of a constant length becomes a few
       compares. */
    static inline __attribute__((always_inline)) int hft_fast_literal(
            const char **pp, const char *end, const char *w, Py_ssize_t n) {
        if (end - *pp >= n && memcmp(*pp, w, (size_t)n) == 0) { *pp += n; return 1; }
        return 0;
    }
    """
    const unsigned char HFT_STRING_STOP[256]
    int64_t hft_eight_digits(const char* p) noexcept nogil
    int hft_decimal_fast(const char* p, const char* end, int decimals, int64_t* out,
                         const char** after) noexcept nogil
    int hft_number_fast(const char* p, const char* end, int decimals, int allow_negative,
                        int64_t* out, const char** after) noexcept nogil
    int hft_seconds_fast(const char* p, const char* end, int64_t* out,
                         const char** after) noexcept nogil
    bint fast_literal "hft_fast_literal"(const char** pp, const char* end, const char* word,
                                         Py_ssize_t n) noexcept nogil


# ---------------------------------------------------------------------------------------------
# Cursor and errors
# ---------------------------------------------------------------------------------------------

cdef inline void scan_init(Scan* sc, const char* data, Py_ssize_t n) noexcept nogil:
    sc.base = data
    sc.p = data
    sc.end = data + n
    sc.err = 0
    sc.err_at = data


cdef inline int scan_fail(Scan* sc, int code, const char* at) noexcept nogil:
    """Record the first error (code, position) and return -1."""
    if sc.err == 0:
        if at >= sc.end and (code == E_SYNTAX or code == E_TYPE):
            code = E_TRUNCATED
        sc.err = code
        if at == NULL or at < sc.base:
            at = sc.base
        sc.err_at = at if at <= sc.end else sc.end
    return -1


cdef inline void scan_sub(Scan* sc, Scan* sub, const char* at) noexcept nogil:
    """A second cursor over the same message, at `at` (a remembered value)."""
    sub[0] = sc[0]
    sub.p = at


cdef inline int scan_lift_error(Scan* sc, Scan* sub) noexcept nogil:
    """Carry a sub-cursor's error back to the main cursor; returns -1."""
    if sc.err == 0:
        sc.err = sub.err
        sc.err_at = sub.err_at
    return -1


cdef inline bint text_is(const char* s, Py_ssize_t n, const char* word) noexcept nogil:
    return (n > 0 and s != NULL and s[0] == word[0] and n == <Py_ssize_t>strlen(word)
            and memcmp(s, word, <size_t>n) == 0)


cdef inline bint text_starts(const char* s, Py_ssize_t n, const char* prefix) noexcept nogil:
    cdef Py_ssize_t k = <Py_ssize_t>strlen(prefix)
    return s != NULL and n >= k and memcmp(s, prefix, <size_t>k) == 0


cdef inline void scan_skip_ws(Scan* sc) noexcept nogil:
    cdef const char* p = sc.p
    while p < sc.end and (p[0] == b' ' or p[0] == b'\n' or p[0] == b'\r' or p[0] == b'\t'):
        p += 1
    sc.p = p


cdef inline int scan_fail_here(Scan* sc) noexcept nogil:
    """Fail at sc.p: a type error when a JSON value starts there, else a syntax error."""
    cdef char c
    if sc.p >= sc.end:
        return scan_fail(sc, E_TRUNCATED, sc.p)
    c = sc.p[0]
    if (c == b'{' or c == b'[' or c == b'"' or c == b'-' or (c >= b'0' and c <= b'9')
            or c == b't' or c == b'f' or c == b'n'):
        return scan_fail(sc, E_TYPE, sc.p)
    return scan_fail(sc, E_SYNTAX, sc.p)


cdef inline int scan_char(Scan* sc, char ch) noexcept nogil:
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == ch:
        sc.p += 1
        return 0
    return scan_fail(sc, E_SYNTAX, sc.p)


cdef inline bint scan_next_is(Scan* sc, char ch) noexcept nogil:
    """After whitespace, does the next value start with ch?"""
    scan_skip_ws(sc)
    return sc.p < sc.end and sc.p[0] == ch


cdef inline int scan_literal(Scan* sc, const char* word) noexcept nogil:
    cdef Py_ssize_t n = <Py_ssize_t>strlen(word)
    if sc.end - sc.p < n:
        return scan_fail(sc, E_TRUNCATED, sc.end)
    if memcmp(sc.p, word, <size_t>n) != 0:
        return scan_fail(sc, E_SYNTAX, sc.p)
    sc.p += n
    return 0


# ---------------------------------------------------------------------------------------------
# Strings and numbers
# ---------------------------------------------------------------------------------------------

cdef inline int hex_digit(char c) noexcept nogil:
    if c >= b'0' and c <= b'9':
        return c - 48
    if c >= b'a' and c <= b'f':
        return c - 87
    if c >= b'A' and c <= b'F':
        return c - 55
    return -1


cdef inline int hex4(const char* p) noexcept nogil:
    cdef int a = hex_digit(p[0]), b = hex_digit(p[1]), c = hex_digit(p[2]), d = hex_digit(p[3])
    if a < 0 or b < 0 or c < 0 or d < 0:
        return -1
    return (a << 12) | (b << 8) | (c << 4) | d


cdef inline bint utf8_continuation(const char* p) noexcept nogil:
    return (<unsigned char>p[0] & 0xC0) == 0x80


cdef inline int scan_string_rest(Scan* sc, const char* start, const char* p, const char** s,
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
            return scan_fail(sc, E_TRUNCATED, p)
        c = <unsigned char>p[0]
        if c == 34:                                       # closing quote
            s[0] = start
            n[0] = p - start
            sc.p = p + 1
            return 0
        if c == 92:                                       # backslash
            if p + 1 >= end:
                return scan_fail(sc, E_TRUNCATED, p)
            c1 = <unsigned char>p[1]
            if (c1 == 34 or c1 == 92 or c1 == 47 or c1 == 98 or c1 == 102 or c1 == 110
                    or c1 == 114 or c1 == 116):
                p += 2
                continue
            if c1 != 117:                                 # 'u'
                return scan_fail(sc, E_ESCAPE, p)
            if end - p < 6:
                return scan_fail(sc, E_TRUNCATED, p)
            u = hex4(p + 2)
            if u < 0:
                return scan_fail(sc, E_ESCAPE, p)
            if u >= 0xDC00 and u <= 0xDFFF:               # lone low surrogate
                return scan_fail(sc, E_ESCAPE, p)
            if u >= 0xD800 and u <= 0xDBFF:               # needs a low surrogate next
                if end - p < 12:
                    return scan_fail(sc, E_TRUNCATED, p)
                if p[6] != b'\\' or p[7] != b'u':
                    return scan_fail(sc, E_ESCAPE, p)
                lo = hex4(p + 8)
                if lo < 0xDC00 or lo > 0xDFFF:
                    return scan_fail(sc, E_ESCAPE, p)
                p += 12
            else:
                p += 6
            continue
        if c < 0x20:
            return scan_fail(sc, E_SYNTAX, p)             # raw control character
        # UTF-8 sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF)
        if c >= 0xC2 and c <= 0xDF:
            need = 1
        elif c >= 0xE0 and c <= 0xEF:
            need = 2
        elif c >= 0xF0 and c <= 0xF4:
            need = 3
        else:
            return scan_fail(sc, E_UTF8, p)
        if end - p <= need:
            return scan_fail(sc, E_TRUNCATED, p)
        c1 = <unsigned char>p[1]
        if ((c == 0xE0 and c1 < 0xA0) or (c == 0xED and c1 > 0x9F)
                or (c == 0xF0 and c1 < 0x90) or (c == 0xF4 and c1 > 0x8F)):
            return scan_fail(sc, E_UTF8, p)
        if (not utf8_continuation(p + 1) or (need >= 2 and not utf8_continuation(p + 2))
                or (need == 3 and not utf8_continuation(p + 3))):
            return scan_fail(sc, E_UTF8, p)
        p += need + 1


cdef inline int scan_string(Scan* sc, const char** s, Py_ssize_t* n) noexcept nogil:
    """A JSON string; s/n get the raw text between the quotes (escapes left as they are)."""
    cdef const char* p
    cdef const char* start
    cdef const char* end = sc.end
    scan_skip_ws(sc)
    p = sc.p
    if p >= end or p[0] != b'"':
        return scan_fail_here(sc)
    p += 1
    start = p
    while p < end and not HFT_STRING_STOP[<unsigned char>p[0]]:
        p += 1
    if p < end and p[0] == b'"':
        s[0] = start
        n[0] = p - start
        sc.p = p + 1
        return 0
    return scan_string_rest(sc, start, p, s, n)


cdef inline int scan_string_field(Scan* sc, Field* out) noexcept nogil:
    if scan_string(sc, &out.s, &out.n) < 0:
        return -1
    out.type = JSON_STRING
    return 0


cdef inline int scan_number(Scan* sc, const char** s, Py_ssize_t* n) noexcept nogil:
    """A JSON number (RFC 8259 grammar); s/n get its text."""
    cdef const char* p
    cdef const char* start
    cdef const char* end = sc.end
    scan_skip_ws(sc)
    p = sc.p
    start = p
    if p < end and p[0] == b'-':
        p += 1
    if p >= end:
        return scan_fail(sc, E_TRUNCATED, p)
    if p[0] == b'0':
        p += 1
    elif p[0] >= b'1' and p[0] <= b'9':
        while p < end and p[0] >= b'0' and p[0] <= b'9':
            p += 1
    elif p == start:
        return scan_fail_here(sc)
    else:
        return scan_fail(sc, E_SYNTAX, p)
    if p < end and p[0] == b'.':
        p += 1
        if p >= end or p[0] < b'0' or p[0] > b'9':
            return scan_fail(sc, E_SYNTAX, p)
        while p < end and p[0] >= b'0' and p[0] <= b'9':
            p += 1
    if p < end and (p[0] == b'e' or p[0] == b'E'):
        p += 1
        if p < end and (p[0] == b'+' or p[0] == b'-'):
            p += 1
        if p >= end or p[0] < b'0' or p[0] > b'9':
            return scan_fail(sc, E_SYNTAX, p)
        while p < end and p[0] >= b'0' and p[0] <= b'9':
            p += 1
    s[0] = start
    n[0] = p - start
    sc.p = p
    return 0


cdef inline int scan_skip_value(Scan* sc, int depth) noexcept nogil:
    """Skip one JSON value, validating it fully (nesting limited to MAX_DEPTH)."""
    cdef const char* s
    cdef Py_ssize_t n
    cdef char c, close
    scan_skip_ws(sc)
    if sc.p >= sc.end:
        return scan_fail(sc, E_TRUNCATED, sc.p)
    c = sc.p[0]
    if c == b'"':
        return scan_string(sc, &s, &n)
    if c == b'{' or c == b'[':
        close = b'}' if c == b'{' else b']'
        if depth >= MAX_DEPTH:
            return scan_fail(sc, E_DEPTH, sc.p)
        sc.p += 1
        scan_skip_ws(sc)
        if sc.p < sc.end and sc.p[0] == close:
            sc.p += 1
            return 0
        while True:
            if c == b'{':
                if scan_string(sc, &s, &n) < 0 or scan_char(sc, b':') < 0:
                    return -1
            if scan_skip_value(sc, depth + 1) < 0:
                return -1
            scan_skip_ws(sc)
            if sc.p >= sc.end:
                return scan_fail(sc, E_TRUNCATED, sc.p)
            if sc.p[0] == b',':
                sc.p += 1
                continue
            if sc.p[0] == close:
                sc.p += 1
                return 0
            return scan_fail(sc, E_SYNTAX, sc.p)
    if c == b't':
        return scan_literal(sc, b"true")
    if c == b'f':
        return scan_literal(sc, b"false")
    if c == b'n':
        return scan_literal(sc, b"null")
    return scan_number(sc, &s, &n)


cdef inline int scan_value(Scan* sc, int depth, Field* out) noexcept nogil:
    """Read (validate) one value of any type into a Field: a string's contents, or the raw
    text of a number / literal / object / array."""
    cdef const char* start
    cdef char c
    scan_skip_ws(sc)
    if sc.p >= sc.end:
        return scan_fail(sc, E_TRUNCATED, sc.p)
    c = sc.p[0]
    if c == b'"':
        return scan_string_field(sc, out)
    start = sc.p
    if scan_skip_value(sc, depth) < 0:
        return -1
    out.s = start
    out.n = sc.p - start
    if c == b'{':
        out.type = JSON_OBJECT
    elif c == b'[':
        out.type = JSON_ARRAY
    elif c == b't':
        out.type = JSON_TRUE
    elif c == b'f':
        out.type = JSON_FALSE
    elif c == b'n':
        out.type = JSON_NULL
    else:
        out.type = JSON_NUMBER
    return 0


# ---------------------------------------------------------------------------------------------
# Objects and arrays
# ---------------------------------------------------------------------------------------------

cdef inline int scan_object_open(Scan* sc) noexcept nogil:
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'{':
        sc.p += 1
        return 0
    return scan_fail_here(sc)


cdef inline int scan_array_open(Scan* sc) noexcept nogil:
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'[':
        sc.p += 1
        return 0
    return scan_fail_here(sc)


cdef inline int scan_object_key(Scan* sc, int* state, const char** k,
                                Py_ssize_t* kn) noexcept nogil:
    """Next key of an object opened with scan_object_open (state starts at 0): 1 when a key
    was read with its colon, 0 at the end of the object (consumed), -1 on error."""
    cdef const char* p
    cdef const char* q
    scan_skip_ws(sc)
    if sc.p >= sc.end:
        return scan_fail(sc, E_TRUNCATED, sc.p)
    if sc.p[0] == b'}':
        sc.p += 1
        return 0
    if state[0] == 1:
        if sc.p[0] != b',':
            return scan_fail(sc, E_SYNTAX, sc.p)
        sc.p += 1
        scan_skip_ws(sc)
        if sc.p < sc.end and sc.p[0] == b'}':                  # "{...,}"
            return scan_fail(sc, E_SYNTAX, sc.p)
    state[0] = 1
    # fast path: a plain ASCII key directly followed by ':'
    p = sc.p
    if p < sc.end and p[0] == b'"':
        q = p + 1
        while q < sc.end and not HFT_STRING_STOP[<unsigned char>q[0]]:
            q += 1
        if sc.end - q >= 2 and q[0] == b'"' and q[1] == b':':
            k[0] = p + 1
            kn[0] = q - p - 1
            sc.p = q + 2
            return 1
    if scan_string(sc, k, kn) < 0 or scan_char(sc, b':') < 0:
        return -1
    return 1


cdef inline int scan_seen_once(Scan* sc, uint64_t* seen, int bit, const char* key) noexcept nogil:
    """Mark field `bit` as seen; a duplicate key is an error (E_EXTRA at the key)."""
    cdef uint64_t m = (<uint64_t>1) << bit
    if seen[0] & m:
        return scan_fail(sc, E_EXTRA, key)
    seen[0] |= m
    return 0


cdef inline int scan_array_next(Scan* sc, int* state) noexcept nogil:
    """1 when another element follows (positioned at it), 0 when the array ended (consumed)."""
    scan_skip_ws(sc)
    if sc.p >= sc.end:
        return scan_fail(sc, E_TRUNCATED, sc.p)
    if sc.p[0] == b']':
        sc.p += 1
        return 0
    if state[0] == 1:
        if sc.p[0] != b',':
            return scan_fail(sc, E_SYNTAX, sc.p)
        sc.p += 1
        scan_skip_ws(sc)
        if sc.p < sc.end and sc.p[0] == b']':
            return scan_fail(sc, E_SYNTAX, sc.p)
    state[0] = 1
    return 1


cdef inline int scan_array_end(Scan* sc, int* state) noexcept nogil:
    """The array must end here: extra elements are an error."""
    cdef int r = scan_array_next(sc, state)
    if r == 0:
        return 0
    if r > 0:
        return scan_fail(sc, E_EXTRA, sc.p)
    return -1


cdef inline int scan_array_more(Scan* sc, int* state) noexcept nogil:
    """Another element must follow: a short array is a missing field."""
    cdef int r = scan_array_next(sc, state)
    if r > 0:
        return 0
    if r == 0:
        return scan_fail(sc, E_MISSING, sc.p - 1)
    return -1


cdef inline int scan_peek_keys(Scan* sc0, const char** names, int count, Field* values,
                               uint64_t* found, uint64_t string_mask) noexcept nogil:
    """Look at an object's top-level keys on a copy of the cursor: `found` gets bit i when
    names[i] is present, values[i] its value.  A name present twice is an error (E_EXTRA); a
    name whose bit is in string_mask must hold a string (E_TYPE).  Everything read is
    validated.  Stops early when names[0] is the first key and holds a string (the usual
    discriminator: the message's own parser then reads and checks the rest)."""
    cdef Scan c = sc0[0]
    cdef int st = 0, r, i, idx, nkeys = 0
    cdef const char* k
    cdef Py_ssize_t kn
    found[0] = 0
    for i in range(count):
        values[i].s = NULL
        values[i].n = 0
        values[i].type = JSON_ABSENT
    if scan_object_open(&c) < 0:
        return scan_lift_error(sc0, &c)
    while True:
        r = scan_object_key(&c, &st, &k, &kn)
        if r == 0:
            return 0
        if r < 0:
            return scan_lift_error(sc0, &c)
        nkeys += 1
        idx = -1
        for i in range(count):
            if text_is(k, kn, names[i]):
                idx = i
                break
        if idx < 0:
            if scan_skip_value(&c, 1) < 0:
                return scan_lift_error(sc0, &c)
            continue
        if scan_seen_once(&c, found, idx, k) < 0 or scan_value(&c, 1, &values[idx]) < 0:
            return scan_lift_error(sc0, &c)
        if (string_mask >> idx) & 1 and values[idx].type != JSON_STRING:
            scan_fail(&c, E_TYPE, values[idx].s)
            return scan_lift_error(sc0, &c)
        if idx == 0 and nkeys == 1 and values[0].type == JSON_STRING:
            return 0


cdef inline int scan_object_unique_keys(Scan* sc) noexcept nogil:
    """Validate an object whose top-level keys must all differ (control messages: an
    acknowledgement or error must not carry two different answers).  Keys are compared as
    sent; more than CONTROL_KEYS_MAX keys is refused too."""
    cdef const char* keys[64]
    cdef Py_ssize_t lens[64]
    cdef int st = 0, r, i, nkeys = 0
    cdef const char* k
    cdef Py_ssize_t kn
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            return 0
        if r < 0:
            return -1
        if nkeys == CONTROL_KEYS_MAX:
            return scan_fail(sc, E_EXTRA, k)
        for i in range(nkeys):
            if lens[i] == kn and (kn == 0 or memcmp(keys[i], k, <size_t>kn) == 0):
                return scan_fail(sc, E_EXTRA, k)
        keys[nkeys] = k
        lens[nkeys] = kn
        nkeys += 1
        if scan_skip_value(sc, 1) < 0:
            return -1


# ---------------------------------------------------------------------------------------------
# Integers, booleans, decimals
# ---------------------------------------------------------------------------------------------

cdef inline int int_text(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """Decimal integer text ("-123") -> int64: 0, or E_NUMBER when malformed or out of range.
    Unsigned accumulation with an explicit limit: no signed overflow."""
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef uint64_t v = 0, c, lim
    if s == NULL:
        return E_NUMBER
    if n > 0 and s[0] == b'-':
        neg = True
        i = 1
    if i >= n or n - i > 19:
        return E_NUMBER
    lim = <uint64_t>INT64_MAX + (1 if neg else 0)
    while i < n:
        c = <unsigned char>s[i] - 48
        if c > 9:
            return E_NUMBER
        if v > (lim - c) // 10:
            return E_NUMBER
        v = v * 10 + c
        i += 1
    out[0] = <int64_t>(~v + 1) if neg else <int64_t>v
    return 0


cdef inline int scan_int(Scan* sc, int64_t* out) noexcept nogil:
    """A JSON integer (a number without fraction or exponent), in one pass."""
    cdef const char* p
    cdef const char* start
    cdef const char* end = sc.end
    cdef uint64_t v = 0, c, lim = <uint64_t>INT64_MAX
    cdef bint neg = False
    cdef int nd
    scan_skip_ws(sc)
    p = sc.p
    start = p
    if p < end and p[0] == b'-':
        neg = True
        lim += 1
        p += 1
    if p >= end:
        return scan_fail(sc, E_TRUNCATED, p)
    c = <unsigned char>p[0] - 48
    if c > 9:
        return scan_fail_here(sc) if p == start else scan_fail(sc, E_SYNTAX, p)
    if c == 0 and end - p > 1 and p[1] >= b'0' and p[1] <= b'9':
        return scan_fail(sc, E_SYNTAX, p)                 # leading zero
    nd = 0
    while True:                                           # < 19 digits cannot overflow
        nd += 1
        if nd == 19:
            if v > (lim - c) // 10:
                return scan_fail(sc, E_NUMBER, start)
        elif nd > 19:
            return scan_fail(sc, E_NUMBER, start)
        v = v * 10 + c
        p += 1
        if p >= end:
            break
        c = <unsigned char>p[0] - 48
        if c > 9:
            break
    if p < end and (p[0] == b'.' or p[0] == b'e' or p[0] == b'E'):
        return scan_fail(sc, E_NUMBER, start)             # a fraction where an integer belongs
    out[0] = <int64_t>(~v + 1) if neg else <int64_t>v
    sc.p = p
    return 0


cdef inline int scan_int_string(Scan* sc, int64_t* out) noexcept nogil:
    """A JSON string holding an integer ("1652459225464")."""
    cdef const char* s
    cdef Py_ssize_t n
    if scan_string(sc, &s, &n) < 0:
        return -1
    if int_text(s, n, out):
        return scan_fail(sc, E_NUMBER, s)
    return 0


cdef inline int scan_int_any(Scan* sc, int64_t* out) noexcept nogil:
    """An integer sent as a JSON number or as a string."""
    if scan_next_is(sc, b'"'):
        return scan_int_string(sc, out)
    return scan_int(sc, out)


cdef inline int scan_bool(Scan* sc, bint* out) noexcept nogil:
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == b't':
        out[0] = True
        return scan_literal(sc, b"true")
    if sc.p < sc.end and sc.p[0] == b'f':
        out[0] = False
        return scan_literal(sc, b"false")
    return scan_fail_here(sc)


cdef inline int decimal_text_fast(const char* p, Py_ssize_t n, int decimals,
                                  int64_t* out) noexcept nogil:
    """"123.4500" forms (digits, optional dot, digits; <= 18 digits, <= decimals after the dot)
    exactly: 1, else 0 (use fx_parse)."""
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


cdef inline int decimal_text(Scan* sc, const char* s, Py_ssize_t n, int decimals,
                             bint allow_negative, int64_t* out) noexcept nogil:
    """Decimal text s[0:n] -> int64 count at `decimals`, exactly (E_PRECISION rather than
    rounding, E_NUMBER when malformed, negative where it cannot be, or out of range)."""
    cdef int r
    if s == NULL:
        return scan_fail(sc, E_TYPE, sc.p)
    if (n > 0 and n <= 19 and decimals >= 0 and decimals <= 18
            and decimal_text_fast(s, n, decimals, out)):
        return 0
    r = fx_parse(s, n, decimals, RND_EXACT, out)
    if r == FX_OK:
        if out[0] < 0 and not allow_negative:
            return scan_fail(sc, E_NUMBER, s)
        return 0
    if r == FX_PRECISION:
        return scan_fail(sc, E_PRECISION, s)
    return scan_fail(sc, E_NUMBER, s)


cdef inline int scan_decimal(Scan* sc, int decimals, int64_t* out) noexcept nogil:
    """A non-negative decimal in a JSON string ("0.35130000") -> int64 at decimals."""
    cdef const char* s
    cdef Py_ssize_t n
    cdef const char* after
    scan_skip_ws(sc)
    if (sc.p < sc.end and sc.p[0] == b'"'
            and hft_decimal_fast(sc.p + 1, sc.end, decimals, out, &after)):
        sc.p = after
        return 0
    if scan_string(sc, &s, &n) < 0:
        return -1
    return decimal_text(sc, s, n, decimals, False, out)


cdef inline int scan_decimal_number(Scan* sc, int decimals, int64_t* out) noexcept nogil:
    """A non-negative JSON number (Kraken v2, HTX send numbers): its exact text -> int64."""
    cdef const char* s
    cdef Py_ssize_t n
    if scan_number(sc, &s, &n) < 0:
        return -1
    return decimal_text(sc, s, n, decimals, False, out)


cdef inline int scan_decimal_any(Scan* sc, int decimals, int64_t* out) noexcept nogil:
    """A non-negative decimal sent as a string or as a JSON number."""
    if scan_next_is(sc, b'"'):
        return scan_decimal(sc, decimals, out)
    return scan_decimal_number(sc, decimals, out)


# ---------------------------------------------------------------------------------------------
# Text and ids
# ---------------------------------------------------------------------------------------------

cdef inline int copy_text(Scan* sc, char* dst, Py_ssize_t cap, const char* s,
                          Py_ssize_t n) noexcept nogil:
    """s[0:n] into a NUL-terminated fixed-size field (E_TOO_LONG when it does not fit)."""
    if n >= cap:
        return scan_fail(sc, E_TOO_LONG, s)
    if n > 0:
        memcpy(dst, s, <size_t>n)
    dst[n if n > 0 else 0] = 0
    return 0


cdef inline int id_text(Scan* sc, const char* s, Py_ssize_t n, char* text, Py_ssize_t cap,
                        int64_t* number) noexcept nogil:
    """An id: kept as text, and as int64 when it is a non-negative integer (else -1)."""
    if copy_text(sc, text, cap, s, n) < 0:
        return -1
    if int_text(s, n, number) or number[0] < 0:
        number[0] = -1
    return 0


cdef inline int trade_id_text(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """A trade id's text -> int64; 1 (out = -1) when it is not a non-negative integer."""
    if int_text(s, n, out) or out[0] < 0:
        out[0] = -1
        return 1
    return 0


# ---------------------------------------------------------------------------------------------
# Times -> int64 nanoseconds since the Unix epoch (1970-01-01 .. 2262-04-11; E_TIME outside)
# ---------------------------------------------------------------------------------------------

cdef inline int ms_to_ns(Scan* sc, int64_t ms, const char* at, int64_t* out) noexcept nogil:
    if ms < 0 or ms > INT64_MAX // 1000000:
        return scan_fail(sc, E_TIME, at)
    out[0] = ms * 1000000
    return 0


cdef inline int scan_ms(Scan* sc, int64_t* out) noexcept nogil:
    """Milliseconds (JSON integer or integer string) -> ns."""
    cdef int64_t v
    cdef const char* at
    scan_skip_ws(sc)
    at = sc.p
    if scan_int_any(sc, &v) < 0:
        return -1
    return ms_to_ns(sc, v, at, out)


cdef inline int seconds_text(Scan* sc, const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """Unix seconds as decimal text ("1618678133.365913", Kraken v1) -> ns, exactly (more than
    9 decimals, a sign or a value past int64 ns is E_TIME)."""
    if s == NULL or n == 0 or s[0] == b'-' or s[0] == b'+':
        return scan_fail(sc, E_TIME, s)
    if fx_parse(s, n, 9, RND_EXACT, out) != FX_OK or out[0] < 0:
        return scan_fail(sc, E_TIME, s)
    return 0


cdef inline int scan_seconds(Scan* sc, int64_t* out) noexcept nogil:
    """Seconds in a JSON string -> ns (fast path for plain "seconds.fraction")."""
    cdef const char* s
    cdef Py_ssize_t n
    cdef const char* after
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'"' and hft_seconds_fast(sc.p + 1, sc.end, out, &after):
        sc.p = after
        return 0
    if scan_string(sc, &s, &n) < 0:
        return -1
    return seconds_text(sc, s, n, out)


cdef inline int two_digits(const char* s, int* out) noexcept nogil:
    if s[0] < b'0' or s[0] > b'9' or s[1] < b'0' or s[1] > b'9':
        return -1
    out[0] = (s[0] - 48) * 10 + (s[1] - 48)
    return 0


cdef inline int days_in_month(int year, int month) noexcept nogil:
    if month == 2:
        if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
            return 29
        return 28
    if month == 4 or month == 6 or month == 9 or month == 11:
        return 30
    return 31


cdef inline int64_t days_from_civil(int y, int m, int d) noexcept nogil:
    """Days since 1970-01-01 of a proleptic Gregorian date (y >= 1: every term stays small)."""
    cdef int era, yoe, mp, doy, doe
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return <int64_t>era * 146097 + doe - 719468


cdef inline int iso_time_text(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """RFC 3339 UTC time "2021-04-17T16:43:37.075687Z" -> ns: 0, or E_TIME.

    A fraction of 0-9 digits (further digits must be 0: no rounding below 1 ns); "Z" or
    "+00:00"; 'T' or ' ' between date and time.  The date must exist (2021-02-31 does not) and
    the time must fit int64 ns since 1970 (up to 2262-04-11T23:47:16.854775807Z).  A leap second
    (:60) is read as the next second, as POSIX time does."""
    cdef int y, y2, mo, d, h, mi, sec, nd
    cdef int64_t days, secs, frac = 0
    cdef Py_ssize_t k
    if s == NULL or n < 20:
        return E_TIME
    if (two_digits(s, &y) or two_digits(s + 2, &y2) or s[4] != b'-' or two_digits(s + 5, &mo)
            or s[7] != b'-' or two_digits(s + 8, &d) or (s[10] != b'T' and s[10] != b' ')
            or two_digits(s + 11, &h) or s[13] != b':' or two_digits(s + 14, &mi)
            or s[16] != b':' or two_digits(s + 17, &sec)):
        return E_TIME
    y = y * 100 + y2
    if (y < 1970 or mo < 1 or mo > 12 or d < 1 or d > days_in_month(y, mo) or h > 23
            or mi > 59 or sec > 60):
        return E_TIME
    k = 19
    if k < n and s[k] == b'.':
        k += 1
        nd = 0
        while k < n and s[k] >= b'0' and s[k] <= b'9':
            if nd < 9:
                frac = frac * 10 + (s[k] - 48)
                nd += 1
            elif s[k] != b'0':
                return E_TIME                             # below 1 ns: refuse to round
            k += 1
        if nd == 0:
            return E_TIME
        while nd < 9:
            frac *= 10
            nd += 1
    if k + 1 == n and s[k] == b'Z':
        pass
    elif k + 6 == n and memcmp(s + k, b"+00:00", 6) == 0:
        pass
    else:
        return E_TIME
    days = days_from_civil(y, mo, d)                     # y <= 9999: |days| < 3e6
    secs = days * 86400 + h * 3600 + mi * 60 + sec       # < 3e11: no overflow
    if secs > (INT64_MAX - frac) // 1000000000:
        return E_TIME                                     # past 2262-04-11T23:47:16.854775807
    out[0] = secs * 1000000000 + frac
    return 0


cdef inline int scan_iso_time(Scan* sc, int64_t* out) noexcept nogil:
    cdef const char* s
    cdef Py_ssize_t n
    if scan_string(sc, &s, &n) < 0:
        return -1
    if iso_time_text(s, n, out):
        return scan_fail(sc, E_TIME, s)
    return 0


# ---------------------------------------------------------------------------------------------
# Templates: a venue's documented compact form read straight through.  Each returns True when
# the input is exactly in that form; False means "not this form" (the caller then runs the
# validating path, which reports any error).  No error is recorded here.
# ---------------------------------------------------------------------------------------------

cdef inline bint fast_int(const char** pp, const char* end, int64_t* out) noexcept nogil:
    """Non-negative JSON integer of 1-18 digits, no leading zero, not followed by . e E."""
    cdef const char* p = pp[0]
    cdef const char* start = p
    cdef uint64_t v = 0
    cdef unsigned int c
    cdef int64_t e8
    if end - p >= 9:                                      # ids and ms timestamps: 8 at once
        e8 = hft_eight_digits(p)
        if e8 >= 0:
            v = <uint64_t>e8
            p += 8
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


cdef inline bint fast_ms(const char** pp, const char* end, int64_t* out) noexcept nogil:
    cdef int64_t v
    if not fast_int(pp, end, &v) or v > INT64_MAX // 1000000:
        return False
    out[0] = v * 1000000
    return True


cdef inline bint fast_string(const char** pp, const char* end, const char** s,
                             Py_ssize_t* n) noexcept nogil:
    """String contents after an opening quote already matched; consumes the closing quote."""
    cdef const char* p = pp[0]
    while p < end and not HFT_STRING_STOP[<unsigned char>p[0]]:
        p += 1
    if p >= end or p[0] != b'"':
        return False
    s[0] = pp[0]
    n[0] = p - pp[0]
    pp[0] = p + 1
    return True


cdef inline bint fast_decimal(const char** pp, const char* end, int decimals,
                              int64_t* out) noexcept nogil:
    """Decimal string contents after the opening quote; consumes the closing quote."""
    cdef const char* after
    if hft_decimal_fast(pp[0], end, decimals, out, &after):
        pp[0] = after
        return True
    return False


cdef inline bint fast_bool(const char** pp, const char* end, bint* out) noexcept nogil:
    if fast_literal(pp, end, b"true", 4):
        out[0] = True
        return True
    if fast_literal(pp, end, b"false", 5):
        out[0] = False
        return True
    return False
