"""The trading core in C: order table and state machine, binary order journal, positions.

Orders live in C records (``OrderRec``, chunks of 1024), addressed by a *handle*: the order's
number in its session minus one, so a client order id ``"{prefix}{session}-{n}"`` turns into its
record with no hash lookup.  :class:`Order` is a small view over one record.  History entries
and fills are C arrays; the Python objects an order owns are its id, venue id, reason and the
trade ids of its fills (strings: nothing the garbage collector has to walk).

Every event goes through one transition function (``OrderCore._ack``, ``_fill``, ...), called by
the live API with ``live=True`` and by journal replay with ``live=False``: the function checks
the event against the order's state, and when it is accepted writes the journal record (live
only), then changes the state.  Arguments are validated completely before that, so a refused
call changes nothing and writes nothing.  The Python layer (:mod:`hftcore.orders`) adds
reconciliation, recovery and the anomaly log around this core.
"""
cimport cython
import os
import sys

from cpython.bool cimport PyBool_Check
from cpython.long cimport PyLong_Check, PyLong_CheckExact, PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF, Py_DECREF
from cpython.set cimport PySet_Add, PySet_Contains, PySet_New
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeASCII, PyUnicode_DecodeUTF8
from libc.stdint cimport int64_t, int32_t, uint32_t, uint16_t, uint8_t, uint64_t, INT64_MAX, INT64_MIN
from libc.string cimport memcpy, memset, memcmp

from hftcore._ext.types cimport SIDE_BID, SIDE_ASK
from hftcore._ext.risk cimport OT_LIMIT, OT_MARKET, OT_STOP_MARKET, OT_STOP_LIMIT, OT_LIMIT_MAKER

cdef extern from "trading.h":
    hc_i128 hc_from64(int64_t v) nogil
    hc_i128 hc_zero() nogil
    hc_i128 hc_mul64(int64_t a, int64_t b) nogil
    int hc_add(hc_i128 a, hc_i128 b, hc_i128* r) nogil
    int hc_sub(hc_i128 a, hc_i128 b, hc_i128* r) nogil
    int hc_neg(hc_i128 a, hc_i128* r) nogil
    int hc_sign(hc_i128 v) nogil
    int hc_fits64(hc_i128 v) nogil
    int64_t hc_to64(hc_i128 v) nogil
    int64_t hc_hi(hc_i128 v) nogil
    uint64_t hc_lo(hc_i128 v) nogil
    hc_i128 hc_make(int64_t hi, uint64_t lo) nogil
    int hc_part_half_even(hc_i128 cost, int64_t part, int64_t whole, hc_i128* out) nogil
    int hc_fee_up(hc_i128 value, int64_t rate, hc_i128* out) nogil
    hc_i128 hc_div_half_even(hc_i128 a, hc_i128 b) nogil
    int hc_add64(int64_t a, int64_t b, int64_t* r) nogil
    int hc_sub64(int64_t a, int64_t b, int64_t* r) nogil
    int64_t hc_monotonic_ns() nogil
    int64_t hc_wall_ns() nogil

__all__ = [
    "LIQUIDITY_CODES",
    "ORDER_TYPE_CODES",
    "RECORD_SCHEMA",
    "SIDE_CODES",
    "STATUS_CODES",
    "TIME_IN_FORCE_CODES",
    "FillLog",
    "JournalScanner",
    "JournalWriter",
    "Order",
    "OrderCore",
    "OrderError",
    "PortfolioCore",
    "Position",
    "bind_model",
    "bind_reasons",
    "scan_journal",
]

# -- codes: the one definition hftcore.model builds its enums from ------------------------------
SIDE_CODES = {"BUY": SIDE_BID, "SELL": SIDE_ASK}
ORDER_TYPE_CODES = {"LIMIT": OT_LIMIT, "MARKET": OT_MARKET, "STOP_MARKET": OT_STOP_MARKET,
                    "STOP_LIMIT": OT_STOP_LIMIT, "LIMIT_MAKER": OT_LIMIT_MAKER}
TIME_IN_FORCE_CODES = {"GTC": TIF_GTC, "IOC": TIF_IOC, "FOK": TIF_FOK, "GTX": TIF_GTX,
                       "DAY": TIF_DAY}
STATUS_CODES = {
    "NEW": ST_NEW, "PENDING_NEW": ST_PENDING_NEW, "ACCEPTED": ST_ACCEPTED,
    "PARTIALLY_FILLED": ST_PARTIALLY_FILLED, "FILLED": ST_FILLED,
    "PENDING_CANCEL": ST_PENDING_CANCEL, "PENDING_REPLACE": ST_PENDING_REPLACE,
    "CANCELED": ST_CANCELED, "REJECTED": ST_REJECTED, "EXPIRED": ST_EXPIRED,
    "UNKNOWN": ST_UNKNOWN,
}
LIQUIDITY_CODES = {"MAKER": LIQ_MAKER, "TAKER": LIQ_TAKER}
EVENT_NAMES = (
    "new", "submit", "risk_reject", "cancel", "cancel (never sent)", "replace", "ack", "reject",
    "fill", "canceled", "expired", "pending_cancel rejected", "pending_replace rejected",
    "replaced", "timeout", "reconcile", "late_ack", "ack_after_reject", "late_fill",
)
assert len(EVENT_NAMES) == EV_COUNT
assert len(ORDER_TYPE_CODES) == ORDER_TYPE_COUNT

# Python faces of the codes, bound by hftcore.model / hftcore.orders at import (the compiled core
# imports nothing above it): until then plain ints.
cdef tuple _SIDES = tuple(range(2))
cdef tuple _TYPES = tuple(range(ORDER_TYPE_COUNT))
cdef tuple _TIFS = tuple(range(TIF_COUNT))
cdef tuple _STATUSES = tuple(range(ST_COUNT))
cdef tuple _LIQS = tuple(range(LIQ_COUNT))
cdef tuple _REASONS = tuple(range(64))
cdef object _Fill = tuple
cdef object _Instrument = object
cdef tuple _STATUS_NAMES = tuple(sorted(STATUS_CODES, key=STATUS_CODES.__getitem__))
cdef object _OK = 0


def bind_model(side, order_type, time_in_force, status, liquidity, fill, instrument):
    """Give the core the IntEnums, ``Fill`` and ``Instrument`` of :mod:`hftcore.model`."""
    global _SIDES, _TYPES, _TIFS, _STATUSES, _LIQS, _Fill, _Instrument
    for enum, codes in ((side, SIDE_CODES), (order_type, ORDER_TYPE_CODES),
                        (time_in_force, TIME_IN_FORCE_CODES), (status, STATUS_CODES),
                        (liquidity, LIQUIDITY_CODES)):
        if {m.name: int(m) for m in enum} != codes:
            raise ImportError(f"{enum.__name__} does not match the compiled codes {codes}")
    _SIDES = tuple(sorted(side, key=int))
    _TYPES = tuple(sorted(order_type, key=int))
    _TIFS = tuple(sorted(time_in_force, key=int))
    _STATUSES = tuple(sorted(status, key=int))
    _LIQS = tuple(sorted(liquidity, key=int))
    _Fill = fill
    _Instrument = instrument


def bind_reasons(reason):
    """Give the core the risk engine's ``Reason`` enum (returned by submit and cancel)."""
    global _REASONS, _OK
    _REASONS = tuple(sorted(reason, key=int))
    if [int(r) for r in _REASONS] != list(range(len(_REASONS))):
        raise ImportError("Reason codes must be 0..n-1")
    _OK = _REASONS[0]


class OrderError(ValueError):
    """A local request the order's state does not allow (submit twice, cancel a filled order)."""


# -- argument checks: int (and IntEnum) only, every error names its parameter ----------------------
cdef inline int64_t int64_arg(object v, str name) except? -1:
    cdef int overflow = 0
    cdef long long x
    if PyLong_CheckExact(v):
        x = PyLong_AsLongLongAndOverflow(v, &overflow)
        if not overflow:
            return x
    elif not PyLong_Check(v) or PyBool_Check(v):
        raise TypeError(f"{name} must be an int (raw count), got {type(v).__name__} {v!r}")
    else:
        x = PyLong_AsLongLongAndOverflow(v, &overflow)
        if not overflow:
            return x
    raise ValueError(f"{name} {v} is outside the int64 range")


cdef inline int side_arg(object v) except -1:
    cdef int overflow = 0
    cdef long long x
    if not PyLong_Check(v) or PyBool_Check(v):
        raise TypeError(f"side must be Side.BUY or Side.SELL, got {type(v).__name__} {v!r}")
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or (x != SIDE_BID and x != SIDE_ASK):
        raise ValueError(f"side must be Side.BUY (0) or Side.SELL (1), got {v!r}")
    return <int>x


cdef inline int enum_arg(object v, int count, str name) except -1:
    cdef int overflow = 0
    cdef long long x
    if not PyLong_Check(v) or PyBool_Check(v):
        raise TypeError(f"{name} must be an int enum member, got {type(v).__name__} {v!r}")
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or x < 0 or x >= count:
        raise ValueError(f"{name} {v!r} is not a valid code (0..{count - 1})")
    return <int>x


cdef inline str text_arg(object v, str name, Py_ssize_t maxlen):
    cdef Py_ssize_t n
    if type(v) is not str:
        if not isinstance(v, str):
            raise TypeError(f"{name} must be a str, got {type(v).__name__} {v!r}")
        v = str(v)
    PyUnicode_AsUTF8AndSize(v, &n)     # a lone surrogate raises UnicodeEncodeError here
    if n > maxlen:
        raise ValueError(f"{name} is longer than {maxlen} bytes")
    return <str>v


