# Bybit v5: orderbook.N.* snapshot / delta (u, seq), publicTrade.*, private order and execution;
# op acknowledgements and pongs.
from libc.stdint cimport int64_t, uint64_t
from hftcore._ext.types cimport (
    TradeRecord, OrderUpdate, SIDE_BID, SIDE_ASK, ORDER_IS_FILL, ORDER_IS_MAKER, ORDER_HAS_FEE,
    ORDER_TRADE_ID_TEXT, ORDER_STATUS_PARTIALLY_FILLED, ORDER_STATUS_FILLED, ORDER_ID_LEN,
    ASSET_LEN,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, push_trade, push_order, K_BOOK_SNAPSHOT,
    K_BOOK_UPDATE, K_TRADE, K_ORDER, K_UNKNOWN_SYMBOL, K_HEARTBEAT, K_SUBSCRIBED,
    K_VENUE_ERROR, K_OTHER, E_SHAPE, E_CAPACITY, INFO_HAS_SEQ,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_FALSE, scan_fail, scan_skip_ws, scan_string_field, scan_skip_value,
    scan_object_open, scan_object_key, scan_seen_once, scan_array_open, scan_array_next,
    scan_int, scan_ms, scan_peek_keys, text_is, trade_id_text,
)
from hftcore._ext.decode_common cimport (
    LevelFormat, DeferredLevels, LEVEL_STRINGS, level_array, levels_now_or_later,
    levels_deferred, span_open, span_close, symbol_lookup, skip_unknown_key, fail_missing,
    fail_unexpected, finish_other, finish_control, collect_fields, fields_required, field_is,
    field_starts, field_symbol, field_decimal, field_decimal_or_zero, field_ms, field_bool,
    field_text, field_side, field_trade_id, field_id, order_status_from_field,
    order_type_from_field,
)

# [["price","size"], ...]
cdef LevelFormat BYBIT_PAIRS = level_array(2, 2, 0, 1, LEVEL_STRINGS)


