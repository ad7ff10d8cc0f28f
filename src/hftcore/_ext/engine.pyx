"""The engine's hot loop (see :class:`hftcore.engine.Engine` for the Python surface).

``EngineCore.run(events)`` walks an array of events (``EVENT_DTYPE``) in C: each level goes
straight into its instrument's ``L2Book``, trades and depth changes move the simulated exchange's
queue estimates, and after each whole venue message the strategies that override ``on_bbo`` /
``on_book`` are called if the top / any level changed.  Requests, answers and timers wait in the
simulated exchange's time-ordered queue and are handled just before the first event that is not
earlier than them, so every run is deterministic.
"""

cimport cython
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from libc.string cimport memset
from libc.stdint cimport int64_t, uint32_t, INT64_MAX
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from types import FunctionType

import numpy as np

from hftcore._ext.types cimport (
    px_t, qty_t, ts_t, SIDE_BID, SIDE_ASK, SIDE_NONE, DELTA_CLEAR, DELTA_CLEAR_SIDE,
)
from hftcore._ext.book cimport (
    L2Book, L2BookC, l2_apply, l2_clear, l2_level_size, l2_checksum_kraken, l2_checksum_okx,
    l2_checksum_bitfinex,
    BOOK_TOP, CLEAR_BOTH,
)
from hftcore._ext.events cimport (
    Event, EV_DELTA, EV_TRADE, EV_STATUS, EV_CHECKSUM, EVENT_LAST, CHECKSUM_KRAKEN,
    CHECKSUM_BITFINEX,
)
from hftcore._ext.sim cimport (
    SimCore, Msg, MSG_NEW, MSG_CANCEL, MSG_AMEND, MSG_TIMER, SimOrder,
)
from hftcore._ext.strategy cimport Strategy, Trade
from hftcore._ext.feed cimport Feed
from hftcore._ext.hist cimport LatencyHistogram, hist_record

from hftcore._ext.feed import EVENT_DTYPE

__all__ = ["EngineCore", "STAGES"]

#: stage code -> name (the histograms of hftcore.metrics.MetricsRegistry.stage)
STAGES = ("receive", "decode", "book", "strategy", "risk", "send", "tick_to_trade")


cdef inline int64_t wall_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return <int64_t>t.tv_sec * 1_000_000_000 + t.tv_nsec


cdef tuple _dispatch(strategies, str hook):
    """``((strategy, function or None), ...)``: a hook overridden in Python is called as the
    plain function (one vectorcall, no bound method); a Cython override through its vtable."""
    out = []
    for s in strategies:
        f = getattr(type(s), hook)
        out.append((s, f if isinstance(f, FunctionType) else None))
    return tuple(out)


