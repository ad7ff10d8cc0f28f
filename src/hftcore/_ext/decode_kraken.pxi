# Kraken spot websocket v1 (arrays: [channelID, payload..., channelName, pair]) -- book-N
# snapshot and update with republish "r" and checksum "c", trade, ticker (as BBO) -- and
# websocket v2 (objects: {"channel","type","data":[...]}) -- book (JSON numbers; one item, and
# one BookSpan, per symbol), trade, ticker; events, methods, heartbeats.
from libc.stdint cimport int64_t, uint64_t
from hftcore._ext.types cimport (
    TradeRecord, BBORecord, ts_t, SIDE_BID, SIDE_ASK,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, symbol_find, push_trade, push_bbo,
    K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_UNKNOWN_SYMBOL, K_HEARTBEAT,
    K_SUBSCRIBED, K_VENUE_ERROR, K_STATUS, K_OTHER, E_TYPE, E_SHAPE, E_EXTRA, E_NUMBER, E_CAPACITY,
    INFO_HAS_CHECKSUM,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, JSON_STRING, JSON_ARRAY, scan_fail, scan_sub, scan_lift_error,
    scan_skip_ws, scan_string_field, scan_skip_value, scan_object_open, scan_object_key,
    scan_seen_once, scan_array_open, scan_array_next, scan_array_more, scan_array_end,
    scan_int, scan_int_any, scan_decimal, scan_seconds, scan_iso_time, scan_peek_keys,
    text_is, text_starts, int_text,
)
from hftcore._ext.decode_common cimport (
    LevelFormat, DeferredLevels, LEVEL_STRINGS, LEVEL_NUMBERS, LEVEL_TIME_NONE,
    LEVEL_TIME_SECONDS, level_array, level_object, read_levels, levels_now_or_later,
    levels_deferred, span_open, span_close, symbol_lookup, symbol_note, skip_unknown_key,
    fail_missing,
    fail_unexpected, finish_other, finish_control, collect_fields, fields_required, field_is,
    field_symbol, field_decimal, field_iso_time, field_side, field_trade_id, message_restart,
)


cdef LevelFormat kraken_v1_levels() noexcept nogil:
    # ["price", "volume", "timestamp"(, "r")]
    cdef LevelFormat f = level_array(3, 4, 0, 1, LEVEL_STRINGS)
    f.time_at = 2
    f.time_kind = LEVEL_TIME_SECONDS
    f.flag_at = 3
    return f


cdef LevelFormat KRAKEN_V1_LEVELS = kraken_v1_levels()
# {"price": 105944.2, "qty": 0.136}: JSON numbers, their exact text
cdef LevelFormat KRAKEN_V2_LEVELS = level_object(b"price", b"qty", NULL, NULL, LEVEL_NUMBERS,
                                          LEVEL_TIME_NONE)
cdef int64_t KRAKEN_CHECKSUM_MAX = 4294967295                   # CRC32


# ---------------------------------------------------------------------------------------------
# v1: arrays
# ---------------------------------------------------------------------------------------------

