# The decoders' records: numpy dtypes of the C record structs, every flag, kind and error code
# as Python values (read from the C enums, never re-typed), DecodeError, MessageKind, and the C
# functions behind the record batches and the symbol table (records.pxd declares them).  The
# Decoder class and the venue decoders are in decode.pyx.
#
# Nothing here imports from above hftcore._ext.
from libc.stdint cimport uint64_t, uint32_t, INT64_MAX
from libc.string cimport memcpy, memset
from cpython.mem cimport PyMem_RawMalloc, PyMem_RawRealloc, PyMem_RawFree

from hftcore._ext.types cimport BookDelta, TradeRecord, BBORecord, OrderUpdate
from hftcore._ext cimport types as T

from enum import IntEnum, IntFlag

import numpy as np


# ---------------------------------------------------------------------------------------------
# Constants (the C enums of types.pxd and records.pxd, exposed)
# ---------------------------------------------------------------------------------------------

SIDE_BID = T.SIDE_BID
SIDE_ASK = T.SIDE_ASK
SIDE_NONE = T.SIDE_NONE
DELTA_SNAPSHOT = T.DELTA_SNAPSHOT
DELTA_CLEAR = T.DELTA_CLEAR
DELTA_LAST = T.DELTA_LAST
DELTA_CLEAR_SIDE = T.DELTA_CLEAR_SIDE
DELTA_REPUBLISH = T.DELTA_REPUBLISH
TRADE_ID_TEXT = T.TRADE_ID_TEXT
TRADE_SNAPSHOT = T.TRADE_SNAPSHOT
BBO_NO_SIZE = T.BBO_NO_SIZE
BBO_NO_BID = T.BBO_NO_BID
BBO_NO_ASK = T.BBO_NO_ASK
ORDER_IS_FILL = T.ORDER_IS_FILL
ORDER_IS_MAKER = T.ORDER_IS_MAKER
ORDER_HAS_FEE = T.ORDER_HAS_FEE
ORDER_TRADE_ID_TEXT = T.ORDER_TRADE_ID_TEXT
ORDER_STATUS_UNKNOWN = T.ORDER_STATUS_UNKNOWN
ORDER_TYPE_UNKNOWN = T.ORDER_TYPE_UNKNOWN
SYMBOL_MAX_BYTES = SYMBOL_MAX
NO_INSTRUMENT_ID = NO_INSTRUMENT


class DeltaFlag(IntFlag):
    """``BookDelta.flags`` (``BOOK_DELTA_DTYPE["flags"]``)."""

    SNAPSHOT = T.DELTA_SNAPSHOT          # part of a snapshot
    CLEAR = T.DELTA_CLEAR                # clear the book (both sides) before this record
    LAST = T.DELTA_LAST                  # last record of its instrument in the message
    CLEAR_SIDE = T.DELTA_CLEAR_SIDE      # clear this record's side before applying it
    REPUBLISH = T.DELTA_REPUBLISH        # Kraken v1 "r": re-sent level


class TradeFlag(IntFlag):
    """``TradeRecord.flags``."""

    ID_TEXT = T.TRADE_ID_TEXT            # the venue's trade id is not numeric: trade_id is -1
    SNAPSHOT = T.TRADE_SNAPSHOT          # history sent on subscription, not a new trade


class BboFlag(IntFlag):
    """``BBORecord.flags``."""

    NO_SIZE = T.BBO_NO_SIZE              # the venue sent no sizes: they are 0
    NO_BID = T.BBO_NO_BID                # empty bid side
    NO_ASK = T.BBO_NO_ASK                # empty ask side


class OrderFlag(IntFlag):
    """``OrderUpdate.flags``."""

    IS_FILL = T.ORDER_IS_FILL
    IS_MAKER = T.ORDER_IS_MAKER
    HAS_FEE = T.ORDER_HAS_FEE
    TRADE_ID_TEXT = T.ORDER_TRADE_ID_TEXT


class SpanFlag(IntFlag):
    """``BookSpan.flags`` (``BOOK_SPAN_DTYPE["flags"]``)."""

    HAS_SEQ = INFO_HAS_SEQ
    HAS_CHECKSUM = INFO_HAS_CHECKSUM
    SNAPSHOT = INFO_SNAPSHOT


