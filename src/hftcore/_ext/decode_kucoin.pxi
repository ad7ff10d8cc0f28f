# KuCoin spot: /market/level2 (trade.l2update: sequenceStart / sequenceEnd and a sequence per
# change), /market/match (trade.l3match), /market/ticker (trade.ticker, as BBO), private
# /spotMarket/tradeOrders (orderChange); welcome / ack / pong / error; and the REST level-2
# snapshot (GET /api/v3/market/orderbook/level2: its "sequence" starts the chain), which does not
# name its symbol (decode_snapshot).
#
# The documented compact form of level2 updates (data first, as KuCoin sends them) is read
# straight through by a template; everything else by the order-independent path.
from libc.stdint cimport int64_t, uint64_t, uint8_t
from hftcore._ext.types cimport (
    TradeRecord, BBORecord, OrderUpdate, BookDelta, SIDE_BID, SIDE_ASK, BBO_NO_BID, BBO_NO_ASK,
    ORDER_IS_FILL, ORDER_IS_MAKER, ORDER_TRADE_ID_TEXT, ORDER_ID_LEN, ORDER_STATUS_PENDING_NEW,
    ORDER_STATUS_ACCEPTED, ORDER_STATUS_PARTIALLY_FILLED, ORDER_STATUS_FILLED,
    ORDER_STATUS_CANCELED, ORDER_STATUS_UNKNOWN,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, symbol_find, push_delta, push_trade, push_bbo,
    push_order, clear_batches, K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_ORDER,
    K_UNKNOWN_SYMBOL, K_HEARTBEAT, K_SUBSCRIBED, K_VENUE_ERROR, K_STATUS, K_OTHER, E_SHAPE,
    E_NUMBER, E_CAPACITY, INFO_HAS_SEQ,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, JSON_STRING, scan_fail, scan_sub, scan_lift_error, scan_skip_ws,
    scan_string_field, scan_skip_value, scan_object_open, scan_object_key, scan_seen_once,
    scan_array_open, scan_array_next, scan_array_more, scan_array_end, scan_int,
    scan_int_string, scan_int_any, scan_decimal, scan_ms, scan_object_unique_keys, text_is,
    text_starts, int_text, trade_id_text, fast_literal, fast_int, fast_string, hft_decimal_fast,
    HFT_STRING_STOP,
)
from hftcore._ext.decode_common cimport (
    LevelFormat, LEVEL_STRINGS, level_array, read_levels, span_open, span_close, symbol_lookup,
    symbol_note, skip_unknown_key, fail_missing, fail_unexpected, collect_fields,
    fields_required, field_is, field_symbol, field_decimal, field_decimal_or_zero, field_int,
    field_ms, field_ns, field_text, field_side, field_trade_id, field_id, order_type_from_field,
    message_restart,
)

# REST snapshot: [["price","size"], ...]
cdef LevelFormat KUCOIN_PAIRS = level_array(2, 2, 0, 1, LEVEL_STRINGS)

cdef enum:
    KUCOIN_LEVEL2 = 1
    KUCOIN_MATCH = 2
    KUCOIN_TICKER = 3
    KUCOIN_ORDERS = 4
    KUCOIN_OTHER = 5


# ---------------------------------------------------------------------------------------------
# level2 updates
# ---------------------------------------------------------------------------------------------

cdef inline const char* kucoin_change_compact(const char* p, const char* end, int pd, int qd,
                                              int64_t* px, int64_t* sz,
                                              int64_t* seq) noexcept nogil:
    """["price","size","sequence"] written compactly: the position after its ']', or NULL (the
    careful reader then reads it and reports any error)."""
    cdef const char* after
    if end - p < 2 or p[0] != b'[' or p[1] != b'"':
        return NULL
    if not hft_decimal_fast(p + 2, end, pd, px, &after):
        return NULL
    p = after
    if end - p < 2 or p[0] != b',' or p[1] != b'"':
        return NULL
    if not hft_decimal_fast(p + 2, end, qd, sz, &after):
        return NULL
    p = after
    if end - p < 2 or p[0] != b',' or p[1] != b'"':
        return NULL
    p += 2
    if not fast_int(&p, end, seq) or end - p < 2 or p[0] != b'"' or p[1] != b']':
        return NULL
    return p + 2


