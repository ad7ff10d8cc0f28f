# Log-linear latency histogram (HdrHistogram-style) over one C struct.
#
# Values are int64 nanoseconds.  0..255 are counted exactly; above, every power of two
# [2**k, 2**(k+1)) is cut into 128 equal buckets, so a bucket is at most 1/128 (0.78%) of its
# values wide and its midpoint is within 0.4% of any value in it.  2**36 ns (68.7 s) and more,
# and negative values, are clamped to the range and counted in ``saturated``.
#
# From Cython (the engine's hot path):
#     from hftcore._ext.hist cimport LatencyHistogram, hist_record, hist_now_ns
#     hist_record(stage_hist.h, hist_now_ns() - t0)        # noexcept nogil, a few ns
# One writer per histogram: merge() histograms recorded by different threads.
from libc.stdint cimport int64_t, uint64_t, uint32_t

cdef extern from *:
    """
    #include <time.h>
    typedef unsigned __int128 hist_u128;
    static inline int hist_clz64(unsigned long long v) { return __builtin_clzll(v); }
    """
    ctypedef unsigned long long hist_u128
    int hist_clz64(unsigned long long v) noexcept nogil

from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

cdef enum:
    HIST_SUB_BITS = 7              # 128 buckets per power of two
    HIST_SUB = 128
    HIST_LINEAR = 256              # values below are exact
    HIST_MAX_EXP = 36              # values must be < 2**36 ns
    HIST_BUCKETS = 3840            # 256 + (36 - 8) * 128

ctypedef struct LatencyHist:
    uint64_t counts[HIST_BUCKETS]
    uint64_t total
    uint64_t saturated
    int64_t min
    int64_t max
    hist_u128 sum


cdef inline uint32_t hist_index(int64_t v) noexcept nogil:
    """Bucket of 0 <= v < 2**36."""
    cdef int k
    if v < HIST_LINEAR:
        return <uint32_t>v
    k = 63 - hist_clz64(<unsigned long long>v)
    return <uint32_t>(HIST_LINEAR + (k - 8) * HIST_SUB
                      + ((<uint64_t>v >> (k - HIST_SUB_BITS)) - HIST_SUB))


cdef inline void hist_record(LatencyHist* h, int64_t v) noexcept nogil:
    if v < 0 or v >= (<int64_t>1 << HIST_MAX_EXP):
        h.saturated += 1
        v = 0 if v < 0 else (<int64_t>1 << HIST_MAX_EXP) - 1
    h.counts[hist_index(v)] += 1
    h.total += 1
    h.sum += <hist_u128>v
    if v < h.min:
        h.min = v
    if v > h.max:
        h.max = v


cdef inline int64_t hist_now_ns() noexcept nogil:
    """CLOCK_MONOTONIC in nanoseconds (the clock time.monotonic_ns/perf_counter_ns read)."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef void hist_clear(LatencyHist* h) noexcept nogil
cdef int64_t hist_bucket_low(uint32_t i) noexcept nogil
cdef int64_t hist_bucket_high(uint32_t i) noexcept nogil
cdef int64_t hist_value_at_rank(const LatencyHist* h, uint64_t rank) noexcept nogil
cdef void hist_merge(LatencyHist* into, const LatencyHist* other) noexcept nogil


cdef class LatencyHistogram:
    cdef LatencyHist* h
    cdef uint64_t _rank(self, object p) except? 0
