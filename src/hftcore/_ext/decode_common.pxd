# The building blocks every venue decoder (decode_<venue>.pyx) is made of, over records.pxd
# (state, records) and jsonscan.pxd (JSON):
#
# - symbol_lookup: the symbol table, remembering the message's symbol for errors and reports;
# - read_levels: the one reader of level arrays, described by a LevelFormat (["px","sz"] pairs,
#   OKX's four strings, Kraken's [px, size, time, "r"], Coinbase's [side, px, size],
#   {"price":..,"qty":..} objects, strings or JSON numbers), with a tight loop for compact pairs;
# - levels_now_or_later / levels_deferred: "defer levels, then scan" for objects whose level
#   arrays come before the symbol;
# - span_open / span_close: one BookSpan per instrument of a book message, with the record
#   flags (SNAPSHOT, CLEAR on the first record, LAST on the last) and empty snapshots;
# - collect_fields + field_*: one object's fields by name, then typed reads of them;
# - venue words: sides, order states and order types.
#
# Everything is `cdef inline ... noexcept nogil` and reports errors through the Scan.
from libc.stdint cimport int64_t, uint64_t, uint8_t, INT64_MIN
from libc.string cimport memcpy, memset, strlen
from hftcore._ext.types cimport (
    BookDelta, ts_t, px_t, qty_t, SIDE_BID, SIDE_ASK, SIDE_NONE, DELTA_SNAPSHOT, DELTA_CLEAR,
    DELTA_LAST, DELTA_REPUBLISH, TRADE_ID_TEXT, ORDER_STATUS_PENDING_NEW,
    ORDER_STATUS_ACCEPTED, ORDER_STATUS_PARTIALLY_FILLED, ORDER_STATUS_FILLED,
    ORDER_STATUS_PENDING_CANCEL, ORDER_STATUS_CANCELED, ORDER_STATUS_REJECTED,
    ORDER_STATUS_EXPIRED, ORDER_STATUS_UNKNOWN, ORDER_TYPE_LIMIT, ORDER_TYPE_MARKET,
    ORDER_TYPE_STOP_MARKET, ORDER_TYPE_STOP_LIMIT, ORDER_TYPE_LIMIT_MAKER, ORDER_TYPE_UNKNOWN,
)
from hftcore._ext.records cimport (
    DecState, Scan, SymbolEntry, BookSpan, symbol_find, push_delta, push_span, SYMBOL_MAX,
    INFO_REPUBLISH, INFO_SNAPSHOT, INFO_UNKNOWN_SYMBOL, INFO_HAS_INSTRUMENT, E_TYPE, E_MISSING,
    E_EXTRA, E_NUMBER, E_SHAPE, E_CAPACITY, E_PRECISION,
    E_TIME,
)
from hftcore._ext.fixed cimport fx_parse, FX_OK, FX_PRECISION, RND_EXACT
from hftcore._ext.jsonscan cimport (
    Field, JSON_ABSENT, JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL,
    scan_fail, scan_sub, scan_lift_error, scan_skip_ws, scan_next_is, scan_string,
    scan_skip_value, scan_value, scan_object_open, scan_object_key, scan_seen_once,
    scan_array_open, scan_array_next, scan_object_unique_keys, scan_decimal,
    scan_decimal_number, scan_decimal_any, scan_seconds, scan_iso_time, scan_ms, text_is,
    scan_number,
    HFT_STRING_STOP, hft_decimal_fast, hft_number_fast, hft_seconds_fast, fast_literal,
    decimal_text, int_text, copy_text, id_text, trade_id_text, ms_to_ns,
    iso_time_text,
)


cdef enum:
    # LevelFormat.values
    LEVEL_STRINGS = 0           # prices and sizes are JSON strings ("0.1")
    LEVEL_NUMBERS = 1           # JSON numbers (their exact text is parsed)
    LEVEL_EITHER = 2

    # LevelFormat.time_kind: a per-level time (the record's exchange_ts)
    LEVEL_TIME_NONE = 0
    LEVEL_TIME_SECONDS = 1      # Unix seconds as decimal text (Kraken v1)
    LEVEL_TIME_ISO = 2          # RFC 3339 text (Coinbase Advanced Trade)
    LEVEL_TIME_MS = 3           # milliseconds

    DEFERRED_MAX = 4            # level arrays one object may defer

    # read_levels' tight loops
    FAST_STRINGS = 0
    FAST_NUMBERS = 1
    FAST_OBJECT_NUMBERS = 2


ctypedef struct LevelFormat:
    # Array form [e0, e1, ...] unless price_key is set (object form {"price":..,"qty":..}).
    int min_fields              # elements per level (array form)
    int max_fields
    int price_at                # element index of the price
    int size_at
    int side_at                 # element holding a side word; -1: the caller's side
    int time_at                 # element holding the level's time; -1: none
    int flag_at                 # optional element that may only be "r" (Kraken republish); -1
    int action_at               # element holding "new" / "change" / "delete" (Deribit; delete
                                # makes the size 0); -1
    int values                  # LEVEL_STRINGS / LEVEL_NUMBERS / LEVEL_EITHER
    int time_kind               # LEVEL_TIME_*
    const char* price_key       # object form: every key given is required
    const char* size_key
    int price_key_n             # their lengths
    int size_key_n
    const char* side_key
    const char* time_key


ctypedef struct DeferredLevels:
    const char* at[4]           # DEFERRED_MAX: where each remembered level array starts
    uint8_t side[4]
    int count


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------

cdef inline int fail_missing(Scan* sc) noexcept nogil:
    return scan_fail(sc, E_MISSING, sc.p - 1 if sc.p > sc.base else sc.p)


