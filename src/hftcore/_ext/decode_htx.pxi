# HTX (formerly Huobi) spot websocket.  Market data comes as gzip-compressed binary frames
# (inflated here, in C, into the decoder's own buffer; plain JSON text is read as it is):
# {"ch":"market.<symbol>.<channel>","ts":..,"tick":{..}} for depth.stepN (every message a
# snapshot, "version"), mbp.N (incremental: "seqNum" / "prevSeqNum"), mbp.refresh.N (snapshots
# with "seqNum"), trade.detail, bbo; the mbp snapshot request's response ({"rep":..,"data":..});
# {"ping": n} keep-alives that must be answered with {"pong": n} (INFO_PING, Decoder.ping);
# subscription acknowledgements ({"status":"ok","subbed":..}) and errors.  The v2 account
# websocket (text frames): {"action":"ping","data":{"ts": n}} (answered with
# {"action":"pong","data":{"ts": n}}), {"action":"sub"|"req","code":..} acknowledgements, and
# {"action":"push","ch":"orders#<symbol>"|"trade.clearing#<symbol>#<mode>","data":{..}}.
# Prices and sizes of market data are JSON numbers (sometimes with an exponent: 9.121E-7); the
# account messages send them as strings.  Error offsets of a gzip frame refer to its JSON text.
from libc.stdint cimport int64_t, uint64_t, uint8_t
from libc.string cimport memset
from cpython.mem cimport PyMem_RawRealloc, PyMem_RawFree, PyMem_RawMalloc
from hftcore._ext.types cimport (
    ts_t, TradeRecord, BBORecord, OrderUpdate, SIDE_BID, SIDE_ASK, BBO_NO_BID, BBO_NO_ASK,
    ORDER_IS_FILL, ORDER_IS_MAKER, ORDER_HAS_FEE, ORDER_ID_LEN, ASSET_LEN,
    ORDER_STATUS_ACCEPTED, ORDER_STATUS_PARTIALLY_FILLED, ORDER_STATUS_FILLED,
    ORDER_STATUS_CANCELED, ORDER_STATUS_REJECTED, ORDER_STATUS_UNKNOWN, ORDER_TYPE_LIMIT,
    ORDER_TYPE_MARKET, ORDER_TYPE_STOP_LIMIT, ORDER_TYPE_LIMIT_MAKER, ORDER_TYPE_UNKNOWN,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, push_trade, push_bbo, push_order,
    K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_ORDER, K_UNKNOWN_SYMBOL, K_HEARTBEAT,
    K_SUBSCRIBED, K_VENUE_ERROR, K_OTHER, E_TYPE, E_SHAPE, E_CAPACITY, E_COMPRESSED,
    E_TOO_LONG, E_NUMBER, INFO_HAS_SEQ, INFO_PING, INFO_PING_V2,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, JSON_STRING, JSON_NUMBER, JSON_OBJECT, JSON_ARRAY,
    scan_fail, scan_sub, scan_lift_error, scan_skip_ws, scan_skip_value, scan_object_open,
    scan_object_key, scan_seen_once, scan_array_open, scan_array_next, scan_int, scan_ms,
    scan_peek_keys, scan_string_field, text_is, text_starts,
)
from hftcore._ext.decode_common cimport (
    LevelFormat, DeferredLevels, LEVEL_NUMBERS, level_array, levels_now_or_later,
    levels_deferred, span_open, span_close, symbol_lookup, skip_unknown_key, fail_missing,
    fail_unexpected, finish_control, finish_other, collect_fields, fields_required, field_is,
    field_symbol, field_decimal, field_decimal_or_zero, field_int, field_ms, field_text,
    field_side, field_trade_id, field_id, field_bool, field_starts, read_levels,
    message_restart, field_size, field_size_or_zero,
)
from hftcore._ext.fixed cimport RND_HALF_EVEN

cdef extern from "zlib.h" nogil:
    ctypedef struct z_stream:
        unsigned char* next_in
        unsigned int avail_in
        unsigned char* next_out
        unsigned int avail_out
        void* zalloc
        void* zfree
        void* opaque
    int Z_OK
    int Z_STREAM_END
    int Z_NO_FLUSH
    int MAX_WBITS
    int inflateInit2(z_stream* strm, int windowBits)
    int inflate(z_stream* strm, int flush)
    int inflateReset(z_stream* strm)
    int inflateEnd(z_stream* strm)

