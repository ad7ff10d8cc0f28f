# The engine's event record: one market-data fact (a book level, a trade, a book status or a
# checksum to verify) for one instrument, stamped with the venue's and our receive time.
# Recordings decode into these (hftcore._ext.feed), event files store them (hftcore.data), the
# engine (hftcore._ext.engine) consumes them.  48 bytes, 8-byte aligned; numpy mirror EVENT_DTYPE.
from libc.stdint cimport int64_t, uint32_t, uint8_t, uint16_t
from hftcore._ext.types cimport px_t, qty_t, ts_t

# Event.kind
cdef enum:
    EV_DELTA = 1        # L2 level: side, price, size (0 deletes); flags DELTA_* (types.pxd)
    EV_TRADE = 2        # public trade: aggressor side (SIDE_NONE unknown), price, size, trade id
    EV_STATUS = 3       # book status: size 1 = valid (synced), 0 = invalid (gap / resyncing)
    EV_CHECKSUM = 4     # verify the book: ref = the venue's checksum, side = CHECKSUM_* algorithm
    EV_KIND_MAX = 4

# EV_CHECKSUM algorithms (Event.side)
cdef enum:
    CHECKSUM_KRAKEN = 0
    CHECKSUM_OKX = 1
    CHECKSUM_BITFINEX = 2   # its own message ("cs"): the event ends that message (EVENT_LAST)

# Event.flags: the DELTA_* flags of types.pxd (SNAPSHOT 1, CLEAR 2, LAST 4, CLEAR_SIDE 8,
# REPUBLISH 16) for every kind: EVENT_LAST marks the last event of one venue message, after
# which the engine tells strategies what changed.
cdef enum:
    EVENT_LAST = 4

ctypedef struct Event:
    ts_t local_ts       # when we received it (the engine's clock in backtests)
    ts_t exchange_ts    # the venue's event time (0 when it sends none)
    px_t price
    qty_t size
    int64_t ref         # trade id / sequence / expected checksum, by kind
    uint32_t instrument # engine instrument index
    uint8_t kind
    uint8_t side
    uint8_t flags
    uint8_t venue_flags
