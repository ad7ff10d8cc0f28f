# Market-data feed: venue messages -> engine events, with each venue's documented book sync.
from libc.stdint cimport int64_t, uint32_t, uint8_t
from hftcore._ext.types cimport ts_t, BBORecord
from hftcore._ext.events cimport Event
from hftcore._ext.decode cimport Decoder, BookSpan

# Sync rules (Feed.rule)
cdef enum:
    SYNC_SNAPSHOT = 0        # a snapshot message makes the book valid; updates apply in order
    SYNC_BINANCE = 1         # REST snapshot + buffered diffs, U/u chain (spot)
    SYNC_BINANCE_FUTURES = 2 # REST snapshot + buffered diffs, pu == previous u
    SYNC_BYBIT = 3           # snapshot resets; u == previous u + 1
    SYNC_OKX = 4             # snapshot; prevSeqId == previous seqId; CRC32 when sent
    SYNC_KRAKEN = 5          # snapshot; CRC32 after every update
    SYNC_KUCOIN = 6          # REST snapshot (sequence) + buffered diffs, sequenceStart/End chain
    SYNC_DERIBIT = 7         # snapshot; prev_change_id == previous change_id
    SYNC_KRAKEN_FUTURES = 8  # snapshot; seq == previous seq + 1
    SYNC_HTX = 9             # depth.stepN: every message a snapshot; mbp: prevSeqNum == seqNum
    SYNC_BITFINEX = 10       # snapshot; one sequence per connection (conf flag 65536): a gap
                             # resyncs every book of the connection; "cs" (conf flag 131072):
                             # CRC32 of a synced book, checked by the engine

# InstSync.state
cdef enum:
    BOOK_NO_DATA = 0         # nothing seen yet
    BOOK_WAITING = 1         # waiting for a snapshot (diffs are buffered where the venue says so)
    BOOK_SYNCED = 2          # valid
    BOOK_BBO_ONLY = 3        # the book is built from top-of-book messages (no depth stream)

ctypedef struct InstSync:
    int state
    int64_t last_seq         # last applied sequence (-1 none)
    int64_t snapshot_seq     # Binance lastUpdateId of the snapshot being bridged (-1 none)
    int bridged              # Binance: the first diff after the snapshot was applied
    int seen_depth
    int64_t gaps
    int64_t resyncs


cdef class Feed:
    cdef Decoder dec
    cdef readonly str venue
    cdef readonly int rule
    cdef InstSync* sync
    cdef Py_ssize_t n_inst
    cdef Event* events
    cdef Py_ssize_t count
    cdef Py_ssize_t cap_events
    cdef int checksum_algo   # -1 none
    cdef list _pending       # per instrument: buffered (data, recv_ts) diffs, or None
    cdef readonly Py_ssize_t max_buffered
    cdef readonly int64_t messages
    cdef readonly int64_t decode_errors
    cdef readonly int64_t unknown_symbols
    cdef readonly int64_t dropped_buffered
    cdef readonly int64_t stale_dropped
    cdef readonly list errors
    cdef readonly bint strict
    cdef readonly int64_t lines
    cdef readonly ts_t last_ts
    cdef readonly list sent         # the lines we sent (subscriptions): depth hints live there
    cdef readonly int64_t conn_seq  # Bitfinex: the connection's last sequence number (-1 none)
    cdef readonly int64_t conn_gaps # Bitfinex: gaps in the connection's sequence
    cdef int _reserve(self, Py_ssize_t extra) except -1
    cdef int _feed_c(self, const char* data, Py_ssize_t n, ts_t recv_ts, int replay) except -2
    cdef int _emit(self, ts_t recv_ts, int replay) except -1
    cdef void _status(self, uint32_t inst, int valid, ts_t ts, ts_t exch_ts) noexcept
    cdef _bad(self, int kind, object data)
    cdef _buffer(self, const char* data, Py_ssize_t n, ts_t recv_ts)
    cdef void _bbo_side(self, BBORecord* b, int side, ts_t recv_ts) noexcept
    cdef _bridge(self, uint32_t inst, ts_t recv_ts)
    cdef int _book_span(self, BookSpan* sp, int kind, ts_t recv_ts, int replay) except -1
    cdef int _connection_gap(self, ts_t recv_ts) except -1
    cdef int _connection_reset(self, ts_t recv_ts, bint gap) except -1
    cdef int _bitfinex_checksum(self, ts_t recv_ts) except -1
    cdef bint _rest_rule(self) noexcept
