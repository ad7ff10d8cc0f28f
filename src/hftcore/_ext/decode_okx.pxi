# OKX v5: books / books-l2-tbt / books50-l2-tbt snapshot and update, books5 and bbo-tbt (each
# message a snapshot) with seqId / prevSeqId and checksum; trades; tickers (as BBO); private
# orders; event messages (subscribe, error, login...) and "pong".
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp
from hftcore._ext.types cimport (
    TradeRecord, BBORecord, OrderUpdate, SIDE_BID, SIDE_ASK, BBO_NO_BID, BBO_NO_ASK,
    ORDER_IS_FILL, ORDER_HAS_FEE, ORDER_TRADE_ID_TEXT, ORDER_ID_LEN, ASSET_LEN,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, push_trade, push_bbo, push_order,
    K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_ORDER, K_UNKNOWN_SYMBOL, K_HEARTBEAT,
    K_SUBSCRIBED, K_VENUE_ERROR, K_STATUS, K_OTHER, E_TYPE, E_SHAPE, E_CAPACITY, INFO_HAS_SEQ,
    INFO_HAS_CHECKSUM,
)
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, JSON_STRING, scan_fail, scan_sub, scan_lift_error,
    scan_skip_ws, scan_string_field, scan_skip_value, scan_object_open,
    scan_object_key, scan_seen_once, scan_array_open, scan_array_next, scan_int, scan_ms,
    scan_peek_keys, text_is, trade_id_text,
)
from hftcore._ext.decode_common cimport (
    LevelFormat, LEVEL_STRINGS, level_array, read_levels, span_open, span_close, symbol_lookup,
    skip_unknown_key, fail_missing, fail_unexpected, finish_control,
    collect_fields, fields_required, field_is, field_symbol, field_decimal,
    field_decimal_or_zero, field_ms, field_text, field_side, field_trade_id, field_id,
    negate_checked, order_status_from_field, order_type_from_field,
)

# [["px","sz","liquidated orders (deprecated)","orders"], ...]
cdef LevelFormat OKX_LEVELS = level_array(4, 4, 0, 1, LEVEL_STRINGS)

cdef enum:
    OKX_BOOK = 1            # books*: snapshot then updates (action)
    OKX_BOOK_FULL = 2       # books5 / bbo-tbt: every message is a snapshot
    OKX_TRADES = 3
    OKX_TICKERS = 4
    OKX_ORDERS = 5
    OKX_OTHER = 6


cdef int okx_channel(Field* c) noexcept nogil:
    if field_is(c, b"books") or field_is(c, b"books-l2-tbt") or field_is(c, b"books50-l2-tbt"):
        return OKX_BOOK
    if field_is(c, b"books5") or field_is(c, b"bbo-tbt"):
        return OKX_BOOK_FULL
    if field_is(c, b"trades") or field_is(c, b"trades-all"):
        return OKX_TRADES
    if field_is(c, b"tickers"):
        return OKX_TICKERS
    if field_is(c, b"orders"):
        return OKX_ORDERS
    return OKX_OTHER


cdef int okx_book_item(DecState* d, Scan* sc, SymbolEntry* sym, bint snap) noexcept nogil:
    """One element of a book message's "data": a span of the arg's instrument."""
    cdef int st = 0, r
    cdef const char* k
    cdef Py_ssize_t kn
    cdef uint64_t seen = 0
    cdef int64_t ts = 0, cs = 0, seq = 0, prev = -1
    cdef Py_ssize_t span = span_open(d, sc, sym)
    cdef BookSpan* s
    if span < 0 or scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"asks") or text_is(k, kn, b"bids"):
            if (scan_seen_once(sc, &seen, 0 if k[0] == b'a' else 1, k) < 0
                    or read_levels(d, sc, sym, SIDE_ASK if k[0] == b'a' else SIDE_BID, &OKX_LEVELS,
                                   NULL) < 0):
                return -1
        elif text_is(k, kn, b"ts"):
            if scan_seen_once(sc, &seen, 2, k) < 0 or scan_ms(sc, &ts) < 0:
                return -1
        elif text_is(k, kn, b"checksum"):
            if scan_seen_once(sc, &seen, 3, k) < 0 or scan_int(sc, &cs) < 0:
                return -1
        elif text_is(k, kn, b"seqId"):
            if scan_seen_once(sc, &seen, 4, k) < 0 or scan_int(sc, &seq) < 0:
                return -1
        elif text_is(k, kn, b"prevSeqId"):
            if scan_seen_once(sc, &seen, 5, k) < 0 or scan_int(sc, &prev) < 0:
                return -1
        elif text_is(k, kn, b"instId"):
            if scan_seen_once(sc, &seen, 6, k) < 0 or scan_skip_value(sc, 1) < 0:
                return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 7) != 7:
        return fail_missing(sc)
    s = span_close(d, sc, span, ts, seq, snap)
    if s == NULL:
        return -1
    if seen & 8:
        s.checksum = cs
        s.flags |= INFO_HAS_CHECKSUM
    if seen & 16:
        s.prev_seq = prev
        s.flags |= INFO_HAS_SEQ
    return 0