class MessageKind(IntEnum):
    """What ``decode`` found (the C ``K_*`` codes)."""

    NONE = K_NONE
    BOOK_SNAPSHOT = K_BOOK_SNAPSHOT
    BOOK_UPDATE = K_BOOK_UPDATE
    TRADE = K_TRADE
    BBO = K_BBO
    ORDER = K_ORDER
    UNKNOWN_SYMBOL = K_UNKNOWN_SYMBOL
    HEARTBEAT = K_HEARTBEAT
    SUBSCRIBED = K_SUBSCRIBED
    VENUE_ERROR = K_VENUE_ERROR
    STATUS = K_STATUS
    OTHER = K_OTHER

    @property
    def is_data(self):
        """True for kinds that filled records."""
        return K_BOOK_SNAPSHOT <= self.value <= K_ORDER


class DecodeErrorCode(IntEnum):
    """Why a message was refused (``DecodeError.code``; the C ``E_*`` codes)."""

    TRUNCATED = E_TRUNCATED
    SYNTAX = E_SYNTAX
    UTF8 = E_UTF8
    ESCAPE = E_ESCAPE
    DEPTH = E_DEPTH
    TYPE = E_TYPE
    MISSING = E_MISSING
    EXTRA = E_EXTRA
    NUMBER = E_NUMBER
    PRECISION = E_PRECISION
    SHAPE = E_SHAPE
    CAPACITY = E_CAPACITY
    TOO_LONG = E_TOO_LONG
    NEEDS_SYMBOL = E_NEEDS_SYMBOL
    TIME = E_TIME
    COMPRESSED = E_COMPRESSED


cdef tuple _KINDS = tuple(MessageKind)
assert len(_KINDS) == K_COUNT and all(k.value == i for i, k in enumerate(_KINDS))

KIND_NAMES = tuple(k.name.lower() for k in _KINDS)

_ERROR_TEXT = {
    E_OK: "",
    E_TRUNCATED: "truncated input",
    E_SYNTAX: "invalid JSON",
    E_UTF8: "invalid UTF-8",
    E_ESCAPE: "invalid string escape",
    E_DEPTH: "nesting too deep",
    E_TYPE: "wrong JSON type",
    E_MISSING: "missing field",
    E_EXTRA: "extra field or element",
    E_NUMBER: "invalid or out-of-range number",
    E_PRECISION: "more decimals than the instrument allows",
    E_SHAPE: "unexpected message shape",
    E_CAPACITY: "record buffer cannot grow",
    E_TOO_LONG: "text too long",
    E_NEEDS_SYMBOL: "REST depth snapshot needs its symbol: use decode_snapshot",
    E_TIME: "impossible or out-of-range time (1970..2262)",
    E_COMPRESSED: "compressed frame does not inflate",
}
ERROR_NAMES = tuple(_ERROR_TEXT[i] for i in range(E_COUNT))


class DecodeError(ValueError):
    """A venue message could not be decoded.

    Carries the venue, the message kind (as far as it was recognised), the byte offset at which
    decoding stopped and the reason (``code``, a ``DecodeErrorCode``), so bad input can be
    reported and counted rather than crash.
    """

    def __init__(self, message, venue="", kind="", offset=-1, code=0):
        where = ", ".join(
            part
            for part in (
                f"venue={venue}" if venue else "",
                f"kind={kind}" if kind else "",
                f"offset={offset}" if offset >= 0 else "",
            )
            if part
        )
        super().__init__(f"{message} ({where})" if where else message)
        self.message = message
        self.venue = venue
        self.kind = kind
        self.offset = offset
        self.code = code

    def __reduce__(self):
        return (type(self), (self.message, self.venue, self.kind, self.offset, self.code))


# ---------------------------------------------------------------------------------------------
# numpy mirrors of the record structs (offsets read from C)
# ---------------------------------------------------------------------------------------------

cdef BookDelta _bd
cdef TradeRecord _tr
cdef BBORecord _bb
cdef OrderUpdate _ou
cdef BookSpan _sp


