"""Single-producer ring buffers of fixed-size records over heap or shared memory.

A :class:`Ring` is one memory region (``ring.h`` documents its layout) holding a header, the
cursors and ``capacity`` slots of ``record_size`` bytes.  One :class:`Producer` publishes; up to
``consumers`` :class:`Consumer` objects each read every record with their own cursor (one
consumer: SPSC; several: broadcast).  Records are viewed as numpy structured arrays of the
ring's dtype.  Backpressure is the ring's: ``"block"`` (the producer waits for the slowest
consumer; a consumer whose process died, or that holds the producer longer than
``stall_timeout``, is evicted), ``"fail"`` (a full ring refuses, counted in ``rejected``) or
``"overwrite"`` (the oldest records are overwritten; each consumer counts what it lost, and the
sequence numbers show where).  See docs/rings.md.
"""
cimport cython
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE,
                             PyBUF_WRITABLE, PyBUF_ANY_CONTIGUOUS)
from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t, INT64_MAX
from libc.stdlib cimport free
from libc.string cimport memset, memcpy
from posix.stdlib cimport posix_memalign
from posix.unistd cimport getpid

import json
import weakref

import numpy as np
cimport numpy as cnp
from numpy.lib.format import descr_to_dtype, dtype_to_descr

cnp.import_array()

__all__ = ["BACKPRESSURE", "WAIT", "Consumer", "Producer", "Ring", "RingLayoutError",
           "describe_layout", "ring_bytes"]

#: backpressure name -> code stored in the ring header
BACKPRESSURE = {"block": HFR_BLOCK, "fail": HFR_FAIL, "overwrite": HFR_OVERWRITE}
#: wait strategy name -> code
WAIT = {"spin": HFR_WAIT_SPIN, "yield": HFR_WAIT_YIELD, "sleep": HFR_WAIT_SLEEP}
_MODE_NAMES = {v: k for k, v in BACKPRESSURE.items()}
_STATE_NAMES = {HFR_FREE: "free", HFR_ACTIVE: "active", HFR_EVICTED: "evicted",
                HFR_JOINING: "joining"}
VERSION = HFR_VERSION
MAX_CONSUMERS = HFR_MAX_CONSUMERS

# a blocking call releases the GIL for at most this long, then checks for signals (Ctrl-C)
cdef int64_t WAIT_CHUNK_NS = 50000000
cdef uint64_t MAX_RECORD_SIZE = 1 << 20
cdef uint64_t MAX_CAPACITY = (<uint64_t>1) << 40


class RingLayoutError(ValueError):
    """The memory holds no ring, or a ring of another version, record size or layout."""


def _fnv1a64(bytes data):
    cdef uint64_t h = 0xcbf29ce484222325ULL
    cdef unsigned char ch
    for ch in data:
        h = (h ^ ch) * 0x100000001b3ULL
    return h


def _tuples(obj):
    # JSON turns the descr's (name, format[, shape]) tuples into lists; descr_to_dtype wants
    # tuples for fields and lists for field lists.
    if isinstance(obj, list):
        if obj and all(isinstance(e, list) and len(e) in (2, 3) and isinstance(e[0], str)
                       and not isinstance(e[1], (int, float)) for e in obj):
            return [tuple(_tuples(x) if isinstance(x, list) else x for x in e) for e in obj]
        return [_tuples(e) for e in obj]
    return obj


def describe_layout(dtype):
    """The layout text and id a ring stores for ``dtype``.

    Returns ``(text, layout_id)``: ``text`` is the dtype as JSON (numpy's ``.npy`` descr,
    offsets and padding included), ``layout_id`` its 64-bit FNV-1a hash.  Two dtypes with the
    same fields, formats and offsets have the same id.
    """
    dt = np.dtype(dtype)
    if dt.hasobject:
        raise TypeError("dtype: records must be plain bytes (no Python objects)")
    text = json.dumps({"descr": dtype_to_descr(dt), "itemsize": dt.itemsize},
                      separators=(",", ":")).encode()
    return text, _fnv1a64(text)


def _dtype_from_text(bytes text):
    obj = json.loads(text)
    dt = descr_to_dtype(_tuples(obj["descr"]))
    if dt.itemsize != obj["itemsize"]:
        dt = np.dtype({"names": dt.names or [], "formats": [dt.fields[n][0] for n in dt.names or []],
                       "offsets": [dt.fields[n][1] for n in dt.names or []],
                       "itemsize": obj["itemsize"]})
    return dt


def ring_bytes(capacity, record_size, consumers=1):
    """Bytes of memory a ring of ``capacity`` records of ``record_size`` bytes needs."""
    _check_sizes(capacity, record_size, consumers)
    return hfr_total_bytes(capacity, record_size, consumers)