cdef int okx_trade(DecState* d, Scan* sc, Field* v, SymbolEntry* sym) noexcept nogil:
    cdef TradeRecord* t = push_trade(d)
    if t == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_decimal(sc, &v[2], sym.price_decimals, &t.price) < 0
            or field_decimal(sc, &v[3], sym.size_decimals, &t.size) < 0
            or field_side(sc, &v[4], &t.side) < 0
            or field_ms(sc, &v[5], &t.exchange_ts) < 0
            or field_trade_id(sc, &v[1], &t.trade_id, &t.flags) < 0):
        return -1
    t.instrument_id = sym.instrument_id
    d.info.exchange_ts = t.exchange_ts
    return 0


cdef int okx_ticker(DecState* d, Scan* sc, Field* v, SymbolEntry* sym) noexcept nogil:
    cdef BBORecord* b = push_bbo(d)
    if b == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_decimal_or_zero(sc, &v[1], sym.price_decimals, False, &b.bid_price) < 0
            or field_decimal_or_zero(sc, &v[2], sym.size_decimals, False, &b.bid_size) < 0
            or field_decimal_or_zero(sc, &v[3], sym.price_decimals, False, &b.ask_price) < 0
            or field_decimal_or_zero(sc, &v[4], sym.size_decimals, False, &b.ask_size) < 0
            or field_ms(sc, &v[5], &b.exchange_ts) < 0):
        return -1
    if v[1].n == 0:
        b.flags |= BBO_NO_BID
    if v[3].n == 0:
        b.flags |= BBO_NO_ASK
    b.instrument_id = sym.instrument_id
    d.info.exchange_ts = b.exchange_ts
    return 0


cdef int okx_order(DecState* d, Scan* sc, Field* v, SymbolEntry* sym) noexcept nogil:
    cdef int64_t fee
    cdef OrderUpdate* o = push_order(d)
    if o == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    if (field_side(sc, &v[3], &o.side) < 0
            or field_id(sc, &v[1], o.venue_order_id_text, ORDER_ID_LEN, &o.venue_order_id) < 0
            or field_text(sc, &v[2], o.client_order_id, ORDER_ID_LEN) < 0
            or field_decimal_or_zero(sc, &v[5], sym.price_decimals, False, &o.price) < 0
            or field_decimal_or_zero(sc, &v[6], sym.size_decimals, False, &o.size) < 0
            or field_decimal_or_zero(sc, &v[8], sym.size_decimals, False, &o.filled_size) < 0
            or field_decimal_or_zero(sc, &v[9], sym.price_decimals, False, &o.avg_price) < 0
            or field_decimal_or_zero(sc, &v[10], sym.price_decimals, False,
                                     &o.last_fill_price) < 0
            or field_decimal_or_zero(sc, &v[11], sym.size_decimals, False,
                                     &o.last_fill_size) < 0
            or field_decimal_or_zero(sc, &v[12], d.fee_decimals, True, &fee) < 0
            or field_text(sc, &v[13], o.fee_asset, ASSET_LEN) < 0
            or field_text(sc, &v[14], o.trade_id_text, ORDER_ID_LEN) < 0
            or field_ms(sc, &v[15], &o.exchange_ts) < 0):
        return -1
    if negate_checked(sc, fee, v[12].s, &o.fee) < 0:     # OKX: a paid fee is negative
        return -1
    if v[12].type == JSON_STRING:
        o.flags |= ORDER_HAS_FEE
    if v[14].n > 0 and trade_id_text(v[14].s, v[14].n, &o.trade_id):
        o.flags |= ORDER_TRADE_ID_TEXT
    if o.last_fill_size > 0:
        o.flags |= ORDER_IS_FILL
    o.transact_ts = o.exchange_ts
    o.status = order_status_from_field(&v[7])
    o.order_type = order_type_from_field(&v[4])
    o.instrument_id = sym.instrument_id
    d.info.exchange_ts = o.exchange_ts
    return 0