cdef Py_ssize_t _off(void* field, void* base):
    return <char*>field - <char*>base


def _dtype(names, formats, offsets, itemsize):
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": itemsize})


# the one definition of the book delta dtype: L2Book.apply_deltas takes these records
BOOK_DELTA_DTYPE = np.dtype([
    ("exchange_ts", "<i8"), ("local_ts", "<i8"), ("sequence", "<i8"), ("price", "<i8"),
    ("size", "<i8"), ("instrument_id", "<u4"), ("side", "u1"), ("flags", "u1"), ("_pad", "<u2")])
assert BOOK_DELTA_DTYPE.itemsize == sizeof(BookDelta)
assert BOOK_DELTA_DTYPE.fields["price"][1] == _off(&_bd.price, &_bd)
assert BOOK_DELTA_DTYPE.fields["instrument_id"][1] == _off(&_bd.instrument_id, &_bd)
assert BOOK_DELTA_DTYPE.fields["side"][1] == _off(&_bd.side, &_bd)
assert BOOK_DELTA_DTYPE.fields["flags"][1] == _off(&_bd.flags, &_bd)
TRADE_DTYPE = _dtype(
    ["exchange_ts", "local_ts", "trade_id", "price", "size", "instrument_id", "side", "flags"],
    ["<i8", "<i8", "<i8", "<i8", "<i8", "<u4", "u1", "u1"],
    [_off(&_tr.exchange_ts, &_tr), _off(&_tr.local_ts, &_tr), _off(&_tr.trade_id, &_tr),
     _off(&_tr.price, &_tr), _off(&_tr.size, &_tr), _off(&_tr.instrument_id, &_tr),
     _off(&_tr.side, &_tr), _off(&_tr.flags, &_tr)],
    sizeof(TradeRecord))
BBO_DTYPE = _dtype(
    ["exchange_ts", "local_ts", "sequence", "bid_price", "bid_size", "ask_price", "ask_size",
     "instrument_id", "flags"],
    ["<i8", "<i8", "<i8", "<i8", "<i8", "<i8", "<i8", "<u4", "<u4"],
    [_off(&_bb.exchange_ts, &_bb), _off(&_bb.local_ts, &_bb), _off(&_bb.sequence, &_bb),
     _off(&_bb.bid_price, &_bb), _off(&_bb.bid_size, &_bb), _off(&_bb.ask_price, &_bb),
     _off(&_bb.ask_size, &_bb), _off(&_bb.instrument_id, &_bb), _off(&_bb.flags, &_bb)],
    sizeof(BBORecord))
ORDER_UPDATE_DTYPE = _dtype(
    ["exchange_ts", "local_ts", "transact_ts", "venue_order_id", "trade_id", "price", "size",
     "filled_size", "avg_price", "last_fill_price", "last_fill_size", "fee", "instrument_id",
     "side", "status", "order_type", "flags", "client_order_id", "venue_order_id_text",
     "trade_id_text", "fee_asset"],
    ["<i8"] * 12 + ["<u4", "u1", "u1", "u1", "u1", f"S{T.ORDER_ID_LEN}", f"S{T.ORDER_ID_LEN}",
                    f"S{T.ORDER_ID_LEN}", f"S{T.ASSET_LEN}"],
    [_off(&_ou.exchange_ts, &_ou), _off(&_ou.local_ts, &_ou), _off(&_ou.transact_ts, &_ou),
     _off(&_ou.venue_order_id, &_ou), _off(&_ou.trade_id, &_ou), _off(&_ou.price, &_ou),
     _off(&_ou.size, &_ou), _off(&_ou.filled_size, &_ou), _off(&_ou.avg_price, &_ou),
     _off(&_ou.last_fill_price, &_ou), _off(&_ou.last_fill_size, &_ou), _off(&_ou.fee, &_ou),
     _off(&_ou.instrument_id, &_ou), _off(&_ou.side, &_ou), _off(&_ou.status, &_ou),
     _off(&_ou.order_type, &_ou), _off(&_ou.flags, &_ou), _off(&_ou.client_order_id, &_ou),
     _off(&_ou.venue_order_id_text, &_ou), _off(&_ou.trade_id_text, &_ou),
     _off(&_ou.fee_asset, &_ou)],
    sizeof(OrderUpdate))
