"""Exact fixed-point numbers: decimal text <-> int64 counts at a number of decimals.

A price of ``50000.10`` at 2 decimals is the integer ``5000010``.  Parsing never goes through
``float``; inexact text is an error unless a rounding mode is given; overflow is an error, never
a wrap.  The C functions live in ``fixed.pxd`` (``fx_parse``, ``fx_format``, ``hfx_mul`` ...)
for other compiled modules; this module is their thin Python face.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memchr, memcpy
from cpython.long cimport PyLong_CheckExact

cimport cython
import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_COMPACT_ASCII(object s)
    void* PyUnicode_DATA(object s)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)


cdef inline str _ascii(const char* buf, Py_ssize_t n):
    """A new compact ASCII str holding buf[0:n] (cheaper than decoding)."""
    cdef object s = PyUnicode_New(n, 127)
    memcpy(PyUnicode_DATA(s), buf, n)
    return <str>s

__all__ = [
    "ROUNDING_MODES", "parse", "format", "format_digits", "rescale", "add", "sub", "mul", "div",
    "parse_many", "rounding_code",
]

#: Rounding-mode names accepted by every function with a ``rounding`` argument.
#: ``"down"``/``"up"`` round toward -inf/+inf; Python's ``decimal.ROUND_*`` constants are accepted
#: too and keep *their* meaning (``decimal.ROUND_DOWN`` truncates toward zero).
ROUNDING_MODES = {
    "half_even": RND_HALF_EVEN,
    "half_up": RND_HALF_UP,
    "half_down": RND_HALF_DOWN,
    "down": RND_DOWN,
    "floor": RND_DOWN,
    "up": RND_UP,
    "ceiling": RND_UP,
    "toward_zero": RND_TOWARD_ZERO,
    "truncate": RND_TOWARD_ZERO,
    "away_from_zero": RND_AWAY_FROM_ZERO,
    "ROUND_HALF_EVEN": RND_HALF_EVEN,
    "ROUND_HALF_UP": RND_HALF_UP,
    "ROUND_HALF_DOWN": RND_HALF_DOWN,
    "ROUND_FLOOR": RND_DOWN,
    "ROUND_CEILING": RND_UP,
    "ROUND_DOWN": RND_TOWARD_ZERO,
    "ROUND_UP": RND_AWAY_FROM_ZERO,
}

cdef dict _ROUNDING = ROUNDING_MODES


cpdef int rounding_code(object rounding) except -1:
    """The C rounding code for a mode name (``None`` means exact: refuse to round)."""
    if rounding is None:
        return RND_EXACT
    if not isinstance(rounding, str):
        raise TypeError(f"rounding must be a str or None, not {type(rounding).__name__}")
    try:
        return _ROUNDING[rounding]
    except KeyError:
        raise ValueError(
            f"unknown rounding mode {rounding!r}; use one of {sorted(set(ROUNDING_MODES))}"
        ) from None


_MESSAGES = {
    FX_EMPTY: "empty text",
    FX_SYNTAX: "not a decimal number",
    FX_OVERFLOW: "out of the int64 range at {dec} decimals",
    FX_PRECISION: "more fractional digits than {dec} decimals hold (pass rounding= to round)",
    FX_DECIMALS: "decimals must be 0..18, got {dec}",
    FX_ROUNDING: "unknown rounding mode",
    FX_DIVZERO: "division by zero",
}


cdef int _raise_parse(object text, int decimals, int code) except -1:
    msg = _MESSAGES.get(code, "error").format(dec=decimals)
    if isinstance(text, (bytearray, memoryview)):
        text = bytes(text)           # quote the bytes themselves, not "<memory at 0x...>"
    if code == FX_DECIMALS:
        raise ValueError(msg)
    raise ValueError(f"cannot parse {text!r}: {msg}")


cdef int _raise_math(str what, int code, int decimals=0) except -1:
    msg = _MESSAGES.get(code, "error").format(dec=decimals)
    if code == FX_OVERFLOW:
        raise OverflowError(f"{what}: result {msg}")
    if code == FX_DIVZERO:
        raise ZeroDivisionError(f"{what}: {msg}")
    raise ValueError(f"{what}: {msg}")


@cython.binding(False)
def parse(text, decimals, rounding=None):
    """Parse decimal text to an int count of ``10**-decimals``.

    Parameters
    ----------
    text : str | bytes | bytearray | memoryview
        ``"50000.10"``, ``"-1.5e-3"``, ``b"+007"``.  No spaces, NaN or infinity.
    decimals : int
        0..18.
    rounding : str | None
        ``None`` (default) refuses inexact text; otherwise a name from ``ROUNDING_MODES``.

    Raises
    ------
    ValueError
        Bad text (the message quotes it), too many fractional digits without rounding,
        out of the int64 range, or decimals outside 0..18.
    TypeError
        `text` is not text or bytes, `decimals` not an int, `rounding` not a str.
    """
    cdef const char* p
    cdef Py_ssize_t n
    cdef int64_t out = 0
    cdef int code
    cdef int dec
    cdef int rnd = RND_EXACT if rounding is None else rounding_code(rounding)
    cdef Py_buffer view
    # the hot path converts an exact int inline (Cython's conversion; fx_parse checks 0..18)
    try:
        dec = <int>decimals if PyLong_CheckExact(decimals) else fx_decimals_arg(decimals,
                                                                                  "decimals")
    except OverflowError:
        fx_decimals_arg(decimals, "decimals")     # raises the ValueError naming it
        raise
    if type(text) is str:
        if PyUnicode_IS_COMPACT_ASCII(text):       # the common case: read the str's own bytes
            code = fx_parse(<const char*>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text),
                            dec, rnd, &out)
        else:                                      # non-ASCII: never a valid number
            p = PyUnicode_AsUTF8AndSize(text, &n)
            code = fx_parse(p, n, dec, rnd, &out)
    elif type(text) is bytes:
        code = fx_parse(PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text), dec, rnd, &out)
    elif isinstance(text, (bytearray, memoryview)):
        PyObject_GetBuffer(text, &view, PyBUF_SIMPLE)
        try:
            code = fx_parse(<const char*>view.buf, view.len, dec, rnd, &out)
        finally:
            PyBuffer_Release(&view)
    elif isinstance(text, str):
        p = PyUnicode_AsUTF8AndSize(text, &n)
        code = fx_parse(p, n, dec, rnd, &out)
    else:
        raise TypeError(f"text must be str or bytes-like, not {type(text).__name__}")
    if code != FX_OK:
        _raise_parse(text, dec, code)
    return out


cdef str _format(int64_t raw, int decimals, int mode):
    cdef char buf[FX_FORMAT_MAX]
    cdef Py_ssize_t n = fx_format(raw, decimals, mode, buf)
    if n < 0:
        raise ValueError(f"decimals must be 0..18, got {decimals}")
    return _ascii(buf, n)


@cython.binding(False)
def format(raw, decimals, trim=False):
    """Text of ``raw`` counts of ``10**-decimals``: ``format(5000010, 2) == "50000.10"``.

    ``trim=True`` drops trailing fractional zeros (``"50000.1"``, ``"5"``).
    """
    cdef int64_t r
    cdef int dec
    # the hot path converts exact ints inline (Cython's conversion; fx_format checks 0..18)
    try:
        r = <int64_t>raw if PyLong_CheckExact(raw) else fx_int_arg(raw, "raw")
        dec = <int>decimals if PyLong_CheckExact(decimals) else fx_decimals_arg(decimals,
                                                                                  "decimals")
    except OverflowError:
        fx_int_arg(raw, "raw")                    # raise the error naming the argument
        fx_decimals_arg(decimals, "decimals")
        raise
    if trim is False:
        return _format(r, dec, FMT_FIXED)
    return _format(r, dec, FMT_TRIM if fx_bool_arg(trim, "trim") else FMT_FIXED)


@cython.binding(False)
def format_digits(raw, decimals):
    """Checksum text: the fixed-decimal text without the dot and leading zeros (Kraken CRC32).

    ``format_digits(5000, 5) == "5000"`` (0.05000); ``format_digits(5000010, 2) == "5000010"``.
    """
    cdef int64_t r = fx_int_arg(raw, "raw")
    return _format(r, fx_decimals_arg(decimals, "decimals"), FMT_DIGITS)


@cython.binding(False)
def rescale(raw, from_decimals, to_decimals, rounding=None):
    """``raw`` at ``from_decimals`` expressed at ``to_decimals`` (rounded if a mode is given)."""
    cdef int64_t r = fx_int_arg(raw, "raw")
    cdef int src = fx_decimals_arg(from_decimals, "from_decimals")
    cdef int dst = fx_decimals_arg(to_decimals, "to_decimals")
    cdef int64_t out = 0
    cdef int code = hfx_rescale(r, src, dst, rounding_code(rounding), &out)
    if code:
        _raise_math(f"rescale({r}, {src} -> {dst})", code, dst)
    return out


@cython.binding(False)
def add(a, b):
    """``a + b`` at the same decimals; ``OverflowError`` instead of a wrap."""
    cdef int64_t x = fx_int_arg(a, "a")
    cdef int64_t y = fx_int_arg(b, "b")
    cdef int64_t out = 0
    if hfx_add(x, y, &out):
        raise OverflowError(f"add({x}, {y}): result out of the int64 range")
    return out


@cython.binding(False)
def sub(a, b):
    """``a - b`` at the same decimals; ``OverflowError`` instead of a wrap."""
    cdef int64_t x = fx_int_arg(a, "a")
    cdef int64_t y = fx_int_arg(b, "b")
    cdef int64_t out = 0
    if hfx_sub(x, y, &out):
        raise OverflowError(f"sub({x}, {y}): result out of the int64 range")
    return out


@cython.binding(False)
def mul(a, a_decimals, b, b_decimals, out_decimals, rounding=None):
    """``a * b`` at ``out_decimals`` (price x size -> notional) with a 128-bit intermediate."""
    cdef int64_t x = fx_int_arg(a, "a")
    cdef int xd = fx_decimals_arg(a_decimals, "a_decimals")
    cdef int64_t y = fx_int_arg(b, "b")
    cdef int yd = fx_decimals_arg(b_decimals, "b_decimals")
    cdef int od = fx_decimals_arg(out_decimals, "out_decimals")
    cdef int64_t out = 0
    cdef int code = hfx_mul(x, xd, y, yd, od, rounding_code(rounding), &out)
    if code:
        _raise_math(f"mul({x}@{xd}, {y}@{yd}) at {od}", code, od)
    return out


@cython.binding(False)
def div(a, a_decimals, b, b_decimals, out_decimals, rounding=None):
    """``a / b`` at ``out_decimals`` with a 128-bit intermediate (exact unless rounded)."""
    cdef int64_t x = fx_int_arg(a, "a")
    cdef int xd = fx_decimals_arg(a_decimals, "a_decimals")
    cdef int64_t y = fx_int_arg(b, "b")
    cdef int yd = fx_decimals_arg(b_decimals, "b_decimals")
    cdef int od = fx_decimals_arg(out_decimals, "out_decimals")
    cdef int64_t out = 0
    cdef int code = hfx_div(x, xd, y, yd, od, rounding_code(rounding), &out)
    if code:
        _raise_math(f"div({x}@{xd}, {y}@{yd}) at {od}", code, od)
    return out


#: Bytes that can occur inside a number (digits, point, exponent, signs): never a separator.
_NUMBER_BYTES = b"0123456789.eE+-"


def parse_many(data, decimals, rounding=None, sep=b"\n"):
    """Parse every ``sep``-separated field of ``data`` (bytes-like) into an int64 numpy array.

    The loop runs without the GIL.  A trailing separator is allowed.  `sep` is one byte that
    cannot occur inside a number (not a digit, ``.``, ``e``, ``E``, ``+`` or ``-``).  The first
    bad field raises ``ValueError`` naming its index and quoting its text.
    """
    cdef Py_buffer view
    cdef const char* buf
    cdef const char* hit
    cdef Py_ssize_t n, i, stop, count, end = 0, field = 0, bad_start = 0
    cdef int dec = fx_decimals_arg(decimals, "decimals")
    cdef int rnd = rounding_code(rounding)
    cdef int code = FX_OK
    cdef char sepc
    cdef int64_t* outp
    if not isinstance(sep, bytes):
        raise TypeError(f"sep must be bytes, not {type(sep).__name__}")
    if len(sep) != 1:
        raise ValueError(f"sep must be one byte, got {sep!r}")
    if sep in _NUMBER_BYTES:
        # a separator the number grammar accepts would let one field's number run into the next
        raise ValueError(f"sep={sep!r} can occur inside a number; use a byte that cannot "
                         "(not a digit, '.', 'e', 'E', '+' or '-')")
    sepc = (<bytes>sep)[0]
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        buf = <const char*>view.buf
        n = view.len
        count = 0
        with nogil:                      # count fields: memchr is vectorised
            i = 0
            while i < n:
                hit = <const char*>memchr(buf + i, sepc, <size_t>(n - i))
                count += 1
                if hit == NULL:
                    break
                i = (hit - buf) + 1
        out = np.empty(count, dtype=np.int64)
        outp = <int64_t*>cnp.PyArray_DATA(out)
        with nogil:                      # one pass: each number stops at its separator
            # i <= n throughout: the scan of field k stops at or before separator k (a
            # separator is never a number byte), and only the last field may end at n
            i = 0
            while field < count and i <= n:
                code = fx_scan(buf + i, n - i, dec, rnd, &outp[field], &end)
                if code == FX_OK and i + end < n and buf[i + end] != sepc:
                    code = FX_SYNTAX
                if code != FX_OK:
                    bad_start = i
                    break
                field += 1
                i += end + 1
        if code == FX_OK and field != count:   # cannot happen: one scan per separator
            code = FX_EMPTY
            bad_start = n
        if code != FX_OK:
            hit = <const char*>memchr(buf + bad_start, sepc, <size_t>(n - bad_start))
            stop = (hit - buf) if hit != NULL else n
            text = PyBytes_FromStringAndSize(buf + bad_start, stop - bad_start)
            msg = _MESSAGES.get(code, "error").format(dec=dec)
            raise ValueError(f"field {field}: cannot parse {text!r}: {msg}")
        return out
    finally:
        PyBuffer_Release(&view)