cdef int okx_data(DecState* d, Scan* sc, int channel, SymbolEntry* sym, bint snap,
                  bint* unknown) noexcept nogil:
    """The "data" array of a channel message (sym: the arg's instrument, NULL when unknown)."""
    cdef int st = 0, r
    cdef uint64_t f
    cdef Field v[16]
    cdef const char* names[16]
    cdef SymbolEntry* item_sym
    if scan_array_open(sc) < 0:
        return -1
    if channel == OKX_TRADES:
        names[0] = b"instId"; names[1] = b"tradeId"; names[2] = b"px"; names[3] = b"sz"
        names[4] = b"side"; names[5] = b"ts"
    elif channel == OKX_TICKERS:
        names[0] = b"instId"; names[1] = b"bidPx"; names[2] = b"bidSz"; names[3] = b"askPx"
        names[4] = b"askSz"; names[5] = b"ts"
    elif channel == OKX_ORDERS:
        names[0] = b"instId"; names[1] = b"ordId"; names[2] = b"clOrdId"; names[3] = b"side"
        names[4] = b"ordType"; names[5] = b"px"; names[6] = b"sz"; names[7] = b"state"
        names[8] = b"accFillSz"; names[9] = b"avgPx"; names[10] = b"fillPx"
        names[11] = b"fillSz"; names[12] = b"fee"; names[13] = b"feeCcy"; names[14] = b"tradeId"
        names[15] = b"uTime"
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        if channel == OKX_BOOK or channel == OKX_BOOK_FULL:
            if sym == NULL:
                unknown[0] = True
                if scan_skip_value(sc, 1) < 0:
                    return -1
            elif okx_book_item(d, sc, sym, snap) < 0:
                return -1
            continue
        if (collect_fields(d, sc, names, 16 if channel == OKX_ORDERS else 6, v, &f) < 0
                or fields_required(sc, f, 0x80FF if channel == OKX_ORDERS else 0x3F) < 0
                or field_symbol(d, sc, &v[0], &item_sym) < 0):
            return -1
        if item_sym == NULL:
            unknown[0] = True
            continue
        if channel == OKX_TRADES:
            r = okx_trade(d, sc, v, item_sym)
        elif channel == OKX_TICKERS:
            r = okx_ticker(d, sc, v, item_sym)
        else:
            r = okx_order(d, sc, v, item_sym)
        if r < 0:
            return -1


cdef int okx_arg(DecState* d, Scan* sc, Field* channel, Field* inst) noexcept nogil:
    cdef const char* names[2]
    cdef Field v[2]
    cdef uint64_t f
    names[0] = b"channel"
    names[1] = b"instId"
    if collect_fields(d, sc, names, 2, v, &f) < 0:
        return -1
    if not (f & 1):
        return fail_missing(sc)
    if v[0].type != JSON_STRING:
        return scan_fail(sc, E_TYPE, v[0].s)
    if v[1].type != JSON_ABSENT and v[1].type != JSON_STRING:
        return scan_fail(sc, E_TYPE, v[1].s)
    channel[0] = v[0]
    inst[0] = v[1]
    return 0


