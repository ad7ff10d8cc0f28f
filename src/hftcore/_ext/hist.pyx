"""Log-linear latency histogram: ≤ 1% relative error from 1 ns to 68 s, recorded in C.

See ``hist.pxd`` for the bucket layout and the nogil API the engine uses.  The Python class
:class:`LatencyHistogram` records, merges, resets and reports percentiles; ``counts()`` and
``buckets()`` export it to numpy.
"""
cimport cython
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.stdint cimport int64_t, uint64_t, uint32_t, INT64_MAX
from libc.string cimport memset, memcpy
from libc.math cimport ceil

import numpy as np
cimport numpy as cnp

cnp.import_array()

__all__ = ["BUCKETS", "MAX_VALUE", "LatencyHistogram"]

#: number of buckets
BUCKETS = HIST_BUCKETS
#: largest value recorded as itself (larger ones are clamped and counted in ``saturated``)
MAX_VALUE = (<int64_t>1 << HIST_MAX_EXP) - 1
cdef bytes _MAGIC = b"HFTHIST1"


cdef void hist_clear(LatencyHist* h) noexcept nogil:
    memset(h, 0, sizeof(LatencyHist))
    h.min = INT64_MAX
    h.max = -1


cdef int64_t hist_bucket_low(uint32_t i) noexcept nogil:
    cdef uint32_t j, k
    if i < HIST_LINEAR:
        return i
    j = i - HIST_LINEAR
    k = 8 + j // HIST_SUB
    return (<int64_t>(HIST_SUB + j % HIST_SUB)) << (k - HIST_SUB_BITS)


cdef int64_t hist_bucket_high(uint32_t i) noexcept nogil:
    cdef uint32_t k
    if i < HIST_LINEAR:
        return i
    k = 8 + (i - HIST_LINEAR) // HIST_SUB
    return hist_bucket_low(i) + ((<int64_t>1) << (k - HIST_SUB_BITS)) - 1


cdef int64_t hist_value_at_rank(const LatencyHist* h, uint64_t rank) noexcept nogil:
    """The rank-th smallest value (1-based), as its bucket's midpoint within [min, max]."""
    cdef uint64_t seen = 0
    cdef uint32_t i
    cdef int64_t v
    if h.total == 0:
        return 0
    if rank < 1:
        rank = 1
    if rank >= h.total:
        return h.max
    for i in range(HIST_BUCKETS):
        seen += h.counts[i]
        if seen >= rank:
            v = (hist_bucket_low(i) + hist_bucket_high(i)) // 2
            if v < h.min:
                v = h.min
            if v > h.max:
                v = h.max
            return v
    return h.max


cdef void hist_merge(LatencyHist* into, const LatencyHist* other) noexcept nogil:
    cdef uint32_t i
    for i in range(HIST_BUCKETS):
        into.counts[i] += other.counts[i]
    into.total += other.total
    into.saturated += other.saturated
    into.sum += other.sum
    if other.total:
        if other.min < into.min:
            into.min = other.min
        if other.max > into.max:
            into.max = other.max


cdef inline int64_t _as_ns(object value, str name) except? -1:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int number of nanoseconds, "
                        f"not {type(value).__name__}")
    return value


