# What the decoders produce and keep: message kinds, error codes, the per-message header
# (MsgInfo) with its per-instrument book spans, the symbol table and the record batches
# (DecState).  The record structs and their flags live in types.pxd; the Decoder class that
# owns a DecState, and the venue decoders, in decode.pyx / decode.pxd.
#
# Every function here is `noexcept nogil`; functions that can fail return a negative value or
# NULL and never raise.
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t
from libc.string cimport memcmp, memset
from cpython.mem cimport PyMem_RawFree
from hftcore._ext.types cimport BookDelta, TradeRecord, BBORecord, OrderUpdate, ts_t
from hftcore._ext cimport types as T

# Message kinds: what decode_c found (hftcore.MessageKind mirrors these).
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

# Error codes: decode_c returns minus these (hftcore.DecodeError.code; ERROR_NAMES[code]).
cdef enum:
    E_OK = 0
    E_TRUNCATED = 1        # input ended inside a value
    E_SYNTAX = 2           # not JSON
    E_UTF8 = 3             # invalid UTF-8 in a string
    E_ESCAPE = 4           # bad string escape (or lone surrogate)
    E_DEPTH = 5            # nesting deeper than MAX_DEPTH
    E_TYPE = 6             # a value of the wrong JSON type (null where text belongs, ...)
    E_MISSING = 7          # a required field is missing
    E_EXTRA = 8            # extra field / array element / duplicate key / trailing data
    E_NUMBER = 9           # a number that is malformed, negative where it cannot be, or overflows
    E_PRECISION = 10       # more decimals than the instrument's price/size decimals
    E_SHAPE = 11           # valid JSON of an unexpected shape (unknown message)
    E_CAPACITY = 12        # record buffer could not grow (out of memory)
    E_TOO_LONG = 13        # an id or symbol longer than its fixed-size field
    E_NEEDS_SYMBOL = 14    # a REST depth snapshot (no symbol inside): use decode_snapshot
    E_TIME = 15            # an impossible date or time, or one outside 1970..2262 (int64 ns)
    E_COMPRESSED = 16      # a compressed frame (HTX gzip) that does not inflate
    E_COUNT = 17

cdef enum:
    MAX_DEPTH = 64         # JSON nesting limit
    SYMBOL_MAX = 47        # symbol text bytes (SymbolEntry.name and MsgInfo.symbol hold 48)
    RETIRED_MAX = 32       # old record buffers kept alive for numpy views

cdef extern from *:
    """
    #define HFT_NO_INSTRUMENT 0xFFFFFFFFu
    """
    # OrderUpdate.instrument_id when the venue's message names no instrument (a Kraken Futures
    # cancel notice carries only the order id): find the order by its venue order id
    const uint32_t NO_INSTRUMENT "HFT_NO_INSTRUMENT"

# MsgInfo.flags and BookSpan.flags
cdef enum:
    INFO_HAS_SEQ = 1        # first_seq / last_seq / prev_seq / cross_seq were sent
    INFO_HAS_CHECKSUM = 2   # checksum was sent
    INFO_REPUBLISH = 4      # a Kraken republish level was in the message
    INFO_SNAPSHOT = 8       # (span) the instrument's records are a snapshot
    INFO_UNKNOWN_SYMBOL = 16  # a symbol of the message is not in the table (MsgInfo.symbol)
    INFO_HAS_INSTRUMENT = 32  # MsgInfo.instrument_id is set
    INFO_PING = 64          # the venue asked for an answer: MsgInfo.ping is the number to echo
    INFO_PING_V2 = 128      # (HTX) the ping came in the v2 account form
    INFO_NEW_CONNECTION = 256  # the venue's first message of a connection (Bitfinex "info"
                               # with a version): its sequence restarts, its channel ids are new


ctypedef struct Scan:
    # the decode cursor: error codes and offsets refer to it (jsonscan.pxd works on it)
    const char* base        # start of the message
    const char* p           # next byte to read
    const char* end         # one past the last byte
    const char* err_at      # where the first error was found
    int err                 # first E_* code, 0 while none


