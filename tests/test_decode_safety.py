"""Decoder defects of issue 8, each held by a test: times past 2262 and impossible dates,
11-digit epoch seconds, several instruments in one message (per-instrument spans), a null
symbol, control messages with repeated keys or a numeric event, a negated fee at the int64
end, the GIL-free loop racing with mutators, decode() returning MessageKind, two instruments
with one symbol, and one definition of every constant."""

from __future__ import annotations

import pickle
import re
import threading
from pathlib import Path

import orjson
import pytest

import hftcore
from hftcore import DecodeErrorCode, MessageKind
from hftcore.decoders import decoder_for

EXT = Path(hftcore.__file__).parent / "_ext"
INT64_MAX = 2**63 - 1


def coinbase() -> hftcore.Decoder:
    return decoder_for("coinbase", [hftcore.Instrument("coinbase", "BTC-USD", 2, 8,
                                                       instrument_id=1),
                                    hftcore.Instrument("coinbase", "ETH-USD", 2, 8,
                                                       instrument_id=2)])


def match(time: str) -> bytes:
    return orjson.dumps({"type": "match", "trade_id": 10, "sequence": 50, "side": "buy",
                         "size": "0.5", "price": "100.25", "product_id": "BTC-USD",
                         "time": time, "maker_order_id": "a", "taker_order_id": "b"})


def decode_error(dec: hftcore.Decoder, data: bytes) -> hftcore.DecodeError:
    with pytest.raises(hftcore.DecodeError) as exc:
        dec.decode(data)
    assert dec.n_deltas == dec.n_trades == dec.n_bbos == dec.n_orders == dec.n_spans == 0
    return exc.value


# -- times -----------------------------------------------------------------------------------

@pytest.mark.parametrize("time", [
    "2262-04-12T00:00:00Z",                 # past the int64 ns range: wrapped negative before
    "2262-04-11T23:47:16.854775808Z",       # one ns past the end
    "9999-12-31T23:59:59.999999999Z",
    "2021-02-31T00:00:00Z",                 # impossible dates were read as March
    "2021-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",                 # not a leap year
    "2021-04-31T12:00:00Z",
    "2021-00-10T12:00:00Z",
    "1969-12-31T23:59:59Z",                 # before the epoch
    "2021-04-17T24:00:00Z",
    "2021-04-17T16:43:37.0000000001Z",      # below one ns: not rounded
    "2021-04-17T16:43:37+01:00",            # only UTC
])
def test_impossible_or_out_of_range_iso_times_are_decode_errors(time: str) -> None:
    err = decode_error(coinbase(), match(time))
    assert err.code == DecodeErrorCode.TIME and err.kind == "match"


@pytest.mark.parametrize(("time", "ns"), [
    ("2262-04-11T23:47:16.854775807Z", INT64_MAX),
    ("2024-02-29T00:00:00Z", 1709164800 * 10**9),
    ("2000-02-29T12:00:00.5+00:00", 951825600 * 10**9 + 500_000_000),
    ("1970-01-01T00:00:00Z", 0),
])
def test_iso_times_at_the_edges(time: str, ns: int) -> None:
    dec = coinbase()
    assert dec.decode(match(time)) == MessageKind.TRADE
    assert int(dec.trades[0]["exchange_ts"]) == ns


def kraken_v1_trade(time: str) -> bytes:
    return (b'[0,[["5541.2","0.15","' + time.encode() + b'","s","l",""]],"trade","XBT/USD"]')


@pytest.mark.parametrize("time", ["99999999999.000000", "10000000000", "9223372036.854775808",
                                  "18446744073.709551616", "1618678133.3659131234", "-1.5"])
def test_epoch_seconds_past_int64_are_decode_errors(time: str) -> None:
    dec = decoder_for("kraken", [hftcore.Instrument("kraken", "XBT/USD", 1, 8)])
    assert decode_error(dec, kraken_v1_trade(time)).code == DecodeErrorCode.TIME