# [price, size]: JSON numbers
cdef LevelFormat HTX_PAIRS = level_array(2, 2, 0, 1, LEVEL_NUMBERS)

cdef enum:
    HTX_INFLATE_MAX = 1 << 24   # a frame inflating past 16 MiB is refused (E_TOO_LONG)

    HTX_DEPTH = 1               # depth.stepN: every message a snapshot
    HTX_MBP = 2                 # mbp.N: incremental, seqNum / prevSeqNum
    HTX_MBP_REFRESH = 3         # mbp.refresh.N: snapshots
    HTX_TRADE = 4               # trade.detail
    HTX_BBO = 5                 # bbo
    HTX_MARKET_OTHER = 6        # kline, ticker, detail, ...
    HTX_ORDERS = 7              # orders#<symbol>
    HTX_CLEARING = 8            # trade.clearing#<symbol>#<mode>
    HTX_OTHER = 9


cdef int htx_channel(const Field* ch, const char** sym, Py_ssize_t* sym_n) noexcept nogil:
    """"market.<symbol>.<channel>" / "orders#<symbol>" / "trade.clearing#<symbol>#<mode>" ->
    HTX_* and the symbol's text."""
    cdef const char* s = ch.s
    cdef Py_ssize_t n = ch.n, i, j
    sym[0] = NULL
    sym_n[0] = 0
    if ch.type != JSON_STRING:
        return HTX_OTHER
    if text_starts(s, n, b"market."):
        i = 7
        j = i
        while j < n and s[j] != b'.':
            j += 1
        if j >= n:
            return HTX_OTHER
        sym[0] = s + i
        sym_n[0] = j - i
        s += j + 1
        n -= j + 1
        if text_starts(s, n, b"depth.step"):
            return HTX_DEPTH
        if text_starts(s, n, b"mbp.refresh."):
            return HTX_MBP_REFRESH
        if text_starts(s, n, b"mbp."):
            return HTX_MBP
        if text_is(s, n, b"trade.detail"):
            return HTX_TRADE
        if text_is(s, n, b"bbo"):
            return HTX_BBO
        return HTX_MARKET_OTHER
    if text_starts(s, n, b"orders#"):
        sym[0] = s + 7
        sym_n[0] = n - 7
        return HTX_ORDERS
    if text_starts(s, n, b"trade.clearing#"):
        i = 15
        j = i
        while j < n and s[j] != b'#':
            j += 1
        sym[0] = s + i
        sym_n[0] = j - i
        return HTX_CLEARING
    return HTX_OTHER


# ---------------------------------------------------------------------------------------------
# Books
# ---------------------------------------------------------------------------------------------

