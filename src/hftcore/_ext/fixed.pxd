# Fixed-point numbers: decimal text <-> int64 counts at a number of decimals (0-18), and checked,
# 128-bit-safe arithmetic.  Everything here is `noexcept nogil` and returns an FX_* error code;
# the thin Python wrappers in fixed.pyx turn codes into exceptions.
#
# These are inline functions in the .pxd so decoders and books that cimport them get them inlined.
#
# No signed overflow anywhere (the sanitizer build runs with -fno-wrapv): sums and products that
# can leave their type go through __builtin_*_overflow or through 128-bit intermediates that
# provably hold them (each such place says why), and unsigned magnitudes become signed values
# only through fx_signed_from_magnitude.  The 128-bit type is used only inside the C block below:
# Cython never sees it, so it is never told a 128-bit integer is narrower than it is.
from libc.stdint cimport int64_t, uint64_t
from cpython.long cimport PyLong_CheckExact
from cpython.number cimport PyNumber_Index

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    typedef __int128 hfx_i128;
    typedef unsigned __int128 hfx_u128;

    static const uint64_t HFX_POW10[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};

    /* Rounding decision: should the truncated magnitude q grow by one?
       inexact: anything was dropped; cmp: the dropped part against one half (-1, 0, 1).
       Returns 0 or 1, or -1 when the mode is EXACT and the value is inexact, -2 on a bad mode. */
    static inline int hfx_round_incr(int rounding, int neg, int q_odd, int inexact, int cmp) {
        if (!inexact) return (rounding >= 0 && rounding <= 7) ? 0 : -2;
        switch (rounding) {
            case 0: return -1;                          /* EXACT */
            case 1: return cmp > 0 || (cmp == 0 && q_odd);  /* HALF_EVEN */
            case 2: return cmp >= 0;                    /* HALF_UP (half away from zero) */
            case 3: return neg;                         /* DOWN: toward -inf (floor) */
            case 4: return !neg;                        /* UP: toward +inf (ceiling) */
            case 5: return 0;                           /* TOWARD_ZERO (truncate) */
            case 6: return 1;                           /* AWAY_FROM_ZERO */
            case 7: return cmp > 0;                     /* HALF_DOWN (half toward zero) */
            default: return -2;
        }
    }

    /* q = n / d rounded (d > 0). Returns an FX code (0 ok, 4 precision, 6 bad rounding). */
    static inline int hfx_div_round128(hfx_i128 n, hfx_i128 d, int rounding, hfx_i128 *q_out) {
        int neg = n < 0;
        hfx_u128 un = neg ? (hfx_u128)0 - (hfx_u128)n : (hfx_u128)n;
        hfx_u128 ud = (hfx_u128)d;
        hfx_u128 q = un / ud, r = un % ud;
        hfx_u128 twice = r << 1;   /* r < d < 2^127, no overflow */
        int cmp = twice > ud ? 1 : (twice == ud ? 0 : -1);
        int inc = hfx_round_incr(rounding, neg, (int)(q & 1), r != 0, cmp);
        if (inc == -1) {
            /* inexact: an overflow even when truncated is reported as the overflow it is */
            return q > (hfx_u128)INT64_MAX + (hfx_u128)neg ? 3 : 4;
        }
        if (inc == -2) return 6;
        q += (hfx_u128)inc;
        *q_out = neg ? -(hfx_i128)q : (hfx_i128)q;
        return 0;
    }

    /* The run of ASCII digits at the start of the 8 bytes at p: its length (0..8) and value,
       computed eight bytes at a time. p[0..7] must be readable. Returns -1 where the byte order
       is not little-endian (the caller then goes byte by byte). */
    static inline int hfx_swar_digits(const char *p, uint64_t *value) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t x, t, nondigit;
        int k;
        memcpy(&x, p, 8);
        t = x ^ 0x3030303030303030ULL;                 /* '0'..'9' -> 0..9 */
        nondigit = (t | ((t & 0x7F7F7F7F7F7F7F7FULL) + 0x7676767676767676ULL))
                   & 0x8080808080808080ULL;            /* high bit of each byte > 9 */
        k = nondigit ? (__builtin_ctzll(nondigit) >> 3) : 8;
        if (k == 0) { *value = 0; return 0; }
        if (k < 8) t <<= 8 * (8 - k);                  /* the k digits, with leading zeros */
        t = (t * 10 + (t >> 8)) & 0x00FF00FF00FF00FFULL;      /* pairs */
        t = (t * 100 + (t >> 16)) & 0x0000FFFF0000FFFFULL;    /* quads */
        t = (t * 10000 + (t >> 32)) & 0xFFFFFFFFULL;          /* eight */
        *value = t;
        return k;
    #else
        (void)p; (void)value;
        return -1;
    #endif
    }

    /* Digits at s[*i .. lim) into *m: eight at a time while eight bytes remain before lim
       (lim never exceeds the readable length), then byte by byte. */
    static inline void hfx_digit_run(const char *s, Py_ssize_t *i, Py_ssize_t lim, uint64_t *m) {
        Py_ssize_t j = *i;
        uint64_t v, acc = *m;
        int k;
        while (lim - j >= 8) {
            k = hfx_swar_digits(s + j, &v);
            if (k <= 0) break;
            acc = acc * HFX_POW10[k] + v;
            j += k;
            if (k < 8) { *i = j; *m = acc; return; }
        }
        for (; j < lim; j++) {
            unsigned c = (unsigned char)s[j] - '0';
            if (c > 9) break;
            acc = acc * 10 + c;
        }
        *i = j;
        *m = acc;
    }

    /* Digits beyond the 19 kept, from s[*i]: how many, the first one (*first, if still < 0)
       and whether any later one is nonzero (*rest). */
    static inline Py_ssize_t hfx_drop_run(const char *s, Py_ssize_t *i, Py_ssize_t n,
                                          int *first, int *rest) {
        Py_ssize_t j = *i, start = *i;
        for (; j < n; j++) {
            unsigned c = (unsigned char)s[j] - '0';
            if (c > 9) break;
            if (*first < 0) *first = (int)c;
            else if (c) *rest = 1;
        }
        *i = j;
        return j - start;
    }

    /* Fast path for the common wire shape: [-]digits[.digits], at most 19 bytes, exact at
       `decimals` and in range.  Returns 1 with *out and *end set, or 0 when the text needs the
       general parser (exponent, '+', more digits, rounding, overflow, errors of any kind). */
    static inline int hfx_scan_fast(const char *s, Py_ssize_t n, int decimals,
                                    int64_t *out, Py_ssize_t *end) {
        Py_ssize_t i = 0, start, lim, dot = -1;
        uint64_t m = 0, q;
        int neg = 0, nd, fd;
        if (n > 0 && s[0] == '-') { neg = 1; i = 1; }
        start = i;
        lim = n - i > 19 ? i + 19 : n;     /* 19 bytes hold at most 19 digits: no uint64 wrap */
        hfx_digit_run(s, &i, lim, &m);
        if (i < lim && s[i] == '.') {
            dot = i++;
            hfx_digit_run(s, &i, lim, &m);
        }
        if (i < n) {
            unsigned char c = (unsigned char)s[i];
            if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E') return 0;
        }
        nd = (int)(i - start) - (dot >= 0);
        fd = dot >= 0 ? (int)(i - dot - 1) : 0;
        if (nd <= 0 || fd > decimals || decimals > 18) return 0;
        if (__builtin_mul_overflow(m, HFX_POW10[decimals - fd], &q)) return 0;
        if (q > (uint64_t)INT64_MAX) return 0;
        *out = neg ? -(int64_t)q : (int64_t)q;
        *end = i;
        return 1;
    }

    /* a * b in uint64; nonzero when it wraps */
    static inline int hfx_umul_ovf(uint64_t a, uint64_t b, uint64_t *out) {
        return __builtin_mul_overflow(a, b, out);
    }

    /* -q or q as int64 for a magnitude q <= 2^63 (q == 2^63 only when negative), without the
       implementation-defined conversion of an unsigned value above INT64_MAX */
    static inline int64_t fx_signed_from_magnitude(uint64_t q, int negative) {
        if (!negative) return (int64_t)q;
        if (q == 0) return 0;
        return -(int64_t)(q - 1) - 1;
    }

    static inline int hfx_fits64(hfx_i128 v) {
        return v >= (hfx_i128)INT64_MIN && v <= (hfx_i128)INT64_MAX;
    }

    static inline int hfx_add(int64_t a, int64_t b, int64_t *out) {
        return __builtin_add_overflow(a, b, out) ? 3 : 0;
    }
    static inline int hfx_sub(int64_t a, int64_t b, int64_t *out) {
        return __builtin_sub_overflow(a, b, out) ? 3 : 0;
    }

    /* v (at from_dec) -> at to_dec, rounded. */
    static inline int hfx_rescale(int64_t v, int from_dec, int to_dec, int rounding, int64_t *out) {
        hfx_i128 r;
        int e, rc;
        if (from_dec < 0 || from_dec > 18 || to_dec < 0 || to_dec > 18) return 5;
        if (rounding < 0 || rounding > 7) return 6;
        e = to_dec - from_dec;
        if (e >= 0) {
            r = (hfx_i128)v * (hfx_i128)HFX_POW10[e];
        } else {
            rc = hfx_div_round128((hfx_i128)v, (hfx_i128)HFX_POW10[-e], rounding, &r);
            if (rc) return rc;
        }
        if (!hfx_fits64(r)) return 3;
        *out = (int64_t)r;
        return 0;
    }

    /* a (at a_dec) * b (at b_dec) -> at out_dec, rounded. 128-bit intermediate. */
    static inline int hfx_mul(int64_t a, int a_dec, int64_t b, int b_dec, int out_dec,
                              int rounding, int64_t *out) {
        hfx_i128 p, r;
        int e, rc;
        if (a_dec < 0 || a_dec > 18 || b_dec < 0 || b_dec > 18 || out_dec < 0 || out_dec > 18)
            return 5;
        if (rounding < 0 || rounding > 7) return 6;
        p = (hfx_i128)a * (hfx_i128)b;                 /* |p| < 2^126 */
        e = out_dec - a_dec - b_dec;                   /* -36 .. 18 */
        if (e >= 0) {
            if (__builtin_mul_overflow(p, (hfx_i128)HFX_POW10[e], &r)) return 3;
        } else {
            hfx_i128 d = e < -18 ? (hfx_i128)HFX_POW10[18] * (hfx_i128)HFX_POW10[-e - 18]
                                 : (hfx_i128)HFX_POW10[-e];
            rc = hfx_div_round128(p, d, rounding, &r);
            if (rc) return rc;
        }
        if (!hfx_fits64(r)) return 3;
        *out = (int64_t)r;
        return 0;
    }

    /* a (at a_dec) / b (at b_dec) -> at out_dec, rounded. 128-bit intermediate. */
    static inline int hfx_div(int64_t a, int a_dec, int64_t b, int b_dec, int out_dec,
                              int rounding, int64_t *out) {
        hfx_i128 n, d, r;
        int e, rc;
        if (a_dec < 0 || a_dec > 18 || b_dec < 0 || b_dec > 18 || out_dec < 0 || out_dec > 18)
            return 5;
        if (rounding < 0 || rounding > 7) return 6;
        if (b == 0) return 7;
        e = out_dec - a_dec + b_dec;                   /* -18 .. 36 */
        n = (hfx_i128)a;
        d = (hfx_i128)b;
        if (e >= 0) {
            /* |a| * 10^e overflowing int128 means |result| > 2^127 / 2^63: out of int64 anyway */
            if (e > 18) {
                if (__builtin_mul_overflow(n, (hfx_i128)HFX_POW10[18], &n)) return 3;
                e -= 18;
            }
            if (__builtin_mul_overflow(n, (hfx_i128)HFX_POW10[e], &n)) return 3;
        } else {
            d = d * (hfx_i128)HFX_POW10[-e];           /* |d| < 2^63 * 10^18 < 2^123 */
        }
        /* n is a * 10^k (k >= 0) checked against int128: never -2^127 (10^k has the factor
           5^k, a is int64), so both negations are defined */
        if (d < 0) { d = -d; n = -n; }
        rc = hfx_div_round128(n, d, rounding, &r);
        if (rc) return rc;
        if (!hfx_fits64(r)) return 3;
        *out = (int64_t)r;
        return 0;
    }
    """
    const uint64_t HFX_POW10[20]
    int hfx_round_incr(int rounding, int neg, int q_odd, int inexact, int cmp) noexcept nogil
    int hfx_umul_ovf(uint64_t a, uint64_t b, uint64_t* out) noexcept nogil
    int64_t fx_signed_from_magnitude(uint64_t q, int negative) noexcept nogil
    int hfx_swar_digits(const char* p, uint64_t* value) noexcept nogil
    int hfx_scan_fast(const char* s, Py_ssize_t n, int decimals, int64_t* out,
                      Py_ssize_t* end) noexcept nogil
    void hfx_digit_run(const char* s, Py_ssize_t* i, Py_ssize_t lim, uint64_t* m) noexcept nogil
    Py_ssize_t hfx_drop_run(const char* s, Py_ssize_t* i, Py_ssize_t n, int* first,
                            int* rest) noexcept nogil
    int hfx_add(int64_t a, int64_t b, int64_t* out) noexcept nogil
    int hfx_sub(int64_t a, int64_t b, int64_t* out) noexcept nogil
    int hfx_rescale(int64_t v, int from_dec, int to_dec, int rounding, int64_t* out) noexcept nogil
    int hfx_mul(int64_t a, int a_dec, int64_t b, int b_dec, int out_dec, int rounding,
                int64_t* out) noexcept nogil
    int hfx_div(int64_t a, int a_dec, int64_t b, int b_dec, int out_dec, int rounding,
                int64_t* out) noexcept nogil

# Error codes (0 is success).
cdef enum:
    FX_OK = 0
    FX_EMPTY = 1          # empty text
    FX_SYNTAX = 2         # not a decimal number (signs, dots, spaces, letters, NaN, inf ...)
    FX_OVERFLOW = 3       # outside int64 at the requested decimals
    FX_PRECISION = 4      # more fractional digits than the decimals hold and no rounding given
    FX_DECIMALS = 5       # a number of decimals outside 0..18
    FX_ROUNDING = 6       # unknown rounding mode
    FX_DIVZERO = 7        # division by zero

# Rounding modes.  EXACT refuses to round.
cdef enum:
    RND_EXACT = 0
    RND_HALF_EVEN = 1
    RND_HALF_UP = 2         # half away from zero
    RND_DOWN = 3            # toward -infinity (floor)
    RND_UP = 4              # toward +infinity (ceiling)
    RND_TOWARD_ZERO = 5     # truncate
    RND_AWAY_FROM_ZERO = 6
    RND_HALF_DOWN = 7       # half toward zero

# Text forms for fx_format.
cdef enum:
    FMT_FIXED = 0           # exactly `decimals` fractional digits: "50000.10", "0.05", "-3"
    FMT_TRIM = 1            # trailing fractional zeros and a bare dot removed: "50000.1", "5"
    FMT_DIGITS = 2          # FIXED without the dot and without leading zeros (Kraken checksum)
    FX_FORMAT_MAX = 48      # output buffer size that always suffices


cdef inline int fx_parse(const char* s, Py_ssize_t n, int decimals, int rounding,
                         int64_t* out) noexcept nogil:
    """Parse decimal text s[0:n] to an int64 count of 10**-decimals. Returns an FX_* code.

    Grammar: [+-] digits [. digits] [(e|E) [+-] digits], with at least one digit in the mantissa
    (".5" and "5." are accepted, as Decimal does).  Inexact values need a rounding mode.
    """
    cdef Py_ssize_t end = 0
    cdef int code = fx_scan(s, n, decimals, rounding, out, &end)
    if code == FX_OK and end != n:
        return FX_SYNTAX
    return code


cdef inline int fx_scan(const char* s, Py_ssize_t n, int decimals, int rounding,
                        int64_t* out, Py_ssize_t* end) noexcept nogil:
    """Parse the number at the start of s[0:n]; *end is set to where it stops.

    For numbers inside a larger buffer (a JSON number, a CSV field): the caller checks that the
    byte at *end is a valid delimiter.  Returns an FX_* code; *out is set only on FX_OK.
    Small enough to inline: the common shape takes the fast path, the rest goes out of line.
    """
    if 0 <= rounding <= 7 and hfx_scan_fast(s, n, decimals, out, end):
        return FX_OK
    return fx_scan_general(s, n, decimals, rounding, out, end)


cdef inline int fx_scan_general(const char* s, Py_ssize_t n, int decimals, int rounding,
                                int64_t* out, Py_ssize_t* end) noexcept nogil:
    """The full grammar, rounding and every error; see fx_scan."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t start, stop, frac
    cdef bint neg = False
    cdef bint any_digit = False
    cdef bint sticky = False            # a nonzero digit beyond the 19 kept ones was dropped
    cdef int drop1 = -1                 # the first dropped digit
    cdef int rest = 0                   # a nonzero dropped digit after the first
    cdef uint64_t m = 0                 # the (up to 19) significant digits kept
    cdef int ndig = 0
    cdef int64_t exp = 0                # value = m * 10**exp (+ dropped digits)
    cdef int64_t e = 0
    cdef int64_t k
    cdef uint64_t c, lim, p, q, r, half
    cdef int cmp, inc, k8
    cdef uint64_t v8
    if decimals < 0 or decimals > 18:
        return FX_DECIMALS
    if rounding < 0 or rounding > 7:
        return FX_ROUNDING
    if n <= 0:
        return FX_EMPTY
    if s[0] == b'-':
        neg = True
        i = 1
    elif s[0] == b'+':
        i = 1
    # integer part: leading zeros, then up to 19 significant digits, then dropped ones
    while i < n and s[i] == b'0':
        i += 1
        any_digit = True
    start = i
    stop = i + 19 if n - i > 19 else n
    hfx_digit_run(s, &i, stop, &m)
    ndig = <int>(i - start)
    exp += hfx_drop_run(s, &i, n, &drop1, &rest)     # beyond 19 digits: each shifts exp
    if i > start:
        any_digit = True
    if i < n and s[i] == b'.':
        i += 1
        frac = i
        start = i
        if m == 0:                      # 0.000123: zeros before the first significant digit
            while i < n and s[i] == b'0':
                i += 1
            exp -= i - start
            start = i
        stop = i + (19 - ndig) if n - i > 19 - ndig else n
        hfx_digit_run(s, &i, stop, &m)
        exp -= i - start
        ndig += <int>(i - start)
        hfx_drop_run(s, &i, n, &drop1, &rest)        # beyond 19 digits: only their values matter
        if i > frac:                    # every byte consumed after the dot is a digit
            any_digit = True
    if not any_digit:
        return FX_SYNTAX
    sticky = drop1 > 0 or rest
    if i < n and (s[i] == b'e' or s[i] == b'E'):
        i += 1
        if i < n and (s[i] == b'+' or s[i] == b'-'):
            if s[i] == b'-':
                k = -1
            else:
                k = 1
            i += 1
        else:
            k = 1
        start = i
        while i < n:
            c = <unsigned char>s[i] - 48
            if c > 9:
                break
            if e < 1000000:
                e = e * 10 + <int64_t>c
            i += 1
        if i == start:
            return FX_SYNTAX
        # |exp| <= n so far (one step per digit); clamp it before adding |e| <= 9999999 so the
        # sum cannot overflow for any n.  Past +-10**15 the outcome (overflow, or a value that
        # rounds to 0 or one unit) is the same as at the exact exponent: every threshold
        # below lies within 40 of zero.
        if exp > 1000000000000000LL:
            exp = 1000000000000000LL
        elif exp < -1000000000000000LL:
            exp = -1000000000000000LL
        exp += k * e
    end[0] = i
    if m == 0 and not sticky:
        out[0] = 0
        return FX_OK
    lim = <uint64_t>9223372036854775807ULL + (1 if neg else 0)
    if exp > 1000000000000000LL:          # (no exponent: |exp| <= n, and n may be any length)
        exp = 1000000000000000LL
    elif exp < -1000000000000000LL:
        exp = -1000000000000000LL
    k = exp + decimals
    if k >= 0:
        if k > 19 or hfx_umul_ovf(m, HFX_POW10[k], &q) or q > lim:
            return FX_OVERFLOW
        if sticky:
            # Digits were dropped (19 kept) and the unit is the last kept digit (k == 0; with
            # k > 0 the 19 kept digits times 10 already overflowed): round on the first dropped.
            if drop1 > 5 or (drop1 == 5 and rest):
                cmp = 1
            elif drop1 == 5:
                cmp = 0
            else:
                cmp = -1
            inc = hfx_round_incr(rounding, neg, <int>(q & 1), 1, cmp)
            if inc < 0:
                return FX_PRECISION
            q += <uint64_t>inc
            if q > lim:
                return FX_OVERFLOW
    else:
        if k < -19:
            q = 0
            r = 1
            cmp = -1
        else:
            p = HFX_POW10[-k]
            q = m // p
            r = m % p
            half = p >> 1
            if r > half:
                cmp = 1
            elif r == half:
                cmp = 1 if sticky else 0
            else:
                cmp = -1
        inc = hfx_round_incr(rounding, neg, <int>(q & 1), r != 0 or sticky, cmp)
        if inc < 0:
            return FX_OVERFLOW if q > lim else FX_PRECISION
        q += <uint64_t>inc
        if q > lim:
            return FX_OVERFLOW
    out[0] = fx_signed_from_magnitude(q, neg)
    return FX_OK