cdef int kucoin_change_careful(Scan* sc, SymbolEntry* sym, int64_t* px, int64_t* sz,
                               int64_t* seq) noexcept nogil:
    cdef int st = 0
    if (scan_array_open(sc) < 0 or scan_array_more(sc, &st) < 0
            or scan_decimal(sc, sym.price_decimals, px) < 0 or scan_array_more(sc, &st) < 0
            or scan_decimal(sc, sym.size_decimals, sz) < 0 or scan_array_more(sc, &st) < 0
            or scan_int_string(sc, seq) < 0 or scan_array_end(sc, &st) < 0):
        return -1
    if seq[0] <= 0:
        return scan_fail(sc, E_NUMBER, sc.p - 2)
    return 0


cdef int kucoin_changes(DecState* d, Scan* sc, SymbolEntry* sym, int side) noexcept nogil:
    """One side of "changes": [["price","size","sequence"], ...].  A change at price "0" only
    moves the sequence (KuCoin: "ignore it and update the sequence"): validated, not a record."""
    cdef int st = 0, r
    cdef int64_t px, sz, seq
    cdef const char* q
    cdef BookDelta* rec
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        q = kucoin_change_compact(sc.p, sc.end, sym.price_decimals, sym.size_decimals, &px,
                                  &sz, &seq)
        if q != NULL and seq > 0:
            sc.p = q
        elif kucoin_change_careful(sc, sym, &px, &sz, &seq) < 0:
            return -1
        if px == 0:
            continue
        rec = push_delta(d)
        if rec == NULL:
            return scan_fail(sc, E_CAPACITY, sc.p)
        rec.price = px
        rec.size = sz
        rec.sequence = seq
        rec.instrument_id = sym.instrument_id
        rec.side = <uint8_t>side


cdef int kucoin_changes_object(DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
    """"changes": {"asks": [..], "bids": [..]}"""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"asks") or text_is(k, kn, b"bids"):
            if (scan_seen_once(sc, &seen, 0 if k[0] == b'a' else 1, k) < 0
                    or kucoin_changes(d, sc, sym, SIDE_ASK if k[0] == b'a' else SIDE_BID) < 0):
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if seen != 3:
        return fail_missing(sc)
    return 0


cdef int kucoin_l2_close(DecState* d, Scan* sc, Py_ssize_t span, int64_t start, int64_t end_seq,
                         int64_t ts, const char* at) noexcept nogil:
    """Every change's sequence lies in sequenceStart..sequenceEnd; the span carries both."""
    cdef BookSpan* s
    cdef Py_ssize_t i
    if start <= 0 or end_seq < start:
        return scan_fail(sc, E_NUMBER, at)
    for i in range(<Py_ssize_t>d.spans[span].first_delta, d.info.n_deltas):
        if d.deltas[i].sequence < start or d.deltas[i].sequence > end_seq:
            return scan_fail(sc, E_SHAPE, at)
    s = span_close(d, sc, span, ts, end_seq, False)
    if s == NULL:
        return -1
    s.first_seq = start
    s.flags |= INFO_HAS_SEQ
    return 0