cdef int htx_book(DecState* d, Scan* sc, SymbolEntry* sym, int channel, ts_t msg_ts) noexcept nogil:
    """tick / data of a book message: {"bids":[[p,s]..],"asks":[..]} with "version" and "ts"
    (depth.stepN), "seqNum" and "prevSeqNum" (mbp.N), "seqNum" (mbp.refresh.N, a request's
    snapshot).  sym is known (the channel names it)."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t ts = 0, seq = -1, prev = -1
    cdef Py_ssize_t span
    cdef BookSpan* sp
    cdef bint snap = channel != HTX_MBP
    d.info.what = b"depth" if channel == HTX_DEPTH else b"mbp"
    span = span_open(d, sc, sym)
    if span < 0 or scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"bids") or text_is(k, kn, b"asks"):
            if (scan_seen_once(sc, &seen, 0 if k[0] == b'b' else 1, k) < 0
                    or read_levels(d, sc, sym, SIDE_BID if k[0] == b'b' else SIDE_ASK,
                                   &HTX_PAIRS, NULL) < 0):
                return -1
        elif text_is(k, kn, b"version") or text_is(k, kn, b"seqNum"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_int(sc, &seq) < 0:
                return -1
        elif text_is(k, kn, b"prevSeqNum"):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_int(sc, &prev) < 0:
                return -1
        elif text_is(k, kn, b"ts"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_ms(sc, &ts) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    # a snapshot must carry both sides (an empty side is []); mbp updates send what changed
    if snap and (seen & 3) != 3:
        return fail_missing(sc)
    if channel == HTX_MBP and (seen & 0xC) != 0xC:
        return fail_missing(sc)
    if (channel == HTX_MBP or channel == HTX_MBP_REFRESH) and not (seen & 4):
        return fail_missing(sc)
    if seq < 0 and (seen & 4):
        return scan_fail(sc, E_NUMBER, sc.p)
    sp = span_close(d, sc, span, ts if ts else msg_ts, seq if seq >= 0 else 0, snap)
    if sp == NULL:
        return -1
    if seen & 4:
        sp.flags |= INFO_HAS_SEQ
        if channel == HTX_MBP:
            sp.prev_seq = prev
    return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE


# ---------------------------------------------------------------------------------------------
# Trades, BBO
# ---------------------------------------------------------------------------------------------

cdef int htx_trades(DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
    """tick: {"id","ts","data":[{"id" (a 27-digit number),"ts","tradeId","amount","price",
    "direction" (taker)}]}"""
    cdef const char* names[3]
    cdef const char* tnames[6]
    cdef Field v[3]
    cdef Field t[6]
    cdef uint64_t f, tf
    cdef int st = 0, r
    cdef Scan sub
    cdef TradeRecord* rec
    names[0] = b"data"; names[1] = b"ts"; names[2] = b"id"
    tnames[0] = b"price"; tnames[1] = b"amount"; tnames[2] = b"direction"; tnames[3] = b"ts"
    tnames[4] = b"tradeId"; tnames[5] = b"id"
    d.info.what = b"trade.detail"
    if collect_fields(d, sc, names, 3, v, &f) < 0 or fields_required(sc, f, 1) < 0:
        return -1
    if v[0].type != JSON_ARRAY:
        return scan_fail(sc, E_TYPE, v[0].s)
    scan_sub(sc, &sub, v[0].s)
    if scan_array_open(&sub) < 0:
        return scan_lift_error(sc, &sub)
    while True:
        r = scan_array_next(&sub, &st)
        if r == 0:
            break
        if (r < 0 or collect_fields(d, &sub, tnames, 6, t, &tf) < 0
                or fields_required(&sub, tf, 0xF) < 0):
            return scan_lift_error(sc, &sub)
        if t[0].type != JSON_NUMBER:
            return scan_fail(sc, E_TYPE, t[0].s)
        if t[1].type != JSON_NUMBER:
            return scan_fail(sc, E_TYPE, t[1].s)
        rec = push_trade(d)
        if rec == NULL:
            return scan_fail(sc, E_CAPACITY, sc.p)
        if (field_decimal(sc, &t[0], sym.price_decimals, &rec.price) < 0
                or field_size(d, sc, &t[1], sym.size_decimals, &rec.size) < 0
                or field_side(sc, &t[2], &rec.side) < 0
                or field_ms(sc, &t[3], &rec.exchange_ts) < 0):
            return -1
        # tradeId (the id the REST API and the clearing feed use); else the long "id" as text
        if t[4].type != JSON_ABSENT:
            if field_trade_id(sc, &t[4], &rec.trade_id, &rec.flags) < 0:
                return -1
        elif t[5].type != JSON_ABSENT:
            if field_trade_id(sc, &t[5], &rec.trade_id, &rec.flags) < 0:
                return -1
        else:
            rec.trade_id = -1
        rec.instrument_id = sym.instrument_id
        if rec.exchange_ts > d.info.exchange_ts:
            d.info.exchange_ts = rec.exchange_ts
    return K_TRADE if d.info.n_trades else K_OTHER


cdef int htx_bbo(DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
    """tick: {"seqId","ask","askSize","bid","bidSize","quoteTime","symbol"}"""
    cdef const char* names[6]
    cdef Field v[6]
    cdef uint64_t f
    cdef BBORecord* b
    names[0] = b"bid"; names[1] = b"bidSize"; names[2] = b"ask"; names[3] = b"askSize"
    names[4] = b"quoteTime"; names[5] = b"seqId"
    d.info.what = b"bbo"
    if collect_fields(d, sc, names, 6, v, &f) < 0 or fields_required(sc, f, 0xF) < 0:
        return -1
    b = push_bbo(d)
    if b == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_decimal_or_zero(sc, &v[0], sym.price_decimals, False, &b.bid_price) < 0
            or field_size_or_zero(d, sc, &v[1], sym.size_decimals, &b.bid_size) < 0
            or field_decimal_or_zero(sc, &v[2], sym.price_decimals, False, &b.ask_price) < 0
            or field_size_or_zero(d, sc, &v[3], sym.size_decimals, &b.ask_size) < 0):
        return -1
    if v[4].type != JSON_ABSENT and field_ms(sc, &v[4], &b.exchange_ts) < 0:
        return -1
    if b.bid_price == 0:
        b.flags |= BBO_NO_BID
    if b.ask_price == 0:
        b.flags |= BBO_NO_ASK
    b.instrument_id = sym.instrument_id
    d.info.exchange_ts = b.exchange_ts
    return K_BBO


# ---------------------------------------------------------------------------------------------
# Private (v2 account websocket): orders#<symbol>, trade.clearing#<symbol>#<mode>
# ---------------------------------------------------------------------------------------------

cdef uint8_t htx_status(const Field* v) noexcept nogil:
    if field_is(v, b"submitted"):
        return ORDER_STATUS_ACCEPTED
    if field_is(v, b"partial-filled"):
        return ORDER_STATUS_PARTIALLY_FILLED
    if field_is(v, b"filled"):
        return ORDER_STATUS_FILLED
    if field_is(v, b"canceled") or field_is(v, b"partial-canceled"):
        return ORDER_STATUS_CANCELED
    if field_is(v, b"rejected"):
        return ORDER_STATUS_REJECTED
    return ORDER_STATUS_UNKNOWN


cdef uint8_t htx_type(const Field* v) noexcept nogil:
    """"buy-limit", "sell-market", "buy-limit-maker", "buy-ioc", "sell-stop-limit", ..."""
    cdef const char* s = v.s
    cdef Py_ssize_t n = v.n
    if v.type != JSON_STRING:
        return ORDER_TYPE_UNKNOWN
    if text_starts(s, n, b"buy-"):
        s += 4
        n -= 4
    elif text_starts(s, n, b"sell-"):
        s += 5
        n -= 5
    else:
        return ORDER_TYPE_UNKNOWN
    if text_is(s, n, b"limit") or text_is(s, n, b"ioc") or text_is(s, n, b"limit-fok"):
        return ORDER_TYPE_LIMIT
    if text_is(s, n, b"market"):
        return ORDER_TYPE_MARKET
    if text_is(s, n, b"limit-maker"):
        return ORDER_TYPE_LIMIT_MAKER
    if text_is(s, n, b"stop-limit") or text_is(s, n, b"stop-limit-fok"):
        return ORDER_TYPE_STOP_LIMIT
    return ORDER_TYPE_UNKNOWN


cdef int htx_order(DecState* d, Scan* sc, int channel) noexcept nogil:
    """orders#: {"eventType" (creation / trade / cancellation / deletion),"symbol","orderId",
    "clientOrderId","orderSide","type","orderStatus","orderPrice","orderSize","execAmt",
    "tradePrice","tradeVolume","tradeId","tradeTime","aggressor","lastActTime",...};
    trade.clearing#: {"eventType":"trade","symbol","orderId","clientOrderId","orderSide",
    "orderType","tradePrice","tradeVolume","tradeId","tradeTime","aggressor","transactFee",
    "feeCurrency","feeDeduct","orderStatus",...}"""
    cdef const char* names[19]
    cdef Field v[19]
    cdef uint64_t f
    cdef SymbolEntry* sym
    cdef OrderUpdate* o
    cdef bint aggressor = False
    cdef int64_t fee
    cdef Field* tw
    names[0] = b"symbol"; names[1] = b"orderId"; names[2] = b"clientOrderId"
    names[3] = b"orderSide"; names[4] = b"type"; names[5] = b"orderStatus"
    names[6] = b"orderPrice"; names[7] = b"orderSize"; names[8] = b"execAmt"
    names[9] = b"tradePrice"; names[10] = b"tradeVolume"; names[11] = b"tradeId"
    names[12] = b"tradeTime"; names[13] = b"aggressor"; names[14] = b"lastActTime"
    names[15] = b"eventType"; names[16] = b"transactFee"; names[17] = b"feeCurrency"
    names[18] = b"orderType"
    d.info.what = b"orders" if channel == HTX_ORDERS else b"trade.clearing"
    if (collect_fields(d, sc, names, 19, v, &f) < 0 or fields_required(sc, f, 0x8003) < 0
            or field_symbol(d, sc, &v[0], &sym) < 0):
        return -1
    if sym == NULL:
        return K_UNKNOWN_SYMBOL
    o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_id(sc, &v[1], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
            or field_decimal_or_zero(sc, &v[6], sym.price_decimals, False, &o.price) < 0
            or field_decimal_or_zero(sc, &v[7], sym.size_decimals, False, &o.size) < 0
            or field_decimal_or_zero(sc, &v[8], sym.size_decimals, False, &o.filled_size) < 0):
        return -1
    tw = &v[4] if v[4].type != JSON_ABSENT else &v[18]
    if v[3].type != JSON_ABSENT:
        if field_side(sc, &v[3], &o.side) < 0:
            return -1
    elif field_starts(tw, b"buy-"):
        o.side = SIDE_BID                                 # the side is the type's first word
    elif field_starts(tw, b"sell-"):
        o.side = SIDE_ASK
    elif tw.type == JSON_ABSENT:
        return fail_missing(sc)
    else:
        return scan_fail(sc, E_SHAPE, tw.s)
    o.order_type = htx_type(tw)
    o.status = htx_status(&v[5])
    if field_is(&v[15], b"trade"):
        if (fields_required(sc, f, 0x3E00) < 0
                or field_decimal(sc, &v[9], sym.price_decimals, &o.last_fill_price) < 0
                or field_decimal(sc, &v[10], sym.size_decimals, &o.last_fill_size) < 0
                or field_trade_id(sc, &v[11], &o.trade_id, &o.flags) < 0
                or field_ms(sc, &v[12], &o.exchange_ts) < 0
                or field_bool(sc, &v[13], &aggressor) < 0):
            return -1
        o.flags |= ORDER_IS_FILL
        if not aggressor:
            o.flags |= ORDER_IS_MAKER
        if v[16].type != JSON_ABSENT:
            if field_decimal_or_zero(sc, &v[16], d.fee_decimals, True, &fee) < 0:
                return -1
            o.fee = fee
            o.flags |= ORDER_HAS_FEE
            if field_text(sc, &v[17], o.fee_asset, ASSET_LEN) < 0:
                return -1
    elif v[14].type != JSON_ABSENT:
        if field_ms(sc, &v[14], &o.exchange_ts) < 0:
            return -1
    elif field_is(&v[15], b"creation"):
        if v[12].type != JSON_ABSENT and field_ms(sc, &v[12], &o.exchange_ts) < 0:
            return -1
    o.transact_ts = o.exchange_ts
    o.instrument_id = sym.instrument_id
    if o.exchange_ts > d.info.exchange_ts:
        d.info.exchange_ts = o.exchange_ts
    return K_ORDER


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------

cdef int htx_book_in_order(DecState* d, Scan* sc) noexcept nogil:
    """{"ch":"market.<symbol>.mbp..|depth..","ts":..,"tick":{..}} with its keys in the order
    HTX sends them: the tick is read where it is, once (htx_market validates a body before
    reading it).  The kind, -1 on an error, or -2 when the message is not in that form (the
    caller restarts it on the general path; nothing it wrote stays)."""
    cdef int st = 0, r, channel, kind
    cdef const char* k
    cdef Py_ssize_t kn
    cdef Field ch
    cdef int64_t ts = 0
    cdef const char* s
    cdef Py_ssize_t n
    cdef SymbolEntry* sym
    if scan_object_open(sc) < 0:
        return -1
    r = scan_object_key(sc, &st, &k, &kn)
    if r <= 0 or not text_is(k, kn, b"ch"):
        return -1 if r < 0 else -2
    if scan_string_field(sc, &ch) < 0:
        return -1
    channel = htx_channel(&ch, &s, &n)
    if channel != HTX_MBP and channel != HTX_DEPTH and channel != HTX_MBP_REFRESH:
        return -2
    r = scan_object_key(sc, &st, &k, &kn)
    if r <= 0 or not text_is(k, kn, b"ts"):
        return -1 if r < 0 else -2
    if scan_ms(sc, &ts) < 0:
        return -1
    r = scan_object_key(sc, &st, &k, &kn)
    if r <= 0 or not text_is(k, kn, b"tick"):
        return -1 if r < 0 else -2
    sym = symbol_lookup(d, s, n)
    scan_skip_ws(sc)
    if sym == NULL or sc.p >= sc.end or sc.p[0] != b'{':
        return -2
    d.info.what = b"ch"
    kind = htx_book(d, sc, sym, channel, ts)
    if kind < 0:
        return -1
    r = scan_object_key(sc, &st, &k, &kn)
    if r != 0:
        return -1 if r < 0 else -2                      # more keys: the general path decides
    if d.info.exchange_ts == 0:
        d.info.exchange_ts = ts
    return kind


cdef int htx_market(DecState* d, Scan* sc, bint reply) noexcept nogil:
    """{"ch","ts","tick"} or a request's reply {"id","rep","status","ts","data"}."""
    cdef const char* names[5]
    cdef Field v[5]
    cdef uint64_t f
    cdef const char* s
    cdef Py_ssize_t n
    cdef int channel, kind
    cdef SymbolEntry* sym
    cdef Scan sub
    cdef int64_t ts = 0
    cdef Field* body
    cdef const char* start = sc.p
    if not reply:
        kind = htx_book_in_order(d, sc)
        if kind != -2:
            return kind
        message_restart(d)
        sc.p = start
    names[0] = b"ch"; names[1] = b"ts"; names[2] = b"tick"; names[3] = b"rep"; names[4] = b"data"
    d.info.what = b"rep" if reply else b"ch"
    if collect_fields(d, sc, names, 5, v, &f) < 0:
        return -1
    if reply:
        channel = htx_channel(&v[3], &s, &n)
        body = &v[4]
    else:
        channel = htx_channel(&v[0], &s, &n)
        body = &v[2]
    if body.type == JSON_ABSENT:
        return fail_missing(sc)
    if v[1].type != JSON_ABSENT and field_ms(sc, &v[1], &ts) < 0:
        return -1
    if channel == HTX_MARKET_OTHER or channel >= HTX_ORDERS or (reply and channel != HTX_MBP):
        return K_OTHER                                    # klines, tickers, ... (validated)
    sym = symbol_lookup(d, s, n)
    if sym == NULL:
        # validated all the same: a damaged body is an error, whoever it was for
        return K_UNKNOWN_SYMBOL
    if body.type != JSON_OBJECT:
        return scan_fail(sc, E_TYPE, body.s)
    scan_sub(sc, &sub, body.s)
    if channel == HTX_DEPTH or channel == HTX_MBP or channel == HTX_MBP_REFRESH:
        # a request's mbp reply is a snapshot, like a refresh
        kind = htx_book(d, &sub, sym, HTX_MBP_REFRESH if reply else channel, ts)
    elif channel == HTX_TRADE:
        kind = htx_trades(d, &sub, sym)
    else:
        kind = htx_bbo(d, &sub, sym)
    if kind < 0:
        return scan_lift_error(sc, &sub)
    if d.info.exchange_ts == 0:
        d.info.exchange_ts = ts
    return kind