cdef inline int finish_other(Scan* sc, int kind) noexcept nogil:
    """A recognised message that fills no records: validate the rest of it, return its kind."""
    if scan_skip_value(sc, 0) < 0:
        return -1
    return kind


cdef inline int finish_control(Scan* sc, int kind) noexcept nogil:
    """A control message (ack, error, status, pong): like finish_other, and its top-level keys
    must not repeat -- `{"event":"subscribe","event":"error"}` is refused, not guessed."""
    if scan_object_unique_keys(sc) < 0:
        return -1
    return kind


cdef inline int require_end(Scan* sc) noexcept nogil:
    """Nothing but whitespace may follow: checked before a message changes a decoder's own
    state (a channel map), so that a refused message leaves it as it was."""
    while sc.p < sc.end and (sc.p[0] == b' ' or sc.p[0] == b'\n' or sc.p[0] == b'\r'
                             or sc.p[0] == b'\t'):
        sc.p += 1
    if sc.p != sc.end:
        return scan_fail(sc, E_EXTRA, sc.p)
    return 0


cdef inline int fail_unexpected(Scan* sc) noexcept nogil:
    """Valid JSON of a shape the venue does not send: validate it, then E_SHAPE."""
    if scan_skip_value(sc, 0) < 0:
        return -1
    return scan_fail(sc, E_SHAPE, sc.base)


cdef inline int skip_unknown_key(DecState* d, Scan* sc, const char* key) noexcept nogil:
    """A key the decoder does not know: validated and skipped (venues add fields), or refused
    in strict mode."""
    if d.strict:
        return scan_fail(sc, E_EXTRA, key)
    return scan_skip_value(sc, 1)


# ---------------------------------------------------------------------------------------------
# Symbols
# ---------------------------------------------------------------------------------------------

cdef inline SymbolEntry* symbol_note(DecState* d, SymbolEntry* e, const char* s,
                                     Py_ssize_t n) noexcept nogil:
    """Remember a looked-up symbol for the message: its first symbol, or its first unknown one
    (reports name it), and the first known instrument.  Returns e."""
    cdef Py_ssize_t m
    if (d.info.symbol_len == 0 and not (d.info.flags & INFO_HAS_INSTRUMENT)) or (
            e == NULL and not (d.info.flags & INFO_UNKNOWN_SYMBOL)):
        m = n if n <= SYMBOL_MAX else SYMBOL_MAX
        if m > 0 and s != NULL:
            memcpy(d.info.symbol, s, <size_t>m)
        else:
            m = 0
        d.info.symbol[m] = 0
        d.info.symbol_len = <int>m
    if e == NULL:
        d.info.flags |= INFO_UNKNOWN_SYMBOL
    elif not (d.info.flags & INFO_HAS_INSTRUMENT):
        d.info.instrument_id = e.instrument_id
        d.info.flags |= INFO_HAS_INSTRUMENT
    return e


cdef inline SymbolEntry* symbol_lookup(DecState* d, const char* s, Py_ssize_t n) noexcept nogil:
    """The symbol's entry (NULL when unknown: not an error, the message is UNKNOWN_SYMBOL),
    remembered for the message (symbol_note)."""
    return symbol_note(d, symbol_find(&d.symbols, s, n), s, n)


cdef inline int scan_symbol(DecState* d, Scan* sc, SymbolEntry** out) noexcept nogil:
    """A symbol in a JSON string (null or a number is E_TYPE); out: entry or NULL."""
    cdef const char* s
    cdef Py_ssize_t n
    if scan_string(sc, &s, &n) < 0:
        return -1
    out[0] = symbol_lookup(d, s, n)
    return 0


cdef inline int field_symbol(DecState* d, Scan* sc, Field* f, SymbolEntry** out) noexcept nogil:
    """A collected symbol field: a string is required (absent: E_MISSING, null: E_TYPE)."""
    if f.type == JSON_ABSENT:
        return fail_missing(sc)
    if f.type != JSON_STRING:
        return scan_fail(sc, E_TYPE, f.s)
    out[0] = symbol_lookup(d, f.s, f.n)
    return 0


# ---------------------------------------------------------------------------------------------
# Levels
# ---------------------------------------------------------------------------------------------

cdef inline LevelFormat level_array(int min_fields, int max_fields, int price_at, int size_at,
                                    int values) noexcept nogil:
    """[.., price, .., size, ..]: other elements are validated and ignored."""
    cdef LevelFormat f
    f.min_fields = min_fields
    f.max_fields = max_fields
    f.price_at = price_at
    f.size_at = size_at
    f.side_at = -1
    f.time_at = -1
    f.flag_at = -1
    f.action_at = -1
    f.values = values
    f.time_kind = LEVEL_TIME_NONE
    f.price_key = NULL
    f.size_key = NULL
    f.price_key_n = 0
    f.size_key_n = 0
    f.side_key = NULL
    f.time_key = NULL
    return f


cdef inline LevelFormat level_object(const char* price_key, const char* size_key,
                                     const char* side_key, const char* time_key, int values,
                                     int time_kind) noexcept nogil:
    """{price_key: .., size_key: .. (, side_key: .., time_key: ..)}: other keys are skipped."""
    cdef LevelFormat f = level_array(0, 0, -1, -1, values)
    f.price_key = price_key
    f.size_key = size_key
    f.price_key_n = <int>strlen(price_key)
    f.size_key_n = <int>strlen(size_key)
    f.side_key = side_key
    f.time_key = time_key
    f.time_kind = time_kind
    return f


