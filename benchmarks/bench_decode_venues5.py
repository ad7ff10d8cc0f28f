"""The decoders of issue 13 (KuCoin, Deribit, Kraken Futures, HTX, Bitfinex) against orjson /
pysimdjson + fixed.parse, on depth and trade messages taken from the bundled recordings.

Run: ``python -m pytest benchmarks/bench_decode_venues5.py --benchmark-timer=time.thread_time``.
Every row of a group is a Python ``for`` loop calling one function per message, timed the same
way (best of 7 rounds, ns per message); the ratio is over the hftcore row of the group.  The
GIL-free C loop (``decode_loop``: ``decode_c`` repeated without the GIL, thread CPU clock) is
reported in groups of its own.

The peers parse the JSON and convert every price and size of the message to an int at the
instrument's decimals with ``hftcore.fixed.parse`` (the decoder's output); they validate
nothing and build no records.  Where the venue sends prices as JSON numbers (Deribit, Kraken
Futures, HTX, Bitfinex) the peers get floats, converted through ``repr`` (exact only when the
float round-trips the text: the decoder reads the text itself).  HTX frames are gzip: every
row inflates them (the peers with ``zlib.decompress``).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import hftcore
from hftcore import fixed
from hftcore.decoders import RecordedMessage, decoder_for, read_recording
from hftcore.verify import infer_decimals

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
N = 5_000

#: venue -> recording files (the first ones feed the decoder's state: KuCoin's REST snapshot is
#: not needed to decode, Bitfinex's subscribe acknowledgements are)
FILES = {
    "kucoin": ["kucoin/ws_2021-04-25_part1.txt"],
    "deribit": ["deribit/ws_v2_2021-07-22.txt"],
    "kraken_futures": ["kraken_futures/ws_v1_2021-07-22_part1.txt"],
    "htx": ["htx/ws_spot_gzip_2021-04-17.txt"],
    "bitfinex": ["bitfinex/ws_v2_2021-04-17.txt"],
}


def _text(m: bytes) -> bytes:
    return zlib.decompress(m, 47) if m[:2] == b"\x1f\x8b" else m


def _is_depth(venue: str, t: bytes) -> bool:
    return {"kucoin": b'"trade.l2update"' in t,
            "deribit": b'"book.' in t[:120] and b'"change"' in t,
            "kraken_futures": t.startswith(b'{"feed":"book","'),
            "htx": b".depth.step0" in t[:60] and t.startswith(b'{"ch"'),
            # [chanId, [price, count, amount], seq] (a ticker is [chanId, [10 numbers], seq])
            "bitfinex": t.startswith(b"[") and t.count(b"[") == 2 and t.count(b",") == 4
            and b'"' not in t}[venue]


def _is_trade(venue: str, t: bytes) -> bool:
    return {"kucoin": b'"trade.l3match"' in t,
            "deribit": b'"trades.' in t[:120],
            "kraken_futures": t.startswith(b'{"feed":"trade","'),
            "htx": b".trade.detail" in t[:60] and t.startswith(b'{"ch"'),
            # the recording has trade history only ([chanId, [[id, mts, amount, price], ..]])
            "bitfinex": t.startswith(b"[") and t.count(b"[") > 3 and t.count(b",") < 200
            and b"[[" in t and len(t) < 2500}[venue]


class _Venue:
    def __init__(self, venue: str) -> None:
        self.venue = venue
        msgs = [m for f in FILES[venue] for m in read_recording(DATA / f)]
        if venue == "deribit":
            # the recording has no trades: the documentation-shaped trades example stands in
            ex = (DATA / "examples/deribit/ws_trades.json").read_bytes().strip()
            msgs.append(RecordedMessage("recv", 0, ex))
        self.decimals = infer_decimals(venue, msgs)
        self.recv = [m.data for m in msgs if m.kind == "recv"]
        self.decoder = decoder_for(venue, [hftcore.Instrument(venue, s, p, q, instrument_id=i)
                                           for i, (s, (p, q)) in
                                           enumerate(self.decimals.items(), 1)],
                                   capacity=4096)
        ok: list[bytes] = []
        for m in self.recv:                      # state (Bitfinex channels), grown batches
            try:
                kind = self.decoder.decode(m)
            except hftcore.DecodeError:
                continue                         # (HTX: sizes past int64, refused)
            if kind.is_data:
                ok.append(m)
        self.depth = [m for m in ok if _is_depth(venue, _text(m))]
        self.trade = [m for m in ok if _is_trade(venue, _text(m))]
        assert self.depth and self.trade, venue
        self.chans: dict[int, str] = {}
        for m in self.recv:
            if venue == "bitfinex" and m.startswith(b'{"event":"subscribed"'):
                j = orjson.loads(m)
                self.chans[j["chanId"]] = j["symbol"]

    def prices(self, msg: Any) -> Iterator[tuple[str, Any, Any]]:
        """(symbol, price, size) of every level / trade of a parsed depth or trade message."""
        v = self.venue
        if v == "kucoin":
            d = msg["data"]
            if "changes" in d:
                for side in ("asks", "bids"):
                    for p, q, _ in d["changes"][side]:
                        yield d["symbol"], p, q
            else:
                yield d["symbol"], d["price"], d["size"]
        elif v == "deribit":
            d = msg["params"]["data"]
            if isinstance(d, list):
                for t in d:
                    yield t["instrument_name"], t["price"], t["amount"]
            else:
                for side in ("bids", "asks"):
                    for _, p, q in d[side]:
                        yield d["instrument_name"], p, q
        elif v == "kraken_futures":
            if "bids" in msg:                     # book_snapshot
                for side in ("bids", "asks"):
                    for lv in msg[side]:
                        yield msg["product_id"], lv["price"], lv["qty"]
            else:
                yield msg["product_id"], msg["price"], msg["qty"]
        elif v == "htx":
            sym = msg["ch"].split(".")[1]
            t = msg["tick"]
            if "data" in t:
                for x in t["data"]:
                    yield sym, x["price"], x["amount"]
            else:
                for side in ("bids", "asks"):
                    for p, q in t[side]:
                        yield sym, p, q
        else:
            sym = self.chans.get(msg[0], "")
            rows = msg[1] if isinstance(msg[1][0], list) else [msg[1]]
            for r in rows:
                if len(r) == 3:
                    yield sym, r[0], abs(r[2])
                else:
                    yield sym, r[3], abs(r[2])

    def peer(self, loads: Callable[[bytes], Any]) -> Callable[[bytes], object]:
        parse, decimals, prices = fixed.parse, self.decimals, self.prices
        inflate = self.venue == "htx"
        # the same work as the decoder: HTX's sizes (binary floats printed) rounded half-even
        size_rounding = "half_even" if inflate else None

        def text(x: Any) -> str:
            return x if isinstance(x, str) else repr(x)

        def one(m: bytes) -> object:
            if inflate:
                m = zlib.decompress(m, 47)
            out = []
            for sym, p, q in prices(loads(m)):
                pd, sd = decimals[sym]
                out.append((parse(text(p), pd), parse(text(q), sd, size_rounding)))
            return out

        return one


_CACHE: dict[str, _Venue] = {}


def _venue(name: str) -> _Venue:
    if name not in _CACHE:
        _CACHE[name] = _Venue(name)
    return _CACHE[name]


def _batch(msgs: list[bytes]) -> list[bytes]:
    return (msgs * (N // len(msgs) + 1))[:N]


def _group(v: _Venue, what: str) -> str:
    msgs = v.depth if what == "depth" else v.trade
    return (f"{v.venue} {what} ({len(msgs)} recorded messages, "
            f"{sum(len(_text(m)) for m in msgs) // len(msgs)} B JSON average)")


def _loop(fn: Callable[[bytes], object], msgs: list[bytes]) -> Callable[[], None]:
    def loop() -> None:
        for m in msgs:
            fn(m)

    return loop


VENUES = sorted(FILES)
PEERS = ["orjson", "pysimdjson"]


@pytest.mark.parametrize("what", ["depth", "trade"])
@pytest.mark.parametrize("venue", VENUES)
def test_hftcore(benchmark: Any, record: Any, venue: str, what: str) -> None:
    v = _venue(venue)
    msgs = _batch(v.depth if what == "depth" else v.trade)
    record(benchmark, _group(v, what), "hftcore decode", _loop(v.decoder.decode, msgs), len(msgs))


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("what", ["depth", "trade"])
@pytest.mark.parametrize("venue", VENUES)
def test_peer(benchmark: Any, record: Any, venue: str, what: str, peer: str) -> None:
    v = _venue(venue)
    loads = (pytest.importorskip("orjson").loads if peer == "orjson"
             else pytest.importorskip("simdjson").loads)
    msgs = _batch(v.depth if what == "depth" else v.trade)
    one = v.peer(loads)
    try:
        one(msgs[0])                              # the conversion holds on these messages
    except RuntimeError as exc:                   # pysimdjson: HTX's 27-digit trade ids
        pytest.skip(f"{peer} cannot read these messages: {exc}")
    record(benchmark, _group(v, what), f"{peer} + fixed.parse", _loop(one, msgs), len(msgs))


@pytest.mark.parametrize("venue", VENUES)
def test_nogil(benchmark: Any, venue: str) -> None:
    """decode_c repeated without the GIL over each recorded message (thread CPU clock)."""
    from conftest import RESULTS

    v = _venue(venue)
    benchmark.group = f"{venue}: hftcore decode_c in a GIL-free C loop (not a ratio base)"
    benchmark.pedantic(lambda: v.decoder.decode_loop(v.depth[0], 100), rounds=3, iterations=1)
    for what, msgs in (("depth", v.depth), ("trade", v.trade)):
        reps = max(20, 4000 // len(msgs))
        ns = min(sum(v.decoder.decode_loop(m, reps) for m in msgs) for _ in range(5))
        RESULTS[benchmark.group][f"hftcore decode_c, {what}"] = ns / (reps * len(msgs))


# -- a 20+20-level update in each venue's form (the target: <= 1 us from Python) -------

def _fill(template: str, parts: tuple[str, str]) -> str:
    """template with its two "%s" replaced by parts (JSON braces make format() awkward)."""
    head, mid, tail = template.split("%s")
    return head + parts[0] + mid + parts[1] + tail


def _synthetic_20x20(venue: str) -> tuple[bytes, str, list[bytes]]:
    """(message, symbol, messages to decode first) with 20 bid and 20 ask levels, the prices
    and sizes of bench_decode's Binance message, in the venue's own form."""
    import random

    rng = random.Random(20261121)
    b = [(f"{27450 - i * 0.1:.1f}", f"{rng.randint(1, 99_999) / 1000:.3f}") for i in range(20)]
    a = [(f"{27451 + i * 0.1:.1f}", f"{rng.randint(1, 99_999) / 1000:.3f}") for i in range(20)]
    if venue == "kucoin":
        lv = (",".join(f'["{p}","{q}","{100 + i}"]' for i, (p, q) in enumerate(a)),
              ",".join(f'["{p}","{q}","{120 + i}"]' for i, (p, q) in enumerate(b)))
        m = _fill('{"data":{"sequenceStart":100,"symbol":"BTC-USDT","changes":{"asks":[%s],"bids":'
             '[%s]},"sequenceEnd":139},"subject":"trade.l2update","topic":'
             '"/market/level2:BTC-USDT","type":"message"}', lv)
        return m.encode(), "BTC-USDT", []
    if venue == "deribit":
        lv = (",".join(f'["change",{p},{q}]' for p, q in b),
              ",".join(f'["change",{p},{q}]' for p, q in a))
        m = _fill('{"jsonrpc":"2.0","method":"subscription","params":{"channel":'
             '"book.BTC-PERPETUAL.raw","data":{"type":"change","timestamp":1626994925000,'
             '"prev_change_id":1,"instrument_name":"BTC-PERPETUAL","change_id":2,'
             '"bids":[%s],"asks":[%s]}}}', lv)
        return m.encode(), "BTC-PERPETUAL", []
    if venue == "kraken_futures":        # (its updates carry one level: a snapshot here)
        lv = (",".join(f'{{"price":{p},"qty":{q}}}' for p, q in b),
              ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in a))
        m = _fill('{"feed":"book_snapshot","product_id":"PI_XBTUSD","timestamp":1626994925378,'
             '"seq":5,"tickSize":null,"bids":[%s],"asks":[%s]}', lv)
        return m.encode(), "PI_XBTUSD", []
    if venue == "htx":                   # mbp.150 update, gzip as HTX sends it
        lv = (",".join(f"[{p},{q}]" for p, q in b), ",".join(f"[{p},{q}]" for p, q in a))
        m = _fill('{"ch":"market.btcusdt.mbp.150","ts":1573199608679,"tick":{"seqNum":2,'
             '"prevSeqNum":1,"bids":[%s],"asks":[%s]}}', lv)
        import gzip

        return gzip.compress(m.encode()), "btcusdt", []
    lv = (",".join(f"[{p},1,{q}]" for p, q in b) + "," +
          ",".join(f"[{p},1,-{q}]" for p, q in a))
    return (f"[5,[{lv}],7]".encode(), "tBTCUSD",       # (updates are one level: a snapshot)
            [b'{"event":"subscribed","channel":"book","chanId":5,"symbol":"tBTCUSD",'
             b'"prec":"P0","freq":"F0","len":"25"}'])


G_20 = "{} 20+20 levels ({} B) from Python"


@pytest.mark.parametrize("venue", VENUES)
def test_20x20_hftcore(benchmark: Any, record: Any, venue: str) -> None:
    from conftest import RESULTS

    msg, sym, first = _synthetic_20x20(venue)
    d = decoder_for(venue, [hftcore.Instrument(venue, sym, 1, 3, instrument_id=1)])
    for m in first:
        d.decode(m)
    d.decode(msg)
    assert d.n_deltas == 40
    group = G_20.format(venue, len(msg))
    record(benchmark, group, "hftcore decode", _loop(d.decode, [msg] * N), N)
    RESULTS[group]["(hftcore decode_c, GIL-free loop)"] = min(
        d.decode_loop(msg, N) for _ in range(5)) / N


@pytest.mark.parametrize("venue", VENUES)
def test_20x20_peer(benchmark: Any, record: Any, venue: str) -> None:
    """orjson + fixed.parse on the same 20+20 message (the same values, the same work)."""
    v = _venue(venue)
    msg, sym, _ = _synthetic_20x20(venue)
    chans, decimals = v.chans, v.decimals
    v.chans = {5: sym} if venue == "bitfinex" else chans
    v.decimals = {**decimals, sym: (1, 3)}          # the decoder's instrument, for this test
    try:
        one = v.peer(orjson.loads)
        assert len(one(msg)) == 40
        record(benchmark, G_20.format(venue, len(msg)), "orjson + fixed.parse",
               _loop(one, [msg] * N), N)
    finally:
        v.chans, v.decimals = chans, decimals


def test_20x20_htx_parts(benchmark: Any) -> None:
    """HTX's 20+20 figure in its two parts: the JSON after the inflate, and the inflate alone
    (Python's zlib on the same frame: what any reader of HTX pays first)."""
    from conftest import RESULTS

    msg, sym, _ = _synthetic_20x20("htx")
    text = zlib.decompress(msg, 47)
    d = decoder_for("htx", [hftcore.Instrument("htx", sym, 1, 3, instrument_id=1)])
    d.decode(text)
    assert d.n_deltas == 40
    group = G_20.format("htx", len(msg))
    RESULTS[group]["(hftcore decode_c, the inflated JSON text)"] = min(
        d.decode_loop(text, N) for _ in range(5)) / N
    best = float("inf")
    for _ in range(5):
        t = time.thread_time_ns()
        for _ in range(N):
            zlib.decompress(msg, 47)
        best = min(best, (time.thread_time_ns() - t) / N)
    RESULTS[group]["(Python zlib.decompress alone)"] = best
    benchmark(lambda: None)
