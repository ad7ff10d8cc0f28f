# Coinbase Exchange feed ({"type": ...}: snapshot / l2update, match / last_match, ticker as BBO)
# and Advanced Trade ({"channel": ...}: l2_data with one BookSpan per product event,
# market_trades, user orders); subscriptions, heartbeats, errors, status.
from libc.stdint cimport int64_t, uint64_t, uint8_t, INT64_MAX
from hftcore._ext.types cimport (
    TradeRecord, BBORecord, OrderUpdate, BookDelta, SIDE_BID, SIDE_ASK, BBO_NO_SIZE,
    ORDER_HAS_FEE, ORDER_ID_LEN,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, push_trade, push_bbo, push_order,
    K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_ORDER, K_UNKNOWN_SYMBOL, K_HEARTBEAT,
    K_SUBSCRIBED, K_VENUE_ERROR, K_STATUS, K_OTHER, E_SHAPE, E_NUMBER, E_CAPACITY,
    INFO_HAS_SEQ,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, scan_fail, scan_sub, scan_lift_error, scan_skip_ws,
    scan_string_field, scan_skip_value, scan_object_open, scan_object_key, scan_seen_once,
    scan_array_open, scan_array_next, scan_int, scan_iso_time, scan_peek_keys, text_is,
)
from hftcore._ext.decode_common cimport (
    LevelFormat, DeferredLevels, LEVEL_STRINGS, LEVEL_TIME_ISO, level_array, level_object,
    read_levels, levels_now_or_later, levels_deferred, span_open, span_close, symbol_lookup,
    skip_unknown_key, fail_missing, fail_unexpected, finish_other, finish_control,
    collect_fields, fields_required, field_is, field_symbol, field_decimal,
    field_decimal_or_zero, field_int, field_iso_time, field_text, field_side, field_trade_id,
    field_id, order_status_from_field, order_type_from_field,
)


cdef LevelFormat coinbase_changes_levels() noexcept nogil:
    # l2update "changes": [["buy"|"sell", "price", "size"], ...]
    cdef LevelFormat f = level_array(3, 3, 1, 2, LEVEL_STRINGS)
    f.side_at = 0
    return f


# snapshot bids / asks: [["price","size"], ...]
cdef LevelFormat COINBASE_PAIRS = level_array(2, 2, 0, 1, LEVEL_STRINGS)
cdef LevelFormat COINBASE_CHANGES = coinbase_changes_levels()
# Advanced Trade l2_data "updates"
cdef LevelFormat COINBASE_UPDATES = level_object(b"price_level", b"new_quantity", b"side",
                                                 b"event_time", LEVEL_STRINGS, LEVEL_TIME_ISO)


# ---------------------------------------------------------------------------------------------
# Exchange feed
# ---------------------------------------------------------------------------------------------