cdef inline int side_from_text(const char* s, Py_ssize_t n) noexcept nogil:
    """buy/Buy/BUY/bid/b -> SIDE_BID, sell/Sell/SELL/ask/offer/s -> SIDE_ASK, else -1."""
    if n <= 0 or s == NULL:
        return -1
    if (text_is(s, n, b"buy") or text_is(s, n, b"Buy") or text_is(s, n, b"BUY")
            or text_is(s, n, b"bid") or text_is(s, n, b"b")):
        return SIDE_BID
    if (text_is(s, n, b"sell") or text_is(s, n, b"Sell") or text_is(s, n, b"SELL")
            or text_is(s, n, b"ask") or text_is(s, n, b"offer") or text_is(s, n, b"s")):
        return SIDE_ASK
    return -1


cdef inline int scan_level_value(Scan* sc, int values, int decimals, int64_t* out) noexcept nogil:
    if values == LEVEL_STRINGS:
        return scan_decimal(sc, decimals, out)
    if values == LEVEL_NUMBERS:
        if scan_next_is(sc, b'"'):
            return scan_fail(sc, E_TYPE, sc.p)           # the venue sends numbers here
        return scan_decimal_number(sc, decimals, out)
    return scan_decimal_any(sc, decimals, out)


cdef inline int size_text(DecState* d, Scan* sc, const char* s, Py_ssize_t n, int decimals,
                          int64_t* out) noexcept nogil:
    """A non-negative size s[0:n] at `decimals`: exactly, or -- for a venue that prints its
    sizes from binary floating point ("3307.9982700421942": HTX), d.size_rounding -- rounded
    at the instrument's decimals from the decimal text (never through a float) and counted
    (Decoder.counts["rounded"]).  A non-zero size that would round to 0 is refused (E_PRECISION):
    a level would silently become a deletion."""
    cdef int r
    if d.size_rounding == RND_EXACT:
        return decimal_text(sc, s, n, decimals, False, out)
    if s == NULL:
        return scan_fail(sc, E_TYPE, sc.p)
    r = fx_parse(s, n, decimals, RND_EXACT, out)
    if r == FX_PRECISION:
        r = fx_parse(s, n, decimals, d.size_rounding, out)
        if r == FX_OK:
            if out[0] == 0:
                return scan_fail(sc, E_PRECISION, s)
            d.info.n_rounded += 1
    if r == FX_OK and out[0] >= 0:
        return 0
    return scan_fail(sc, E_NUMBER, s)


cdef inline int scan_level_size(DecState* d, Scan* sc, int values, int decimals,
                                int64_t* out) noexcept nogil:
    """A level's size: scan_level_value, or size_text where the venue's sizes are rounded."""
    cdef const char* s
    cdef Py_ssize_t n
    if d.size_rounding == RND_EXACT:
        return scan_level_value(sc, values, decimals, out)
    scan_skip_ws(sc)
    if sc.p < sc.end and sc.p[0] == b'"':
        if values == LEVEL_NUMBERS:
            return scan_fail(sc, E_TYPE, sc.p)           # the venue sends numbers here
        if scan_string(sc, &s, &n) < 0:
            return -1
    elif values == LEVEL_STRINGS:
        return scan_fail(sc, E_TYPE, sc.p)
    elif scan_number(sc, &s, &n) < 0:
        return -1
    return size_text(d, sc, s, n, decimals, out)


cdef inline int scan_level_time(Scan* sc, int kind, int64_t* out) noexcept nogil:
    if kind == LEVEL_TIME_SECONDS:
        return scan_seconds(sc, out)
    if kind == LEVEL_TIME_ISO:
        return scan_iso_time(sc, out)
    return scan_ms(sc, out)


cdef inline int scan_level_side(Scan* sc, int* side) noexcept nogil:
    cdef const char* s
    cdef Py_ssize_t n
    if scan_string(sc, &s, &n) < 0:
        return -1
    side[0] = side_from_text(s, n)
    if side[0] < 0:
        return scan_fail(sc, E_SHAPE, s)
    return 0


cdef inline int read_level_array(DecState* d, Scan* sc, SymbolEntry* sym, const LevelFormat* f,
                                 int* side, int64_t* px, int64_t* sz, int64_t* ts,
                                 int* flags) noexcept nogil:
    cdef int st = 0, r, i = 0
    cdef const char* s
    cdef Py_ssize_t n
    cdef bint delete = False
    if scan_array_open(sc) < 0:
        return -1
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            break
        if r < 0:
            return -1
        if i == f.max_fields:
            return scan_fail(sc, E_EXTRA, sc.p)
        if i == f.price_at:
            r = scan_level_value(sc, f.values, sym.price_decimals, px)
        elif i == f.size_at:
            r = scan_level_size(d, sc, f.values, sym.size_decimals, sz)
        elif i == f.side_at:
            r = scan_level_side(sc, side)
        elif i == f.time_at:
            r = scan_level_time(sc, f.time_kind, ts)
        elif i == f.flag_at:
            r = scan_string(sc, &s, &n)
            if r == 0:
                if not text_is(s, n, b"r"):
                    return scan_fail(sc, E_SHAPE, s)
                flags[0] |= DELTA_REPUBLISH
                d.info.flags |= INFO_REPUBLISH
        elif i == f.action_at:
            r = scan_string(sc, &s, &n)
            if r == 0:
                if text_is(s, n, b"delete"):
                    delete = True
                elif not (text_is(s, n, b"new") or text_is(s, n, b"change")):
                    return scan_fail(sc, E_SHAPE, s)
        else:
            r = scan_skip_value(sc, 2)
        if r < 0:
            return -1
        i += 1
    if i < f.min_fields:
        return scan_fail(sc, E_MISSING, sc.p - 1)
    if delete:
        sz[0] = 0                                         # the level goes, whatever size is sent
    return 0


