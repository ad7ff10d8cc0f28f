# Exchange message decoders: the C-level API the engine (or a picows listener) uses.  Everything
# it needs is cimportable from here (defined in records.pxd / types.pxd):
#
#     from hftcore._ext.decode cimport Decoder, BookSpan, K_BOOK_UPDATE
#     cdef Decoder dec = ...                          # any venue decoder
#     cdef int kind = dec.decode_c(data, n, recv_ts)  # noexcept nogil; < 0: -E_* code
#     dec.st.deltas[0 : dec.st.info.n_deltas]         # BookDelta (types.pxd)
#     dec.st.trades[0 : dec.st.info.n_trades]         # TradeRecord
#     dec.st.bbos[0 : dec.st.info.n_bbos]             # BBORecord
#     dec.st.orders[0 : dec.st.info.n_orders]         # OrderUpdate
#     dec.st.spans[0 : dec.st.info.n_spans]           # BookSpan: one per instrument of a book
#                                                     # message: its slice of deltas, sequence
#                                                     # numbers and checksum
#     dec.st.info                                     # MsgInfo: kind, header, err, err_offset
#
# decode_c returns the message kind (K_*, >= 0) or minus an E_* code; on error every count is 0.
# The records and codes are defined in records.pxd / types.pxd.
from libc.stdint cimport int64_t
from hftcore._ext.types cimport ts_t, BookDelta, TradeRecord, BBORecord, OrderUpdate
from hftcore._ext.records cimport (
    DecState, MsgInfo, BookSpan, Scan, SymbolEntry, SymbolTable,
    K_NONE, K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_ORDER, K_UNKNOWN_SYMBOL,
    K_HEARTBEAT, K_SUBSCRIBED, K_VENUE_ERROR, K_STATUS, K_OTHER, K_COUNT,
    E_OK, E_TRUNCATED, E_SYNTAX, E_UTF8, E_ESCAPE, E_DEPTH, E_TYPE, E_MISSING, E_EXTRA,
    E_NUMBER, E_PRECISION, E_SHAPE, E_CAPACITY, E_TOO_LONG, E_NEEDS_SYMBOL, E_TIME, E_COMPRESSED,
    E_COUNT,
    INFO_HAS_SEQ, INFO_HAS_CHECKSUM, INFO_REPUBLISH, INFO_SNAPSHOT, INFO_UNKNOWN_SYMBOL,
    INFO_HAS_INSTRUMENT, INFO_PING, INFO_PING_V2, INFO_NEW_CONNECTION,
)


cdef class Decoder:
    cdef DecState st
    cdef readonly str venue
    # decode one message: the kind (K_*, >= 0) or minus an E_* code; on error every count is 0
    cdef int decode_c(self, const char* data, Py_ssize_t n, ts_t recv_ts) noexcept nogil
    # decode a REST book snapshot that does not name its symbol (Binance GET /api/v3/depth)
    cdef int decode_snapshot_c(self, const char* data, Py_ssize_t n, ts_t recv_ts,
                               const char* symbol, Py_ssize_t symbol_len) noexcept nogil
    # what a venue implements: the message's kind, or -1 with the error in the Scan
    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil
    cdef int _decode_snapshot(self, DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil
    cdef int _guard(self) except -1


cdef class BinanceDecoder(Decoder):
    # the REST depth snapshot for `symbol` (the same as decode_snapshot_c)
    cdef int decode_depth_snapshot_c(self, const char* data, Py_ssize_t n, ts_t recv_ts,
                                     const char* symbol, Py_ssize_t symbol_len) noexcept nogil

cdef class BinanceFuturesDecoder(BinanceDecoder):
    pass

cdef class BybitDecoder(Decoder):
    pass

cdef class OkxDecoder(Decoder):
    pass

cdef class KrakenDecoder(Decoder):
    pass

cdef class CoinbaseDecoder(Decoder):
    pass

cdef class KucoinDecoder(Decoder):
    pass

cdef class DeribitDecoder(Decoder):
    pass

cdef class KrakenFuturesDecoder(Decoder):
    pass

cdef enum:
    BFX_CHANNELS_MAX = 256      # Bitfinex channels one decoder remembers (a connection has <= 30)

ctypedef struct BfxChannel:
    int64_t id
    int kind
    int sym_len
    char sym[48]

ctypedef struct BfxChannels:
    int count
    BfxChannel items[256]       # BFX_CHANNELS_MAX

cdef class BitfinexDecoder(Decoder):
    cdef BfxChannels chans

cdef class HtxDecoder(Decoder):
    # gzip frames are inflated into ztext (grown as needed, up to 16 MiB); zs: the z_stream
    cdef void* zs
    cdef char* ztext
    cdef Py_ssize_t zcap
    cdef int _inflate(self, Scan* sc) noexcept nogil