cdef _check_int(object value, str name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")


cdef _check_sizes(object capacity, object record_size, object consumers):
    _check_int(capacity, "capacity")
    _check_int(record_size, "record_size")
    _check_int(consumers, "consumers")
    if capacity < 2 or capacity > MAX_CAPACITY or capacity & (capacity - 1):
        raise ValueError(f"capacity must be a power of two in [2, 2**40], got {capacity}")
    if record_size < 1 or record_size > MAX_RECORD_SIZE:
        raise ValueError(f"record_size must be in [1, {MAX_RECORD_SIZE}], got {record_size}")
    if consumers < 1 or consumers > HFR_MAX_CONSUMERS:
        raise ValueError(f"consumers must be in [1, {HFR_MAX_CONSUMERS}], got {consumers}")


cdef int64_t _timeout_ns(object timeout, str name="timeout") except? -2:
    """None -> -1 (no limit); seconds (int or float, >= 0) -> ns."""
    if timeout is None:
        return -1
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{name} must be None or a number of seconds, "
                        f"not {type(timeout).__name__}")
    if not timeout >= 0:
        raise ValueError(f"{name} must be >= 0, got {timeout!r}")
    if timeout >= 9e9:
        return -1
    return <int64_t>(timeout * 1e9)


cdef int _wait_code(object wait) except -1:
    try:
        return WAIT[wait]
    except (KeyError, TypeError):
        raise ValueError(f"wait must be one of {sorted(WAIT)}, got {wait!r}") from None


cdef int64_t _sleep_ns(object sleep) except -1:
    if isinstance(sleep, bool) or not isinstance(sleep, (int, float)):
        raise TypeError(f"sleep must be a number of seconds, not {type(sleep).__name__}")
    if not 0 < sleep <= 1:
        raise ValueError(f"sleep must be in (0, 1] seconds, got {sleep!r}")
    return <int64_t>(sleep * 1e9)


cdef int _check_signals() except -1 with gil:
    PyErr_CheckSignals()
    return 0


cdef int _get_writable(object buffer, Py_buffer* view) except -1:
    try:
        PyObject_GetBuffer(buffer, view, PyBUF_WRITABLE | PyBUF_ANY_CONTIGUOUS)
    except (BufferError, TypeError):
        raise TypeError(f"buffer: a writable contiguous buffer is needed, "
                        f"not {type(buffer).__name__}") from None
    return 0


@cython.final
cdef class _SlotView:
    """Buffer over claimed ring slots; counts itself as an export of the ring."""
    cdef Ring ring
    cdef uint8_t* ptr
    cdef Py_ssize_t length

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        buffer.buf = self.ptr
        buffer.obj = self
        buffer.len = self.length
        buffer.readonly = 0
        buffer.itemsize = 1
        buffer.format = NULL
        buffer.ndim = 1
        buffer.shape = &self.length
        buffer.strides = NULL
        buffer.suboffsets = NULL
        buffer.internal = NULL
        self.ring._exports += 1

    def __releasebuffer__(self, Py_buffer* buffer):
        self.ring._exports -= 1


