"""Simulated exchange core: price-time matching of our orders against a replayed L2 book.

Model (docs/backtest.md has the long form):

* Latency: a request reaches the matching engine ``entry`` ns after the strategy sent it (a
  cancel after ``cancel`` ns); every answer reaches the strategy ``response`` ns after the
  matching engine produced it.  Each is a constant, a table of samples drawn with the run's seed
  (a distribution), or the instrument's recorded feed delay (``local_ts - exchange_ts``) plus a
  constant.
* An order that can trade on arrival takes the displayed liquidity, best level first, at the
  level prices (taker).  Liquidity our orders took is remembered per level until the feed updates
  that level, so two orders never take the same displayed size.
* A resting order joins the back of its level: the size displayed there when it arrives is ahead
  of it.  Trades at our price consume the queue ahead first, then fill us (maker, at our price);
  a trade through our price fills us completely; a depth decrease at our level that is not
  explained by trades already seen is taken as cancels spread evenly over the queue, so the part
  ahead of us shrinks in proportion (hftbacktest's proportional queue model); the queue ahead
  never exceeds the displayed size.  When the book crosses our price (an ask at or below our bid)
  the liquidity not already taken fills us at our price.
* Post-only orders that would take are rejected; IOC remainders expire; FOK orders fill
  completely or expire untouched; market orders take up to their protection price and expire
  the rest.  Amending the price, or raising the size, loses the queue position; lowering the
  size keeps it.
* Everything is integer arithmetic and events are ordered by (time, sequence): the same inputs
  and seed give the same fills, byte for byte.
"""

cimport cython
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from libc.string cimport memset
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t, uint8_t, INT64_MAX

import numpy as np

from hftcore._ext.types cimport px_t, qty_t, ts_t, SIDE_BID, SIDE_ASK, SIDE_NONE
from hftcore._ext.book cimport L2BookC, l2_best, l2_depth, l2_level_size

cdef extern from *:
    """
    static inline int64_t hc_mul_div_floor(int64_t a, int64_t b, int64_t c) {
        /* a * b / c for 0 <= a <= c, b >= 0, c > 0: the result is <= b, the product is 128-bit */
        return (int64_t)(((__int128)a * (__int128)b) / c);
    }
    """
    int64_t hc_mul_div_floor(int64_t a, int64_t b, int64_t c) noexcept nogil

__all__ = ["SimCore", "MSG_NAMES", "REJECT_NAMES", "LATENCY_KINDS"]

MSG_NAMES = {MSG_NEW: "new", MSG_CANCEL: "cancel", MSG_AMEND: "amend", RSP_ACK: "ack",
             RSP_REJECT: "reject", RSP_FILL: "fill", RSP_CANCELED: "canceled",
             RSP_EXPIRED: "expired", RSP_REPLACED: "replaced",
             RSP_CANCEL_REJECT: "cancel_reject", RSP_REPLACE_REJECT: "replace_reject",
             MSG_TIMER: "timer"}
REJECT_NAMES = {SIM_OK: "", SIM_POST_ONLY: "post-only order would take liquidity",
                SIM_UNKNOWN_ORDER: "order not on the book (already filled or canceled)",
                SIM_BAD_AMEND: "new size not above the filled size",
                SIM_NO_LIQUIDITY: "no liquidity within the protection price"}
LATENCY_KINDS = {"const": LAT_CONST, "table": LAT_TABLE, "feed": LAT_FEED}

DEF LEVEL_SCRATCH = 1024


cdef inline ts_t sat_add(ts_t a, int64_t b) noexcept nogil:
    if b > 0 and a > INT64_MAX - b:
        return INT64_MAX
    return a + b


cdef inline bint msg_before(const Msg* a, const Msg* b) noexcept nogil:
    return a.ts < b.ts or (a.ts == b.ts and a.seq < b.seq)