cdef inline int read_level_object(DecState* d, Scan* sc, SymbolEntry* sym, const LevelFormat* f,
                                  int* side, int64_t* px, int64_t* sz, int64_t* ts) noexcept nogil:
    cdef int st = 0, r
    cdef uint64_t seen = 0, need = 3
    cdef const char* k
    cdef Py_ssize_t kn
    if f.side_key != NULL:
        need |= 4
    if f.time_key != NULL:
        need |= 8
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            break
        if r < 0:
            return -1
        if text_is(k, kn, f.price_key):
            r = scan_seen_once(sc, &seen, 0, k)
            if r == 0:
                r = scan_level_value(sc, f.values, sym.price_decimals, px)
        elif text_is(k, kn, f.size_key):
            r = scan_seen_once(sc, &seen, 1, k)
            if r == 0:
                r = scan_level_size(d, sc, f.values, sym.size_decimals, sz)
        elif f.side_key != NULL and text_is(k, kn, f.side_key):
            r = scan_seen_once(sc, &seen, 2, k)
            if r == 0:
                r = scan_level_side(sc, side)
        elif f.time_key != NULL and text_is(k, kn, f.time_key):
            r = scan_seen_once(sc, &seen, 3, k)
            if r == 0:
                r = scan_level_time(sc, f.time_kind, ts)
        else:
            r = skip_unknown_key(d, sc, k)
        if r < 0:
            return -1
    if seen != need:
        return fail_missing(sc)
    return 0


cdef inline int push_level(DecState* d, Scan* sc, SymbolEntry* sym, int side, px_t px, qty_t sz,
                           ts_t ts, int flags) noexcept nogil:
    cdef BookDelta* r = push_delta(d)
    if r == NULL:
        return scan_fail(sc, E_CAPACITY, sc.p)
    r.exchange_ts = ts
    r.price = px
    r.size = sz
    r.instrument_id = sym.instrument_id
    r.side = <uint8_t>side
    r.flags = <uint8_t>flags
    return 0


cdef inline int read_levels_general(DecState* d, Scan* sc, SymbolEntry* sym, int side,
                                    const LevelFormat* f, ts_t* max_time,
                                    int st) noexcept nogil:
    """The rest of a level array (opened; `st` as scan_array_next left it), any format."""
    cdef int r, level_side, flags
    cdef px_t px
    cdef qty_t sz
    cdef int64_t ts
    while True:
        r = scan_array_next(sc, &st)
        if r == 0:
            return 0
        if r < 0:
            return -1
        level_side = side
        ts = 0
        flags = 0
        if f.price_key != NULL:
            r = read_level_object(d, sc, sym, f, &level_side, &px, &sz, &ts)
        else:
            r = read_level_array(d, sc, sym, f, &level_side, &px, &sz, &ts, &flags)
        if r < 0 or push_level(d, sc, sym, level_side, px, sz, ts, flags) < 0:
            return -1
        if max_time != NULL and ts > max_time[0]:
            max_time[0] = ts


cdef inline const char* read_level_compact(const char* p, const char* end, const LevelFormat* f,
                                           int price_decimals, int size_decimals, int* side,
                                           int64_t* px, int64_t* sz, int64_t* ts,
                                           int* flags) noexcept nogil:
    """One level of an array-of-strings format written compactly (["p","s"], OKX's four
    strings, Kraken's ["p","v","time","r"], Coinbase's ["side","p","s"]: no whitespace, no
    escapes, plain decimals): the position after its ']', or NULL when it is not in that form
    (the general reader then reads it, and reports any error)."""
    cdef int i = 0, r
    cdef const char* after
    cdef const char* s
    if p >= end or p[0] != b'[':
        return NULL
    p += 1
    while True:
        if p >= end or p[0] != b'"':
            return NULL
        p += 1
        if i == f.price_at:
            if not hft_decimal_fast(p, end, price_decimals, px, &after):
                return NULL
            p = after
        elif i == f.size_at:
            if not hft_decimal_fast(p, end, size_decimals, sz, &after):
                return NULL
            p = after
        elif i == f.time_at:
            if f.time_kind != LEVEL_TIME_SECONDS or not hft_seconds_fast(p, end, ts, &after):
                return NULL
            p = after
        else:
            s = p
            while p < end and not HFT_STRING_STOP[<unsigned char>p[0]]:
                p += 1
            if p >= end or p[0] != b'"':
                return NULL
            if i == f.side_at:
                r = side_from_text(s, p - s)
                if r < 0:
                    return NULL
                side[0] = r
            elif i == f.flag_at:
                if p - s != 1 or s[0] != b'r':
                    return NULL
                flags[0] |= DELTA_REPUBLISH
            p += 1
        i += 1
        if p >= end:
            return NULL
        if p[0] == b',':
            if i == f.max_fields:
                return NULL
            p += 1
            continue
        if p[0] == b']' and i >= f.min_fields:
            return p + 1
        return NULL


