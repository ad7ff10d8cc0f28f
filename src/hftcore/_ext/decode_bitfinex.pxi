# Bitfinex websocket v2.  Events are objects ({"event":"info"|"conf"|"subscribed"|
# "unsubscribed"|"error"|"pong",...}); channel data are arrays that name a channel id the
# "subscribed" event gave: [chanId, payload(, seq)] and [chanId, "te"|"tu"|"hb"|"cs", ..(, seq)].
# With the conf flag 65536 (SEQ_ALL) every channel message ends with the connection's sequence
# number (INFO_HAS_SEQ, last_seq: Feed checks seq == previous + 1 over the connection).
# book (P0..P4): [price, count, amount] levels, amount > 0 a bid, < 0 an ask, count 0 deletes
# the level (amount 1: from the bids, -1: from the asks); a list of levels is the snapshot.
# trades: a list of [id, mts, amount, price] on subscription is history (TRADE_SNAPSHOT), then
# "te" (new trade; amount > 0: the taker bought) and "tu" (the same trade again: OTHER).
# ticker: [BID, BID_SIZE, ASK, ASK_SIZE, ...] as BBO without sizes (BID_SIZE / ASK_SIZE are
# sums over 25 levels, not the best level's).  "cs": the book checksum message (its value in
# Decoder.checksum; the book is not checked against it yet).  Raw books (R0), candles and the
# account channel 0 are OTHER.  Prices and amounts are JSON numbers: their exact text is read.
from libc.stdint cimport int64_t, uint64_t, uint8_t, INT64_MIN
from libc.string cimport memcpy
from hftcore._ext.types cimport (
    TradeRecord, BBORecord, SIDE_BID, SIDE_ASK, BBO_NO_BID, BBO_NO_ASK, BBO_NO_SIZE,
    TRADE_SNAPSHOT,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, push_trade, push_bbo, SYMBOL_MAX,
    K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_UNKNOWN_SYMBOL, K_HEARTBEAT,
    K_SUBSCRIBED, K_VENUE_ERROR, K_STATUS, K_OTHER, E_TYPE, E_SHAPE, E_CAPACITY, E_NUMBER,
    E_TOO_LONG, E_MISSING, INFO_HAS_SEQ, INFO_HAS_CHECKSUM,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, JSON_STRING, JSON_NUMBER, JSON_ARRAY, scan_fail, scan_sub,
    scan_lift_error, scan_skip_ws, scan_array_open, scan_array_next, scan_value, scan_int,
    scan_number, scan_peek_keys, text_is, decimal_text, int_text,
)
from hftcore._ext.decode_common cimport (
    span_open, span_close, symbol_lookup, push_level, fail_missing, fail_unexpected,
    finish_control, collect_fields, field_is, field_int, field_ms, negate_checked,
)

cdef enum:
    BFX_ELEMENTS = 5            # a channel message has at most 5 elements


cdef int bfx_signed(Scan* sc, int decimals, int64_t* out) noexcept nogil:
    """A JSON number (not text), negative allowed, at decimals."""
    cdef const char* s
    cdef Py_ssize_t n
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'"':
        return scan_fail(sc, E_TYPE, sc.p)
    if scan_number(sc, &s, &n) < 0:
        return -1
    return decimal_text(sc, s, n, decimals, True, out)


