# cython: freethreading_compatible = False
"""Market-data feed: venue messages -> engine events (``EVENT_DTYPE``) with the book sync each
venue documents.

A :class:`Feed` owns one venue decoder.  ``feed(frame, recv_ts)`` decodes one message and
appends its events; sequence chains are checked here (no book needed), checksums are verified by
the engine against its book (an ``EV_CHECKSUM`` event follows the message's levels).  A gap makes
the instrument's book invalid (an ``EV_STATUS`` event with size 0) until the venue's procedure
makes it valid again (an ``EV_STATUS`` event with size 1): the next snapshot, or for Binance and
KuCoin the next REST snapshot bridged to the buffered diffs.  Bitfinex numbers the messages of a
connection (conf flag 65536), not of a book: a gap there cannot be pinned on one symbol, so every
book of the connection waits for a new snapshot.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from libc.string cimport memset, memcpy, memchr
from libc.stdint cimport int64_t, uint32_t, uint8_t, INT64_MAX

import re

import numpy as np

from hftcore._ext.types cimport (
    BookDelta, TradeRecord, BBORecord, ts_t, SIDE_BID, SIDE_ASK, DELTA_CLEAR, DELTA_CLEAR_SIDE,
    DELTA_SNAPSHOT, DELTA_REPUBLISH, BBO_NO_SIZE, BBO_NO_BID, BBO_NO_ASK, TRADE_SNAPSHOT,
)
from hftcore._ext.events cimport (
    Event, EV_DELTA, EV_TRADE, EV_STATUS, EV_CHECKSUM, EVENT_LAST, CHECKSUM_KRAKEN, CHECKSUM_OKX,
    CHECKSUM_BITFINEX,
)
from hftcore._ext.decode cimport (
    Decoder, MsgInfo, BookSpan, K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_STATUS,
    K_UNKNOWN_SYMBOL, INFO_HAS_SEQ, INFO_HAS_CHECKSUM, INFO_SNAPSHOT, INFO_HAS_INSTRUMENT,
    INFO_NEW_CONNECTION,
)

__all__ = ["EVENT_DTYPE", "EV_DELTA", "EV_TRADE", "EV_STATUS", "EV_CHECKSUM", "EVENT_LAST",
           "Feed", "SYNC_RULES", "STATE_NAMES"]

globals().update(EV_DELTA=EV_DELTA, EV_TRADE=EV_TRADE, EV_STATUS=EV_STATUS,
                 EV_CHECKSUM=EV_CHECKSUM, EVENT_LAST=EVENT_LAST,
                 CHECKSUM_KRAKEN=CHECKSUM_KRAKEN, CHECKSUM_OKX=CHECKSUM_OKX,
                 CHECKSUM_BITFINEX=CHECKSUM_BITFINEX)

EVENT_DTYPE = np.dtype({
    "names": ["local_ts", "exchange_ts", "price", "size", "ref", "instrument", "kind", "side",
              "flags", "venue_flags"],
    "formats": ["<i8", "<i8", "<i8", "<i8", "<i8", "<u4", "u1", "u1", "u1", "u1"],
    "offsets": [0, 8, 16, 24, 32, 40, 44, 45, 46, 47],
    "itemsize": 48,
}, align=True)
assert EVENT_DTYPE.itemsize == sizeof(Event)

#: venue name -> sync rule code
SYNC_RULES = {
    "binance": SYNC_BINANCE,
    "binance_futures": SYNC_BINANCE_FUTURES,
    "bybit": SYNC_BYBIT,
    "okx": SYNC_OKX,
    "kraken": SYNC_KRAKEN,
    "coinbase": SYNC_SNAPSHOT,
    "kucoin": SYNC_KUCOIN,
    "deribit": SYNC_DERIBIT,
    "kraken_futures": SYNC_KRAKEN_FUTURES,
    "htx": SYNC_HTX,
    "bitfinex": SYNC_BITFINEX,
}
STATE_NAMES = ("no_data", "waiting", "synced", "bbo_only")
_SYMBOL_IN_URL = re.compile(r"[?&]symbol=([^&]+)")


cdef bytes bytes_literal(const char* p, Py_ssize_t n, Py_ssize_t line):
    """A frame written as a Python bytes literal (``b'\\x1f\\x8b...'``: the HTX recordings of
    gzip frames) -> its bytes.  Only what ``repr(bytes)`` writes is accepted: printable ASCII,
    ``\\\\``, ``\\'``, ``\\"``, ``\\t``, ``\\n``, ``\\r`` and ``\\xHH``."""
    cdef bytearray out = bytearray()
    cdef Py_ssize_t i = 2
    cdef char q, c
    cdef int hi, lo
    if n < 3 or p[0] != 98 or (p[1] != 39 and p[1] != 34) or p[n - 1] != p[1]:
        raise ValueError(f"line {line}: not a bytes literal")
    q = p[1]
    while i < n - 1:
        c = p[i]
        if c == 92:
            if i + 1 >= n - 1:
                raise ValueError(f"line {line}: bad escape in a bytes literal")
            c = p[i + 1]
            if c == 120:
                if i + 3 > n - 2:
                    raise ValueError(f"line {line}: bad escape in a bytes literal")
                hi = _hex_value(p[i + 2])
                lo = _hex_value(p[i + 3])
                if hi < 0 or lo < 0:
                    raise ValueError(f"line {line}: bad escape in a bytes literal")
                out.append(hi * 16 + lo)
                i += 4
                continue
            if c == 92 or c == 39 or c == 34:
                out.append(c)
            elif c == 116:
                out.append(9)
            elif c == 110:
                out.append(10)
            elif c == 114:
                out.append(13)
            else:
                raise ValueError(f"line {line}: bad escape in a bytes literal")
            i += 2
            continue
        if c < 32 or c > 126 or c == q:
            raise ValueError(f"line {line}: bad character in a bytes literal")
        out.append(c)
        i += 1
    return bytes(out)