cdef inline Py_ssize_t fx_format(int64_t v, int decimals, int mode, char* out) noexcept nogil:
    """Write v (a count of 10**-decimals) as text into out (FX_FORMAT_MAX bytes).

    Returns the length written (not NUL-terminated), or -1 for decimals outside 0..18.
    """
    cdef char digits[24]
    cdef int nd = 0
    cdef int n = 0
    cdef int j, stop
    cdef bint neg = v < 0
    cdef uint64_t u
    if decimals < 0 or decimals > 18:
        return -1
    if neg:
        u = ~(<uint64_t>v) + 1
        out[n] = b'-'
        n += 1
    else:
        u = <uint64_t>v
    while True:                         # digits, least significant first
        digits[nd] = <char>(48 + u % 10)
        u //= 10
        nd += 1
        if u == 0:
            break
    if mode == FMT_DIGITS:
        j = nd - 1                      # no leading zeros, no dot: the significant digits
        while True:
            out[n] = digits[j]
            n += 1
            if j == 0:
                break
            j -= 1
        return n
    while nd <= decimals:               # at least one integer digit
        digits[nd] = b'0'
        nd += 1
    j = nd - 1
    while j >= decimals:
        out[n] = digits[j]
        n += 1
        j -= 1
    if decimals == 0:
        return n
    stop = 0
    if mode == FMT_TRIM:
        while stop < decimals and digits[stop] == b'0':
            stop += 1
        if stop == decimals:
            return n
    out[n] = b'.'
    n += 1
    while j >= stop:
        out[n] = digits[j]
        n += 1
        j -= 1
    return n