def test_epoch_seconds_up_to_the_int64_end() -> None:
    dec = decoder_for("kraken", [hftcore.Instrument("kraken", "XBT/USD", 1, 8)])
    assert dec.decode(kraken_v1_trade("9223372036.854775807")) == MessageKind.TRADE
    assert int(dec.trades[0]["exchange_ts"]) == INT64_MAX
    assert dec.decode(kraken_v1_trade("1618678133.365913")) == MessageKind.TRADE
    assert int(dec.trades[0]["exchange_ts"]) == 1618678133_365913000


def test_level_times_past_int64_are_decode_errors() -> None:
    dec = decoder_for("kraken", [hftcore.Instrument("kraken", "XBT/USD", 1, 8)])
    book = b'[1,{"a":[["5541.3","2.5","99999999999.123"]],"c":"1"},"book-10","XBT/USD"]'
    assert decode_error(dec, book).code == DecodeErrorCode.TIME


# -- several instruments in one message ----------------------------------------------------------

KRAKEN_V2_TWO = orjson.dumps({"channel": "book", "type": "snapshot", "data": [
    {"symbol": "BTC/USD", "bids": [{"price": 100.1, "qty": 1.5}],
     "asks": [{"price": 100.2, "qty": 2}], "checksum": 111,
     "timestamp": "2023-10-06T17:35:55.440295Z"},
    {"symbol": "ETH/USD", "bids": [{"price": 10.01, "qty": 3}, {"price": 10.0, "qty": 4}],
     "asks": [], "checksum": 222, "timestamp": "2023-10-06T17:35:56Z"},
]})


def kraken_v2() -> hftcore.Decoder:
    return decoder_for("kraken", [hftcore.Instrument("kraken", "BTC/USD", 1, 8, instrument_id=7),
                                  hftcore.Instrument("kraken", "ETH/USD", 2, 8, instrument_id=9)])


def test_one_message_several_instruments_gives_a_span_per_instrument() -> None:
    dec = kraken_v2()
    assert dec.decode(KRAKEN_V2_TWO) == MessageKind.BOOK_SNAPSHOT
    spans, deltas = dec.spans, dec.deltas
    assert dec.n_spans == len(spans) == 2
    got = [(int(s["instrument_id"]), int(s["first_delta"]), int(s["n_deltas"]),
            int(s["checksum"]), int(s["exchange_ts"])) for s in spans]
    assert got == [(7, 0, 2, 111, 1696613755440295000), (9, 2, 2, 222, 1696613756000000000)]
    assert all(s["flags"] & hftcore.SpanFlag.HAS_CHECKSUM for s in spans)
    assert all(s["flags"] & hftcore.SpanFlag.SNAPSHOT for s in spans)
    for s in spans:
        part = deltas[int(s["first_delta"]):int(s["first_delta"]) + int(s["n_deltas"])]
        assert (part["instrument_id"] == s["instrument_id"]).all()
        # each instrument's records start with CLEAR and end with LAST
        assert part[0]["flags"] & hftcore.DeltaFlag.CLEAR
        assert part[-1]["flags"] & hftcore.DeltaFlag.LAST
        assert not (part[:-1]["flags"] & hftcore.DeltaFlag.LAST).any()
    assert [int(p) for p in deltas["price"]] == [1001, 1002, 1001, 1000]
    # the header keeps the first instrument's values
    assert dec.instrument_id == 7 and dec.checksum == 111 and dec.symbol == "BTC/USD"
    del spans, deltas


def test_coinbase_advanced_trade_events_give_a_span_per_product() -> None:
    msg = orjson.dumps({"channel": "l2_data", "timestamp": "2026-04-07T14:30:01Z",
                        "sequence_num": 5, "events": [
        {"type": "update", "product_id": "BTC-USD", "updates": [
            {"side": "bid", "event_time": "2026-04-07T14:30:01Z", "price_level": "68900.00",
             "new_quantity": "2"}]},
        {"type": "snapshot", "product_id": "ETH-USD", "updates": []}]})
    dec = coinbase()
    assert dec.decode(msg) == MessageKind.BOOK_SNAPSHOT
    spans = dec.spans
    assert [(int(s["instrument_id"]), int(s["n_deltas"]), int(s["last_seq"])) for s in spans] \
        == [(1, 1, 5), (2, 1, 5)]
    assert not spans[0]["flags"] & hftcore.SpanFlag.SNAPSHOT
    assert spans[1]["flags"] & hftcore.SpanFlag.SNAPSHOT
    d = dec.deltas
    assert d[1]["side"] == 2                              # an empty snapshot only clears
    assert d[1]["flags"] & hftcore.DeltaFlag.CLEAR and d[1]["instrument_id"] == 2
    del spans, d


