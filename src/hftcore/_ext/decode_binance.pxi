# Binance spot (and the USDⓈ-M futures form of the same events: `pu`, `T`): depthUpdate, trade,
# aggTrade, bookTicker, executionReport -- bare, in the combined-stream {"stream","data"} wrapper
# or the WebSocket-API {"subscriptionId","event"} wrapper -- and the REST depth snapshot.
#
# The documented compact form of the hot messages is read straight through by templates
# (binance_fast_*); anything else goes to the order-independent path (binance_event), which
# reports every error.
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp
from hftcore._ext.types cimport (
    TradeRecord, BBORecord, OrderUpdate, ts_t, px_t, qty_t, SIDE_BID, SIDE_ASK, ORDER_IS_FILL,
    ORDER_IS_MAKER, ORDER_HAS_FEE, ORDER_ID_LEN, ASSET_LEN,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, symbol_find, push_trade, push_bbo,
    push_order, K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_ORDER, K_UNKNOWN_SYMBOL,
    K_SUBSCRIBED, K_VENUE_ERROR, K_OTHER, E_NUMBER, E_NEEDS_SYMBOL, E_CAPACITY,
    INFO_HAS_SEQ,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_STRING, JSON_NULL, scan_fail, scan_skip_ws, scan_next_is, scan_string_field,
    scan_literal, scan_skip_value, scan_object_open, scan_object_key, scan_seen_once, scan_int,
    scan_bool, scan_ms, scan_peek_keys, scan_fail_here, text_is, decimal_text, copy_text,
    fast_literal, fast_int, fast_ms, fast_string, fast_decimal, fast_bool,
)
from hftcore._ext.decode_common cimport (
    LevelFormat, DeferredLevels, LEVEL_STRINGS, level_array, read_levels, levels_now_or_later,
    levels_deferred, span_open, span_close, symbol_lookup, symbol_note, skip_unknown_key,
    fail_missing,
    fail_unexpected, finish_other, finish_control, field_side, order_status_from_field,
    order_type_from_field, field_is, id_number_text, message_restart,
)

# [["price","size"], ...]
cdef LevelFormat BINANCE_PAIRS = level_array(2, 2, 0, 1, LEVEL_STRINGS)


# ---------------------------------------------------------------------------------------------
# The order-independent path
# ---------------------------------------------------------------------------------------------