@cython.final
cdef class LatencyHistogram:
    """Latency histogram of int nanoseconds (HdrHistogram-style, ≤ 1% relative error).

    ``record(ns)`` from Python, ``hist_record(h.h, ns)`` from Cython without the GIL.  One
    writer at a time; merge histograms recorded by different threads or processes.
    """

    def __cinit__(self):
        self.h = <LatencyHist*>PyMem_Malloc(sizeof(LatencyHist))
        if self.h == NULL:
            raise MemoryError()
        hist_clear(self.h)

    def __dealloc__(self):
        PyMem_Free(self.h)
        self.h = NULL

    def record(self, ns):
        """Count one value (int nanoseconds; out-of-range values are clamped and counted in
        ``saturated``)."""
        cdef int64_t v
        if type(ns) is not int:
            _as_ns(ns, "ns")
        try:
            v = ns
        except OverflowError:
            v = -1 if ns < 0 else INT64_MAX
        hist_record(self.h, v)

    def record_many(self, values):
        """Count every value of an integer numpy array (or sequence of ints), without the GIL."""
        cdef const int64_t[::1] arr
        cdef Py_ssize_t i, n
        a = np.asarray(values)
        if a.dtype.kind not in "iu":
            raise TypeError(f"values must be integer nanoseconds, not {a.dtype}")
        if a.dtype.kind == "u" and a.size and a.max() > INT64_MAX:
            raise ValueError("values: larger than int64")
        arr = np.ascontiguousarray(a.ravel(), dtype=np.int64)
        n = arr.shape[0]
        with nogil:
            for i in range(n):
                hist_record(self.h, arr[i])

    def reset(self):
        """Forget every value."""
        hist_clear(self.h)

    def merge(self, LatencyHistogram other not None):
        """Add ``other``'s counts to this histogram."""
        hist_merge(self.h, other.h)

    def copy(self):
        """An independent copy."""
        cdef LatencyHistogram out = LatencyHistogram.__new__(LatencyHistogram)
        memcpy(out.h, self.h, sizeof(LatencyHist))
        return out

    @property
    def count(self):
        """Values recorded."""
        return self.h.total

    @property
    def saturated(self):
        """Values outside [0, MAX_VALUE] that were clamped into it."""
        return self.h.saturated

    @property
    def min(self):
        """Smallest value recorded (exact), None when empty."""
        return self.h.min if self.h.total else None

    @property
    def max(self):
        """Largest value recorded (exact), None when empty."""
        return self.h.max if self.h.total else None

    @property
    def sum(self):
        """Sum of the values recorded (exact)."""
        return int(self.h.sum >> 64) << 64 | int(<uint64_t>self.h.sum)

    @property
    def mean(self):
        """Mean in nanoseconds (a float: a statistic, not a price), None when empty."""
        return self.sum / self.h.total if self.h.total else None

    cdef uint64_t _rank(self, object p) except? 0:
        if isinstance(p, bool) or not isinstance(p, (int, float)):
            raise TypeError(f"percentile must be a number in [0, 100], not {type(p).__name__}")
        if not 0 <= p <= 100:
            raise ValueError(f"percentile must be in [0, 100], got {p!r}")
        return <uint64_t>ceil(<double>p / 100.0 * <double>self.h.total)

    def percentile(self, p):
        """Value at percentile ``p`` (0-100) in ns: the recorded value of that rank to within
        its bucket (≤ 0.4%), 0 when empty."""
        return hist_value_at_rank(self.h, self._rank(p))

    def percentiles(self, ps=(50, 90, 99, 99.9, 99.99)):
        """``{p: value}`` for each percentile in ``ps``."""
        return {p: hist_value_at_rank(self.h, self._rank(p)) for p in ps}

    def count_at_or_below(self, value):
        """Values recorded up to ``value`` ns (whole buckets: ≤ 1% off in value)."""
        cdef int64_t v = _as_ns(value, "value")
        cdef uint64_t total = 0
        cdef uint32_t i
        for i in range(HIST_BUCKETS):
            if hist_bucket_low(i) > v:
                break
            total += self.h.counts[i]
        return total

    def summary(self):
        """count, min, max, mean and p50/p90/p99/p99.9/p99.99 (ns) as a plain dict."""
        out = {"count": self.count, "min": self.min, "max": self.max, "mean": self.mean}
        for p, v in self.percentiles().items():
            out[f"p{p:g}"] = v
        out["saturated"] = self.saturated
        return out

    def counts(self):
        """Counts of every bucket as a numpy uint64 array (a copy; see :meth:`bounds`)."""
        cdef cnp.ndarray out = np.empty(HIST_BUCKETS, dtype=np.uint64)
        memcpy(cnp.PyArray_DATA(out), self.h.counts, sizeof(self.h.counts))
        return out

    @staticmethod
    def bounds():
        """``(low, high)`` numpy int64 arrays: the values each bucket holds (inclusive)."""
        cdef uint32_t i
        low = np.empty(HIST_BUCKETS, dtype=np.int64)
        high = np.empty(HIST_BUCKETS, dtype=np.int64)
        for i in range(HIST_BUCKETS):
            low[i] = hist_bucket_low(i)
            high[i] = hist_bucket_high(i)
        return low, high

    def buckets(self):
        """The non-empty buckets as a structured numpy array (``low``, ``high``, ``count``)."""
        counts = self.counts()
        low, high = LatencyHistogram.bounds()
        nz = np.nonzero(counts)[0]
        out = np.empty(len(nz), dtype=[("low", "<i8"), ("high", "<i8"), ("count", "<u8")])
        out["low"] = low[nz]
        out["high"] = high[nz]
        out["count"] = counts[nz]
        return out

    def to_bytes(self):
        """Serialized form (for sending to another process; :meth:`from_bytes` reads it)."""
        return _MAGIC + (<char*>self.h)[:sizeof(LatencyHist)]

    @staticmethod
    def from_bytes(data):
        """A histogram from :meth:`to_bytes` output."""
        cdef LatencyHistogram out
        cdef const unsigned char[::1] view
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        raw = bytes(data)
        if len(raw) != len(_MAGIC) + sizeof(LatencyHist) or not raw.startswith(_MAGIC):
            raise ValueError("data: not a serialized LatencyHistogram of this version")
        out = LatencyHistogram.__new__(LatencyHistogram)
        view = raw
        memcpy(out.h, &view[len(_MAGIC)], sizeof(LatencyHist))
        return out

    def __reduce__(self):
        return (LatencyHistogram.from_bytes, (self.to_bytes(),))

    def __len__(self):
        return self.h.total

    def __repr__(self):
        if not self.h.total:
            return "<LatencyHistogram empty>"
        return (f"<LatencyHistogram count={self.count} p50={self.percentile(50)}ns "
                f"p99={self.percentile(99)}ns max={self.max}ns>")
