# Exchange message decoders: websocket frame bytes -> batches of C records (types.pxd).
#
# The engine calls `Decoder.decode_c(data, n, recv_ts)` without the GIL and reads the records
# straight from `deltas / trades / bbos / orders` (counts in `info`).  decode_c returns the message
# kind (K_*, >= 0) or minus an E_* error code; on error every count is 0 (nothing half-filled).
from libc.stdint cimport int64_t, uint32_t, uint8_t
from hftcore._ext.types cimport BookDelta, TradeRecord, BBORecord, OrderUpdate, ts_t

# Message kinds (hftcore.MessageKind mirrors these).
cdef enum:
    K_NONE = 0
    K_BOOK_SNAPSHOT = 1    # deltas: a full book (first record per instrument carries DELTA_CLEAR)
    K_BOOK_UPDATE = 2      # deltas: incremental levels
    K_TRADE = 3            # trades
    K_BBO = 4              # bbos: best bid / offer
    K_ORDER = 5            # orders: private order / execution updates
    K_UNKNOWN_SYMBOL = 6   # data for a symbol not in the table: nothing decoded, counted
    K_HEARTBEAT = 7        # heartbeats, pings, pongs
    K_SUBSCRIBED = 8       # subscription / request acknowledgements
    K_VENUE_ERROR = 9      # an error message sent by the venue
    K_STATUS = 10          # connection / system status
    K_OTHER = 11           # recognised non-hot messages (klines, tickers without a BBO, account...)
    K_COUNT = 12

# Error codes (decode_c returns minus these).
cdef enum:
    E_TRUNCATED = 1        # input ended inside a value
    E_SYNTAX = 2           # not JSON
    E_UTF8 = 3             # invalid UTF-8 in a string
    E_ESCAPE = 4           # bad string escape (or lone surrogate)
    E_DEPTH = 5            # nesting deeper than MAX_DEPTH
    E_TYPE = 6             # a value of the wrong JSON type
    E_MISSING = 7          # a required field is missing
    E_EXTRA = 8            # extra field / array element / duplicate key / trailing data
    E_NUMBER = 9           # a number that is malformed, negative where it cannot be, or overflows
    E_PRECISION = 10       # more decimals than the instrument's price/size decimals
    E_SHAPE = 11           # valid JSON of an unexpected shape (unknown message)
    E_CAPACITY = 12        # record buffer could not grow (out of memory)
    E_TOO_LONG = 13        # an id or symbol longer than its fixed-size field
    E_NEEDS_SYMBOL = 14    # a REST depth snapshot (no symbol inside): use decode_depth_snapshot
    E_COUNT = 15

cdef enum:
    MAX_DEPTH = 64
    SYMBOL_MAX = 47

# MsgInfo.flags
cdef enum:
    INFO_HAS_SEQ = 1        # first_seq / last_seq / prev_seq / cross_seq were sent
    INFO_HAS_CHECKSUM = 2   # checksum was sent
    INFO_REPUBLISH = 4      # a Kraken republish level was in the message

ctypedef struct MsgInfo:
    ts_t exchange_ts        # the message's event time (0 when the venue sends none)
    ts_t local_ts           # recv_ts given to decode
    int64_t first_seq       # Binance U; Coinbase/Bybit/OKX: = last_seq
    int64_t last_seq        # Binance u / lastUpdateId, Bybit u, OKX seqId, Coinbase sequence
    int64_t prev_seq        # OKX prevSeqId, Binance futures pu (-1 when not sent)
    int64_t cross_seq       # Bybit seq (cross sequence)
    int64_t checksum        # Kraken (unsigned 32-bit) / OKX (signed 32-bit) book checksum
    uint32_t instrument_id  # the (first) instrument of the message
    uint32_t flags
    int kind
    int err
    Py_ssize_t err_offset
    Py_ssize_t n_deltas
    Py_ssize_t n_trades
    Py_ssize_t n_bbos
    Py_ssize_t n_orders
    int symbol_len
    char symbol[48]         # the message's symbol text (also set for K_UNKNOWN_SYMBOL)
    const char* what        # the venue message kind recognised so far (for errors)

ctypedef struct SymEntry:
    char name[48]
    int length
    int used
    uint32_t instrument_id
    int price_decimals
    int size_decimals

ctypedef struct Scan:
    const char* base
    const char* p
    const char* end
    const char* err_at
    int err


ctypedef struct DecState:
    BookDelta* deltas
    TradeRecord* trades
    BBORecord* bbos
    OrderUpdate* orders
    Py_ssize_t cap_deltas
    Py_ssize_t cap_trades
    Py_ssize_t cap_bbos
    Py_ssize_t cap_orders
    MsgInfo info
    SymEntry* syms
    Py_ssize_t sym_cap
    Py_ssize_t sym_count
    int exports             # numpy views alive: old buffers are retired, not freed, while > 0
    int n_retired
    void* retired[32]       # buffers replaced while views were alive; freed when exports is 0
    int strict              # unknown object keys are errors (E_EXTRA) instead of skipped
    int fee_decimals
    int64_t counts[12]      # messages per kind
    int64_t n_errors
    int64_t n_messages


cdef class Decoder:
    cdef DecState st
    cdef readonly str venue
    cdef int decode_c(self, const char* data, Py_ssize_t n, ts_t recv_ts) noexcept nogil
    cdef int _decode(self, DecState* st, Scan* sc) noexcept nogil


cdef class BinanceDecoder(Decoder):
    cdef int decode_depth_snapshot_c(self, const char* data, Py_ssize_t n, ts_t recv_ts,
                                     const char* symbol, Py_ssize_t symbol_len) noexcept nogil

cdef class BybitDecoder(Decoder):
    pass

cdef class OkxDecoder(Decoder):
    pass

cdef class KrakenDecoder(Decoder):
    pass

cdef class CoinbaseDecoder(Decoder):
    pass