@cython.final
cdef class EngineCore:
    """C state of an engine run: books, per-instrument flags, subscribers, the simulator.

    Parameters
    ----------
    host : hftcore.engine.Engine
        Receives answers of the simulated exchange (``_on_response``), timers (``_on_timer``)
        and failing hooks (``_hook_failed``).
    instruments, books : lists
        The engine's instruments and their ``L2Book`` by index.
    sim : SimCore or None
        The simulated exchange (backtest and paper modes).
    sides : tuple
        ``(Side.BUY, Side.SELL)``: what ``Trade.side`` is made of.
    """

    def __cinit__(self):
        self.ist = NULL
        memset(self.hists, 0, sizeof(self.hists))

    def __init__(self, host, list instruments, list books, SimCore sim=None, sides=None,
                 bint measure=True):
        cdef Py_ssize_t n = len(instruments), i
        if n == 0:
            raise ValueError("instruments: at least one instrument is needed")
        if len(books) != n:
            raise ValueError("books: one L2Book per instrument")
        self.ist = <InstState*>PyMem_Malloc(n * sizeof(InstState))
        if self.ist == NULL:
            raise MemoryError()
        memset(self.ist, 0, n * sizeof(InstState))
        self.n_inst = n
        self.instruments = list(instruments)
        self.books = list(books)
        for i in range(n):
            self.ist[i].book = &(<L2Book?>books[i]).book
        self.sub_bbo = [()] * n
        self.sub_book = [()] * n
        self.sub_trade = [()] * n
        self.sub_status = [()] * n
        self.sub_event = [()] * n
        self.host = host
        self.sim = sim
        self.measure = measure
        self._sides = tuple(sides) + (None,) if sides is not None else (0, 1, None)

    def __dealloc__(self):
        PyMem_Free(self.ist)

    cdef void record(self, int stage, int64_t ns) noexcept:
        cdef LatencyHist* h = self.hists[stage]
        if h != NULL:
            hist_record(h, ns)

    def set_histograms(self, hists):
        """Record stage latencies into these ``LatencyHistogram`` objects (one per name of
        ``STAGES``, in order; None skips a stage)."""
        hists = list(hists)
        if len(hists) != N_STAGES:
            raise ValueError(f"hists: one per stage of {STAGES}")
        for k in range(N_STAGES):
            h = hists[k]
            if h is not None and not isinstance(h, LatencyHistogram):
                raise TypeError(f"hists[{k}]: a LatencyHistogram or None")
            self.hists[k] = (<LatencyHistogram>h).h if h is not None else NULL
        self._hist_objs = hists

    def record_stage(self, int stage, int64_t ns):
        """Record one measurement (ns) of a stage (``STAGES`` names them)."""
        if not 0 <= stage < N_STAGES:
            raise ValueError(f"stage must be 0..{N_STAGES - 1}")
        self.record(stage, ns)

    def subscribe(self, Py_ssize_t i, bbo=(), book=(), trade=(), status=(), event=()):
        """Set the strategies called for instrument ``i``'s hooks (tuples of Strategy)."""
        if not 0 <= i < self.n_inst:
            raise IndexError(f"instrument index {i} outside 0..{self.n_inst - 1}")
        for group in (bbo, book, trade, status, event):
            for s in group:
                if not isinstance(s, Strategy):
                    raise TypeError(f"not a Strategy: {s!r}")
        self.sub_bbo[i] = _dispatch(bbo, "on_bbo")
        self.sub_book[i] = _dispatch(book, "on_book")
        self.sub_trade[i] = _dispatch(trade, "on_trade")
        self.sub_status[i] = _dispatch(status, "on_book_status")
        self.sub_event[i] = _dispatch(event, "on_event")
        self.ist[i].want_event = len(event) > 0
        self.ist[i].want_bbo = len(bbo) > 0
        self.ist[i].want_book = len(book) > 0
        self.ist[i].want_trade = len(trade) > 0
        self.ist[i].want_status = len(status) > 0

    def set_valid(self, Py_ssize_t i, bint valid):
        """Mark a book valid or not (books of venues without a sync procedure start valid)."""
        if not 0 <= i < self.n_inst:
            raise IndexError(f"instrument index {i} outside 0..{self.n_inst - 1}")
        self.ist[i].valid = valid

    def is_valid(self, Py_ssize_t i):
        """Whether instrument ``i``'s book is in sync."""
        if not 0 <= i < self.n_inst:
            raise IndexError(f"instrument index {i} outside 0..{self.n_inst - 1}")
        return bool(self.ist[i].valid)

    def set_now(self, ts_t t):
        """Move the clock forward (never back) without an event (live: the receive time)."""
        if t > self.now:
            self.now = t

    def run(self, events):
        """Process an array of events (``EVENT_DTYPE``, time-ordered).  Returns how many."""
        cdef const unsigned char[::1] raw
        cdef Py_ssize_t n
        arr = np.asarray(events)
        if arr.dtype != EVENT_DTYPE:
            raise TypeError(f"events: expected EVENT_DTYPE records, got {arr.dtype}")
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        n = arr.shape[0]
        if n == 0:
            return 0
        raw = arr.view(np.uint8).reshape(-1)
        self._run(<const Event*>&raw[0], n)
        return n

    def run_buffer(self, size_t address, Py_ssize_t n, owner):
        """Process ``n`` events at ``address`` (kept alive by ``owner``; e.g. a Feed's buffer)."""
        if n <= 0:
            return 0
        if owner is None:
            raise ValueError("owner: the object that owns the events must be given")
        self._run(<const Event*>address, n)
        return n

    def run_feed(self, Feed feed):
        """Process the events a :class:`~hftcore._ext.feed.Feed` holds, in place, and empty
        it: the live path (frame -> feed -> books -> strategies) without a copy."""
        cdef Py_ssize_t n = feed.count
        if n:
            feed.count = 0
            self._run(feed.events, n)
        return n

    def advance(self, ts_t t):
        """Handle every queued request, answer and timer due up to ``t`` (end of data, or a
        live clock tick); the clock moves to ``t``."""
        self.drain(t)
        if t > self.now:
            self.now = t

    cdef int _run(self, const Event* ev, Py_ssize_t n) except -1:
        cdef Py_ssize_t k
        cdef const Event* e
        cdef ts_t t
        cdef uint32_t i
        cdef InstState* st
        cdef int rc
        cdef qty_t old
        cdef SimCore sim = self.sim
        cdef bint have_sim = sim is not None
        cdef bint measure = self.measure
        for k in range(n):
            e = &ev[k]
            if measure and not self.msg_open:
                self.msg_t0 = wall_ns()
                self.msg_open = 1
            t = e.local_ts
            if t < self.now:
                self.out_of_order += 1
                t = self.now
            if have_sim and sim.heap_n and sim.heap[0].ts <= t:
                self.drain(t)
            self.now = t
            i = e.instrument
            if i >= <uint32_t>self.n_inst:
                raise ValueError(f"event {k}: instrument {i} outside 0..{self.n_inst - 1}")
            st = &self.ist[i]
            st.last_local_ts = e.local_ts
            if e.exchange_ts:
                st.last_exchange_ts = e.exchange_ts
                if have_sim:
                    sim.feed_delay[i] = e.local_ts - e.exchange_ts \
                        if e.local_ts >= e.exchange_ts else 0
            if e.kind == EV_DELTA:
                st.deltas += 1
                if e.flags & DELTA_CLEAR:
                    l2_clear(st.book, CLEAR_BOTH)
                    st.top = 1
                    st.changed = 1
                    if have_sim:
                        sim.clear_consumed_all(i)
                elif e.flags & DELTA_CLEAR_SIDE:
                    l2_clear(st.book, e.side)
                    st.top = 1
                    st.changed = 1
                if e.size != 0 or not (e.flags & (DELTA_CLEAR | DELTA_CLEAR_SIDE)):
                    if have_sim and (sim.resting[i] or sim.consumed_n[i]):
                        old = l2_level_size(st.book, e.side, e.price) if e.side <= 1 else 0
                        rc = l2_apply(st.book, e.side, e.price, e.size)
                        if rc >= 0:
                            sim.on_depth(i, e.side, e.price, old, e.size, t)
                    else:
                        rc = l2_apply(st.book, e.side, e.price, e.size)
                    if rc < 0:
                        st.bad_deltas += 1
                    else:
                        st.changed = 1
                        if rc & BOOK_TOP:
                            st.top = 1
            elif e.kind == EV_TRADE:
                st.trades += 1
                if have_sim and sim.resting[i]:
                    sim.on_trade(i, e.side, e.price, e.size, st.book, t)
                if st.want_trade:
                    self.call_trade(i, e)
            if st.want_event and e.kind <= EV_TRADE:
                self.call_event(i, e)
            if e.kind == EV_STATUS:
                if (e.size != 0) != (st.valid != 0):
                    st.valid = e.size != 0
                    st.status_changed = 1
            elif e.kind == EV_CHECKSUM:
                if self.checksum_ok(st, e):
                    st.checksums_ok += 1
                else:
                    st.checksums_failed += 1
                    if st.valid:
                        st.valid = 0
                        st.status_changed = 1
            if e.flags & EVENT_LAST:
                st.messages += 1
                if measure:
                    self.record(STAGE_BOOK, wall_ns() - self.msg_t0)
                    self.msg_open = 0
                self.end_message(i, st)
            if have_sim and sim.heap_n and sim.heap[0].ts <= t:
                self.drain(t)        # answers due now (zero latency) come before the next event
        self.events += n
        return 0

    cdef int call_event(self, uint32_t i, const Event* e) except -1:
        inst = self.instruments[i]
        for s, f in <tuple>self.sub_event[i]:
            self.hook_calls += 1
            try:
                if f is None:
                    (<Strategy>s).on_event(inst, e.kind, e.side, e.price, e.size, e.local_ts)
                else:
                    f(s, inst, e.kind, e.side, e.price, e.size, e.local_ts)
            except Exception as exc:
                self.host._hook_failed(s, "on_event", exc)
            if self.pending:
                self.host._flush()
        return 0

    cdef bint checksum_ok(self, InstState* st, const Event* e) noexcept:
        if e.side == CHECKSUM_KRAKEN:
            return <uint32_t>l2_checksum_kraken(st.book) == <uint32_t>(e.ref & 0xffffffff)
        if e.side == CHECKSUM_BITFINEX:
            return <uint32_t>l2_checksum_bitfinex(st.book) == <uint32_t>(e.ref & 0xffffffff)
        return <uint32_t>l2_checksum_okx(st.book) == <uint32_t>(e.ref & 0xffffffff)

    cdef int call_trade(self, uint32_t i, const Event* e) except -1:
        cdef int64_t t0 = 0
        cdef Trade tr = Trade.__new__(Trade)
        tr.instrument = self.instruments[i]
        tr.price = e.price
        tr.size = e.size
        tr.side = self._sides[e.side if e.side <= 1 else 2]
        tr.ts = e.local_ts
        tr.exchange_ts = e.exchange_ts
        tr.trade_id = e.ref
        inst = tr.instrument
        if self.measure:
            t0 = self.msg_wall_ns = wall_ns()
        for s, f in <tuple>self.sub_trade[i]:
            self.hook_calls += 1
            try:
                if f is None:
                    (<Strategy>s).on_trade(inst, tr)
                else:
                    f(s, inst, tr)
            except Exception as exc:
                self.host._hook_failed(s, "on_trade", exc)
            if self.pending:
                self.host._flush()
        if t0:
            self.record(STAGE_STRATEGY, wall_ns() - t0)
        self.msg_wall_ns = 0
        return 0

    cdef int end_message(self, uint32_t i, InstState* st) except -1:
        """After a whole venue message on instrument ``i``: simulator crosses, then hooks."""
        cdef int top = st.top, changed = st.changed, status = st.status_changed
        st.top = 0
        st.changed = 0
        st.status_changed = 0
        if self.sim is not None and self.sim.resting[i] and changed:
            self.sim.on_message_end(i, st.book, self.now)
        if not (status or top or changed):
            return 0
        if self.measure and ((status and st.want_status) or (st.valid and (
                (top and st.want_bbo) or (changed and st.want_book)))):
            self.msg_wall_ns = wall_ns()
            self.hooks(i, st, status, top, changed)
            self.record(STAGE_STRATEGY, wall_ns() - self.msg_wall_ns)
            self.msg_wall_ns = 0
            return 0
        return self.hooks(i, st, status, top, changed)

    cdef int hooks(self, uint32_t i, InstState* st, int status, int top,
                   int changed) except -1:
        inst = self.instruments[i]
        if status and st.want_status:
            for s, f in <tuple>self.sub_status[i]:
                self.hook_calls += 1
                try:
                    if f is None:
                        (<Strategy>s).on_book_status(inst, bool(st.valid))
                    else:
                        f(s, inst, bool(st.valid))
                except Exception as exc:
                    self.host._hook_failed(s, "on_book_status", exc)
                if self.pending:
                    self.host._flush()
        if not st.valid:
            return 0
        if top and st.want_bbo:
            book = self.books[i]
            for s, f in <tuple>self.sub_bbo[i]:
                self.hook_calls += 1
                try:
                    if f is None:
                        (<Strategy>s).on_bbo(inst, book)
                    else:
                        f(s, inst, book)
                except Exception as exc:
                    self.host._hook_failed(s, "on_bbo", exc)
                if self.pending:
                    self.host._flush()
        if changed and st.want_book:
            book = self.books[i]
            for s, f in <tuple>self.sub_book[i]:
                self.hook_calls += 1
                try:
                    if f is None:
                        (<Strategy>s).on_book(inst, book)
                    else:
                        f(s, inst, book)
                except Exception as exc:
                    self.host._hook_failed(s, "on_book", exc)
                if self.pending:
                    self.host._flush()
        return 0

    cdef int drain(self, ts_t t) except -1:
        """Handle queued messages due at or before ``t``, in (time, sequence) order."""
        cdef SimCore sim = self.sim
        cdef Msg m
        if sim is None:
            return 0
        while sim.heap_n and sim.heap[0].ts <= t:
            sim.pop(&m)
            if m.ts > self.now:
                self.now = m.ts
            self.handle_msg(&m)
        return 0

    cdef int handle_msg(self, Msg* m) except -1:
        cdef SimCore sim = self.sim
        cdef SimOrder* o
        cdef uint32_t inst
        if m.kind == MSG_NEW or m.kind == MSG_CANCEL or m.kind == MSG_AMEND:
            if m.slot < 0 or m.slot >= sim.n_orders:
                inst = 0
            else:
                inst = sim.orders[m.slot].inst
            if m.kind == MSG_NEW:
                sim.arrive_new(m, self.ist[inst].book, self.now)
            elif m.kind == MSG_CANCEL:
                sim.arrive_cancel(m, self.now)
            else:
                sim.arrive_amend(m, self.ist[inst].book, self.now)
        elif m.kind == MSG_TIMER:
            self.host._on_timer(m.handle, m.ts)
        else:
            self.host._on_response(m.kind, m.handle, m.price, m.qty, m.aux, m.ts)
        return 0

    # -- reads ---------------------------------------------------------------------------

    def counters(self, Py_ssize_t i):
        """Per-instrument counters: deltas, trades, messages, checksums, bad deltas, valid."""
        if not 0 <= i < self.n_inst:
            raise IndexError(f"instrument index {i} outside 0..{self.n_inst - 1}")
        st = &self.ist[i]
        return {"deltas": st.deltas, "trades": st.trades, "messages": st.messages,
                "checksums_ok": st.checksums_ok, "checksums_failed": st.checksums_failed,
                "bad_deltas": st.bad_deltas, "valid": bool(st.valid)}

    @property
    def n_instruments(self):
        """Instruments in the run."""
        return self.n_inst

    @property
    def wall_ns(self):
        """The monotonic clock (ns) the engine measures with."""
        return wall_ns()
