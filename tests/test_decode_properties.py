"""Property tests: the fast paths agree with the validating paths, with Decimal and datetime.

- decimal text in any form (leading zeros, exponents, signs, many digits) decodes to the
  Decimal value at the instrument's decimals, or raises DecodeError exactly when Decimal says
  the value does not fit / needs rounding;
- a Binance message with its keys reordered and whitespace added (the order-independent path)
  decodes to the same records as the compact form (the template path);
- times (RFC 3339 text, decimal seconds, milliseconds) decode to what datetime / Decimal give
  over the whole int64-nanosecond range, and fail exactly where those say there is no such
  time; JSON-number levels and the general level reader agree with Decimal.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hftcore

DIGITS = st.text("0123456789", min_size=1, max_size=22)
DECIMAL_TEXT = st.one_of(
    st.builds(lambda a, b: f"{a}.{b}", DIGITS, DIGITS),
    DIGITS,
    st.builds(lambda a, b, e: f"{a}.{b}e{e}", DIGITS, DIGITS, st.integers(-20, 20)),
    st.builds(lambda a: f"{a}.", DIGITS),
    st.builds(lambda b: f".{b}", DIGITS),
    st.builds(lambda a: f"+{a}", DIGITS),
)


def expected(text: str, dec: int) -> int | None:
    v = Decimal(text) * (Decimal(10) ** dec)
    if v != v.to_integral_value() or not -(2**63) <= v < 2**63 or v < 0:
        return None
    return int(v)


@given(price=DECIMAL_TEXT, size=DECIMAL_TEXT, pd=st.integers(0, 18), sd=st.integers(0, 18))
def test_level_text_matches_decimal(price: str, size: str, pd: int, sd: int) -> None:
    dec = hftcore.BinanceDecoder([hftcore.Instrument("binance", "X", pd, sd)])
    msg = ('{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["' + price + '","' + size
           + '"]],"a":[]}').encode()
    want_p, want_s = expected(price, pd), expected(size, sd)
    if want_p is None or want_s is None:
        with pytest.raises(hftcore.DecodeError):
            dec.decode(msg)
        return
    assert dec.decode(msg) == hftcore.MessageKind.BOOK_UPDATE
    assert int(dec.deltas[0]["price"]) == want_p and int(dec.deltas[0]["size"]) == want_s
    # the same text as a trade (span path) and as a REST snapshot (generic path)
    trade = ('{"e":"trade","E":1,"s":"X","t":1,"p":"' + price + '","q":"' + size
             + '","T":1,"m":true,"M":true}').encode()
    assert dec.decode(trade) == hftcore.MessageKind.TRADE
    assert int(dec.trades[0]["price"]) == want_p and int(dec.trades[0]["size"]) == want_s


LEVEL = st.tuples(st.decimals(0, 10**6, places=4, allow_nan=False),
                  st.decimals(0, 10**6, places=3, allow_nan=False))


@given(bids=st.lists(LEVEL, max_size=5), asks=st.lists(LEVEL, max_size=5),
       order=st.permutations(["e", "E", "s", "U", "u", "b", "a"]), indent=st.sampled_from(
           [None, 0, 1]), wrap=st.booleans())
def test_reordered_messages_decode_like_the_compact_form(
        bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]],
        order: list[str], indent: int | None, wrap: bool) -> None:
    dec = hftcore.BinanceDecoder([hftcore.Instrument("binance", "BTCUSDT", 4, 3)])
    body = {"e": "depthUpdate", "E": 1700000000123, "s": "BTCUSDT", "U": 10, "u": 12,
            "b": [[str(p), str(q)] for p, q in bids], "a": [[str(p), str(q)] for p, q in asks]}
    compact = json.dumps(body, separators=(",", ":"))
    other = json.dumps({k: body[k] for k in order}, indent=indent)
    if wrap:
        compact = '{"stream":"btcusdt@depth","data":' + compact + "}"
        other = '{"data": ' + other + ', "stream": "btcusdt@depth"}'
    assert dec.decode(compact.encode(), 5) == hftcore.MessageKind.BOOK_UPDATE
    a = dec.deltas.copy()
    info = (dec.first_seq, dec.last_seq, dec.exchange_ts, dec.instrument_id)
    assert dec.decode(other.encode(), 5) == hftcore.MessageKind.BOOK_UPDATE
    b = dec.deltas.copy()
    assert info == (dec.first_seq, dec.last_seq, dec.exchange_ts, dec.instrument_id)
    key = lambda r: (int(r["side"]), int(r["price"]), int(r["size"]))  # noqa: E731
    assert sorted(map(key, a)) == sorted(map(key, b))
    assert len(a) == len(bids) + len(asks)
    want = sorted([(0, int(p * 10**4), int(q * 10**3)) for p, q in bids]
                  + [(1, int(p * 10**4), int(q * 10**3)) for p, q in asks])
    assert sorted(map(key, a)) == want


# -- times: RFC 3339 text against datetime, decimal seconds and milliseconds against Decimal ----

EPOCH = datetime(1970, 1, 1)
INT64_MAX = 2**63 - 1
CB = [hftcore.Instrument("coinbase", "BTC-USD", 2, 8, instrument_id=1)]


def _match(time: str) -> bytes:
    return ('{"type":"match","trade_id":1,"sequence":2,"side":"buy","size":"1","price":"1",'
            '"product_id":"BTC-USD","time":"' + time + '"}').encode()


@given(dt=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2262, 4, 10)),
       ndigits=st.integers(0, 9), frac=st.integers(0, 999_999_999),
       sep=st.sampled_from("T "), zone=st.sampled_from(["Z", "+00:00"]))
def test_iso_time_equals_datetime(dt: datetime, ndigits: int, frac: int, sep: str,
                                  zone: str) -> None:
    frac %= 10**ndigits
    text = dt.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + (f".{frac:0{ndigits}d}" if ndigits else "")
    dec = hftcore.CoinbaseDecoder(CB)
    assert dec.decode(_match(text + zone)) == hftcore.MessageKind.TRADE
    whole = (dt.replace(microsecond=0) - EPOCH) // timedelta(seconds=1)
    assert int(dec.trades[0]["exchange_ts"]) == whole * 10**9 + frac * 10 ** (9 - ndigits)


@given(y=st.integers(1960, 2300), m=st.integers(0, 13), d=st.integers(0, 32),
       h=st.integers(0, 25), mi=st.integers(0, 61), s=st.integers(0, 59))
def test_iso_date_validity_equals_datetime(y: int, m: int, d: int, h: int, mi: int,
                                           s: int) -> None:
    text = f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z"
    try:
        ns: int | None = (datetime(y, m, d, h, mi, s) - EPOCH) // timedelta(microseconds=1) * 1000
    except ValueError:
        ns = None                                         # no such date or time
    if ns is not None and not 0 <= ns <= INT64_MAX:
        ns = None                                         # outside int64 ns since 1970
    dec = hftcore.CoinbaseDecoder(CB)
    if ns is None:
        with pytest.raises(hftcore.DecodeError) as exc:
            dec.decode(_match(text))
        assert exc.value.code == hftcore.DecodeErrorCode.TIME
    else:
        assert dec.decode(_match(text)) == hftcore.MessageKind.TRADE
        assert int(dec.trades[0]["exchange_ts"]) == ns


SECONDS_TEXT = st.one_of(
    st.builds(lambda a, b: f"{a}.{b}", st.text("0123456789", min_size=1, max_size=12),
              st.text("0123456789", min_size=1, max_size=11)),
    st.text("0123456789", min_size=1, max_size=12),
    st.integers(0, 2**64).map(str),
)


@given(text=SECONDS_TEXT)
def test_decimal_seconds_equal_decimal(text: str) -> None:
    v = Decimal(text) * 10**9
    want = int(v) if v == v.to_integral_value() and v <= INT64_MAX else None
    dec = hftcore.KrakenDecoder([hftcore.Instrument("kraken", "XBT/USD", 1, 8)])
    msg = ('[0,[["5541.2","0.15","' + text + '","s","l",""]],"trade","XBT/USD"]').encode()
    if want is None:
        with pytest.raises(hftcore.DecodeError):
            dec.decode(msg)
        return
    assert dec.decode(msg) == hftcore.MessageKind.TRADE
    assert int(dec.trades[0]["exchange_ts"]) == want


@given(ms=st.integers(0, 2**63 - 1))
def test_milliseconds_equal_integer_arithmetic(ms: int) -> None:
    dec = hftcore.BinanceDecoder([hftcore.Instrument("binance", "X", 2, 2)])
    msg = ('{"e":"trade","E":1,"s":"X","t":1,"p":"1","q":"1","T":' + str(ms)
           + ',"m":true,"M":true}').encode()
    if ms * 10**6 > INT64_MAX:
        with pytest.raises(hftcore.DecodeError):
            dec.decode(msg)
        return
    assert dec.decode(msg) == hftcore.MessageKind.TRADE
    assert int(dec.trades[0]["exchange_ts"]) == ms * 10**6


# -- numbers: JSON numbers (Kraken v2) and the general level reader (OKX) against Decimal -----

JSON_NUMBER = st.one_of(
    st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 10**20).map(str),
              st.text("0123456789", min_size=1, max_size=20)),
    st.integers(0, 10**21).map(str),
    st.builds(lambda a, b, e: f"{a}.{b}e{e}", st.integers(0, 999).map(str),
              st.text("0123456789", min_size=1, max_size=8), st.integers(-25, 25)),
)


@given(price=JSON_NUMBER, size=JSON_NUMBER, pd=st.integers(0, 18), sd=st.integers(0, 18))
def test_json_number_levels_equal_decimal(price: str, size: str, pd: int, sd: int) -> None:
    dec = hftcore.KrakenDecoder([hftcore.Instrument("kraken", "X/Y", pd, sd)])
    msg = ('{"channel":"book","type":"update","data":[{"symbol":"X/Y","bids":[{"price":' + price
           + ',"qty":' + size + '}],"asks":[],"checksum":1,'
           '"timestamp":"2023-10-06T17:35:55Z"}]}').encode()
    want_p, want_s = expected(price, pd), expected(size, sd)
    if want_p is None or want_s is None:
        with pytest.raises(hftcore.DecodeError):
            dec.decode(msg)
        return
    assert dec.decode(msg) == hftcore.MessageKind.BOOK_UPDATE
    assert (int(dec.deltas[0]["price"]), int(dec.deltas[0]["size"])) == (want_p, want_s)


@given(price=DECIMAL_TEXT, size=DECIMAL_TEXT, pd=st.integers(0, 18), sd=st.integers(0, 18),
       ws=st.sampled_from(["", " ", "\n  "]))
def test_general_level_reader_equals_decimal(price: str, size: str, pd: int, sd: int,
                                             ws: str) -> None:
    dec = hftcore.OkxDecoder([hftcore.Instrument("okx", "X-Y", pd, sd)])
    level = f'[{ws}"{price}",{ws}"{size}",{ws}"0",{ws}"1"{ws}]'
    msg = ('{"arg":{"channel":"books","instId":"X-Y"},"action":"update","data":[{"asks":['
           + level + '],"bids":[],"ts":"1","checksum":0,"seqId":2,"prevSeqId":1}]}').encode()
    want_p, want_s = expected(price, pd), expected(size, sd)
    if want_p is None or want_s is None:
        with pytest.raises(hftcore.DecodeError):
            dec.decode(msg)
        return
    assert dec.decode(msg) == hftcore.MessageKind.BOOK_UPDATE
    assert (int(dec.deltas[0]["price"]), int(dec.deltas[0]["size"])) == (want_p, want_s)