cdef int okx_decode(DecState* d, Scan* sc) noexcept nogil:
    cdef const char* names[3]
    cdef Field v[3]
    cdef uint64_t found, seen = 0
    cdef int st = 0, r, channel = 0
    cdef const char* k
    cdef Py_ssize_t kn
    cdef Field chan, inst, action
    cdef SymbolEntry* sym = NULL
    cdef const char* later = NULL
    cdef bint snap = False, unknown = False
    cdef Scan sub
    scan_skip_ws(sc)
    if sc.end - sc.p == 4 and memcmp(sc.p, b"pong", 4) == 0:
        sc.p += 4
        d.info.what = b"pong"
        return K_HEARTBEAT
    if sc.p >= sc.end or sc.p[0] != b'{':
        return fail_unexpected(sc)
    names[0] = b"event"
    names[1] = b"arg"
    names[2] = b"data"
    if sc.end - sc.p > 7 and memcmp(sc.p, b'{"arg":', 7) == 0:
        found = 6                                         # a channel message (arg first)
    elif scan_peek_keys(sc, names, 3, v, &found, 1) < 0:  # "event" must be text
        return -1
    if found & 1:
        d.info.what = b"event"
        if field_is(&v[0], b"error"):
            return finish_control(sc, K_VENUE_ERROR)
        if (field_is(&v[0], b"subscribe") or field_is(&v[0], b"unsubscribe")
                or field_is(&v[0], b"login")):
            return finish_control(sc, K_SUBSCRIBED)
        return finish_control(sc, K_STATUS)
    if (found & 6) != 6:
        return fail_unexpected(sc)
    action.type = JSON_ABSENT
    action.s = NULL
    action.n = 0
    chan = action
    inst = action
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, b"arg"):
            if scan_seen_once(sc, &seen, 0, k) < 0 or okx_arg(d, sc, &chan, &inst) < 0:
                return -1
            channel = okx_channel(&chan)
            d.info.what = b"channel"
            if inst.type == JSON_STRING:
                sym = symbol_lookup(d, inst.s, inst.n)
        elif text_is(k, kn, b"action"):
            if scan_seen_once(sc, &seen, 1, k) < 0 or scan_string_field(sc, &action) < 0:
                return -1
        elif text_is(k, kn, b"data"):
            if scan_seen_once(sc, &seen, 2, k) < 0:
                return -1
            scan_skip_ws(sc)
            if channel == 0 or channel == OKX_OTHER or (channel == OKX_BOOK
                                                        and action.type == JSON_ABSENT):
                later = sc.p                              # read once arg / action are known
                if scan_skip_value(sc, 1) < 0:
                    return -1
            else:
                snap = channel == OKX_BOOK_FULL or field_is(&action, b"snapshot")
                if okx_data(d, sc, channel, sym, snap, &unknown) < 0:
                    return -1
        elif skip_unknown_key(d, sc, k) < 0:
            return -1
    if (seen & 5) != 5:
        return fail_missing(sc)
    if channel == OKX_OTHER:
        return K_OTHER
    if channel == OKX_BOOK and action.type == JSON_ABSENT:
        return fail_missing(sc)
    if channel == OKX_BOOK and not field_is(&action, b"snapshot") and not field_is(
            &action, b"update"):
        return scan_fail(sc, E_SHAPE, action.s)
    if later != NULL:
        snap = channel == OKX_BOOK_FULL or field_is(&action, b"snapshot")
        scan_sub(sc, &sub, later)
        if okx_data(d, &sub, channel, sym, snap, &unknown) < 0:
            return scan_lift_error(sc, &sub)
    if unknown:
        return K_UNKNOWN_SYMBOL
    if channel == OKX_BOOK or channel == OKX_BOOK_FULL:
        d.info.what = b"books"
        return K_BOOK_SNAPSHOT if snap else K_BOOK_UPDATE
    if channel == OKX_TRADES:
        return K_TRADE
    if channel == OKX_TICKERS:
        return K_BBO
    return K_ORDER


@cython.final
cdef class OkxDecoder(Decoder):
    """OKX v5: ``books`` / ``books-l2-tbt`` / ``books50-l2-tbt``, ``books5`` and ``bbo-tbt``
    (``seqId`` / ``prevSeqId``, ``checksum``), ``trades``, ``tickers`` (as BBO), private
    ``orders``."""

    VENUE = "okx"

    cdef int _decode(self, DecState* d, Scan* sc) noexcept nogil:
        return okx_decode(d, sc)