@cython.final
cdef class SimCore:
    """The matching core of :class:`hftcore.venues.sim.SimExchange` (driven by the engine).

    ``latency`` arguments are ``(kind, value, table)``: kind ``"const"`` (``value`` ns),
    ``"table"`` (cycle through the int64 ``table`` of ns samples) or ``"feed"`` (the
    instrument's last recorded feed delay plus ``value``).
    """

    def __cinit__(self):
        self.heap = NULL
        self.orders = NULL
        self.resting = NULL
        self.consumed_n = NULL
        self.consumed = NULL
        self.feed_delay = NULL
        self.lvl_px = NULL
        self.lvl_qty = NULL
        self.free_head = -1

    def __init__(self, Py_ssize_t n_instruments, entry=("const", 0, None),
                 response=("const", 0, None), cancel=None):
        if n_instruments < 1:
            raise ValueError("n_instruments must be >= 1")
        self.n_inst = n_instruments
        self.resting = <int32_t*>PyMem_Malloc(n_instruments * sizeof(int32_t))
        self.consumed_n = <int32_t*>PyMem_Malloc(n_instruments * sizeof(int32_t))
        self.feed_delay = <ts_t*>PyMem_Malloc(n_instruments * sizeof(ts_t))
        self.lvl_px = <px_t*>PyMem_Malloc(LEVEL_SCRATCH * sizeof(px_t))
        self.lvl_qty = <qty_t*>PyMem_Malloc(LEVEL_SCRATCH * sizeof(qty_t))
        if (self.resting == NULL or self.consumed_n == NULL or self.feed_delay == NULL
                or self.lvl_px == NULL or self.lvl_qty == NULL):
            raise MemoryError()
        memset(self.resting, 0, n_instruments * sizeof(int32_t))
        memset(self.consumed_n, 0, n_instruments * sizeof(int32_t))
        memset(self.feed_delay, 0, n_instruments * sizeof(ts_t))
        self.lvl_cap = LEVEL_SCRATCH
        self._tables = []
        self._set_latency(&self.lat_entry, entry, "entry")
        self._set_latency(&self.lat_response, response, "response")
        self._set_latency(&self.lat_cancel, entry if cancel is None else cancel, "cancel")

    def __dealloc__(self):
        PyMem_Free(self.heap)
        PyMem_Free(self.orders)
        PyMem_Free(self.resting)
        PyMem_Free(self.consumed_n)
        PyMem_Free(self.consumed)
        PyMem_Free(self.feed_delay)
        PyMem_Free(self.lvl_px)
        PyMem_Free(self.lvl_qty)

    cdef _set_latency(self, Latency* lat, spec, str what):
        cdef int64_t[::1] tab
        kind, value, table = spec
        if kind not in LATENCY_KINDS:
            raise ValueError(f"{what} latency: kind must be one of {sorted(LATENCY_KINDS)}")
        if type(value) is not int or value < 0:
            raise ValueError(f"{what} latency: value must be an int >= 0 (ns), got {value!r}")
        lat.kind = LATENCY_KINDS[kind]
        lat.value = value
        lat.table = NULL
        lat.n = 0
        lat.next = 0
        if lat.kind == LAT_TABLE:
            arr = np.ascontiguousarray(table, dtype=np.int64)
            if arr.ndim != 1 or arr.shape[0] == 0 or (arr < 0).any():
                raise ValueError(f"{what} latency: table must be a non-empty 1-d array of "
                                 "int ns >= 0")
            self._tables.append(arr)
            tab = arr
            lat.table = &tab[0]
            lat.n = arr.shape[0]

    # -- the message heap ----------------------------------------------------------------

    cdef int push(self, ts_t ts, int kind, int64_t handle, int32_t slot, px_t price, qty_t qty,
                  int aux) except -1:
        cdef Py_ssize_t i, parent, cap
        cdef Msg m
        cdef Msg* h
        if self.heap_n == self.heap_cap:
            cap = self.heap_cap * 2 if self.heap_cap else 256
            h = <Msg*>PyMem_Realloc(self.heap, cap * sizeof(Msg))
            if h == NULL:
                raise MemoryError()
            self.heap = h
            self.heap_cap = cap
        m.ts = ts
        m.seq = self.seq
        self.seq += 1
        m.kind = <uint8_t>kind
        m.handle = handle
        m.slot = slot
        m.price = price
        m.qty = qty
        m.aux = <uint8_t>aux
        m._pad = 0
        i = self.heap_n
        self.heap_n += 1
        while i > 0:
            parent = (i - 1) >> 1
            if not msg_before(&m, &self.heap[parent]):
                break
            self.heap[i] = self.heap[parent]
            i = parent
        self.heap[i] = m
        return 0

    @cython.nonecheck(False)   # self is never None here; debug builds check None elsewhere
    cdef void pop(self, Msg* out) noexcept nogil:
        cdef Py_ssize_t i = 0, child, n
        cdef Msg last
        out[0] = self.heap[0]
        self.heap_n -= 1
        n = self.heap_n
        if n == 0:
            return
        last = self.heap[n]
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and msg_before(&self.heap[child + 1], &self.heap[child]):
                child += 1
            if not msg_before(&self.heap[child], &last):
                break
            self.heap[i] = self.heap[child]
            i = child
        self.heap[i] = last

    cdef ts_t sample(self, Latency* lat, uint32_t inst) noexcept nogil:
        cdef int64_t v
        if lat.kind == LAT_CONST:
            return lat.value
        if lat.kind == LAT_TABLE:
            v = lat.table[lat.next]
            lat.next += 1
            if lat.next == lat.n:
                lat.next = 0
            return v
        v = self.feed_delay[inst] if inst < <uint32_t>self.n_inst else 0
        if v < 0:
            v = 0
        return sat_add(v, lat.value)

    # -- orders --------------------------------------------------------------------------

    cdef int32_t new_slot(self) except -2:
        cdef int32_t slot
        cdef Py_ssize_t cap
        cdef SimOrder* p
        if self.free_head >= 0:
            slot = self.free_head
            self.free_head = <int32_t>self.orders[slot].handle
            return slot
        if self.n_orders == self.cap_orders:
            cap = self.cap_orders * 2 if self.cap_orders else 64
            if cap > 0x7fffffff:
                raise MemoryError("too many simulated orders in flight")
            p = <SimOrder*>PyMem_Realloc(self.orders, cap * sizeof(SimOrder))
            if p == NULL:
                raise MemoryError()
            self.orders = p
            self.cap_orders = cap
        slot = <int32_t>self.n_orders
        self.n_orders += 1
        return slot

    cdef void retire(self, SimOrder* o, int32_t slot) noexcept:
        if o.live == 1:
            self.resting[o.inst] -= 1
        o.live = 0
        o.handle = self.free_head
        self.free_head = slot

    def submit(self, int64_t handle, uint32_t inst, int side, px_t price, qty_t size, int flags,
               ts_t now):
        """A new order sent at ``now``; returns its slot (give it to :meth:`cancel`/:meth:`amend`)."""
        cdef int32_t slot
        cdef SimOrder* o
        if inst >= <uint32_t>self.n_inst:
            raise IndexError(f"inst: {inst} is not an instrument of this simulator")
        if side != SIDE_BID and side != SIDE_ASK:
            raise ValueError(f"side: must be 0 or 1, got {side}")
        if size <= 0 or price < 0:
            raise ValueError(f"size must be > 0 and price >= 0, got {size} @ {price}")
        slot = self.new_slot()
        o = &self.orders[slot]
        memset(o, 0, sizeof(SimOrder))
        o.handle = handle
        o.price = price
        o.size = size
        o.inst = inst
        o.side = <uint8_t>side
        o.flags = <uint8_t>flags
        o.live = 2
        self.push(sat_add(now, self.sample(&self.lat_entry, inst)), MSG_NEW, handle, slot, price,
                  size, 0)
        return slot

    def cancel(self, int64_t handle, int32_t slot, ts_t now, uint32_t inst=0):
        """A cancel request sent at ``now``."""
        self.push(sat_add(now, self.sample(&self.lat_cancel, inst)), MSG_CANCEL, handle, slot, 0,
                  0, 0)

    def amend(self, int64_t handle, int32_t slot, px_t price, qty_t size, ts_t now,
              uint32_t inst=0):
        """A cancel-replace request sent at ``now``: new price and total size."""
        if size <= 0 or price < 0:
            raise ValueError(f"size must be > 0 and price >= 0, got {size} @ {price}")
        self.push(sat_add(now, self.sample(&self.lat_entry, inst)), MSG_AMEND, handle, slot,
                  price, size, 0)

    def add_timer(self, int64_t timer_id, ts_t ts):
        """Schedule a timer message (the engine's timers share the queue, so order is total)."""
        self.push(ts, MSG_TIMER, timer_id, -1, 0, 0, 0)

    @property
    def next_ts(self):
        """Time of the next queued message, or None."""
        return self.heap[0].ts if self.heap_n else None

    @property
    def queued(self):
        """Messages waiting (requests, answers, timers)."""
        return self.heap_n

    def resting_orders(self):
        """``[(handle, inst, side, price, size, filled, queue_ahead)]`` resting on the book."""
        out = []
        for i in range(self.n_orders):
            o = &self.orders[i]
            if o.live == 1:
                out.append((o.handle, o.inst, o.side, o.price, o.size, o.filled, o.queue_ahead))
        return out

    def set_feed_delay(self, uint32_t inst, ts_t delay):
        """The instrument's last feed delay (for ``"feed"`` latency)."""
        if inst < <uint32_t>self.n_inst:
            self.feed_delay[inst] = delay

    # -- matching ------------------------------------------------------------------------

    cdef qty_t consumed_at(self, uint32_t inst, int side, px_t price) noexcept nogil:
        cdef Py_ssize_t i
        if self.consumed_n[inst] == 0:
            return 0
        for i in range(self.n_consumed):
            if (self.consumed[i].inst == inst and self.consumed[i].side == side
                    and self.consumed[i].price == price):
                return self.consumed[i].qty
        return 0

    cdef int add_consumed(self, uint32_t inst, int side, px_t price, qty_t qty) except -1:
        cdef Py_ssize_t i, cap
        cdef Consumed* p
        for i in range(self.n_consumed):
            if (self.consumed[i].inst == inst and self.consumed[i].side == side
                    and self.consumed[i].price == price):
                self.consumed[i].qty += qty       # <= displayed size: no overflow
                return 0
        if self.n_consumed == self.cap_consumed:
            cap = self.cap_consumed * 2 if self.cap_consumed else 16
            p = <Consumed*>PyMem_Realloc(self.consumed, cap * sizeof(Consumed))
            if p == NULL:
                raise MemoryError()
            self.consumed = p
            self.cap_consumed = cap
        self.consumed[self.n_consumed].inst = inst
        self.consumed[self.n_consumed].side = side
        self.consumed[self.n_consumed].price = price
        self.consumed[self.n_consumed].qty = qty
        self.n_consumed += 1
        self.consumed_n[inst] += 1
        return 0

    @cython.nonecheck(False)   # self is never None here; debug builds check None elsewhere
    cdef void clear_consumed(self, uint32_t inst, int side, px_t price) noexcept nogil:
        cdef Py_ssize_t i
        if self.consumed_n[inst] == 0:
            return
        for i in range(self.n_consumed):
            if (self.consumed[i].inst == inst and self.consumed[i].side == side
                    and self.consumed[i].price == price):
                self.n_consumed -= 1
                self.consumed[i] = self.consumed[self.n_consumed]
                self.consumed_n[inst] -= 1
                return

    @cython.nonecheck(False)   # self is never None here; debug builds check None elsewhere
    cdef void clear_consumed_all(self, uint32_t inst) noexcept nogil:
        cdef Py_ssize_t i = 0
        if self.consumed_n[inst] == 0:
            return
        while i < self.n_consumed:
            if self.consumed[i].inst == inst:
                self.n_consumed -= 1
                self.consumed[i] = self.consumed[self.n_consumed]
            else:
                i += 1
        self.consumed_n[inst] = 0

    cdef qty_t available(self, uint32_t inst, int side, px_t limit, int limited,
                         L2BookC* book) noexcept:
        """Untaken displayed size on ``side`` at prices an order limited to ``limit`` can take."""
        cdef Py_ssize_t n = l2_depth(book, side, 16, self.lvl_px, self.lvl_qty), i = 0
        cdef qty_t total = 0, q
        while i < n or (n == 16 and self._more(book, side, &n)):
            if limited and ((side == SIDE_ASK and self.lvl_px[i] > limit) or
                            (side == SIDE_BID and self.lvl_px[i] < limit)):
                break
            q = self.lvl_qty[i] - self.consumed_at(inst, side, self.lvl_px[i])
            if q > 0:
                if total > INT64_MAX - q:
                    return INT64_MAX
                total += q
            i += 1
        return total

    cdef int fill(self, SimOrder* o, int32_t slot, px_t price, qty_t qty, int taker,
                  ts_t rts) except -1:
        o.filled += qty          # qty <= size - filled: no overflow
        self.n_fills += 1
        self.trade_seq += 1
        if taker:
            self.n_taker_fills += 1
        else:
            self.n_maker_fills += 1
        self.push(rts, RSP_FILL, o.handle, slot, price, qty, 1 if taker else 0)
        return 0

    cdef int take(self, SimOrder* o, int32_t slot, L2BookC* book, ts_t rts) except -1:
        """Trade ``o`` against the opposite side's untaken displayed liquidity."""
        cdef int opp = 1 - o.side
        cdef int limited = not (o.flags & SO_MARKET) or o.price > 0
        cdef Py_ssize_t n = l2_depth(book, opp, 16, self.lvl_px, self.lvl_qty), i = 0
        cdef qty_t avail, q
        cdef px_t px
        while i < n or (n == 16 and self._more(book, opp, &n)):
            if o.filled == o.size:
                break
            px = self.lvl_px[i]
            if limited and ((o.side == SIDE_BID and px > o.price) or
                            (o.side == SIDE_ASK and px < o.price)):
                break
            avail = self.lvl_qty[i] - self.consumed_at(o.inst, opp, px)
            i += 1
            if avail <= 0:
                continue
            q = o.size - o.filled
            if avail < q:
                q = avail
            self.fill(o, slot, px, q, 1, rts)
            self.add_consumed(o.inst, opp, px, q)
        return 0

    cdef int rest(self, SimOrder* o, int32_t slot, L2BookC* book) noexcept:
        o.queue_ahead = l2_level_size(book, o.side, o.price)
        o.traded = 0
        if o.live != 1:
            o.live = 1
            self.resting[o.inst] += 1
        return 0

    cdef bint crosses(self, SimOrder* o, L2BookC* book) noexcept:
        return self.available(o.inst, 1 - o.side, o.price, 1, book) > 0

    cdef int arrive_new(self, Msg* m, L2BookC* book, ts_t now) except -1:
        cdef SimOrder* o = &self.orders[m.slot]
        cdef ts_t rts = sat_add(now, self.sample(&self.lat_response, o.inst))
        if o.live != 2 or o.handle != m.handle:
            return 0
        if (o.flags & SO_POST_ONLY) and self.crosses(o, book):
            self.n_rejects += 1
            self.push(rts, RSP_REJECT, o.handle, m.slot, o.price, o.size, SIM_POST_ONLY)
            self.retire(o, m.slot)
            return 0
        if (o.flags & SO_FOK) and self.available(o.inst, 1 - o.side, o.price,
                                                  not (o.flags & SO_MARKET) or o.price > 0,
                                                  book) < o.size:
            self.push(rts, RSP_ACK, o.handle, m.slot, o.price, o.size, 0)
            self.n_expired += 1
            self.push(rts, RSP_EXPIRED, o.handle, m.slot, 0, o.size, SIM_NO_LIQUIDITY)
            self.retire(o, m.slot)
            return 0
        self.push(rts, RSP_ACK, o.handle, m.slot, o.price, o.size, 0)
        self.take(o, m.slot, book, rts)
        if o.filled == o.size:
            self.retire(o, m.slot)
        elif o.flags & (SO_IOC | SO_FOK | SO_MARKET):
            self.n_expired += 1
            self.push(rts, RSP_EXPIRED, o.handle, m.slot, 0, o.size - o.filled,
                      SIM_NO_LIQUIDITY if o.filled == 0 and (o.flags & SO_MARKET) else SIM_OK)
            self.retire(o, m.slot)
        else:
            self.rest(o, m.slot, book)
        return 0

    cdef int arrive_cancel(self, Msg* m, ts_t now) except -1:
        cdef SimOrder* o = &self.orders[m.slot]
        cdef ts_t rts = sat_add(now, self.sample(&self.lat_response, o.inst))
        if m.slot < 0 or m.slot >= self.n_orders or o.live != 1 or o.handle != m.handle:
            self.push(rts, RSP_CANCEL_REJECT, m.handle, m.slot, 0, 0, SIM_UNKNOWN_ORDER)
            return 0
        self.push(rts, RSP_CANCELED, o.handle, m.slot, 0, o.size - o.filled, 0)
        self.retire(o, m.slot)
        return 0

    cdef int arrive_amend(self, Msg* m, L2BookC* book, ts_t now) except -1:
        cdef SimOrder* o = &self.orders[m.slot]
        cdef ts_t rts = sat_add(now, self.sample(&self.lat_response, o.inst))
        cdef px_t old_price
        cdef qty_t old_size
        if m.slot < 0 or m.slot >= self.n_orders or o.live != 1 or o.handle != m.handle:
            self.push(rts, RSP_REPLACE_REJECT, m.handle, m.slot, 0, 0, SIM_UNKNOWN_ORDER)
            return 0
        if m.qty <= o.filled:
            self.push(rts, RSP_REPLACE_REJECT, o.handle, m.slot, 0, 0, SIM_BAD_AMEND)
            return 0
        old_price = o.price
        old_size = o.size
        if m.price == old_price and m.qty <= old_size:
            o.size = m.qty                      # smaller at the same price: keeps its place
            self.push(rts, RSP_REPLACED, o.handle, m.slot, o.price, o.size, 0)
            return 0
        o.price = m.price
        if (o.flags & SO_POST_ONLY) and self.crosses(o, book):
            o.price = old_price
            self.push(rts, RSP_REPLACE_REJECT, o.handle, m.slot, 0, 0, SIM_POST_ONLY)
            return 0
        o.size = m.qty
        self.push(rts, RSP_REPLACED, o.handle, m.slot, o.price, o.size, 0)
        self.take(o, m.slot, book, rts)
        if o.filled == o.size:
            self.retire(o, m.slot)
        else:
            self.rest(o, m.slot, book)          # the back of the (new) level
        return 0

    cdef int on_depth(self, uint32_t inst, int side, px_t price, qty_t old, qty_t new,
                      ts_t now) except -1:
        """The feed changed a level from ``old`` to ``new``: move queue estimates."""
        cdef Py_ssize_t i
        cdef SimOrder* o
        cdef qty_t dec, cancels
        self.clear_consumed(inst, side, price)
        if self.resting[inst] == 0:
            return 0
        for i in range(self.n_orders):
            o = &self.orders[i]
            if o.live != 1 or o.inst != inst or o.side != side or o.price != price:
                continue
            if new < old:
                dec = old - new
                if dec > o.traded:
                    cancels = dec - o.traded
                    o.traded = 0
                    if o.queue_ahead > 0 and old > 0:
                        o.queue_ahead -= hc_mul_div_floor(
                            cancels if cancels < old else old,
                            o.queue_ahead if o.queue_ahead < old else old, old)
                else:
                    o.traded -= dec
            if o.queue_ahead > new:
                o.queue_ahead = new
            if o.queue_ahead < 0:
                o.queue_ahead = 0
        return 0

    cdef int on_trade(self, uint32_t inst, int side, px_t price, qty_t size, L2BookC* book,
                      ts_t now) except -1:
        """A public trade: fill resting orders it reached."""
        cdef Py_ssize_t i
        cdef SimOrder* o
        cdef int passive
        cdef px_t bb, ba
        cdef qty_t bq, aq, left = size, q
        cdef ts_t rts = 0
        if self.resting[inst] == 0 or size <= 0:
            return 0
        if side == SIDE_NONE:
            if l2_best(book, SIDE_BID, &bb, &bq) and price <= bb:
                side = SIDE_ASK
            elif l2_best(book, SIDE_ASK, &ba, &aq) and price >= ba:
                side = SIDE_BID
            else:
                return 0
        passive = 1 - side
        for i in range(self.n_orders):
            o = &self.orders[i]
            if o.live != 1 or o.inst != inst or o.side != passive:
                continue
            if (passive == SIDE_BID and o.price > price) or (passive == SIDE_ASK and
                                                              o.price < price):
                if rts == 0:
                    rts = sat_add(now, self.sample(&self.lat_response, inst))
                self.fill(o, <int32_t>i, o.price, o.size - o.filled, 0, rts)
                self.retire(o, <int32_t>i)
            elif o.price == price:
                if o.traded <= INT64_MAX - size:
                    o.traded += size
                if left > o.queue_ahead:
                    q = left - o.queue_ahead
                    if q > o.size - o.filled:
                        q = o.size - o.filled
                    left -= q
                    o.queue_ahead = 0
                    if rts == 0:
                        rts = sat_add(now, self.sample(&self.lat_response, inst))
                    self.fill(o, <int32_t>i, o.price, q, 0, rts)
                    if o.filled == o.size:
                        self.retire(o, <int32_t>i)
                else:
                    o.queue_ahead -= left
        return 0

    cdef int on_message_end(self, uint32_t inst, L2BookC* book, ts_t now) except -1:
        """After a whole venue message: resting orders the book now crosses are filled."""
        cdef Py_ssize_t i
        cdef SimOrder* o
        cdef px_t bp
        cdef qty_t bq, avail, q
        cdef ts_t rts = 0
        cdef int opp
        if self.resting[inst] == 0:
            return 0
        for i in range(self.n_orders):
            o = &self.orders[i]
            if o.live != 1 or o.inst != inst:
                continue
            opp = 1 - o.side
            if not l2_best(book, opp, &bp, &bq):
                continue
            if (o.side == SIDE_BID and bp > o.price) or (o.side == SIDE_ASK and bp < o.price):
                continue
            avail = self.available(inst, opp, o.price, 1, book)
            if avail <= 0:
                continue
            q = o.size - o.filled
            if avail < q:
                q = avail
            if rts == 0:
                rts = sat_add(now, self.sample(&self.lat_response, inst))
            self._consume_through(inst, opp, o.price, q, book)
            self.fill(o, <int32_t>i, o.price, q, 0, rts)
            if o.filled == o.size:
                self.retire(o, <int32_t>i)
        return 0

    cdef int _consume_through(self, uint32_t inst, int side, px_t limit, qty_t qty,
                              L2BookC* book) except -1:
        """Mark ``qty`` of ``side``'s untaken liquidity up to ``limit`` as taken, best first."""
        cdef Py_ssize_t n = l2_depth(book, side, 16, self.lvl_px, self.lvl_qty), i = 0
        cdef qty_t avail, q
        while i < n or (n == 16 and self._more(book, side, &n)):
            if qty <= 0:
                break
            if (side == SIDE_ASK and self.lvl_px[i] > limit) or (side == SIDE_BID and
                                                                 self.lvl_px[i] < limit):
                break
            avail = self.lvl_qty[i] - self.consumed_at(inst, side, self.lvl_px[i])
            if avail > 0:
                q = qty if qty < avail else avail
                self.add_consumed(inst, side, self.lvl_px[i], q)
                qty -= q
            i += 1
        return 0

    cdef bint _more(self, L2BookC* book, int side, Py_ssize_t* n) noexcept:
        """The first 16 levels were not enough: fetch up to the scratch size."""
        n[0] = l2_depth(book, side, self.lvl_cap, self.lvl_px, self.lvl_qty)
        return n[0] > 16
