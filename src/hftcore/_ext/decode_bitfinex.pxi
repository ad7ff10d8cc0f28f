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
# sums over 25 levels, not the best level's).  "cs": the book checksum message (conf flag
# 131072; its value in Decoder.checksum, its book in instrument_id: `verify` checks it, and
# Feed turns it into an EV_CHECKSUM event the engine checks).  Raw books (R0) and candles are
# OTHER.  The account channel 0: orders ("os", "on", "ou", "oc") and own trades ("te": the fill,
# "tu": its fee), [0, word, payload(, seq, auth seq)]; wallets, positions, ... are OTHER.  Prices and amounts are JSON numbers: their exact text is read.
from libc.stdint cimport int64_t, uint64_t, uint8_t, INT64_MIN
from libc.string cimport memcpy
from hftcore._ext.types cimport (
    TradeRecord, BBORecord, OrderUpdate, SIDE_BID, SIDE_ASK, BBO_NO_BID, BBO_NO_ASK, BBO_NO_SIZE,
    TRADE_SNAPSHOT, ORDER_IS_FILL, ORDER_IS_MAKER, ORDER_HAS_FEE, ORDER_ID_LEN, ASSET_LEN,
    ORDER_STATUS_ACCEPTED, ORDER_STATUS_PARTIALLY_FILLED, ORDER_STATUS_FILLED,
    ORDER_STATUS_CANCELED, ORDER_STATUS_REJECTED, ORDER_STATUS_UNKNOWN, ORDER_TYPE_LIMIT,
    ORDER_TYPE_MARKET, ORDER_TYPE_STOP_MARKET, ORDER_TYPE_STOP_LIMIT, ORDER_TYPE_LIMIT_MAKER,
    ORDER_TYPE_UNKNOWN,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, push_trade, push_bbo, push_order, SYMBOL_MAX,
    K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_ORDER, K_UNKNOWN_SYMBOL, K_HEARTBEAT,
    K_SUBSCRIBED, K_VENUE_ERROR, K_STATUS, K_OTHER, E_TYPE, E_SHAPE, E_CAPACITY, E_NUMBER,
    E_TOO_LONG, E_MISSING, INFO_HAS_SEQ, INFO_HAS_CHECKSUM, INFO_NEW_CONNECTION,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, JSON_STRING, JSON_NUMBER, JSON_ARRAY, scan_fail, scan_sub,
    scan_lift_error, scan_skip_ws, scan_array_open, scan_array_next, scan_value, scan_int,
    scan_number, scan_peek_keys, text_is, text_starts, decimal_text, int_text, copy_text,
    id_text, hft_number_fast, scan_object_open, scan_object_key, scan_skip_value,
)
from hftcore._ext.decode_common cimport (
    span_open, span_close, symbol_lookup, push_level, fail_missing, fail_unexpected, require_end,
    finish_control, collect_fields, field_is, field_int, field_ms, negate_checked, field_text,
    field_id, field_starts,
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


cdef inline const char* bfx_level_fast(const char* p, const char* end, int pd, int qd,
                                       bint snapshot, int* side, int64_t* px,
                                       int64_t* sz) noexcept nogil:
    """[price,count,amount] written compactly with plain numbers, in one pass: the position
    after its ']', or NULL for anything else -- bfx_level then reads it and reports errors."""
    cdef const char* after
    cdef int64_t count, amount
    if p >= end or p[0] != b'[':
        return NULL
    if not hft_number_fast(p + 1, end, pd, 0, px, &after) or after[0] != b',' or px[0] <= 0:
        return NULL
    if not hft_number_fast(after + 1, end, 0, 0, &count, &after) or after[0] != b',':
        return NULL
    if (not hft_number_fast(after + 1, end, qd, 1, &amount, &after) or after[0] != b']'
            or amount == 0 or (count == 0 and snapshot)):
        return NULL
    if amount > 0:
        side[0] = SIDE_BID
        sz[0] = amount if count else 0
    else:
        side[0] = SIDE_ASK
        sz[0] = -amount if count else 0           # (|amount| < 10^18: no overflow)
    return after + 1


cdef int bfx_book(DecState* d, Scan* sc, SymbolEntry* sym, int64_t seq,
                  bint has_seq) noexcept nogil:
    """[[p,c,a], ...] (snapshot) or [p,c,a] (update)."""
    cdef Scan peek = sc[0]
    cdef int st = 0, r, side
    cdef bint snap
    cdef Py_ssize_t span
    cdef BookSpan* sp
    cdef const char* q
    cdef int64_t px, sz
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
            if r < 0:
                return -1
            q = bfx_level_fast(sc.p, sc.end, sym.price_decimals, sym.size_decimals, True,
                               &side, &px, &sz)
            if q != NULL:
                sc.p = q
                if push_level(d, sc, sym, side, px, sz, 0, 0) < 0:
                    return -1
            elif bfx_level(d, sc, sym, True) < 0:
                return -1
    else:
        q = bfx_level_fast(sc.p, sc.end, sym.price_decimals, sym.size_decimals, False,
                           &side, &px, &sz)
        if q != NULL:
            sc.p = q
            if push_level(d, sc, sym, side, px, sz, 0, 0) < 0:
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
# Account channel 0: orders ("os" snapshot, "on" / "ou" / "oc") and own trades ("te" / "tu")
# ---------------------------------------------------------------------------------------------

cdef enum:
    BFX_ORDER_FIELDS = 32       # an order array has 32 elements; more are validated, not kept


cdef int bfx_fields(Scan* sc, Field* v, int cap, int* count) noexcept nogil:
    """An array's elements into v[0:cap] (the rest validated); count: how many there were."""
    cdef int st = 0, r, n = 0
    cdef Field skip
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            break
        if r < 0 or scan_value(sc, 1, &v[n] if n < cap else &skip) < 0:
            return -1
        n += 1
    count[0] = n
    return 0


cdef uint8_t bfx_order_status(const Field* v) noexcept nogil:
    """"ACTIVE", "EXECUTED @ 107.6(-0.2)", "PARTIALLY FILLED @ ...", "CANCELED", "CANCELED
    was: PARTIALLY FILLED @ ...", "INSUFFICIENT MARGIN ...", "RSN_..." (rejections)."""
    if v.type != JSON_STRING:
        return ORDER_STATUS_UNKNOWN
    if field_starts(v, b"ACTIVE"):
        return ORDER_STATUS_ACCEPTED
    if field_starts(v, b"EXECUTED"):
        return ORDER_STATUS_FILLED
    if field_starts(v, b"PARTIALLY FILLED"):
        return ORDER_STATUS_PARTIALLY_FILLED
    if field_starts(v, b"CANCELED") or field_starts(v, b"POSTONLY CANCELED") \
            or field_starts(v, b"IOC CANCELED") or field_starts(v, b"FILLORKILL CANCELED"):
        return ORDER_STATUS_CANCELED
    if field_starts(v, b"INSUFFICIENT") or field_starts(v, b"RSN_"):
        return ORDER_STATUS_REJECTED
    return ORDER_STATUS_UNKNOWN


cdef uint8_t bfx_order_type(const Field* v, int64_t flags) noexcept nogil:
    cdef const char* s = v.s
    cdef Py_ssize_t n = v.n
    if v.type != JSON_STRING:
        return ORDER_TYPE_UNKNOWN
    if text_starts(s, n, b"EXCHANGE "):
        s += 9
        n -= 9
    if text_is(s, n, b"LIMIT") or text_is(s, n, b"FOK") or text_is(s, n, b"IOC"):
        return ORDER_TYPE_LIMIT_MAKER if flags & 4096 else ORDER_TYPE_LIMIT    # 4096: post-only
    if text_is(s, n, b"MARKET"):
        return ORDER_TYPE_MARKET
    if text_is(s, n, b"STOP") or text_is(s, n, b"TRAILING STOP"):
        return ORDER_TYPE_STOP_MARKET
    if text_is(s, n, b"STOP LIMIT"):
        return ORDER_TYPE_STOP_LIMIT
    return ORDER_TYPE_UNKNOWN


cdef int bfx_abs(Scan* sc, const Field* f, int decimals, int64_t* out, int* sign) noexcept nogil:
    """A signed JSON number -> its absolute value at decimals and its sign (1 / -1 / 0)."""
    cdef int64_t v
    if f.type != JSON_NUMBER:
        return scan_fail(sc, E_TYPE, f.s) if f.type != JSON_ABSENT else fail_missing(sc)
    if decimal_text(sc, f.s, f.n, decimals, True, &v) < 0:
        return -1
    sign[0] = 1 if v > 0 else (-1 if v < 0 else 0)
    if v < 0:
        return negate_checked(sc, v, f.s, out)
    out[0] = v
    return 0


cdef int bfx_order(DecState* d, Scan* sc, bint* unknown) noexcept nogil:
    """[ID, GID, CID, SYMBOL, MTS_CREATE, MTS_UPDATE, AMOUNT (left), AMOUNT_ORIG, ORDER_TYPE,
    TYPE_PREV, MTS_TIF, _, FLAGS, ORDER_STATUS, _, _, PRICE, PRICE_AVG, ...]"""
    cdef Field v[BFX_ORDER_FIELDS]
    cdef int n, sign, sign_orig
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    cdef int64_t left, flags = 0
    if bfx_fields(sc, v, BFX_ORDER_FIELDS, &n) < 0:
        return -1
    if n < 18:
        return scan_fail(sc, E_SHAPE, sc.p - 1)
    if v[3].type != JSON_STRING:
        return scan_fail(sc, E_TYPE, v[3].s)
    sym = symbol_lookup(d, v[3].s, v[3].n)
    if sym == NULL:
        unknown[0] = True
        return 0
    o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_id(sc, &v[0], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
            or field_ms(sc, &v[5], &o.exchange_ts) < 0
            or bfx_abs(sc, &v[6], sym.size_decimals, &left, &sign) < 0
            or bfx_abs(sc, &v[7], sym.size_decimals, &o.size, &sign_orig) < 0):
        return -1
    if sign_orig == 0:
        return scan_fail(sc, E_NUMBER, v[7].s)             # no side
    if left > o.size:
        return scan_fail(sc, E_NUMBER, v[6].s)             # more left than ordered
    o.side = SIDE_BID if sign_orig > 0 else SIDE_ASK
    o.filled_size = o.size - left
    if v[12].type == JSON_NUMBER and field_int(sc, &v[12], &flags) < 0:
        return -1
    if v[16].type == JSON_NUMBER:
        if decimal_text(sc, v[16].s, v[16].n, sym.price_decimals, False, &o.price) < 0:
            return -1
    if v[17].type == JSON_NUMBER:
        if decimal_text(sc, v[17].s, v[17].n, sym.price_decimals, False, &o.avg_price) < 0:
            return -1
    o.status = bfx_order_status(&v[13])
    o.order_type = bfx_order_type(&v[8], flags)
    o.transact_ts = o.exchange_ts
    o.instrument_id = sym.instrument_id
    if o.exchange_ts > d.info.exchange_ts:
        d.info.exchange_ts = o.exchange_ts
    return 0


cdef int bfx_own_trade(DecState* d, Scan* sc, bint update) noexcept nogil:
    """[ID, SYMBOL, MTS, ORDER_ID, EXEC_AMOUNT, EXEC_PRICE, ORDER_TYPE, ORDER_PRICE, MAKER (1 /
    -1), FEE, FEE_CURRENCY, CID]: "te" reports the fill, "tu" the same fill with its fee (a
    record without ORDER_IS_FILL: the fee of a fill already reported)."""
    cdef Field v[12]
    cdef int n, sign
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    cdef int64_t maker = 0, fee
    if bfx_fields(sc, v, 12, &n) < 0:
        return -1
    if n < 9:
        return scan_fail(sc, E_SHAPE, sc.p - 1)
    if v[1].type != JSON_STRING:
        return scan_fail(sc, E_TYPE, v[1].s)
    sym = symbol_lookup(d, v[1].s, v[1].n)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_id(sc, &v[0], o.trade_id_text, ORDER_ID_LEN, &o.trade_id) < 0
            or field_ms(sc, &v[2], &o.exchange_ts) < 0
            or field_id(sc, &v[3], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or bfx_abs(sc, &v[4], sym.size_decimals, &o.last_fill_size, &sign) < 0):
        return -1
    if sign == 0:
        return scan_fail(sc, E_NUMBER, v[4].s)
    if v[5].type != JSON_NUMBER:
        return scan_fail(sc, E_TYPE, v[5].s)
    if decimal_text(sc, v[5].s, v[5].n, sym.price_decimals, False, &o.last_fill_price) < 0:
        return -1
    if v[7].type == JSON_NUMBER:
        if decimal_text(sc, v[7].s, v[7].n, sym.price_decimals, False, &o.price) < 0:
            return -1
    if v[8].type == JSON_NUMBER and field_int(sc, &v[8], &maker) < 0:
        return -1
    o.side = SIDE_BID if sign > 0 else SIDE_ASK
    o.order_type = bfx_order_type(&v[6], 0)
    o.status = ORDER_STATUS_UNKNOWN                        # (the order's own update says it)
    if maker == 1:
        o.flags |= ORDER_IS_MAKER
    if n > 11 and field_text(sc, &v[11], o.client_order_id, ORDER_ID_LEN) < 0:
        return -1
    if update:
        if n < 11 or v[9].type != JSON_NUMBER:
            return scan_fail(sc, E_SHAPE, sc.p - 1)
        if (decimal_text(sc, v[9].s, v[9].n, d.fee_decimals, True, &fee) < 0
                or field_text(sc, &v[10], o.fee_asset, ASSET_LEN) < 0):
            return -1
        if fee == INT64_MIN:
            return scan_fail(sc, E_NUMBER, v[9].s)
        o.fee = -fee                                       # Bitfinex: a fee paid is negative
        o.flags |= ORDER_HAS_FEE
    else:
        o.flags |= ORDER_IS_FILL
    o.transact_ts = o.exchange_ts
    o.instrument_id = sym.instrument_id
    d.info.exchange_ts = o.exchange_ts
    return K_ORDER


cdef int bfx_account(DecState* d, Scan* sc, const Field* word, const Field* payload) noexcept nogil:
    """Channel 0: "os" [[order], ..], "on" / "ou" / "oc" [order], "te" / "tu" [trade]; other
    words (wallets, positions, notifications, ...) are OTHER."""
    cdef Scan sub
    cdef int st = 0, r, kind
    cdef bint unknown = False
    d.info.what = b"account"
    if payload.type != JSON_ARRAY:
        return K_OTHER
    scan_sub(sc, &sub, payload.s)
    if field_is(word, b"te") or field_is(word, b"tu"):
        kind = bfx_own_trade(d, &sub, field_is(word, b"tu"))
        return scan_lift_error(sc, &sub) if kind < 0 else kind
    if field_is(word, b"os"):
        if scan_array_open(&sub) < 0:
            return scan_lift_error(sc, &sub)
        while True:
            r = scan_array_next(&sub, &st)
            if r == 0:
                break
            if r < 0 or bfx_order(d, &sub, &unknown) < 0:
                return scan_lift_error(sc, &sub)
    elif field_is(word, b"on") or field_is(word, b"ou") or field_is(word, b"oc"):
        if bfx_order(d, &sub, &unknown) < 0:
            return scan_lift_error(sc, &sub)
    else:
        return K_OTHER
    if unknown:
        return K_UNKNOWN_SYMBOL
    return K_ORDER if d.info.n_orders else K_OTHER

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
    if require_end(sc) < 0:
        return -1
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
    if require_end(sc) < 0:
        return -1
    for i in range(chans.count):
        if chans.items[i].id == cid:
            chans.count -= 1
            chans.items[i] = chans.items[chans.count]
            break
    return K_SUBSCRIBED


cdef int bfx_info(DecState* d, Scan* sc, BfxChannels* chans) noexcept nogil:
    """{"event":"info","version":2,...} opens every connection: the channel ids of the last one
    are forgotten (INFO_NEW_CONNECTION) once the whole message is read.  Other info events
    (maintenance codes) are a STATUS only."""
    cdef Scan sub
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef bint version = False
    scan_sub(sc, &sub, sc.p)
    if finish_control(sc, K_STATUS) < 0 or require_end(sc) < 0:
        return -1
    if scan_object_open(&sub) < 0:
        return scan_lift_error(sc, &sub)
    while True:
        r = scan_object_key(&sub, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return scan_lift_error(sc, &sub)
        if text_is(k, kn, b"version"):
            version = True
        if scan_skip_value(&sub, 1) < 0:
            return scan_lift_error(sc, &sub)
    if version:
        chans.count = 0
        d.info.flags |= INFO_NEW_CONNECTION
    return K_STATUS


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
        return bfx_info(d, sc, chans)
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
    cdef SymbolEntry* book_sym = NULL
    cdef Scan sub
    cdef int book_kind = -1
    cdef BookSpan* sp
    cdef Py_ssize_t j
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
        if n == 1 and book_sym != NULL and sc.p < sc.end and sc.p[0] == b'[':
            # a book channel's levels are read where they are, in one pass (their sequence
            # number, after them, is set on the records below)
            e[1].s = sc.p
            e[1].type = JSON_ARRAY
            book_kind = bfx_book(d, sc, book_sym, 0, False)
            if book_kind < 0:
                return -1
            e[1].n = sc.p - e[1].s
            n += 1
            continue
        if scan_value(sc, 1, &e[n]) < 0:
            return -1
        if (n == 0 and e[0].type == JSON_NUMBER and field_int(sc, &e[0], &cid) == 0
                and cid > 0):
            for i in range(chans.count):
                if chans.items[i].id == cid:
                    if chans.items[i].kind == BFX_BOOK:
                        book_sym = symbol_lookup(d, chans.items[i].sym, chans.items[i].sym_len)
                    break
        n += 1
    if n < 2:
        return scan_fail(sc, E_SHAPE, sc.base)
    if e[0].type != JSON_NUMBER or field_int(sc, &e[0], &cid) < 0 or cid < 0:
        return scan_fail(sc, E_TYPE, e[0].s)
    if cid == 0:
        # the account channel: [0, word, payload(, seq, auth seq)]
        if e[1].type != JSON_STRING:
            return scan_fail(sc, E_TYPE, e[1].s)
        if field_is(&e[1], b"hb"):
            return K_HEARTBEAT
        if n < 3:
            return scan_fail(sc, E_SHAPE, sc.base)
        if n >= 4:
            if bfx_seq(sc, &e[3], &seq) < 0 or (n == 5 and bfx_seq(sc, &e[4], &cid) < 0):
                return -1
            d.info.first_seq = seq
            d.info.last_seq = seq
            d.info.flags |= INFO_HAS_SEQ
        return bfx_account(d, sc, &e[1], &e[2])
    # elements the message form has before its sequence number
    if e[1].type == JSON_STRING:
        if field_is(&e[1], b"hb"):
            nseq = 2
        elif field_is(&e[1], b"te") or field_is(&e[1], b"tu") or field_is(&e[1], b"cs"):
            nseq = 3
        else:
            return scan_fail(sc, E_SHAPE, e[1].s)
    elif e[1].type == JSON_ARRAY:
        nseq = 2
    else:
        return scan_fail(sc, E_TYPE, e[1].s)
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
        symbol_lookup(d, c.sym, c.sym_len)                 # the book it is for (instrument_id)
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
    if book_kind >= 0:
        if has_seq:
            sp = &d.spans[d.info.n_spans - 1]
            for j in range(<Py_ssize_t>sp.first_delta, d.info.n_deltas):
                d.deltas[j].sequence = seq
            sp.first_seq = seq
            sp.last_seq = seq
        return book_kind
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
