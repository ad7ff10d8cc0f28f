# Deribit JSON-RPC v2 notifications ({"jsonrpc":"2.0","method":"subscription","params":
# {"channel":..,"data":..}}): book.{instrument}.raw / .100ms (snapshot, then change messages with
# change_id / prev_change_id and [action, price, amount] levels: new / change / delete), grouped
# book.{instrument}.{group}.{depth}.{interval} (each message a snapshot of [price, amount]),
# trades.*, ticker.* and quote.* (as BBO), private user.orders.*, user.trades.* and
# user.changes.*; responses (result / error), heartbeats and platform_state.  Prices and amounts
# are JSON numbers: their exact text is parsed.
from libc.stdint cimport int64_t, uint64_t, uint8_t
from hftcore._ext.types cimport (
    TradeRecord, BBORecord, OrderUpdate, SIDE_BID, SIDE_ASK, BBO_NO_BID, BBO_NO_ASK,
    ORDER_IS_FILL, ORDER_IS_MAKER, ORDER_HAS_FEE, ORDER_TRADE_ID_TEXT, ORDER_ID_LEN, ASSET_LEN,
    ORDER_STATUS_ACCEPTED, ORDER_STATUS_PARTIALLY_FILLED, ORDER_STATUS_FILLED,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, push_trade, push_bbo, push_order,
    K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_ORDER, K_UNKNOWN_SYMBOL, K_HEARTBEAT,
    K_SUBSCRIBED, K_VENUE_ERROR, K_STATUS, K_OTHER, E_TYPE, E_SHAPE, E_CAPACITY, INFO_HAS_SEQ,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, JSON_STRING, JSON_NUMBER, JSON_NULL, JSON_OBJECT, JSON_ARRAY, scan_fail,
    scan_sub, scan_lift_error, scan_skip_ws, scan_string_field, scan_skip_value,
    scan_object_open, scan_object_key, scan_seen_once, scan_array_open, scan_array_next,
    scan_int, scan_ms, scan_peek_keys, text_is, text_starts, trade_id_text, fast_literal,
    fast_string,
)
from hftcore._ext.decode_common cimport (
    LevelFormat, DeferredLevels, LEVEL_NUMBERS, level_array, levels_now_or_later,
    levels_deferred, span_open, span_close, symbol_lookup, skip_unknown_key, fail_missing,
    fail_unexpected, finish_control, collect_fields, fields_required, field_is, field_symbol,
    field_decimal, field_decimal_or_zero, field_ms, field_text, field_side, field_trade_id,
    field_id, order_status_from_field, order_type_from_field, message_restart,
)


cdef LevelFormat deribit_action_levels() noexcept nogil:
    # ["new" | "change" | "delete", price, amount]
    cdef LevelFormat f = level_array(3, 3, 1, 2, LEVEL_NUMBERS)
    f.action_at = 0
    return f


cdef LevelFormat DERIBIT_ACTION_LEVELS = deribit_action_levels()
# grouped books: [price, amount]
cdef LevelFormat DERIBIT_PAIRS = level_array(2, 2, 0, 1, LEVEL_NUMBERS)

cdef enum:
    DERIBIT_BOOK = 1            # book.{instrument}.{interval}: snapshot / change with actions
    DERIBIT_BOOK_GROUPED = 2    # book.{instrument}.{group}.{depth}.{interval}: snapshots
    DERIBIT_TRADES = 3
    DERIBIT_TICKER = 4          # ticker.* and quote.*
    DERIBIT_ORDERS = 5          # user.orders.*
    DERIBIT_USER_TRADES = 6     # user.trades.*
    DERIBIT_CHANGES = 7         # user.changes.*: {"orders": [..], "trades": [..], ...}
    DERIBIT_STATUS = 8          # platform_state
    DERIBIT_OTHER = 9


cdef int deribit_channel(const Field* c) noexcept nogil:
    cdef Py_ssize_t i, dots = 0
    if c.type != JSON_STRING:
        return DERIBIT_OTHER
    if text_starts(c.s, c.n, b"book."):
        for i in range(c.n):
            dots += c.s[i] == b'.'
        return DERIBIT_BOOK_GROUPED if dots >= 4 else DERIBIT_BOOK
    if text_starts(c.s, c.n, b"trades."):
        return DERIBIT_TRADES
    if text_starts(c.s, c.n, b"ticker.") or text_starts(c.s, c.n, b"quote."):
        return DERIBIT_TICKER
    if text_starts(c.s, c.n, b"user.orders."):
        return DERIBIT_ORDERS
    if text_starts(c.s, c.n, b"user.trades."):
        return DERIBIT_USER_TRADES
    if text_starts(c.s, c.n, b"user.changes."):
        return DERIBIT_CHANGES
    if text_starts(c.s, c.n, b"platform_state"):
        return DERIBIT_STATUS
    return DERIBIT_OTHER