cdef inline const char* read_level_numbers(const char* p, const char* end, const LevelFormat* f,
                                           int price_decimals, int size_decimals, int64_t* px,
                                           int64_t* sz) noexcept nogil:
    """One level of an array-of-numbers format written compactly (HTX's [p,s], Deribit's
    ["new"|"change"|"delete",p,s]): the position after its ']', or NULL when it is not in that
    form (the general reader then reads it, and reports any error).  Each number is read once,
    its grammar checked as it is read."""
    cdef int i = 0
    cdef const char* after
    cdef bint delete = False
    if p >= end or p[0] != b'[':
        return NULL
    p += 1
    while True:
        if i == f.price_at:
            if not hft_number_fast(p, end, price_decimals, 0, px, &after):
                return NULL
            p = after
        elif i == f.size_at:
            if not hft_number_fast(p, end, size_decimals, 0, sz, &after):
                return NULL
            p = after
        elif i == f.action_at:
            if fast_literal(&p, end, b'"change"', 8) or fast_literal(&p, end, b'"new"', 5):
                pass
            elif fast_literal(&p, end, b'"delete"', 8):
                delete = True
            else:
                return NULL
        else:
            return NULL
        i += 1
        if p >= end:
            return NULL
        if p[0] == b',':
            if i == f.max_fields:
                return NULL
            p += 1
            continue
        if p[0] == b']' and i >= f.min_fields:
            if delete:
                sz[0] = 0                                 # the level goes, whatever size is sent
            return p + 1
        return NULL


cdef inline bint same_text(const char* a, const char* b, Py_ssize_t n) noexcept nogil:
    """a[0:n] == b[0:n] for the short keys of a level object (no library call)."""
    cdef Py_ssize_t i
    for i in range(n):
        if a[i] != b[i]:
            return False
    return True


cdef inline const char* read_level_object_numbers(const char* p, const char* end,
                                                  const LevelFormat* f, int price_decimals,
                                                  int size_decimals, int64_t* px,
                                                  int64_t* sz) noexcept nogil:
    """{"price":p,"qty":s} written compactly with numbers, the two keys in either order and
    nothing else (Kraken Futures, Kraken v2): the position after its '}', or NULL."""
    cdef int i
    cdef bint have_price = False, have_size = False
    cdef const char* after
    cdef const char* k
    cdef Py_ssize_t pn = f.price_key_n, sn = f.size_key_n
    if p >= end or p[0] != b'{':
        return NULL
    p += 1
    for i in range(2):
        if p >= end or p[0] != b'"':
            return NULL
        k = p + 1
        if (not have_price and end - k > pn + 1 and k[pn] == b'"' and k[pn + 1] == b':'
                and same_text(k, f.price_key, pn)):
            if not hft_number_fast(k + pn + 2, end, price_decimals, 0, px, &after):
                return NULL
            have_price = True
        elif (not have_size and end - k > sn + 1 and k[sn] == b'"' and k[sn + 1] == b':'
                and same_text(k, f.size_key, sn)):
            if not hft_number_fast(k + sn + 2, end, size_decimals, 0, sz, &after):
                return NULL
            have_size = True
        else:
            return NULL
        p = after
        if p >= end or (i == 0 and p[0] != b',') or (i == 1 and p[0] != b'}'):
            return NULL
        p += 1
    return p


cdef inline int read_levels(DecState* d, Scan* sc, SymbolEntry* sym, int side,
                            const LevelFormat* f, ts_t* max_time) noexcept nogil:
    """A level array for one instrument and side (the side of each level when f.side_at or
    f.side_key says so) -> one BookDelta each.  Arrays of strings written compactly go through
    a tight loop; anything else -- whitespace, escapes, numbers, objects, errors -- through the
    general reader, from the start of the level the loop could not read."""
    cdef const char* p
    cdef const char* q
    cdef const char* end = sc.end
    cdef const char* level
    cdef int64_t px, sz, ts
    cdef int pd = sym.price_decimals, qd = sym.size_decimals
    cdef int st = 0, level_side, flags, form
    cdef bint after_comma = False
    cdef BookDelta* r
    if scan_array_open(sc) < 0:
        return -1
    if f.price_key != NULL:
        form = FAST_OBJECT_NUMBERS
        if f.values != LEVEL_NUMBERS or f.side_key != NULL or f.time_key != NULL:
            return read_levels_general(d, sc, sym, side, f, max_time, 0)
    elif f.values == LEVEL_NUMBERS:
        form = FAST_NUMBERS
        if f.side_at >= 0 or f.time_at >= 0 or f.flag_at >= 0:
            return read_levels_general(d, sc, sym, side, f, max_time, 0)
    elif f.values == LEVEL_STRINGS:
        form = FAST_STRINGS
    else:
        return read_levels_general(d, sc, sym, side, f, max_time, 0)
    p = sc.p
    if p < end and p[0] == b']':
        sc.p = p + 1
        return 0
    while True:
        level = p
        level_side = side
        ts = 0
        flags = 0
        if form == FAST_STRINGS:
            q = read_level_compact(p, end, f, pd, qd, &level_side, &px, &sz, &ts, &flags)
        elif form == FAST_NUMBERS:
            q = read_level_numbers(p, end, f, pd, qd, &px, &sz)
        else:
            q = read_level_object_numbers(p, end, f, pd, qd, &px, &sz)
        if q == NULL:
            break
        r = push_delta(d)
        if r == NULL:
            return scan_fail(sc, E_CAPACITY, p)
        r.exchange_ts = ts
        r.price = px
        r.size = sz
        r.instrument_id = sym.instrument_id
        r.side = <uint8_t>level_side
        r.flags = <uint8_t>flags
        if flags:
            d.info.flags |= INFO_REPUBLISH
        if max_time != NULL and ts > max_time[0]:
            max_time[0] = ts
        st = 1
        p = q
        if p < end and p[0] == b',':
            p += 1
            after_comma = True
            continue
        if p < end and p[0] == b']':
            sc.p = p + 1
            return 0
        level = p
        after_comma = False
        break
    # not the compact form: read the rest the careful way, from the comma that preceded the
    # level the loop could not read when there was one
    sc.p = level - 1 if after_comma else level
    return read_levels_general(d, sc, sym, side, f, max_time, st)


