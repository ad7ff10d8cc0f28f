# Exchange message decoders: websocket frame bytes -> batches of C records, without the GIL.
#
# This module is the Decoder base class (record batches, symbol table, the Python surface and
# the C entry point decode_c) and, included below, one file per venue: decode_<venue>.pxi holds
# that venue's message readers and its Decoder subclass.  They are built from three shared
# parts: records.pxd (records, state, kinds, errors), jsonscan.pxd (JSON scanning) and
# decode_common.pxd (level arrays, deferred levels, book spans, fields, venue words).
#
# Adding a venue: write decode_<venue>.pxi (its readers and `cdef class <Venue>Decoder(Decoder)`
# with a VENUE name and `_decode`), include it at the end of this file, and declare the class
# in decode.pxd / decode.pyi.  hftcore.decoders finds it by its VENUE name.
cimport cython
from libc.stdint cimport int64_t
from libc.string cimport memcpy, memset
from cpython.mem cimport PyMem_RawFree
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.buffer cimport PyBUF_WRITABLE
from posix.time cimport clock_gettime, timespec

from hftcore._ext.types cimport BookDelta, TradeRecord, BBORecord, OrderUpdate, ts_t
from hftcore._ext.records cimport (
    DecState, MsgInfo, BookSpan, Scan, SymbolEntry, batch_grow, symbol_table_add,
    symbol_find, free_retired, clear_batches, SYMBOL_CONFLICT, SYMBOL_MAX, K_NONE,
    K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_UNKNOWN_SYMBOL, K_COUNT, E_EXTRA, E_SHAPE, E_CAPACITY,
    E_COUNT, INFO_HAS_SEQ, INFO_HAS_CHECKSUM, INFO_REPUBLISH, INFO_UNKNOWN_SYMBOL,
    INFO_HAS_INSTRUMENT, INFO_PING, INFO_NEW_CONNECTION,
)

from hftcore._ext.jsonscan cimport scan_skip_value

cdef extern from "<time.h>" nogil:
    enum: CLOCK_THREAD_CPUTIME_ID

import numpy as np

from hftcore._ext.records import (
    BBO_DTYPE, BOOK_DELTA_DTYPE, BOOK_SPAN_DTYPE, ERROR_NAMES, KIND_NAMES, ORDER_UPDATE_DTYPE,
    TRADE_DTYPE, DecodeError, DecodeErrorCode, MessageKind,
)

cdef tuple _KINDS = tuple(MessageKind)


@cython.final
cdef class _RecordBuffer:
    """Read-only buffer over one of a decoder's record arrays; counts as an export while a
    numpy view holds it, so a growing decoder retires (does not free) the memory under it."""
    cdef Decoder owner
    cdef char* ptr
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __getbuffer__(self, Py_buffer* buf, int flags):
        if flags & PyBUF_WRITABLE:
            raise BufferError("decoder record views are read-only")
        buf.buf = self.ptr
        buf.obj = self
        buf.len = self.nbytes
        buf.readonly = 1
        buf.itemsize = 1
        buf.format = NULL
        buf.ndim = 1
        self.shape[0] = self.nbytes
        self.strides[0] = 1
        buf.shape = self.shape
        buf.strides = self.strides
        buf.suboffsets = NULL
        buf.internal = NULL
        self.owner.st.exports += 1

    def __releasebuffer__(self, Py_buffer* buf):
        self.owner.st.exports -= 1
        free_retired(&self.owner.st)


cdef inline void skip_ws(Scan* sc) noexcept nogil:
    while sc.p < sc.end and (sc.p[0] == b' ' or sc.p[0] == b'\n' or sc.p[0] == b'\r'
                             or sc.p[0] == b'\t'):
        sc.p += 1


cdef inline void message_begin(DecState* d, Scan* sc, const char* data, Py_ssize_t n,
                               ts_t recv_ts, const char* what) noexcept nogil:
    memset(&d.info, 0, sizeof(MsgInfo))
    d.info.local_ts = recv_ts
    d.info.prev_seq = -1
    d.info.what = what
    sc.base = data
    sc.p = data
    sc.end = data + n
    sc.err = 0
    sc.err_at = data
    d.n_messages += 1


