# Kraken Futures websocket v1 ({"feed": ...} objects, JSON numbers): book_snapshot and book (one
# level per message; "seq" per product chains them), trade and trade_snapshot (history sent on
# subscription: TRADE_SNAPSHOT), ticker (as BBO) and ticker_lite (prices only), heartbeat;
# private open_orders / open_orders_snapshot and fills / fills_snapshot; events (info,
# subscribed, error, challenge, alert).
from libc.stdint cimport int64_t, uint64_t, uint8_t
from hftcore._ext.types cimport (
    TradeRecord, BBORecord, OrderUpdate, BookDelta, SIDE_BID, SIDE_ASK, BBO_NO_SIZE,
    BBO_NO_BID, BBO_NO_ASK, TRADE_SNAPSHOT, ORDER_IS_FILL, ORDER_IS_MAKER, ORDER_HAS_FEE,
    ORDER_TRADE_ID_TEXT, ORDER_ID_LEN, ASSET_LEN, ORDER_STATUS_ACCEPTED,
    ORDER_STATUS_PARTIALLY_FILLED, ORDER_STATUS_FILLED, ORDER_STATUS_CANCELED,
    ORDER_STATUS_REJECTED, ORDER_STATUS_UNKNOWN, ORDER_TYPE_LIMIT, ORDER_TYPE_MARKET,
    ORDER_TYPE_STOP_MARKET, ORDER_TYPE_STOP_LIMIT, ORDER_TYPE_LIMIT_MAKER, ORDER_TYPE_UNKNOWN,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, NO_INSTRUMENT, symbol_find, push_delta, push_trade,
    push_bbo, push_order, K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_ORDER,
    K_UNKNOWN_SYMBOL, K_HEARTBEAT, K_SUBSCRIBED, K_VENUE_ERROR, K_STATUS, K_OTHER, E_TYPE,
    E_SHAPE, E_NUMBER, E_CAPACITY, INFO_HAS_SEQ,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, JSON_STRING, JSON_NUMBER, JSON_NULL, JSON_TRUE, JSON_FALSE, scan_fail,
    scan_skip_ws, scan_string_field, scan_skip_value, scan_object_open, scan_object_key,
    scan_seen_once, scan_array_open, scan_array_next, scan_int, scan_ms, scan_peek_keys,
    scan_decimal_number, scan_number, scan_lift_error, text_is, trade_id_text, fast_literal, fast_string, fast_int, fast_ms,
    decimal_text,
)
from hftcore._ext.decode_common cimport (
    LevelFormat, DeferredLevels, LEVEL_NUMBERS, LEVEL_TIME_NONE, level_object,
    levels_now_or_later, levels_deferred, span_open, span_close, symbol_lookup, symbol_note,
    skip_unknown_key, fail_missing, fail_unexpected, finish_control, finish_other,
    collect_fields, fields_required, field_is, field_symbol, field_decimal,
    field_decimal_or_zero, field_int, field_ms, field_bool, field_text, field_side,
    field_trade_id, field_id, message_restart,
)

# {"price": 439.3, "qty": 20108.0}
cdef LevelFormat KRAKEN_FUTURES_LEVELS = level_object(b"price", b"qty", NULL, NULL,
                                                      LEVEL_NUMBERS, LEVEL_TIME_NONE)


cdef int kf_number(Scan* sc, int decimals, int64_t* out) noexcept nogil:
    """A non-negative JSON number (not text: this venue sends numbers) at decimals."""
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'"':
        return scan_fail(sc, E_TYPE, sc.p)
    return scan_decimal_number(sc, decimals, out)


# ---------------------------------------------------------------------------------------------
# Books
# ---------------------------------------------------------------------------------------------