def test_unknown_symbol_reported_is_the_unknown_one() -> None:
    dec = kraken_v2()
    msg = KRAKEN_V2_TWO.replace(b"BTC/USD", b"SOL/USD")      # unknown first, known second
    assert dec.decode(msg) == MessageKind.UNKNOWN_SYMBOL
    assert dec.symbol == "SOL/USD" and dec.n_deltas == 0 and dec.n_spans == 0
    msg = KRAKEN_V2_TWO.replace(b"ETH/USD", b"SOL/USD")      # known first, unknown second
    assert dec.decode(msg) == MessageKind.UNKNOWN_SYMBOL
    assert dec.symbol == "SOL/USD"


# -- null symbols, control messages, negation -------------------------------------------------

def test_bybit_null_symbol_is_a_type_error_not_a_null_pointer() -> None:
    dec = decoder_for("bybit", [hftcore.Instrument("bybit", "BTCUSDT", 2, 3)])
    trade = orjson.dumps({"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1,
                          "data": [{"T": 1, "s": None, "S": "Buy", "v": "0.010",
                                    "p": "27451.00", "i": "x"}]})
    assert decode_error(dec, trade).code == DecodeErrorCode.TYPE
    order = orjson.loads((Path(__file__).parent / "data/examples/bybit/ws_account_order.json")
                         .read_bytes())
    order["data"][0]["symbol"] = None
    assert decode_error(dec, orjson.dumps(order)).code == DecodeErrorCode.TYPE
    order["data"][0]["symbol"] = 5
    assert decode_error(dec, orjson.dumps(order)).code == DecodeErrorCode.TYPE


@pytest.mark.parametrize("msg", [
    b'{"event":"subscribe","event":"error","code":"60012","msg":"x"}',
    b'{"event":"error","code":"1","code":"2","msg":"x","connId":"a"}',
    b'{"event":1,"arg":{"channel":"books","instId":"BTC-USDT"}}',
    b'{"event":null}',
    b'{"event":["subscribe"]}',
])
def test_okx_control_messages_refuse_repeated_keys_and_a_numeric_event(msg: bytes) -> None:
    dec = decoder_for("okx", [hftcore.Instrument("okx", "BTC-USDT", 1, 8)])
    assert decode_error(dec, msg).code in (DecodeErrorCode.EXTRA, DecodeErrorCode.TYPE)


def test_okx_control_messages_still_decode() -> None:
    dec = decoder_for("okx", [])
    assert dec.decode(b'{"event":"subscribe","arg":{"channel":"books"},"connId":"a"}') \
        == MessageKind.SUBSCRIBED
    assert dec.decode(b'{"event":"error","code":"60012","msg":"bad"}') == MessageKind.VENUE_ERROR
    assert dec.decode(b"pong") == MessageKind.HEARTBEAT


@pytest.mark.parametrize(("venue", "msg"), [
    ("kraken", b'{"event":"heartbeat","event":"subscriptionStatus"}'),
    ("bybit", b'{"op":"subscribe","success":true,"success":false}'),
    ("binance", b'{"result":null,"id":1,"id":2}'),
])
def test_control_messages_of_every_venue_refuse_repeated_keys(venue: str, msg: bytes) -> None:
    assert decode_error(decoder_for(venue, []), msg).code == DecodeErrorCode.EXTRA


def test_okx_fee_at_the_int64_end_is_refused_not_negated_into_overflow() -> None:
    ex = orjson.loads((Path(__file__).parent / "data/examples/okx/ws_orders.json").read_bytes())
    dec = decoder_for("okx", [hftcore.Instrument("okx", "BTC-USDT-SWAP", 1, 2)],
                      fee_decimals=0)
    ex["data"][0]["fee"] = "-9223372036854775808"
    assert decode_error(dec, orjson.dumps(ex)).code == DecodeErrorCode.NUMBER
    ex["data"][0]["fee"] = "-9223372036854775807"
    assert dec.decode(orjson.dumps(ex)) == MessageKind.ORDER
    assert int(dec.orders[0]["fee"]) == INT64_MAX