cdef inline int levels_now_or_later(DecState* d, Scan* sc, SymbolEntry* sym, int side,
                                    const LevelFormat* f, DeferredLevels* later,
                                    ts_t* max_time) noexcept nogil:
    """Read a level array now when the symbol is known, else remember where it is (it is
    validated as JSON meanwhile) for levels_deferred."""
    if sym != NULL:
        return read_levels(d, sc, sym, side, f, max_time)
    if later.count == DEFERRED_MAX:
        return scan_fail(sc, E_EXTRA, sc.p)
    scan_skip_ws(sc)
    later.at[later.count] = sc.p
    later.side[later.count] = <uint8_t>side
    later.count += 1
    return scan_skip_value(sc, 1)


cdef inline int levels_deferred(DecState* d, Scan* sc, SymbolEntry* sym, const LevelFormat* f,
                                DeferredLevels* later, ts_t* max_time) noexcept nogil:
    """Read the level arrays levels_now_or_later remembered, in message order."""
    cdef Scan sub
    cdef int i
    for i in range(later.count):
        scan_sub(sc, &sub, later.at[i])
        if read_levels(d, &sub, sym, later.side[i], f, max_time) < 0:
            return scan_lift_error(sc, &sub)
    later.count = 0
    return 0


# ---------------------------------------------------------------------------------------------
# Book spans: one per instrument of a book message
# ---------------------------------------------------------------------------------------------

cdef inline Py_ssize_t span_open(DecState* d, Scan* sc, SymbolEntry* sym) noexcept nogil:
    """Start an instrument's part of a book message: the deltas pushed until span_close.
    Returns the span's index (spans may move when the buffer grows: keep the index)."""
    cdef BookSpan* s = push_span(d)
    if s == NULL:
        scan_fail(sc, E_CAPACITY, sc.p)
        return -1
    s.instrument_id = sym.instrument_id
    s.first_delta = d.info.n_deltas
    return d.info.n_spans - 1


cdef inline BookSpan* span_close(DecState* d, Scan* sc, Py_ssize_t index, ts_t exchange_ts,
                                 int64_t sequence, bint snapshot) noexcept nogil:
    """Finish a span: every record gets the sequence (where the venue gave it none of its own:
    KuCoin's per-change sequence), exchange_ts where its level had none and SNAPSHOT in a snapshot; the first record of a snapshot CLEAR (a snapshot without levels is
    one clearing record of side SIDE_NONE and size 0), the last one LAST.  Returns the span for
    the venue to add sequence numbers and checksum, NULL on error."""
    cdef BookSpan* s = &d.spans[index]
    cdef Py_ssize_t first = <Py_ssize_t>s.first_delta, i
    cdef BookDelta* r
    if snapshot and d.info.n_deltas == first:
        r = push_delta(d)
        if r == NULL:
            scan_fail(sc, E_CAPACITY, sc.p)
            return NULL
        r.price = 0
        r.size = 0
        r.instrument_id = s.instrument_id
        r.side = SIDE_NONE
    for i in range(first, d.info.n_deltas):
        r = &d.deltas[i]
        if r.exchange_ts == 0:
            r.exchange_ts = exchange_ts
        if r.sequence == 0:
            r.sequence = sequence
        if snapshot:
            r.flags |= DELTA_SNAPSHOT
    if d.info.n_deltas > first:
        if snapshot:
            d.deltas[first].flags |= DELTA_CLEAR
        d.deltas[d.info.n_deltas - 1].flags |= DELTA_LAST
    s.n_deltas = d.info.n_deltas - first
    s.exchange_ts = exchange_ts
    s.first_seq = sequence
    s.last_seq = sequence
    if snapshot:
        s.flags |= INFO_SNAPSHOT
    return s


# ---------------------------------------------------------------------------------------------
# Object fields by name
# ---------------------------------------------------------------------------------------------

cdef inline int collect_fields(DecState* d, Scan* sc, const char** names, int count, Field* v,
                               uint64_t* found) noexcept nogil:
    """Read one object: v[i] gets the value of key names[i] (see jsonscan.Field; absent keys
    keep JSON_ABSENT) and `found` bit i; a repeated key is E_EXTRA; other keys are validated
    and skipped (E_EXTRA in strict mode)."""
    cdef int st = 0, r, i, idx
    cdef const char* k
    cdef Py_ssize_t kn
    found[0] = 0
    for i in range(count):
        v[i].s = NULL
        v[i].n = 0
        v[i].type = JSON_ABSENT
    if scan_object_open(sc) < 0:
        return -1
    while True:
        r = scan_object_key(sc, &st, &k, &kn)
        if r == 0:
            return 0
        if r < 0:
            return -1
        idx = -1
        for i in range(count):
            if text_is(k, kn, names[i]):
                idx = i
                break
        if idx < 0:
            if skip_unknown_key(d, sc, k) < 0:
                return -1
            continue
        if scan_seen_once(sc, found, idx, k) < 0 or scan_value(sc, 2, &v[idx]) < 0:
            return -1


cdef inline int fields_required(Scan* sc, uint64_t found, uint64_t mask) noexcept nogil:
    if (found & mask) != mask:
        return fail_missing(sc)
    return 0


cdef inline bint field_is(const Field* f, const char* word) noexcept nogil:
    """A string field equal to word."""
    return f.type == JSON_STRING and text_is(f.s, f.n, word)