@cython.final
cdef class Ring:
    """A ring of ``capacity`` fixed-size records, on the heap or in a given buffer.

    Parameters
    ----------
    capacity : int
        Number of slots, a power of two.
    dtype : numpy dtype, optional
        Record layout (e.g. ``hftcore.decoders.TRADE_DTYPE``); its item size is the slot size.
        Without it, ``record_size`` raw bytes per slot (dtype ``V<record_size>``).
    record_size : int, optional
        Slot size in bytes when no dtype is given (must equal the dtype's item size if both).
    consumers : int
        Most consumers attached at once (1 = SPSC, up to 64).
    backpressure : {"block", "fail", "overwrite"}
        What a full ring does to the producer.
    stall_timeout : float or None
        Block mode: a consumer that holds the producer this many seconds without moving is
        evicted (it sees the records it then misses as lost).  None: only consumers whose
        process died are evicted.
    buffer : writable buffer, optional
        Lay the ring out in this memory (e.g. ``SharedMemory.buf``) instead of the heap; it
        must hold :func:`ring_bytes` bytes.  Use :meth:`Ring.attach` to open an existing ring.
    """

    def __cinit__(self):
        self.base = NULL
        self._has_view = False
        self._exports = 0
        self._refs = []
        self._owner = None

    def __init__(self, capacity, dtype=None, *, record_size=None, consumers=1,
                 backpressure="block", stall_timeout=5.0, buffer=None, owner_start=0):
        cdef int mode
        cdef uint64_t stall
        cdef uint64_t need
        cdef void* mem = NULL
        if dtype is None and record_size is None:
            raise TypeError("dtype: give a record dtype or a record_size")
        if dtype is not None:
            try:
                dt = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"dtype: not a numpy dtype: {dtype!r}") from None
            if record_size is not None:
                _check_int(record_size, "record_size")
                if record_size != dt.itemsize:
                    raise ValueError(f"record_size {record_size} != dtype itemsize {dt.itemsize}")
        else:
            _check_int(record_size, "record_size")
            if record_size < 1:
                raise ValueError(f"record_size must be >= 1, got {record_size}")
            dt = np.dtype(f"V{record_size}")
        _check_sizes(capacity, dt.itemsize, consumers)
        try:
            mode = BACKPRESSURE[backpressure]
        except (KeyError, TypeError):
            raise ValueError(f"backpressure must be one of {sorted(BACKPRESSURE)}, "
                             f"got {backpressure!r}") from None
        stall_ns = _timeout_ns(stall_timeout, "stall_timeout")
        stall = 0 if stall_ns < 0 else (<uint64_t>stall_ns if stall_ns > 0 else 1)
        _check_int(owner_start, "owner_start")
        text, layout = describe_layout(dt)
        if len(text) > HFR_DESCR_MAX:
            raise ValueError(f"dtype: description too long for the ring header "
                             f"({len(text)} > {HFR_DESCR_MAX} bytes)")
        need = hfr_total_bytes(capacity, dt.itemsize, consumers)
        if need == 0:
            raise ValueError("capacity * record_size overflows")
        if buffer is None:
            if posix_memalign(&mem, 4096, need) != 0:
                raise MemoryError(f"cannot allocate {need} bytes for a ring")
            memset(mem, 0, need)
            self.base = <uint8_t*>mem
            self._nbytes = need
        else:
            self._take_buffer(buffer, need)
            memset(self.base, 0, hfr_data_offset(consumers))
        self._dtype = dt
        hfr_init(self.base, capacity, dt.itemsize, consumers, mode, layout, text, len(text),
                 stall, <uint32_t>getpid(), owner_start)
        self._load_config()

    cdef _take_buffer(self, object buffer, uint64_t need):
        cdef Py_ssize_t size
        _get_writable(buffer, &self._view)
        self._has_view = True
        if <uint64_t>self._view.len < need:
            size = self._view.len
            PyBuffer_Release(&self._view)
            self._has_view = False
            raise ValueError(f"buffer: {size} bytes, the ring needs {need}")
        if (<size_t>self._view.buf) % 64:
            PyBuffer_Release(&self._view)
            self._has_view = False
            raise ValueError("buffer: must be aligned to 64 bytes (shared memory and mmap are)")
        self.base = <uint8_t*>self._view.buf
        self._nbytes = self._view.len
        self._owner = buffer

    cdef _load_config(self):
        cdef hfr_config* c = hfr_cfg(self.base)
        self.record_size = c.record_size
        self.capacity = c.capacity
        self.layout_id = c.layout_id
        self.max_consumers = c.max_consumers

    @staticmethod
    def attach(buffer, dtype=None, *, record_size=None):
        """Open the ring laid out in ``buffer`` (made by ``Ring(..., buffer=...)`` elsewhere).

        With ``dtype`` (or ``record_size``) the ring must hold records of that layout; without,
        the dtype stored in the ring is used.  Raises :class:`RingLayoutError` for memory that
        holds no ring or a ring of another version, size or layout.
        """
        cdef Ring self = Ring.__new__(Ring)
        cdef hfr_config* c
        cdef uint64_t magic
        if dtype is not None:
            try:
                want = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"dtype: not a numpy dtype: {dtype!r}") from None
        else:
            want = None
        if record_size is not None:
            _check_int(record_size, "record_size")
        _get_writable(buffer, &self._view)
        self._has_view = True
        self._owner = buffer
        self.base = <uint8_t*>self._view.buf
        self._nbytes = self._view.len
        if self._nbytes < hfr_data_offset(1):
            self.release()
            raise RingLayoutError(f"buffer of {self._nbytes} bytes holds no ring")
        c = hfr_cfg(self.base)
        magic = c.magic
        if magic != HFR_MAGIC:
            self.release()
            raise RingLayoutError("buffer holds no hftcore ring (bad magic)")
        if c.version != HFR_VERSION:
            v = c.version
            self.release()
            raise RingLayoutError(f"ring format version {v}, this hftcore reads version "
                                  f"{HFR_VERSION}: attach with a matching hftcore")
        if (c.max_consumers < 1 or c.max_consumers > HFR_MAX_CONSUMERS
                or c.descr_len > HFR_DESCR_MAX
                or hfr_total_bytes(c.capacity, c.record_size, c.max_consumers) == 0
                or hfr_total_bytes(c.capacity, c.record_size, c.max_consumers) > self._nbytes
                or c.capacity & (c.capacity - 1) or c.capacity < 2):
            self.release()
            raise RingLayoutError("ring header is inconsistent with the buffer size")
        text = bytes((<char*>self.base + HFR_LINE)[:c.descr_len])
        self._load_config()
        try:
            stored = _dtype_from_text(text)
        except (ValueError, KeyError, TypeError):
            stored = np.dtype(f"V{self.record_size}")
        if record_size is not None and record_size != self.record_size:
            size = self.record_size
            self.release()
            raise RingLayoutError(f"ring holds {size}-byte records, expected {record_size}")
        if want is not None:
            _, wanted_id = describe_layout(want)
            if want.itemsize != self.record_size or wanted_id != self.layout_id:
                got_id, size = self.layout_id, self.record_size
                self.release()
                raise RingLayoutError(
                    f"ring holds records of layout {got_id:#018x} ({size} bytes: {stored}), "
                    f"expected layout {wanted_id:#018x} ({want.itemsize} bytes: {want})")
            stored = want
        self._dtype = stored
        return self

    def __dealloc__(self):
        if self._has_view:
            PyBuffer_Release(&self._view)
            self._has_view = False
        elif self.base != NULL:
            free(self.base)
        self.base = NULL

    cdef int _check(self) except -1:
        if self.base == NULL:
            raise ValueError("ring was released")
        return 0

    def release(self):
        """Let go of the ring's memory (its producer and consumers are closed first).

        Raises BufferError while arrays returned by :meth:`Producer.claim` are alive.
        """
        if self.base == NULL:
            return
        if self._exports:
            raise BufferError(f"{self._exports} claimed slot views are still alive")
        for ref in list(self._refs):
            obj = ref()
            if obj is not None:
                obj.close()
        self._refs.clear()
        if self._has_view:
            PyBuffer_Release(&self._view)
            self._has_view = False
        else:
            free(self.base)
        self.base = NULL
        self._owner = None

    @property
    def released(self):
        """True once :meth:`release` let go of the memory."""
        return self.base == NULL

    @property
    def dtype(self):
        """numpy dtype of one record."""
        return self._dtype

    @property
    def backpressure(self):
        """``"block"``, ``"fail"`` or ``"overwrite"``."""
        self._check()
        return _MODE_NAMES[hfr_cfg(self.base).mode]

    @property
    def stall_timeout(self):
        """Seconds a consumer may hold a blocked producer before eviction (None: never)."""
        self._check()
        ns = hfr_cfg(self.base).stall_timeout_ns
        return None if ns == 0 else ns / 1e9

    @property
    def head(self):
        """Records published so far (the sequence number of the next one)."""
        self._check()
        return hfr_prod(self.base).head

    @property
    def closed(self):
        """True once the producer ended the stream."""
        self._check()
        return hfr_prod(self.base).closed != 0

    @property
    def producer_pid(self):
        """Process id of the attached producer, 0 when none."""
        self._check()
        return hfr_prod(self.base).pid

    @property
    def owner_pid(self):
        """Process id of the ring's creator."""
        self._check()
        return hfr_cfg(self.base).owner_pid

    @property
    def owner_start(self):
        """Start time of the creator's process as the creator recorded it (0: unknown)."""
        self._check()
        return hfr_cfg(self.base).owner_start

    @property
    def nbytes(self):
        """Size of the memory the ring lives in."""
        return self._nbytes

    def stats(self):
        """Cursors and counters as a plain dict (safe to call from any process)."""
        cdef hfr_producer* p
        cdef hfr_consumer* k
        cdef uint32_t i
        self._check()
        p = hfr_prod(self.base)
        head = p.head
        consumers = []
        for i in range(self.max_consumers):
            k = hfr_cons(self.base, i)
            if k.state == HFR_FREE:
                continue
            consumers.append({"index": i, "state": _STATE_NAMES.get(k.state, "?"),
                              "pid": k.pid, "position": k.tail, "lag": head - k.tail,
                              "lost": k.lost, "evicted": k.evicted})
        return {"capacity": self.capacity, "record_size": self.record_size,
                "backpressure": _MODE_NAMES[hfr_cfg(self.base).mode], "head": head,
                "closed": p.closed != 0, "producer_pid": p.pid, "rejected": p.rejected,
                "evictions": p.evictions, "consumers": consumers}

    def producer(self, *, wait="yield", sleep=50e-6):
        """Become the ring's producer (one at a time; a dead producer's place is taken over).

        ``wait`` is how a blocked publish waits: ``"yield"`` (poll, ``sched_yield`` between
        polls: the default, fair when threads outnumber cores), ``"spin"`` (busy with a CPU
        pause: lowest latency, only on a core of its own) or ``"sleep"`` (``sleep`` seconds
        per poll).
        """
        cdef Producer prod
        cdef hfr_producer* hp
        cdef uint32_t me = <uint32_t>getpid()
        cdef uint32_t old
        cdef int w = _wait_code(wait)
        cdef int64_t s = _sleep_ns(sleep)
        self._check()
        hp = hfr_prod(self.base)
        old = hfr_prod_pid(hp)
        while True:
            if old != 0 and hfr_pid_alive(old):
                raise RuntimeError(f"ring already has a producer (pid {old})")
            if hfr_prod_swap_pid(hp, old, me):
                break
            old = hfr_prod_pid(hp)
        prod = Producer.__new__(Producer)
        prod.ring = self
        hfr_prod_open(&prod.c, self.base, me, w, s)
        hp.closed = 0
        prod._open = True
        self._refs.append(weakref.ref(prod))
        return prod

    def consumer(self, *, wait="yield", sleep=50e-6, start="latest"):
        """Attach a consumer with its own cursor.

        ``start="latest"`` reads records published from now on; ``"oldest"`` starts at the
        oldest record the ring still holds.  Raises RuntimeError when all ``consumers``
        places are taken by live consumers.
        """
        cdef Consumer cons
        cdef int w = _wait_code(wait)
        cdef int64_t s = _sleep_ns(sleep)
        cdef int how
        if start not in ("latest", "oldest"):
            raise ValueError(f"start must be 'latest' or 'oldest', got {start!r}")
        how = HFR_START_OLDEST if start == "oldest" else HFR_START_LATEST
        self._check()
        cons = Consumer.__new__(Consumer)
        cons.ring = self
        if hfr_cons_open(&cons.c, self.base, <uint32_t>getpid(), w, s, how) < 0:
            raise RuntimeError(f"ring has no free consumer place (all {self.max_consumers} "
                               "are taken by live consumers)")
        cons._open = True
        self._refs.append(weakref.ref(cons))
        return cons

    def __repr__(self):
        if self.base == NULL:
            return "<Ring released>"
        return (f"<Ring capacity={self.capacity} record_size={self.record_size} "
                f"backpressure={self.backpressure!r} head={self.head}>")