cdef int bfx_level(DecState* d, Scan* sc, SymbolEntry* sym, bint snapshot) noexcept nogil:
    """[price, count, amount] -> one delta: the side from the amount's sign, count 0 deletes."""
    cdef int st = 0, r, side
    cdef int64_t px, count, amount, sz
    cdef const char* at
    if scan_array_open(sc) < 0:
        return -1
    r = scan_array_next(sc, &st)
    if r <= 0:
        return scan_fail(sc, E_SHAPE, sc.p) if r == 0 else -1
    scan_skip_ws(sc)
    at = sc.p
    if bfx_signed(sc, sym.price_decimals, &px) < 0:
        return -1
    if px <= 0:
        return scan_fail(sc, E_NUMBER, at)
    r = scan_array_next(sc, &st)
    if r <= 0:
        return scan_fail(sc, E_SHAPE, sc.p) if r == 0 else -1
    scan_skip_ws(sc)
    at = sc.p
    if scan_int(sc, &count) < 0:
        return -1
    if count < 0:
        return scan_fail(sc, E_NUMBER, at)
    r = scan_array_next(sc, &st)
    if r <= 0:
        return scan_fail(sc, E_SHAPE, sc.p) if r == 0 else -1
    scan_skip_ws(sc)
    at = sc.p
    if bfx_signed(sc, sym.size_decimals, &amount) < 0:
        return -1
    if scan_array_next(sc, &st) != 0:
        return scan_fail(sc, E_SHAPE, sc.p)                # more than three elements
    if amount == 0:
        return scan_fail(sc, E_NUMBER, at)                 # no side
    side = SIDE_BID if amount > 0 else SIDE_ASK
    if count == 0:
        if snapshot:
            return scan_fail(sc, E_NUMBER, at)             # a deletion inside a snapshot
        sz = 0
    elif negate_checked(sc, amount, at, &sz) < 0:
        return -1
    elif amount > 0:
        sz = amount
    return push_level(d, sc, sym, side, px, sz, 0, 0)


cdef int bfx_book(DecState* d, Scan* sc, SymbolEntry* sym, int64_t seq,
                  bint has_seq) noexcept nogil:
    """[[p,c,a], ...] (snapshot) or [p,c,a] (update)."""
    cdef Scan peek = sc[0]
    cdef int st = 0, r
    cdef bint snap
    cdef Py_ssize_t span
    cdef BookSpan* sp
    d.info.what = b"book"
    if scan_array_open(&peek) < 0:
        return scan_lift_error(sc, &peek)
    scan_skip_ws(&peek)
    snap = peek.p < peek.end and (peek.p[0] == b'[' or peek.p[0] == b']')
    span = span_open(d, sc, sym)
    if span < 0:
        return -1
    if snap:
        if scan_array_open(sc) < 0:
            return -1
        while True:
            r = scan_array_next(sc, &st)
            if r == 0:
                break
            if r < 0 or bfx_level(d, sc, sym, True) < 0:
                return -1
    elif bfx_level(d, sc, sym, False) < 0:
        return -1
    sp = span_close(d, sc, span, 0, seq if has_seq else 0, snap)
    if sp == NULL:
        return -1
    return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE


cdef int bfx_trade(DecState* d, Scan* sc, SymbolEntry* sym, bint history) noexcept nogil:
    """[id, mts, amount, price]: amount > 0 when the taker bought."""
    cdef int st = 0, r, i = 0
    cdef Field v[4]
    cdef TradeRecord* t
    cdef int64_t amount
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            break
        if r < 0:
            return -1
        if i == 4:
            return scan_fail(sc, E_SHAPE, sc.p)            # funding trades: 5 elements
        if scan_value(sc, 1, &v[i]) < 0:
            return -1
        if v[i].type != JSON_NUMBER:
            return scan_fail(sc, E_TYPE, v[i].s)
        i += 1
    if i != 4:
        return scan_fail(sc, E_SHAPE, sc.p - 1)
    t = push_trade(d)
    if t == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_int(sc, &v[0], &t.trade_id) < 0 or field_ms(sc, &v[1], &t.exchange_ts) < 0
            or decimal_text(sc, v[2].s, v[2].n, sym.size_decimals, True, &amount) < 0
            or decimal_text(sc, v[3].s, v[3].n, sym.price_decimals, False, &t.price) < 0):
        return -1
    if amount == 0 or t.price == 0:
        return scan_fail(sc, E_NUMBER, v[2].s if amount == 0 else v[3].s)
    if amount > 0:
        t.side = SIDE_BID
        t.size = amount
    else:
        t.side = SIDE_ASK
        if negate_checked(sc, amount, v[2].s, &t.size) < 0:
            return -1
    if history:
        t.flags |= TRADE_SNAPSHOT
    t.instrument_id = sym.instrument_id
    if t.exchange_ts > d.info.exchange_ts:
        d.info.exchange_ts = t.exchange_ts
    return K_TRADE


