"""Exchange message decoders against orjson / msgspec / pysimdjson / json + fixed-point conversion.

Run: ``python -m pytest benchmarks/bench_decode.py`` (add ``--benchmark-json=FILE`` to keep the
figures).  Every row of a group is timed the same way: the same timer (pytest-benchmark's,
whatever ``--benchmark-timer`` says), the same calling convention (a Python ``for`` loop that
calls one function per message), best of 7 rounds, divided by the messages.  The ratio printed
for each row is that row over the best hftcore row *of the same group*.

Every peer parses the JSON *and* converts each price and size of the message to an int at the
instrument's decimals (``hftcore.fixed.parse``, or ``Decimal`` in one row), which is what the
decoder delivers; the peers do less than the decoder otherwise (no validation of the message,
no records, no timestamps or sequence numbers).

Groups: Binance depthUpdate 20+20 and trade (synthetic, one message repeated: the targets of
issue 4, ≤ 1.0 µs and ≤ 150 ns from Python), and the mixed messages of every bundled recording
(tests/data: book snapshots and updates, trades, tickers, acks, heartbeats), per file and all
venues together.  The C entry point in a GIL-free loop is reported in its own group: it makes
no Python call, so it is not compared with the rows above.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import hftcore
from hftcore import fixed
from hftcore.decoders import decoder_for, read_recording

N = 20_000
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"

# -- synthetic messages (issue 4 targets) ---------------------------------------------------

rng = random.Random(20261121)                    # the same message as issue 4's figures
_bids = ",".join(f'["{27450 - i * 0.1:.2f}","{rng.randint(1, 99_999) / 1000:.3f}"]'
                 for i in range(20))
_asks = ",".join(f'["{27451 + i * 0.1:.2f}","{rng.randint(1, 99_999) / 1000:.3f}"]'
                 for i in range(20))
DEPTH = (b'{"e":"depthUpdate","E":1633998512068,"s":"BTCUSDT","U":499869750,"u":499869752,'
         b'"b":[' + _bids.encode() + b'],"a":[' + _asks.encode() + b"]}")
TRADE = (b'{"e":"trade","E":1633998523963,"s":"BTCUSDT","t":15683430,"p":"27450.01",'
         b'"q":"0.400","T":1633998523963,"m":false,"M":true}')
PD, SD = 2, 3
G_DEPTH = f"Binance depthUpdate 20+20 ({len(DEPTH)} B) -> int64 levels"
G_TRADE = f"Binance trade ({len(TRADE)} B) -> int64 price/size"
G_NOGIL = "hftcore decode_c in a GIL-free C loop, {} (no Python call: not a ratio base)"


def _binance() -> hftcore.BinanceDecoder:
    return hftcore.BinanceDecoder([hftcore.Instrument("binance", "BTCUSDT", PD, SD,
                                                      instrument_id=1)])


def _loop(fn: Callable[[bytes], object], msgs: list[bytes]) -> Callable[[], None]:
    """The one calling convention of every row: a Python loop, one call per message."""

    def loop() -> None:
        for m in msgs:
            fn(m)

    return loop


def _depth_fixed(loads: Callable[[bytes], Any]) -> Callable[[bytes], object]:
    parse = fixed.parse

    def one(m: bytes) -> object:
        d = loads(m)
        return ([(parse(p, PD), parse(q, SD)) for p, q in d["b"]],
                [(parse(p, PD), parse(q, SD)) for p, q in d["a"]])

    return one


def _trade_fixed(loads: Callable[[bytes], Any]) -> Callable[[bytes], object]:
    parse = fixed.parse

    def one(m: bytes) -> object:
        d = loads(m)
        return parse(d["p"], PD), parse(d["q"], SD)

    return one


def _peer_loads(name: str) -> Callable[[bytes], Any]:
    """orjson / msgspec / pysimdjson / json: bytes -> Python objects (skipped when missing)."""
    if name == "orjson":
        return pytest.importorskip("orjson").loads  # type: ignore[no-any-return]
    if name == "msgspec":
        return pytest.importorskip("msgspec").json.decode  # type: ignore[no-any-return]
    if name == "pysimdjson":
        return pytest.importorskip("simdjson").loads  # type: ignore[no-any-return]
    return json.loads


PEERS = ["orjson", "msgspec", "pysimdjson", "json"]


# -- depth and trade ----------------------------------------------------------------------------

def test_depth_hftcore(benchmark: Any, record: Any) -> None:
    record(benchmark, G_DEPTH, "hftcore decode", _loop(_binance().decode, [DEPTH] * N), N)


@pytest.mark.parametrize("peer", PEERS)
def test_depth_peer(benchmark: Any, record: Any, peer: str) -> None:
    n = N // 10
    record(benchmark, G_DEPTH, f"{peer} + fixed.parse",
           _loop(_depth_fixed(_peer_loads(peer)), [DEPTH] * n), n)


def test_depth_msgspec_struct(benchmark: Any, record: Any) -> None:
    msgspec = pytest.importorskip("msgspec")

    class Depth(msgspec.Struct):  # type: ignore[misc,name-defined]
        E: int
        s: str
        U: int
        u: int
        b: list[tuple[str, str]]
        a: list[tuple[str, str]]

    decode = msgspec.json.Decoder(Depth).decode
    parse = fixed.parse

    def one(m: bytes) -> object:
        d = decode(m)
        return ([(parse(p, PD), parse(q, SD)) for p, q in d.b],
                [(parse(p, PD), parse(q, SD)) for p, q in d.a])

    n = N // 10
    record(benchmark, G_DEPTH, "msgspec Struct + fixed.parse", _loop(one, [DEPTH] * n), n)


def test_depth_orjson_decimal(benchmark: Any, record: Any) -> None:
    loads = _peer_loads("orjson")
    sp, ss = Decimal(10) ** PD, Decimal(10) ** SD

    def one(m: bytes) -> object:
        d = loads(m)
        return ([(int(Decimal(p) * sp), int(Decimal(q) * ss)) for p, q in d["b"]],
                [(int(Decimal(p) * sp), int(Decimal(q) * ss)) for p, q in d["a"]])

    n = N // 20
    record(benchmark, G_DEPTH, "orjson + Decimal", _loop(one, [DEPTH] * n), n)


def test_trade_hftcore(benchmark: Any, record: Any) -> None:
    record(benchmark, G_TRADE, "hftcore decode", _loop(_binance().decode, [TRADE] * N), N)


@pytest.mark.parametrize("peer", PEERS)
def test_trade_peer(benchmark: Any, record: Any, peer: str) -> None:
    record(benchmark, G_TRADE, f"{peer} + fixed.parse",
           _loop(_trade_fixed(_peer_loads(peer)), [TRADE] * N), N)


def test_trade_msgspec_struct(benchmark: Any, record: Any) -> None:
    msgspec = pytest.importorskip("msgspec")

    class Trade(msgspec.Struct):  # type: ignore[misc,name-defined]
        E: int
        s: str
        t: int
        p: str
        q: str
        T: int
        m: bool

    decode = msgspec.json.Decoder(Trade).decode
    parse = fixed.parse

    def one(m: bytes) -> object:
        d = decode(m)
        return parse(d.p, PD), parse(d.q, SD)

    record(benchmark, G_TRADE, "msgspec Struct + fixed.parse", _loop(one, [TRADE] * N), N)


def test_nogil_c_loop(benchmark: Any) -> None:
    """decode_c repeated without the GIL (thread CPU clock): the floor under the Python rows."""
    from conftest import RESULTS

    d = _binance()
    benchmark.group = G_NOGIL.format("depth and trade")
    benchmark.pedantic(lambda: d.decode_loop(DEPTH, 1000), rounds=3, iterations=1)
    for name, msg, reps in (("depth 20+20", DEPTH, N * 5), ("trade", TRADE, N * 10)):
        ns = min(d.decode_loop(msg, reps) for _ in range(7)) / reps
        RESULTS[G_NOGIL.format(name)]["hftcore decode_c, thread CPU time"] = ns


# -- mixed messages of the recordings ----------------------------------------------------------

RECORDINGS = [
    ("binance", "binance/spot_ws_2021-10-12.txt"),
    ("bybit", "bybit/v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"),
    ("coinbase", "coinbase/exchange_ws_2021-04-17.txt"),
    ("kraken", "kraken/ws_v1_book_2021-04-17.txt"),
    ("kraken", "kraken/ws_v1_trade_2021-04-17.txt"),
    ("kraken", "kraken/ws_v1_ticker_2021-04-17.txt"),
    ("okx", "okx/ws_v5_public_2022-05-13_part1.txt"),
]


def _levels(rows: Any) -> Iterator[tuple[Any, Any]]:
    for r in rows or ():
        if isinstance(r, dict):
            yield r.get("price", r.get("price_level")), r.get("qty", r.get("new_quantity"))
        elif isinstance(r, list) and len(r) >= 2:
            yield (r[1], r[2]) if r[0] in ("buy", "sell") else (r[0], r[1])


def _prices(venue: str, msg: Any) -> Iterator[tuple[str, Any, Any]]:
    """(symbol, price text, size text) of every level, trade and quote of a parsed message: the
    numbers a peer must convert to match what the decoder delivers."""
    if venue == "kraken" and isinstance(msg, list) and len(msg) >= 4:
        pair, name = msg[-1], msg[-2]
        for payload in msg[1:-2]:
            if name == "trade":
                for t in payload:
                    yield pair, t[0], t[1]
            elif name == "ticker":
                yield pair, payload["b"][0], payload["b"][2]
                yield pair, payload["a"][0], payload["a"][2]
            elif isinstance(payload, dict):
                for k, v in payload.items():
                    if k != "c":
                        for p, q in _levels(v):
                            yield pair, p, q
        return
    if not isinstance(msg, dict):
        return
    data = msg.get("data", msg)
    for it in data if isinstance(data, list) else [data]:
        if not isinstance(it, dict):
            continue
        sym = (it.get("s") or it.get("product_id") or it.get("instId")
               or (msg.get("arg") or {}).get("instId", ""))
        for key in ("b", "a", "bids", "asks", "changes"):
            if isinstance(it.get(key), list):
                for p, q in _levels(it[key]):
                    yield sym, p, q
        for pk, qk in (("p", "q"), ("p", "v"), ("px", "sz"), ("price", "size"),
                       ("bidPx", "bidSz"), ("askPx", "askSz"), ("best_bid", "best_bid_size"),
                       ("best_ask", "best_ask_size")):
            if isinstance(it.get(pk), str) and it[pk]:
                yield sym, it[pk], it.get(qk) or "0"


def _fraction_digits(text: Any) -> int:
    _, dot, frac = str(text).partition(".")
    return len(frac) if dot else 0


def _infer_decimals(venue: str, msgs: list[bytes]) -> dict[str, tuple[int, int]]:
    """symbol -> (price, size) decimals: the most fractional digits of its numbers."""
    out: dict[str, tuple[int, int]] = {}
    for m in msgs:
        for sym, p, q in _prices(venue, json.loads(m)):
            pd, sd = out.get(sym, (0, 0))
            out[sym] = (max(pd, _fraction_digits(p)), max(sd, _fraction_digits(q)))
    return out


class _Recording:
    """The received messages of one file with the decimals of each symbol and a decoder
    holding them: every data message decodes to records (no unknown symbol, no error)."""

    def __init__(self, venue: str, name: str) -> None:
        self.venue, self.name = venue, name
        self.msgs = [m.data for m in read_recording(DATA / name) if m.kind == "recv"]
        self.decimals = _infer_decimals(venue, self.msgs)
        self.decoder = decoder_for(venue, [hftcore.Instrument(venue, s, p, q, instrument_id=i)
                                           for i, (s, (p, q)) in
                                           enumerate(self.decimals.items(), 1)],
                                   capacity=4096)
        for m in self.msgs:                      # every message decodes (and grows the batches)
            self.decoder.decode(m)
        counts = self.decoder.counts
        assert counts["errors"] == counts["unknown_symbol"] == 0, (name, counts)

    def peer(self, loads: Callable[[bytes], Any]) -> Callable[[bytes], object]:
        parse, venue, decimals = fixed.parse, self.venue, self.decimals

        def one(m: bytes) -> object:
            out = []
            for sym, p, q in _prices(venue, loads(m)):
                pd, sd = decimals.get(sym, (0, 0))
                out.append((parse(p, pd), parse(q, sd)))
            return out

        return one


_CACHE: dict[str, _Recording] = {}


def _recording(venue: str, name: str) -> _Recording:
    if name not in _CACHE:
        _CACHE[name] = _Recording(venue, name)
    return _CACHE[name]


def _group(rec: _Recording) -> str:
    return (f"recording {rec.name} ({len(rec.msgs)} mixed messages, "
            f"{sum(map(len, rec.msgs)) // len(rec.msgs)} B average)")


@pytest.mark.parametrize(("venue", "name"), RECORDINGS)
def test_recording_hftcore(benchmark: Any, record: Any, venue: str, name: str) -> None:
    rec = _recording(venue, name)
    record(benchmark, _group(rec), "hftcore decode", _loop(rec.decoder.decode, rec.msgs),
           len(rec.msgs), rounds=5)


@pytest.mark.parametrize("peer", PEERS[:3])
@pytest.mark.parametrize(("venue", "name"), RECORDINGS)
def test_recording_peer(benchmark: Any, record: Any, venue: str, name: str, peer: str) -> None:
    rec = _recording(venue, name)
    record(benchmark, _group(rec), f"{peer} + fixed.parse", _loop(rec.peer(_peer_loads(peer)),
                                                                  rec.msgs),
           len(rec.msgs), rounds=5)


G_ALL = "all recordings, every venue, messages interleaved"


def _all() -> list[tuple[_Recording, bytes]]:
    recs = [_recording(v, n) for v, n in RECORDINGS]
    pairs = [(r, m) for r in recs for m in r.msgs]
    pairs.sort(key=lambda rm: hash(rm[1]))       # interleave venues, deterministically per run
    return pairs


def test_all_recordings_hftcore(benchmark: Any, record: Any) -> None:
    pairs = [(r.decoder.decode, m) for r, m in _all()]

    def loop() -> None:
        for dec, m in pairs:
            dec(m)

    record(benchmark, G_ALL, "hftcore decode", loop, len(pairs), rounds=5)


@pytest.mark.parametrize("peer", PEERS[:3])
def test_all_recordings_peer(benchmark: Any, record: Any, peer: str) -> None:
    loads = _peer_loads(peer)
    pairs = [(r.peer(loads), m) for r, m in _all()]

    def loop() -> None:
        for one, m in pairs:
            one(m)

    record(benchmark, G_ALL, f"{peer} + fixed.parse", loop, len(pairs), rounds=5)