cdef inline str reason_arg(object v, str name):
    """Free text from a venue: kept to its first 1000 characters."""
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, got {type(v).__name__} {v!r}")
    v = str(v)[:1000]
    return text_arg(v, name, 4096)


include "portfolio.pxi"
include "journal.pxi"

cdef enum:
    HIST_START = 6                # history entries allocated with the order
    MAX_ID = 256                  # bytes of a trade id or venue order id
    ANCHOR_NS = 1000000000        # a clock record at least this often (in the clock's time)


# a fill this large (or a position past it) makes the manager ask the risk engine whether its own
# position would still fit in int64 before booking
cdef int64_t BIG_FILL = (<int64_t>1) << 61


cdef inline bint _terminal(int st) noexcept nogil:
    return st == ST_FILLED or st == ST_CANCELED or st == ST_REJECTED or st == ST_EXPIRED


cdef inline bint _pending(int st) noexcept nogil:
    return st == ST_PENDING_NEW or st == ST_PENDING_CANCEL or st == ST_PENDING_REPLACE


cdef inline bint _live(int st) noexcept nogil:
    return st == ST_ACCEPTED or st == ST_PARTIALLY_FILLED


cdef inline bint _cancelable(int st) noexcept nogil:
    return (st == ST_PENDING_NEW or st == ST_ACCEPTED or st == ST_PARTIALLY_FILLED
            or st == ST_PENDING_REPLACE or st == ST_UNKNOWN)


cdef inline int _grow_array(void** p, int64_t* cap, int64_t need, size_t item) except -1:
    cdef int64_t n = cap[0] if cap[0] > 0 else 16
    cdef void* q
    while n < need:
        n *= 2
    if <uint64_t>n > (<uint64_t>-1) // item:
        raise MemoryError()
    q = PyMem_Realloc(p[0], <size_t>n * item)
    if q == NULL:
        raise MemoryError()
    p[0] = q
    cap[0] = n
    return 0