ctypedef struct BookSpan:   # 72 bytes; numpy mirror BOOK_SPAN_DTYPE
    # One instrument's part of a book message: deltas[first_delta : first_delta + n_deltas]
    # with that instrument's sequence numbers and checksum.
    ts_t exchange_ts
    int64_t first_seq       # Binance U; others: = last_seq
    int64_t last_seq        # Binance u / lastUpdateId, Bybit u, OKX seqId, Coinbase sequence
    int64_t prev_seq        # OKX prevSeqId, Binance futures pu (-1 when not sent)
    int64_t cross_seq       # Bybit seq (cross sequence)
    int64_t checksum        # Kraken (unsigned 32-bit) / OKX (signed 32-bit) book checksum
    int64_t first_delta
    int64_t n_deltas
    uint32_t instrument_id
    uint32_t flags          # INFO_HAS_SEQ, INFO_HAS_CHECKSUM, INFO_SNAPSHOT


ctypedef struct MsgInfo:
    ts_t exchange_ts        # the message's event time (0 when the venue sends none)
    ts_t local_ts           # recv_ts given to decode
    int64_t first_seq       # book messages: the first span's; trades / BBOs: the message's
    int64_t last_seq
    int64_t prev_seq        # -1 when not sent
    int64_t cross_seq
    int64_t checksum
    int64_t ping            # INFO_PING: the number the answer must echo (HTX {"ping": n})
    uint32_t instrument_id  # the (first) instrument of the message
    uint32_t flags          # INFO_*
    int kind                # K_*
    int err                 # E_* after a failed decode
    Py_ssize_t err_offset
    Py_ssize_t n_deltas
    Py_ssize_t n_trades
    Py_ssize_t n_bbos
    Py_ssize_t n_orders
    Py_ssize_t n_spans      # book messages: one BookSpan per instrument, in message order
    int symbol_len
    char symbol[48]         # the message's (first) symbol text (also set for K_UNKNOWN_SYMBOL)
    const char* what        # the venue message kind recognised so far (for errors)
    int n_rounded           # sizes rounded in this message (DecState.size_rounding)


ctypedef struct SymbolEntry:
    char name[48]
    int length
    int used
    uint32_t instrument_id
    int price_decimals
    int size_decimals


ctypedef struct SymbolTable:
    # open addressing, linear probing, capacity a power of two kept at least twice the count
    SymbolEntry* entries
    Py_ssize_t capacity
    Py_ssize_t count


ctypedef struct DecState:
    BookDelta* deltas
    TradeRecord* trades
    BBORecord* bbos
    OrderUpdate* orders
    BookSpan* spans
    Py_ssize_t cap_deltas
    Py_ssize_t cap_trades
    Py_ssize_t cap_bbos
    Py_ssize_t cap_orders
    Py_ssize_t cap_spans
    MsgInfo info
    SymbolTable symbols
    int exports             # numpy views alive: old buffers are retired, not freed, while > 0
    int n_retired
    void* retired[32]       # RETIRED_MAX buffers replaced while views were alive
    int busy                # decode_loop is running without the GIL: mutators refuse
    int strict              # unknown object keys are errors (E_EXTRA) instead of skipped
    int fee_decimals
    int64_t counts[12]      # messages per kind (K_COUNT)
    int64_t n_errors
    int64_t n_messages
    int size_rounding       # RND_EXACT, or how a venue that prints binary floats has its sizes
                            # rounded to the instrument's decimals (HTX: RND_HALF_EVEN)
    int64_t n_rounded       # sizes rounded, in messages decoded


# Defined in records.pyx:
# grow one record buffer (doubling); -1 when it cannot (out of memory, or RETIRED_MAX old
# buffers still held by numpy views)
cdef int batch_grow(DecState* d, void** buf, Py_ssize_t* cap, size_t item) noexcept nogil
# add symbol text -> instrument: SYMBOL_ADDED, SYMBOL_SAME (already mapped identically),
# SYMBOL_CONFLICT (mapped to something else: unchanged) or -1 (out of memory)
cdef int symbol_table_add(SymbolTable* t, const char* name, Py_ssize_t n, uint32_t instrument_id,
                          int price_decimals, int size_decimals) noexcept nogil

cdef enum:
    SYMBOL_ADDED = 0
    SYMBOL_SAME = 1
    SYMBOL_CONFLICT = 2


cdef inline void free_retired(DecState* d) noexcept nogil:
    """Free the buffers kept for numpy views once no view is left (never while busy: the
    GIL-free loop must not find its buffers changing)."""
    if d.exports == 0 and not d.busy:
        while d.n_retired > 0:
            d.n_retired -= 1
            PyMem_RawFree(d.retired[d.n_retired])