cdef int kraken_v1_book_payload(DecState* d, Scan* sc, SymbolEntry* sym, Py_ssize_t span,
                                bint* snap, ts_t* max_ts) noexcept nogil:
    """{"as":[..],"bs":[..]} (snapshot) or {"a":[..]} / {"b":[..], "c":"checksum"} (update)."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t cs
    cdef Field c
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"as") or text_is(k, kn, b"bs"):
            if scan_seen_once(sc, &seen, 0 if k[0] == b'a' else 1, k) < 0:
                return -1
            snap[0] = True
            if read_levels(d, sc, sym, SIDE_ASK if k[0] == b'a' else SIDE_BID, &KRAKEN_V1_LEVELS,
                           max_ts) < 0:
                return -1
        elif text_is(k, kn, b"a") or text_is(k, kn, b"b"):
            if (scan_seen_once(sc, &seen, 2 if k[0] == b'a' else 3, k) < 0
                    or read_levels(d, sc, sym, SIDE_ASK if k[0] == b'a' else SIDE_BID,
                                   &KRAKEN_V1_LEVELS, max_ts) < 0):
                return -1
        elif text_is(k, kn, b"c"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_string_field(sc, &c) < 0:
                return -1
            if int_text(c.s, c.n, &cs) or cs < 0 or cs > KRAKEN_CHECKSUM_MAX:
                return scan_fail(sc, E_NUMBER, c.s)
            d.spans[span].checksum = cs
            d.spans[span].flags |= INFO_HAS_CHECKSUM
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 3) and (seen & 12):
        return scan_fail(sc, E_SHAPE, sc.p - 1)           # snapshot and update keys mixed
    if seen == 0 or seen == 16:
        return fail_missing(sc)
    return 0


cdef int kraken_v1_book_close(DecState* d, Scan* sc, Py_ssize_t span, bint snap,
                              ts_t max_ts) noexcept nogil:
    if span_close(d, sc, span, max_ts, 0, snap) == NULL:
        return -1
    return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE


cdef int kraken_v1_trades(DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
    """[["price","volume","time","b|s","l|m","misc"], ...]"""
    cdef int st = 0, st2, r
    cdef TradeRecord* t
    cdef Field side, x
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        t = push_trade(d)
        if t == NULL:
            return scan_fail(sc, E_CAPACITY, sc.p)
        st2 = 0
        if (scan_array_open(sc) < 0 or scan_array_more(sc, &st2) < 0
                or scan_decimal(sc, sym.price_decimals, &t.price) < 0
                or scan_array_more(sc, &st2) < 0
                or scan_decimal(sc, sym.size_decimals, &t.size) < 0
                or scan_array_more(sc, &st2) < 0 or scan_seconds(sc, &t.exchange_ts) < 0
                or scan_array_more(sc, &st2) < 0 or scan_string_field(sc, &side) < 0
                or scan_array_more(sc, &st2) < 0 or scan_string_field(sc, &x) < 0
                or scan_array_more(sc, &st2) < 0 or scan_string_field(sc, &x) < 0
                or scan_array_end(sc, &st2) < 0 or field_side(sc, &side, &t.side) < 0):
            return -1
        t.instrument_id = sym.instrument_id
        if t.exchange_ts > d.info.exchange_ts:
            d.info.exchange_ts = t.exchange_ts


cdef int kraken_v1_quote(Scan* sc, Field* v, int price_decimals, int size_decimals,
                         int64_t* px, int64_t* sz) noexcept nogil:
    """Ticker side: ["price", wholeLotVolume, "lotVolume"]."""
    cdef Scan sub
    cdef int st = 0
    cdef int64_t whole
    if v.type == JSON_ABSENT:
        return fail_missing(sc)
    if v.type != JSON_ARRAY:
        return scan_fail(sc, E_TYPE, v.s)
    scan_sub(sc, &sub, v.s)
    sub.end = v.s + v.n
    if (scan_array_open(&sub) < 0 or scan_array_more(&sub, &st) < 0
            or scan_decimal(&sub, price_decimals, px) < 0
            or scan_array_more(&sub, &st) < 0 or scan_int_any(&sub, &whole) < 0
            or scan_array_more(&sub, &st) < 0 or scan_decimal(&sub, size_decimals, sz) < 0
            or scan_array_end(&sub, &st) < 0):
        return scan_lift_error(sc, &sub)
    return 0


cdef inline const char* kraken_back_string(const char* base, const char* q,
                                           Field* out) noexcept nogil:
    """q points at a closing quote: find the opening one (no backslash inside); NULL if not."""
    cdef const char* p = q - 1
    while p >= base and p[0] != b'"':
        if p[0] == b'\\' or <unsigned char>p[0] < 0x20:
            return NULL
        p -= 1
    if p < base:
        return NULL
    out.s = p + 1
    out.n = q - p - 1
    out.type = JSON_STRING
    return p


cdef inline const char* kraken_back_ws(const char* base, const char* p) noexcept nogil:
    while p >= base and (p[0] == b' ' or p[0] == b'\n' or p[0] == b'\r' or p[0] == b'\t'):
        p -= 1
    return p


cdef int kraken_v1_book_fast(DecState* d, Scan* sc) noexcept nogil:
    """v1 book messages in one pass: the pair is read from the end of the frame first, so the
    levels can be read as they come.  -2: not this form (the caller uses the general path)."""
    cdef const char* p = kraken_back_ws(sc.p, sc.end - 1)
    cdef const char* name_at
    cdef Field name, pair, x
    cdef SymbolEntry* sym
    cdef int st = 0, r
    cdef int64_t channel_id
    cdef bint snap = False
    cdef ts_t max_ts = 0
    cdef Py_ssize_t span
    if p < sc.p or p[0] != b']':
        return -2
    p = kraken_back_ws(sc.p, p - 1)
    if p < sc.p or p[0] != b'"':
        return -2
    p = kraken_back_string(sc.p, p, &pair)
    if p == NULL:
        return -2
    p = kraken_back_ws(sc.p, p - 1)
    if p < sc.p or p[0] != b',':
        return -2
    p = kraken_back_ws(sc.p, p - 1)
    if p < sc.p or p[0] != b'"':
        return -2
    name_at = kraken_back_string(sc.p, p, &name)
    if name_at == NULL or not text_starts(name.s, name.n, b"book"):
        return -2
    sym = symbol_find(&d.symbols, pair.s, pair.n)
    if sym == NULL:
        return -2
    d.info.what = b"book"
    symbol_note(d, sym, pair.s, pair.n)
    span = span_open(d, sc, sym)
    if (span < 0 or scan_array_open(sc) < 0 or scan_array_more(sc, &st) < 0
            or scan_int(sc, &channel_id) < 0):
        return -1
    while True:
        if scan_array_more(sc, &st) < 0:
            return -1
        if sc.p == name_at:
            break
        if sc.p > name_at or kraken_v1_book_payload(d, sc, sym, span, &snap, &max_ts) < 0:
            return -1
    if (scan_string_field(sc, &x) < 0 or x.s != name.s or scan_array_more(sc, &st) < 0
            or scan_string_field(sc, &x) < 0 or x.s != pair.s or scan_array_end(sc, &st) < 0):
        return -1
    return kraken_v1_book_close(d, sc, span, snap, max_ts)


cdef int kraken_v1(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* el[8]
    cdef int st = 0, r, count = 0, i
    cdef Field name, pair
    cdef Scan sub
    cdef SymbolEntry* sym
    cdef bint snap = False
    cdef int64_t channel_id
    cdef const char* names[2]
    cdef Field v[2]
    cdef uint64_t f
    cdef BBORecord* b
    cdef const char* start = sc.p
    cdef ts_t max_ts = 0
    cdef Py_ssize_t span
    r = kraken_v1_book_fast(d, sc)
    if r >= 0:
        return r
    # not the plain book form, or an error: the general path decides (and reports)
    message_restart(d)
    sc.p = start
    sc.err = 0
    d.info.what = b"v1 array"
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            break
        if r < 0:
            return -1
        if count == 8:
            return scan_fail(sc, E_EXTRA, sc.p)
        el[count] = sc.p
        count += 1
        if scan_skip_value(sc, 1) < 0:
            return -1
    if count == 3:                                        # [payload, "ownTrades", {"sequence"}]
        scan_sub(sc, &sub, el[1])
        if scan_string_field(&sub, &name) == 0 and (field_is(&name, b"ownTrades")
                                                    or field_is(&name, b"openOrders")):
            d.info.what = b"private"
            return K_OTHER
        return scan_fail(sc, E_SHAPE, sc.base)
    if count < 4:
        return scan_fail(sc, E_SHAPE, sc.base)
    scan_sub(sc, &sub, el[0])
    if scan_int(&sub, &channel_id) < 0:
        return scan_lift_error(sc, &sub)
    scan_sub(sc, &sub, el[count - 2])
    if scan_string_field(&sub, &name) < 0:
        return scan_lift_error(sc, &sub)
    scan_sub(sc, &sub, el[count - 1])
    if scan_string_field(&sub, &pair) < 0:
        return scan_lift_error(sc, &sub)
    if text_starts(name.s, name.n, b"book"):
        d.info.what = b"book"
        sym = symbol_lookup(d, pair.s, pair.n)
        if sym == NULL:
            return K_UNKNOWN_SYMBOL
        span = span_open(d, sc, sym)
        if span < 0:
            return -1
        for i in range(1, count - 2):
            scan_sub(sc, &sub, el[i])
            if kraken_v1_book_payload(d, &sub, sym, span, &snap, &max_ts) < 0:
                return scan_lift_error(sc, &sub)
        if snap and count != 4:
            return scan_fail(sc, E_SHAPE, el[2])
        return kraken_v1_book_close(d, sc, span, snap, max_ts)
    if count != 4:
        return scan_fail(sc, E_SHAPE, el[2])
    if field_is(&name, b"trade"):
        d.info.what = b"trade"
        sym = symbol_lookup(d, pair.s, pair.n)
        if sym == NULL:
            return K_UNKNOWN_SYMBOL
        scan_sub(sc, &sub, el[1])
        if kraken_v1_trades(d, &sub, sym) < 0:
            return scan_lift_error(sc, &sub)
        return K_TRADE
    if field_is(&name, b"ticker"):
        d.info.what = b"ticker"
        sym = symbol_lookup(d, pair.s, pair.n)
        if sym == NULL:
            return K_UNKNOWN_SYMBOL
        names[0] = b"b"
        names[1] = b"a"
        scan_sub(sc, &sub, el[1])
        if collect_fields(d, &sub, names, 2, v, &f) < 0:
            return scan_lift_error(sc, &sub)
        b = push_bbo(d)
        if b == NULL:
            return scan_fail(sc, E_CAPACITY, sc.p)
        if (kraken_v1_quote(sc, &v[0], sym.price_decimals, sym.size_decimals,
                            &b.bid_price, &b.bid_size) < 0
                or kraken_v1_quote(sc, &v[1], sym.price_decimals, sym.size_decimals,
                                   &b.ask_price, &b.ask_size) < 0):
            return -1
        b.instrument_id = sym.instrument_id
        return K_BBO
    d.info.what = b"channel"
    symbol_lookup(d, pair.s, pair.n)
    return K_OTHER                                        # ohlc, spread, ...


# ---------------------------------------------------------------------------------------------
# v2: objects
# ---------------------------------------------------------------------------------------------

cdef int kraken_v2_book_item(DecState* d, Scan* sc, bint snap, bint* unknown) noexcept nogil:
    """One symbol of a v2 book message: its own span, checksum and time."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t ts = 0, cs = 0
    cdef Field s
    cdef SymbolEntry* sym = NULL
    cdef DeferredLevels later
    cdef Py_ssize_t span = -1
    cdef BookSpan* sp
    later.count = 0
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"symbol"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &s) < 0:
                return -1
            sym = symbol_lookup(d, s.s, s.n)
            if sym != NULL:
                span = span_open(d, sc, sym)
                if span < 0:
                    return -1
        elif text_is(k, kn, b"bids") or text_is(k, kn, b"asks"):
            if (scan_seen_once(sc, &seen, 1 if k[0] == b'b' else 2, k) < 0
                    or levels_now_or_later(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK,
                                           &KRAKEN_V2_LEVELS, &later, NULL) < 0):
                return -1
        elif text_is(k, kn, b"checksum"):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_int(sc, &cs) < 0:
                return -1
            if cs < 0 or cs > KRAKEN_CHECKSUM_MAX:
                return scan_fail(sc, E_NUMBER, sc.p - 1)
        elif text_is(k, kn, b"timestamp"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_iso_time(sc, &ts) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 7) != 7:
        return fail_missing(sc)
    if sym == NULL:
        unknown[0] = True
        return 0
    if levels_deferred(d, sc, sym, &KRAKEN_V2_LEVELS, &later, NULL) < 0:
        return -1
    sp = span_close(d, sc, span, ts, 0, snap)
    if sp == NULL:
        return -1
    if seen & 8:
        sp.checksum = cs
        sp.flags |= INFO_HAS_CHECKSUM
    return 0


