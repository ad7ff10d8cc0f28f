# Shared C types of the compiled core.  Every record struct here has a numpy structured dtype
# mirror in hftcore._ext.records (BOOK_DELTA_DTYPE, TRADE_DTYPE, BBO_DTYPE, ORDER_UPDATE_DTYPE), so
# batches are viewable without copying.  The flag and code enums below are the one definition of
# each value: records.pyx exposes them to Python (hftcore.DeltaFlag, ...), nothing re-types them.
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

# BookDelta.flags (continued)
cdef enum:
    DELTA_REPUBLISH = 16   # Kraken v1 "r": a level re-sent after a deeper level fell out of depth

# TradeRecord.flags
cdef enum:
    TRADE_ID_TEXT = 1      # the venue's trade id is not numeric (e.g. a UUID): trade_id is -1
    TRADE_SNAPSHOT = 2     # history sent on subscription (Bitfinex, Kraken Futures): not a new trade

# BBORecord.flags
cdef enum:
    BBO_NO_SIZE = 1        # the venue did not send the sizes (Coinbase Exchange ticker): sizes are 0
    BBO_NO_BID = 2         # empty bid side
    BBO_NO_ASK = 4         # empty ask side

# OrderUpdate.flags
cdef enum:
    ORDER_IS_FILL = 1      # this update reports a fill (last_fill_price / last_fill_size / trade_id)
    ORDER_IS_MAKER = 2     # that fill was as maker
    ORDER_HAS_FEE = 4      # fee / fee_asset are set
    ORDER_TRADE_ID_TEXT = 8  # the fill's trade id is not numeric: see trade_id_text

# OrderUpdate.status: the codes of hftcore.OrderStatus (tests hold the two equal)
cdef enum:
    ORDER_STATUS_NEW = 0
    ORDER_STATUS_PENDING_NEW = 1
    ORDER_STATUS_ACCEPTED = 2
    ORDER_STATUS_PARTIALLY_FILLED = 3
    ORDER_STATUS_FILLED = 4
    ORDER_STATUS_PENDING_CANCEL = 5
    ORDER_STATUS_PENDING_REPLACE = 6
    ORDER_STATUS_CANCELED = 7
    ORDER_STATUS_REJECTED = 8
    ORDER_STATUS_EXPIRED = 9
    ORDER_STATUS_UNKNOWN = 10      # a state word the decoder does not know: never guessed

# OrderUpdate.order_type: the codes of hftcore.OrderType (tests hold the two equal)
cdef enum:
    ORDER_TYPE_LIMIT = 0
    ORDER_TYPE_MARKET = 1
    ORDER_TYPE_STOP_MARKET = 2
    ORDER_TYPE_STOP_LIMIT = 3
    ORDER_TYPE_LIMIT_MAKER = 4
    ORDER_TYPE_UNKNOWN = 255       # a type word the decoder does not know

# Order ids are kept as NUL-padded text; numeric venue ids are also given as int64.
cdef enum:
    ORDER_ID_LEN = 48
    ASSET_LEN = 16

ctypedef struct OrderUpdate:       # 264 bytes: a private order / execution report
    ts_t exchange_ts               # event time at the venue
    ts_t local_ts
    ts_t transact_ts               # venue's transaction (fill / update) time, 0 when not sent
    int64_t venue_order_id         # numeric venue order id, -1 when the id is not numeric
    int64_t trade_id               # last fill's trade id, -1 when none or not numeric
    px_t price                     # order limit price, 0 when none (market)
    qty_t size                     # order quantity, 0 when not sent
    qty_t filled_size              # cumulative filled quantity
    px_t avg_price                 # average fill price, 0 when not sent
    px_t last_fill_price
    qty_t last_fill_size
    int64_t fee                    # fee paid at the decoder's fee_decimals (negative: rebate)
    uint32_t instrument_id
    uint8_t side                   # SIDE_BID (buy) / SIDE_ASK (sell)
    uint8_t status                 # ORDER_STATUS_* (UNKNOWN when the venue's text is new)
    uint8_t order_type             # ORDER_TYPE_* (ORDER_TYPE_UNKNOWN when unknown)
    uint8_t flags
    char client_order_id[48]       # ORDER_ID_LEN
    char venue_order_id_text[48]   # ORDER_ID_LEN
    char trade_id_text[48]         # ORDER_ID_LEN
    char fee_asset[16]             # ASSET_LEN