cdef class OrderCore:
    """The order table and state machine (base of :class:`hftcore.orders.OrderManager`).

    C API (cimport ``hftcore._ext.orders``) for an engine that holds instrument indices and order
    handles instead of objects and ids; every call holds the GIL (the risk engine is Python),
    validates its arguments and raises on error, like the Python API::

        cdef int32_t c_instrument(instrument)             # register: index for c_create
        cdef int64_t c_create(inst, side, size, price, order_type, tif, ts)   # -> handle
        cdef int c_submit(handle, ts)                     # -> Reason code, 0 = sent
        cdef int c_cancel(handle, ts)                     # -> Reason code, 0 = requested
        cdef int c_ack(handle, venue_order_id, ts)
        cdef int c_fill(handle, trade_id, qty, price, liquidity, fee, ts)  # -> 1 booked, 0 not
        cdef int c_canceled(handle, ts)
        cdef int64_t c_handle(client_order_id)           # -> handle, -1 when not ours
        cdef str c_client_order_id(handle)                # the id to send to the venue
        cdef int c_status(handle); cdef int64_t c_filled(handle); cdef Order c_order(handle)
    """

    def __cinit__(self, *args, **kwargs):
        self._chunks = NULL
        self._chunk_live = NULL
        self._n_chunks = 0
        self._n_orders = 0
        self._live = 0
        self._open = NULL
        self._n_open = 0
        self._cap_open = 0
        self._booked = NULL
        self._n_booked = 0
        self._cap_booked = 0
        self._inst_info = NULL
        self._n_insts = 0
        self._cap_insts = 0
        self._insts = []
        self._inst_pos = []
        self._inst_by_id = {}
        self._inst_by_key = {}
        self._last_inst = None
        self._last_inst_index = -1
        self._session = ""
        self._prefix = ""
        self._id_prefix = b""
        self._clock = None
        self._clock_mono = False
        self._timeout_ns = 0
        self._pf = None
        self._risk = None
        self._journal = None
        self._anchor_ts = INT64_MIN
        self._replaying = False

    def __dealloc__(self):
        cdef int64_t c, i
        cdef OrderRec* chunk
        if self._chunks != NULL:
            for c in range(self._n_chunks):
                chunk = self._chunks[c]
                if chunk != NULL:
                    for i in range(CHUNK_SIZE):
                        _free_rec(&chunk[i])
                    PyMem_Free(chunk)
            PyMem_Free(self._chunks)
        PyMem_Free(self._chunk_live)
        PyMem_Free(self._open)
        PyMem_Free(self._booked)
        PyMem_Free(self._inst_info)

    def _configure(self, str session, str prefix, portfolio, risk, timeout_ns, clock):
        """Set up the core (called once by ``OrderManager.__init__``, arguments checked there)."""
        import time as _time
        if not isinstance(portfolio, PortfolioCore):
            raise TypeError(f"portfolio must be a Portfolio, got {type(portfolio).__name__}")
        self._session = session
        self._prefix = prefix
        self._id_prefix = (prefix + session + "-").encode("ascii")
        self._pf = portfolio
        self._timeout_ns = int64_arg(timeout_ns, "timeout_ns")
        self._clock = clock
        self._clock_mono = clock is _time.monotonic_ns
        self.risk = risk

    # -- configuration read back -----------------------------------------------------------------
    @property
    def session(self) -> str:
        """Session tag in client order ids."""
        return self._session

    @property
    def prefix(self) -> str:
        """Client order id prefix."""
        return self._prefix

    @property
    def portfolio(self) -> PortfolioCore:
        """The portfolio every booked fill goes to."""
        return self._pf

    @property
    def risk(self) -> object:
        """The risk engine checked on submit and cancel (or None)."""
        return self._risk

    @risk.setter
    def risk(self, risk):
        cdef int32_t i
        if risk is not None:
            for name in ("check", "check_order", "on_order_open", "on_order_fill",
                         "on_order_closed", "on_order_replaced", "check_cancel_venue",
                         "record_error", "index"):
                if not hasattr(risk, name):
                    raise TypeError(f"risk must be a RiskEngine (no {name}), got "
                                    f"{type(risk).__name__}")
            self._r_check = risk.check
            self._r_open = risk.on_order_open
            self._r_fill = risk.on_order_fill
            self._r_closed = risk.on_order_closed
            self._r_replaced = risk.on_order_replaced
        # a RiskEngine whose order-event methods are its own hands out its compiled book: each
        # event is then one C call (same bookkeeping, same errors, reported the same way)
        fast = getattr(risk, "_tracking_core", None)
        core = fast() if fast is not None else None
        self._r_core = core if isinstance(core, RiskCore) else None
        self._risk = risk
        for i in range(self._n_insts):
            self._inst_info[i].risk_index = -1

    @property
    def timeout_ns(self) -> int:
        """Time a PENDING_* order waits for an answer before it becomes UNKNOWN."""
        return self._timeout_ns

    @timeout_ns.setter
    def timeout_ns(self, value):
        cdef int64_t v = int64_arg(value, "timeout_ns")
        if v < 0:
            raise ValueError(f"timeout_ns must not be negative, got {v}")
        self._timeout_ns = v

    @property
    def clock(self) -> object:
        """Nanosecond clock for history and timeouts."""
        return self._clock

    # -- time ------------------------------------------------------------------------------------
    cdef int64_t _now(self, object ts) except? -1:
        if ts is None:
            if self._clock_mono:
                return hc_monotonic_ns()
            ts = self._clock()
        return int64_arg(ts, "ts")

    # -- records -----------------------------------------------------------------------------------
    cdef OrderRec* _rec(self, int64_t h) noexcept:
        cdef OrderRec* chunk
        cdef OrderRec* r
        if h < 0 or h >= self._n_orders:
            return NULL
        chunk = self._chunks[h >> CHUNK_BITS]
        if chunk == NULL:
            return NULL
        r = &chunk[h & (CHUNK_SIZE - 1)]
        if r.seq != h + 1 or (r.flags & FL_PRUNED):
            return NULL
        return r

    cdef OrderRec* _need(self, int64_t h) except NULL:
        cdef OrderRec* r = self._rec(h)
        if r == NULL:
            raise OrderError(f"unknown order {self._id_prefix.decode()}{h + 1}")
        return r

    cdef int64_t c_handle(self, object client_order_id) except -2:
        """The handle of one of our client order ids; -1 when it is not one of ours (or its
        order was pruned).  ``TypeError`` unless it is a str."""
        cdef Py_ssize_t n, i
        cdef Py_ssize_t plen = len(self._id_prefix)
        cdef const char* s
        cdef int64_t v = 0
        cdef unsigned int c
        if type(client_order_id) is not str and not isinstance(client_order_id, str):
            raise TypeError(f"client_order_id must be a str, got "
                            f"{type(client_order_id).__name__} {client_order_id!r}")
        s = PyUnicode_AsUTF8AndSize(client_order_id, &n)
        if n <= plen or n - plen > 18 or memcmp(s, <const char*>self._id_prefix, plen) != 0:
            return -1
        if s[plen] == c'0':
            return -1
        for i in range(plen, n):
            c = <unsigned char>s[i] - 48
            if c > 9:
                return -1
            v = v * 10 + c
        if v > self._n_orders or self._rec(v - 1) == NULL:
            return -1
        return v - 1

    cdef str _cid_text(self, int64_t seq):
        cdef char buf[64]
        cdef char digits[24]
        cdef Py_ssize_t plen = len(self._id_prefix), nd = 0, i
        cdef uint64_t u = <uint64_t>seq
        memcpy(buf, <const char*>self._id_prefix, plen)
        while True:
            digits[nd] = <char>(48 + u % 10)
            nd += 1
            u //= 10
            if u == 0:
                break
        for i in range(nd):
            buf[plen + i] = digits[nd - 1 - i]
        return PyUnicode_DecodeASCII(buf, plen + nd, NULL)

    cdef int _hist_reserve(self, OrderRec* r, int n) except -1:
        cdef int64_t cap = r.cap_hist
        cdef void* p = r.hist
        if r.n_hist + n > r.cap_hist:
            _grow_array(&p, &cap, r.n_hist + n, sizeof(OrderEvent))
            r.hist = <OrderEvent*>p
            r.cap_hist = <int32_t>cap
        return 0

    cdef int _hist(self, OrderRec* r, int status, int event, int64_t ts) except -1:
        cdef OrderEvent* e
        if r.n_hist == r.cap_hist:
            self._hist_reserve(r, 1)
        e = &r.hist[r.n_hist]
        e.ts = ts
        e.status = <uint8_t>status
        e.event = <uint8_t>event
        r.n_hist += 1
        return 0

    cdef int _open_add(self, int64_t h, OrderRec* r) except -1:
        cdef void* p = self._open
        if r.flags & FL_OPEN:
            return 0
        if self._n_open == self._cap_open:
            _grow_array(&p, &self._cap_open, self._n_open + 1, sizeof(int64_t))
            self._open = <int64_t*>p
        self._open[self._n_open] = h
        r.open_pos = <int32_t>self._n_open
        r.flags |= FL_OPEN
        self._n_open += 1
        return 0

    cdef void _open_remove(self, OrderRec* r) noexcept:
        cdef int64_t pos, last
        cdef OrderRec* m
        if not (r.flags & FL_OPEN):
            return
        pos = r.open_pos
        last = self._open[self._n_open - 1]
        self._open[pos] = last
        m = self._rec(last)
        if m != NULL:
            m.open_pos = <int32_t>pos
        self._n_open -= 1
        r.open_pos = -1
        r.flags &= ~FL_OPEN

    cdef int _open_reserve(self) except -1:
        cdef void* p = self._open
        if self._n_open == self._cap_open:
            _grow_array(&p, &self._cap_open, self._n_open + 1, sizeof(int64_t))
            self._open = <int64_t*>p
        return 0

    cdef bint _set(self, int64_t h, OrderRec* r, int status, int event, int64_t ts) noexcept:
        """New status with its history entry (reserved before); True when it closed the order."""
        cdef OrderEvent* e = &r.hist[r.n_hist]
        r.status = <uint8_t>status
        e.ts = ts
        e.status = <uint8_t>status
        e.event = <uint8_t>event
        r.n_hist += 1
        if _terminal(status):
            self._open_remove(r)
            return True
        return False

    # -- instruments -----------------------------------------------------------------------------
    cdef int32_t c_instrument(self, object instrument) except -1:
        """The index of an instrument in the order table (registered and journaled the first
        time it is seen)."""
        cdef int32_t i
        cdef void* p
        cdef int64_t cap
        cdef int64_t f[9]
        if instrument is self._last_inst:
            return self._last_inst_index
        idx = self._inst_by_id.get(id(instrument))
        if idx is not None:
            self._last_inst = instrument
            self._last_inst_index = idx
            return idx
        if not isinstance(instrument, _Instrument):
            raise TypeError(f"instrument must be an Instrument, got {type(instrument).__name__}")
        # an equal instrument registered before (another object with the same values): the
        # same entry (found by its key, compared by value; the object itself is not kept)
        same = self._inst_by_key.get((instrument.venue, instrument.symbol))
        if same is not None:
            for i in same:
                if self._insts[i] == instrument:
                    return i
        f[0] = self._n_insts
        f[1] = int64_arg(instrument.price_decimals, "price_decimals")
        f[2] = int64_arg(instrument.size_decimals, "size_decimals")
        f[3] = int64_arg(instrument.tick, "tick")
        f[4] = int64_arg(instrument.lot, "lot")
        f[5] = int64_arg(instrument.min_size, "min_size")
        f[6] = -1 if instrument.max_size is None else int64_arg(instrument.max_size, "max_size")
        f[7] = int64_arg(instrument.min_notional, "min_notional")
        f[8] = int64_arg(instrument.instrument_id, "instrument_id")
        strs = (str(instrument.venue), str(instrument.symbol), str(instrument.base),
                str(instrument.quote))
        if self._n_insts == self._cap_insts:
            p = self._inst_info
            cap = self._cap_insts
            _grow_array(&p, &cap, self._n_insts + 1, sizeof(InstInfo))
            self._inst_info = <InstInfo*>p
            self._cap_insts = <int32_t>cap
        if self._journal is not None and not self._replaying:
            self._journal.write_record(REC_INSTRUMENT, f, 9, strs)
        return self._add_instrument(instrument)

    cdef int32_t _add_instrument(self, object instrument) except -1:
        cdef int32_t i = self._n_insts
        self._insts.append(instrument)
        self._inst_pos.append(None)
        self._inst_info[i].risk_index = -1
        self._inst_info[i].venue = -1
        self._n_insts += 1
        self._inst_by_id[id(instrument)] = i      # kept alive by _insts: its id stays its own
        self._inst_by_key.setdefault((instrument.venue, instrument.symbol), []).append(i)
        self._last_inst = instrument
        self._last_inst_index = i
        return i

    cdef int _risk_index(self, int32_t inst) except -2:
        cdef int32_t k = self._inst_info[inst].risk_index
        if k >= 0:
            return k
        try:
            k = self._risk.index(self._insts[inst])
        except KeyError:
            return -1
        self._inst_info[inst].risk_index = k
        return k

    cdef Position _position(self, int32_t inst):
        cdef Position pos = self._inst_pos[inst]
        if pos is None:
            pos = self._pf.position_of(self._insts[inst])
            self._inst_pos[inst] = pos
        return pos

    # -- journal, anomalies, risk ----------------------------------------------------------------
    cdef int _journal_write(self, int rtype, const int64_t* f, int nf, str text,
                            int64_t ts) except -1:
        """One order record (``text``: its one string, or None), after a clock record when
        a second of clock time has passed since the last one."""
        cdef int64_t a[2]
        if self._journal is None or self._replaying:
            return 0
        if ts >= self._anchor_ts:
            # the clock's reading next to the wall clock: recovery puts recorded times on the
            # clock of the process that recovers through these.  A custom clock is not called
            # here (no user code between a transition's checks and its changes): the event's
            # time is its reading
            a[0] = hc_monotonic_ns() if self._clock_mono else ts
            a[1] = hc_wall_ns()
            self._journal.write_record(REC_CLOCK, a, 2, None)
            self._anchor_ts = (ts if ts < INT64_MAX - ANCHOR_NS else INT64_MAX - ANCHOR_NS) + ANCHOR_NS
        return self._journal.write_text(rtype, f, nf, text)

    cdef int _anomaly(self, str kind, OrderRec* r, object cid, int64_t ts, str detail) except -1:
        if self._replaying:
            return 0
        self._report(kind, cid, None if r == NULL else _STATUSES[r.status], ts, detail)
        return 0

    def _report(self, kind, client_order_id, status, ts, detail):
        """A refused or unexpected venue event (the manager logs and counts it)."""

    def _count(self, kind):
        """Count an event that is not worth an anomaly record (the manager counts it)."""

    cdef int _risk_failed(self, object cid, int64_t ts) except -1:
        """The risk engine raised while being told about an accepted event: the order is
        already in its new state (and journaled), so report it rather than leave the call
        half-done for the caller."""
        e = sys.exc_info()[1]
        if not self._replaying:
            self._report("risk_update_failed", cid, None, ts, f"{type(e).__name__}: {e}")
        return 0

    cdef int _risk_open(self, OrderRec* r, int64_t ts) except -1:
        cdef int32_t k
        cid = <object>r.cid
        try:
            k = self._risk_index(r.inst) if self._r_core is not None else -1
            if k >= 0:
                self._r_core._track_open(cid, k, r.side, r.price, r.size)
            else:
                self._r_open(cid, self._insts[r.inst], _SIDES[r.side], r.price, r.size)
        except Exception:
            self._risk_failed(cid, ts)
        return 0

    cdef int _risk_fill(self, OrderRec* r, int64_t qty, bint closed, int64_t ts) except -1:
        cdef int32_t k
        cid = <object>r.cid
        try:
            k = self._risk_index(r.inst) if self._r_core is not None else -1
            if k < 0 or self._r_core._track_fill(cid, k, r.side, qty):
                self._r_fill(cid, self._insts[r.inst], _SIDES[r.side], qty)
            if closed:
                if self._r_core is not None:
                    self._r_core._track_closed(cid)
                else:
                    self._r_closed(cid)
        except Exception:
            self._risk_failed(cid, ts)
        return 0

    cdef int _risk_closed(self, OrderRec* r, int64_t ts) except -1:
        if self._risk is not None:
            try:
                if self._r_core is not None:
                    self._r_core._track_closed(<object>r.cid)
                else:
                    self._r_closed(<object>r.cid)
            except Exception:
                self._risk_failed(<object>r.cid, ts)
        return 0

    cdef int _risk_error(self, OrderRec* r, int64_t ts) except -1:
        if self._risk is not None:
            try:
                self._risk.record_error()
            except Exception:
                self._risk_failed(<object>r.cid, ts)
        return 0

    # -- transitions: one function per event, for the live path and for journal replay ---------
    # Each checks the event against the order's state first: a refused event changes nothing and
    # is not journaled (live: it is reported as an anomaly).  An accepted one reserves the memory
    # it needs, writes its journal record (live only), then changes the state; the risk engine is
    # told last.  Return: 1 applied, 0 refused (submit and cancel return a risk reason code).

    cdef int _ensure_chunk(self, int64_t c) except -1:
        cdef int64_t old = self._n_chunks, n, k
        cdef void* p
        cdef OrderRec* chunk
        if c >= old:
            n = old if old > 0 else 16
            while n <= c:
                n *= 2
            p = PyMem_Realloc(self._chunks, <size_t>n * sizeof(OrderRec*))
            if p == NULL:
                raise MemoryError()
            self._chunks = <OrderRec**>p
            p = PyMem_Realloc(self._chunk_live, <size_t>n * sizeof(int32_t))
            if p == NULL:
                raise MemoryError()
            self._chunk_live = <int32_t*>p
            for k in range(old, n):
                self._chunks[k] = NULL
                self._chunk_live[k] = 0
            self._n_chunks = n
        if self._chunks[c] == NULL:
            chunk = <OrderRec*>PyMem_Malloc(CHUNK_SIZE * sizeof(OrderRec))
            if chunk == NULL:
                raise MemoryError()
            memset(chunk, 0, CHUNK_SIZE * sizeof(OrderRec))
            self._chunks[c] = chunk
            self._chunk_live[c] = 0
        return 0

    cdef int64_t _new(self, int64_t seq, int32_t inst, int side, int64_t size, int64_t price,
                      int order_type, int tif, int64_t ts, bint live) except -1:
        cdef int64_t h = seq - 1
        cdef int64_t c = h >> CHUNK_BITS
        cdef int64_t f[8]
        cdef OrderRec* r
        cdef OrderEvent* hist
        if seq <= self._n_orders or seq >= INT64_MAX:
            raise ValueError(f"order number {seq} was used already")
        if inst < 0 or inst >= self._n_insts:
            raise ValueError(f"unknown instrument index {inst}")
        if side != SIDE_BID and side != SIDE_ASK:
            raise ValueError(f"side must be 0 (BUY) or 1 (SELL), got {side}")
        if size <= 0:
            raise OrderError(f"size must be positive, got {size}")
        if not (0 <= order_type < ORDER_TYPE_COUNT):
            raise ValueError(f"order_type {order_type} is not a valid code")
        if not (0 <= tif < TIF_COUNT):
            raise ValueError(f"time_in_force {tif} is not a valid code")
        self._ensure_chunk(c)
        cid = self._cid_text(seq)
        hist = <OrderEvent*>PyMem_Malloc(HIST_START * sizeof(OrderEvent))
        if hist == NULL:
            raise MemoryError()
        if live:
            f[0] = seq
            f[1] = inst
            f[2] = side
            f[3] = size
            f[4] = price
            f[5] = order_type
            f[6] = tif
            f[7] = ts
            try:
                self._journal_write(REC_NEW, f, 8, None, ts)
            except BaseException:
                PyMem_Free(hist)
                raise
        r = &self._chunks[c][h & (CHUNK_SIZE - 1)]
        memset(r, 0, sizeof(OrderRec))
        r.seq = seq
        r.size = size
        r.price = price
        r.inst = inst
        r.open_pos = -1
        r.side = <uint8_t>side
        r.order_type = <uint8_t>order_type
        r.tif = <uint8_t>tif
        r.status = ST_NEW
        r.prior_status = ST_NEW
        Py_INCREF(cid)
        r.cid = <PyObject*>cid
        r.hist = hist
        r.cap_hist = HIST_START
        r.hist[0].ts = ts
        r.hist[0].status = ST_NEW
        r.hist[0].event = EV_NEW
        r.n_hist = 1
        self._n_orders = seq
        self._live += 1
        self._chunk_live[c] += 1
        return h

    cdef int _submit(self, int64_t h, int64_t ts, int decided) except -1:
        """NEW -> PENDING_NEW (to be sent), or REJECTED by the risk check.  ``decided`` is the
        journaled risk decision on replay, -1 live (ask the risk engine)."""
        cdef OrderRec* r = self._need(h)
        cdef int reason = 0
        cdef int k
        cdef int64_t f[3]
        cdef bint live = decided < 0
        if r.status != ST_NEW:
            raise OrderError(
                f"{<object>r.cid}: cannot submit an order in {_STATUS_NAMES[r.status]}")
        if not live:
            reason = decided
        elif self._risk is not None:
            k = self._risk_index(r.inst)
            if k >= 0:   # the compiled check, bound: no Python frame in between
                reason = self._r_check(k, r.side, r.price, r.size, r.order_type)
            else:        # not registered with the risk engine: it says so itself
                reason = int(self._risk.check_order(self._insts[r.inst], r.side, r.price,
                                                    r.size, r.order_type))
        if reason < 0 or reason >= len(_REASONS):
            raise ValueError(f"risk reason {reason} is not a Reason code")
        self._hist_reserve(r, 1)
        self._open_reserve()
        f[0] = r.seq
        if reason:
            text = f"risk: {getattr(_REASONS[reason], 'name', reason)}"
            f[1] = reason
            f[2] = ts
            if live:
                self._journal_write(REC_RISK_REJECT, f, 3, None, ts)
            Py_INCREF(text)
            Py_XDECREF(r.reason)
            r.reason = <PyObject*>text
            r.flags |= FL_RISK_REJECTED
            self._set(h, r, ST_REJECTED, EV_RISK_REJECT, ts)
            return reason
        f[1] = ts
        if live:
            self._journal_write(REC_SUBMIT, f, 2, None, ts)
        r.sent_ns = ts
        self._set(h, r, ST_PENDING_NEW, EV_SUBMIT, ts)
        self._open_add(h, r)
        if self._risk is not None:
            self._risk_open(r, ts)
        return 0

    cdef int _cancel(self, int64_t h, int64_t ts, bint live) except -1:
        """Request a cancel: PENDING_CANCEL, or CANCELED at once for an order never sent."""
        cdef OrderRec* r = self._need(h)
        cdef int st = r.status
        cdef int reason
        cdef int64_t f[2]
        if st != ST_NEW and not _cancelable(st):
            if st == ST_PENDING_CANCEL:
                return 0                   # asked already: nothing new to send
            raise OrderError(f"{<object>r.cid}: cannot cancel an order in {_STATUS_NAMES[st]}")
        if live and st != ST_NEW and self._risk is not None:
            reason = int(self._risk.check_cancel_venue(self._insts[r.inst].venue))
            if reason:
                return reason
        self._hist_reserve(r, 1)
        f[0] = r.seq
        f[1] = ts
        if live:
            self._journal_write(REC_CANCEL, f, 2, None, ts)
        if st == ST_NEW:
            self._set(h, r, ST_CANCELED, EV_CANCEL_UNSENT, ts)
            return 0
        if st != ST_PENDING_REPLACE:
            r.prior_status = <uint8_t>st
        r.sent_ns = ts
        self._set(h, r, ST_PENDING_CANCEL, EV_CANCEL, ts)
        return 0

    cdef int _replace(self, int64_t h, int64_t price, int64_t size, int64_t ts,
                      bint live) except -1:
        """Request an amend of a live order: PENDING_REPLACE until the venue answers."""
        cdef OrderRec* r = self._need(h)
        cdef int64_t f[4]
        if not _live(r.status):
            raise OrderError(
                f"{<object>r.cid}: cannot replace an order in {_STATUS_NAMES[r.status]}")
        if size <= r.filled:
            raise OrderError(f"{<object>r.cid}: the new size {size} must exceed the filled size "
                             f"{r.filled}")
        self._hist_reserve(r, 1)
        f[0] = r.seq
        f[1] = price
        f[2] = size
        f[3] = ts
        if live:
            self._journal_write(REC_REPLACE, f, 4, None, ts)
        r.prior_status = r.status
        r.sent_ns = ts
        self._set(h, r, ST_PENDING_REPLACE, EV_REPLACE, ts)
        return 0

    cdef int _ack(self, int64_t h, object vid, int64_t ts, bint live) except -1:
        cdef OrderRec* r = self._need(h)
        cdef int st = r.status, action
        cdef bint set_vid = vid is not None and len(<str>vid) > 0 and r.vid == NULL
        cdef int64_t f[2]
        if st == ST_NEW:
            self._anomaly("illegal_ack_unsent", r, <object>r.cid, ts, "")
            return 0
        if st == ST_PENDING_NEW or (st == ST_UNKNOWN and r.prior_status == ST_PENDING_NEW):
            action = 1                     # the ack
        elif (st == ST_PENDING_CANCEL or st == ST_PENDING_REPLACE) and \
                r.prior_status == ST_PENDING_NEW:
            action = 2                     # a cancel/replace was sent before the ack came
        elif st == ST_REJECTED:
            action = 3                     # the venue contradicts itself: reconcile decides
        else:
            action = 4                     # duplicate, or after a fill or cancel: benign
            if not set_vid and (r.flags & FL_ACKED):
                self._anomaly("late_ack", r, <object>r.cid, ts, "")
                return 0
        self._hist_reserve(r, 1)
        self._open_reserve()
        f[0] = r.seq
        f[1] = ts
        if live:
            self._journal_write(REC_ACK, f, 2, vid if vid is not None else "", ts)
        if set_vid:
            Py_INCREF(vid)
            r.vid = <PyObject*>vid
        if st != ST_REJECTED:
            r.flags |= FL_ACKED
        if action == 1:
            self._set(h, r, ST_ACCEPTED, EV_ACK, ts)
        elif action == 2:
            r.prior_status = ST_ACCEPTED
            self._hist(r, st, EV_ACK, ts)
        elif action == 3:
            r.prior_status = ST_REJECTED
            self._set(h, r, ST_UNKNOWN, EV_ACK_AFTER_REJECT, ts)
            self._open_add(h, r)
            self._anomaly("ack_after_reject", r, <object>r.cid, ts, "")
        else:
            self._hist(r, st, EV_LATE_ACK, ts)
            self._anomaly("late_ack", r, <object>r.cid, ts, "")
        return 1

    cdef int _reject(self, int64_t h, str reason, int64_t ts, bint live) except -1:
        cdef OrderRec* r = self._need(h)
        cdef int st = r.status
        cdef int64_t f[2]
        cdef bint never_live
        if live:
            self._risk_error(r, ts)
        never_live = r.filled == 0 and (
            st == ST_PENDING_NEW
            or ((st == ST_UNKNOWN or st == ST_PENDING_CANCEL)
                and r.prior_status == ST_PENDING_NEW))
        if not never_live:
            self._anomaly("duplicate_reject" if st == ST_REJECTED else "illegal_reject", r,
                          <object>r.cid, ts, reason)
            return 0
        self._hist_reserve(r, 1)
        f[0] = r.seq
        f[1] = ts
        if live:
            self._journal_write(REC_REJECT, f, 2, reason, ts)
        Py_INCREF(reason)
        Py_XDECREF(r.reason)
        r.reason = <PyObject*>reason
        self._set(h, r, ST_REJECTED, EV_REJECT, ts)
        self._risk_closed(r, ts)
        return 1

    cdef bint _has_trade(self, OrderRec* r, str tid) except -1:
        cdef int32_t i
        cdef PyObject* t
        if r.tids != NULL:
            return PySet_Contains(<object>r.tids, tid)
        for i in range(r.n_fills):
            t = r.fills[i].trade_id
            if t == <PyObject*>tid or <str>(<object>t) == tid:
                return True
        return False

    cdef int _fill(self, int64_t h, str tid, int64_t qty, int64_t price, int liq, hc_i128 fee,
                   bint has_fee, int64_t ts, bint live) except -1:
        cdef OrderRec* r = self._need(h)
        cdef int st = r.status
        cdef int rc, i
        cdef bint closed = False
        cdef int64_t f[8]
        cdef int64_t cap
        cdef void* p
        cdef OrderFill* fl
        cdef PositionState after
        cdef Position pos
        cdef object tids = None
        if self._has_trade(r, tid):
            if live:
                self._count("duplicate_fill")
            return 0
        if st == ST_NEW or (st == ST_REJECTED and (r.flags & FL_RISK_REJECTED)):
            self._anomaly("illegal_fill_unsent", r, <object>r.cid, ts, tid)
            return 0
        if qty <= 0 or qty > r.size - r.filled:   # 0 <= filled <= size: no overflow
            self._anomaly("illegal_overfill" if qty > 0 else "illegal_fill_size", r,
                          <object>r.cid, ts,
                          f"trade {tid}: {qty} with {r.filled}/{r.size} filled")
            return 0
        pos = self._position(r.inst)
        rc = self._pf.prepare(pos, r.side, qty, price, fee, has_fee, liq, &after)
        if rc:
            if not live:
                raise ValueError(f"the portfolio refuses the fill: {_BOOK_ERRORS[rc]}")
            self._anomaly("fill_refused", r, <object>r.cid, ts,
                          f"trade {tid} {qty}@{price}: {_BOOK_ERRORS[rc]}")
            return 0
        if live and self._risk is not None and (
                qty > BIG_FILL or after.net > BIG_FILL or after.net < -BIG_FILL):
            if not self._risk_position_fits(r, qty):
                self._anomaly("fill_refused", r, <object>r.cid, ts,
                              f"trade {tid} {qty}@{price}: the risk engine's position would "
                              f"pass the int64 range")
                return 0
        # memory first: nothing below may fail once the record is written
        self._hist_reserve(r, 2 if _terminal(st) else 1)
        if r.n_fills == r.cap_fills:
            p = r.fills
            cap = r.cap_fills if r.cap_fills else 2
            _grow_array(&p, &cap, r.n_fills + 1, sizeof(OrderFill))
            r.fills = <OrderFill*>p
            r.cap_fills = <int32_t>cap
        if self._n_booked == self._cap_booked:
            p = self._booked
            _grow_array(&p, &self._cap_booked, self._n_booked + 1, sizeof(BookedFill))
            self._booked = <BookedFill*>p
        if r.tids == NULL and r.n_fills + 1 >= TID_SET_AT:
            tids = set()
            for i in range(r.n_fills):
                PySet_Add(tids, <object>r.fills[i].trade_id)
            PySet_Add(tids, tid)
        elif r.tids != NULL:
            PySet_Add(<object>r.tids, tid)    # a set add that fails leaves the fill unbooked
        if live:
            f[0] = r.seq
            f[1] = qty
            f[2] = price
            f[3] = liq
            f[4] = has_fee
            f[5] = hc_hi(fee)
            f[6] = <int64_t>hc_lo(fee)
            f[7] = ts
            try:
                self._journal_write(REC_FILL, f, 8, tid, ts)
            except BaseException:
                if r.tids != NULL:
                    (<set>r.tids).discard(tid)
                raise
        # -- apply --
        if tids is not None:
            Py_INCREF(tids)
            r.tids = <PyObject*>tids
        fl = &r.fills[r.n_fills]
        fl.qty = qty
        fl.price = price
        fl.ts = ts
        fl.fee = fee
        fl.liquidity = <uint8_t>liq
        fl.has_fee = has_fee
        Py_INCREF(tid)
        fl.trade_id = <PyObject*>tid
        self._booked[self._n_booked].handle = h
        self._booked[self._n_booked].index = r.n_fills
        self._n_booked += 1
        r.n_fills += 1
        r.filled += qty
        r.flags |= FL_ACKED
        self._pf.commit(pos, &after)
        late = None
        if r.filled == r.size:
            if _terminal(st):
                self._hist(r, st, EV_LATE_FILL, ts)
                late = f"completes an order in {_STATUS_NAMES[st]}"
            closed = self._set(h, r, ST_FILLED, EV_FILL, ts)
        elif st == ST_PENDING_CANCEL or st == ST_PENDING_REPLACE:
            r.prior_status = ST_PARTIALLY_FILLED
            self._hist(r, st, EV_FILL, ts)
        elif _terminal(st):
            self._hist(r, st, EV_LATE_FILL, ts)
            late = f"booked on an order in {_STATUS_NAMES[st]}"
        else:       # PENDING_NEW (a fill before the ack), ACCEPTED, PARTIALLY_FILLED, UNKNOWN
            self._set(h, r, ST_PARTIALLY_FILLED, EV_FILL, ts)
        if self._risk is not None:
            self._risk_fill(r, qty, closed, ts)
        if late is not None:
            self._anomaly("late_fill", r, <object>r.cid, ts, late)
        return 1

    cdef bint _risk_position_fits(self, OrderRec* r, int64_t qty) except -1:
        """Whether the risk engine's position moves by this fill without leaving int64 (asked
        only for very large fills: the engine may be fed by others than this manager)."""
        cdef int64_t after
        try:
            now = int(self._risk.instrument_state(self._insts[r.inst])["position"])
        except Exception:
            return True
        if r.side == SIDE_BID:
            return not hc_add64(now, qty, &after)
        return not hc_sub64(now, qty, &after)

    cdef int _closed(self, int64_t h, int status, int64_t ts, bint live) except -1:
        """CANCELED or EXPIRED by the venue."""
        cdef OrderRec* r = self._need(h)
        cdef int st = r.status
        cdef int64_t f[2]
        event = "canceled" if status == ST_CANCELED else "expired"
        if st == ST_NEW:
            self._anomaly(f"illegal_{event}_unsent", r, <object>r.cid, ts, "")
            return 0
        if _terminal(st):
            self._anomaly(f"late_{event}", r, <object>r.cid, ts,
                          f"order already {_STATUS_NAMES[st]}")
            return 0
        self._hist_reserve(r, 1)
        f[0] = r.seq
        f[1] = ts
        if live:
            self._journal_write(REC_CANCELED if status == ST_CANCELED else REC_EXPIRED, f, 2,
                                None, ts)
        self._set(h, r, status, EV_CANCELED if status == ST_CANCELED else EV_EXPIRED, ts)
        self._risk_closed(r, ts)
        return 1

    cdef int _request_rejected(self, int64_t h, int pending, str reason, int64_t ts,
                               bint live) except -1:
        """The venue refused a cancel (pending = PENDING_CANCEL) or an amend: back to the
        status before the request."""
        cdef OrderRec* r = self._need(h)
        cdef int back
        cdef int64_t f[2]
        if r.status != pending:     # e.g. after a timeout (UNKNOWN until reconciled), a fill
            self._anomaly("late_request_reject", r, <object>r.cid, ts, reason)
            return 0
        back = r.prior_status       # ACCEPTED, PARTIALLY_FILLED, PENDING_NEW (sent before ack)
        if back == ST_ACCEPTED and r.filled:
            back = ST_PARTIALLY_FILLED
        self._hist_reserve(r, 1)
        f[0] = r.seq
        f[1] = ts
        if live:
            self._journal_write(REC_CANCEL_REJECT if pending == ST_PENDING_CANCEL
                                else REC_REPLACE_REJECT, f, 2, reason, ts)
        Py_INCREF(reason)
        Py_XDECREF(r.reason)
        r.reason = <PyObject*>reason
        self._set(h, r, back, EV_CANCEL_REJECTED if pending == ST_PENDING_CANCEL
                  else EV_REPLACE_REJECTED, ts)
        return 1

    cdef int _replaced(self, int64_t h, int64_t price, int64_t size, object vid, int64_t ts,
                       bint live) except -1:
        """The venue confirms the order rests at ``price`` with total ``size``."""
        cdef OrderRec* r = self._need(h)
        cdef int st = r.status, new
        cdef bint closed
        cdef int64_t f[4]
        # a cancel-replace may give the order a new venue id (Binance): the order takes it
        cdef bint set_vid = vid is not None and len(<str>vid) > 0
        if not (_live(st) or st == ST_PENDING_REPLACE or st == ST_UNKNOWN):
            self._anomaly("illegal_replaced", r, <object>r.cid, ts, _STATUS_NAMES[st])
            return 0
        if size <= 0 or size < r.filled:
            self._anomaly("illegal_replaced_size", r, <object>r.cid, ts,
                          f"{size} < filled {r.filled}" if size > 0 else f"size {size}")
            return 0
        self._hist_reserve(r, 1)
        f[0] = r.seq
        f[1] = price
        f[2] = size
        f[3] = ts
        if live:
            self._journal_write(REC_REPLACED, f, 4, vid if vid is not None else "", ts)
        r.price = price
        r.size = size
        r.flags |= FL_ACKED
        if set_vid:
            Py_INCREF(vid)
            Py_XDECREF(r.vid)
            r.vid = <PyObject*>vid
        new = ST_FILLED if r.filled == size else (
            ST_PARTIALLY_FILLED if r.filled else ST_ACCEPTED)
        closed = self._set(h, r, new, EV_REPLACED, ts)
        if self._risk is not None:
            cid = <object>r.cid
            try:
                if self._r_core is not None:
                    self._r_core._track_replaced(cid, price, size - r.filled)
                    if closed:
                        self._r_core._track_closed(cid)
                else:
                    self._r_replaced(cid, price, size - r.filled)
                    if closed:
                        self._r_closed(cid)
            except Exception:
                self._risk_failed(cid, ts)
        return 1

    cdef int _timeout(self, int64_t h, int64_t ts, bint live) except -1:
        """A PENDING_* order without an answer in time: UNKNOWN, to be reconciled."""
        cdef OrderRec* r = self._need(h)
        cdef int64_t f[2]
        if not _pending(r.status):
            return 0
        self._hist_reserve(r, 1)
        f[0] = r.seq
        f[1] = ts
        if live:
            self._journal_write(REC_TIMEOUT, f, 2, None, ts)
        r.prior_status = r.status
        self._set(h, r, ST_UNKNOWN, EV_TIMEOUT, ts)
        if live:
            self._count("timeout")
            self._risk_error(r, ts)
        return 1

    cdef int _venue_status(self, int64_t h, int status, object vid, int64_t ts,
                           bint live) except -1:
        """A status settled by reconciliation."""
        cdef OrderRec* r = self._need(h)
        cdef int64_t f[3]
        cdef bint closed
        cdef bint set_vid = vid is not None and len(<str>vid) > 0 and r.vid == NULL
        if status == ST_NEW or _pending(status) or status < 0 or status >= ST_COUNT:
            raise ValueError(f"status {status} is not a status reconciliation can settle")
        self._hist_reserve(r, 1)
        self._open_reserve()
        f[0] = r.seq
        f[1] = status
        f[2] = ts
        if live:
            self._journal_write(REC_VENUE_STATUS, f, 3, vid if vid is not None else "", ts)
        if set_vid:
            Py_INCREF(vid)
            r.vid = <PyObject*>vid
        if status == ST_REJECTED:
            text = "not found at venue"
            Py_INCREF(text)
            Py_XDECREF(r.reason)
            r.reason = <PyObject*>text
        if status == ST_UNKNOWN and r.status != ST_UNKNOWN:
            r.prior_status = r.status
        closed = self._set(h, r, status, EV_RECONCILE, ts)
        if not closed:
            self._open_add(h, r)
        else:
            self._risk_closed(r, ts)
        return 1

    # -- C API for the engine ----------------------------------------------------------------------
    cdef int64_t c_create(self, int32_t inst, int side, int64_t size, int64_t price,
                          int order_type, int tif, int64_t ts) except -1:
        return self._new(self._n_orders + 1, inst, side, size, price, order_type, tif, ts, True)

    cdef int c_submit(self, int64_t handle, int64_t ts) except -1:
        return self._submit(handle, ts, -1)

    cdef int c_cancel(self, int64_t handle, int64_t ts) except -1:
        return self._cancel(handle, ts, True)

    cdef int c_ack(self, int64_t handle, str venue_order_id, int64_t ts) except -1:
        return self._ack(handle, text_arg(venue_order_id or "", "venue_order_id", MAX_ID), ts,
                         True)

    cdef int c_fill(self, int64_t handle, str trade_id, int64_t qty, int64_t price,
                    int liquidity, object fee, int64_t ts) except -1:
        cdef hc_i128 f = hc_zero()
        if fee is not None:
            int_to_i128(fee, &f, "fee")
        if liquidity != LIQ_MAKER and liquidity != LIQ_TAKER:
            raise ValueError(f"liquidity {liquidity} is not a valid code")
        return self._fill(handle, text_arg(trade_id, "trade_id", MAX_ID), qty, price,
                          liquidity, f, fee is not None, ts, True)

    cdef int c_canceled(self, int64_t handle, int64_t ts) except -1:
        return self._closed(handle, ST_CANCELED, ts, True)

    cdef str c_client_order_id(self, int64_t handle):
        return <str>self._need(handle).cid

    cdef int c_status(self, int64_t handle) except -1:
        return self._need(handle).status

    cdef int64_t c_filled(self, int64_t handle) except -1:
        return self._need(handle).filled

    cdef Order c_order(self, int64_t handle):
        cdef Order o = Order.__new__(Order)
        o.core = self
        o.handle = handle
        o.seq = handle + 1
        return o

    # -- Python API: local requests ------------------------------------------------------------------
    def create(self, instrument, side, size, price, order_type=OT_LIMIT,
               time_in_force=TIF_GTC, ts=None):
        """A NEW order with a fresh client order id (journaled, not sent).

        ``side`` is a ``Side``, ``size`` a positive raw size, ``price`` a raw price (a market
        order's protection price, 0 for none), ``order_type`` an ``OrderType``,
        ``time_in_force`` a ``TimeInForce``; anything else raises ``TypeError`` or
        ``ValueError`` naming the argument, before anything is recorded.
        """
        cdef int sd = side_arg(side)
        cdef int64_t sz = int64_arg(size, "size")
        cdef int64_t px = int64_arg(price, "price")
        cdef int ot = enum_arg(order_type, ORDER_TYPE_COUNT, "order_type")
        cdef int tif = enum_arg(time_in_force, TIF_COUNT, "time_in_force")
        cdef int64_t now
        cdef int32_t ii
        if sz <= 0:
            raise OrderError(f"size must be positive, got {sz}")
        now = self._now(ts)
        ii = self.c_instrument(instrument)
        return self.c_order(self._new(self._n_orders + 1, ii, sd, sz, px, ot, tif, now, True))

    cdef int64_t _order_arg(self, object order) except -1:
        if type(order) is not Order:
            raise TypeError(f"order must be an Order from OrderManager.create, got "
                            f"{type(order).__name__}")
        if (<Order>order).core is not self:
            raise ValueError("order belongs to another OrderManager")
        return (<Order>order).handle

    def submit(self, order, ts=None):
        """Risk-check and mark as sent (PENDING_NEW); send it to the venue after this returns.

        Returns ``Reason.OK`` when the order may be sent; otherwise the order is REJECTED
        locally with the risk reason (and not sent).
        """
        cdef int64_t h = self._order_arg(order)
        cdef int64_t now = self._now(ts)
        return _REASONS[self._submit(h, now, -1)]

    cdef int64_t _known(self, object cid) except -1:
        cdef int64_t h = self.c_handle(cid)
        if h < 0:
            raise OrderError(f"unknown order {cid}")
        return h

    def cancel(self, client_order_id, ts=None):
        """Request a cancel: PENDING_CANCEL (a NEW order is canceled at once, never sent).

        Returns ``Reason.RATE_CANCELS`` (status unchanged) when the venue's cancel rate limit
        is used up.  Raises :class:`OrderError` for an order already done.
        """
        cdef int64_t h = self._known(client_order_id)
        cdef int64_t now = self._now(ts)
        return _REASONS[self._cancel(h, now, True)]

    def cancel_all(self, client_order_ids=None):
        """Request a cancel of every open order (or of the given ids); returns those requested.

        Fits ``RiskEngine(on_cancel_all=manager.cancel_all)`` for the kill switch.  Orders
        already done are skipped; a cancel refused by the venue's rate limit is left out.
        """
        cdef int64_t h
        cdef OrderRec* r
        if client_order_ids is None:
            ids = [o.client_order_id for o in self.open_orders()]
        else:
            ids = list(client_order_ids)
        for cid in ids:                      # all checked before the first cancel
            if not isinstance(cid, str):
                raise TypeError(f"client_order_ids must hold str, got {type(cid).__name__}")
        cdef int64_t now = self._now(None)
        done = []
        for cid in ids:
            h = self.c_handle(cid)
            r = self._rec(h)
            if r == NULL or _terminal(r.status):
                continue
            if self._cancel(h, now, True) == 0:
                done.append(cid)
        return done

    def replace(self, client_order_id, price, size, ts=None):
        """Request an amend of a live order: PENDING_REPLACE until the venue answers."""
        cdef int64_t px = int64_arg(price, "price")
        cdef int64_t sz = int64_arg(size, "size")
        cdef int64_t h = self._known(client_order_id)
        cdef int64_t now = self._now(ts)
        self._replace(h, px, sz, now, True)

    # -- Python API: venue events ------------------------------------------------------------------
    def on_ack(self, client_order_id, venue_order_id="", ts=None):
        """The venue accepted the order."""
        cdef str vid = text_arg(venue_order_id, "venue_order_id", MAX_ID)
        cdef int64_t now = self._now(ts)
        cdef int64_t h = self.c_handle(client_order_id)
        if h < 0:
            self._anomaly("ack_unknown_order", NULL, client_order_id, now, "")
            return
        self._ack(h, vid, now, True)

    def on_reject(self, client_order_id, reason="", ts=None):
        """The venue refused the new order."""
        cdef str why = reason_arg(reason, "reason")
        cdef int64_t now = self._now(ts)
        cdef int64_t h = self.c_handle(client_order_id)
        if h < 0:
            self._anomaly("reject_unknown_order", NULL, client_order_id, now, why)
            return
        self._reject(h, why, now, True)

    def on_fill(self, client_order_id, trade_id, qty, price, liquidity=LIQ_TAKER, fee=None,
                ts=None):
        """An execution; returns True when it was booked (False: duplicate or refused).

        ``trade_id`` is the venue's execution id (fills are de-duplicated on it per order),
        ``qty`` and ``price`` raw ints, ``liquidity`` a ``Liquidity``, ``fee`` an int at value
        decimals or None (the portfolio's fee schedule).  A malformed argument raises
        ``TypeError``/``ValueError`` before anything changes; a well-formed fill the order's
        state does not allow is refused and reported in ``anomalies``.
        """
        cdef str tid = text_arg(trade_id, "trade_id", MAX_ID)
        cdef int64_t q = int64_arg(qty, "qty")
        cdef int64_t px = int64_arg(price, "price")
        cdef int liq = enum_arg(liquidity, LIQ_COUNT, "liquidity")
        cdef hc_i128 f = hc_zero()
        cdef int64_t now, h
        if fee is not None:
            int_to_i128(fee, &f, "fee")
        now = self._now(ts)
        h = self.c_handle(client_order_id)
        if h < 0:
            self._anomaly("fill_unknown_order", NULL, client_order_id, now,
                          f"trade {tid} {q}@{px}")
            return False
        return self._fill(h, tid, q, px, liq, f, fee is not None, now, True) == 1

    def on_canceled(self, client_order_id, ts=None):
        """The venue confirms the order is canceled (requested or not)."""
        cdef int64_t now = self._now(ts)
        cdef int64_t h = self.c_handle(client_order_id)
        if h < 0:
            self._anomaly("canceled_unknown_order", NULL, client_order_id, now, "")
            return
        self._closed(h, ST_CANCELED, now, True)

    def on_expired(self, client_order_id, ts=None):
        """The venue expired the order (IOC/FOK remainder, DAY end, GTX would take...)."""
        cdef int64_t now = self._now(ts)
        cdef int64_t h = self.c_handle(client_order_id)
        if h < 0:
            self._anomaly("expired_unknown_order", NULL, client_order_id, now, "")
            return
        self._closed(h, ST_EXPIRED, now, True)

    def on_cancel_reject(self, client_order_id, reason="", ts=None):
        """The venue refused the cancel (often: the order already filled)."""
        cdef str why = reason_arg(reason, "reason")
        cdef int64_t now = self._now(ts)
        cdef int64_t h = self.c_handle(client_order_id)
        if h < 0:
            self._anomaly("request_reject_unknown_order", NULL, client_order_id, now, why)
            return
        self._request_rejected(h, ST_PENDING_CANCEL, why, now, True)

    def on_replace_reject(self, client_order_id, reason="", ts=None):
        """The venue refused the amend; the order keeps its old price and size."""
        cdef str why = reason_arg(reason, "reason")
        cdef int64_t now = self._now(ts)
        cdef int64_t h = self.c_handle(client_order_id)
        if h < 0:
            self._anomaly("request_reject_unknown_order", NULL, client_order_id, now, why)
            return
        self._request_rejected(h, ST_PENDING_REPLACE, why, now, True)

    def on_replaced(self, client_order_id, price, size, venue_order_id="", ts=None):
        """The venue confirms the order now rests at ``price`` with total ``size``."""
        cdef int64_t px = int64_arg(price, "price")
        cdef int64_t sz = int64_arg(size, "size")
        cdef str vid = text_arg(venue_order_id, "venue_order_id", MAX_ID)
        cdef int64_t now = self._now(ts)
        cdef int64_t h = self.c_handle(client_order_id)
        if h < 0:
            self._anomaly("replaced_unknown_order", NULL, client_order_id, now, "")
            return
        self._replaced(h, px, sz, vid, now, True)

    def check_timeouts(self, now=None):
        """Orders waiting longer than ``timeout_ns`` for an answer become UNKNOWN."""
        cdef int64_t t = self._now(now)
        cdef int64_t i, h, waited
        cdef OrderRec* r
        late = []
        for i in range(self._n_open):
            h = self._open[i]
            r = self._rec(h)
            if r == NULL or not _pending(r.status):
                continue
            if hc_sub64(t, r.sent_ns, &waited):
                if t < r.sent_ns:
                    continue
            elif waited < self._timeout_ns:
                continue
            late.append(h)
        late.sort()
        out = []
        for h in late:
            if self._timeout(h, t, True):
                out.append(self.c_order(h))
        return out

    def _apply_venue_status(self, order, status, venue_order_id, ts):
        """Settle one order's status (reconciliation): journaled, then applied."""
        cdef int64_t h = self._order_arg(order)
        cdef int st = enum_arg(status, ST_COUNT, "status")
        cdef str vid = text_arg(venue_order_id, "venue_order_id", MAX_ID)
        self._venue_status(h, st, vid, int64_arg(ts, "ts"), True)

    # -- queries -------------------------------------------------------------------------------------
    def get(self, client_order_id):
        """The order with this client id, or None."""
        cdef int64_t h = self.c_handle(client_order_id)
        return None if h < 0 else self.c_order(h)

    def __getitem__(self, client_order_id):
        cdef int64_t h = self.c_handle(client_order_id)
        if h < 0:
            raise KeyError(client_order_id)
        return self.c_order(h)

    def __contains__(self, client_order_id):
        return isinstance(client_order_id, str) and self.c_handle(client_order_id) >= 0

    def __iter__(self):
        cdef int64_t h
        return iter([self.c_order(h) for h in range(self._n_orders) if self._rec(h) != NULL])

    def __len__(self):
        return self._live

    def open_orders(self, venue=None):
        """Orders that may still trade (every status but NEW and the terminal ones), oldest
        first."""
        cdef int64_t i
        handles = sorted([self._open[i] for i in range(self._n_open)])
        out = []
        for h in handles:
            if venue is None or self._insts[self._rec(h).inst].venue == venue:
                out.append(self.c_order(h))
        return out

    @property
    def fills(self):
        """Every booked fill, in booking order (a sequence of ``Fill``)."""
        return FillLog(self)

    def prune(self, older_than_ns):
        """Forget terminal orders whose last event is older than ``older_than_ns``.

        Their events stay in the journal (a recovery rebuilds them) and their fills stay in the
        portfolio; a venue message about a forgotten order is refused and reported as an
        anomaly (``*_unknown_order``).  Frees their memory: a session's memory stays flat.
        Returns how many.
        """
        cdef int64_t cut = int64_arg(older_than_ns, "older_than_ns")
        cdef int64_t h, n = 0, k = 0, c, last_chunk
        cdef OrderRec* r
        for h in range(self._n_orders):
            r = self._rec(h)
            if r == NULL or not _terminal(r.status) or r.hist[r.n_hist - 1].ts >= cut:
                continue
            _free_rec(r)
            r.flags |= FL_PRUNED
            self._live -= 1
            self._chunk_live[h >> CHUNK_BITS] -= 1
            n += 1
        if n:
            for h in range(self._n_booked):
                if self._rec(self._booked[h].handle) != NULL:
                    self._booked[k] = self._booked[h]
                    k += 1
            self._n_booked = k
            last_chunk = (self._n_orders - 1) >> CHUNK_BITS
            for c in range(last_chunk):
                if self._chunks[c] != NULL and self._chunk_live[c] == 0:
                    PyMem_Free(self._chunks[c])
                    self._chunks[c] = NULL
        return n

    # -- journal and recovery hooks ------------------------------------------------------------------
    def _attach_journal(self, JournalWriter writer):
        self._journal = writer
        self._anchor_ts = INT64_MIN

    @property
    def _journal_writer(self):
        return self._journal

    def _write_clock(self):
        """A clock record now (session start)."""
        cdef int64_t a[2]
        if self._journal is not None:
            a[0] = self._now(None)
            a[1] = hc_wall_ns()
            self._journal.write_record(REC_CLOCK, a, 2, None)
            self._anchor_ts = (a[0] if a[0] < INT64_MAX - ANCHOR_NS else
                               INT64_MAX - ANCHOR_NS) + ANCHOR_NS

    def _reserve_numbers(self, int64_t seq):
        """Never issue order numbers up to ``seq`` (numbers a quarantined record used)."""
        if seq > self._n_orders and seq < INT64_MAX:
            self._ensure_chunk((seq - 1) >> CHUNK_BITS)
            self._n_orders = seq

    def _set_replaying(self, bint on):
        self._replaying = on

    def _replay(self, int rtype, tuple fields, tuple strs, int64_t shift):
        """Apply one journal record through the same transition as the live call.

        ``shift`` is added to its time.  Returns 1 when the record changed something, 0 when it
        was a no-op; raises ``ValueError``/``TypeError``/``OrderError`` for a record that cannot
        be replayed (the caller quarantines it).
        """
        cdef int64_t v[16]
        cdef Py_ssize_t i, nf = len(fields)
        cdef int64_t ts, h
        cdef hc_i128 fee
        cdef void* p
        cdef int64_t cap
        if rtype not in RECORD_SCHEMA:
            raise ValueError(f"unknown journal record type {rtype}")
        if nf != _REC_NF[rtype] or len(strs) != _REC_NS[rtype]:
            raise ValueError(f"record type {rtype}: wrong number of fields")
        for i in range(nf):
            v[i] = int64_arg(fields[i], "field")
        for s in strs:
            if not isinstance(s, str):
                raise TypeError("journal strings must be str")
        if rtype == REC_SESSION or rtype == REC_CLOCK:
            return 0
        if rtype == REC_INSTRUMENT:
            if v[0] != self._n_insts:
                raise ValueError(f"instrument index {v[0]} out of sequence")
            inst = _Instrument(strs[0], strs[1], v[1], v[2], tick=v[3], lot=v[4], base=strs[2],
                               quote=strs[3], min_size=v[5],
                               max_size=None if v[6] < 0 else v[6], min_notional=v[7],
                               instrument_id=v[8])
            if self._n_insts == self._cap_insts:
                p = self._inst_info
                cap = self._cap_insts
                _grow_array(&p, &cap, self._n_insts + 1, sizeof(InstInfo))
                self._inst_info = <InstInfo*>p
                self._cap_insts = <int32_t>cap
            self._add_instrument(inst)
            return 1
        if hc_add64(v[nf - 1], shift, &ts):
            raise ValueError("record time out of range after rebasing")
        h = v[0] - 1
        if rtype == REC_NEW:
            if v[1] < 0 or v[1] > 2147483647:
                raise ValueError(f"bad instrument index {v[1]}")
            self._new(v[0], <int32_t>v[1], side_arg(v[2]), v[3], v[4],
                      enum_arg(v[5], ORDER_TYPE_COUNT, "order_type"),
                      enum_arg(v[6], TIF_COUNT, "time_in_force"), ts, False)
            return 1
        if rtype == REC_SUBMIT:
            return self._submit(h, ts, 0) == 0
        if rtype == REC_RISK_REJECT:
            if v[1] <= 0 or v[1] >= len(_REASONS):
                raise ValueError(f"bad risk reason {v[1]}")
            self._submit(h, ts, <int>v[1])
            return 1
        if rtype == REC_CANCEL:
            self._cancel(h, ts, False)
            return 1
        if rtype == REC_REPLACE:
            self._replace(h, v[1], v[2], ts, False)
            return 1
        if rtype == REC_ACK:
            return self._ack(h, text_arg(strs[0], "vid", MAX_ID), ts, False)
        if rtype == REC_REJECT:
            return self._reject(h, strs[0], ts, False)
        if rtype == REC_FILL:
            if v[4] not in (0, 1):
                raise ValueError("bad fee flag")
            fee = hc_make(v[5], <uint64_t>v[6]) if v[4] else hc_zero()
            return self._fill(h, text_arg(strs[0], "trade_id", MAX_ID), v[1], v[2],
                              enum_arg(v[3], LIQ_COUNT, "liquidity"), fee, v[4] == 1, ts, False)
        if rtype == REC_CANCELED:
            return self._closed(h, ST_CANCELED, ts, False)
        if rtype == REC_EXPIRED:
            return self._closed(h, ST_EXPIRED, ts, False)
        if rtype == REC_CANCEL_REJECT:
            return self._request_rejected(h, ST_PENDING_CANCEL, strs[0], ts, False)
        if rtype == REC_REPLACE_REJECT:
            return self._request_rejected(h, ST_PENDING_REPLACE, strs[0], ts, False)
        if rtype == REC_REPLACED:
            return self._replaced(h, v[1], v[2], text_arg(strs[0], "vid", MAX_ID), ts, False)
        if rtype == REC_TIMEOUT:
            return self._timeout(h, ts, False)
        if rtype == REC_VENUE_STATUS:
            return self._venue_status(h, enum_arg(v[1], ST_COUNT, "status"),
                                      text_arg(strs[0], "vid", MAX_ID), ts, False)
        raise ValueError(f"unknown journal record type {rtype}")   # pragma: no cover


