# Shared C types of the compiled core.  Every record struct here has a numpy structured dtype
# mirror (hftcore._ext.records / the module that owns it) so batches are viewable without copying.
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t, uint16_t, uint8_t

ctypedef int64_t px_t      # price: count of 10**-price_decimals
ctypedef int64_t qty_t     # size: count of 10**-size_decimals
ctypedef int64_t ts_t      # nanoseconds since the Unix epoch

# Sides: the same codes as hftcore.Side (BUY == bid == 0, SELL == ask == 1).
cdef enum:
    SIDE_BID = 0
    SIDE_ASK = 1
    SIDE_NONE = 2          # e.g. a trade whose aggressor the venue does not tell

# BookDelta.flags
cdef enum:
    DELTA_SNAPSHOT = 1     # part of a snapshot
    DELTA_CLEAR = 2        # clear the book (both sides) before applying this record
    DELTA_LAST = 4         # last record of the venue message
    DELTA_CLEAR_SIDE = 8   # clear this record's side before applying it

ctypedef struct BookDelta:         # 48 bytes
    ts_t exchange_ts
    ts_t local_ts
    int64_t sequence
    px_t price
    qty_t size                     # 0 deletes the level
    uint32_t instrument_id
    uint8_t side
    uint8_t flags
    uint16_t _pad

ctypedef struct TradeRecord:       # 48 bytes
    ts_t exchange_ts
    ts_t local_ts
    int64_t trade_id
    px_t price
    qty_t size
    uint32_t instrument_id
    uint8_t side                   # aggressor side, SIDE_NONE when unknown
    uint8_t flags
    uint16_t _pad

ctypedef struct BBORecord:         # 64 bytes
    ts_t exchange_ts
    ts_t local_ts
    int64_t sequence
    px_t bid_price
    qty_t bid_size
    px_t ask_price
    qty_t ask_size
    uint32_t instrument_id
    uint32_t flags