cdef inline int _hex_value(char c) noexcept:
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef Py_ssize_t parse_seconds(const char* p, Py_ssize_t n, ts_t* out) noexcept nogil:
    """``<digits>[.<digits>]`` seconds -> ns; returns the length used, -1 when malformed."""
    cdef Py_ssize_t i = 0, frac = 0
    cdef int64_t whole = 0, ns = 0
    while i < n and 48 <= p[i] <= 57:
        if whole > 9000000000LL:
            return -1
        whole = whole * 10 + (p[i] - 48)
        i += 1
    if i == 0:
        return -1
    if i < n and p[i] == 46:
        i += 1
        while i < n and 48 <= p[i] <= 57:
            if frac < 9:
                ns = ns * 10 + (p[i] - 48)
                frac += 1
            i += 1
    while frac < 9:
        ns *= 10
        frac += 1
    out[0] = whole * 1_000_000_000 + ns
    return i


@cython.final
cdef class Feed:
    """Decode one venue's messages into engine events, following its book-sync procedure.

    Parameters
    ----------
    decoder : Decoder
        The venue's decoder; instruments must be added with ``instrument_id`` = the engine's
        instrument index (``add_symbol(symbol, index, price_decimals, size_decimals)``).
    rule : str
        The sync rule: a venue name of :data:`SYNC_RULES`.
    n_instruments : int
        One more than the largest instrument index.
    strict : bool
        Raise ``DecodeError`` on a bad message (default: count it in :attr:`decode_errors`,
        keep its text in :attr:`errors`, and go on).
    max_buffered : int
        Diffs kept per instrument while waiting for a snapshot (oldest dropped, counted).
    """

    def __cinit__(self):
        self.sync = NULL
        self.events = NULL
        self.count = 0
        self.cap_events = 0

    def __init__(self, Decoder decoder, str rule, Py_ssize_t n_instruments, *, bint strict=False,
                 Py_ssize_t max_buffered=100_000):
        if rule not in SYNC_RULES:
            raise ValueError(f"rule: unknown sync rule {rule!r}; one of {sorted(SYNC_RULES)}")
        if n_instruments < 1 or n_instruments > 1_000_000:
            raise ValueError(f"n_instruments must be 1..1000000, got {n_instruments}")
        if max_buffered < 0:
            raise ValueError("max_buffered must be >= 0")
        self.dec = decoder
        self.venue = decoder.venue
        self.rule = SYNC_RULES[rule]
        self.strict = strict
        self.max_buffered = max_buffered
        self.checksum_algo = (CHECKSUM_KRAKEN if self.rule == SYNC_KRAKEN else
                              CHECKSUM_OKX if self.rule == SYNC_OKX else
                              CHECKSUM_BITFINEX if self.rule == SYNC_BITFINEX else -1)
        self.n_inst = n_instruments
        self.sync = <InstSync*>PyMem_Malloc(n_instruments * sizeof(InstSync))
        if self.sync == NULL:
            raise MemoryError()
        memset(self.sync, 0, n_instruments * sizeof(InstSync))
        for i in range(n_instruments):
            self.sync[i].last_seq = -1
            self.sync[i].snapshot_seq = -1
        self._pending = [None] * n_instruments
        self.conn_seq = -1
        self.conn_gaps = 0
        self.errors = []
        self.sent = []
        self._reserve(1024)

    def __dealloc__(self):
        PyMem_Free(self.sync)
        PyMem_Free(self.events)

    cdef int _reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t need = self.count + extra, cap = self.cap_events
        cdef Event* p
        if need <= cap:
            return 0
        if cap < 1024:
            cap = 1024
        while cap < need:
            cap *= 2
        p = <Event*>PyMem_Realloc(self.events, cap * sizeof(Event))
        if p == NULL:
            raise MemoryError()
        self.events = p
        self.cap_events = cap
        return 0

    cdef void _status(self, uint32_t inst, int valid, ts_t ts, ts_t exch_ts) noexcept:
        # room was reserved by the caller
        cdef Event* e = &self.events[self.count]
        self.count += 1
        e.local_ts = ts
        e.exchange_ts = exch_ts
        e.price = 0
        e.size = valid
        e.ref = self.sync[inst].last_seq
        e.instrument = inst
        e.kind = EV_STATUS
        e.side = 0
        e.flags = 0
        e.venue_flags = 0

    # -- one message ---------------------------------------------------------------------

    def feed(self, data, long long recv_ts=0):
        """Decode one message received at ``recv_ts`` (ns) and append its events.

        Returns the decoder's message kind (an int of ``hftcore.MessageKind``), or minus the
        error code for a bad message (counted; raised as ``DecodeError`` when ``strict``).
        """
        cdef const unsigned char[::1] mv
        if type(data) is bytes:
            return self._feed_c(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), recv_ts, 0)
        mv = data
        if mv.shape[0] == 0:
            return self._feed_c(b"", 0, recv_ts, 0)
        return self._feed_c(<const char*>&mv[0], mv.shape[0], recv_ts, 0)

    def feed_rest(self, str url, data, long long recv_ts=0):
        """A REST response of the recording (Binance ``/depth``, KuCoin ``/level2`` book
        snapshots); others are ignored.

        Returns the message kind, or 0 when the response is not a book snapshot this venue uses.
        """
        cdef bytes body = bytes(data)
        cdef bytes sym
        cdef int kind
        if not self._rest_rule() or ("level2" if self.rule == SYNC_KUCOIN else "depth") not in url:
            return 0
        m = _SYMBOL_IN_URL.search(url)
        if m is None:
            return 0
        sym = m.group(1).upper().encode()
        kind = self.dec.decode_snapshot_c(PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body),
                                          recv_ts, sym, len(sym))
        self.messages += 1
        if kind < 0:
            self._bad(kind, body)
            return kind
        if kind == K_UNKNOWN_SYMBOL:
            self.unknown_symbols += 1
            return kind
        if kind == K_BOOK_SNAPSHOT:
            self._emit(recv_ts, 0)
        return kind

    cdef bint _rest_rule(self) noexcept:
        # books that start from a REST snapshot bridged to buffered diffs
        return self.rule == SYNC_BINANCE or self.rule == SYNC_BINANCE_FUTURES or \
            self.rule == SYNC_KUCOIN

    cdef _bad(self, int kind, object data):
        self.decode_errors += 1
        if self.strict:
            self.dec._raise(-kind)
        if len(self.errors) < 100:
            try:
                self.dec._raise(-kind)
            except Exception as exc:  # the decoder's DecodeError, with venue / kind / offset
                self.errors.append(str(exc))

    cdef int _feed_c(self, const char* data, Py_ssize_t n, ts_t recv_ts, int replay) except -2:
        cdef int kind = self.dec.decode_c(data, n, recv_ts if recv_ts >= 0 else 0)
        if recv_ts < 0:
            # no receive time (JSON-lines recordings): the venue's time, kept monotonic
            recv_ts = self.dec.st.info.exchange_ts
            if recv_ts < self.last_ts:
                recv_ts = self.last_ts
        if recv_ts > self.last_ts:
            self.last_ts = recv_ts
        if not replay:
            self.messages += 1
        if kind < 0:
            self._bad(kind, None)
            return kind
        if (self.rule == SYNC_BITFINEX and (self.dec.st.info.flags & INFO_NEW_CONNECTION)
                and not replay):
            # a new connection (a reconnect, live or in a recording): its sequence starts
            # again and every book waits for the snapshot its subscription brings
            self.conn_seq = -1
            self._connection_reset(recv_ts, False)
        if self.rule == SYNC_BITFINEX and (self.dec.st.info.flags & INFO_HAS_SEQ) and not replay:
            # the connection's sequence: every message carries it (heartbeats too)
            if self.conn_seq >= 0 and self.dec.st.info.last_seq != self.conn_seq + 1:
                self._connection_gap(recv_ts)
            self.conn_seq = self.dec.st.info.last_seq
        if kind == K_UNKNOWN_SYMBOL:
            self.unknown_symbols += 1
            return kind
        if (kind == K_STATUS and self.rule == SYNC_BITFINEX
                and (self.dec.st.info.flags & INFO_HAS_CHECKSUM)):
            self._bitfinex_checksum(recv_ts)
            return kind
        if self.dec.st.info.n_deltas or self.dec.st.info.n_trades or \
                self.dec.st.info.n_bbos or self.dec.st.info.n_spans:
            if self._emit(recv_ts, replay) == 1:
                # Binance diff arriving before its snapshot: keep a copy to bridge later
                self._buffer(data, n, recv_ts)
        return kind

    cdef int _bitfinex_checksum(self, ts_t recv_ts) except -1:
        """A Bitfinex "cs" message (conf flag 131072): the checksum of its book as it stands
        after the updates before it, so the event is a message of its own (EVENT_LAST).  Only
        a synced book is checked (before its snapshot, or while it resyncs, there is nothing to
        compare); a channel of a symbol not in the table has no book here."""
        cdef MsgInfo* info = &self.dec.st.info
        cdef uint32_t inst = info.instrument_id
        cdef Event* e
        if not (info.flags & INFO_HAS_INSTRUMENT):
            return 0
        if inst >= <uint32_t>self.n_inst:
            raise ValueError(f"{self.venue}: instrument id {inst} outside the feed's table")
        if self.sync[inst].state != BOOK_SYNCED:
            return 0
        self._reserve(1)
        e = &self.events[self.count]
        self.count += 1
        e.local_ts = recv_ts
        e.exchange_ts = info.exchange_ts
        e.price = 0
        e.size = 0
        e.ref = info.checksum
        e.instrument = inst
        e.kind = EV_CHECKSUM
        e.side = CHECKSUM_BITFINEX
        e.flags = EVENT_LAST
        e.venue_flags = 0
        return 0

    cdef int _connection_gap(self, ts_t recv_ts) except -1:
        """A message of the connection is missing: no book of it can be trusted."""
        return self._connection_reset(recv_ts, True)

    cdef int _connection_reset(self, ts_t recv_ts, bint gap) except -1:
        """Every synced book of the connection waits for its next snapshot (a gap in the
        connection's sequence, or a new connection)."""
        cdef Py_ssize_t i
        if gap:
            self.conn_gaps += 1
        self._reserve(self.n_inst)
        for i in range(self.n_inst):
            if self.sync[i].state == BOOK_SYNCED:
                self.sync[i].state = BOOK_WAITING
                self.sync[i].resyncs += 1
                self._status(<uint32_t>i, 0, recv_ts, 0)
                self.events[self.count - 1].flags |= EVENT_LAST
        return 0

    cdef _buffer(self, const char* data, Py_ssize_t n, ts_t recv_ts):
        cdef uint32_t inst = self.dec.st.info.instrument_id
        pend = self._pending[inst]
        if pend is None:
            pend = self._pending[inst] = []
        if len(pend) >= self.max_buffered:
            if self.max_buffered == 0:
                self.dropped_buffered += 1
                return
            del pend[0]
            self.dropped_buffered += 1
        pend.append((data[:n], recv_ts))

    cdef int _emit(self, ts_t recv_ts, int replay) except -1:
        """Append the events of the decoded message; 1 = buffer the message instead."""
        cdef MsgInfo* info = &self.dec.st.info
        cdef Py_ssize_t nd = info.n_deltas, nt = info.n_trades, nb = info.n_bbos, i, start
        cdef Py_ssize_t k, n_spans = info.n_spans
        cdef InstSync* s
        cdef TradeRecord* t
        cdef BBORecord* b
        cdef Event* e
        cdef int buffer_it = 0
        cdef uint32_t inst = info.instrument_id
        self._reserve(nd + nt + 2 * nb + 3 * (n_spans + 1))
        start = self.count
        for k in range(n_spans):
            if self._book_span(&self.dec.st.spans[k], info.kind, recv_ts, replay):
                buffer_it = 1
        if nt:
            t = self.dec.st.trades
            for i in range(nt):
                if t[i].flags & TRADE_SNAPSHOT:
                    continue           # history sent on subscription: not a trade of now
                e = &self.events[self.count]
                self.count += 1
                e.local_ts = recv_ts
                e.exchange_ts = t[i].exchange_ts
                e.price = t[i].price
                e.size = t[i].size
                e.ref = t[i].trade_id
                e.instrument = t[i].instrument_id
                e.kind = EV_TRADE
                e.side = t[i].side
                e.flags = 0
                e.venue_flags = 0
        if nb:
            b = self.dec.st.bbos
            for i in range(nb):
                if b[i].instrument_id >= <uint32_t>self.n_inst:
                    continue
                s = &self.sync[b[i].instrument_id]
                if s.seen_depth or (b[i].flags & BBO_NO_SIZE):
                    continue           # the depth stream is the book; size-less tickers are not
                self._bbo_side(&b[i], SIDE_BID, recv_ts)
                self._bbo_side(&b[i], SIDE_ASK, recv_ts)
                if s.state != BOOK_BBO_ONLY:
                    s.state = BOOK_BBO_ONLY
                    self._status(b[i].instrument_id, 1, recv_ts, b[i].exchange_ts)
        # the last event of each instrument in this message ends that instrument's message
        for i in range(start, self.count):
            if i + 1 == self.count or self.events[i + 1].instrument != self.events[i].instrument:
                self.events[i].flags |= EVENT_LAST
        if info.kind == K_BOOK_SNAPSHOT and nd and self._rest_rule():
            self._bridge(inst, recv_ts)
        return buffer_it

    cdef int _book_span(self, BookSpan* sp, int kind, ts_t recv_ts, int replay) except -1:
        """One instrument's part of a book message, by its venue's sync rule; 1 = buffer."""
        cdef uint32_t inst = sp.instrument_id
        cdef InstSync* s
        cdef BookDelta* d
        cdef Event* e
        cdef Py_ssize_t i
        cdef int apply_depth = 0, status = -1, buffer_it = 0
        cdef int64_t first = sp.first_seq, last = sp.last_seq, prev = sp.prev_seq
        cdef int64_t min_seq = -1        # KuCoin's first diff after a snapshot: newer changes only
        cdef bint has_seq = (sp.flags & INFO_HAS_SEQ) != 0
        cdef bint snapshot = (sp.flags & INFO_SNAPSHOT) != 0 or kind == K_BOOK_SNAPSHOT
        cdef bint rest = self._rest_rule()
        cdef bint futures = self.rule == SYNC_BINANCE_FUTURES
        if inst >= <uint32_t>self.n_inst:
            raise ValueError(f"{self.venue}: instrument id {inst} outside the feed's table")
        if sp.n_deltas == 0 and not snapshot and not has_seq:
            return 0            # (an empty update with a sequence still moves the chain)
        s = &self.sync[inst]
        s.seen_depth = 1
        if s.state == BOOK_BBO_ONLY:
            # a depth stream takes over from top-of-book messages: invalid until it syncs
            s.state = BOOK_NO_DATA
            self._status(inst, 0, recv_ts, sp.exchange_ts)
        if snapshot:
            if (self.rule == SYNC_BINANCE_FUTURES and s.state == BOOK_SYNCED and s.bridged
                    and last <= s.last_seq):
                self.stale_dropped += 1      # a REST snapshot no newer than the synced book
                return 0
            if s.state != BOOK_SYNCED or self.checksum_algo >= 0:
                # (Kraken, OKX, Bitfinex: the engine may have found a checksum wrong while the
                # feed was in sync; a snapshot comes on a (re)subscription, and makes the book
                # valid again -- in a backtest as live)
                status = 1
            s.state = BOOK_SYNCED
            s.last_seq = last if has_seq or rest or self.rule == SYNC_BYBIT else -1
            s.snapshot_seq = last
            s.bridged = 0
            apply_depth = 1
            if rest:
                status = 1  # a REST snapshot always restarts the bridge
        elif rest:
            # Binance spot / KuCoin: the first diff after the snapshot has U <= id + 1 <= u, then
            # U == previous u + 1.  Binance USDⓈ-M futures: U <= id <= u, then pu == previous u.
            if s.state != BOOK_SYNCED:
                buffer_it = not replay
            elif not s.bridged:
                if (last < s.snapshot_seq) if futures else (last <= s.snapshot_seq):
                    self.stale_dropped += 1
                elif first - (0 if futures else 1) <= s.snapshot_seq:
                    s.bridged = 1
                    apply_depth = 1
                    if self.rule == SYNC_KUCOIN:
                        min_seq = s.snapshot_seq
                else:
                    status = 0
            elif (prev == s.last_seq) if futures else (first - 1 == s.last_seq):
                apply_depth = 1
            else:
                status = 0
            if apply_depth:
                s.last_seq = last
        elif s.state != BOOK_SYNCED:
            self.stale_dropped += 1          # an update before (re)sync: its snapshot follows
        elif self.rule == SYNC_BYBIT or self.rule == SYNC_KRAKEN_FUTURES:
            if s.last_seq < 0 or last - 1 == s.last_seq:
                apply_depth = 1
                s.last_seq = last
            else:
                status = 0
        elif (self.rule == SYNC_OKX or self.rule == SYNC_DERIBIT or self.rule == SYNC_HTX) \
                and has_seq:
            if s.last_seq < 0 or prev == s.last_seq:
                apply_depth = 1
                s.last_seq = last
            else:
                status = 0
        else:
            apply_depth = 1
            if has_seq:
                s.last_seq = last
        if status == 0:
            s.gaps += 1
            s.state = BOOK_WAITING
            s.bridged = 0
            self._status(inst, 0, recv_ts, sp.exchange_ts)
            if rest:
                self._pending[inst] = None
                buffer_it = 1     # keep this diff: the next snapshot may bridge it
        if apply_depth:
            d = self.dec.st.deltas + sp.first_delta
            for i in range(sp.n_deltas):
                if d[i].sequence <= min_seq:
                    continue      # already in the snapshot (KuCoin: per change)
                e = &self.events[self.count]
                self.count += 1
                e.local_ts = recv_ts
                e.exchange_ts = d[i].exchange_ts
                e.price = d[i].price
                e.size = d[i].size
                e.ref = d[i].sequence
                e.instrument = inst
                e.kind = EV_DELTA
                e.side = d[i].side
                e.flags = d[i].flags & (DELTA_SNAPSHOT | DELTA_CLEAR | DELTA_CLEAR_SIDE |
                                        DELTA_REPUBLISH)
                e.venue_flags = 0
            if status == 1:
                self._status(inst, 1, recv_ts, sp.exchange_ts)
            if (self.checksum_algo >= 0 and (sp.flags & INFO_HAS_CHECKSUM)
                    and sp.checksum != 0):
                e = &self.events[self.count]
                self.count += 1
                e.local_ts = recv_ts
                e.exchange_ts = sp.exchange_ts
                e.price = 0
                e.size = 0
                e.ref = sp.checksum
                e.instrument = inst
                e.kind = EV_CHECKSUM
                e.side = <uint8_t>self.checksum_algo
                e.flags = 0
                e.venue_flags = 0
        return buffer_it

    cdef void _bbo_side(self, BBORecord* b, int side, ts_t recv_ts) noexcept:
        cdef Event* e = &self.events[self.count]
        cdef bint empty = (b.flags & (BBO_NO_BID if side == SIDE_BID else BBO_NO_ASK)) != 0
        self.count += 1
        e.local_ts = recv_ts
        e.exchange_ts = b.exchange_ts
        e.price = 0 if empty else (b.bid_price if side == SIDE_BID else b.ask_price)
        e.size = 0 if empty else (b.bid_size if side == SIDE_BID else b.ask_size)
        e.ref = b.sequence
        e.instrument = b.instrument_id
        e.kind = EV_DELTA
        e.side = <uint8_t>side
        e.flags = DELTA_CLEAR_SIDE
        e.venue_flags = 0

    cdef _bridge(self, uint32_t inst, ts_t recv_ts):
        """Replay the diffs buffered before this snapshot (Binance's documented procedure)."""
        cdef bytes data
        pend = self._pending[inst]
        self._pending[inst] = None
        if not pend:
            return
        for data, _ts in pend:
            self._feed_c(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), recv_ts, 1)

    # -- recordings ------------------------------------------------------------------------

    def feed_text(self, data, bint jsonl=False, long long until_ts=INT64_MAX, bint final=False):
        """Feed the complete lines of a chunk of a recording (the text format of
        tests/data/README-shared-data.md, or JSON lines with ``jsonl=True``).

        Stops before the first line received after ``until_ts`` (to merge several files of one
        venue in time order).  Returns ``(consumed, next_ts)``: bytes used (a partial last line
        is left unless ``final``) and the receive time of the line it stopped at (None when it
        used every complete line).  Raises ``ValueError`` naming the line for a line that is not
        a recording line.
        """
        cdef const unsigned char[::1] mv = data
        cdef Py_ssize_t n = mv.shape[0], pos = 0, eol, end, i, j, sep
        cdef const char* base
        cdef const char* line
        cdef const char* nl
        cdef ts_t ts
        cdef int rc
        cdef bytes frame
        if n == 0:
            return 0, None
        base = <const char*>&mv[0]
        while pos < n:
            nl = <const char*>memchr(base + pos, 10, <size_t>(n - pos))
            eol = n if nl == NULL else nl - base
            if eol == n and not final:
                break
            end = eol
            if end > pos and base[end - 1] == 13:
                end -= 1
            line = base + pos
            if end == pos:
                pos = eol + 1
                self.lines += 1
                continue
            if jsonl:
                self._feed_c(line, end - pos, -1, 0)
                pos = eol + 1
                self.lines += 1
                continue
            if 48 <= line[0] <= 57:
                i = parse_seconds(line, end - pos, &ts)
                if i < 0 or i + 1 >= end - pos or line[i] != 58 or line[i + 1] != 32:
                    raise ValueError(f"line {self.lines + 1}: not a recording line: "
                                     f"{line[:min(end - pos, 80)]!r}")
                if ts > until_ts:
                    return pos, ts
                if end - pos - i - 2 >= 2 and line[i + 2] == 98 and (line[i + 3] == 39
                                                                     or line[i + 3] == 34):
                    # a binary frame (HTX gzip) written as a Python bytes literal
                    frame = bytes_literal(line + i + 2, end - pos - i - 2, self.lines + 1)
                    self._feed_c(PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame), ts, 0)
                else:
                    self._feed_c(line + i + 2, end - pos - i - 2, ts, 0)
            else:
                # "<url> <arrow> <ts>[: <json>]"
                sep = 0
                while sep < end - pos and line[sep] != 32:
                    sep += 1
                j = sep + 1
                while j < end - pos and line[j] != 32:
                    j += 1
                if sep == 0 or j >= end - pos:
                    raise ValueError(f"line {self.lines + 1}: not a recording line: "
                                     f"{line[:min(end - pos, 80)]!r}")
                arrow = line[sep + 1:j]
                i = parse_seconds(line + j + 1, end - pos - j - 1, &ts)
                if i < 0 or arrow not in (b"->", b"<-", b"<->"):
                    raise ValueError(f"line {self.lines + 1}: not a recording line: "
                                     f"{line[:min(end - pos, 80)]!r}")
                if arrow == b"->":
                    if ts > until_ts:
                        return pos, ts
                    i += j + 1
                    if i + 1 < end - pos and line[i] == 58:
                        self.feed_rest(line[:sep].decode("utf-8", "replace"),
                                       line[i + 2:end - pos], ts)
                elif arrow == b"<-":
                    self.sent.append(line[j + 1:end - pos])
            pos = eol + 1
            self.lines += 1
        return pos, None

    # -- results ---------------------------------------------------------------------------

    @property
    def n_events(self):
        """Events waiting to be taken."""
        return self.count

    def take(self):
        """The pending events as a new numpy array (``EVENT_DTYPE``); the feed starts empty."""
        out = np.empty(self.count, dtype=EVENT_DTYPE)
        if self.count:
            memcpy(<void*><size_t>out.ctypes.data, self.events, self.count * sizeof(Event))
        self.count = 0
        return out

    def clear(self):
        """Drop the pending events."""
        self.count = 0

    def invalidate(self, Py_ssize_t index):
        """Mark an instrument's book out of sync (live resync): updates are dropped, or
        buffered for Binance, until its next snapshot.  Appends an invalid-status event."""
        if not 0 <= index < self.n_inst:
            raise IndexError(f"index: {index} outside 0..{self.n_inst - 1}")
        self._reserve(1)
        if self.sync[index].state == BOOK_SYNCED:
            self.sync[index].state = BOOK_WAITING
            self.sync[index].resyncs += 1
            self._status(<uint32_t>index, 0, 0, 0)
            self.events[self.count - 1].flags |= EVENT_LAST

    def state(self, Py_ssize_t index):
        """Sync state of one instrument: name, last sequence, gaps, resyncs, buffered diffs."""
        if not 0 <= index < self.n_inst:
            raise IndexError(f"index: {index} outside 0..{self.n_inst - 1}")
        s = &self.sync[index]
        pend = self._pending[index]
        return {"state": STATE_NAMES[s.state], "last_seq": s.last_seq, "gaps": s.gaps,
                "resyncs": s.resyncs, "buffered": len(pend) if pend else 0}

    @property
    def gaps(self):
        """Sequence gaps found, all instruments (and, for Bitfinex, the connection's)."""
        return sum(self.sync[i].gaps for i in range(self.n_inst)) + self.conn_gaps

    @property
    def decoder(self):
        """The venue decoder."""
        return self.dec