cdef int htx_ping(DecState* d, Scan* sc, const Field* value, bint v2) noexcept nogil:
    """{"ping": n} / {"action":"ping","data":{"ts": n}}: a heartbeat the venue layer answers
    with the same n (Decoder.ping)."""
    cdef int64_t n
    cdef const char* names[1]
    cdef Field v[1]
    cdef uint64_t f
    cdef Scan sub
    d.info.what = b"ping"
    if v2:
        if value.type != JSON_OBJECT:
            return scan_fail(sc, E_TYPE, value.s)
        scan_sub(sc, &sub, value.s)
        names[0] = b"ts"
        if (collect_fields(d, &sub, names, 1, v, &f) < 0 or fields_required(&sub, f, 1) < 0
                or field_int(&sub, &v[0], &n) < 0):
            return scan_lift_error(sc, &sub)
    else:
        if value.type != JSON_NUMBER or field_int(sc, value, &n) < 0:
            return scan_fail(sc, E_TYPE, value.s)
    if n < 0:
        return scan_fail(sc, E_NUMBER, value.s)
    if finish_control(sc, K_HEARTBEAT) < 0:
        return -1
    d.info.ping = n
    d.info.flags |= INFO_PING | (INFO_PING_V2 if v2 else 0)
    return K_HEARTBEAT


