"""Exchange message decoders against json / orjson / msgspec / pysimdjson + fixed-point conversion.

Run: ``python -m pytest benchmarks/bench_decode.py --benchmark-timer=time.thread_time
--benchmark-json=.benchmarks/decode.json`` (``thread_time`` counts this thread's CPU time only,
which keeps figures meaningful on a machine shared with other work).

Targets (issue 4): Binance depthUpdate 20+20 levels (~0.9 KB) <= 1.0 us from Python and
<= 0.8 us in a nogil loop; trade <= 150 ns from Python; >= 1 GB/s on depth messages.
Every peer parses the JSON *and* converts each price / size to an int at the instrument's
decimals (``hftcore.fixed.parse`` or ``Decimal``), which is what the decoder delivers.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import hftcore
from hftcore import fixed
from hftcore.decoders import decoder_for, read_recording

N = 20_000
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"

rng = random.Random(20261121)
_bids = ",".join(f'["{27450 - i * 0.1:.2f}","{rng.randint(1, 99_999) / 1000:.3f}"]'
                 for i in range(20))
_asks = ",".join(f'["{27451 + i * 0.1:.2f}","{rng.randint(1, 99_999) / 1000:.3f}"]'
                 for i in range(20))
DEPTH = (b'{"e":"depthUpdate","E":1633998512068,"s":"BTCUSDT","U":499869750,"u":499869752,'
         b'"b":[' + _bids.encode() + b'],"a":[' + _asks.encode() + b"]}")
TRADE = (b'{"e":"trade","E":1633998523963,"s":"BTCUSDT","t":15683430,"p":"27450.01",'
         b'"q":"0.400","T":1633998523963,"m":false,"M":true}')
DEPTH_MSGS = [DEPTH] * N
TRADE_MSGS = [TRADE] * N
PD, SD = 2, 3
G_DEPTH = f"Binance depthUpdate 20+20 ({len(DEPTH)} B) -> int64 levels"
G_TRADE = f"Binance trade ({len(TRADE)} B) -> int64 price/size"


def _decoder() -> hftcore.BinanceDecoder:
    return hftcore.BinanceDecoder([hftcore.Instrument("binance", "BTCUSDT", PD, SD,
                                                      instrument_id=1)])


def _levels_fixed(d: dict[str, Any]) -> list[tuple[int, int]]:
    parse = fixed.parse
    out = [(parse(p, PD), parse(q, SD)) for p, q in d["b"]]
    out += [(parse(p, PD), parse(q, SD)) for p, q in d["a"]]
    return out


def _levels_decimal(d: dict[str, Any]) -> list[tuple[int, int]]:
    sp, ss = Decimal(10) ** PD, Decimal(10) ** SD
    out = [(int(Decimal(p) * sp), int(Decimal(q) * ss)) for p, q in d["b"]]
    out += [(int(Decimal(p) * sp), int(Decimal(q) * ss)) for p, q in d["a"]]
    return out


# -- depth ---------------------------------------------------------------------------------

def test_depth_hftcore(benchmark: Any, record: Any) -> None:
    dec = _decoder().decode

    def loop() -> None:
        for m in DEPTH_MSGS:
            dec(m)

    record(benchmark, G_DEPTH, "hftcore decode (from Python)", loop, N)


def test_depth_hftcore_nogil(benchmark: Any, record: Any) -> None:
    d = _decoder()
    benchmark.group = G_DEPTH
    ns = min(d.decode_loop(DEPTH, N * 5) for _ in range(7)) / (N * 5)
    benchmark.pedantic(lambda: d.decode_loop(DEPTH, 1000), rounds=3, iterations=1)
    from conftest import RESULTS
    RESULTS[G_DEPTH]["hftcore decode_c (nogil loop)"] = ns
    benchmark.extra_info["ns_per_item"] = ns


def test_depth_json(benchmark: Any, record: Any) -> None:
    loads = json.loads

    def loop() -> None:
        for m in DEPTH_MSGS[: N // 10]:
            _levels_fixed(loads(m))

    record(benchmark, G_DEPTH, "json.loads + fixed.parse", loop, N // 10)


def test_depth_orjson(benchmark: Any, record: Any) -> None:
    orjson = pytest.importorskip("orjson")
    loads = orjson.loads

    def loop() -> None:
        for m in DEPTH_MSGS[: N // 10]:
            _levels_fixed(loads(m))

    record(benchmark, G_DEPTH, "orjson.loads + fixed.parse", loop, N // 10)


def test_depth_orjson_decimal(benchmark: Any, record: Any) -> None:
    orjson = pytest.importorskip("orjson")
    loads = orjson.loads

    def loop() -> None:
        for m in DEPTH_MSGS[: N // 10]:
            _levels_decimal(loads(m))

    record(benchmark, G_DEPTH, "orjson.loads + Decimal", loop, N // 10)


def test_depth_msgspec(benchmark: Any, record: Any) -> None:
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

    def loop() -> None:
        for m in DEPTH_MSGS[: N // 10]:
            d = decode(m)
            [(parse(p, PD), parse(q, SD)) for p, q in d.b]
            [(parse(p, PD), parse(q, SD)) for p, q in d.a]

    record(benchmark, G_DEPTH, "msgspec Struct + fixed.parse", loop, N // 10)


def test_depth_simdjson(benchmark: Any, record: Any) -> None:
    simdjson = pytest.importorskip("simdjson")
    parser = simdjson.Parser()
    parse = fixed.parse

    def loop() -> None:
        for m in DEPTH_MSGS[: N // 10]:
            doc = parser.parse(m)
            [(parse(p, PD), parse(q, SD)) for p, q in doc["b"]]
            [(parse(p, PD), parse(q, SD)) for p, q in doc["a"]]
            del doc

    record(benchmark, G_DEPTH, "pysimdjson + fixed.parse", loop, N // 10)


# -- trade ---------------------------------------------------------------------------------

def test_trade_hftcore(benchmark: Any, record: Any) -> None:
    dec = _decoder().decode

    def loop() -> None:
        for m in TRADE_MSGS:
            dec(m)

    record(benchmark, G_TRADE, "hftcore decode (from Python)", loop, N)


def test_trade_hftcore_nogil(benchmark: Any, record: Any) -> None:
    d = _decoder()
    benchmark.group = G_TRADE
    ns = min(d.decode_loop(TRADE, N * 10) for _ in range(7)) / (N * 10)
    benchmark.pedantic(lambda: d.decode_loop(TRADE, 1000), rounds=3, iterations=1)
    from conftest import RESULTS
    RESULTS[G_TRADE]["hftcore decode_c (nogil loop)"] = ns


def _trade_peer(loads: Any) -> Any:
    parse = fixed.parse

    def loop() -> None:
        for m in TRADE_MSGS:
            d = loads(m)
            parse(d["p"], PD), parse(d["q"], SD)

    return loop


def test_trade_json(benchmark: Any, record: Any) -> None:
    record(benchmark, G_TRADE, "json.loads + fixed.parse", _trade_peer(json.loads), N)


def test_trade_orjson(benchmark: Any, record: Any) -> None:
    orjson = pytest.importorskip("orjson")
    record(benchmark, G_TRADE, "orjson.loads + fixed.parse", _trade_peer(orjson.loads), N)


def test_trade_msgspec(benchmark: Any, record: Any) -> None:
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

    def loop() -> None:
        for m in TRADE_MSGS:
            d = decode(m)
            parse(d.p, PD), parse(d.q, SD)

    record(benchmark, G_TRADE, "msgspec Struct + fixed.parse", loop, N)


def test_trade_simdjson(benchmark: Any, record: Any) -> None:
    simdjson = pytest.importorskip("simdjson")
    parser = simdjson.Parser()
    parse = fixed.parse

    def loop() -> None:
        for m in TRADE_MSGS:
            doc = parser.parse(m)
            parse(doc["p"], PD), parse(doc["q"], SD)
            del doc

    record(benchmark, G_TRADE, "pysimdjson + fixed.parse", loop, N)


# -- throughput over the recordings ----------------------------------------------------------

FILES = [
    ("binance", "binance/spot_ws_2021-10-12.txt"),
    ("binance", "binance/spot_ws_2021-10-12.txt#depthUpdate"),
    ("coinbase", "coinbase/exchange_ws_2021-04-17.txt"),
    ("kraken", "kraken/ws_v1_book_2021-04-17.txt"),
    ("okx", "okx/ws_v5_public_2022-05-13_part1.txt"),
    ("bybit", "bybit/v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"),
]
THROUGHPUT: dict[str, tuple[float, float, float]] = {}


@pytest.mark.parametrize(("venue", "name"), FILES)
def test_recording_throughput(benchmark: Any, venue: str, name: str) -> None:
    from hftcore.verify import infer_decimals

    path, _, only = name.partition("#")          # "#word": only messages containing it
    msgs = [m.data for m in read_recording(DATA / path)
            if m.kind == "recv" and only.encode() in m.data]
    decs = infer_decimals(venue, msgs)
    d = decoder_for(venue, [hftcore.Instrument(venue, s, p, q, instrument_id=i)
                            for i, (s, (p, q)) in enumerate(decs.items(), 1)],
                    capacity=4096)
    dec = d.decode
    nbytes = sum(len(m) for m in msgs)

    def loop() -> None:
        for m in msgs:
            dec(m)

    benchmark.group = "recordings: decode every message end to end"
    benchmark.name = name
    benchmark.pedantic(loop, rounds=5, iterations=1, warmup_rounds=1)
    secs = benchmark.stats.stats.min
    # the same work in the nogil C loop, message by message (CPU time)
    nogil = sum(d.decode_loop(m, 200) for m in msgs) / 200 / 1e9   # CPU ns, nogil loop
    THROUGHPUT[name] = (nbytes / secs / 1e6, len(msgs) / secs, nbytes / nogil / 1e6)
    benchmark.extra_info.update(bytes=nbytes, messages=len(msgs),
                                mb_per_s=THROUGHPUT[name][0], msgs_per_s=THROUGHPUT[name][1],
                                nogil_mb_per_s=THROUGHPUT[name][2])


def test_print_throughput(capsys: Any) -> None:
    with capsys.disabled():
        print("\nrecording throughput (decode from Python | nogil C loop):")
        for name, (mbs, mps, nmbs) in THROUGHPUT.items():
            print(f"  {name:<58} {mbs:8.0f} MB/s {mps / 1e6:6.2f} M msgs/s | {nmbs:6.0f} MB/s")