cdef enum:
    KRAKEN_V2_BOOK = 1
    KRAKEN_V2_TRADE = 2
    KRAKEN_V2_TICKER = 3


cdef int kraken_v2_items(DecState* d, Scan* sc, int channel, bint snap,
                         bint* unknown) noexcept nogil:
    """The "data" array of a v2 book / trade / ticker message."""
    cdef int st = 0, r
    cdef const char* names[7]
    cdef Field v[7]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef TradeRecord* t
    cdef BBORecord* b
    if channel == KRAKEN_V2_TRADE:
        names[0] = b"symbol"; names[1] = b"price"; names[2] = b"qty"; names[3] = b"side"
        names[4] = b"timestamp"; names[5] = b"trade_id"; names[6] = b"ord_type"
    else:
        names[0] = b"symbol"; names[1] = b"bid"; names[2] = b"bid_qty"; names[3] = b"ask"
        names[4] = b"ask_qty"; names[5] = b"timestamp"; names[6] = b"last"
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        if channel == KRAKEN_V2_BOOK:
            if kraken_v2_book_item(d, sc, snap, unknown) < 0:
                return -1
            continue
        if (collect_fields(d, sc, names, 7, v, &f) < 0 or fields_required(sc, f, 0x1F) < 0
                or field_symbol(d, sc, &v[0], &sym) < 0):
            return -1
        if sym == NULL:
            unknown[0] = True
            continue
        if channel == KRAKEN_V2_TRADE:
            t = push_trade(d)
            if t == NULL:
                return scan_fail(sc, E_CAPACITY, sc.p)
            if (field_decimal(sc, &v[1], sym.price_decimals, &t.price) < 0
                    or field_decimal(sc, &v[2], sym.size_decimals, &t.size) < 0
                    or field_side(sc, &v[3], &t.side) < 0
                    or field_iso_time(sc, &v[4], &t.exchange_ts) < 0):
                return -1
            if v[5].type != JSON_ABSENT and field_trade_id(sc, &v[5], &t.trade_id, &t.flags) < 0:
                return -1
            t.instrument_id = sym.instrument_id
            d.info.exchange_ts = t.exchange_ts
        else:
            b = push_bbo(d)
            if b == NULL:
                return scan_fail(sc, E_CAPACITY, sc.p)
            if (field_decimal(sc, &v[1], sym.price_decimals, &b.bid_price) < 0
                    or field_decimal(sc, &v[2], sym.size_decimals, &b.bid_size) < 0
                    or field_decimal(sc, &v[3], sym.price_decimals, &b.ask_price) < 0
                    or field_decimal(sc, &v[4], sym.size_decimals, &b.ask_size) < 0):
                return -1
            if v[5].type != JSON_ABSENT and field_iso_time(sc, &v[5], &b.exchange_ts) < 0:
                return -1
            b.instrument_id = sym.instrument_id