cdef int htx_action(DecState* d, Scan* sc, const Field* action) noexcept nogil:
    """The v2 account websocket: {"action":"ping"|"sub"|"req"|"push",...}"""
    cdef const char* names[4]
    cdef Field v[4]
    cdef uint64_t f
    cdef const char* s
    cdef Py_ssize_t n
    cdef int channel, kind
    cdef int64_t code
    cdef Scan sub
    names[0] = b"action"; names[1] = b"ch"; names[2] = b"data"; names[3] = b"code"
    d.info.what = b"action"
    if action != NULL and field_is(action, b"ping"):
        names[0] = b"data"                      # (peeking stops at a first key named names[0])
        names[1] = b"action"
        if scan_peek_keys(sc, names, 2, v, &f, 2) < 0:
            return -1
        if not (f & 1):
            return fail_missing(sc)
        return htx_ping(d, sc, &v[0], True)
    if collect_fields(d, sc, names, 4, v, &f) < 0:
        return -1
    if action == NULL:                          # {"ch":"trade.clearing#..",..,"action":..}
        action = &v[0]
        if not (f & 1):
            return fail_missing(sc)
    if field_is(action, b"ping"):
        return scan_fail(sc, E_SHAPE, action.s)
    if field_is(action, b"sub") or field_is(action, b"req") or field_is(action, b"unsub"):
        if v[3].type == JSON_ABSENT:
            return fail_missing(sc)
        if field_int(sc, &v[3], &code) < 0:
            return -1
        return K_SUBSCRIBED if code == 200 else K_VENUE_ERROR
    if not field_is(action, b"push"):
        return K_OTHER
    channel = htx_channel(&v[1], &s, &n)
    if channel != HTX_ORDERS and channel != HTX_CLEARING:
        return K_OTHER                                    # accounts.update#, ...
    if v[2].type != JSON_OBJECT:
        return scan_fail(sc, E_TYPE, v[2].s) if v[2].type != JSON_ABSENT else fail_missing(sc)
    scan_sub(sc, &sub, v[2].s)
    kind = htx_order(d, &sub, channel)
    if kind < 0:
        return scan_lift_error(sc, &sub)
    return kind