cdef void _free_rec(OrderRec* r) noexcept:
    cdef int32_t i
    Py_XDECREF(r.cid)
    Py_XDECREF(r.vid)
    Py_XDECREF(r.reason)
    Py_XDECREF(r.tids)
    r.cid = NULL
    r.vid = NULL
    r.reason = NULL
    r.tids = NULL
    if r.fills != NULL:
        for i in range(r.n_fills):
            Py_XDECREF(r.fills[i].trade_id)
        PyMem_Free(r.fills)
        r.fills = NULL
    PyMem_Free(r.hist)
    r.hist = NULL
    r.n_fills = r.cap_fills = r.n_hist = r.cap_hist = 0


cdef object _fill_object(OrderRec* r, int32_t i):
    cdef OrderFill* f = &r.fills[i]
    return _Fill(<object>r.cid, <object>f.trade_id, _SIDES[r.side], f.qty, f.price,
                 _LIQS[f.liquidity], i128_to_int(f.fee) if f.has_fee else None, f.ts)


@cython.final
@cython.freelist(64)
@cython.auto_pickle(False)
cdef class Order:
    """One order and its history: a view of the :class:`~hftcore.orders.OrderManager`'s record.

    ``size``, ``filled`` are raw at ``instrument.size_decimals``; ``price`` raw at
    ``price_decimals`` (a market order's protection price, 0 for none).  ``history`` holds
    ``(ts_ns, status, event)`` tuples, one per recorded event.  Created by
    :meth:`OrderManager.create`; read-only (the manager changes it).  An order forgotten by
    :meth:`OrderManager.prune` keeps its ``client_order_id``; its other attributes raise
    :class:`OrderError`.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("orders are created by OrderManager.create")

    cdef OrderRec* _r(self) except NULL:
        cdef OrderRec* r = self.core._rec(self.handle)
        if r == NULL:
            raise OrderError(f"order {self.core._cid_text(self.seq)} was pruned from its manager")
        return r

    @property
    def client_order_id(self):
        """The client order id (also of an order pruned since)."""
        cdef OrderRec* r = self.core._rec(self.handle)
        return self.core._cid_text(self.seq) if r == NULL else <object>r.cid

    @property
    def instrument(self):
        return self.core._insts[self._r().inst]

    @property
    def side(self):
        return _SIDES[self._r().side]

    @property
    def size(self):
        return self._r().size

    @property
    def price(self):
        return self._r().price

    @property
    def order_type(self):
        return _TYPES[self._r().order_type]

    @property
    def time_in_force(self):
        return _TIFS[self._r().tif]

    @property
    def status(self):
        return _STATUSES[self._r().status]

    @property
    def prior_status(self):
        """Status before PENDING_CANCEL/PENDING_REPLACE or UNKNOWN."""
        return _STATUSES[self._r().prior_status]

    @property
    def filled(self):
        return self._r().filled

    @property
    def remaining(self):
        """Size not yet filled (raw)."""
        cdef OrderRec* r = self._r()
        return r.size - r.filled

    @property
    def reason(self):
        """Why the order was rejected or a request refused ("" when none)."""
        cdef OrderRec* r = self._r()
        return "" if r.reason == NULL else <object>r.reason

    @property
    def venue_order_id(self):
        cdef OrderRec* r = self._r()
        return None if r.vid == NULL else <object>r.vid

    @property
    def acked(self):
        """The venue has shown it knows the order (ack, fill, amend)."""
        return bool(self._r().flags & FL_ACKED)

    @property
    def sent_ns(self):
        """Time of the last request sent for it (submit, cancel, replace); 0 before."""
        return self._r().sent_ns

    @property
    def fills(self):
        """The order's booked fills (``Fill``), oldest first."""
        cdef OrderRec* r = self._r()
        cdef int32_t i
        return [_fill_object(r, i) for i in range(r.n_fills)]

    @property
    def history(self):
        """``(ts_ns, status, event)`` for every recorded event, oldest first."""
        cdef OrderRec* r = self._r()
        cdef int32_t i
        return [(r.hist[i].ts, _STATUSES[r.hist[i].status], EVENT_NAMES[r.hist[i].event])
                for i in range(r.n_hist)]

    @property
    def is_open(self):
        """True while the order may still trade at the venue."""
        cdef int st = self._r().status
        return st != ST_NEW and not _terminal(st)

    @property
    def handle(self):
        """The order's handle in its manager (the C API's order key)."""
        return self.handle

    def __eq__(self, other):
        if type(other) is not Order:
            return NotImplemented
        return (<Order>other).core is self.core and (<Order>other).handle == self.handle

    def __hash__(self):
        return hash((id(self.core), self.handle))

    def __repr__(self):
        cdef OrderRec* r = self.core._rec(self.handle)
        if r == NULL:
            return f"Order({self.core._cid_text(self.seq)} pruned)"
        inst = self.core._insts[r.inst]
        side = getattr(_SIDES[r.side], "name", r.side)
        return (
            f"Order({<object>r.cid} {inst.symbol} {side} "
            f"{inst.format_qty(r.filled)}/{inst.format_qty(r.size)} @ "
            f"{inst.format_price(r.price)} {_STATUS_NAMES[r.status]})"
        )


@cython.final
cdef class FillLog:
    """Every fill a manager booked, in booking order: a read-only sequence of ``Fill``."""
    cdef OrderCore core

    def __cinit__(self, OrderCore core):
        self.core = core

    def __len__(self):
        return self.core._n_booked

    cdef object _at(self, int64_t k):
        cdef BookedFill* b = &self.core._booked[k]
        return _fill_object(self.core._rec(b.handle), <int32_t>b.index)

    def __getitem__(self, index):
        cdef int64_t n = self.core._n_booked, k
        if isinstance(index, slice):
            return [self._at(k) for k in range(*index.indices(n))]
        k = int64_arg(index, "index")
        if k < 0:
            k += n
        if k < 0 or k >= n:
            raise IndexError("fill index out of range")
        return self._at(k)

    def __iter__(self):
        cdef int64_t k
        return iter([self._at(k) for k in range(self.core._n_booked)])

    def __eq__(self, other):
        if isinstance(other, (FillLog, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self):
        return f"FillLog({self.core._n_booked} fills)"