def test_binance_negative_order_id_is_refused() -> None:
    ex = (Path(__file__).parent / "data/examples/binance/execution_report_trade.json").read_bytes()
    body = orjson.loads(ex)
    body["i"] = -5
    dec = decoder_for("binance", [hftcore.Instrument("binance", body["s"], 8, 8)])
    assert decode_error(dec, orjson.dumps(body)).code == DecodeErrorCode.NUMBER


# -- the GIL-free loop and mutators ----------------------------------------------------------

DEPTH = (b'{"e":"depthUpdate","E":1633998512068,"s":"BTCUSDT","U":1,"u":2,"b":['
         + b",".join(b'["%d.10","1.5"]' % (27000 - i) for i in range(20)) + b'],"a":['
         + b",".join(b'["%d.20","2.5"]' % (27001 + i) for i in range(20)) + b"]}")


def test_decode_loop_refuses_mutation_from_another_thread() -> None:
    dec = decoder_for("binance", [hftcore.Instrument("binance", "BTCUSDT", 2, 3,
                                                     instrument_id=1)])
    assert dec.decode(DEPTH) == MessageKind.BOOK_UPDATE
    kept = dec.deltas.copy()
    done = threading.Event()

    def loop() -> None:
        try:
            dec.decode_loop(DEPTH, 300_000)
        finally:
            done.set()

    t = threading.Thread(target=loop)
    t.start()
    attempts = {"reserve": lambda: dec.reserve(1 << 20),
                "add_symbol": lambda: dec.add_symbol("ETHUSDT", 2, 2, 3),
                "add_instrument": lambda: dec.add_instrument(
                    hftcore.Instrument("binance", "BNBUSDT", 2, 3, instrument_id=3)),
                "decode": lambda: dec.decode(DEPTH),
                "deltas": lambda: dec.deltas}
    refused: set[str] = set()
    saw_busy = False
    while not done.is_set():
        if not dec.busy:
            continue
        saw_busy = True
        for name, fn in attempts.items():
            try:
                fn()
            except RuntimeError as exc:
                assert "decode_loop" in str(exc)
                refused.add(name)
    t.join()
    if not saw_busy:
        pytest.skip("the loop finished before this thread ran")
    assert refused, "no mutator was refused while the loop ran"
    # afterwards everything works and the decoder is intact
    dec.reserve(1024)
    dec.add_symbol("ETHUSDT", 2, 2, 3)
    assert dec.decode(DEPTH) == MessageKind.BOOK_UPDATE
    assert (dec.deltas == kept).all() and not dec.busy


def test_decode_loop_arguments() -> None:
    dec = decoder_for("binance", [hftcore.Instrument("binance", "BTCUSDT", 2, 3)])
    with pytest.raises(ValueError):
        dec.decode_loop(DEPTH, 0)
    with pytest.raises(ValueError):
        dec.decode_loop(b"", 5)
    assert dec.decode_loop(DEPTH, 3) >= 0 and dec.n_deltas == 40


# -- the Python surface ------------------------------------------------------------------------

def test_decode_returns_message_kind_members() -> None:
    dec = decoder_for("binance", [hftcore.Instrument("binance", "BTCUSDT", 2, 3)])
    kind = dec.decode(DEPTH)
    assert type(kind) is MessageKind and kind is MessageKind.BOOK_UPDATE
    assert repr(kind) == "<MessageKind.BOOK_UPDATE: 2>" and kind.is_data
    assert type(dec.kind) is MessageKind
    assert dec.decode(b'{"result":null,"id":1}') is MessageKind.SUBSCRIBED
    snap = b'{"lastUpdateId":5,"bids":[],"asks":[]}'
    assert type(dec.decode_snapshot(snap, "BTCUSDT")) is MessageKind