cdef int bybit_book_data(DecState* d, Scan* sc, SymbolEntry** symp, Py_ssize_t* span,
                         int64_t* u, int64_t* seq) noexcept nogil:
    """The "data" object of an orderbook message: {"s","b","a","u","seq"}."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef Field s
    cdef SymbolEntry* sym = NULL
    cdef DeferredLevels later
    later.count = 0
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"b") or text_is(k, kn, b"a"):
            if (scan_seen_once(sc, &seen, 0 if k[0] == b'b' else 1, k) < 0
                    or levels_now_or_later(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK,
                                           &BYBIT_PAIRS, &later, NULL) < 0):
                return -1
        elif text_is(k, kn, b"s"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_string_field(sc, &s) < 0:
                return -1
            sym = symbol_lookup(d, s.s, s.n)
            if sym != NULL:
                span[0] = span_open(d, sc, sym)
                if span[0] < 0:
                    return -1
        elif text_is(k, kn, b"u"):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_int(sc, u) < 0:
                return -1
        elif text_is(k, kn, b"seq"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_int(sc, seq) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 0xF) != 0xF:
        return fail_missing(sc)
    if sym != NULL and levels_deferred(d, sc, sym, &BYBIT_PAIRS, &later, NULL) < 0:
        return -1
    symp[0] = sym
    return 0


cdef int bybit_book(DecState* d, Scan* sc) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef Field typ, topic
    cdef int64_t ts = 0, cts = 0, u = 0, seq = 0
    cdef SymbolEntry* sym = NULL
    cdef Py_ssize_t span = -1
    cdef BookSpan* s
    cdef bint snap
    d.info.what = b"orderbook"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"topic"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &topic) < 0:
                return -1
        elif text_is(k, kn, b"type"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_string_field(sc, &typ) < 0:
                return -1
        elif text_is(k, kn, b"ts"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_ms(sc, &ts) < 0:
                return -1
        elif text_is(k, kn, b"data"):
            if (scan_seen_once(sc, &seen, 3, k) < 0
                    or bybit_book_data(d, sc, &sym, &span, &u, &seq) < 0):
                return -1
        elif text_is(k, kn, b"cts"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_ms(sc, &cts) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 0xF) != 0xF:
        return fail_missing(sc)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    if field_is(&typ, b"snapshot"):
        snap = True
    elif field_is(&typ, b"delta"):
        snap = False
    else:
        return scan_fail(sc, E_SHAPE, typ.s)
    s = span_close(d, sc, span, ts, u, snap)
    if s == NULL:
        return -1
    s.cross_seq = seq
    s.flags |= INFO_HAS_SEQ
    return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE


cdef int bybit_trades(DecState* d, Scan* sc) noexcept nogil:
    """publicTrade: {"topic","type","ts","data":[{"s","p","v","S","T","i",...}, ...]}."""
    cdef int st = 0, r, ast
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0, f
    cdef int64_t ts = 0
    cdef Field v[6]
    cdef const char* names[6]
    cdef bint unknown = False
    cdef SymbolEntry* sym
    cdef TradeRecord* t
    names[0] = b"s"
    names[1] = b"p"
    names[2] = b"v"
    names[3] = b"S"
    names[4] = b"T"
    names[5] = b"i"
    d.info.what = b"publicTrade"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"data"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_array_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = scan_array_next(sc, &ast)
                if r == 0:
                    break
                if (r < 0 or collect_fields(d, sc, names, 6, v, &f) < 0
                        or fields_required(sc, f, 0x3F) < 0
                        or field_symbol(d, sc, &v[0], &sym) < 0):
                    return -1
                if sym == NULL:
                    unknown = True
                    continue
                t = push_trade(d)
                if t == NULL:
                    return scan_fail(sc, E_CAPACITY, sc.p)
                if (field_decimal(sc, &v[1], sym.price_decimals, &t.price) < 0
                        or field_decimal(sc, &v[2], sym.size_decimals, &t.size) < 0
                        or field_side(sc, &v[3], &t.side) < 0
                        or field_ms(sc, &v[4], &t.exchange_ts) < 0
                        or field_trade_id(sc, &v[5], &t.trade_id, &t.flags) < 0):
                    return -1
                t.instrument_id = sym.instrument_id
        elif text_is(k, kn, b"ts"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_ms(sc, &ts) < 0:
                return -1
        elif text_is(k, kn, b"topic") or text_is(k, kn, b"type"):
            if scan_skip_value(sc, 1) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return fail_missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    d.info.exchange_ts = ts
    return K_TRADE


cdef int bybit_orders(DecState* d, Scan* sc, bint execution) noexcept nogil:
    """Private "order" (order state) and "execution" (fills) topics."""
    cdef int st = 0, r, ast
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0, f
    cdef int64_t ts = 0, leaves
    cdef Field v[15]
    cdef const char* names[15]
    cdef bint unknown = False, maker
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    # 0 symbol 1 orderId 2 orderLinkId 3 side 4 orderType 5 price/orderPrice 6 qty/orderQty
    # 7 orderStatus/leavesQty 8 cumExecQty/execQty 9 avgPrice/execPrice 10 cumExecFee/execFee
    # 11 updatedTime/execTime 12 feeCurrency 13 -/execId 14 -/isMaker
    names[0] = b"symbol"
    names[1] = b"orderId"
    names[2] = b"orderLinkId"
    names[3] = b"side"
    names[4] = b"orderType"
    if execution:
        names[5] = b"orderPrice"
        names[6] = b"orderQty"
        names[7] = b"leavesQty"
        names[8] = b"execQty"
        names[9] = b"execPrice"
        names[10] = b"execFee"
        names[11] = b"execTime"
    else:
        names[5] = b"price"
        names[6] = b"qty"
        names[7] = b"orderStatus"
        names[8] = b"cumExecQty"
        names[9] = b"avgPrice"
        names[10] = b"cumExecFee"
        names[11] = b"updatedTime"
    names[12] = b"feeCurrency"
    names[13] = b"execId"
    names[14] = b"isMaker"
    d.info.what = b"execution" if execution else b"order"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"data"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_array_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = scan_array_next(sc, &ast)
                if r == 0:
                    break
                if (r < 0 or collect_fields(d, sc, names, 15, v, &f) < 0
                        or fields_required(sc, f, 0x2FFF if execution else 0xFFF) < 0
                        or field_symbol(d, sc, &v[0], &sym) < 0):
                    return -1
                if sym == NULL:
                    unknown = True
                    continue
                o = push_order(d)
                if o == NULL:
                    return scan_fail(sc, E_CAPACITY, sc.p)
                if (field_side(sc, &v[3], &o.side) < 0
                        or field_id(sc, &v[1], o.venue_order_id_text, ORDER_ID_LEN,
                                    &o.venue_order_id) < 0
                        or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
                        or field_decimal_or_zero(sc, &v[5], sym.price_decimals, False,
                                                 &o.price) < 0
                        or field_decimal_or_zero(sc, &v[6], sym.size_decimals, False,
                                                 &o.size) < 0
                        or field_decimal_or_zero(sc, &v[10], d.fee_decimals, True, &o.fee) < 0
                        or field_ms(sc, &v[11], &o.transact_ts) < 0
                        or field_text(sc, &v[12], o.fee_asset, ASSET_LEN) < 0):
                    return -1
                o.order_type = order_type_from_field(&v[4])
                o.instrument_id = sym.instrument_id
                o.flags |= ORDER_HAS_FEE
                if execution:
                    if (field_decimal_or_zero(sc, &v[7], sym.size_decimals, False, &leaves) < 0
                            or field_decimal_or_zero(sc, &v[8], sym.size_decimals, False,
                                                     &o.last_fill_size) < 0
                            or field_decimal_or_zero(sc, &v[9], sym.price_decimals, False,
                                                     &o.last_fill_price) < 0
                            or field_text(sc, &v[13], o.trade_id_text, ORDER_ID_LEN) < 0
                            or field_bool(sc, &v[14], &maker) < 0):
                        return -1
                    if trade_id_text(v[13].s, v[13].n, &o.trade_id):
                        o.flags |= ORDER_TRADE_ID_TEXT
                    o.filled_size = o.size - leaves if o.size >= leaves else 0
                    o.status = (ORDER_STATUS_PARTIALLY_FILLED if leaves > 0
                                else ORDER_STATUS_FILLED)
                    o.flags |= ORDER_IS_FILL
                    if maker:
                        o.flags |= ORDER_IS_MAKER
                else:
                    if (field_decimal_or_zero(sc, &v[8], sym.size_decimals, False,
                                              &o.filled_size) < 0
                            or field_decimal_or_zero(sc, &v[9], sym.price_decimals, False,
                                                     &o.avg_price) < 0):
                        return -1
                    o.status = order_status_from_field(&v[7])
                o.exchange_ts = o.transact_ts
        elif text_is(k, kn, b"creationTime"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_ms(sc, &ts) < 0:
                return -1
        elif text_is(k, kn, b"topic") or text_is(k, kn, b"id"):
            if scan_skip_value(sc, 1) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return fail_missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    d.info.exchange_ts = ts
    return K_ORDER


cdef int bybit_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[4]
    cdef Field v[4]
    cdef uint64_t found
    cdef Field* topic = &v[0]
    names[0] = b"topic"
    names[1] = b"op"
    names[2] = b"ret_msg"
    names[3] = b"success"
    scan_skip_ws(sc)
    if sc.p >= sc.end or sc.p[0] != b'{':
        return fail_unexpected(sc)
    if scan_peek_keys(sc, names, 4, v, &found, 0x3) < 0:
        return -1
    if found & 1:
        if field_starts(topic, b"orderbook."):
            return bybit_book(d, sc)
        if field_starts(topic, b"publicTrade.") or field_starts(topic, b"trade."):
            return bybit_trades(d, sc)
        if field_is(topic, b"order") or field_starts(topic, b"order."):
            return bybit_orders(d, sc, False)
        if field_is(topic, b"execution") or field_starts(topic, b"execution."):
            return bybit_orders(d, sc, True)
        d.info.what = b"topic"
        return finish_other(sc, K_OTHER)
    if found & 2:
        d.info.what = b"op"
        if field_is(&v[1], b"pong") or field_is(&v[1], b"ping"):
            return finish_control(sc, K_HEARTBEAT)
        if v[3].type == JSON_FALSE:
            return finish_control(sc, K_VENUE_ERROR)
        return finish_control(sc, K_SUBSCRIBED)
    if found & 4:
        d.info.what = b"error"
        return finish_control(sc, K_VENUE_ERROR)
    return fail_unexpected(sc)


@cython.final
cdef class BybitDecoder(Decoder):
    """Bybit v5: ``orderbook.N.*`` snapshot / delta (``u``, cross sequence ``seq``),
    ``publicTrade.*``, private ``order`` and ``execution``."""

    VENUE = "bybit"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        return bybit_decode(d, sc)