cdef inline uint64_t symbol_hash(const char* s, Py_ssize_t n) noexcept nogil:
    # FNV-1a
    cdef uint64_t h = 1469598103934665603ULL
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ <unsigned char>s[i]) * 1099511628211ULL
    return h


cdef inline SymbolEntry* symbol_find(const SymbolTable* t, const char* s,
                                     Py_ssize_t n) noexcept nogil:
    """The entry for symbol text s[0:n], or NULL (unknown, or s is NULL)."""
    cdef uint64_t mask, i
    cdef SymbolEntry* e
    if t.capacity == 0 or s == NULL or n <= 0 or n > SYMBOL_MAX:
        return NULL
    mask = <uint64_t>t.capacity - 1
    i = symbol_hash(s, n) & mask
    while True:
        e = &t.entries[i]
        if not e.used:
            return NULL
        if e.length == n and memcmp(e.name, s, <size_t>n) == 0:
            return e
        i = (i + 1) & mask


# -- record push: the next record of a batch, with its defaults set (NULL: out of memory) ----

cdef inline BookDelta* push_delta(DecState* d) noexcept nogil:
    cdef BookDelta* r
    if d.info.n_deltas == d.cap_deltas:
        if batch_grow(d, <void**>&d.deltas, &d.cap_deltas, sizeof(BookDelta)) < 0:
            return NULL
    r = &d.deltas[d.info.n_deltas]
    d.info.n_deltas += 1
    r.local_ts = d.info.local_ts
    r.exchange_ts = 0
    r.sequence = 0
    r.flags = 0
    r._pad = 0
    return r


cdef inline TradeRecord* push_trade(DecState* d) noexcept nogil:
    cdef TradeRecord* r
    if d.info.n_trades == d.cap_trades:
        if batch_grow(d, <void**>&d.trades, &d.cap_trades, sizeof(TradeRecord)) < 0:
            return NULL
    r = &d.trades[d.info.n_trades]
    d.info.n_trades += 1
    memset(r, 0, sizeof(TradeRecord))
    r.local_ts = d.info.local_ts
    r.trade_id = -1
    r.side = T.SIDE_NONE
    return r


cdef inline BBORecord* push_bbo(DecState* d) noexcept nogil:
    cdef BBORecord* r
    if d.info.n_bbos == d.cap_bbos:
        if batch_grow(d, <void**>&d.bbos, &d.cap_bbos, sizeof(BBORecord)) < 0:
            return NULL
    r = &d.bbos[d.info.n_bbos]
    d.info.n_bbos += 1
    memset(r, 0, sizeof(BBORecord))
    r.local_ts = d.info.local_ts
    return r


cdef inline OrderUpdate* push_order(DecState* d) noexcept nogil:
    cdef OrderUpdate* r
    if d.info.n_orders == d.cap_orders:
        if batch_grow(d, <void**>&d.orders, &d.cap_orders, sizeof(OrderUpdate)) < 0:
            return NULL
    r = &d.orders[d.info.n_orders]
    d.info.n_orders += 1
    memset(r, 0, sizeof(OrderUpdate))
    r.local_ts = d.info.local_ts
    r.venue_order_id = -1
    r.trade_id = -1
    r.status = T.ORDER_STATUS_UNKNOWN
    r.order_type = T.ORDER_TYPE_UNKNOWN
    r.side = T.SIDE_NONE
    return r


cdef inline BookSpan* push_span(DecState* d) noexcept nogil:
    cdef BookSpan* r
    if d.info.n_spans == d.cap_spans:
        if batch_grow(d, <void**>&d.spans, &d.cap_spans, sizeof(BookSpan)) < 0:
            return NULL
    r = &d.spans[d.info.n_spans]
    d.info.n_spans += 1
    memset(r, 0, sizeof(BookSpan))
    r.prev_seq = -1
    return r


cdef inline void clear_batches(DecState* d) noexcept nogil:
    """Nothing half-filled is ever presented: every count back to 0."""
    d.info.n_deltas = 0
    d.info.n_trades = 0
    d.info.n_bbos = 0
    d.info.n_orders = 0
    d.info.n_spans = 0