cdef inline bint field_starts(const Field* f, const char* prefix) noexcept nogil:
    cdef Py_ssize_t i = 0
    if f.type != JSON_STRING:
        return False
    while prefix[i] != 0:
        if i >= f.n or f.s[i] != prefix[i]:
            return False
        i += 1
    return True


cdef inline bint field_scalar(const Field* f) noexcept nogil:
    return f.type == JSON_STRING or f.type == JSON_NUMBER


cdef inline int field_decimal(Scan* sc, const Field* f, int decimals, int64_t* out) noexcept nogil:
    """A required non-negative decimal (a string's text or a number's)."""
    if f.type == JSON_ABSENT:
        return fail_missing(sc)
    if not field_scalar(f):
        return scan_fail(sc, E_TYPE, f.s)
    if f.n == 0:
        return scan_fail(sc, E_NUMBER, f.s)
    return decimal_text(sc, f.s, f.n, decimals, False, out)


cdef inline int field_size(DecState* d, Scan* sc, const Field* f, int decimals,
                           int64_t* out) noexcept nogil:
    """A required size: field_decimal, rounded as size_text says."""
    if f.type == JSON_ABSENT:
        return fail_missing(sc)
    if not field_scalar(f):
        return scan_fail(sc, E_TYPE, f.s)
    if f.n == 0:
        return scan_fail(sc, E_NUMBER, f.s)
    return size_text(d, sc, f.s, f.n, decimals, out)


cdef inline int field_size_or_zero(DecState* d, Scan* sc, const Field* f, int decimals,
                                   int64_t* out) noexcept nogil:
    """An optional size (absent, null or "": 0), rounded as size_text says."""
    if f.type == JSON_ABSENT or f.type == JSON_NULL or f.n == 0:
        out[0] = 0
        return 0
    if not field_scalar(f):
        return scan_fail(sc, E_TYPE, f.s)
    return size_text(d, sc, f.s, f.n, decimals, out)


cdef inline int field_decimal_or_zero(Scan* sc, const Field* f, int decimals,
                                      bint allow_negative, int64_t* out) noexcept nogil:
    """An optional decimal: absent, null or "" read as 0."""
    if f.type == JSON_ABSENT or f.type == JSON_NULL or f.n == 0:
        out[0] = 0
        return 0
    if not field_scalar(f):
        return scan_fail(sc, E_TYPE, f.s)
    return decimal_text(sc, f.s, f.n, decimals, allow_negative, out)


cdef inline int field_int(Scan* sc, const Field* f, int64_t* out) noexcept nogil:
    """A required integer, as a JSON number or a string."""
    if f.type == JSON_ABSENT:
        return fail_missing(sc)
    if not field_scalar(f):
        return scan_fail(sc, E_TYPE, f.s)
    if int_text(f.s, f.n, out):
        return scan_fail(sc, E_NUMBER, f.s)
    return 0


cdef inline int field_ms(Scan* sc, const Field* f, int64_t* out) noexcept nogil:
    """A required time in milliseconds -> ns."""
    cdef int64_t ms
    if field_int(sc, f, &ms) < 0:
        return -1
    return ms_to_ns(sc, ms, f.s, out)


cdef inline int field_ns(Scan* sc, const Field* f, int64_t* out) noexcept nogil:
    """A required time in nanoseconds (a JSON integer or an integer string: KuCoin)."""
    if field_int(sc, f, out) < 0:
        return -1
    if out[0] < 0:
        return scan_fail(sc, E_TIME, f.s)
    return 0


cdef inline int field_iso_time(Scan* sc, const Field* f, int64_t* out) noexcept nogil:
    """A required RFC 3339 time -> ns."""
    if f.type == JSON_ABSENT:
        return fail_missing(sc)
    if f.type != JSON_STRING:
        return scan_fail(sc, E_TYPE, f.s)
    if iso_time_text(f.s, f.n, out):
        return scan_fail(sc, E_TIME, f.s)
    return 0


cdef inline int field_bool(Scan* sc, const Field* f, bint* out) noexcept nogil:
    """An optional boolean (absent or null: false)."""
    if f.type == JSON_TRUE:
        out[0] = True
    elif f.type == JSON_FALSE or f.type == JSON_ABSENT or f.type == JSON_NULL:
        out[0] = False
    else:
        return scan_fail(sc, E_TYPE, f.s)
    return 0


cdef inline int field_trade_id(Scan* sc, const Field* f, int64_t* out,
                               uint8_t* flags) noexcept nogil:
    """A required trade id: numeric -> int64; other text -> -1 with TRADE_ID_TEXT."""
    if f.type == JSON_ABSENT:
        return fail_missing(sc)
    if not field_scalar(f):
        return scan_fail(sc, E_TYPE, f.s)
    if trade_id_text(f.s, f.n, out):
        flags[0] |= TRADE_ID_TEXT
    return 0


cdef inline int field_text(Scan* sc, const Field* f, char* dst, Py_ssize_t cap) noexcept nogil:
    """An optional text field (absent or null: ""; a number keeps its text)."""
    if f.type == JSON_ABSENT or f.type == JSON_NULL:
        dst[0] = 0
        return 0
    if not field_scalar(f):
        return scan_fail(sc, E_TYPE, f.s)
    return copy_text(sc, dst, cap, f.s, f.n)


cdef inline int field_id(Scan* sc, const Field* f, char* text, Py_ssize_t cap,
                         int64_t* number) noexcept nogil:
    """A required id (string or JSON integer): its text, and its int64 value when it is a
    non-negative integer (else -1)."""
    if f.type == JSON_ABSENT:
        return fail_missing(sc)
    if not field_scalar(f):
        return scan_fail(sc, E_TYPE, f.s)
    return id_text(sc, f.s, f.n, text, cap, number)