cdef int bfx_trades(DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
    """The history sent on subscription: [[id, mts, amount, price], ...]."""
    cdef int st = 0, r
    d.info.what = b"trades"
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            break
        if r < 0 or bfx_trade(d, sc, sym, True) < 0:
            return -1
    return K_TRADE if d.info.n_trades else K_OTHER


cdef int bfx_ticker(DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
    """[BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME,
    HIGH, LOW]: the prices as BBO (BBO_NO_SIZE)."""
    cdef int st = 0, r, i = 0
    cdef Field v[10]
    cdef BBORecord* b
    d.info.what = b"ticker"
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            break
        if r < 0:
            return -1
        if i == 10:
            return scan_fail(sc, E_SHAPE, sc.p)
        if scan_value(sc, 1, &v[i]) < 0:
            return -1
        if v[i].type != JSON_NUMBER:
            return scan_fail(sc, E_TYPE, v[i].s)
        i += 1
    if i != 10:
        return scan_fail(sc, E_SHAPE, sc.p - 1)
    b = push_bbo(d)
    if b == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (decimal_text(sc, v[0].s, v[0].n, sym.price_decimals, False, &b.bid_price) < 0
            or decimal_text(sc, v[2].s, v[2].n, sym.price_decimals, False, &b.ask_price) < 0):
        return -1
    b.flags |= BBO_NO_SIZE
    if b.bid_price == 0:
        b.flags |= BBO_NO_BID
    if b.ask_price == 0:
        b.flags |= BBO_NO_ASK
    b.instrument_id = sym.instrument_id
    return K_BBO


# ---------------------------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------------------------

cdef enum:
    BFX_BOOK = 1
    BFX_TRADES = 2
    BFX_TICKER = 3
    BFX_OTHER = 4


cdef int bfx_subscribed(DecState* d, Scan* sc, BfxChannels* chans) noexcept nogil:
    """{"event":"subscribed","channel","chanId","symbol"(,"prec",...)}: remember the channel."""
    cdef const char* names[4]
    cdef Field v[4]
    cdef uint64_t f
    cdef int64_t cid
    cdef int kind, i
    cdef BfxChannel* c = NULL
    names[0] = b"channel"; names[1] = b"chanId"; names[2] = b"symbol"; names[3] = b"prec"
    if collect_fields(d, sc, names, 4, v, &f) < 0:
        return -1
    if (f & 3) != 3:
        return fail_missing(sc)
    if v[1].type != JSON_NUMBER or field_int(sc, &v[1], &cid) < 0 or cid <= 0:
        return scan_fail(sc, E_NUMBER, v[1].s)
    if field_is(&v[0], b"book") and not (v[3].type == JSON_STRING and v[3].n == 2
                                          and v[3].s[0] == b'R'):
        kind = BFX_BOOK                                    # (R0: raw books, by order)
    elif field_is(&v[0], b"trades"):
        kind = BFX_TRADES
    elif field_is(&v[0], b"ticker"):
        kind = BFX_TICKER
    else:
        kind = BFX_OTHER
    if kind != BFX_OTHER and (v[2].type != JSON_STRING or v[2].n == 0 or v[2].n > SYMBOL_MAX):
        return scan_fail(sc, E_SHAPE, v[2].s if v[2].s != NULL else sc.p)
    for i in range(chans.count):
        if chans.items[i].id == cid:
            c = &chans.items[i]                            # subscribed again: replaced
            break
    if c == NULL:
        if chans.count == BFX_CHANNELS_MAX:
            return scan_fail(sc, E_TOO_LONG, v[1].s)       # more channels than a connection has
        c = &chans.items[chans.count]
        chans.count += 1
    c.id = cid
    c.kind = kind
    c.sym_len = <int>v[2].n if kind != BFX_OTHER else 0
    if c.sym_len:
        memcpy(c.sym, v[2].s, <size_t>c.sym_len)
    return K_SUBSCRIBED


cdef int bfx_unsubscribed(DecState* d, Scan* sc, BfxChannels* chans) noexcept nogil:
    cdef const char* names[1]
    cdef Field v[1]
    cdef uint64_t f
    cdef int64_t cid
    cdef int i
    names[0] = b"chanId"
    if collect_fields(d, sc, names, 1, v, &f) < 0:
        return -1
    if not (f & 1):
        return fail_missing(sc)
    if v[0].type != JSON_NUMBER or field_int(sc, &v[0], &cid) < 0:
        return scan_fail(sc, E_NUMBER, v[0].s)
    for i in range(chans.count):
        if chans.items[i].id == cid:
            chans.count -= 1
            chans.items[i] = chans.items[chans.count]
            break
    return K_SUBSCRIBED


cdef int bfx_event(DecState* d, Scan* sc, BfxChannels* chans) noexcept nogil:
    cdef const char* names[1]
    cdef Field v[1]
    cdef uint64_t f
    names[0] = b"event"
    d.info.what = b"event"
    if scan_peek_keys(sc, names, 1, v, &f, 1) < 0:
        return -1
    if not (f & 1):
        return fail_unexpected(sc)
    if field_is(&v[0], b"subscribed"):
        return bfx_subscribed(d, sc, chans)
    if field_is(&v[0], b"unsubscribed"):
        return bfx_unsubscribed(d, sc, chans)
    if field_is(&v[0], b"conf"):
        return finish_control(sc, K_SUBSCRIBED)
    if field_is(&v[0], b"error"):
        return finish_control(sc, K_VENUE_ERROR)
    if field_is(&v[0], b"pong"):
        return finish_control(sc, K_HEARTBEAT)
    if field_is(&v[0], b"info"):
        return finish_control(sc, K_STATUS)
    return finish_control(sc, K_OTHER)                     # auth, ...


cdef int bfx_seq(Scan* sc, const Field* f, int64_t* out) noexcept nogil:
    if f.type != JSON_NUMBER or field_int(sc, f, out) < 0:
        return scan_fail(sc, E_TYPE if f.type != JSON_NUMBER else E_NUMBER, f.s)
    if out[0] < 0:
        return scan_fail(sc, E_NUMBER, f.s)
    return 0


cdef int bfx_channel(DecState* d, Scan* sc, BfxChannels* chans) noexcept nogil:
    """[chanId, payload(, seq)] / [chanId, "te"|"tu"|"hb"|"cs", ..(, seq)]"""
    cdef Field e[BFX_ELEMENTS]
    cdef int st = 0, r, n = 0, i, kind, nseq
    cdef int64_t cid, seq = 0
    cdef bint has_seq
    cdef BfxChannel* c = NULL
    cdef SymbolEntry* sym
    cdef Scan sub
    d.info.what = b"channel"
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            break
        if r < 0:
            return -1
        if n == BFX_ELEMENTS:
            return scan_fail(sc, E_SHAPE, sc.p)
        if scan_value(sc, 1, &e[n]) < 0:
            return -1
        n += 1
    if n < 2:
        return scan_fail(sc, E_SHAPE, sc.base)
    if e[0].type != JSON_NUMBER or field_int(sc, &e[0], &cid) < 0 or cid < 0:
        return scan_fail(sc, E_TYPE, e[0].s)
    # elements the message form has before its sequence number
    if e[1].type == JSON_STRING:
        if field_is(&e[1], b"hb"):
            nseq = 2
        elif field_is(&e[1], b"te") or field_is(&e[1], b"tu") or field_is(&e[1], b"cs"):
            nseq = 3
        elif cid == 0:
            return K_OTHER                                 # the account channel
        else:
            return scan_fail(sc, E_SHAPE, e[1].s)
    elif e[1].type == JSON_ARRAY:
        nseq = 2
    else:
        return scan_fail(sc, E_TYPE, e[1].s)
    if cid == 0:
        return K_OTHER                                     # account: orders, trades, wallets
    if n < nseq or n > nseq + 1:
        return scan_fail(sc, E_SHAPE, sc.base)
    has_seq = n == nseq + 1
    if has_seq:
        if bfx_seq(sc, &e[nseq], &seq) < 0:
            return -1
        d.info.first_seq = seq
        d.info.last_seq = seq
        d.info.flags |= INFO_HAS_SEQ
    if field_is(&e[1], b"hb"):
        d.info.what = b"hb"
        return K_HEARTBEAT
    for i in range(chans.count):
        if chans.items[i].id == cid:
            c = &chans.items[i]
            break
    if c == NULL or c.kind == BFX_OTHER:
        # a channel whose subscription this decoder did not see (or candles, status, ...)
        return K_OTHER
    if field_is(&e[1], b"cs"):
        d.info.what = b"cs"
        if c.kind != BFX_BOOK or e[2].type != JSON_NUMBER or field_int(sc, &e[2], &seq) < 0:
            return scan_fail(sc, E_SHAPE, e[2].s)
        d.info.checksum = seq
        d.info.flags |= INFO_HAS_CHECKSUM
        return K_STATUS
    sym = symbol_lookup(d, c.sym, c.sym_len)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    if e[1].type == JSON_STRING:                           # "te" / "tu"
        d.info.what = b"te"
        if c.kind != BFX_TRADES or e[2].type != JSON_ARRAY:
            return scan_fail(sc, E_SHAPE, e[1].s)
        scan_sub(sc, &sub, e[2].s)
        if bfx_trade(d, &sub, sym, False) < 0:
            return scan_lift_error(sc, &sub)
        if field_is(&e[1], b"tu"):
            d.info.n_trades = 0                            # the same trade again
            return K_OTHER
        return K_TRADE
    scan_sub(sc, &sub, e[1].s)
    if c.kind == BFX_BOOK:
        kind = bfx_book(d, &sub, sym, seq, has_seq)
    elif c.kind == BFX_TRADES:
        kind = bfx_trades(d, &sub, sym)
    else:
        kind = bfx_ticker(d, &sub, sym)
    if kind < 0:
        return scan_lift_error(sc, &sub)
    return kind


@cython.final
cdef class BitfinexDecoder(Decoder):
    """Bitfinex websocket v2: channel ids mapped from the ``subscribed`` events the decoder
    sees; ``book`` P0..P4 (``[price, count, amount]``: the amount's sign gives the side, count
    0 deletes), ``trades`` (history: ``TradeFlag.SNAPSHOT``; ``te`` new trades, ``tu`` OTHER),
    ``ticker`` as BBO without sizes, ``hb`` heartbeats; with the conf flag 65536 every channel
    message's sequence number (``last_seq``).  ``reset_channels()`` forgets the channel ids (a
    new connection)."""

    VENUE = "bitfinex"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        scan_skip_ws(sc)
        if sc.p < sc.end and sc.p[0] == b'[':
            return bfx_channel(d, sc, &self.chans)
        if sc.p < sc.end and sc.p[0] == b'{':
            return bfx_event(d, sc, &self.chans)
        return fail_unexpected(sc)

    def reset_channels(self):
        """Forget the channel ids of the connection (call on a new connection)."""
        self._guard()
        self.chans.count = 0

    @property
    def channels(self):
        """channel id -> (kind, symbol) of the subscriptions seen."""
        cdef int i
        cdef BfxChannel* c
        out = {}
        for i in range(self.chans.count):
            c = &self.chans.items[i]
            out[c.id] = (("", "book", "trades", "ticker", "other")[c.kind],
                         c.sym[:c.sym_len].decode())
        return out