cdef int htx_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[6]
    cdef Field v[6]
    cdef uint64_t found
    scan_skip_ws(sc)
    if sc.p >= sc.end or sc.p[0] != b'{':
        return fail_unexpected(sc)
    names[0] = b"ch"; names[1] = b"ping"; names[2] = b"action"; names[3] = b"rep"
    names[4] = b"status"; names[5] = b"pong"
    if scan_peek_keys(sc, names, 6, v, &found, 0x1D) < 0:
        return -1
    if found & 2:
        return htx_ping(d, sc, &v[1], False)
    if found & 4:
        return htx_action(d, sc, &v[2])
    if found & 8:
        if not field_is(&v[4], b"ok"):
            d.info.what = b"rep"
            return finish_control(sc, K_VENUE_ERROR)
        return htx_market(d, sc, True)
    if found & 1:
        if not field_starts(&v[0], b"market."):
            return htx_action(d, sc, NULL)      # an account push whose "ch" comes first
        return htx_market(d, sc, False)
    if found & 16:
        d.info.what = b"status"
        return finish_control(sc, K_SUBSCRIBED if field_is(&v[4], b"ok") else K_VENUE_ERROR)
    if found & 32:
        d.info.what = b"pong"
        return finish_control(sc, K_HEARTBEAT)
    return fail_unexpected(sc)