cdef int message_end(DecState* d, Scan* sc, int kind) noexcept nogil:
    """Common end of every decode: trailing data, errors (nothing half-filled stays), unknown
    symbols, the header of book messages from their first span, counters."""
    cdef BookSpan* s
    if kind >= 0:
        skip_ws(sc)
        if sc.p != sc.end and sc.err == 0:
            sc.err = E_EXTRA
            sc.err_at = sc.p
            kind = -1
    if kind < 0 or kind >= K_COUNT:
        if sc.err == 0:
            sc.err = E_SHAPE
        clear_batches(d)
        d.info.kind = K_NONE
        d.info.flags = 0                        # (a ping answered only for a whole message)
        d.info.ping = 0
        d.info.err = sc.err
        d.info.err_offset = sc.err_at - sc.base
        d.n_errors += 1
        return -sc.err
    if kind == K_UNKNOWN_SYMBOL:
        clear_batches(d)
    elif (kind == K_BOOK_SNAPSHOT or kind == K_BOOK_UPDATE) and d.info.n_spans > 0:
        s = &d.spans[0]
        d.info.instrument_id = s.instrument_id
        d.info.exchange_ts = s.exchange_ts
        d.info.first_seq = s.first_seq
        d.info.last_seq = s.last_seq
        d.info.prev_seq = s.prev_seq
        d.info.cross_seq = s.cross_seq
        d.info.checksum = s.checksum
        d.info.flags |= s.flags & (INFO_HAS_SEQ | INFO_HAS_CHECKSUM)
    d.info.kind = kind
    d.counts[kind] += 1
    d.n_rounded += d.info.n_rounded
    return kind


# ---------------------------------------------------------------------------------------------
# Decoder
# ---------------------------------------------------------------------------------------------

cdef inline int _int_arg(object value, str name, int64_t lo, int64_t hi) except -1:
    if type(value) is bool or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be {lo}..{hi}, got {value}")
    return 0


