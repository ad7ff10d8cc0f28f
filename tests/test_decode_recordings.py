"""Differential tests: every recorded message decodes to what the orjson + Decimal reference
(tests/decode_reference.py) gives; book sync rules hold on the recordings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from decode_reference import reference, size_count

import hftcore
from hftcore.decoders import MessageKind, decoder_for, read_recording

RECORDINGS = [
    ("binance", "binance/spot_ws_2021-10-12.txt"),
    ("binance_futures", "binance/futures_ws_2021-07-22.txt"),
    ("coinbase", "coinbase/exchange_ws_2021-04-17.txt"),
    ("kraken", "kraken/ws_v1_book_2021-04-17.txt"),
    ("kraken", "kraken/ws_v1_trade_2021-04-17.txt"),
    ("kraken", "kraken/ws_v1_ticker_2021-04-17.txt"),
    ("okx", "okx/ws_v5_public_2022-05-13_part1.txt"),
    ("bybit", "bybit/v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"),
    ("kucoin", "kucoin/ws_2021-04-25_part1.txt"),
    ("deribit", "deribit/ws_v2_2021-07-22.txt"),
    ("kraken_futures", "kraken_futures/ws_v1_2021-07-22_part1.txt"),
    ("htx", "htx/ws_spot_gzip_2021-04-17.txt"),
]

DATA = Path(__file__).parent / "data"


def _exp(x: Decimal) -> int:
    return max(0, -x.normalize().as_tuple().exponent) if x else 0  # type: ignore[operator]


def infer_decimals(venue: str, msgs: list[bytes]) -> dict[str, tuple[int, int]]:
    """symbol -> (price decimals, size decimals): the most fractional digits seen."""
    out: dict[str, list[int]] = {}
    for m in msgs:
        ref = reference(venue, m)
        if not ref.symbol:
            continue
        pd_sd = out.setdefault(ref.symbol, [0, 0])
        for r in ref.deltas:
            pd_sd[0] = max(pd_sd[0], _exp(r[1]), _texp(m, r[1]))
            pd_sd[1] = max(pd_sd[1], _exp(r[2]), _texp(m, r[2]))
        for r in ref.trades:
            pd_sd[0] = max(pd_sd[0], _exp(r[1]))
            pd_sd[1] = max(pd_sd[1], _exp(r[2]))
        for r in ref.bbos:
            pd_sd[0] = max(pd_sd[0], _exp(r[0]), _exp(r[2]))
            pd_sd[1] = max(pd_sd[1], _exp(r[1]), _exp(r[3]))
    # HTX's sizes are binary floats printed: its amount precision is at most 8 decimals
    cap = 8 if venue == "htx" else 18
    return {k: (v[0], min(v[1], cap)) for k, v in out.items()}


def _texp(m: bytes, x: Decimal) -> int:
    return max(0, -x.as_tuple().exponent)  # type: ignore[operator]


def scale(x: Decimal, dec: int) -> int:
    v = x * (Decimal(10) ** dec)
    assert v == v.to_integral_value()
    return int(v)


# documentation-shaped public messages (the Binance examples are private / REST: tested elsewhere)
EXAMPLES = [(v, f"examples/{v}") for v in ("bybit", "coinbase", "kraken", "okx", "kucoin",
                                                    "deribit", "kraken_futures", "htx")]


def _messages(name: str) -> list[tuple[int, bytes]]:
    path = DATA / name
    if path.is_dir():                                 # documentation examples, one per file
        return [(i, p.read_bytes()) for i, p in enumerate(sorted(path.glob("*.json")), 1)
                if not p.name.startswith("rest_") and "l3" not in p.name
                and "account" not in p.name and "user" not in p.name and "orders" not in p.name
                and "execution" not in p.name and "fills" not in p.name]
    return [(m.ts_ns, m.data) for m in read_recording(path) if m.kind == "recv"]


@pytest.mark.parametrize(("venue", "name"), RECORDINGS + EXAMPLES)
def test_recording_matches_reference(venue: str, name: str) -> None:
    msgs = _messages(name)
    decs = infer_decimals(venue, [d for _, d in msgs])
    assert decs
    ids = {s: i + 1 for i, s in enumerate(decs)}
    dec_ = decoder_for(venue, [hftcore.Instrument(venue, s, p, q, instrument_id=ids[s])
                               for s, (p, q) in decs.items()])
    data_msgs = rounded = 0
    for ts, data in msgs:
        ref = reference(venue, data)
        kind = MessageKind(dec_.decode(data, ts))
        if ref.kind == "other":
            assert not kind.is_data, data[:200]
            continue
        assert kind.name.lower() == ref.kind, data[:200]
        if not kind.is_data:
            continue
        data_msgs += 1
        assert dec_.symbol == ref.symbol
        iid = ids[ref.symbol]
        pd, sd = decs[ref.symbol]
        d = dec_.deltas
        got = [(int(r["side"]), int(r["price"]), int(r["size"]), int(r["flags"]),
                int(r["sequence"]), int(r["exchange_ts"])) for r in d]
        # sizes: exact, except HTX's (printed from binary floats: rounded half-even)
        sizes = [size_count(venue, r[2], sd) for r in ref.deltas + ref.trades]
        rounded += sum(was for _, was in sizes)
        want = [(r[0], scale(r[1], pd), sizes[i][0], *r[3:]) for i, r in enumerate(ref.deltas)]
        assert got == want, data[:200]
        assert all(d["instrument_id"] == iid) and all(d["local_ts"] == ts)
        t = dec_.trades
        got = [(int(r["side"]), int(r["price"]), int(r["size"]), int(r["trade_id"]),
                int(r["exchange_ts"])) for r in t]
        nd = len(ref.deltas)
        want = [(r[0], scale(r[1], pd), sizes[nd + i][0], *r[3:])
                for i, r in enumerate(ref.trades)]
        assert got == want, data[:200]
        b = dec_.bbos
        got = [(int(r["bid_price"]), int(r["bid_size"]), int(r["ask_price"]), int(r["ask_size"]),
                int(r["sequence"]), int(r["exchange_ts"])) for r in b]
        want = [(scale(r[0], pd), scale(r[1], sd), scale(r[2], pd), scale(r[3], sd), *r[4:])
                for r in ref.bbos]
        assert got == want, data[:200]
        if ref.checksum is not None:
            assert dec_.checksum == ref.checksum
        del d, t, b
    assert data_msgs > 0
    assert dec_.counts["errors"] == 0
    assert dec_.counts["rounded"] == rounded
    assert rounded == 0 or venue == "htx"


def test_binance_snapshot_and_diffs_follow_the_sync_rules() -> None:
    """Binance: first diff after the REST snapshot has U <= lastUpdateId+1 <= u, then each
    diff's U is the previous u + 1 -- on all four symbols."""
    dec = decoder_for("binance", [hftcore.Instrument("binance", s, 8, 8, instrument_id=i)
                                  for i, s in enumerate(("NKNUSDT", "BLZETH", "LRCBTC",
                                                         "RUNEEUR"), 1)])
    snaps: dict[str, int] = {}
    for m in read_recording(DATA / "binance/spot_rest_depth_2021-10-12.txt"):
        sym = m.url.split("symbol=")[1].split("&")[0]
        assert dec.decode_depth_snapshot(m.data, sym, m.ts_ns) == MessageKind.BOOK_SNAPSHOT
        assert dec.n_deltas > 0 and dec.deltas[0]["flags"] & 2
        body = orjson.loads(m.data)
        want = [(0, scale(Decimal(p), 8), scale(Decimal(q), 8)) for p, q in body["bids"]]
        want += [(1, scale(Decimal(p), 8), scale(Decimal(q), 8)) for p, q in body["asks"]]
        d = dec.deltas
        assert [(int(r["side"]), int(r["price"]), int(r["size"])) for r in d] == want
        assert all(d["sequence"] == body["lastUpdateId"]) and all(d["local_ts"] == m.ts_ns)
        assert all(d["flags"] & 1) and d[-1]["flags"] & 4
        del d
        snaps[sym] = dec.last_seq
    assert len(snaps) == 4
    last: dict[str, int] = {}
    synced: set[str] = set()
    for m in read_recording(DATA / "binance/spot_ws_2021-10-12.txt"):
        if m.kind != "recv" or dec.decode(m.data, m.ts_ns) != MessageKind.BOOK_UPDATE:
            continue
        sym, U, u = dec.symbol, dec.first_seq, dec.last_seq
        if sym not in synced:
            if u <= snaps[sym]:
                continue                      # older than the snapshot: dropped
            assert U <= snaps[sym] + 1 <= u
            synced.add(sym)
        else:
            assert last[sym] + 1 == U
        last[sym] = u
    assert synced == set(snaps)