cdef object _VOID = np.void


cdef inline object _check_records(Ring ring, object records, str name):
    """Refuse numpy records of another dtype (raw bytes of the right size pass)."""
    cdef object dt
    if isinstance(records, (np.ndarray, np.void)):
        dt = records.dtype
        if dt is not ring._dtype and dt != ring._dtype:
            if not (ring._dtype.names is None and dt.itemsize == ring.record_size):
                raise TypeError(f"{name}: records of dtype {dt}, the ring holds {ring._dtype}")
    elif not isinstance(records, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name}: expected numpy records or bytes, "
                        f"not {type(records).__name__}")


@cython.final
cdef class Producer:
    """The one writer of a ring (made by :meth:`Ring.producer`)."""

    def __init__(self):
        raise TypeError("use Ring.producer()")

    cdef int _check(self) except -1:
        if not self._open:
            raise ValueError("producer is closed")
        if self.ring.base == NULL:
            raise ValueError("ring was released")
        if self._pending:
            raise RuntimeError("commit() the claimed slots first")
        return 0

    cdef uint64_t _publish_wait(self, const uint8_t* src, uint64_t n, int64_t timeout) except? 0:
        """Publish with the GIL released, in chunks so Ctrl-C is seen; returns records done."""
        cdef uint64_t done = 0
        cdef int timed_out = 0
        cdef int64_t chunk
        cdef int64_t left = timeout
        while done < n:
            chunk = WAIT_CHUNK_NS if (left < 0 or left > WAIT_CHUNK_NS) else left
            with nogil:
                done += hfr_publish(&self.c, src + done * self.c.record_size, n - done, chunk,
                                    &timed_out)
            if done >= n or not timed_out:
                break
            PyErr_CheckSignals()
            if left >= 0:
                left -= chunk
                if left <= 0:
                    break
        return done

    def publish(self, record, timeout=None):
        """Publish one record (numpy record/1-element array of the ring's dtype, or bytes).

        Returns True when published; False when the ring is full in fail mode, or still full
        after ``timeout`` seconds in block mode (None: wait for space).
        """
        cdef Py_buffer b
        cdef int timed_out = 0
        cdef uint64_t n
        cdef void* data = NULL
        cdef cnp.dtype descr
        self._check()
        if type(record) is _VOID:
            # a numpy record: numpy's scalar API gives its data without building a buffer
            # export (which costs ~0.5 µs for a structured scalar)
            descr = cnp.PyArray_DescrFromScalar(record)
            if descr is not self.ring._dtype and not cnp.PyArray_EquivTypes(descr,
                                                                             self.ring._dtype):
                _check_records(self.ring, record, "record")
            if <uint64_t>descr.itemsize != self.c.record_size:
                raise ValueError(f"record: {descr.itemsize} bytes, the ring's records are "
                                 f"{self.c.record_size}")
            cnp.PyArray_ScalarAsCtype(record, &data)
            n = hfr_publish(&self.c, data, 1, 0, &timed_out)
            if n == 0 and timed_out and timeout != 0:
                n = self._publish_wait(<const uint8_t*>data, 1, _timeout_ns(timeout))
            return n == 1
        if type(record) is not bytes:
            _check_records(self.ring, record, "record")
        PyObject_GetBuffer(record, &b, PyBUF_SIMPLE)
        try:
            if <uint64_t>b.len != self.c.record_size:
                raise ValueError(f"record: {b.len} bytes, the ring's records are "
                                 f"{self.c.record_size}")
            n = hfr_publish(&self.c, b.buf, 1, 0, &timed_out)
            if n == 0 and timed_out and timeout != 0:
                n = self._publish_wait(<const uint8_t*>b.buf, 1, _timeout_ns(timeout))
            return n == 1
        finally:
            PyBuffer_Release(&b)

    def publish_batch(self, records, timeout=None):
        """Publish a batch (numpy array of the ring's dtype, or bytes of whole records).

        Returns how many were published: all of them, unless the ring is full in fail mode
        (as many as fit; the rest counted in ``rejected``) or ``timeout`` expired in block
        mode.
        """
        cdef Py_buffer b
        cdef int timed_out = 0
        cdef uint64_t n, count
        self._check()
        _check_records(self.ring, records, "records")
        PyObject_GetBuffer(records, &b, PyBUF_ANY_CONTIGUOUS)
        try:
            if b.len % self.c.record_size:
                raise ValueError(f"records: {b.len} bytes is not a whole number of "
                                 f"{self.c.record_size}-byte records")
            count = b.len // self.c.record_size
            n = hfr_publish(&self.c, b.buf, count, 0, &timed_out)
            if n < count and timed_out and timeout != 0:
                n += self._publish_wait(<const uint8_t*>b.buf + n * self.c.record_size,
                                        count - n, _timeout_ns(timeout))
            return n
        finally:
            PyBuffer_Release(&b)

    def claim(self, n=1, timeout=None):
        """Reserve up to ``n`` slots for writing in place; returns them as a numpy array view.

        Fewer than ``n`` come back at the end of the buffer (the view is contiguous) or when
        fail mode finds less room (empty: full).  Fill the view, then :meth:`commit`.  The
        view is borrowed: do not keep it past the commit.
        """
        cdef uint8_t* slot = NULL
        cdef int64_t got
        cdef int64_t t
        cdef uint64_t want
        cdef _SlotView view
        _check_int(n, "n")
        self._check()
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        want = n
        t = _timeout_ns(timeout)
        got = hfr_claim(&self.c, want, 0, &slot)
        while got == HFR_TIMEOUT and t != 0:
            with nogil:
                got = hfr_claim(&self.c, want, WAIT_CHUNK_NS if (t < 0 or t > WAIT_CHUNK_NS) else t,
                                &slot)
            PyErr_CheckSignals()
            if t > 0:
                t = t - WAIT_CHUNK_NS if t > WAIT_CHUNK_NS else 0
        if got <= 0:
            return np.empty(0, dtype=self.ring._dtype)
        self._pending = got
        view = _SlotView.__new__(_SlotView)
        view.ring = self.ring
        view.ptr = slot
        view.length = got * self.c.record_size
        return np.frombuffer(view, dtype=self.ring._dtype, count=got)

    def commit(self, n=None):
        """Publish the first ``n`` claimed records (default: all claimed); 0 cancels."""
        cdef int64_t k
        if n is None:
            k = self._pending
        else:
            _check_int(n, "n")
            if n < 0 or n > self._pending:
                raise ValueError(f"n must be in [0, {self._pending}] (claimed), got {n}")
            k = n
        if not self._open or self.ring.base == NULL:
            raise ValueError("producer is closed")
        self._pending = 0
        if k:
            hfr_commit(&self.c, k)

    def publish_repeat(self, records, uint64_t count, *, uint64_t batch=256,
                       bint stamp_sequence=False):
        """Publish ``count`` records cycling through ``records``, without the GIL.

        A loop for load generators, soak tests and benchmarks: each batch is written in place
        (claim/commit); with ``stamp_sequence`` the first 8 bytes of every record are set to
        its sequence number (little-endian u64), so a reader can check order and content.
        Blocks per the ring's backpressure; returns the number published (fewer only in fail
        mode, where refused records are counted and the loop moves on).
        """
        cdef Py_buffer b
        cdef uint64_t done = 0, k, i, src_n, src_i = 0, rs = self.c.record_size
        cdef uint64_t taken
        cdef int64_t got
        cdef uint8_t* slot = NULL
        cdef const uint8_t* src
        self._check()
        _check_records(self.ring, records, "records")
        if batch < 1:
            raise ValueError("batch must be >= 1")
        if stamp_sequence and rs < 8:
            raise ValueError("stamp_sequence needs records of at least 8 bytes")
        PyObject_GetBuffer(records, &b, PyBUF_ANY_CONTIGUOUS)
        try:
            if b.len == 0 or b.len % rs:
                raise ValueError("records: a non-empty whole number of records")
            src = <const uint8_t*>b.buf
            src_n = b.len // rs
            with nogil:
                while done < count:
                    k = count - done
                    if k > batch:
                        k = batch
                    got = hfr_claim(&self.c, k, -1, &slot)
                    if got <= 0:
                        if self.c.mode == HFR_FAIL:
                            # full: refuse this batch, as publish would
                            hfr_count_rejected(self.c.base, k)
                            done += k
                        continue
                    taken = <uint64_t>got
                    i = 0
                    while i < taken:        # copy in runs of the source
                        k = taken - i
                        if k > src_n - src_i:
                            k = src_n - src_i
                        memcpy(slot + i * rs, src + src_i * rs, k * rs)
                        i += k
                        src_i += k
                        if src_i == src_n:
                            src_i = 0
                    if stamp_sequence:
                        for i in range(taken):
                            (<uint64_t*>(slot + i * rs))[0] = self.c.head + i
                    hfr_commit(&self.c, taken)
                    done += taken
        finally:
            PyBuffer_Release(&b)
        return done

    def close(self, *, end_of_stream=True):
        """Stop producing; with ``end_of_stream`` consumers see the ring as closed once read."""
        if not self._open:
            return
        self._open = False
        if self.ring.base != NULL:
            if end_of_stream:
                hfr_close(self.ring.base)
            hfr_prod_swap_pid(hfr_prod(self.ring.base), self.c.pid, 0)

    def __dealloc__(self):
        if self._open and self.ring is not None and self.ring.base != NULL:
            hfr_prod_swap_pid(hfr_prod(self.ring.base), self.c.pid, 0)

    @property
    def position(self):
        """Sequence number the next published record gets."""
        return self.c.head

    @property
    def rejected(self):
        """Records refused so far because the ring was full (fail mode)."""
        if self.ring.base == NULL:
            return 0
        return hfr_prod(self.ring.base).rejected

    @property
    def closed(self):
        """True after :meth:`close`."""
        return not self._open


