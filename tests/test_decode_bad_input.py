"""Bad input never crashes and never leaves a half-filled batch: each case raises DecodeError
naming venue, kind and byte offset.  Also: private order messages from the venue docs, and
Hypothesis fuzzing over mutated real messages (longer run: HFTCORE_SLOW=1 HYPOTHESIS_PROFILE=dev
python -m pytest tests/test_decode_bad_input.py -m slow)."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import orjson
import pytest
from budget import budget
from hypothesis import given, settings
from hypothesis import strategies as st

import hftcore
from hftcore.decoders import MessageKind, decoder_for, message_text, read_recording

BN_DEPTH = (b'{"e":"depthUpdate","E":1633998512068,"s":"NKNUSDT","U":1,"u":2,'
            b'"b":[["0.35130000","6195.00000000"]],"a":[["0.35290000","10968.00000000"]]}')

DATA = Path(__file__).parent / "data"


def bn() -> hftcore.Decoder:
    return decoder_for("binance", [hftcore.Instrument("binance", "NKNUSDT", 8, 8,
                                                      instrument_id=7)])


BAD = [
    ("empty", b""),
    ("truncated", BN_DEPTH[:-5]),
    ("truncated in string", BN_DEPTH[:60]),
    ("invalid utf-8", BN_DEPTH.replace(b"NKNUSDT", b"NKN\xffSDT")),
    ("overlong utf-8", BN_DEPTH.replace(b"depthUpdate", b"depth\xc0\xafUpdate")),
    ("surrogate utf-8", BN_DEPTH.replace(b"depthUpdate", b"depth\xed\xa0\x80Update")),
    ("bad escape", BN_DEPTH.replace(b"NKNUSDT", b"NKN\\xSDT")),
    ("lone surrogate escape", BN_DEPTH.replace(b"NKNUSDT", b"NKN\\udc00")),
    ("control char", BN_DEPTH.replace(b"NKNUSDT", b"NKN\x01SDT")),
    ("price as number", BN_DEPTH.replace(b'"0.35130000"', b"0.3513")),
    ("ids as strings", BN_DEPTH.replace(b'"U":1', b'"U":"1"')),
    ("missing field u", BN_DEPTH.replace(b'"u":2,', b"")),
    ("missing level size", BN_DEPTH.replace(b',"6195.00000000"', b"")),
    ("extra level element", BN_DEPTH.replace(b'"6195.00000000"', b'"6195.00000000","x"')),
    ("duplicate key", BN_DEPTH.replace(b'"u":2', b'"u":2,"u":3')),
    ("trailing data", BN_DEPTH + b"{}"),
    ("trailing comma", BN_DEPTH.replace(b'"u":2,', b'"u":2,,')),
    ("huge price", BN_DEPTH.replace(b'"0.35130000"', b'"99999999999999999999.1"')),
    ("too many decimals", BN_DEPTH.replace(b'"0.35130000"', b'"0.351300001"')),
    ("negative size", BN_DEPTH.replace(b'"6195.00000000"', b'"-6195"')),
    ("nan price", BN_DEPTH.replace(b'"0.35130000"', b'"NaN"')),
    ("huge id", BN_DEPTH.replace(b'"U":1', b'"U":123456789012345678901234567890')),
    ("deep nesting", b'{"e":"kline","k":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("unexpected shape", b'{"hello":"world"}'),
    ("array", b"[1,2,3]"),
    ("scalar", b"42"),
    ("levels not an array", BN_DEPTH.replace(b'"b":[["0.35130000","6195.00000000"]]', b'"b":{}')),
    ("bad number", BN_DEPTH.replace(b'"E":1633998512068', b'"E":01')),
    ("not json", b"hello"),
]


@pytest.mark.parametrize(("name", "data"), BAD, ids=[b[0] for b in BAD])
def test_bad_binance_input_raises_decode_error(name: str, data: bytes) -> None:
    d = bn()
    assert d.decode(BN_DEPTH) == MessageKind.BOOK_UPDATE and d.n_deltas == 2
    with pytest.raises(hftcore.DecodeError) as exc:
        d.decode(data)
    err = exc.value
    assert isinstance(err, ValueError)
    assert err.venue == "binance" and 0 <= err.offset <= len(data)
    assert d.n_deltas == d.n_trades == d.n_bbos == d.n_orders == 0
    assert len(d.deltas) == 0
    assert d.counts["errors"] == 1


def test_error_names_kind_and_offset() -> None:
    d = bn()
    bad = BN_DEPTH.replace(b'"0.35130000"', b'"0.351x"')
    with pytest.raises(hftcore.DecodeError) as exc:
        d.decode(bad)
    assert exc.value.kind == "depthUpdate"
    assert exc.value.offset == bad.index(b"0.351x")


def test_strict_mode_refuses_unknown_fields() -> None:
    extra = BN_DEPTH.replace(b'"U":1', b'"U":1,"zz":[1]')
    assert bn().decode(extra) == MessageKind.BOOK_UPDATE
    strict = decoder_for("binance", [hftcore.Instrument("binance", "NKNUSDT", 8, 8)], strict=True)
    with pytest.raises(hftcore.DecodeError):
        strict.decode(extra)


def test_unknown_symbol_is_reported_not_guessed() -> None:
    d = bn()
    assert d.decode(BN_DEPTH.replace(b"NKNUSDT", b"BTCUSDT")) == MessageKind.UNKNOWN_SYMBOL
    assert d.symbol == "BTCUSDT" and d.n_deltas == 0
    assert d.counts["unknown_symbol"] == 1


VENUE_SAMPLES = {
    "binance": ["binance/spot_ws_2021-10-12.txt"],
    "binance_futures": ["binance/futures_ws_2021-07-22.txt"],
    "coinbase": ["coinbase/exchange_ws_2021-04-17.txt"],
    "kraken": ["kraken/ws_v1_book_2021-04-17.txt", "kraken/ws_v1_trade_2021-04-17.txt"],
    "okx": ["okx/ws_v5_public_2022-05-13_part1.txt"],
    "bybit": ["bybit/v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"],
    "kucoin": ["kucoin/ws_2021-04-25_part1.txt"],
    "deribit": ["deribit/ws_v2_2021-07-22.txt"],
    "kraken_futures": ["kraken_futures/ws_v1_2021-07-22_part1.txt"],
    "htx": ["htx/ws_spot_gzip_2021-04-17.txt"],
    "bitfinex": ["bitfinex/ws_v2_2021-04-17.txt"],
}


def _samples(venue: str) -> list[bytes]:
    out = []
    for name in VENUE_SAMPLES[venue]:
        msgs = [m.data for m in read_recording(DATA / name) if m.kind == "recv"]
        out += [m for m in msgs if len(m) < 3000][:40]
        # gzip frames (HTX): mutated as frames and as their JSON text
        out += [message_text(m) for m in msgs if m[:2] == b"\x1f\x8b" and len(m) < 3000][:20]
    for p in sorted((DATA / "examples" / venue).glob("*.json")):
        out.append(orjson.dumps(orjson.loads(p.read_bytes())))
    return out


def _decoder(venue: str) -> hftcore.Decoder:
    # generous decimals so that real messages decode; symbols from the samples
    syms = ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR", "ETHUSDT", "ETHBTC", "XRPUSDT", "BTCUSDT",
            "SKL-USD", "SKL-BTC", "BAND-GBP", "NMR-EUR", "BAND-BTC", "YFI-BTC", "DASH-BTC",
            "NU-GBP", "CRV-EUR", "SKL-GBP", "BTC-USD", "WAVES/EUR", "XMR/USD", "KSM/XBT",
            "GRT/ETH", "SC/EUR", "ETH/CHF", "OCEAN/XBT", "OMG/USD", "XBT/CHF", "ADA/XBT",
            "BTC/USD", "BTC-USD-220527", "UNI-USD-SWAP", "BTC-USDT", "BTC-USDT-SWAP",
            "EQZ-BTC", "ANKR-BTC", "SNX-BTC", "FET-BTC", "BCHSV-USDT", "NRG-BTC", "CAPP-BTC",
            "DAPPT-BTC", "COV-BTC", "LTX-USDT", "KCS-USDT", "BTC-PERPETUAL", "BTC-24SEP21-8000-P",
            "BTC-30JUL21-24000-P", "ETH-30JUL21-2800-C", "BTC-31DEC21-34000-P",
            "BTC-24SEP21-34000-P", "BTC-24JUN22-15000-C", "BTC-31DEC21-300000-C",
            "ETH-27AUG21-4000-P", "BTC-25MAR22-30000-C", "ETH-23JUL21-2300-C", "PI_XBTUSD",
            "PI_ETHUSD", "PI_LTCUSD", "PI_XRPUSD", "FI_ETHUSD_211231", "FI_BCHUSD_210730",
            "FI_XBTUSD_210924", "FI_ETHUSD_210730", "FI_BCHUSD_210924", "FI_XRPUSD_210924",
            "FI_XBTUSD_210730", "FI_XBTUSD_200925", "btcusdt", "trioeth", "borusdt", "omgbtc",
            "xvgeth", "yfihusd", "zeneth", "dogeeth", "fil3susdt", "propyeth", "nesteth",
            "tBFTUSD", "tIOTETH", "tDOGUSD", "tMNABTC", "tODEUSD", "tTESTBTC:TESTUSD", "tSNGUSD",
            "tETHUSD", "SUSHIUSDT", "AKROUSDT", "KEEPUSDT", "CTKUSDT"]
    pd, sd = _DECIMALS.get(venue, (9, 8))
    d = decoder_for(venue, [hftcore.Instrument(venue, s, pd, sd, instrument_id=i)
                            for i, s in enumerate(syms, 1)],
                    fee_decimals=_FEE_DECIMALS.get(venue, 10))
    if venue == "bitfinex":
        # channel ids come from the subscribe acknowledgements: the decoder sees them first
        for m in _bitfinex_subscriptions():
            d.decode(m)
    return d


def _bitfinex_subscriptions() -> list[bytes]:
    return [m.data for m in read_recording(DATA / "bitfinex/ws_v2_2021-04-17.txt")
            if m.kind == "recv" and m.data.startswith(b'{"event":"subscribed"')]


#: venues whose real messages need more decimals than the default 9 / 8
_DECIMALS = {"kucoin": (10, 8)}
#: venues whose documented fees have more decimals than the default 10
_FEE_DECIMALS = {"kraken_futures": 12}


def _mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    b = bytearray(data)
    for op, pos, val in ops:
        if not b:
            break
        i = pos % len(b)
        if op == 0:
            b[i] = val
        elif op == 1:
            del b[i]
        elif op == 2:
            b.insert(i, val)
        elif op == 3:
            del b[i:]
        else:
            b[i:i] = b[i:i + val % 16]
    return bytes(b)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _valid_json(data: bytes) -> None:
    """orjson's check, except for a number past a double's range ("u":4E9869810 in a skipped
    field: valid JSON that orjson refuses as infinity): that one goes to the standard parser."""
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "number is infinity" not in str(exc):
            raise
        json.loads(data, parse_constant=_refuse_constant)


def _check(venue: str, data: bytes) -> None:
    d = _decoder(venue)
    channels = getattr(d, "channels", None)    # a decoder's own state (Bitfinex's channel map)
    try:
        kind = MessageKind(d.decode(data))
    except hftcore.DecodeError as exc:
        # (a gzip frame's offsets refer to its JSON text)
        assert 0 <= exc.offset <= max(len(data), len(_inflated(data)))
        assert d.n_deltas == d.n_trades == d.n_bbos == d.n_orders == 0
        assert d.ping is None
        assert getattr(d, "channels", None) == channels      # a refused message changes nothing
        return
    data = message_text(data)      # accepted: a gzip frame inflated (it must, then)
    # accepted: must be valid JSON (the decoders validate everything they read)
    if not (venue == "okx" and data == b"pong"):
        _valid_json(data)
    if kind.is_data:
        # records, or a book update that only moves a sequence (KuCoin price-0 changes)
        assert d.n_deltas + d.n_trades + d.n_bbos + d.n_orders > 0 or (
            kind == MessageKind.BOOK_UPDATE and d.n_spans > 0)


def _inflated(data: bytes) -> bytes:
    try:
        return message_text(data)
    except zlib.error:
        return b""


_OPS = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.integers(0, 255)),
                min_size=1, max_size=4)


@pytest.mark.parametrize("venue", sorted(VENUE_SAMPLES))
@given(data=st.data())
@settings(max_examples=150)
def test_fuzz_mutated_real_messages(venue: str, data: st.DataObject) -> None:
    samples = _samples_cache(venue)
    msg = data.draw(st.sampled_from(samples))
    _check(venue, _mutate(msg, data.draw(_OPS)))


_CACHE: dict[str, list[bytes]] = {}


def _samples_cache(venue: str) -> list[bytes]:
    if venue not in _CACHE:
        _CACHE[venue] = _samples(venue)
    return _CACHE[venue]


@pytest.mark.slow
@pytest.mark.parametrize("venue", sorted(VENUE_SAMPLES))
@given(data=st.data())
@settings(max_examples=budget(20000, 1000))     # in full with HFTCORE_SLOW=1
def test_fuzz_long(venue: str, data: st.DataObject) -> None:
    msg = data.draw(st.sampled_from(_samples_cache(venue)))
    _check(venue, _mutate(msg, data.draw(_OPS)))


def test_every_example_decodes() -> None:
    for venue in VENUE_SAMPLES:
        d = _decoder(venue)
        for p in sorted((DATA / "examples" / venue).glob("*.json")):
            if p.name == "rest_depth_response.json":
                assert isinstance(d, hftcore.BinanceDecoder)
                kind = MessageKind(d.decode_depth_snapshot(p.read_bytes(), "ETHBTC"))
                assert kind == MessageKind.BOOK_SNAPSHOT and d.last_seq == 1027024
                continue
            if p.name.startswith("rest_"):
                kind = MessageKind(d.decode_snapshot(p.read_bytes(), _REST_SYMBOL[venue]))
                assert kind == MessageKind.BOOK_SNAPSHOT and d.has_seq, p
                continue
            kind = MessageKind(d.decode(p.read_bytes()))
            # level3 is recognised as OTHER
            assert kind.is_data or "l3" in p.name or "heartbeat" in p.name, p


_REST_SYMBOL = {"kucoin": "BTC-USDT"}


def test_private_order_examples() -> None:
    ex = DATA / "examples"
    d = _decoder("binance")
    assert d.decode((ex / "binance/execution_report_trade.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["client_order_id"] == b"x-TD67BGP9-T0000000000000"
    assert o["venue_order_id"] == 12345678 and o["venue_order_id_text"] == b"12345678"
    assert o["status"] == hftcore.OrderStatus.FILLED and o["side"] == hftcore.Side.BUY
    assert o["price"] == 2500 * 10**9 and o["last_fill_size"] == 10**8
    assert o["trade_id"] == 98765432 and o["fee"] == 10**7 and o["fee_asset"] == b"ETH"
    assert o["flags"] & 1 and o["flags"] & 2
    wrapped = (ex / "binance/execution_report_wrapped.json").read_bytes()
    assert d.decode(wrapped) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.ACCEPTED
    assert d.orders[0]["client_order_id"] == b"mUvoqJxFIILMdfAW5iGSOW"

    d = _decoder("bybit")
    assert d.decode((ex / "bybit/ws_account_execution.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["side"] == hftcore.Side.SELL and o["last_fill_price"] == 959001 * 10**8
    assert o["fee"] == 263725275 * 10**3 and o["status"] == hftcore.OrderStatus.FILLED
    assert o["venue_order_id"] == -1
    assert o["venue_order_id_text"] == b"9aac161b-8ed6-450d-9cab-c5cc67c21784"
    assert d.decode((ex / "bybit/ws_account_order.json").read_bytes()) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.CANCELED
    assert d.orders[0]["client_order_id"] == b"client-1"

    d = _decoder("okx")
    assert d.decode((ex / "okx/ws_orders.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["venue_order_id"] == 2497956918703120384 and o["trade_id"] == 1518905529
    assert o["fee"] == 21776769 * 10 and o["status"] == hftcore.OrderStatus.FILLED
    assert o["filled_size"] == 3 * 10**6 and o["order_type"] == hftcore.OrderType.MARKET

    d = _decoder("coinbase")
    assert d.decode((ex / "coinbase/ws_user.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["status"] == hftcore.OrderStatus.ACCEPTED and o["size"] == 10**5
    assert o["client_order_id"] == b"11111-000000-000001"


def test_views_survive_growth() -> None:
    d = _decoder("binance")
    d.decode(BN_DEPTH)
    old = d.deltas
    assert d.exports >= 1
    big = (b'{"lastUpdateId":5,"bids":[' + b",".join(b'["0.%08d","1"]' % i
                                                      for i in range(1, 3000)) + b'],"asks":[]}')
    assert d.decode_depth_snapshot(big, "NKNUSDT") == MessageKind.BOOK_SNAPSHOT
    # the old view is stale (borrowed until the next decode) but its memory is still valid
    assert d.n_deltas == 2999 and len(old) == 2 and int(old[0]["price"]) >= 0
    assert int(d.deltas[-1]["price"]) == 2999 * 10 and d.deltas[-1]["flags"] & 4
    del old
    assert d.exports == 0


class _GuardedBuffer:
    """Messages placed flush against a PROT_NONE page: a read one byte past the end faults."""

    def __init__(self) -> None:
        import ctypes
        import mmap

        self.page = mmap.PAGESIZE
        self.map = mmap.mmap(-1, 2 * self.page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        libc = ctypes.CDLL(None, use_errno=True)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        if libc.mprotect(ctypes.c_void_p(addr + self.page), ctypes.c_size_t(self.page), 0):
            raise OSError(ctypes.get_errno(), "mprotect")

    def view(self, data: bytes) -> memoryview:
        data = data[: self.page]
        start = self.page - len(data)
        self.map[start:self.page] = data
        return memoryview(self.map)[start:self.page]


@pytest.mark.skipif(not hasattr(os, "sysconf") or os.name != "posix", reason="needs mprotect")
@pytest.mark.parametrize("venue", sorted(VENUE_SAMPLES))
def test_no_read_past_the_end_of_the_message(venue: str) -> None:
    import random

    try:
        guard = _GuardedBuffer()
    except (OSError, AttributeError) as exc:
        pytest.skip(f"no guard page here: {exc}")
    rng = random.Random(8)
    samples = _samples_cache(venue)
    d = _decoder(venue)
    checked = 0
    for msg in samples:
        cuts = {len(msg), *(rng.randrange(0, len(msg) + 1) for _ in range(20))}
        for n in cuts:                               # every prefix is a possible frame end
            for data in (msg[:n], _mutate(msg[:n], [(rng.randrange(5), rng.randrange(1 << 20),
                                                     rng.randrange(256))])):
                view = guard.view(data)
                try:
                    d.decode(view)
                except hftcore.DecodeError as exc:
                    assert 0 <= exc.offset <= max(len(view), len(_inflated(data)))
                checked += 1
                view.release()
    assert checked > 100