cdef int kf_book_snapshot(DecState* d, Scan* sc) noexcept nogil:
    """{"feed","product_id","timestamp","seq","tickSize","bids":[{price,qty}],"asks":[..]}"""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t ts = 0, seq = 0
    cdef Field s
    cdef SymbolEntry* sym = NULL
    cdef DeferredLevels later
    cdef Py_ssize_t span = -1
    cdef BookSpan* sp
    later.count = 0
    d.info.what = b"book_snapshot"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"bids") or text_is(k, kn, b"asks"):
            if (scan_seen_once(sc, &seen, 0 if k[0] == b'b' else 1, k) < 0
                    or levels_now_or_later(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK,
                                           &KRAKEN_FUTURES_LEVELS, &later, NULL) < 0):
                return -1
        elif text_is(k, kn, b"product_id"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_string_field(sc, &s) < 0:
                return -1
            sym = symbol_lookup(d, s.s, s.n)
            if sym != NULL:
                span = span_open(d, sc, sym)
                if span < 0:
                    return -1
        elif text_is(k, kn, b"seq"):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_int(sc, &seq) < 0:
                return -1
        elif text_is(k, kn, b"timestamp"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_ms(sc, &ts) < 0:
                return -1
        elif text_is(k, kn, b"feed"):
            if scan_seen_once(sc, &seen, 5, k) < 0 or scan_string_field(sc, &s) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 0xF) != 0xF:
        return fail_missing(sc)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    if levels_deferred(d, sc, sym, &KRAKEN_FUTURES_LEVELS, &later, NULL) < 0:
        return -1
    sp = span_close(d, sc, span, ts, seq, True)
    if sp == NULL:
        return -1
    sp.flags |= INFO_HAS_SEQ
    return K_BOOK_SNAPSHOT


cdef int kf_book_level(DecState* d, Scan* sc, SymbolEntry* sym, int side, int64_t seq,
                       const Field* price, const Field* qty, int64_t ts) noexcept nogil:
    cdef Py_ssize_t span = span_open(d, sc, sym)
    cdef BookDelta* r
    cdef BookSpan* sp
    if span < 0:
        return -1
    r = push_delta(d)
    if r == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    r.instrument_id = sym.instrument_id
    r.side = <uint8_t>side
    if (decimal_text(sc, price.s, price.n, sym.price_decimals, False, &r.price) < 0
            or decimal_text(sc, qty.s, qty.n, sym.size_decimals, False, &r.size) < 0):
        return -1
    sp = span_close(d, sc, span, ts, seq, False)
    if sp == NULL:
        return -1
    sp.flags |= INFO_HAS_SEQ
    return K_BOOK_UPDATE


cdef int kf_book(DecState* d, Scan* sc) noexcept nogil:
    """{"feed":"book","product_id","side","seq","price","qty","timestamp"}: one level."""
    cdef const char* names[7]
    cdef Field v[7]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef uint8_t side
    cdef int64_t seq, ts
    names[0] = b"product_id"; names[1] = b"side"; names[2] = b"seq"; names[3] = b"price"
    names[4] = b"qty"; names[5] = b"timestamp"; names[6] = b"feed"
    d.info.what = b"book"
    if (collect_fields(d, sc, names, 7, v, &f) < 0 or fields_required(sc, f, 0x3F) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if (field_side(sc, &v[1], &side) < 0 or field_int(sc, &v[2], &seq) < 0
            or field_ms(sc, &v[5], &ts) < 0):
        return -1
    if v[3].type != JSON_NUMBER:
        return scan_fail(sc, E_TYPE, v[3].s)
    if v[4].type != JSON_NUMBER:
        return scan_fail(sc, E_TYPE, v[4].s)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    return kf_book_level(d, sc, sym, side, seq, &v[3], &v[4], ts)


cdef int kf_fast_book(DecState* d, Scan* sc) noexcept nogil:
    """{"feed":"book","product_id":"P","side":"buy","seq":N,"price":X,"qty":Y,"timestamp":T}
    as Kraken sends it: the kind, -1 on a genuine error, -2 when not exactly this form."""
    cdef const char* p = sc.p
    cdef const char* end = sc.end
    cdef const char* s
    cdef Py_ssize_t n
    cdef int side
    cdef int64_t seq, ts
    cdef Field price, qty
    cdef SymbolEntry* sym
    cdef Scan sub
    if (not fast_literal(&p, end, b'{"feed":"book","product_id":"', 29)
            or not fast_string(&p, end, &s, &n)):
        return -2
    if fast_literal(&p, end, b',"side":"buy","seq":', 20):
        side = SIDE_BID
    elif fast_literal(&p, end, b',"side":"sell","seq":', 21):
        side = SIDE_ASK
    else:
        return -2
    if not fast_int(&p, end, &seq) or not fast_literal(&p, end, b',"price":', 9):
        return -2
    sub = sc[0]
    sub.p = p
    if p >= end or p[0] == b' ' or scan_number(&sub, &price.s, &price.n) < 0:
        return -2                                         # (its value is read below)
    p = sub.p
    if not fast_literal(&p, end, b',"qty":', 7):
        return -2
    sub.p = p
    if p >= end or p[0] == b' ' or scan_number(&sub, &qty.s, &qty.n) < 0:
        return -2
    p = sub.p
    if (not fast_literal(&p, end, b',"timestamp":', 13) or not fast_ms(&p, end, &ts)
            or not fast_literal(&p, end, b"}", 1)):
        return -2
    sym = symbol_find(&d.symbols, s, n)
    if sym == NULL:
        return -2
    d.info.what = b"book"
    symbol_note(d, sym, s, n)
    sc.p = p
    return kf_book_level(d, sc, sym, side, seq, &price, &qty, ts)


# ---------------------------------------------------------------------------------------------
# Trades, tickers
# ---------------------------------------------------------------------------------------------

cdef int kf_trade_fields(DecState* d, Scan* sc, bint history) noexcept nogil:
    """{"feed":"trade","product_id","uid","side" (taker),"type","seq","time","qty","price"}"""
    cdef const char* names[6]
    cdef Field v[6]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef TradeRecord* t
    names[0] = b"product_id"; names[1] = b"price"; names[2] = b"qty"; names[3] = b"side"
    names[4] = b"time"; names[5] = b"uid"
    if (collect_fields(d, sc, names, 6, v, &f) < 0 or fields_required(sc, f, 0x1F) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    t = push_trade(d)
    if t == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if v[1].type != JSON_NUMBER:
        return scan_fail(sc, E_TYPE, v[1].s)
    if v[2].type != JSON_NUMBER:
        return scan_fail(sc, E_TYPE, v[2].s)
    if (field_decimal(sc, &v[1], sym.price_decimals, &t.price) < 0
            or field_decimal(sc, &v[2], sym.size_decimals, &t.size) < 0
            or field_side(sc, &v[3], &t.side) < 0
            or field_ms(sc, &v[4], &t.exchange_ts) < 0):
        return -1
    if v[5].type != JSON_ABSENT and field_trade_id(sc, &v[5], &t.trade_id, &t.flags) < 0:
        return -1
    if history:
        t.flags |= TRADE_SNAPSHOT
    t.instrument_id = sym.instrument_id
    if t.exchange_ts > d.info.exchange_ts:
        d.info.exchange_ts = t.exchange_ts
    return K_TRADE


cdef int kf_trade_snapshot(DecState* d, Scan* sc) noexcept nogil:
    """{"feed":"trade_snapshot","product_id","trades":[trade, ...]}: history, not new trades."""
    cdef int st = 0, ast, r, kind
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef bint unknown = False
    d.info.what = b"trade_snapshot"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"trades"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_array_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = scan_array_next(sc, &ast)
                if r == 0:
                    break
                if r < 0:
                    return -1
                kind = kf_trade_fields(d, sc, True)
                if kind < 0:
                    return -1
                if kind == K_UNKNOWN_SYMBOL:
                    unknown = True
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return fail_missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    return K_TRADE if d.info.n_trades else K_OTHER


cdef int kf_ticker(DecState* d, Scan* sc, bint lite) noexcept nogil:
    """ticker: {"product_id","bid","ask","bid_size","ask_size","time",...}; ticker_lite sends
    no sizes (BBO_NO_SIZE)."""
    cdef const char* names[6]
    cdef Field v[6]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef BBORecord* b
    names[0] = b"product_id"; names[1] = b"bid"; names[2] = b"ask"; names[3] = b"bid_size"
    names[4] = b"ask_size"; names[5] = b"time"
    d.info.what = b"ticker_lite" if lite else b"ticker"
    if (collect_fields(d, sc, names, 6, v, &f) < 0
            or fields_required(sc, f, 0x7 if lite else 0x1F) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    b = push_bbo(d)
    if b == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_decimal_or_zero(sc, &v[1], sym.price_decimals, False, &b.bid_price) < 0
            or field_decimal_or_zero(sc, &v[2], sym.price_decimals, False, &b.ask_price) < 0):
        return -1
    if lite:
        b.flags |= BBO_NO_SIZE
    elif (field_decimal_or_zero(sc, &v[3], sym.size_decimals, False, &b.bid_size) < 0
            or field_decimal_or_zero(sc, &v[4], sym.size_decimals, False, &b.ask_size) < 0):
        return -1
    if v[5].type != JSON_ABSENT and field_ms(sc, &v[5], &b.exchange_ts) < 0:
        return -1
    if b.bid_price == 0:
        b.flags |= BBO_NO_BID
    if b.ask_price == 0:
        b.flags |= BBO_NO_ASK
    b.instrument_id = sym.instrument_id
    d.info.exchange_ts = b.exchange_ts
    return K_BBO


# ---------------------------------------------------------------------------------------------
# Private: open orders and fills
# ---------------------------------------------------------------------------------------------

cdef uint8_t kf_order_status(const Field* reason, bint is_cancel, bint filled) noexcept nogil:
    """The "reason" of an open_orders delta -> ORDER_STATUS_*; words not listed: UNKNOWN."""
    if field_is(reason, b"full_fill"):
        return ORDER_STATUS_FILLED
    if field_is(reason, b"partial_fill"):
        return ORDER_STATUS_PARTIALLY_FILLED
    if (field_is(reason, b"new_placed_order_by_user") or field_is(reason, b"limit_order_from_stop")
            or field_is(reason, b"edited_by_user")):
        return ORDER_STATUS_PARTIALLY_FILLED if filled else ORDER_STATUS_ACCEPTED
    if (field_is(reason, b"cancelled_by_user") or field_is(reason, b"cancelled_by_admin")
            or field_is(reason, b"contract_expired") or field_is(reason, b"not_enough_margin")
            or field_is(reason, b"market_inactive") or field_is(reason, b"dead_man_switch")
            or field_is(reason, b"liquidation") or field_is(reason, b"stop_order_triggered")):
        return ORDER_STATUS_CANCELED
    if (field_is(reason, b"ioc_order_failed_because_it_would_not_be_executed")
            or field_is(reason, b"post_order_failed_because_it_would_filled")
            or field_is(reason, b"would_execute_self")
            or field_is(reason, b"would_not_reduce_position")
            or field_is(reason, b"order_for_edit_not_found")):
        return ORDER_STATUS_REJECTED
    if reason.type == JSON_ABSENT and not is_cancel:
        return ORDER_STATUS_PARTIALLY_FILLED if filled else ORDER_STATUS_ACCEPTED  # snapshot
    return ORDER_STATUS_UNKNOWN


cdef uint8_t kf_order_type(const Field* t, bint has_limit) noexcept nogil:
    if field_is(t, b"limit") or field_is(t, b"lmt"):
        return ORDER_TYPE_LIMIT
    if field_is(t, b"post"):
        return ORDER_TYPE_LIMIT_MAKER
    if field_is(t, b"market") or field_is(t, b"mkt"):
        return ORDER_TYPE_MARKET
    if field_is(t, b"stop") or field_is(t, b"take_profit") or field_is(t, b"stp"):
        return ORDER_TYPE_STOP_LIMIT if has_limit else ORDER_TYPE_STOP_MARKET
    return ORDER_TYPE_UNKNOWN


cdef int kf_order(DecState* d, Scan* sc, const Field* reason, bint is_cancel,
                  bint* unknown) noexcept nogil:
    """An order object: {"instrument","time","last_update_time","qty","filled","limit_price",
    "stop_price","type","order_id","cli_ord_id","direction" (0 buy, 1 sell),...}"""
    cdef const char* names[9]
    cdef Field v[9]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    cdef int64_t direction
    names[0] = b"instrument"; names[1] = b"order_id"; names[2] = b"cli_ord_id"
    names[3] = b"direction"; names[4] = b"type"; names[5] = b"limit_price"; names[6] = b"qty"
    names[7] = b"filled"; names[8] = b"last_update_time"
    if (collect_fields(d, sc, names, 9, v, &f) < 0 or fields_required(sc, f, 0x10B) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        unknown[0] = True
        return 0
    o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_int(sc, &v[3], &direction) < 0
            or field_id(sc, &v[1], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
            or field_decimal_or_zero(sc, &v[5], sym.price_decimals, False, &o.price) < 0
            or field_decimal_or_zero(sc, &v[6], sym.size_decimals, False, &o.size) < 0
            or field_decimal_or_zero(sc, &v[7], sym.size_decimals, False, &o.filled_size) < 0
            or field_ms(sc, &v[8], &o.exchange_ts) < 0):
        return -1
    if direction != 0 and direction != 1:
        return scan_fail(sc, E_NUMBER, v[3].s)
    o.side = SIDE_BID if direction == 0 else SIDE_ASK
    o.transact_ts = o.exchange_ts
    o.status = kf_order_status(reason, is_cancel, o.filled_size > 0)
    o.order_type = kf_order_type(&v[4], o.price > 0)
    o.instrument_id = sym.instrument_id
    if o.exchange_ts > d.info.exchange_ts:
        d.info.exchange_ts = o.exchange_ts
    return 0


cdef int kf_open_orders(DecState* d, Scan* sc, bint snapshot) noexcept nogil:
    """open_orders: {"feed","order":{..},"is_cancel","reason"}, or a cancel notice without the
    order: {"feed","order_id","is_cancel":true,"reason"} (its record names NO_INSTRUMENT);
    open_orders_snapshot: {"feed","account","orders":[..]}."""
    cdef const char* names[7]
    cdef Field v[7]
    cdef uint64_t f
    cdef bint is_cancel = False, unknown = False
    cdef int st = 0, r
    cdef Scan sub
    cdef OrderUpdate* o
    names[0] = b"order"; names[1] = b"orders"; names[2] = b"is_cancel"; names[3] = b"reason"
    names[4] = b"order_id"; names[5] = b"feed"; names[6] = b"account"
    d.info.what = b"open_orders_snapshot" if snapshot else b"open_orders"
    if collect_fields(d, sc, names, 7, v, &f) < 0 or field_bool(sc, &v[2], &is_cancel) < 0:
        return -1
    if v[3].type != JSON_ABSENT and v[3].type != JSON_STRING:
        return scan_fail(sc, E_TYPE, v[3].s)
    if snapshot:
        if not (f & 2):
            return fail_missing(sc)
        sub = sc[0]
        sub.p = v[1].s
        sub.end = v[1].s + v[1].n
        if scan_array_open(&sub) < 0:
            return scan_lift_error(sc, &sub)
        while True:
            r = scan_array_next(&sub, &st)
            if r == 0:
                break
            if r < 0 or kf_order(d, &sub, &v[3], False, &unknown) < 0:
                return scan_lift_error(sc, &sub)
    elif f & 1:
        sub = sc[0]
        sub.p = v[0].s
        sub.end = v[0].s + v[0].n
        if kf_order(d, &sub, &v[3], is_cancel, &unknown) < 0:
            return scan_lift_error(sc, &sub)
    elif f & 16:
        if not is_cancel:
            return fail_missing(sc)
        o = push_order(d)
        if o == NULL:
            return scan_fail(sc, E_CAPACITY, sc.p)
        if field_id(sc, &v[4], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0:
            return -1
        o.instrument_id = NO_INSTRUMENT
        o.status = kf_order_status(&v[3], True, False)
    else:
        return fail_missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    return K_ORDER if d.info.n_orders else K_OTHER


cdef int kf_fill(DecState* d, Scan* sc, bint* unknown) noexcept nogil:
    """{"instrument","time","price","seq","buy","qty","remaining_order_qty","order_id",
    "cli_ord_id","fill_id","fill_type","fee_paid","fee_currency","order_type"}: no cumulative
    fill (filled_size 0); remaining_order_qty 0 means the order is filled."""
    cdef const char* names[12]
    cdef Field v[12]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    cdef bint buy
    cdef int64_t remaining
    names[0] = b"instrument"; names[1] = b"order_id"; names[2] = b"cli_ord_id"; names[3] = b"buy"
    names[4] = b"price"; names[5] = b"qty"; names[6] = b"fill_id"; names[7] = b"fill_type"
    names[8] = b"fee_paid"; names[9] = b"fee_currency"; names[10] = b"time"
    names[11] = b"remaining_order_qty"
    if (collect_fields(d, sc, names, 12, v, &f) < 0 or fields_required(sc, f, 0x47B) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        unknown[0] = True
        return 0
    if v[3].type != JSON_TRUE and v[3].type != JSON_FALSE:
        return scan_fail(sc, E_TYPE, v[3].s)
    o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_bool(sc, &v[3], &buy) < 0
            or field_id(sc, &v[1], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
            or field_decimal(sc, &v[4], sym.price_decimals, &o.last_fill_price) < 0
            or field_decimal(sc, &v[5], sym.size_decimals, &o.last_fill_size) < 0
            or field_text(sc, &v[6], o.trade_id_text, ORDER_ID_LEN) < 0
            or field_decimal_or_zero(sc, &v[8], d.fee_decimals, True, &o.fee) < 0
            or field_text(sc, &v[9], o.fee_asset, ASSET_LEN) < 0
            or field_ms(sc, &v[10], &o.exchange_ts) < 0):
        return -1
    o.side = SIDE_BID if buy else SIDE_ASK
    if trade_id_text(v[6].s, v[6].n, &o.trade_id):
        o.flags |= ORDER_TRADE_ID_TEXT
    o.flags |= ORDER_IS_FILL
    if v[8].type == JSON_NUMBER:
        o.flags |= ORDER_HAS_FEE
    if field_is(&v[7], b"maker"):
        o.flags |= ORDER_IS_MAKER
    if v[11].type == JSON_ABSENT:
        o.status = ORDER_STATUS_UNKNOWN
    else:
        if field_decimal_or_zero(sc, &v[11], sym.size_decimals, False, &remaining) < 0:
            return -1
        o.status = ORDER_STATUS_PARTIALLY_FILLED if remaining > 0 else ORDER_STATUS_FILLED
    o.transact_ts = o.exchange_ts
    o.instrument_id = sym.instrument_id
    if o.exchange_ts > d.info.exchange_ts:
        d.info.exchange_ts = o.exchange_ts
    return 0


cdef int kf_fills(DecState* d, Scan* sc) noexcept nogil:
    """fills / fills_snapshot: {"feed","account","fills":[fill, ...]}."""
    cdef int st = 0, ast, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef bint unknown = False
    d.info.what = b"fills"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"fills"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_array_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = scan_array_next(sc, &ast)
                if r == 0:
                    break
                if r < 0 or kf_fill(d, sc, &unknown) < 0:
                    return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return fail_missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    return K_ORDER if d.info.n_orders else K_OTHER


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------

cdef int kraken_futures_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[2]
    cdef Field v[2]
    cdef uint64_t found
    cdef const char* start
    cdef Field* feed = &v[0]
    cdef int r
    scan_skip_ws(sc)
    start = sc.p
    if sc.p >= sc.end or sc.p[0] != b'{':
        return fail_unexpected(sc)
    r = kf_fast_book(d, sc)
    if r >= 0 or r == -1:
        return r
    message_restart(d)
    sc.p = start
    names[0] = b"feed"
    names[1] = b"event"
    if scan_peek_keys(sc, names, 2, v, &found, 3) < 0:
        return -1
    if found & 2:
        d.info.what = b"event"
        if (field_is(&v[1], b"subscribed") or field_is(&v[1], b"unsubscribed")
                or field_is(&v[1], b"challenge")):
            return finish_control(sc, K_SUBSCRIBED)
        if (field_is(&v[1], b"error") or field_is(&v[1], b"subscribed_failed")
                or field_is(&v[1], b"unsubscribed_failed")):
            return finish_control(sc, K_VENUE_ERROR)
        if field_is(&v[1], b"info") or field_is(&v[1], b"alert"):
            return finish_control(sc, K_STATUS)
        return finish_control(sc, K_OTHER)
    if not (found & 1):
        return fail_unexpected(sc)
    d.info.what = b"feed"
    if field_is(feed, b"book"):
        return kf_book(d, sc)
    if field_is(feed, b"book_snapshot"):
        return kf_book_snapshot(d, sc)
    if field_is(feed, b"trade"):
        d.info.what = b"trade"
        return kf_trade_fields(d, sc, False)
    if field_is(feed, b"trade_snapshot"):
        return kf_trade_snapshot(d, sc)
    if field_is(feed, b"ticker"):
        return kf_ticker(d, sc, False)
    if field_is(feed, b"ticker_lite"):
        return kf_ticker(d, sc, True)
    if field_is(feed, b"heartbeat"):
        return finish_control(sc, K_HEARTBEAT)
    if field_is(feed, b"open_orders") or field_is(feed, b"open_orders_verbose"):
        return kf_open_orders(d, sc, False)
    if (field_is(feed, b"open_orders_snapshot")
            or field_is(feed, b"open_orders_verbose_snapshot")):
        return kf_open_orders(d, sc, True)
    if field_is(feed, b"fills") or field_is(feed, b"fills_snapshot"):
        return kf_fills(d, sc)
    return finish_other(sc, K_OTHER)                      # balances, positions, notifications


@cython.final
cdef class KrakenFuturesDecoder(Decoder):
    """Kraken Futures websocket v1: ``book_snapshot`` and ``book`` (``seq`` -> ``last_seq``),
    ``trade`` / ``trade_snapshot`` (history: ``TradeFlag.SNAPSHOT``), ``ticker`` and
    ``ticker_lite`` (as BBO; lite without sizes), private ``open_orders`` and ``fills``."""

    VENUE = "kraken_futures"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        return kraken_futures_decode(d, sc)