@cython.final
cdef class Consumer:
    """One reader of a ring with its own cursor (made by :meth:`Ring.consumer`)."""

    def __init__(self):
        raise TypeError("use Ring.consumer()")

    cdef int _check(self) except -1:
        if not self._open:
            raise ValueError("consumer is closed")
        if self.ring.base == NULL:
            raise ValueError("ring was released")
        return 0

    cdef int64_t _wait(self, int64_t timeout) except? -3:
        """Wait for data with the GIL released in chunks; HFR_TIMEOUT / HFR_CLOSED / count."""
        cdef int64_t r = hfr_wait_readable(&self.c, 0)
        cdef int64_t left = timeout
        cdef int64_t chunk
        while r == HFR_TIMEOUT and left != 0:
            chunk = WAIT_CHUNK_NS if (left < 0 or left > WAIT_CHUNK_NS) else left
            with nogil:
                r = hfr_wait_readable(&self.c, chunk)
            PyErr_CheckSignals()
            if left > 0:
                left = left - chunk if left > chunk else 0
        return r

    def read(self, max_records=1024, timeout=0.0):
        """Copy out up to ``max_records`` records as a new numpy array (empty when none).

        ``timeout``: seconds to wait for the first record (0: do not wait; None: until a
        record arrives or the stream ends).  The sequence number of the first record is then
        :attr:`batch_seq`; records overwritten before they were read are counted in
        :attr:`lost`.
        """
        cdef int64_t avail
        cdef uint64_t n
        cdef Py_ssize_t m
        _check_int(max_records, "max_records")
        if max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {max_records}")
        self._check()
        avail = self._wait(_timeout_ns(timeout))
        if avail <= 0:
            return np.empty(0, dtype=self.ring._dtype)
        m = max_records if <uint64_t>avail > <uint64_t>max_records else avail
        if <uint64_t>m > self.c.capacity:
            m = self.c.capacity
        out = np.empty(m, dtype=self.ring._dtype)
        n = self._read_into(out)
        return out if <Py_ssize_t>n == m else out[:n]

    cdef uint64_t _read_into(self, object out) except? 0:
        cdef Py_buffer b
        cdef uint64_t n
        PyObject_GetBuffer(out, &b, PyBUF_WRITABLE | PyBUF_ANY_CONTIGUOUS)
        try:
            n = hfr_read(&self.c, b.buf, b.len // self.c.record_size)
        finally:
            PyBuffer_Release(&b)
        return n

    def read_into(self, out, timeout=0.0):
        """Copy records into ``out`` (a writable numpy array of the ring's dtype); returns the
        count.  ``timeout`` as in :meth:`read`."""
        self._check()
        _check_records(self.ring, out, "out")
        if self._wait(_timeout_ns(timeout)) <= 0:
            return 0
        return self._read_into(out)

    def drain(self, uint64_t count, *, uint64_t batch=256, timeout=None,
              bint check_sequence=False):
        """Read up to ``count`` records without the GIL, keeping only a summary.

        Stops early when the stream ends or nothing arrives for ``timeout`` seconds.  Returns
        ``{"read", "lost", "checksum", "out_of_order"}``: ``checksum`` is the sum (mod 2**64)
        of the first 8 bytes of every record read; with ``check_sequence`` (records stamped by
        :meth:`Producer.publish_repeat`) ``out_of_order`` counts records whose stamp is not
        their sequence number.
        """
        cdef uint64_t done = 0, n, i, lost0, rs = self.c.record_size
        cdef uint64_t checksum = 0, bad = 0, seq
        cdef int64_t r, chunk, waited = 0
        cdef int64_t t
        cdef uint8_t* buf
        self._check()
        if batch < 1:
            raise ValueError("batch must be >= 1")
        if rs < 8:
            raise ValueError("drain needs records of at least 8 bytes")
        t = _timeout_ns(timeout)
        lost0 = self.c.lost
        scratch = np.empty(batch * rs, dtype=np.uint8)
        buf = <uint8_t*><size_t>scratch.ctypes.data
        # the whole loop runs without the GIL; waits come back for it every 50 ms (signals)
        with nogil:
            while done < count:
                chunk = WAIT_CHUNK_NS if (t < 0 or t - waited > WAIT_CHUNK_NS) else t - waited
                r = hfr_wait_readable(&self.c, chunk)
                if r == HFR_CLOSED:
                    break
                if r == HFR_TIMEOUT:
                    waited += chunk
                    if t >= 0 and waited >= t:
                        break
                    _check_signals()
                    continue
                waited = 0
                while done < count:
                    n = count - done
                    if n > batch:
                        n = batch
                    n = hfr_read(&self.c, buf, n)
                    if n == 0:
                        break
                    seq = self.c.batch_seq
                    for i in range(n):
                        checksum += (<uint64_t*>(buf + i * rs))[0]
                        if check_sequence and (<uint64_t*>(buf + i * rs))[0] != seq + i:
                            bad += 1
                    done += n
        return {"read": done, "lost": self.c.lost - lost0, "checksum": checksum,
                "out_of_order": bad}

    def close(self):
        """Detach: the producer stops waiting for this consumer."""
        if self._open:
            self._open = False
            if self.ring.base != NULL:
                hfr_cons_close(&self.c)

    def __dealloc__(self):
        if self._open and self.ring is not None and self.ring.base != NULL:
            hfr_cons_close(&self.c)

    @property
    def position(self):
        """Sequence number of the next record this consumer reads."""
        return self.c.tail

    @property
    def batch_seq(self):
        """Sequence number of the first record of the last read."""
        return self.c.batch_seq

    @property
    def lost(self):
        """Records this consumer never saw (overwritten before it read them)."""
        return self.c.lost

    @property
    def evicted(self):
        """Times the producer evicted this consumer for holding it up."""
        self._check()
        return hfr_cons(self.ring.base, self.c.index).evicted

    @property
    def index(self):
        """This consumer's place in the ring header."""
        return self.c.index

    @property
    def available(self):
        """Records published and not yet read by this consumer (at most ``capacity`` held)."""
        self._check()
        return hfr_cons_available(&self.c)

    @property
    def end_of_stream(self):
        """True when the producer closed the ring and every record was read."""
        self._check()
        return hfr_prod(self.ring.base).closed != 0 and hfr_cons_available(&self.c) == 0

    @property
    def closed(self):
        """True after :meth:`close`."""
        return not self._open