cdef inline int field_side(Scan* sc, const Field* f, uint8_t* out) noexcept nogil:
    """A required side word (buy / sell / bid / ask / offer ...)."""
    cdef int r
    if f.type == JSON_ABSENT:
        return fail_missing(sc)
    if f.type != JSON_STRING:
        return scan_fail(sc, E_TYPE, f.s)
    r = side_from_text(f.s, f.n)
    if r < 0:
        return scan_fail(sc, E_SHAPE, f.s)
    out[0] = <uint8_t>r
    return 0


cdef inline int negate_checked(Scan* sc, int64_t v, const char* at, int64_t* out) noexcept nogil:
    if v == INT64_MIN:
        return scan_fail(sc, E_NUMBER, at)
    out[0] = -v
    return 0


# ---------------------------------------------------------------------------------------------
# Venue words for private order updates
# ---------------------------------------------------------------------------------------------

cdef inline uint8_t order_status_from_field(const Field* v) noexcept nogil:
    """Venue order-state text -> ORDER_STATUS_*; words not listed -> ORDER_STATUS_UNKNOWN."""
    if v.type != JSON_STRING:
        return ORDER_STATUS_UNKNOWN
    if (field_is(v, b"NEW") or field_is(v, b"New") or field_is(v, b"live")
            or field_is(v, b"OPEN") or field_is(v, b"Untriggered") or field_is(v, b"Triggered")
            or field_is(v, b"open") or field_is(v, b"untriggered") or field_is(v, b"triggered")
            or field_is(v, b"submitted")):
        return ORDER_STATUS_ACCEPTED
    if field_is(v, b"PENDING_NEW") or field_is(v, b"PENDING") or field_is(v, b"pending"):
        return ORDER_STATUS_PENDING_NEW
    if (field_is(v, b"PARTIALLY_FILLED") or field_is(v, b"PartiallyFilled")
            or field_is(v, b"partially_filled")):
        return ORDER_STATUS_PARTIALLY_FILLED
    if field_is(v, b"FILLED") or field_is(v, b"Filled") or field_is(v, b"filled"):
        return ORDER_STATUS_FILLED
    if (field_is(v, b"PENDING_CANCEL") or field_is(v, b"CANCEL_QUEUED")
            or field_is(v, b"pending_cancel")):
        return ORDER_STATUS_PENDING_CANCEL
    if (field_is(v, b"CANCELED") or field_is(v, b"Cancelled") or field_is(v, b"canceled")
            or field_is(v, b"CANCELLED") or field_is(v, b"PartiallyFilledCanceled")
            or field_is(v, b"Deactivated") or field_is(v, b"mmp_canceled")
            or field_is(v, b"cancelled")):
        return ORDER_STATUS_CANCELED
    if (field_is(v, b"REJECTED") or field_is(v, b"Rejected") or field_is(v, b"FAILED")
            or field_is(v, b"rejected")):
        return ORDER_STATUS_REJECTED
    if field_is(v, b"EXPIRED") or field_is(v, b"EXPIRED_IN_MATCH") or field_is(v, b"expired"):
        return ORDER_STATUS_EXPIRED
    return ORDER_STATUS_UNKNOWN


cdef inline uint8_t order_type_from_field(const Field* v) noexcept nogil:
    """Venue order-type text -> ORDER_TYPE_*; words not listed -> ORDER_TYPE_UNKNOWN."""
    if v.type != JSON_STRING:
        return ORDER_TYPE_UNKNOWN
    if (field_is(v, b"LIMIT") or field_is(v, b"Limit") or field_is(v, b"limit")
            or field_is(v, b"fok") or field_is(v, b"ioc") or field_is(v, b"optimal_limit_ioc")):
        return ORDER_TYPE_LIMIT
    if field_is(v, b"MARKET") or field_is(v, b"Market") or field_is(v, b"market"):
        return ORDER_TYPE_MARKET
    if (field_is(v, b"STOP_LOSS") or field_is(v, b"TAKE_PROFIT") or field_is(v, b"STOP")
            or field_is(v, b"stop_market") or field_is(v, b"take_market")):
        return ORDER_TYPE_STOP_MARKET
    if (field_is(v, b"STOP_LOSS_LIMIT") or field_is(v, b"TAKE_PROFIT_LIMIT")
            or field_is(v, b"STOP_LIMIT") or field_is(v, b"stop_limit")
            or field_is(v, b"take_limit")):
        return ORDER_TYPE_STOP_LIMIT
    if field_is(v, b"LIMIT_MAKER") or field_is(v, b"post_only"):
        return ORDER_TYPE_LIMIT_MAKER
    return ORDER_TYPE_UNKNOWN


cdef inline int id_number_text(int64_t v, char* dst, Py_ssize_t cap) noexcept nogil:
    """A non-negative integer's decimal text into dst (NUL-terminated); -1 if it cannot."""
    cdef char tmp[24]
    cdef int n = 0, i
    if v < 0:
        return -1
    while True:
        tmp[n] = <char>(48 + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    if n >= cap:
        return -1
    for i in range(n):
        dst[i] = tmp[n - 1 - i]
    dst[n] = 0
    return 0


cdef inline void message_restart(DecState* d) noexcept nogil:
    """Forget what a template (fast path) wrote before it found the message is not in its
    form: the general path starts again from a clean header."""
    cdef ts_t local_ts = d.info.local_ts
    memset(&d.info, 0, sizeof(d.info))
    d.info.local_ts = local_ts
    d.info.prev_seq = -1
    d.info.what = b""