def test_two_instruments_with_one_symbol_raise() -> None:
    a = hftcore.Instrument("binance", "BTCUSDT", 2, 3, instrument_id=1)
    b = hftcore.Instrument("binance", "BTCUSDT", 2, 3, instrument_id=2)
    with pytest.raises(ValueError, match="already mapped"):
        decoder_for("binance", [a, b])
    dec = decoder_for("binance", [a])
    dec.add_instrument(a)                                 # the same mapping again: nothing
    with pytest.raises(ValueError, match="already mapped"):
        dec.add_symbol("BTCUSDT", 1, 2, 4)                # other decimals
    assert dec.symbols == {"BTCUSDT": (1, 2, 3)}


@pytest.mark.parametrize(("args", "error"), [
    (("X", 1.0, 2, 3), TypeError), (("X", 1, 2.0, 3), TypeError), (("X", 1, 2, True), TypeError),
    (("X", "1", 2, 3), TypeError), ((5, 1, 2, 3), TypeError), (("X", -1, 2, 3), ValueError),
    (("X", 2**32, 2, 3), ValueError), (("X", 1, 19, 3), ValueError), (("", 1, 2, 3), ValueError),
])
def test_add_symbol_refuses_wrong_types_and_ranges(args: tuple[object, ...],
                                                   error: type[Exception]) -> None:
    dec = decoder_for("binance", [])
    with pytest.raises(error):
        dec.add_symbol(*args)  # type: ignore[arg-type]
    assert dec.symbols == {}


def test_decode_error_lives_in_ext_and_round_trips() -> None:
    from hftcore._ext import records
    from hftcore._ext.decode import DecodeError

    assert hftcore.DecodeError is hftcore.errors.DecodeError is DecodeError is records.DecodeError
    assert issubclass(hftcore.DecodeError, ValueError)
    dec = decoder_for("binance", [hftcore.Instrument("binance", "BTCUSDT", 2, 3)])
    err = decode_error(dec, DEPTH[:-3])
    back = pickle.loads(pickle.dumps(err))
    assert (back.venue, back.kind, back.offset, back.code, str(back)) == (
        err.venue, err.kind, err.offset, err.code, str(err))


def test_ext_imports_nothing_above_it() -> None:
    above = re.compile(r"^\s*(from|import|cimport)\s+hftcore\.(?!_ext\b)", re.M)
    for path in sorted(EXT.glob("*.p*")):
        if path.suffix in (".pyx", ".pxd", ".pxi", ".py"):
            assert not above.search(path.read_text()), path.name


def test_one_definition_of_every_constant() -> None:
    from hftcore import decoders
    from hftcore._ext import book, records

    assert decoders.BOOK_DELTA_DTYPE is records.BOOK_DELTA_DTYPE is hftcore.BOOK_DELTA_DTYPE
    assert book.BOOK_DELTA_DTYPE is records.BOOK_DELTA_DTYPE
    assert (book.DELTA_FLAG_SNAPSHOT, book.DELTA_FLAG_CLEAR, book.DELTA_FLAG_LAST,
            book.DELTA_FLAG_CLEAR_SIDE) == (decoders.DELTA_SNAPSHOT, decoders.DELTA_CLEAR,
                                            decoders.DELTA_LAST, decoders.DELTA_CLEAR_SIDE)
    assert decoders.DELTA_CLEAR is records.DELTA_CLEAR and decoders.DeltaFlag is hftcore.DeltaFlag
    assert decoders.MessageKind is records.MessageKind is hftcore.MessageKind
    # the order codes the decoders write are hftcore's enums
    assert records.ORDER_STATUS_UNKNOWN == hftcore.OrderStatus.UNKNOWN
    assert records.ORDER_TYPE_UNKNOWN == 255
    assert len(records.KIND_NAMES) == len(MessageKind)
    assert len(records.ERROR_NAMES) == len(DecodeErrorCode) + 1
    # no re-typed flag values left in the Python modules of the package
    src = (Path(hftcore.__file__).parent / "decoders.py").read_text()
    assert not re.search(r"^(DELTA|TRADE|BBO|ORDER)_\w+ = \d", src, re.M)
    assert not re.search(r"^\s+\w+ = \d+$", src, re.M)            # no hand-written enum