cdef class Decoder:
    """Base of the venue decoders: a symbol table and reusable record batches.

    ``decode(frame, recv_ts)`` returns the message kind (``MessageKind``) and fills ``deltas``
    / ``trades`` / ``bbos`` / ``orders`` (and ``spans``: one per instrument of a book
    message).  Those arrays are numpy views of the decoder's own memory, *borrowed until the
    next decode*: copy what you keep.  One decoder per thread.
    """

    VENUE = ""

    def __cinit__(self, *args, **kwargs):
        memset(&self.st, 0, sizeof(DecState))
        self.venue = type(self).VENUE

    def __init__(self, instruments=(), *, bint strict=False, int fee_decimals=10,
                 Py_ssize_t capacity=256):
        if type(self) is Decoder:
            raise TypeError("Decoder is a base class: use a venue decoder (decoder_for)")
        if fee_decimals < 0 or fee_decimals > 18:
            raise ValueError("fee_decimals must be 0..18")
        self.st.strict = strict
        self.st.fee_decimals = fee_decimals
        self.reserve(capacity)
        for inst in instruments:
            self.add_instrument(inst)

    def __dealloc__(self):
        PyMem_RawFree(self.st.deltas)
        PyMem_RawFree(self.st.trades)
        PyMem_RawFree(self.st.bbos)
        PyMem_RawFree(self.st.orders)
        PyMem_RawFree(self.st.spans)
        PyMem_RawFree(self.st.symbols.entries)
        while self.st.n_retired > 0:
            self.st.n_retired -= 1
            PyMem_RawFree(self.st.retired[self.st.n_retired])

    cdef int _guard(self) except -1:
        # decode_loop runs without the GIL: another thread must not reallocate or rewrite what
        # it reads meanwhile (scalar properties read plain fields and stay allowed)
        if self.st.busy:
            raise RuntimeError(f"the {self.venue} decoder is running decode_loop in another "
                               "thread")
        return 0

    def reserve(self, Py_ssize_t capacity):
        """Make room for ``capacity`` records of each type (buffers otherwise grow by doubling)."""
        if capacity < 1 or capacity > (1 << 26):
            raise ValueError("capacity must be 1..2**26")
        self._guard()
        while self.st.cap_deltas < capacity:
            if batch_grow(&self.st, <void**>&self.st.deltas, &self.st.cap_deltas,
                          sizeof(BookDelta)):
                raise MemoryError()
        while self.st.cap_trades < capacity:
            if batch_grow(&self.st, <void**>&self.st.trades, &self.st.cap_trades,
                          sizeof(TradeRecord)):
                raise MemoryError()
        while self.st.cap_bbos < capacity:
            if batch_grow(&self.st, <void**>&self.st.bbos, &self.st.cap_bbos, sizeof(BBORecord)):
                raise MemoryError()
        while self.st.cap_orders < capacity:
            if batch_grow(&self.st, <void**>&self.st.orders, &self.st.cap_orders,
                          sizeof(OrderUpdate)):
                raise MemoryError()
        while self.st.cap_spans < 16:
            if batch_grow(&self.st, <void**>&self.st.spans, &self.st.cap_spans, sizeof(BookSpan)):
                raise MemoryError()

    # -- symbols ---------------------------------------------------------------------------

    def add_symbol(self, symbol, instrument_id, price_decimals, size_decimals):
        """Map the venue's symbol text to an instrument id and its price/size decimals.

        Adding a symbol that is already mapped to something else raises ValueError (two
        instruments cannot share a symbol in one decoder); adding the same mapping again does
        nothing.
        """
        cdef bytes key
        cdef SymbolEntry* e
        cdef int r
        if isinstance(symbol, str):
            key = symbol.encode()
        elif isinstance(symbol, (bytes, bytearray)):
            key = bytes(symbol)
        else:
            raise TypeError(f"symbol must be str or bytes, not {type(symbol).__name__}")
        if len(key) == 0 or len(key) > SYMBOL_MAX:
            raise ValueError(f"symbol must be 1..{SYMBOL_MAX} bytes: {symbol!r}")
        _int_arg(instrument_id, "instrument_id", 0, 0xFFFFFFFF)
        _int_arg(price_decimals, "price_decimals", 0, 18)
        _int_arg(size_decimals, "size_decimals", 0, 18)
        self._guard()
        r = symbol_table_add(&self.st.symbols, key, len(key), instrument_id, price_decimals,
                             size_decimals)
        if r < 0:
            raise MemoryError()
        if r == SYMBOL_CONFLICT:
            e = symbol_find(&self.st.symbols, key, len(key))
            raise ValueError(
                f"symbol {symbol!r} is already mapped to instrument {e.instrument_id} "
                f"({e.price_decimals}/{e.size_decimals} decimals): two instruments cannot "
                "share a symbol in one decoder")

    def add_instrument(self, instrument):
        """Add an ``hftcore.Instrument`` (its symbol, instrument_id and decimals)."""
        self.add_symbol(instrument.symbol, instrument.instrument_id,
                        instrument.price_decimals, instrument.size_decimals)

    @property
    def symbols(self):
        """symbol -> (instrument_id, price_decimals, size_decimals)."""
        cdef Py_ssize_t i
        cdef SymbolEntry* e
        out = {}
        for i in range(self.st.symbols.capacity):
            e = &self.st.symbols.entries[i]
            if e.used:
                out[e.name[:e.length].decode()] = (e.instrument_id, e.price_decimals,
                                                   e.size_decimals)
        return out

    # -- decoding --------------------------------------------------------------------------

    cdef int decode_c(self, const char* data, Py_ssize_t n, ts_t recv_ts) noexcept nogil:
        cdef Scan sc
        message_begin(&self.st, &sc, data, n, recv_ts, b"")
        return message_end(&self.st, &sc, self._decode(&self.st, &sc))

    cdef int decode_snapshot_c(self, const char* data, Py_ssize_t n, ts_t recv_ts,
                               const char* symbol, Py_ssize_t symbol_len) noexcept nogil:
        cdef Scan sc
        cdef SymbolEntry* sym
        cdef DecState* d = &self.st
        message_begin(d, &sc, data, n, recv_ts, b"depth snapshot")
        sym = symbol_find(&d.symbols, symbol, symbol_len)
        if symbol_len > 0:
            symbol_len = symbol_len if symbol_len <= SYMBOL_MAX else SYMBOL_MAX
            memcpy(d.info.symbol, symbol, <size_t>symbol_len)
            d.info.symbol[symbol_len] = 0
            d.info.symbol_len = <int>symbol_len
        if sym == NULL:
            d.info.flags |= INFO_UNKNOWN_SYMBOL
            # validated all the same: a damaged body is an error, whoever it was for
            return message_end(d, &sc, K_UNKNOWN_SYMBOL if scan_skip_value(&sc, 0) == 0 else -1)
        d.info.instrument_id = sym.instrument_id
        d.info.flags |= INFO_HAS_INSTRUMENT
        return message_end(d, &sc, self._decode_snapshot(d, &sc, sym))

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        sc.err = E_SHAPE
        return -1

    cdef int _decode_snapshot(self, DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
        sc.err = E_SHAPE                                  # this venue has no such snapshot
        return -1

    @cython.binding(False)
    def decode(self, data, long long recv_ts=0):
        """Decode one message (bytes-like) received at ``recv_ts`` (ns); returns its kind.

        Raises ``hftcore.DecodeError`` (venue, kind, byte offset, code) on bad input; then
        every record batch is empty.
        """
        cdef const unsigned char[::1] mv
        cdef int r
        if self.st.busy:
            self._guard()
        if type(data) is bytes:
            r = self.decode_c(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), recv_ts)
        else:
            mv = data
            if mv.shape[0] == 0:
                r = self.decode_c(b"", 0, recv_ts)
            else:
                r = self.decode_c(<const char*>&mv[0], mv.shape[0], recv_ts)
        if r < 0:
            self._raise(-r)
        return <object>_KINDS[r]

    def decode_snapshot(self, data, symbol, long long recv_ts=0):
        """Decode a REST book snapshot whose body does not name its symbol (Binance
        ``GET /api/v3/depth``) for ``symbol``: BOOK_SNAPSHOT deltas (or UNKNOWN_SYMBOL)."""
        cdef const unsigned char[::1] mv = data
        cdef bytes sym
        cdef int r
        if isinstance(symbol, str):
            sym = symbol.encode()
        elif isinstance(symbol, bytes):
            sym = symbol
        else:
            raise TypeError(f"symbol must be str or bytes, not {type(symbol).__name__}")
        self._guard()
        if mv.shape[0] == 0:
            r = self.decode_snapshot_c(b"", 0, recv_ts, sym, len(sym))
        else:
            r = self.decode_snapshot_c(<const char*>&mv[0], mv.shape[0], recv_ts, sym, len(sym))
        if r < 0:
            self._raise(-r)
        return <object>_KINDS[r]

    def decode_loop(self, data, Py_ssize_t repeat, long long recv_ts=0):
        """Decode ``data`` ``repeat`` times (the C entry point the engine calls, without the GIL
        after the first time).  Returns the CPU nanoseconds of this thread for the whole loop.

        The first decode runs with the GIL held, so the record buffers have grown to what the
        message needs before the GIL is released: the GIL-free repeats never reallocate.  While
        the loop runs, ``decode``, ``reserve``, ``add_symbol``, ``add_instrument`` and the
        record views raise RuntimeError from other threads.
        """
        cdef const unsigned char[::1] mv = data
        cdef const char* p
        cdef Py_ssize_t n = mv.shape[0], i
        cdef int r = 0
        cdef timespec t0, t1
        if n == 0:
            raise ValueError("empty message")
        if repeat < 1:
            raise ValueError("repeat must be >= 1")
        self._guard()
        p = <const char*>&mv[0]
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0)
        r = self.decode_c(p, n, recv_ts)
        if r >= 0 and repeat > 1:
            self.st.busy = 1
            try:
                with nogil:
                    for i in range(repeat - 1):
                        r = self.decode_c(p, n, recv_ts)
            finally:
                self.st.busy = 0
                free_retired(&self.st)
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1)
        if r < 0:
            self._raise(-r)
        return (t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)

    def _raise(self, int code):
        if code == E_CAPACITY:
            raise MemoryError(f"{self.venue}: the record buffers could not grow (out of memory, "
                              "or too many old buffers held by live numpy views)")
        what = (<bytes>self.st.info.what).decode() if self.st.info.what != NULL else ""
        raise DecodeError(ERROR_NAMES[code] if 0 < code < E_COUNT else "decode error",
                          self.venue, what, self.st.info.err_offset,
                          DecodeErrorCode(code) if 0 < code < E_COUNT else code)

    def _view(self, size_t addr, Py_ssize_t n, Py_ssize_t item, object dtype):
        cdef _RecordBuffer b
        self._guard()
        if n == 0:
            return np.empty(0, dtype=dtype)
        b = _RecordBuffer.__new__(_RecordBuffer)
        b.owner = self
        b.ptr = <char*>addr
        b.nbytes = n * item
        return np.frombuffer(b, dtype=dtype, count=n)

    @property
    def deltas(self):
        """Book deltas of the last message (numpy view, borrowed until the next decode)."""
        return self._view(<size_t>self.st.deltas, self.st.info.n_deltas, sizeof(BookDelta),
                          BOOK_DELTA_DTYPE)

    @property
    def trades(self):
        """Trades of the last message (numpy view, borrowed until the next decode)."""
        return self._view(<size_t>self.st.trades, self.st.info.n_trades, sizeof(TradeRecord),
                          TRADE_DTYPE)

    @property
    def bbos(self):
        """Best bid/offer records of the last message (numpy view, borrowed)."""
        return self._view(<size_t>self.st.bbos, self.st.info.n_bbos, sizeof(BBORecord), BBO_DTYPE)

    @property
    def orders(self):
        """Order updates of the last message (numpy view, borrowed)."""
        return self._view(<size_t>self.st.orders, self.st.info.n_orders, sizeof(OrderUpdate),
                          ORDER_UPDATE_DTYPE)

    @property
    def spans(self):
        """One record per instrument of the last book message (``BOOK_SPAN_DTYPE``: the
        instrument, its slice ``deltas[first_delta : first_delta + n_deltas]``, its sequence
        numbers and checksum); empty for other kinds.  Numpy view, borrowed."""
        return self._view(<size_t>self.st.spans, self.st.info.n_spans, sizeof(BookSpan),
                          BOOK_SPAN_DTYPE)

    @property
    def n_deltas(self):
        """Number of book deltas in the last message."""
        return self.st.info.n_deltas

    @property
    def n_trades(self):
        """Number of trades in the last message."""
        return self.st.info.n_trades

    @property
    def n_bbos(self):
        """Number of BBO records in the last message."""
        return self.st.info.n_bbos

    @property
    def n_orders(self):
        """Number of order updates in the last message."""
        return self.st.info.n_orders

    @property
    def n_spans(self):
        """Number of instruments (book spans) in the last book message."""
        return self.st.info.n_spans

    @property
    def kind(self):
        """The last message's kind (``MessageKind.NONE`` after an error)."""
        return <object>_KINDS[self.st.info.kind]

    @property
    def instrument_id(self):
        """The last message's (first) instrument id."""
        return self.st.info.instrument_id

    @property
    def symbol(self):
        """The last message's symbol text: its first, or its first unknown one ('' if none)."""
        return self.st.info.symbol[:self.st.info.symbol_len].decode("utf-8", "replace")

    @property
    def exchange_ts(self):
        """The last message's event time at the venue (ns; 0 when not sent)."""
        return self.st.info.exchange_ts

    @property
    def local_ts(self):
        """The ``recv_ts`` given with the last message."""
        return self.st.info.local_ts

    @property
    def first_seq(self):
        """First sequence number of the last message (Binance ``U``)."""
        return self.st.info.first_seq

    @property
    def last_seq(self):
        """Last sequence number of the last message (Binance ``u``, Bybit ``u``, OKX ``seqId``)."""
        return self.st.info.last_seq

    @property
    def prev_seq(self):
        """Previous sequence number (OKX ``prevSeqId``, Binance futures ``pu``; -1 if not sent)."""
        return self.st.info.prev_seq

    @property
    def cross_seq(self):
        """Bybit's cross sequence ``seq``."""
        return self.st.info.cross_seq

    @property
    def ping(self):
        """The number the venue's keep-alive of the last message asks to have echoed (HTX
        ``{"ping": n}``: answer ``{"pong": n}``), or None when it was no such ping."""
        if self.st.info.flags & INFO_PING:
            return self.st.info.ping
        return None

    @property
    def new_connection(self):
        """True when the last message is the first one of a new connection (Bitfinex's
        ``info`` event with its ``version``): the venue's connection sequence starts again and
        the decoder has forgotten the old connection's channel ids."""
        return bool(self.st.info.flags & INFO_NEW_CONNECTION)

    @property
    def has_seq(self):
        """True when the last message carried sequence numbers."""
        return bool(self.st.info.flags & INFO_HAS_SEQ)

    @property
    def checksum(self):
        """The venue's book checksum of the last message (its first instrument's; see
        ``spans``), or None when it sent none."""
        if self.st.info.flags & INFO_HAS_CHECKSUM:
            return self.st.info.checksum
        return None

    @property
    def republish(self):
        """True when the last message re-sent levels (Kraken v1 ``"r"``)."""
        return bool(self.st.info.flags & INFO_REPUBLISH)

    @property
    def counts(self):
        """Messages decoded per kind name, plus 'errors', 'messages' and 'rounded' (sizes a
        venue printed with more decimals than the instrument's, rounded: HTX only)."""
        out = {KIND_NAMES[i]: self.st.counts[i] for i in range(1, K_COUNT)}
        out["errors"] = self.st.n_errors
        out["messages"] = self.st.n_messages
        out["rounded"] = self.st.n_rounded
        return out

    @property
    def exports(self):
        """Number of live numpy views of the record buffers."""
        return self.st.exports

    @property
    def busy(self):
        """True while ``decode_loop`` runs without the GIL."""
        return bool(self.st.busy)


# ---------------------------------------------------------------------------------------------
# Venues
# ---------------------------------------------------------------------------------------------

include "decode_binance.pxi"
include "decode_bybit.pxi"
include "decode_okx.pxi"
include "decode_kraken.pxi"
include "decode_coinbase.pxi"
include "decode_kucoin.pxi"
include "decode_deribit.pxi"
include "decode_kraken_futures.pxi"
include "decode_htx.pxi"
include "decode_bitfinex.pxi"
