"""Property tests: the fast paths agree with the validating paths and with Decimal.

- decimal text in any form (leading zeros, exponents, signs, many digits) decodes to the
  Decimal value at the instrument's decimals, or raises DecodeError exactly when Decimal says
  the value does not fit / needs rounding;
- a Binance message with its keys reordered and whitespace added (the order-independent path)
  decodes to the same records as the compact form (the template path).
"""

from __future__ import annotations

import json
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