cdef int kraken_v2(DecState* d, Scan* sc, Field* channel_name) noexcept nogil:
    cdef int st = 0, r, channel
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef Field typ, ch
    cdef const char* later = NULL
    cdef bint unknown = False, snap
    cdef Scan sub
    typ.type = JSON_ABSENT
    typ.s = NULL
    typ.n = 0
    if field_is(channel_name, b"book"):
        channel = KRAKEN_V2_BOOK
        d.info.what = b"book"
    elif field_is(channel_name, b"trade"):
        channel = KRAKEN_V2_TRADE
        d.info.what = b"trade"
    elif field_is(channel_name, b"ticker"):
        channel = KRAKEN_V2_TICKER
        d.info.what = b"ticker"
    else:
        d.info.what = b"channel"
        if field_is(channel_name, b"heartbeat"):
            return finish_control(sc, K_HEARTBEAT)
        if field_is(channel_name, b"status"):
            return finish_other(sc, K_STATUS)
        return finish_other(sc, K_OTHER)                  # level3, ohlc, instrument, executions
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"channel"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or scan_string_field(sc, &ch) < 0:
                return -1
        elif text_is(k, kn, b"type"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_string_field(sc, &typ) < 0:
                return -1
        elif text_is(k, kn, b"data"):
            if scan_seen_once(sc, &seen, 2, k) < 0:
                return -1
            scan_skip_ws(sc)
            if typ.type == JSON_ABSENT:
                later = sc.p                              # read once "type" is known
                if scan_skip_value(sc, 1) < 0:
                    return -1
            elif kraken_v2_items(d, sc, channel, field_is(&typ, b"snapshot"), &unknown) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if seen != 7:
        return fail_missing(sc)
    snap = field_is(&typ, b"snapshot")
    if not snap and not field_is(&typ, b"update"):
        return scan_fail(sc, E_SHAPE, typ.s)
    if later != NULL:
        scan_sub(sc, &sub, later)
        if kraken_v2_items(d, &sub, channel, snap, &unknown) < 0:
            return scan_lift_error(sc, &sub)
    if unknown:
        return K_UNKNOWN_SYMBOL
    if channel == KRAKEN_V2_BOOK:
        return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE
    return K_TRADE if channel == KRAKEN_V2_TRADE else K_BBO


cdef int kraken_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[4]
    cdef Field v[4]
    cdef uint64_t found
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'[':
        return kraken_v1(d, sc)
    if sc.p >= sc.end or sc.p[0] != b'{':
        return fail_unexpected(sc)
    names[0] = b"channel"
    names[1] = b"event"
    names[2] = b"method"
    names[3] = b"error"
    if scan_peek_keys(sc, names, 4, v, &found, 0x7) < 0:
        return -1
    if found & 1:
        return kraken_v2(d, sc, &v[0])
    if found & 2:
        d.info.what = b"event"
        if field_is(&v[1], b"heartbeat") or field_is(&v[1], b"pong") or field_is(&v[1], b"ping"):
            return finish_control(sc, K_HEARTBEAT)
        if field_is(&v[1], b"systemStatus"):
            return finish_control(sc, K_STATUS)
        if field_is(&v[1], b"subscriptionStatus"):
            return finish_control(sc, K_VENUE_ERROR if found & 8 else K_SUBSCRIBED)
        if field_is(&v[1], b"error"):
            return finish_control(sc, K_VENUE_ERROR)
        return finish_other(sc, K_OTHER)
    if found & 4:
        d.info.what = b"method"
        if field_is(&v[2], b"pong"):
            return finish_control(sc, K_HEARTBEAT)
        return finish_control(sc, K_VENUE_ERROR if found & 8 else K_SUBSCRIBED)
    return fail_unexpected(sc)


@cython.final
cdef class KrakenDecoder(Decoder):
    """Kraken spot websocket v1 (``book-N`` with republish and checksum, ``trade``,
    ``ticker`` as BBO) and v2 (``book`` with one span per symbol, ``trade``, ``ticker``)."""

    VENUE = "kraken"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        return kraken_decode(d, sc)