cdef int coinbase_book(DecState* d, Scan* sc, bint snap) noexcept nogil:
    """snapshot {"product_id","bids","asks"} / l2update {"product_id","changes","time"}."""
    cdef int st = 0, r, bit
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t ts = 0
    cdef Field s
    cdef SymbolEntry* sym = NULL
    cdef DeferredLevels later
    cdef Py_ssize_t span = -1
    later.count = 0
    d.info.what = b"snapshot" if snap else b"l2update"
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"type"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &s) < 0:
                return -1
        elif text_is(k, kn, b"product_id"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_string_field(sc, &s) < 0:
                return -1
            sym = symbol_lookup(d, s.s, s.n)
            if sym != NULL:
                span = span_open(d, sc, sym)
                if span < 0:
                    return -1
        elif snap and (text_is(k, kn, b"bids") or text_is(k, kn, b"asks")):
            if (scan_seen_once(sc, &seen, 2 if k[0] == b'b' else 3, k) < 0
                    or levels_now_or_later(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK,
                                           &COINBASE_PAIRS, &later, NULL) < 0):
                return -1
        elif not snap and text_is(k, kn, b"changes"):
            if (scan_seen_once(sc, &seen, 2, k) < 0
                    or levels_now_or_later(d, sc, sym, SIDE_BID, &COINBASE_CHANGES, &later,
                                           NULL) < 0):
                return -1
            seen |= 8
        elif text_is(k, kn, b"time"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_iso_time(sc, &ts) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 0xF) != 0xF or (not snap and not (seen & 16)):
        return fail_missing(sc)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    if (levels_deferred(d, sc, sym, &COINBASE_PAIRS if snap else &COINBASE_CHANGES, &later,
                        NULL) < 0
            or span_close(d, sc, span, ts, 0, snap) == NULL):
        return -1
    return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE


cdef int coinbase_match(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[7]
    cdef Field v[7]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef TradeRecord* t
    cdef uint8_t maker_side
    cdef int64_t seq
    names[0] = b"product_id"; names[1] = b"trade_id"; names[2] = b"price"; names[3] = b"size"
    names[4] = b"side"; names[5] = b"time"; names[6] = b"sequence"
    d.info.what = b"match"
    if (collect_fields(d, sc, names, 7, v, &f) < 0 or fields_required(sc, f, 0x7F) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    t = push_trade(d)
    if t == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_decimal(sc, &v[2], sym.price_decimals, &t.price) < 0
            or field_decimal(sc, &v[3], sym.size_decimals, &t.size) < 0
            or field_side(sc, &v[4], &maker_side) < 0
            or field_iso_time(sc, &v[5], &t.exchange_ts) < 0
            or field_trade_id(sc, &v[1], &t.trade_id, &t.flags) < 0
            or field_int(sc, &v[6], &seq) < 0):
        return -1
    t.side = SIDE_ASK if maker_side == SIDE_BID else SIDE_BID   # "side" is the maker's
    t.instrument_id = sym.instrument_id
    d.info.exchange_ts = t.exchange_ts
    d.info.first_seq = seq
    d.info.last_seq = seq
    d.info.flags |= INFO_HAS_SEQ
    return K_TRADE


cdef int coinbase_ticker(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[7]
    cdef Field v[7]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef BBORecord* b
    names[0] = b"product_id"; names[1] = b"best_bid"; names[2] = b"best_ask"
    names[3] = b"sequence"; names[4] = b"time"; names[5] = b"best_bid_size"
    names[6] = b"best_ask_size"
    d.info.what = b"ticker"
    if (collect_fields(d, sc, names, 7, v, &f) < 0 or fields_required(sc, f, 0x7) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    b = push_bbo(d)
    if b == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_decimal(sc, &v[1], sym.price_decimals, &b.bid_price) < 0
            or field_decimal(sc, &v[2], sym.price_decimals, &b.ask_price) < 0
            or field_decimal_or_zero(sc, &v[5], sym.size_decimals, False, &b.bid_size) < 0
            or field_decimal_or_zero(sc, &v[6], sym.size_decimals, False, &b.ask_size) < 0):
        return -1
    if v[5].type == JSON_ABSENT or v[6].type == JSON_ABSENT:
        b.flags |= BBO_NO_SIZE
    if v[3].type != JSON_ABSENT:
        if field_int(sc, &v[3], &b.sequence) < 0:
            return -1
        d.info.first_seq = b.sequence
        d.info.last_seq = b.sequence
        d.info.flags |= INFO_HAS_SEQ
    if v[4].type != JSON_ABSENT and field_iso_time(sc, &v[4], &b.exchange_ts) < 0:
        return -1
    b.instrument_id = sym.instrument_id
    d.info.exchange_ts = b.exchange_ts
    return K_BBO


# ---------------------------------------------------------------------------------------------
# Advanced Trade
# ---------------------------------------------------------------------------------------------

cdef enum:
    COINBASE_AT_L2 = 1
    COINBASE_AT_TRADES = 2
    COINBASE_AT_USER = 3


cdef int advanced_order(DecState* d, Scan* sc, Field* v, SymbolEntry* sym) noexcept nogil:
    cdef int64_t leaves
    cdef OrderUpdate* o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_side(sc, &v[3], &o.side) < 0
            or field_id(sc, &v[1], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
            or field_decimal_or_zero(sc, &v[6], sym.size_decimals, False, &o.filled_size) < 0
            or field_decimal_or_zero(sc, &v[7], sym.size_decimals, False, &leaves) < 0
            or field_decimal_or_zero(sc, &v[8], sym.price_decimals, False, &o.avg_price) < 0
            or field_decimal_or_zero(sc, &v[9], d.fee_decimals, True, &o.fee) < 0
            or field_decimal_or_zero(sc, &v[10], sym.price_decimals, False, &o.price) < 0):
        return -1
    if v[11].type != JSON_ABSENT and field_iso_time(sc, &v[11], &o.transact_ts) < 0:
        return -1
    if o.filled_size > INT64_MAX - leaves:               # size = filled + leaves, checked
        return scan_fail(sc, E_NUMBER, v[7].s)
    o.size = o.filled_size + leaves
    o.status = order_status_from_field(&v[5])
    o.order_type = order_type_from_field(&v[4])
    o.flags |= ORDER_HAS_FEE
    o.instrument_id = sym.instrument_id
    return 0


cdef int advanced_event(DecState* d, Scan* sc, int channel, int* kind,
                        bint* unknown) noexcept nogil:
    """One element of "events": l2_data (a span per product), market_trades, user."""
    cdef int st = 0, r, ast
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0, f
    cdef Field typ, s
    cdef SymbolEntry* sym = NULL
    cdef const char* updates = NULL
    cdef Py_ssize_t span
    cdef Scan sub
    cdef const char* names[12]
    cdef Field v[12]
    cdef TradeRecord* t
    typ.type = JSON_ABSENT
    typ.s = NULL
    typ.n = 0
    if channel == COINBASE_AT_TRADES:
        names[0] = b"product_id"; names[1] = b"trade_id"; names[2] = b"price"
        names[3] = b"size"; names[4] = b"side"; names[5] = b"time"
    elif channel == COINBASE_AT_USER:
        names[0] = b"product_id"; names[1] = b"order_id"; names[2] = b"client_order_id"
        names[3] = b"order_side"; names[4] = b"order_type"; names[5] = b"status"
        names[6] = b"cumulative_quantity"; names[7] = b"leaves_quantity"
        names[8] = b"avg_price"; names[9] = b"total_fees"; names[10] = b"limit_price"
        names[11] = b"creation_time"
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
        elif channel == COINBASE_AT_L2 and text_is(k, kn, b"product_id"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_string_field(sc, &s) < 0:
                return -1
            sym = symbol_lookup(d, s.s, s.n)
            if sym == NULL:
                unknown[0] = True
        elif channel == COINBASE_AT_L2 and text_is(k, kn, b"updates"):
            if scan_seen_once(sc, &seen, 2, k) < 0:
                return -1
            scan_skip_ws(sc)
            updates = sc.p                                # read once the event is complete
            if scan_skip_value(sc, 1) < 0:
                return -1
        elif ((channel == COINBASE_AT_TRADES and text_is(k, kn, b"trades"))
                or (channel == COINBASE_AT_USER and text_is(k, kn, b"orders"))):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_array_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = scan_array_next(sc, &ast)
                if r == 0:
                    break
                if (r < 0 or collect_fields(d, sc, names, 12 if channel == COINBASE_AT_USER else 6,
                                            v, &f) < 0
                        or fields_required(sc, f, 0xEB if channel == COINBASE_AT_USER else 0x3F) < 0
                        or field_symbol(d, sc, &v[0], &sym) < 0):
                    return -1
                if sym == NULL:
                    unknown[0] = True
                    continue
                if channel == COINBASE_AT_USER:
                    if advanced_order(d, sc, v, sym) < 0:
                        return -1
                    continue
                t = push_trade(d)
                if t == NULL:
                    return scan_fail(sc, E_CAPACITY, sc.p)
                if (field_decimal(sc, &v[2], sym.price_decimals, &t.price) < 0
                        or field_decimal(sc, &v[3], sym.size_decimals, &t.size) < 0
                        or field_side(sc, &v[4], &t.side) < 0
                        or field_iso_time(sc, &v[5], &t.exchange_ts) < 0
                        or field_trade_id(sc, &v[1], &t.trade_id, &t.flags) < 0):
                    return -1
                t.instrument_id = sym.instrument_id
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if not (seen & 1):
        return fail_missing(sc)
    if channel != COINBASE_AT_L2:
        if not (seen & 8):
            return fail_missing(sc)
        return 0
    if (seen & 7) != 7:
        return fail_missing(sc)
    if sym == NULL:
        return 0
    if field_is(&typ, b"snapshot"):
        kind[0] = K_BOOK_SNAPSHOT
    elif field_is(&typ, b"update"):
        if kind[0] != K_BOOK_SNAPSHOT:
            kind[0] = K_BOOK_UPDATE
    else:
        return scan_fail(sc, E_SHAPE, typ.s)
    span = span_open(d, sc, sym)
    if span < 0:
        return -1
    scan_sub(sc, &sub, updates)
    if read_levels(d, &sub, sym, SIDE_BID, &COINBASE_UPDATES, NULL) < 0:
        return scan_lift_error(sc, &sub)
    if span_close(d, sc, span, 0, 0, field_is(&typ, b"snapshot")) == NULL:
        return -1
    return 0


cdef int advanced_trade(DecState* d, Scan* sc, Field* channel_name) noexcept nogil:
    cdef int st = 0, r, channel, ast, kind = 0
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t seq = 0, ts = 0
    cdef bint unknown = False
    cdef Py_ssize_t i
    cdef BookDelta* r_delta
    cdef BookSpan* s
    if field_is(channel_name, b"l2_data"):
        channel = COINBASE_AT_L2
        d.info.what = b"l2_data"
    elif field_is(channel_name, b"market_trades"):
        channel = COINBASE_AT_TRADES
        d.info.what = b"market_trades"
    elif field_is(channel_name, b"user"):
        channel = COINBASE_AT_USER
        d.info.what = b"user"
    else:
        d.info.what = b"channel"
        if field_is(channel_name, b"heartbeats"):
            return finish_other(sc, K_HEARTBEAT)
        if field_is(channel_name, b"subscriptions"):
            return finish_other(sc, K_SUBSCRIBED)
        if field_is(channel_name, b"status"):
            return finish_other(sc, K_STATUS)
        return finish_other(sc, K_OTHER)                  # ticker, candles, futures...
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"channel"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_skip_value(sc, 1) < 0:
                return -1
        elif text_is(k, kn, b"sequence_num"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_int(sc, &seq) < 0:
                return -1
        elif text_is(k, kn, b"timestamp"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_iso_time(sc, &ts) < 0:
                return -1
        elif text_is(k, kn, b"events"):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_array_open(sc) < 0:
                return -1
            ast = 0
            while True:
                r = scan_array_next(sc, &ast)
                if r == 0:
                    break
                if r < 0 or advanced_event(d, sc, channel, &kind, &unknown) < 0:
                    return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 9) != 9:
        return fail_missing(sc)
    if unknown:
        return K_UNKNOWN_SYMBOL
    # the message's sequence and time, known only now, on every record and span
    for i in range(d.info.n_deltas):
        r_delta = &d.deltas[i]
        r_delta.sequence = seq
        if r_delta.exchange_ts == 0:
            r_delta.exchange_ts = ts
    for i in range(d.info.n_spans):
        s = &d.spans[i]
        s.exchange_ts = ts
        s.first_seq = seq
        s.last_seq = seq
        s.flags |= INFO_HAS_SEQ
    for i in range(d.info.n_trades):
        if d.trades[i].exchange_ts == 0:
            d.trades[i].exchange_ts = ts
    for i in range(d.info.n_orders):
        d.orders[i].exchange_ts = ts
    d.info.exchange_ts = ts
    d.info.first_seq = seq
    d.info.last_seq = seq
    d.info.flags |= INFO_HAS_SEQ
    if channel == COINBASE_AT_L2:
        return kind if kind else K_BOOK_UPDATE
    return K_TRADE if channel == COINBASE_AT_TRADES else K_ORDER


cdef int coinbase_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[2]
    cdef Field v[2]
    cdef uint64_t found
    cdef Field* t = &v[0]
    scan_skip_ws(sc)
    if sc.p >= sc.end or sc.p[0] != b'{':
        return fail_unexpected(sc)
    names[0] = b"type"
    names[1] = b"channel"
    if scan_peek_keys(sc, names, 2, v, &found, 0x3) < 0:
        return -1
    if found & 1:
        if field_is(t, b"l2update"):
            return coinbase_book(d, sc, False)
        if field_is(t, b"snapshot"):
            return coinbase_book(d, sc, True)
        if field_is(t, b"match") or field_is(t, b"last_match"):
            return coinbase_match(d, sc)
        if field_is(t, b"ticker"):
            return coinbase_ticker(d, sc)
        d.info.what = b"type"
        if field_is(t, b"subscriptions"):
            return finish_other(sc, K_SUBSCRIBED)
        if field_is(t, b"heartbeat"):
            return finish_control(sc, K_HEARTBEAT)
        if field_is(t, b"error"):
            return finish_control(sc, K_VENUE_ERROR)
        if field_is(t, b"status"):
            return finish_other(sc, K_STATUS)
        return finish_other(sc, K_OTHER)                  # full channel: received/open/done...
    if found & 2:
        return advanced_trade(d, sc, &v[1])
    return fail_unexpected(sc)


@cython.final
cdef class CoinbaseDecoder(Decoder):
    """Coinbase Exchange feed (``snapshot`` / ``l2update``, ``match`` / ``last_match``,
    ``ticker`` as BBO) and Advanced Trade (``l2_data``, ``market_trades``, ``user``)."""

    VENUE = "coinbase"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        return coinbase_decode(d, sc)