def test_kucoin_snapshot_and_diffs_follow_the_sync_rules() -> None:
    """KuCoin: the first diff after the REST snapshot has sequenceStart <= sequence + 1 <=
    sequenceEnd, then each diff's sequenceStart is the previous sequenceEnd + 1; each change
    carries its own sequence inside the message's range -- on all nine symbols."""
    from hftcore.verify import infer_decimals as decimals_of

    rest = DATA / "kucoin/rest_level2_2021-04-25.txt"
    stream = DATA / "kucoin/ws_2021-04-25_part1.txt"
    decs = decimals_of("kucoin", [*read_recording(rest), *read_recording(stream)])
    dec = decoder_for("kucoin", [hftcore.Instrument("kucoin", s, p, q, instrument_id=i)
                                 for i, (s, (p, q)) in enumerate(decs.items(), 1)])
    snaps: dict[str, int] = {}
    for m in read_recording(rest):
        sym = m.url.split("symbol=")[1]
        assert dec.decode_snapshot(m.data, sym, m.ts_ns) == MessageKind.BOOK_SNAPSHOT
        body = orjson.loads(m.data)["data"]
        pd, sd = decs[sym]
        want = [(0, scale(Decimal(p), pd), scale(Decimal(q), sd)) for p, q in body["bids"]]
        want += [(1, scale(Decimal(p), pd), scale(Decimal(q), sd)) for p, q in body["asks"]]
        d = dec.deltas
        assert [(int(r["side"]), int(r["price"]), int(r["size"])) for r in d] == want
        assert all(d["sequence"] == int(body["sequence"])) and d[0]["flags"] & 2
        assert dec.last_seq == int(body["sequence"]) and dec.has_seq
        assert dec.exchange_ts == body["time"] * 10**6
        del d
        snaps[sym] = dec.last_seq
    last: dict[str, int] = {}
    synced: set[str] = set()
    for m in read_recording(stream):
        if m.kind != "recv" or dec.decode(m.data, m.ts_ns) != MessageKind.BOOK_UPDATE:
            continue
        sym, start, end = dec.symbol, dec.first_seq, dec.last_seq
        assert all(start <= s <= end for s in dec.deltas["sequence"])
        if sym not in synced:
            if end <= snaps[sym]:
                continue
            assert start <= snaps[sym] + 1 <= end
            synced.add(sym)
        else:
            assert last[sym] + 1 == start
        last[sym] = end
    assert synced == set(snaps) and len(synced) == 9