cdef int kucoin_l2_data(DecState* d, Scan* sc) noexcept nogil:
    """data of trade.l2update: {"sequenceStart","sequenceEnd","symbol","changes"(,"time")};
    "changes" before "symbol" is read once the symbol is known."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t start = 0, end_seq = 0, ts = 0
    cdef Field s
    cdef SymbolEntry* sym = NULL
    cdef const char* later = NULL
    cdef const char* obj = sc.p
    cdef Py_ssize_t span = -1
    cdef Scan sub
    d.info.what = b"trade.l2update"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"changes"):
            if scan_seen_once(sc, &seen, 0, k) < 0:
                return -1
            if sym != NULL:
                if kucoin_changes_object(d, sc, sym) < 0:
                    return -1
            else:
                scan_skip_ws(sc)
                later = sc.p
                if scan_skip_value(sc, 1) < 0:
                    return -1
        elif text_is(k, kn, b"symbol"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_string_field(sc, &s) < 0:
                return -1
            sym = symbol_lookup(d, s.s, s.n)
            if sym != NULL:
                span = span_open(d, sc, sym)
                if span < 0:
                    return -1
        elif text_is(k, kn, b"sequenceStart"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_int_any(sc, &start) < 0:
                return -1
        elif text_is(k, kn, b"sequenceEnd"):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_int_any(sc, &end_seq) < 0:
                return -1
        elif text_is(k, kn, b"time"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_ms(sc, &ts) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 0xF) != 0xF:
        return fail_missing(sc)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    if later != NULL:
        scan_sub(sc, &sub, later)
        if kucoin_changes_object(d, &sub, sym) < 0:
            return scan_lift_error(sc, &sub)
    if kucoin_l2_close(d, sc, span, start, end_seq, ts, obj) < 0:
        return -1
    return K_BOOK_UPDATE


# ---------------------------------------------------------------------------------------------
# match, ticker, orders
# ---------------------------------------------------------------------------------------------

cdef SymbolEntry* kucoin_topic_symbol(DecState* d, const Field* topic) noexcept nogil:
    """The symbol after the colon of "/market/ticker:BTC-USDT"."""
    cdef Py_ssize_t i = 0
    while i < topic.n and topic.s[i] != b':':
        i += 1
    if i + 1 >= topic.n:
        return symbol_lookup(d, b"", 0)
    return symbol_lookup(d, topic.s + i + 1, topic.n - i - 1)


cdef int kucoin_match(DecState* d, Scan* sc) noexcept nogil:
    """data of trade.l3match: {"symbol","side" (taker),"price","size","time" (ns),"tradeId",
    "sequence",...}."""
    cdef const char* names[6]
    cdef Field v[6]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef TradeRecord* t
    names[0] = b"symbol"; names[1] = b"price"; names[2] = b"size"; names[3] = b"side"
    names[4] = b"time"; names[5] = b"tradeId"
    d.info.what = b"trade.l3match"
    if (collect_fields(d, sc, names, 6, v, &f) < 0 or fields_required(sc, f, 0x3F) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    t = push_trade(d)
    if t == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_decimal(sc, &v[1], sym.price_decimals, &t.price) < 0
            or field_decimal(sc, &v[2], sym.size_decimals, &t.size) < 0
            or field_side(sc, &v[3], &t.side) < 0
            or field_ns(sc, &v[4], &t.exchange_ts) < 0
            or field_trade_id(sc, &v[5], &t.trade_id, &t.flags) < 0):
        return -1
    t.instrument_id = sym.instrument_id
    d.info.exchange_ts = t.exchange_ts
    return K_TRADE


cdef int kucoin_ticker(DecState* d, Scan* sc, const Field* topic) noexcept nogil:
    """data of trade.ticker: {"sequence","bestBid","bestBidSize","bestAsk","bestAskSize","time",
    "price","size"}; the symbol is in the topic."""
    cdef const char* names[6]
    cdef Field v[6]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef BBORecord* b
    names[0] = b"sequence"; names[1] = b"bestBid"; names[2] = b"bestBidSize"
    names[3] = b"bestAsk"; names[4] = b"bestAskSize"; names[5] = b"time"
    d.info.what = b"trade.ticker"
    if collect_fields(d, sc, names, 6, v, &f) < 0 or fields_required(sc, f, 0x3F) < 0:
        return -1
    sym = kucoin_topic_symbol(d, topic)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    b = push_bbo(d)
    if b == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_int(sc, &v[0], &b.sequence) < 0
            or field_decimal_or_zero(sc, &v[1], sym.price_decimals, False, &b.bid_price) < 0
            or field_decimal_or_zero(sc, &v[2], sym.size_decimals, False, &b.bid_size) < 0
            or field_decimal_or_zero(sc, &v[3], sym.price_decimals, False, &b.ask_price) < 0
            or field_decimal_or_zero(sc, &v[4], sym.size_decimals, False, &b.ask_size) < 0
            or field_ms(sc, &v[5], &b.exchange_ts) < 0):
        return -1
    if b.bid_price == 0:
        b.flags |= BBO_NO_BID
    if b.ask_price == 0:
        b.flags |= BBO_NO_ASK
    b.instrument_id = sym.instrument_id
    d.info.exchange_ts = b.exchange_ts
    d.info.first_seq = b.sequence
    d.info.last_seq = b.sequence
    d.info.flags |= INFO_HAS_SEQ
    return K_BBO


cdef int kucoin_order(DecState* d, Scan* sc) noexcept nogil:
    """data of orderChange (/spotMarket/tradeOrders): the order's state after an event "type"
    (received, open, match, filled, canceled, update); a match carries the fill."""
    cdef const char* names[16]
    cdef Field v[16]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    cdef int64_t remain = 0
    names[0] = b"symbol"; names[1] = b"orderId"; names[2] = b"clientOid"; names[3] = b"side"
    names[4] = b"orderType"; names[5] = b"price"; names[6] = b"size"; names[7] = b"type"
    names[8] = b"filledSize"; names[9] = b"remainSize"; names[10] = b"ts"
    names[11] = b"matchPrice"; names[12] = b"matchSize"; names[13] = b"tradeId"
    names[14] = b"liquidity"; names[15] = b"status"
    d.info.what = b"orderChange"
    if (collect_fields(d, sc, names, 16, v, &f) < 0 or fields_required(sc, f, 0x48B) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_side(sc, &v[3], &o.side) < 0
            or field_id(sc, &v[1], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
            or field_decimal_or_zero(sc, &v[5], sym.price_decimals, False, &o.price) < 0
            or field_decimal_or_zero(sc, &v[6], sym.size_decimals, False, &o.size) < 0
            or field_decimal_or_zero(sc, &v[8], sym.size_decimals, False, &o.filled_size) < 0
            or field_decimal_or_zero(sc, &v[9], sym.size_decimals, False, &remain) < 0
            or field_ns(sc, &v[10], &o.exchange_ts) < 0):
        return -1
    o.transact_ts = o.exchange_ts
    o.order_type = order_type_from_field(&v[4])
    o.instrument_id = sym.instrument_id
    if field_is(&v[7], b"received"):
        o.status = ORDER_STATUS_PENDING_NEW
    elif field_is(&v[7], b"open") or field_is(&v[7], b"update"):
        o.status = ORDER_STATUS_PARTIALLY_FILLED if o.filled_size > 0 else ORDER_STATUS_ACCEPTED
    elif field_is(&v[7], b"match"):
        o.status = ORDER_STATUS_PARTIALLY_FILLED if remain > 0 else ORDER_STATUS_FILLED
        if (field_decimal(sc, &v[11], sym.price_decimals, &o.last_fill_price) < 0
                or field_decimal(sc, &v[12], sym.size_decimals, &o.last_fill_size) < 0
                or field_text(sc, &v[13], o.trade_id_text, ORDER_ID_LEN) < 0):
            return -1
        o.flags |= ORDER_IS_FILL
        if trade_id_text(v[13].s, v[13].n, &o.trade_id):
            o.flags |= ORDER_TRADE_ID_TEXT
        if field_is(&v[14], b"maker"):
            o.flags |= ORDER_IS_MAKER
    elif field_is(&v[7], b"filled"):
        o.status = ORDER_STATUS_FILLED
    elif field_is(&v[7], b"canceled"):
        o.status = ORDER_STATUS_CANCELED
    else:
        o.status = ORDER_STATUS_UNKNOWN
    d.info.exchange_ts = o.exchange_ts
    return K_ORDER


cdef int kucoin_channel(const Field* subject, const Field* topic) noexcept nogil:
    if field_is(subject, b"trade.l2update"):
        return KUCOIN_LEVEL2
    if field_is(subject, b"trade.l3match"):
        return KUCOIN_MATCH
    if field_is(subject, b"trade.ticker") and text_starts(topic.s, topic.n, b"/market/ticker:"):
        return KUCOIN_TICKER
    if field_is(subject, b"orderChange"):
        return KUCOIN_ORDERS
    return KUCOIN_OTHER


cdef int kucoin_data(DecState* d, Scan* sc, int channel, const Field* topic) noexcept nogil:
    if channel == KUCOIN_LEVEL2:
        return kucoin_l2_data(d, sc)
    if channel == KUCOIN_MATCH:
        return kucoin_match(d, sc)
    if channel == KUCOIN_TICKER:
        return kucoin_ticker(d, sc, topic)
    if channel == KUCOIN_ORDERS:
        return kucoin_order(d, sc)
    d.info.what = b"message"
    if scan_skip_value(sc, 1) < 0:                        # candles, snapshots, balances ...
        return -1
    return K_OTHER


# ---------------------------------------------------------------------------------------------
# The template: level2 updates as KuCoin sends them
# ---------------------------------------------------------------------------------------------

cdef int kucoin_fast_l2(DecState* d, Scan* sc) noexcept nogil:
    """{"data":{"sequenceStart":N,"symbol":"S","changes":{"asks":[..],"bids":[..]},
    "sequenceEnd":N},"subject":"trade.l2update","topic":"..","type":"message"}: the kind, -1 on
    a genuine error, -2 when not exactly this form."""
    cdef const char* p = sc.p
    cdef const char* end = sc.end
    cdef const char* s
    cdef const char* t
    cdef Py_ssize_t n, tn, span
    cdef int64_t start, end_seq
    cdef SymbolEntry* sym
    if (not fast_literal(&p, end, b'{"data":{"sequenceStart":', 25)
            or not fast_int(&p, end, &start) or not fast_literal(&p, end, b',"symbol":"', 11)
            or not fast_string(&p, end, &s, &n)
            or not fast_literal(&p, end, b',"changes":{"asks":', 19)):
        return -2
    sym = symbol_find(&d.symbols, s, n)
    if sym == NULL:
        return -2
    d.info.what = b"trade.l2update"
    symbol_note(d, sym, s, n)
    span = span_open(d, sc, sym)
    if span < 0:
        return -1
    sc.p = p
    if kucoin_changes(d, sc, sym, SIDE_ASK) < 0:
        return -1
    p = sc.p
    if not fast_literal(&p, end, b',"bids":', 8):
        return -2
    sc.p = p
    if kucoin_changes(d, sc, sym, SIDE_BID) < 0:
        return -1
    p = sc.p
    if (not fast_literal(&p, end, b'},"sequenceEnd":', 16) or not fast_int(&p, end, &end_seq)
            or not fast_literal(&p, end, b'},"subject":"trade.l2update","topic":"', 38)
            or not fast_string(&p, end, &t, &tn)
            or not fast_literal(&p, end, b',"type":"message"}', 18)):
        return -2
    if kucoin_l2_close(d, sc, span, start, end_seq, 0, sc.base + 9) < 0:
        return -1
    sc.p = p
    return K_BOOK_UPDATE


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

cdef int kucoin_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef int st = 0, r, channel = 0, kind = -2
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef Field typ, topic, subject
    cdef const char* obj
    cdef const char* later = NULL
    cdef Scan sub
    scan_skip_ws(sc)
    obj = sc.p
    if sc.p >= sc.end or sc.p[0] != b'{':
        return fail_unexpected(sc)
    r = kucoin_fast_l2(d, sc)
    if r >= 0 or r == -1:
        return r
    message_restart(d)
    sc.p = obj
    typ.type = JSON_ABSENT
    typ.s = NULL
    typ.n = 0
    topic = typ
    subject = typ
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"type"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &typ) < 0:
                return -1
        elif text_is(k, kn, b"topic"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_string_field(sc, &topic) < 0:
                return -1
        elif text_is(k, kn, b"subject"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_string_field(sc, &subject) < 0:
                return -1
        elif text_is(k, kn, b"data"):
            if scan_seen_once(sc, &seen, 3, k) < 0:
                return -1
            scan_skip_ws(sc)
            if (seen & 7) == 7 and field_is(&typ, b"message"):
                channel = kucoin_channel(&subject, &topic)
                kind = kucoin_data(d, sc, channel, &topic)
                if kind < 0:
                    return -1
            else:
                later = sc.p                              # read once type / topic / subject are known
                if scan_skip_value(sc, 1) < 0:
                    return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return fail_missing(sc)
    if not field_is(&typ, b"message"):
        # control messages: welcome, ack, pong, error -- their keys must not repeat
        d.info.what = b"type"
        scan_sub(sc, &sub, obj)
        if scan_object_unique_keys(&sub) < 0:
            return scan_lift_error(sc, &sub)
        if field_is(&typ, b"welcome"):
            return K_STATUS
        if field_is(&typ, b"ack"):
            return K_SUBSCRIBED
        if field_is(&typ, b"pong") or field_is(&typ, b"ping"):
            return K_HEARTBEAT
        if field_is(&typ, b"error"):
            return K_VENUE_ERROR
        return K_OTHER
    if (seen & 0xE) != 0xE:
        return fail_missing(sc)
    if later != NULL:
        channel = kucoin_channel(&subject, &topic)
        scan_sub(sc, &sub, later)
        kind = kucoin_data(d, &sub, channel, &topic)
        if kind < 0:
            return scan_lift_error(sc, &sub)
    return kind


cdef int kucoin_level2_snapshot(DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
    """REST GET /api/v3/market/orderbook/level2 (or level2_20 / level2_100):
    {"code":"200000","data":{"time","sequence","bids","asks"}}; another code is the venue's
    error."""
    cdef int st = 0, st2, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0, dseen
    cdef int64_t seq = 0, ts = 0
    cdef Field code
    cdef Py_ssize_t span
    cdef BookSpan* s
    d.info.what = b"level2 snapshot"
    span = span_open(d, sc, sym)
    if span < 0 or scan_object_open(sc) < 0:
        return -1
    code.type = JSON_ABSENT
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"code"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &code) < 0:
                return -1
        elif text_is(k, kn, b"data"):
            if scan_seen_once(sc, &seen, 1, k) < 0:
                return -1
            scan_skip_ws(sc)
            if sc.p < sc.end and sc.p[0] == b'n':         # "data": null with an error code
                if scan_skip_value(sc, 1) < 0:
                    return -1
                continue
            dseen = 0
            st2 = 0
            if scan_object_open(sc) < 0:
                return -1
            while True:
                r = scan_object_key(sc, &st2, &k, &kn)
                if r == 0:
                    break
                if r < 0:
                    return -1
                if text_is(k, kn, b"sequence"):
                    if scan_seen_once(sc, &dseen, 0, k) < 0 or scan_int_any(sc, &seq) < 0:
                        return -1
                elif text_is(k, kn, b"bids") or text_is(k, kn, b"asks"):
                    if (scan_seen_once(sc, &dseen, 1 if k[0] == b'b' else 2, k) < 0
                            or read_levels(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK,
                                           &KUCOIN_PAIRS, NULL) < 0):
                        return -1
                elif text_is(k, kn, b"time"):
                    if scan_seen_once(sc, &dseen, 3, k) < 0 or scan_ms(sc, &ts) < 0:
                        return -1
                elif skip_unknown_key(d, sc, k) < 0:
                    return -1
            if (dseen & 7) != 7:
                return fail_missing(sc)
            seen |= 4
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return fail_missing(sc)
    if not field_is(&code, b"200000"):
        clear_batches(d)
        return K_VENUE_ERROR
    if not (seen & 4):
        return fail_missing(sc)
    if seq <= 0:
        return scan_fail(sc, E_NUMBER, sc.base)
    s = span_close(d, sc, span, ts, seq, True)
    if s == NULL:
        return -1
    s.flags |= INFO_HAS_SEQ
    return K_BOOK_SNAPSHOT


@cython.final
cdef class KucoinDecoder(Decoder):
    """KuCoin spot: ``trade.l2update`` (``sequenceStart`` / ``sequenceEnd`` -> ``first_seq`` /
    ``last_seq``, each change's own sequence in its record), ``trade.l3match``, ``trade.ticker``
    (as BBO), private ``orderChange``; the REST level-2 snapshot via :meth:`decode_snapshot`."""

    VENUE = "kucoin"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        return kucoin_decode(d, sc)

    cdef int _decode_snapshot(self, DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
        return kucoin_level2_snapshot(d, sc, sym)
