# cython: language_level=3
"""A Cython strategy called on every event through the C vtable (benchmark peer of a Python
strategy): counts events and keeps the last traded price."""
from libc.stdint cimport int64_t
from hftcore._ext.strategy cimport Strategy


cdef class EveryEvent(Strategy):
    cdef public int64_t events
    cdef public int64_t last_trade

    cpdef on_event(self, instrument, int kind, int side, int64_t price, int64_t size,
                   int64_t ts):
        self.events += 1
        if kind == 2:
            self.last_trade = price