# ---------------------------------------------------------------------------------------------
# Books
# ---------------------------------------------------------------------------------------------

cdef int deribit_book(DecState* d, Scan* sc, bint grouped) noexcept nogil:
    """{"type","timestamp","instrument_name","change_id"(,"prev_change_id"),"bids","asks"}."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t ts = 0, change = 0, prev = -1
    cdef Field s, typ
    cdef SymbolEntry* sym = NULL
    cdef DeferredLevels later
    cdef Py_ssize_t span = -1
    cdef BookSpan* sp
    cdef bint snap
    cdef const LevelFormat* f = &DERIBIT_PAIRS if grouped else &DERIBIT_ACTION_LEVELS
    later.count = 0
    typ.type = JSON_ABSENT
    typ.s = NULL
    typ.n = 0
    d.info.what = b"book"
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
                    or levels_now_or_later(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK, f,
                                           &later, NULL) < 0):
                return -1
        elif text_is(k, kn, b"instrument_name"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_string_field(sc, &s) < 0:
                return -1
            sym = symbol_lookup(d, s.s, s.n)
            if sym != NULL:
                span = span_open(d, sc, sym)
                if span < 0:
                    return -1
        elif text_is(k, kn, b"change_id"):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_int(sc, &change) < 0:
                return -1
        elif text_is(k, kn, b"timestamp"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_ms(sc, &ts) < 0:
                return -1
        elif text_is(k, kn, b"type"):
            if scan_seen_once(sc, &seen, 5, k) < 0 or scan_string_field(sc, &typ) < 0:
                return -1
        elif text_is(k, kn, b"prev_change_id"):
            if scan_seen_once(sc, &seen, 6, k) < 0 or scan_int(sc, &prev) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 0x1F) != 0x1F:
        return fail_missing(sc)
    if grouped:
        snap = True
    elif field_is(&typ, b"snapshot"):
        snap = True
    elif field_is(&typ, b"change"):
        if not (seen & 0x40):
            return fail_missing(sc)
        snap = False
    elif typ.type == JSON_ABSENT:
        return fail_missing(sc)
    else:
        return scan_fail(sc, E_SHAPE, typ.s)
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    if levels_deferred(d, sc, sym, f, &later, NULL) < 0:
        return -1
    sp = span_close(d, sc, span, ts, change, snap)
    if sp == NULL:
        return -1
    if not snap:
        sp.prev_seq = prev
    sp.flags |= INFO_HAS_SEQ
    return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE


# ---------------------------------------------------------------------------------------------
# Trades, tickers
# ---------------------------------------------------------------------------------------------

cdef int deribit_trades(DecState* d, Scan* sc) noexcept nogil:
    """[{"trade_id","instrument_name","price","amount","direction" (taker),"timestamp",..}]"""
    cdef int st = 0, r
    cdef const char* names[6]
    cdef Field v[6]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef TradeRecord* t
    cdef bint unknown = False
    names[0] = b"instrument_name"; names[1] = b"price"; names[2] = b"amount"
    names[3] = b"direction"; names[4] = b"timestamp"; names[5] = b"trade_id"
    d.info.what = b"trades"
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            break
        if (r < 0 or collect_fields(d, sc, names, 6, v, &f) < 0
                or fields_required(sc, f, 0x3F) < 0 or field_symbol(d, sc, &v[0], &sym) < 0):
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
        if t.exchange_ts > d.info.exchange_ts:
            d.info.exchange_ts = t.exchange_ts
    if unknown:
        return K_UNKNOWN_SYMBOL
    if d.info.n_trades == 0:
        return K_OTHER                                    # an empty list
    return K_TRADE


cdef int deribit_quote_side(Scan* sc, const Field* price, const Field* amount, int pd, int qd,
                            int64_t* px, int64_t* sz) noexcept nogil:
    """best_*_price / best_*_amount: null (or a 0 price) when the side is empty; 1 then."""
    if price.type == JSON_ABSENT:
        return fail_missing(sc)
    if price.type == JSON_NULL:
        px[0] = 0
        sz[0] = 0
        return 1
    if price.type != JSON_NUMBER:
        return scan_fail(sc, E_TYPE, price.s)
    if (field_decimal(sc, price, pd, px) < 0
            or field_decimal_or_zero(sc, amount, qd, False, sz) < 0):
        return -1
    if px[0] == 0:
        sz[0] = 0
        return 1
    return 0


cdef int deribit_ticker(DecState* d, Scan* sc) noexcept nogil:
    """ticker.* / quote.*: {"instrument_name","timestamp","best_bid_price","best_bid_amount",
    "best_ask_price","best_ask_amount",...}"""
    cdef const char* names[6]
    cdef Field v[6]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef BBORecord* b
    cdef int r
    names[0] = b"instrument_name"; names[1] = b"timestamp"; names[2] = b"best_bid_price"
    names[3] = b"best_bid_amount"; names[4] = b"best_ask_price"; names[5] = b"best_ask_amount"
    d.info.what = b"ticker"
    if (collect_fields(d, sc, names, 6, v, &f) < 0 or fields_required(sc, f, 0x17) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    b = push_bbo(d)
    if b == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if field_ms(sc, &v[1], &b.exchange_ts) < 0:
        return -1
    r = deribit_quote_side(sc, &v[2], &v[3], sym.price_decimals, sym.size_decimals,
                           &b.bid_price, &b.bid_size)
    if r < 0:
        return -1
    if r:
        b.flags |= BBO_NO_BID
    r = deribit_quote_side(sc, &v[4], &v[5], sym.price_decimals, sym.size_decimals,
                           &b.ask_price, &b.ask_size)
    if r < 0:
        return -1
    if r:
        b.flags |= BBO_NO_ASK
    b.instrument_id = sym.instrument_id
    d.info.exchange_ts = b.exchange_ts
    return K_BBO


# ---------------------------------------------------------------------------------------------
# Private: orders and fills
# ---------------------------------------------------------------------------------------------

cdef int deribit_price_field(Scan* sc, const Field* f, int decimals, int64_t* out) noexcept nogil:
    """An order's price: a number, or "market_price" for a market order (no limit: 0)."""
    if f.type == JSON_STRING:
        if field_is(f, b"market_price"):
            out[0] = 0
            return 0
        return scan_fail(sc, E_TYPE, f.s)
    return field_decimal_or_zero(sc, f, decimals, False, out)