# ------------------------------------------------------------------------------------------------
# Arguments from Python.  Every public entry point of the compiled core takes prices, sizes,
# decimals, indices and times as `int` only: a float would be truncated by a C conversion
# (1.9 -> 1), a bool is a flag, not a number.  These helpers refuse both with an error that names
# the parameter, and accept int subclasses (IntEnum) and exact integer types that implement
# __index__ (numpy integers).

cdef inline object fx_index_slow(object value, str name):
    """The non-`int` path of fx_int_arg: an int subclass or __index__, never bool or float."""
    if value is True or value is False:
        raise TypeError(f"{name} must be an int, not bool")
    if isinstance(value, int):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        raise TypeError(f"{name} must be an int, not numpy.bool")   # (its __index__ is deprecated)
    try:
        return PyNumber_Index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None


cdef extern from "Python.h":
    # declared without an error check: for an exact int it only ever reports overflow
    long long fx_long_value "PyLong_AsLongLongAndOverflow" (object value, int* overflow)


cdef inline int64_t fx_int_arg_slow(object value, str name) except? -1:
    cdef int overflow = 0
    cdef long long v
    if not PyLong_CheckExact(value):
        value = fx_index_slow(value, name)
    v = fx_long_value(value, &overflow)
    if overflow:
        raise OverflowError(f"{name}={value} is outside the int64 range")
    return v


cdef inline int64_t fx_int_arg(object value, str name) except? -1:
    """`value` as an int64.  TypeError (naming `name`) unless it is an integer; OverflowError
    (naming `name`) outside the int64 range."""
    cdef int overflow = 0
    cdef long long v
    if PyLong_CheckExact(value):            # the common case, small enough to inline
        v = fx_long_value(value, &overflow)
        if not overflow:
            return v
    return fx_int_arg_slow(value, name)


cdef inline int fx_decimals_arg(object value, str name) except -1:
    """A number of decimals: an int in 0..18 (TypeError / ValueError naming `name`)."""
    cdef int overflow = 0
    cdef long long v
    if not PyLong_CheckExact(value):
        value = fx_index_slow(value, name)
    v = fx_long_value(value, &overflow)
    if overflow or v < 0 or v > 18:
        raise ValueError(f"{name} must be 0..18, got {value}")
    return <int>v


cdef inline bint fx_bool_arg(object value, str name) except -1:
    """A flag: True or False only (TypeError naming `name` for 0, 1, None ...)."""
    if value is True:
        return True
    if value is False:
        return False
    raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