cdef int binance_depth(DecState* d, Scan* sc, bint futures) noexcept nogil:
    """depthUpdate: keys in any order; level arrays before "s" are read once it is known.
    USDⓈ-M futures (``futures``): ``pu`` is required (the chain is ``pu == previous u``)."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t U = 0, u = 0, pu = -1, E = 0, T
    cdef Field f
    cdef SymbolEntry* sym = NULL
    cdef DeferredLevels later
    cdef Py_ssize_t span = -1
    cdef BookSpan* s
    later.count = 0
    d.info.what = b"depthUpdate"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if kn == 1:
            if k[0] == b'b' or k[0] == b'a':
                if (scan_seen_once(sc, &seen, 0 if k[0] == b'b' else 1, k) < 0
                        or levels_now_or_later(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK,
                                               &BINANCE_PAIRS, &later, NULL) < 0):
                    return -1
                continue
            if k[0] == b'U':
                if scan_seen_once(sc, &seen, 2, k) < 0 or scan_int(sc, &U) < 0:
                    return -1
                continue
            if k[0] == b'u':
                if scan_seen_once(sc, &seen, 3, k) < 0 or scan_int(sc, &u) < 0:
                    return -1
                continue
            if k[0] == b'E':
                if scan_seen_once(sc, &seen, 4, k) < 0 or scan_ms(sc, &E) < 0:
                    return -1
                continue
            if k[0] == b's':
                if scan_seen_once(sc, &seen, 5, k) < 0 or scan_string_field(sc, &f) < 0:
                    return -1
                sym = symbol_lookup(d, f.s, f.n)
                if sym != NULL:
                    span = span_open(d, sc, sym)
                    if span < 0:
                        return -1
                continue
            if k[0] == b'e':
                if scan_seen_once(sc, &seen, 6, k) < 0 or scan_string_field(sc, &f) < 0:
                    return -1
                continue
            if k[0] == b'T':                              # futures transaction time
                if scan_seen_once(sc, &seen, 7, k) < 0 or scan_int(sc, &T) < 0:
                    return -1
                continue
        elif text_is(k, kn, b"pu"):                       # futures: previous final update id
            if scan_seen_once(sc, &seen, 8, k) < 0 or scan_int(sc, &pu) < 0:
                return -1
            continue
        if skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 0x3F) != 0x3F or (futures and not (seen >> 8) & 1):
        return fail_missing(sc)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    if levels_deferred(d, sc, sym, &BINANCE_PAIRS, &later, NULL) < 0:
        return -1
    s = span_close(d, sc, span, E, u, False)
    if s == NULL:
        return -1
    s.first_seq = U
    s.prev_seq = pu
    s.flags |= INFO_HAS_SEQ
    return K_BOOK_UPDATE


cdef int binance_trade(DecState* d, Scan* sc, bint agg) noexcept nogil:
    """trade (id "t") / aggTrade (id "a", first "f", last "l")."""
    cdef int st = 0, r, bit
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t tid = 0, T = 0, E = 0, ignore
    cdef Field p, q, s, ev
    cdef bint m = False, M
    cdef SymbolEntry* sym
    cdef TradeRecord* t
    d.info.what = b"aggTrade" if agg else b"trade"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if kn == 1:
            if k[0] == b'p':
                if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &p) < 0:
                    return -1
                continue
            if k[0] == b'q':
                if scan_seen_once(sc, &seen, 1, k) < 0 or scan_string_field(sc, &q) < 0:
                    return -1
                continue
            if k[0] == b's':
                if scan_seen_once(sc, &seen, 2, k) < 0 or scan_string_field(sc, &s) < 0:
                    return -1
                continue
            if (k[0] == b'a' and agg) or (k[0] == b't' and not agg):
                if scan_seen_once(sc, &seen, 3, k) < 0 or scan_int(sc, &tid) < 0:
                    return -1
                continue
            if k[0] == b'T':
                if scan_seen_once(sc, &seen, 4, k) < 0 or scan_ms(sc, &T) < 0:
                    return -1
                continue
            if k[0] == b'm':
                if scan_seen_once(sc, &seen, 5, k) < 0 or scan_bool(sc, &m) < 0:
                    return -1
                continue
            if k[0] == b'E':
                if scan_seen_once(sc, &seen, 6, k) < 0 or scan_ms(sc, &E) < 0:
                    return -1
                continue
            if k[0] == b'e':
                if scan_seen_once(sc, &seen, 7, k) < 0 or scan_string_field(sc, &ev) < 0:
                    return -1
                continue
            if k[0] == b'M':
                if scan_seen_once(sc, &seen, 8, k) < 0 or scan_bool(sc, &M) < 0:
                    return -1
                continue
            if ((k[0] == b'f' or k[0] == b'l') and agg) or (
                    (k[0] == b'b' or k[0] == b'a') and not agg):
                # aggTrade first / last trade id; trade buyer / seller order ids (old streams)
                bit = 9 if (k[0] == b'f' or k[0] == b'b') else 10
                if scan_seen_once(sc, &seen, bit, k) < 0 or scan_int(sc, &ignore) < 0:
                    return -1
                continue
        if skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 0x3F) != 0x3F:
        return fail_missing(sc)
    sym = symbol_lookup(d, s.s, s.n)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    t = push_trade(d)
    if t == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (decimal_text(sc, p.s, p.n, sym.price_decimals, False, &t.price) < 0
            or decimal_text(sc, q.s, q.n, sym.size_decimals, False, &t.size) < 0):
        return -1
    t.exchange_ts = T
    t.trade_id = tid
    t.instrument_id = sym.instrument_id
    t.side = SIDE_ASK if m else SIDE_BID                  # m: the buyer was the maker
    d.info.exchange_ts = E if E else T
    return K_TRADE


cdef int binance_book_ticker(DecState* d, Scan* sc) noexcept nogil:
    cdef int st = 0, r, i
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t u = 0, E = 0, T = 0
    cdef Field v[6]                                       # b B a A s e
    cdef const char* names = b"bBaAse"
    cdef SymbolEntry* sym
    cdef BBORecord* o
    d.info.what = b"bookTicker"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if kn == 1:
            for i in range(6):
                if k[0] == names[i]:
                    break
            else:
                i = -1
            if i >= 0:
                if scan_seen_once(sc, &seen, i, k) < 0 or scan_string_field(sc, &v[i]) < 0:
                    return -1
                continue
            if k[0] == b'u':
                if scan_seen_once(sc, &seen, 6, k) < 0 or scan_int(sc, &u) < 0:
                    return -1
                continue
            if k[0] == b'E':
                if scan_seen_once(sc, &seen, 7, k) < 0 or scan_ms(sc, &E) < 0:
                    return -1
                continue
            if k[0] == b'T':
                if scan_seen_once(sc, &seen, 8, k) < 0 or scan_ms(sc, &T) < 0:
                    return -1
                continue
        if skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 0x5F) != 0x5F:                             # b B a A s u
        return fail_missing(sc)
    sym = symbol_lookup(d, v[4].s, v[4].n)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    o = push_bbo(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (decimal_text(sc, v[0].s, v[0].n, sym.price_decimals, False, &o.bid_price) < 0
            or decimal_text(sc, v[1].s, v[1].n, sym.size_decimals, False, &o.bid_size) < 0
            or decimal_text(sc, v[2].s, v[2].n, sym.price_decimals, False, &o.ask_price) < 0
            or decimal_text(sc, v[3].s, v[3].n, sym.size_decimals, False, &o.ask_size) < 0):
        return -1
    o.exchange_ts = T if T else E
    o.sequence = u
    o.instrument_id = sym.instrument_id
    d.info.exchange_ts = o.exchange_ts
    d.info.first_seq = u
    d.info.last_seq = u
    d.info.flags |= INFO_HAS_SEQ
    return K_BBO


cdef int binance_execution_report(DecState* d, Scan* sc, bint futures) noexcept nogil:
    """executionReport; with ``futures`` the order object "o" of a USDⓈ-M ORDER_TRADE_UPDATE
    (the same letters; its event time "E" is outside, set by the caller)."""
    cdef int st = 0, r, i
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t E = 0, T = 0, oid = 0, tid = -1
    cdef Field v[14]
    cdef bint maker = False, flag
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    # string fields: 0 s, 1 c, 2 S, 3 o, 4 q, 5 p, 6 x, 7 X, 8 l, 9 z, 10 L, 11 n, 12 N, 13 C
    cdef const char* names = b"scSoqpxXlzLnNC"
    d.info.what = b"executionReport"
    for i in range(14):
        v[i].s = NULL
        v[i].n = 0
        v[i].type = 0
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if kn == 1:
            for i in range(14):
                if k[0] == names[i]:
                    break
            else:
                i = -1
            if i >= 0:
                if scan_seen_once(sc, &seen, i, k) < 0:
                    return -1
                if i == 12 and scan_next_is(sc, b'n'):      # "N": null until a fee is paid
                    if scan_literal(sc, b"null") < 0:
                        return -1
                    v[12].type = JSON_NULL
                    continue
                if scan_string_field(sc, &v[i]) < 0:
                    return -1
                continue
            if k[0] == b'E':
                if scan_seen_once(sc, &seen, 20, k) < 0 or scan_ms(sc, &E) < 0:
                    return -1
                continue
            if k[0] == b'T':
                if scan_seen_once(sc, &seen, 21, k) < 0 or scan_ms(sc, &T) < 0:
                    return -1
                continue
            if k[0] == b'i':
                if scan_seen_once(sc, &seen, 22, k) < 0 or scan_int(sc, &oid) < 0:
                    return -1
                if oid < 0:
                    return scan_fail(sc, E_NUMBER, sc.p - 1)
                continue
            if k[0] == b't':
                if scan_seen_once(sc, &seen, 23, k) < 0 or scan_int(sc, &tid) < 0:
                    return -1
                continue
            if k[0] == b'm':
                if scan_seen_once(sc, &seen, 24, k) < 0 or scan_bool(sc, &maker) < 0:
                    return -1
                continue
            if k[0] == b'w' or k[0] == b'M':
                if (scan_seen_once(sc, &seen, 25 if k[0] == b'w' else 26, k) < 0
                        or scan_bool(sc, &flag) < 0):
                    return -1
                continue
        if scan_skip_value(sc, 1) < 0:                    # many optional fields: skipped
            return -1
    # required: s c S o q p x X l z L, E (spot) i
    if (seen & 0x7FF) != 0x7FF or not (futures or (seen >> 20) & 1) or not (seen >> 22) & 1:
        return fail_missing(sc)
    sym = symbol_lookup(d, v[0].s, v[0].n)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_side(sc, &v[2], &o.side) < 0
            or decimal_text(sc, v[5].s, v[5].n, sym.price_decimals, False, &o.price) < 0
            or decimal_text(sc, v[4].s, v[4].n, sym.size_decimals, False, &o.size) < 0
            or decimal_text(sc, v[9].s, v[9].n, sym.size_decimals, False, &o.filled_size) < 0
            or decimal_text(sc, v[10].s, v[10].n, sym.price_decimals, False,
                            &o.last_fill_price) < 0
            or decimal_text(sc, v[8].s, v[8].n, sym.size_decimals, False, &o.last_fill_size) < 0):
        return -1
    if v[11].type == JSON_STRING and v[11].n > 0:
        if decimal_text(sc, v[11].s, v[11].n, d.fee_decimals, True, &o.fee) < 0:
            return -1
    # a cancel reports the canceled order's client id in "C"
    if v[13].type == JSON_STRING and v[13].n > 0:
        if copy_text(sc, o.client_order_id, ORDER_ID_LEN, v[13].s, v[13].n) < 0:
            return -1
    elif copy_text(sc, o.client_order_id, ORDER_ID_LEN, v[1].s, v[1].n) < 0:
        return -1
    if v[12].type == JSON_STRING:
        if copy_text(sc, o.fee_asset, ASSET_LEN, v[12].s, v[12].n) < 0:
            return -1
        o.flags |= ORDER_HAS_FEE
    o.venue_order_id = oid
    id_number_text(oid, o.venue_order_id_text, ORDER_ID_LEN)
    o.status = order_status_from_field(&v[7])
    o.order_type = order_type_from_field(&v[3])
    if field_is(&v[6], b"TRADE"):
        o.flags |= ORDER_IS_FILL
        o.trade_id = tid
        if maker:
            o.flags |= ORDER_IS_MAKER
    o.exchange_ts = E
    o.transact_ts = T
    o.instrument_id = sym.instrument_id
    d.info.exchange_ts = E
    return K_ORDER


cdef int binance_order_trade_update(DecState* d, Scan* sc) noexcept nogil:
    """USDⓈ-M futures ORDER_TRADE_UPDATE: {"e","E","T","o":{order}} in any key order."""
    cdef int st = 0, r, kind = -2
    cdef const char* k
    cdef Py_ssize_t kn, at = -1
    cdef uint64_t seen = 0
    cdef int64_t E = 0, T = 0
    cdef Field f
    if scan_object_open(sc) < 0:
        return -1
    while True:
        d.info.what = b"ORDER_TRADE_UPDATE"
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"e"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &f) < 0:
                return -1
        elif text_is(k, kn, b"E"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_ms(sc, &E) < 0:
                return -1
        elif text_is(k, kn, b"T"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_ms(sc, &T) < 0:
                return -1
        elif text_is(k, kn, b"o"):
            if scan_seen_once(sc, &seen, 3, k) < 0:
                return -1
            at = d.info.n_orders
            kind = binance_execution_report(d, sc, True)
            if kind < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    d.info.what = b"ORDER_TRADE_UPDATE"
    if (seen & 0xB) != 0xB:                               # e E o
        return fail_missing(sc)
    if kind == K_ORDER:
        d.orders[at].exchange_ts = E
        if d.orders[at].transact_ts == 0:
            d.orders[at].transact_ts = T
    d.info.exchange_ts = E
    return kind


cdef int binance_event(DecState* d, Scan* sc, bint futures) noexcept nogil:
    """One Binance event object (bare, or the value of "data" / "event")."""
    cdef const char* names[7]
    cdef Field vals[7]
    cdef uint64_t found
    cdef Field* e = &vals[0]
    names[0] = b"e"
    names[1] = b"B"
    names[2] = b"lastUpdateId"
    names[3] = b"result"
    names[4] = b"error"
    names[5] = b"code"
    names[6] = b"u"
    scan_skip_ws(sc)
    if sc.p >= sc.end or sc.p[0] != b'{':
        if sc.p < sc.end and sc.p[0] == b'[':
            return fail_unexpected(sc)
        return scan_fail_here(sc)
    if sc.end - sc.p > 6 and memcmp(sc.p, b'{"e":"', 6) == 0:
        # the usual form: the event name first
        e.s = sc.p + 6
        e.n = 0
        e.type = JSON_STRING
        while e.s + e.n < sc.end and e.s[e.n] != b'"' and e.s[e.n] != b'\\':
            e.n += 1
        if e.s + e.n < sc.end and e.s[e.n] == b'"':
            found = 1
        elif scan_peek_keys(sc, names, 7, vals, &found, 1) < 0:
            return -1
    elif scan_peek_keys(sc, names, 7, vals, &found, 1) < 0:
        return -1
    if found & 1:
        if text_is(e.s, e.n, b"depthUpdate"):
            return binance_depth(d, sc, futures)
        if text_is(e.s, e.n, b"trade"):
            return binance_trade(d, sc, False)
        if text_is(e.s, e.n, b"aggTrade"):
            return binance_trade(d, sc, True)
        if text_is(e.s, e.n, b"bookTicker"):
            return binance_book_ticker(d, sc)
        if text_is(e.s, e.n, b"executionReport"):
            return binance_execution_report(d, sc, False)
        if futures and text_is(e.s, e.n, b"ORDER_TRADE_UPDATE"):
            return binance_order_trade_update(d, sc)
        d.info.what = b"event"
        return finish_other(sc, K_OTHER)                  # kline, 24hrTicker, account events...
    if (found & 2) and (found & 64):
        return binance_book_ticker(d, sc)
    if found & 4:
        d.info.what = b"depth snapshot"
        if scan_skip_value(sc, 0) < 0:
            return -1
        return scan_fail(sc, E_NEEDS_SYMBOL, sc.base)
    if found & (16 | 32):
        d.info.what = b"error"
        return finish_control(sc, K_VENUE_ERROR)
    if found & 8:
        d.info.what = b"response"
        return finish_control(sc, K_SUBSCRIBED)
    return fail_unexpected(sc)


# ---------------------------------------------------------------------------------------------
# Templates: the documented compact key order, read straight through.  Each returns the kind,
# -1 on a genuine error (the one the general path would report), or -2 when the message is not
# in exactly this form; the caller then restarts on the general path.
# ---------------------------------------------------------------------------------------------

cdef int binance_fast_trade(DecState* d, Scan* sc, const char** pp, bint agg) noexcept nogil:
    cdef const char* p = pp[0]
    cdef const char* end = sc.end
    cdef const char* s
    cdef Py_ssize_t n
    cdef int64_t E, tid, T, x
    cdef SymbolEntry* sym
    cdef TradeRecord* t
    cdef bint m, M
    cdef px_t px
    cdef qty_t sz
    if not fast_ms(&p, end, &E) or not fast_literal(&p, end, b',"s":"', 6):
        return -2
    if not fast_string(&p, end, &s, &n):
        return -2
    if (not fast_literal(&p, end, b',"a":' if agg else b',"t":', 5)
            or not fast_int(&p, end, &tid)):
        return -2
    sym = symbol_find(&d.symbols, s, n)
    if sym == NULL:
        return -2
    if (not fast_literal(&p, end, b',"p":"', 6)
            or not fast_decimal(&p, end, sym.price_decimals, &px)
            or not fast_literal(&p, end, b',"q":"', 6)
            or not fast_decimal(&p, end, sym.size_decimals, &sz)):
        return -2
    if agg:
        if (not fast_literal(&p, end, b',"f":', 5) or not fast_int(&p, end, &x)
                or not fast_literal(&p, end, b',"l":', 5) or not fast_int(&p, end, &x)):
            return -2
    elif fast_literal(&p, end, b',"b":', 5):
        if (not fast_int(&p, end, &x) or not fast_literal(&p, end, b',"a":', 5)
                or not fast_int(&p, end, &x)):
            return -2
    if (not fast_literal(&p, end, b',"T":', 5) or not fast_ms(&p, end, &T)
            or not fast_literal(&p, end, b',"m":', 5) or not fast_bool(&p, end, &m)
            or not fast_literal(&p, end, b',"M":', 5) or not fast_bool(&p, end, &M)
            or not fast_literal(&p, end, b"}", 1)):
        return -2
    symbol_note(d, sym, s, n)
    t = push_trade(d)
    if t == NULL:
        return scan_fail(sc, E_CAPACITY, p)
    t.price = px
    t.size = sz
    t.exchange_ts = T
    t.trade_id = tid
    t.instrument_id = sym.instrument_id
    t.side = SIDE_ASK if m else SIDE_BID
    d.info.exchange_ts = E
    d.info.what = b"aggTrade" if agg else b"trade"
    pp[0] = p
    return K_TRADE


cdef int binance_fast_depth(DecState* d, Scan* sc, const char** pp,
                            bint futures) noexcept nogil:
    """Spot: E s U u b a.  USDⓈ-M futures: E T s U u pu b a."""
    cdef const char* p = pp[0]
    cdef const char* end = sc.end
    cdef const char* s
    cdef Py_ssize_t n, span
    cdef int64_t E, T, U, u, pu = -1
    cdef SymbolEntry* sym
    cdef BookSpan* sp
    if not fast_ms(&p, end, &E):
        return -2
    if futures and (not fast_literal(&p, end, b',"T":', 5) or not fast_int(&p, end, &T)):
        return -2
    if (not fast_literal(&p, end, b',"s":"', 6)
            or not fast_string(&p, end, &s, &n)
            or not fast_literal(&p, end, b',"U":', 5) or not fast_int(&p, end, &U)
            or not fast_literal(&p, end, b',"u":', 5) or not fast_int(&p, end, &u)):
        return -2
    if futures and (not fast_literal(&p, end, b',"pu":', 6) or not fast_int(&p, end, &pu)):
        return -2
    if not fast_literal(&p, end, b',"b":', 5):
        return -2
    sym = symbol_find(&d.symbols, s, n)
    if sym == NULL:
        return -2
    d.info.what = b"depthUpdate"
    symbol_note(d, sym, s, n)
    span = span_open(d, sc, sym)
    if span < 0:
        return -1
    sc.p = p
    if read_levels(d, sc, sym, SIDE_BID, &BINANCE_PAIRS, NULL) < 0:
        return -1
    p = sc.p
    if not fast_literal(&p, end, b',"a":', 5):
        return -2
    sc.p = p
    if read_levels(d, sc, sym, SIDE_ASK, &BINANCE_PAIRS, NULL) < 0:
        return -1
    p = sc.p
    if not fast_literal(&p, end, b"}", 1):
        return -2
    sp = span_close(d, sc, span, E, u, False)
    if sp == NULL:
        return -1
    sp.first_seq = U
    sp.prev_seq = pu
    sp.flags |= INFO_HAS_SEQ
    pp[0] = p
    return K_BOOK_UPDATE


cdef int binance_fast_book_ticker(DecState* d, Scan* sc, const char** pp) noexcept nogil:
    cdef const char* p = pp[0]
    cdef const char* end = sc.end
    cdef const char* s
    cdef Py_ssize_t n
    cdef int64_t u
    cdef SymbolEntry* sym
    cdef BBORecord* o
    cdef px_t bp, ap
    cdef qty_t bs, as_
    if (not fast_int(&p, end, &u) or not fast_literal(&p, end, b',"s":"', 6)
            or not fast_string(&p, end, &s, &n)):
        return -2
    sym = symbol_find(&d.symbols, s, n)
    if sym == NULL:
        return -2
    if (not fast_literal(&p, end, b',"b":"', 6)
            or not fast_decimal(&p, end, sym.price_decimals, &bp)
            or not fast_literal(&p, end, b',"B":"', 6)
            or not fast_decimal(&p, end, sym.size_decimals, &bs)
            or not fast_literal(&p, end, b',"a":"', 6)
            or not fast_decimal(&p, end, sym.price_decimals, &ap)
            or not fast_literal(&p, end, b',"A":"', 6)
            or not fast_decimal(&p, end, sym.size_decimals, &as_)
            or not fast_literal(&p, end, b"}", 1)):
        return -2
    symbol_note(d, sym, s, n)
    o = push_bbo(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, p)
    o.bid_price = bp
    o.bid_size = bs
    o.ask_price = ap
    o.ask_size = as_
    o.sequence = u
    o.instrument_id = sym.instrument_id
    d.info.what = b"bookTicker"
    d.info.first_seq = u
    d.info.last_seq = u
    d.info.flags |= INFO_HAS_SEQ
    pp[0] = p
    return K_BBO


cdef int binance_fast_event(DecState* d, Scan* sc, const char** pp,
                            bint futures) noexcept nogil:
    if fast_literal(pp, sc.end, b'{"e":"depthUpdate","E":', 23):
        return binance_fast_depth(d, sc, pp, futures)
    if fast_literal(pp, sc.end, b'{"e":"trade","E":', 17):
        return binance_fast_trade(d, sc, pp, False)
    if fast_literal(pp, sc.end, b'{"e":"aggTrade","E":', 20):
        return binance_fast_trade(d, sc, pp, True)
    if fast_literal(pp, sc.end, b'{"u":', 5):
        return binance_fast_book_ticker(d, sc, pp)
    return -2


cdef int binance_fast(DecState* d, Scan* sc, bint futures) noexcept nogil:
    """Templates for bare events and the combined-stream wrapper."""
    cdef const char* p = sc.p
    cdef const char* s
    cdef Py_ssize_t n
    cdef int r
    if fast_literal(&p, sc.end, b'{"stream":"', 11):
        if not fast_string(&p, sc.end, &s, &n) or not fast_literal(&p, sc.end, b',"data":', 8):
            return -2
        r = binance_fast_event(d, sc, &p, futures)
        if r < 0:
            return r
        if not fast_literal(&p, sc.end, b"}", 1):
            return -2
    else:
        r = binance_fast_event(d, sc, &p, futures)
        if r < 0:
            return r
    sc.p = p
    return r


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

cdef int binance_decode(DecState* d, Scan* sc, bint futures) noexcept nogil:
    cdef const char* obj
    cdef const char* k
    cdef Py_ssize_t kn
    cdef int st = 0, r, kind = -2
    cdef uint64_t seen = 0
    cdef Field f
    cdef int64_t sid
    r = binance_fast(d, sc, futures)
    if r >= 0 or r == -1:
        return r
    message_restart(d)
    scan_skip_ws(sc)
    obj = sc.p
    if scan_object_open(sc) < 0:
        if sc.p < sc.end and sc.p[0] == b'[':
            sc.err = 0
            return fail_unexpected(sc)
        return -1
    r = scan_object_key(sc, &st, &k, &kn)
    if r < 0:
        return -1
    if r == 0 or not (text_is(k, kn, b"stream") or text_is(k, kn, b"data")
                      or text_is(k, kn, b"subscriptionId") or text_is(k, kn, b"event")):
        sc.p = obj
        return binance_event(d, sc, futures)
    while True:                                           # {"stream":..,"data":..} wrappers
        if text_is(k, kn, b"stream"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &f) < 0:
                return -1
        elif text_is(k, kn, b"subscriptionId"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_int(sc, &sid) < 0:
                return -1
        elif text_is(k, kn, b"data") or text_is(k, kn, b"event"):
            if scan_seen_once(sc, &seen, 2, k) < 0:
                return -1
            kind = binance_event(d, sc, futures)
            if kind < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
    if kind == -2:
        d.info.what = b"wrapper"
        return fail_missing(sc)
    return kind


cdef int binance_depth_snapshot(DecState* d, Scan* sc, SymbolEntry* sym,
                                bint futures) noexcept nogil:
    """REST GET /api/v3/depth: {"lastUpdateId":..,"bids":[..],"asks":[..]}; USDⓈ-M futures
    GET /fapi/v1/depth adds the message time "E" (the records' exchange_ts) and "T"."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t last = 0, E = 0, T
    cdef Py_ssize_t span
    cdef BookSpan* s
    d.info.what = b"depth snapshot"
    span = span_open(d, sc, sym)
    if span < 0 or scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"lastUpdateId"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_int(sc, &last) < 0:
                return -1
        elif text_is(k, kn, b"bids") or text_is(k, kn, b"asks"):
            if (scan_seen_once(sc, &seen, 1 if k[0] == b'b' else 2, k) < 0
                    or read_levels(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK,
                                   &BINANCE_PAIRS, NULL) < 0):
                return -1
        elif futures and text_is(k, kn, b"E"):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_ms(sc, &E) < 0:
                return -1
        elif futures and text_is(k, kn, b"T"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_ms(sc, &T) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 7) != 7:
        return fail_missing(sc)
    s = span_close(d, sc, span, E, last, True)
    if s == NULL:
        return -1
    s.flags |= INFO_HAS_SEQ
    return K_BOOK_SNAPSHOT


cdef class BinanceDecoder(Decoder):
    """Binance spot: depthUpdate, trade, aggTrade, bookTicker, executionReport (bare, in the
    combined-stream ``{"stream","data"}`` or WebSocket-API ``{"subscriptionId","event"}``
    wrappers; futures depth's ``pu`` is ``prev_seq``) and the REST depth snapshot via
    :meth:`decode_depth_snapshot`."""

    VENUE = "binance"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        return binance_decode(d, sc, False)

    cdef int _decode_snapshot(self, DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
        return binance_depth_snapshot(d, sc, sym, False)

    cdef int decode_depth_snapshot_c(self, const char* data, Py_ssize_t n, ts_t recv_ts,
                                     const char* symbol, Py_ssize_t symbol_len) noexcept nogil:
        return self.decode_snapshot_c(data, n, recv_ts, symbol, symbol_len)

    def decode_depth_snapshot(self, data, symbol, long long recv_ts=0):
        """Decode a REST ``GET /api/v3/depth`` body for ``symbol``: BOOK_SNAPSHOT deltas whose
        sequence is ``lastUpdateId`` (the same as ``decode_snapshot``)."""
        return self.decode_snapshot(data, symbol, recv_ts)


@cython.final
cdef class BinanceFuturesDecoder(BinanceDecoder):
    """Binance USDⓈ-M futures (``fstream.binance.com``): the spot messages in their futures
    form -- ``depthUpdate`` with ``T`` and ``pu`` (required: the chain is ``pu == previous u``),
    ``aggTrade``, ``trade``, ``bookTicker`` --, the private ``ORDER_TRADE_UPDATE`` (an
    ORDER record) and the REST ``GET /fapi/v1/depth`` snapshot via
    :meth:`decode_depth_snapshot` (its ``E`` is the records' exchange_ts)."""

    VENUE = "binance_futures"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        return binance_decode(d, sc, True)

    cdef int _decode_snapshot(self, DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
        return binance_depth_snapshot(d, sc, sym, True)
