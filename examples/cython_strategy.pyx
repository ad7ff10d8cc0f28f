# cython: language_level=3
"""A ``Strategy`` subclass written in Cython: the engine calls its ``cpdef on_bbo`` through the
C vtable, and it reads the book through the book's C API (``l2_best``, ``l2_depth``) with no
Python object per level.

``ImbalanceQuoter`` quotes one bid and one ask of ``size`` at the touch (one tick inside when
the spread leaves room).  It sums the size of the top ``levels`` levels of each side; when one
side holds ``ratio`` times the other, the price is likely to move toward the thin side, so it
pulls the quote that would be run over (a heavy bid side pulls the ask).  It stops adding to a
side once the position reaches ``max_position``.

Build and run it with the script that sits next to it::

    python examples/build_cython_strategy.py

which compiles this file against the installed hftcore's ``.pxd`` files (the C API of
``hftcore._ext.strategy`` and ``hftcore._ext.book``) into a build directory, imports it and
backtests it over the bundled sample.
"""

from libc.stdint cimport INT64_MAX

from hftcore._ext.book cimport L2Book, l2_best, l2_depth
from hftcore._ext.strategy cimport Strategy
from hftcore._ext.types cimport SIDE_ASK, SIDE_BID, px_t, qty_t

cdef enum:
    MAX_LEVELS = 16


cdef qty_t top_volume(L2Book book, int side, Py_ssize_t levels) noexcept:
    """Total size of the best ``levels`` levels of one side (C arrays on the stack; the sum
    saturates instead of overflowing)."""
    cdef px_t prices[MAX_LEVELS]
    cdef qty_t sizes[MAX_LEVELS]
    cdef Py_ssize_t n = l2_depth(&book.book, side, levels, prices, sizes), i
    cdef qty_t total = 0
    for i in range(n):
        if total > INT64_MAX - sizes[i]:
            return INT64_MAX
        total += sizes[i]
    return total


cdef class ImbalanceQuoter(Strategy):
    """Quote the touch, pulling the side a lopsided book is about to run over.

    Parameters
    ----------
    size : int
        Quote size, raw at the instrument's size decimals.
    max_position : int
        No quote on the side that would take the position past this (raw).
    levels : int
        How many levels of each side the imbalance looks at (1..16).
    ratio : int
        One side's volume must be this many times the other's to pull a quote.
    """

    cdef readonly qty_t size
    cdef readonly qty_t max_position
    cdef readonly Py_ssize_t levels
    cdef readonly qty_t ratio
    cdef public long quotes      # on_bbo calls that sent a quote
    cdef public long pulled      # of those, how many left one side out on the imbalance

    def __init__(self, qty_t size, qty_t max_position, Py_ssize_t levels=5, qty_t ratio=3):
        super().__init__()
        if size <= 0 or max_position < size:
            raise ValueError("size must be > 0 and max_position >= size")
        if not 1 <= levels <= MAX_LEVELS:
            raise ValueError(f"levels must be in 1..{MAX_LEVELS}, got {levels}")
        if ratio < 1:
            raise ValueError("ratio must be >= 1")
        self.size = size
        self.max_position = max_position
        self.levels = levels
        self.ratio = ratio

    cpdef on_bbo(self, instrument, book):
        cdef L2Book b = <L2Book?>book
        cdef px_t bid, ask, tick = instrument.tick
        cdef qty_t bid_size, ask_size, bid_vol, ask_vol, pos
        if not (l2_best(&b.book, SIDE_BID, &bid, &bid_size)
                and l2_best(&b.book, SIDE_ASK, &ask, &ask_size)) or ask <= bid:
            return
        if ask - bid - tick > tick:                   # room inside the spread: step in
            bid += tick
            ask -= tick
        bid_vol = top_volume(b, SIDE_BID, self.levels)
        ask_vol = top_volume(b, SIDE_ASK, self.levels)
        # "a < ratio * b" as "a // ratio < b": the same for sizes >= 0, and no overflow
        cdef bint bids_hold = ask_vol // self.ratio < bid_vol    # asks are not ratio x bids
        cdef bint asks_hold = bid_vol // self.ratio < ask_vol
        pos = self.position(instrument)
        want_bid = bids_hold and pos <= self.max_position - self.size
        want_ask = asks_hold and pos >= self.size - self.max_position
        if not (bids_hold and asks_hold):
            self.pulled += 1
        self.quote(instrument, bid if want_bid else None, ask if want_ask else None, self.size)
        self.quotes += 1
