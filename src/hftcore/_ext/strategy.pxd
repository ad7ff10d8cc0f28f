# Strategy base class: hooks are cpdef so a subclass may be Python or Cython (a Cython subclass
# is called through the C vtable, a Python subclass through its methods).
from libc.stdint cimport int64_t
from hftcore._ext.types cimport px_t, qty_t, ts_t


cdef class Trade:
    cdef readonly object instrument
    cdef readonly int64_t price
    cdef readonly int64_t size
    cdef readonly object side        # hftcore.Side of the aggressor, or None when not told
    cdef readonly int64_t ts         # our receive time (ns)
    cdef readonly int64_t exchange_ts
    cdef readonly int64_t trade_id   # -1 when the venue's id is not numeric


cdef class QuoteSlot:
    cdef public object bid_order     # the engine's record of the working bid (or None)
    cdef public object ask_order
    cdef public object bid           # the target prices (None: no order on that side)
    cdef public object ask
    cdef public object size
    cdef public bint settled         # the working orders are the target: quote() may return
    cdef public bint active
    cdef public bint post_only


cdef class Strategy:
    cdef public object _engine       # the engine this strategy runs in (set by the engine)
    cdef public object _sid          # its index in the engine
    cdef public object name
    cdef public dict _quotes         # id(instrument) -> QuoteSlot (kept by the engine)
    cpdef on_start(self)
    cpdef on_bbo(self, instrument, book)
    cpdef on_book(self, instrument, book)
    cpdef on_trade(self, instrument, trade)
    cpdef on_order(self, order)
    cpdef on_fill(self, fill)
    cpdef on_timer(self, name, ts)
    cpdef on_book_status(self, instrument, valid)
    cpdef on_event(self, instrument, int kind, int side, int64_t price, int64_t size, int64_t ts)
    cpdef on_stop(self)