def test_venues_are_found_by_name() -> None:
    from hftcore.decoders import VENUES

    assert sorted(VENUES) == ["binance", "binance_futures", "bitfinex", "bybit", "coinbase",
                              "deribit", "htx", "kraken", "kraken_futures", "kucoin", "okx"]
    assert all(name == cls.VENUE == cls(()).venue for name, cls in VENUES.items())
    with pytest.raises(TypeError):
        hftcore.Decoder()


def test_binance_futures_depth_carries_pu_as_prev_seq() -> None:
    """USDⓈ-M futures depth events chain with `pu` (previous final update id): it is the span's
    prev_seq, next to U (first_seq) and u (last_seq)."""
    dec = decoder_for("binance", [hftcore.Instrument("binance", "BTCUSDT", 1, 3,
                                                     instrument_id=3)])
    msg = (b'{"e":"depthUpdate","E":1700000000123,"T":1700000000120,"s":"BTCUSDT","U":157,'
           b'"u":160,"pu":149,"b":[["27000.1","0.500"]],"a":[["27000.2","1.250"]]}')
    assert dec.decode(msg) == MessageKind.BOOK_UPDATE
    s = dec.spans[0]
    assert (int(s["first_seq"]), int(s["last_seq"]), int(s["prev_seq"])) == (157, 160, 149)
    assert (dec.first_seq, dec.last_seq, dec.prev_seq, dec.has_seq) == (157, 160, 149, True)
    spot = msg.replace(b',"pu":149', b"").replace(b',"T":1700000000120', b"")
    assert dec.decode(spot) == MessageKind.BOOK_UPDATE and dec.prev_seq == -1
    del s


@pytest.mark.parametrize("space", ["", " "])
def test_level_formats_read_the_same_compact_or_spaced(space: str) -> None:
    """The compact loop and the general reader give the same records for every
    array-of-strings format: Kraken [price, volume, time, "r"], Coinbase [side, price, size]
    and OKX's four strings."""
    kraken = decoder_for("kraken", [hftcore.Instrument("kraken", "XBT/USD", 1, 8)])
    msg = ('[1,{"a":[["5541.3","2.50000000","1618678133.365913"],'
           '["5542.0","1.00000000","1618678134.000001","r"]],"c":"123"},"book-10","XBT/USD"]')
    assert kraken.decode(msg.replace(",", "," + space).encode()) == MessageKind.BOOK_UPDATE
    d = kraken.deltas
    assert [(int(r["price"]), int(r["size"]), int(r["exchange_ts"]), int(r["flags"]))
            for r in d] == [(55413, 250000000, 1618678133365913000, 0),
                            (55420, 100000000, 1618678134000001000, 16 | 4)]
    assert kraken.republish and kraken.exchange_ts == 1618678134000001000
    del d
    cb = coinbase()
    msg = ('{"type":"l2update","product_id":"BTC-USD","changes":[["buy","100.25","0.5"],'
           '["sell","101.00","0"]],"time":"2021-04-17T16:43:37.075687Z"}')
    assert cb.decode(msg.replace(",", "," + space).encode()) == MessageKind.BOOK_UPDATE
    assert [(int(r["side"]), int(r["price"]), int(r["size"])) for r in cb.deltas] == [
        (0, 10025, 50000000), (1, 10100, 0)]
    okx = decoder_for("okx", [hftcore.Instrument("okx", "BTC-USDT", 1, 8)])
    msg = ('{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{'
           '"asks":[["8476.9","415","0","13"]],"bids":[["8476.8","0","0","0"]],"ts":"1",'
           '"checksum":-5,"seqId":2,"prevSeqId":1}]}')
    assert okx.decode(msg.replace(",", "," + space).encode()) == MessageKind.BOOK_UPDATE
    assert [(int(r["side"]), int(r["price"]), int(r["size"])) for r in okx.deltas] == [
        (1, 84769, 41500000000), (0, 84768, 0)]
    assert (okx.checksum, okx.prev_seq, okx.last_seq) == (-5, 1, 2)