assert sizeof(_ou.client_order_id) == T.ORDER_ID_LEN and sizeof(_ou.fee_asset) == T.ASSET_LEN
BOOK_SPAN_DTYPE = _dtype(
    ["exchange_ts", "first_seq", "last_seq", "prev_seq", "cross_seq", "checksum", "first_delta",
     "n_deltas", "instrument_id", "flags"],
    ["<i8"] * 8 + ["<u4", "<u4"],
    [_off(&_sp.exchange_ts, &_sp), _off(&_sp.first_seq, &_sp), _off(&_sp.last_seq, &_sp),
     _off(&_sp.prev_seq, &_sp), _off(&_sp.cross_seq, &_sp), _off(&_sp.checksum, &_sp),
     _off(&_sp.first_delta, &_sp), _off(&_sp.n_deltas, &_sp), _off(&_sp.instrument_id, &_sp),
     _off(&_sp.flags, &_sp)],
    sizeof(BookSpan))


# ---------------------------------------------------------------------------------------------
# Record batches
# ---------------------------------------------------------------------------------------------

cdef int batch_grow(DecState* d, void** buf, Py_ssize_t* cap, size_t item) noexcept nogil:
    cdef Py_ssize_t ncap
    cdef void* nb
    if cap[0] > (<Py_ssize_t>1 << 40):
        return -1
    ncap = cap[0] * 2 if cap[0] > 0 else 64
    if <size_t>ncap > (<size_t>INT64_MAX) // item:
        return -1
    if d.exports > 0:
        # numpy views may point into the old buffer: copy, and retire it until they are gone
        if d.n_retired == RETIRED_MAX:
            return -1
        nb = PyMem_RawMalloc(<size_t>ncap * item)
        if nb == NULL:
            return -1
        if cap[0] > 0:
            memcpy(nb, buf[0], <size_t>cap[0] * item)
        d.retired[d.n_retired] = buf[0]
        d.n_retired += 1
    else:
        nb = PyMem_RawRealloc(buf[0], <size_t>ncap * item)
        if nb == NULL:
            return -1
    buf[0] = nb
    cap[0] = ncap
    return 0


cdef int symbol_table_add(SymbolTable* t, const char* name, Py_ssize_t n, uint32_t instrument_id,
                          int price_decimals, int size_decimals) noexcept nogil:
    cdef SymbolEntry* e = symbol_find(t, name, n)
    cdef SymbolEntry* entries
    cdef Py_ssize_t i, newcap
    cdef uint64_t j, mask
    if n <= 0 or n > SYMBOL_MAX:
        return -1
    if e != NULL:
        if (e.instrument_id == instrument_id and e.price_decimals == price_decimals
                and e.size_decimals == size_decimals):
            return SYMBOL_SAME
        return SYMBOL_CONFLICT
    if (t.count + 1) * 2 > t.capacity:                   # keep the load factor <= 1/2
        newcap = t.capacity * 2 if t.capacity else 16
        entries = <SymbolEntry*>PyMem_RawMalloc(<size_t>newcap * sizeof(SymbolEntry))
        if entries == NULL:
            return -1
        memset(entries, 0, <size_t>newcap * sizeof(SymbolEntry))
        mask = <uint64_t>newcap - 1
        for i in range(t.capacity):
            if t.entries[i].used:
                j = symbol_hash(t.entries[i].name, t.entries[i].length) & mask
                while entries[j].used:
                    j = (j + 1) & mask
                entries[j] = t.entries[i]
        PyMem_RawFree(t.entries)
        t.entries = entries
        t.capacity = newcap
    mask = <uint64_t>t.capacity - 1
    j = symbol_hash(name, n) & mask
    while t.entries[j].used:
        j = (j + 1) & mask
    e = &t.entries[j]
    memcpy(e.name, name, <size_t>n)
    e.name[n] = 0
    e.length = <int>n
    e.used = 1
    e.instrument_id = instrument_id
    e.price_decimals = price_decimals
    e.size_decimals = size_decimals
    t.count += 1
    return SYMBOL_ADDED