cdef int deribit_order(DecState* d, Scan* sc, bint* unknown) noexcept nogil:
    """An order object: {"order_id","label","instrument_name","direction","order_type",
    "order_state","price","amount","filled_amount","average_price","last_update_timestamp"}."""
    cdef const char* names[11]
    cdef Field v[11]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    names[0] = b"instrument_name"; names[1] = b"order_id"; names[2] = b"label"
    names[3] = b"direction"; names[4] = b"order_type"; names[5] = b"price"; names[6] = b"amount"
    names[7] = b"order_state"; names[8] = b"filled_amount"; names[9] = b"average_price"
    names[10] = b"last_update_timestamp"
    d.info.what = b"user.orders"
    if (collect_fields(d, sc, names, 11, v, &f) < 0 or fields_required(sc, f, 0x48B) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        unknown[0] = True
        return 0
    o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_side(sc, &v[3], &o.side) < 0
            or field_id(sc, &v[1], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
            or deribit_price_field(sc, &v[5], sym.price_decimals, &o.price) < 0
            or field_decimal_or_zero(sc, &v[6], sym.size_decimals, False, &o.size) < 0
            or field_decimal_or_zero(sc, &v[8], sym.size_decimals, False, &o.filled_size) < 0
            or field_decimal_or_zero(sc, &v[9], sym.price_decimals, False, &o.avg_price) < 0
            or field_ms(sc, &v[10], &o.exchange_ts) < 0):
        return -1
    o.transact_ts = o.exchange_ts
    o.status = order_status_from_field(&v[7])
    if o.status == ORDER_STATUS_ACCEPTED and o.filled_size > 0:
        o.status = ORDER_STATUS_PARTIALLY_FILLED          # Deribit has no word for it
    o.order_type = order_type_from_field(&v[4])
    o.instrument_id = sym.instrument_id
    if o.exchange_ts > d.info.exchange_ts:
        d.info.exchange_ts = o.exchange_ts
    return 0


cdef int deribit_fill(DecState* d, Scan* sc, bint* unknown) noexcept nogil:
    """A user trade: {"trade_id","order_id","label","instrument_name","direction","price",
    "amount","fee","fee_currency","liquidity" (M / T),"state" (the order's),"order_type",
    "timestamp"}.  It carries no cumulative fill: filled_size is 0 (the order updates have it)."""
    cdef const char* names[13]
    cdef Field v[13]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    names[0] = b"instrument_name"; names[1] = b"order_id"; names[2] = b"label"
    names[3] = b"direction"; names[4] = b"order_type"; names[5] = b"price"; names[6] = b"amount"
    names[7] = b"state"; names[8] = b"trade_id"; names[9] = b"fee"; names[10] = b"fee_currency"
    names[11] = b"liquidity"; names[12] = b"timestamp"
    d.info.what = b"user.trades"
    if (collect_fields(d, sc, names, 13, v, &f) < 0 or fields_required(sc, f, 0x116B) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        unknown[0] = True
        return 0
    o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_side(sc, &v[3], &o.side) < 0
            or field_id(sc, &v[1], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
            or field_decimal(sc, &v[5], sym.price_decimals, &o.last_fill_price) < 0
            or field_decimal(sc, &v[6], sym.size_decimals, &o.last_fill_size) < 0
            or field_text(sc, &v[8], o.trade_id_text, ORDER_ID_LEN) < 0
            or field_decimal_or_zero(sc, &v[9], d.fee_decimals, True, &o.fee) < 0
            or field_text(sc, &v[10], o.fee_asset, ASSET_LEN) < 0
            or field_ms(sc, &v[12], &o.exchange_ts) < 0):
        return -1
    if trade_id_text(v[8].s, v[8].n, &o.trade_id):
        o.flags |= ORDER_TRADE_ID_TEXT
    o.flags |= ORDER_IS_FILL
    if v[9].type == JSON_NUMBER:
        o.flags |= ORDER_HAS_FEE
    if field_is(&v[11], b"M"):
        o.flags |= ORDER_IS_MAKER
    o.transact_ts = o.exchange_ts
    o.status = order_status_from_field(&v[7])
    if o.status == ORDER_STATUS_ACCEPTED:
        o.status = ORDER_STATUS_PARTIALLY_FILLED          # a fill on an order still open
    o.order_type = order_type_from_field(&v[4])
    o.instrument_id = sym.instrument_id
    if o.exchange_ts > d.info.exchange_ts:
        d.info.exchange_ts = o.exchange_ts
    return 0


cdef int deribit_private_list(DecState* d, Scan* sc, bint fills, bint* unknown) noexcept nogil:
    """One order object, or a list of orders / of fills."""
    cdef int st = 0, r
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'{':
        return deribit_fill(d, sc, unknown) if fills else deribit_order(d, sc, unknown)
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        r = deribit_fill(d, sc, unknown) if fills else deribit_order(d, sc, unknown)
        if r < 0:
            return -1


cdef int deribit_private(DecState* d, Scan* sc, int channel) noexcept nogil:
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef bint unknown = False
    if channel == DERIBIT_CHANGES:
        d.info.what = b"user.changes"
        if scan_object_open(sc) < 0:
            return -1
        while True:
            r = scan_object_key(sc, &st, &k, &kn)
            if r == 0:
                break
            if r < 0:
                return -1
            if text_is(k, kn, b"orders") or text_is(k, kn, b"trades"):
                if (scan_seen_once(sc, &seen, 0 if k[0] == b'o' else 1, k) < 0
                        or deribit_private_list(d, sc, k[0] == b't', &unknown) < 0):
                    return -1
            elif scan_skip_value(sc, 1) < 0:              # positions, instrument_name ...
                return -1
    elif deribit_private_list(d, sc, channel == DERIBIT_USER_TRADES, &unknown) < 0:
        return -1
    if unknown:
        return K_UNKNOWN_SYMBOL
    if d.info.n_orders == 0:
        return K_OTHER                                    # an empty list
    return K_ORDER


cdef int deribit_data(DecState* d, Scan* sc, int channel) noexcept nogil:
    if channel == DERIBIT_BOOK or channel == DERIBIT_BOOK_GROUPED:
        return deribit_book(d, sc, channel == DERIBIT_BOOK_GROUPED)
    if channel == DERIBIT_TRADES:
        return deribit_trades(d, sc)
    if channel == DERIBIT_TICKER:
        return deribit_ticker(d, sc)
    if channel == DERIBIT_ORDERS or channel == DERIBIT_USER_TRADES or channel == DERIBIT_CHANGES:
        return deribit_private(d, sc, channel)
    d.info.what = b"subscription"
    if scan_skip_value(sc, 1) < 0:
        return -1
    return K_STATUS if channel == DERIBIT_STATUS else K_OTHER


# ---------------------------------------------------------------------------------------------
# Notifications
# ---------------------------------------------------------------------------------------------

cdef int deribit_params(DecState* d, Scan* sc) noexcept nogil:
    """"params" of a subscription: {"channel","data"}; data before channel is read after."""
    cdef int st = 0, r, kind = -2
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef Field channel
    cdef const char* later = NULL
    cdef Scan sub
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"channel"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &channel) < 0:
                return -1
        elif text_is(k, kn, b"data"):
            if scan_seen_once(sc, &seen, 1, k) < 0:
                return -1
            if seen & 1:
                kind = deribit_data(d, sc, deribit_channel(&channel))
                if kind < 0:
                    return -1
            else:
                scan_skip_ws(sc)
                later = sc.p
                if scan_skip_value(sc, 1) < 0:
                    return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if seen != 3:
        return fail_missing(sc)
    if later != NULL:
        scan_sub(sc, &sub, later)
        kind = deribit_data(d, &sub, deribit_channel(&channel))
        if kind < 0:
            return scan_lift_error(sc, &sub)
    return kind


cdef int deribit_subscription(DecState* d, Scan* sc) noexcept nogil:
    cdef int st = 0, r, kind = -2
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef Field f
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"jsonrpc"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &f) < 0:
                return -1
        elif text_is(k, kn, b"method"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_string_field(sc, &f) < 0:
                return -1
        elif text_is(k, kn, b"params"):
            if scan_seen_once(sc, &seen, 2, k) < 0:
                return -1
            kind = deribit_params(d, sc)
            if kind < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if not (seen & 4):
        return fail_missing(sc)
    return kind


cdef int deribit_fast(DecState* d, Scan* sc) noexcept nogil:
    """{"jsonrpc":"2.0","method":"subscription","params":{"channel":"..","data":..}}: the kind,
    -1 on a genuine error, -2 when not exactly this form."""
    cdef const char* p = sc.p
    cdef const char* end = sc.end
    cdef Field channel
    cdef int kind
    if (not fast_literal(&p, end,
                         b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"', 62)
            or not fast_string(&p, end, &channel.s, &channel.n)
            or not fast_literal(&p, end, b',"data":', 8)):
        return -2
    channel.type = JSON_STRING
    sc.p = p
    kind = deribit_data(d, sc, deribit_channel(&channel))
    if kind < 0:
        return -1
    p = sc.p
    if not fast_literal(&p, end, b"}}", 2):
        return -2
    sc.p = p
    return kind


cdef int deribit_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[4]
    cdef Field v[4]
    cdef uint64_t found
    cdef const char* start
    cdef int r
    scan_skip_ws(sc)
    start = sc.p
    if sc.p >= sc.end or sc.p[0] != b'{':
        return fail_unexpected(sc)
    r = deribit_fast(d, sc)
    if r >= 0 or r == -1:
        return r
    message_restart(d)
    sc.p = start
    names[0] = b"method"
    names[1] = b"result"
    names[2] = b"error"
    names[3] = b"params"
    if scan_peek_keys(sc, names, 4, v, &found, 1) < 0:
        return -1
    if found & 1:
        d.info.what = b"method"
        if field_is(&v[0], b"subscription"):
            d.info.what = b"subscription"
            return deribit_subscription(d, sc)
        if field_is(&v[0], b"heartbeat"):
            return finish_control(sc, K_HEARTBEAT)       # answered with public/test
        return finish_control(sc, K_OTHER)
    if found & 4:
        d.info.what = b"error"
        return finish_control(sc, K_VENUE_ERROR)
    if found & 2:
        d.info.what = b"response"
        return finish_control(sc, K_SUBSCRIBED)
    return fail_unexpected(sc)


@cython.final
cdef class DeribitDecoder(Decoder):
    """Deribit JSON-RPC v2: ``book.*`` (``change_id`` -> ``last_seq``, ``prev_change_id`` ->
    ``prev_seq``; ``new`` / ``change`` / ``delete`` levels), ``trades.*``, ``ticker.*`` /
    ``quote.*`` (as BBO), private ``user.orders.*``, ``user.trades.*``, ``user.changes.*``."""

    VENUE = "deribit"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        return deribit_decode(d, sc)