@cython.final
cdef class HtxDecoder(Decoder):
    """HTX (formerly Huobi) spot: gzip binary frames inflated in C (text frames read as they
    are); ``depth.stepN`` snapshots (``version`` -> ``last_seq``), ``mbp.N`` updates
    (``seqNum`` / ``prevSeqNum``) and ``mbp.refresh.N`` / requested snapshots,
    ``trade.detail``, ``bbo``; ``{"ping": n}`` is a HEARTBEAT with ``ping == n`` (answer with
    ``pong()``); private ``orders#`` and ``trade.clearing#`` (v2 account websocket)."""

    VENUE = "htx"

    def __cinit__(self, *args, **kwargs):
        # HTX prints book, trade and top-of-book sizes from binary floating point
        # ("3307.9982700421942", "3.358149508E7"): they are rounded half-even at the
        # instrument's size decimals and counted (counts["rounded"]); prices stay exact
        self.st.size_rounding = RND_HALF_EVEN

    def __dealloc__(self):
        if self.zs != NULL:
            inflateEnd(<z_stream*>self.zs)
            PyMem_RawFree(self.zs)
        PyMem_RawFree(self.ztext)

    cdef int _inflate(self, Scan* sc) noexcept nogil:
        """The gzip frame under sc -> its text in self.ztext; sc then reads the text."""
        cdef z_stream* z = <z_stream*>self.zs
        cdef int r
        cdef Py_ssize_t used
        cdef char* grown
        if z == NULL:
            z = <z_stream*>PyMem_RawMalloc(sizeof(z_stream))
            if z == NULL:
                return scan_fail(sc, E_CAPACITY, sc.p)
            memset(z, 0, sizeof(z_stream))
            if inflateInit2(z, 16 + MAX_WBITS) != Z_OK:
                PyMem_RawFree(z)
                return scan_fail(sc, E_CAPACITY, sc.p)
            self.zs = z
        elif inflateReset(z) != Z_OK:
            return scan_fail(sc, E_COMPRESSED, sc.p)
        if sc.end - sc.p > <Py_ssize_t>0x7FFFFFFF:
            return scan_fail(sc, E_TOO_LONG, sc.p)
        if self.zcap == 0:
            self.ztext = <char*>PyMem_RawMalloc(65536)
            if self.ztext == NULL:
                return scan_fail(sc, E_CAPACITY, sc.p)
            self.zcap = 65536
        z.next_in = <unsigned char*>sc.p
        z.avail_in = <unsigned int>(sc.end - sc.p)
        used = 0
        while True:
            z.next_out = <unsigned char*>self.ztext + used
            z.avail_out = <unsigned int>(self.zcap - used)
            r = inflate(z, Z_NO_FLUSH)
            used = self.zcap - z.avail_out
            if r == Z_STREAM_END:
                break
            if r != Z_OK or (z.avail_out != 0 and z.avail_in == 0):
                return scan_fail(sc, E_COMPRESSED, sc.p)  # damaged or truncated
            if z.avail_out == 0:
                if self.zcap >= HTX_INFLATE_MAX:
                    return scan_fail(sc, E_TOO_LONG, sc.p)
                grown = <char*>PyMem_RawRealloc(self.ztext, <size_t>(self.zcap * 2))
                if grown == NULL:
                    return scan_fail(sc, E_CAPACITY, sc.p)
                self.ztext = grown
                self.zcap = self.zcap * 2   # (not *=: a debug build checks self for None, which needs the GIL)
        if z.avail_in != 0:
            return scan_fail(sc, E_COMPRESSED, sc.end - z.avail_in)    # data after the gzip
        sc.base = self.ztext
        sc.p = self.ztext
        sc.end = self.ztext + used
        sc.err_at = self.ztext
        return 0

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        if sc.end - sc.p >= 2 and <unsigned char>sc.p[0] == 0x1f and \
                <unsigned char>sc.p[1] == 0x8b:
            d.info.what = b"gzip"
            if self._inflate(sc) < 0:
                return -1
        return htx_decode(d, sc)

    def pong(self):
        """The answer to the last message when it was a ping (``ping`` is not None):
        ``{"pong": n}``, or ``{"action":"pong","data":{"ts": n}}`` on the v2 account
        websocket; None otherwise."""
        if not (self.st.info.flags & INFO_PING):
            return None
        if self.st.info.flags & INFO_PING_V2:
            return b'{"action":"pong","data":{"ts":%d}}' % self.st.info.ping
        return b'{"pong":%d}' % self.st.info.ping
