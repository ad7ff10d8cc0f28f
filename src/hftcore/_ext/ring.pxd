# C API of the ring buffers (ring.h holds the lock-free code; ring.pyx the Python face).
# A Cython module publishes from nogil code with
#     cdef Producer p = ...; hfr_publish(&p.c, records_ptr, n, timeout_ns, &timed_out)
# and reads with hfr_read(&consumer.c, out_ptr, max).
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t

cdef extern from "ring.h" nogil:
    enum:
        HFR_MAGIC
        HFR_VERSION
        HFR_LINE
        HFR_DESCR_MAX
        HFR_MAX_CONSUMERS
        HFR_BLOCK
        HFR_FAIL
        HFR_OVERWRITE
        HFR_FREE
        HFR_ACTIVE
        HFR_EVICTED
        HFR_JOINING
        HFR_WAIT_SPIN
        HFR_WAIT_YIELD
        HFR_WAIT_SLEEP
        HFR_TIMEOUT
        HFR_CLOSED
        HFR_START_LATEST
        HFR_START_OLDEST
        HFR_START_REJOIN

    ctypedef struct hfr_config:
        uint64_t magic
        uint32_t version
        uint32_t data_offset
        uint64_t capacity
        uint64_t layout_id
        uint32_t record_size
        uint32_t mode
        uint32_t max_consumers
        uint32_t descr_len
        int64_t created_ns
        uint32_t owner_pid
        uint64_t owner_start
        uint64_t stall_timeout_ns

    ctypedef struct hfr_producer:
        uint64_t head
        uint64_t claim
        uint32_t pid
        uint32_t closed
        uint64_t rejected
        uint64_t evictions
        uint64_t published_batches

    ctypedef struct hfr_consumer:
        uint64_t tail
        uint32_t state
        uint32_t pid
        uint64_t lost
        uint64_t evicted

    ctypedef struct hfr_prod_local:
        uint8_t* base
        uint8_t* data
        uint64_t capacity
        uint64_t mask
        uint64_t head
        uint64_t limit
        uint64_t claim
        uint32_t record_size
        uint32_t mode
        uint32_t max_consumers
        uint32_t pid
        int wait
        int64_t sleep_ns
        uint64_t stall_ns
        int64_t blocked_since
        int64_t last_liveness

    ctypedef struct hfr_cons_local:
        uint8_t* base
        uint8_t* data
        uint64_t capacity
        uint64_t mask
        uint64_t tail
        uint64_t lost
        uint64_t batch_seq
        uint32_t record_size
        uint32_t index
        uint32_t pid
        int wait
        int64_t sleep_ns
        int64_t last_liveness

    hfr_config* hfr_cfg(uint8_t* base) noexcept
    hfr_producer* hfr_prod(uint8_t* base) noexcept
    hfr_consumer* hfr_cons(uint8_t* base, uint32_t i) noexcept
    uint64_t hfr_data_offset(uint32_t max_consumers) noexcept
    uint64_t hfr_total_bytes(uint64_t capacity, uint32_t record_size,
                             uint32_t max_consumers) noexcept
    int64_t hfr_monotonic_ns() noexcept
    int hfr_pid_alive(uint32_t pid) noexcept
    void hfr_init(uint8_t* base, uint64_t capacity, uint32_t record_size,
                  uint32_t max_consumers, uint32_t mode, uint64_t layout_id,
                  const char* descr, uint32_t descr_len, uint64_t stall_ns,
                  uint32_t owner_pid, uint64_t owner_start) noexcept
    void hfr_prod_open(hfr_prod_local* p, uint8_t* base, uint32_t pid, int wait,
                       int64_t sleep_ns) noexcept
    uint64_t hfr_publish(hfr_prod_local* p, const void* src, uint64_t n, int64_t timeout_ns,
                         int* timed_out) noexcept
    int64_t hfr_claim(hfr_prod_local* p, uint64_t n, int64_t timeout_ns,
                      uint8_t** slot) noexcept
    void hfr_commit(hfr_prod_local* p, uint64_t n) noexcept
    uint32_t hfr_prod_pid(hfr_producer* p) noexcept
    bint hfr_prod_swap_pid(hfr_producer* p, uint32_t old, uint32_t me) noexcept
    void hfr_count_rejected(uint8_t* base, uint64_t n) noexcept
    void hfr_close(uint8_t* base) noexcept
    int hfr_cons_open(hfr_cons_local* c, uint8_t* base, uint32_t pid, int wait,
                      int64_t sleep_ns, int how) noexcept
    void hfr_cons_close(hfr_cons_local* c) noexcept
    uint64_t hfr_cons_available(hfr_cons_local* c) noexcept
    uint64_t hfr_read(hfr_cons_local* c, void* dst, uint64_t max) noexcept
    int64_t hfr_wait_readable(hfr_cons_local* c, int64_t timeout_ns) noexcept


cdef class Ring:
    cdef uint8_t* base
    cdef uint64_t _nbytes
    cdef object _owner          # bytearray (heap) or the buffer's exporter
    cdef Py_buffer _view
    cdef bint _has_view
    cdef int _exports           # claimed views alive: release() waits for none
    cdef object _dtype
    cdef list _refs             # weakrefs to this object's producer and consumers
    cdef readonly uint32_t record_size
    cdef readonly uint64_t capacity
    cdef readonly uint64_t layout_id
    cdef readonly uint32_t max_consumers
    cdef int _check(self) except -1
    cdef _take_buffer(self, object buffer, uint64_t need)
    cdef _load_config(self)


cdef class Producer:
    cdef hfr_prod_local c
    cdef readonly Ring ring
    cdef bint _open
    cdef int64_t _pending       # claimed, not yet committed
    cdef object __weakref__
    cdef int _check(self) except -1
    cdef uint64_t _publish_wait(self, const uint8_t* src, uint64_t n, int64_t timeout) except? 0


cdef class Consumer:
    cdef hfr_cons_local c
    cdef readonly Ring ring
    cdef bint _open
    cdef object __weakref__
    cdef int _check(self) except -1
    cdef int64_t _wait(self, int64_t timeout) except? -3
    cdef uint64_t _read_into(self, object out) except? 0
