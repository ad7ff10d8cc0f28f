"""Binance USDⓈ-M futures market data: the documented message shapes (``depthUpdate`` with
``T`` and ``pu``, the ``/fapi/v1/depth`` snapshot, ``aggTrade``, ``bookTicker``), the futures
book-sync rule (drop ``u < lastUpdateId``; the first applied event has ``U <= lastUpdateId <=
u``; then ``pu == previous u``) in the feed and in ``hftcore verify``, on the 2021-07-22
futures recording (tests/data/binance/futures_*.txt, see tests/data/NOTICE) and on the same
recording with a real gap cut into it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

import hftcore
from hftcore._ext.feed import EV_DELTA, EV_STATUS, Feed
from hftcore.cli import EXIT_FAILED, EXIT_OK, main
from hftcore.decoders import (
    BinanceDecoder,
    BinanceFuturesDecoder,
    DecodeErrorCode,
    MessageKind,
    decoder_for,
    read_recording,
)
from hftcore.verify import infer_decimals, read_messages, verify_messages

DATA = Path(__file__).parent / "data" / "binance"
FUT_REST = DATA / "futures_rest_depth_2021-07-22.txt"
FUT_WS = DATA / "futures_ws_2021-07-22.txt"

# the shapes of the USDⓈ-M futures documentation ("Diff. Book Depth Streams", "Order Book")
DEPTH = (b'{"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,'
         b'"pu":149,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}')
SNAPSHOT = (b'{"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,'
            b'"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}')
AGG_TRADE = (b'{"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"0.001","q":"100",'
             b'"f":100,"l":105,"T":123456785,"m":true}')
BOOK_TICKER = (b'{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,'
               b'"s":"BTCUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000",'
               b'"A":"40.66000000"}')


def futures(price_decimals: int = 8, size_decimals: int = 8) -> BinanceFuturesDecoder:
    dec = decoder_for("binance_futures", [hftcore.Instrument("binance_futures", "BTCUSDT",
                                                             price_decimals, size_decimals,
                                                             instrument_id=7)])
    assert isinstance(dec, BinanceFuturesDecoder)
    return dec


def book_records(dec: hftcore.Decoder) -> list[tuple[int, ...]]:
    return [(int(r["side"]), int(r["price"]), int(r["size"]), int(r["sequence"]),
             int(r["exchange_ts"]), int(r["flags"])) for r in dec.deltas]


# -- decoder --------------------------------------------------------------------------------

def _variants(msg: bytes) -> list[bytes]:
    obj = orjson.loads(msg)
    reordered = dict(reversed(list(obj.items())))
    return [msg, json.dumps(obj).encode(), orjson.dumps(reordered),
            b'{"stream":"btcusdt@depth@100ms","data":' + msg + b"}",
            b'{"stream":"btcusdt@depth","data":' + orjson.dumps(reordered) + b"}"]


def test_documented_depth_update_reads_the_same_in_every_form() -> None:
    """The compact documented order (the template) and any other key order or spacing (the
    general reader) give the same records and sequence numbers: U, u and pu."""
    dec = futures()
    seen = set()
    for msg in _variants(DEPTH):
        assert dec.decode(msg, 5) == MessageKind.BOOK_UPDATE
        assert (dec.first_seq, dec.last_seq, dec.prev_seq, dec.has_seq) == (157, 160, 149, True)
        assert dec.symbol == "BTCUSDT" and dec.instrument_id == 7
        assert dec.exchange_ts == 123456789 * 10**6
        s = dec.spans[0]
        assert (int(s["first_seq"]), int(s["last_seq"]), int(s["prev_seq"])) == (157, 160, 149)
        del s
        recs = book_records(dec)
        assert recs[-1][5] == 4 and all(r[5] == 0 for r in recs[:-1])    # LAST on the last
        seen.add(tuple(sorted(r[:5] for r in recs)))
    assert seen == {((0, 240000, 1000000000, 160, 123456789 * 10**6),
                     (1, 260000, 10000000000, 160, 123456789 * 10**6))}


def test_futures_depth_needs_pu() -> None:
    """Without ``pu`` a futures diff cannot be chained: refused (MISSING), nothing kept; the
    spot decoder still reads that spot shape."""
    spot_shape = DEPTH.replace(b',"pu":149', b"").replace(b',"T":123456788', b"")
    for msg in (DEPTH.replace(b',"pu":149', b""), spot_shape):
        for m in _variants(msg):
            dec = futures()
            with pytest.raises(hftcore.DecodeError) as exc:
                dec.decode(m)
            assert exc.value.code == DecodeErrorCode.MISSING
            assert dec.n_deltas == dec.n_spans == 0 and dec.kind == MessageKind.NONE
    spot = decoder_for("binance", [hftcore.Instrument("binance", "BTCUSDT", 8, 8)])
    assert spot.decode(spot_shape) == MessageKind.BOOK_UPDATE and spot.prev_seq == -1


@pytest.mark.parametrize("bad", [b'"pu":"149"', b'"pu":149.5', b'"pu":null', b'"pu":-',
                                 b'"pu":99999999999999999999', b'"pu":149,"pu":149',
                                 b'"pu":1e3', b'"pu":[149]'])
def test_bad_pu_is_refused(bad: bytes) -> None:
    """On the template (documented order) and on the general reader (pu moved last)."""
    moved = DEPTH.replace(b',"pu":149', b"")[:-1] + b',"pu":149}'
    for msg in (DEPTH, moved, b'{"stream":"btcusdt@depth","data":' + moved + b"}"):
        m = msg.replace(b'"pu":149', bad)
        assert m != msg
        dec = futures()
        with pytest.raises(hftcore.DecodeError):
            dec.decode(m)
        assert dec.n_deltas == dec.n_spans == 0


def test_every_prefix_of_a_futures_message_is_refused_cleanly() -> None:
    dec = futures()
    for msg in (DEPTH, AGG_TRADE, BOOK_TICKER):
        for n in range(len(msg)):
            with pytest.raises(hftcore.DecodeError) as exc:
                dec.decode(msg[:n])
            assert 0 <= exc.value.offset <= n
            assert dec.n_deltas == dec.n_trades == dec.n_bbos == 0


def test_documented_rest_snapshot() -> None:
    """``GET /fapi/v1/depth``: lastUpdateId is the sequence, E the event time; every record is
    part of the snapshot, the first clears the book."""
    dec = futures()
    assert dec.decode_depth_snapshot(SNAPSHOT, "BTCUSDT", 11) == MessageKind.BOOK_SNAPSHOT
    ets = 1589436922972 * 10**6
    assert book_records(dec) == [(0, 400000000, 43100000000, 1027024, ets, 1 | 2),
                                 (1, 400000200, 1200000000, 1027024, ets, 1 | 4)]
    assert dec.last_seq == 1027024 and dec.exchange_ts == ets and dec.local_ts == 11
    # the same body through the spot decoder: E / T are not spot fields (skipped, no time)
    spot = decoder_for("binance", [hftcore.Instrument("binance", "BTCUSDT", 8, 8)])
    assert spot.decode_depth_snapshot(SNAPSHOT, "BTCUSDT") == MessageKind.BOOK_SNAPSHOT
    assert spot.exchange_ts == 0
    for bad in (SNAPSHOT.replace(b'"E":1589436922972', b'"E":"soon"'),
                SNAPSHOT.replace(b'"E":1589436922972', b'"E":[1]'),
                SNAPSHOT.replace(b'"T":1589436922959', b'"E":1589436922959'),
                SNAPSHOT.replace(b'"lastUpdateId":1027024,', b""),
                SNAPSHOT[:-1]):
        with pytest.raises(hftcore.DecodeError):
            dec.decode_depth_snapshot(bad, "BTCUSDT")
        assert dec.n_deltas == 0
    assert dec.decode_depth_snapshot(SNAPSHOT, "ETHUSDT") == MessageKind.UNKNOWN_SYMBOL
    with pytest.raises(TypeError, match="symbol"):
        dec.decode_depth_snapshot(SNAPSHOT, 7)  # type: ignore[arg-type]


def test_documented_agg_trade_and_book_ticker() -> None:
    dec = futures(3, 0)
    for msg in _variants(AGG_TRADE):
        assert dec.decode(msg) == MessageKind.TRADE
        t = dec.trades[0]
        # m: the buyer was the maker -> the aggressor sold
        assert (int(t["price"]), int(t["size"]), int(t["trade_id"]), int(t["side"]),
                int(t["exchange_ts"])) == (1, 100, 5933014, 1, 123456785 * 10**6)
        del t
    dec = futures(8, 8)
    for msg in _variants(BOOK_TICKER):
        assert dec.decode(msg) == MessageKind.BBO
        b = dec.bbos[0]
        assert (int(b["bid_price"]), int(b["bid_size"]), int(b["ask_price"]), int(b["ask_size"]),
                int(b["sequence"]), int(b["exchange_ts"])) == (
            2535190000, 3121000000, 2536520000, 4066000000, 400900217, 1568014460891 * 10**6)
        del b


def test_recording_decodes_with_pu_on_every_diff() -> None:
    """Every depthUpdate of the recording carries pu; the decoder's U / u / pu are the wire's."""
    msgs = [m for m in read_recording(FUT_WS) if m.kind == "recv"]
    decs = infer_decimals("binance_futures", [m.data for m in msgs])
    dec = decoder_for("binance_futures", [hftcore.Instrument("binance_futures", s, p, q,
                                                             instrument_id=i)
                                          for i, (s, (p, q)) in enumerate(sorted(decs.items()))])
    diffs = 0
    for m in msgs:
        kind = dec.decode(m.data, m.ts_ns)
        d = orjson.loads(m.data)["data"]
        if d.get("e") == "depthUpdate":
            assert kind == MessageKind.BOOK_UPDATE
            assert (dec.first_seq, dec.last_seq, dec.prev_seq) == (d["U"], d["u"], d["pu"])
            diffs += 1
    assert diffs == sum(1 for m in msgs if b'"depthUpdate"' in m.data) > 700
    assert dec.counts["errors"] == 0


# -- the futures sync rule ----------------------------------------------------------------

def _depth(U: int, u: int, pu: int, bids: list[list[str]], asks: list[list[str]]) -> bytes:
    return orjson.dumps({"e": "depthUpdate", "E": 1000 + u, "T": 999 + u, "s": "BTCUSDT",
                         "U": U, "u": u, "pu": pu, "b": bids, "a": asks})


def _snapshot(last: int, bids: list[list[str]], asks: list[list[str]]) -> bytes:
    return orjson.dumps({"lastUpdateId": last, "E": 5, "T": 4, "bids": bids, "asks": asks})


def _apply(events: Any, books: dict[int, dict[int, dict[int, int]]]) -> list[tuple[int, int]]:
    """Apply EV_DELTA events to {instrument: {side: {price: size}}}; returns the statuses."""
    statuses = []
    for e in events:
        inst = int(e["instrument"])
        if e["kind"] == EV_STATUS:
            statuses.append((inst, int(e["size"])))
            continue
        if e["kind"] != EV_DELTA:
            continue
        book = books.setdefault(inst, {0: {}, 1: {}})
        if e["flags"] & 2:
            book[0].clear()
            book[1].clear()
        if e["flags"] & 8:
            book[int(e["side"])].clear()
        if int(e["side"]) > 1:
            continue
        side = book[int(e["side"])]
        if int(e["size"]) == 0:
            side.pop(int(e["price"]), None)
        else:
            side[int(e["price"])] = int(e["size"])
    return statuses


def _feed(rule: str, decoder: hftcore.Decoder) -> Feed:
    decoder.add_symbol("BTCUSDT", 0, 1, 0)
    return Feed(decoder, rule, 1)


def test_feed_follows_the_futures_snapshot_rule() -> None:
    """Buffered diffs bridge onto the snapshot: u < lastUpdateId dropped, the diff with
    U <= lastUpdateId <= u applied -- also when its u equals lastUpdateId, which the spot rule
    drops (and then reports a false gap) -- then each diff's pu is the previous u, whatever
    its U; a broken chain invalidates the book until the next snapshot bridges again."""
    diffs = [_depth(90, 95, 80, [["10.0", "1"]], []),          # u < 100: dropped
             _depth(96, 100, 95, [["10.5", "2"]], []),         # U <= 100 <= u: the first
             _depth(104, 109, 100, [["10.5", "0"]], [["11.0", "4"]]),  # U skips: pu chains
             _depth(113, 120, 109, [["9.5", "3"]], [])]
    snap = _snapshot(100, [["10.0", "5"], ["9.0", "1"]], [["11.5", "7"]])
    url = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"

    fut = _feed("binance_futures", BinanceFuturesDecoder())
    for d in diffs[:2]:
        assert fut.feed(d, 1) == MessageKind.BOOK_UPDATE
    assert fut.state(0)["buffered"] == 2 and fut.state(0)["state"] == "no_data"
    assert fut.feed_rest(url, snap, 2) == MessageKind.BOOK_SNAPSHOT
    for d in diffs[2:]:
        fut.feed(d, 3)
    books: dict[int, dict[int, dict[int, int]]] = {}
    assert _apply(fut.take(), books) == [(0, 1)]
    assert books[0] == {0: {100: 5, 90: 1, 95: 3}, 1: {115: 7, 110: 4}}
    assert fut.gaps == 0 and fut.state(0)["state"] == "synced"
    assert fut.state(0)["last_seq"] == 120

    # a diff lost: pu is not the previous u -> invalid, buffered; the next snapshot resyncs
    fut.feed(_depth(125, 130, 124, [["9.5", "0"]], []), 4)
    assert fut.gaps == 1 and fut.state(0)["state"] == "waiting"
    fut.feed(_depth(131, 135, 130, [["8.0", "2"]], []), 5)
    assert _apply(fut.take(), books) == [(0, 0)]
    assert books[0][0] == {100: 5, 90: 1, 95: 3}                # nothing applied while invalid
    fut.feed_rest(url, _snapshot(132, [["9.9", "1"]], [["11.1", "1"]]), 6)
    assert _apply(fut.take(), books) == [(0, 1)]
    assert books[0] == {0: {99: 1, 80: 2}, 1: {111: 1}}         # snapshot + the bridging diff
    assert fut.state(0)["state"] == "synced" and fut.gaps == 1

    # the spot rule on the same futures messages: u == lastUpdateId dropped, a false gap
    spot = _feed("binance", BinanceDecoder())
    for d in diffs[:2]:
        spot.feed(d, 1)
    spot.feed_rest(url, snap, 2)
    for d in diffs[2:]:
        spot.feed(d, 3)
    assert spot.gaps > 0


def test_feed_keeps_its_chain_over_an_older_snapshot() -> None:
    """A REST snapshot that is no newer than the synced book (its answer came after diffs past
    its lastUpdateId) is dropped: no reset, no status change, the pu chain goes on; a newer one
    resyncs."""
    url = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
    fut = _feed("binance_futures", BinanceFuturesDecoder())
    fut.feed_rest(url, _snapshot(100, [["10.0", "5"]], [["11.5", "7"]]), 1)
    fut.feed(_depth(96, 104, 95, [["10.5", "2"]], []), 2)
    fut.feed(_depth(108, 112, 104, [["9.5", "3"]], []), 3)
    books: dict[int, dict[int, dict[int, int]]] = {}
    assert _apply(fut.take(), books) == [(0, 1)]
    dropped = fut.stale_dropped
    fut.feed_rest(url, _snapshot(104, [["1.0", "1"]], [["99.0", "1"]]), 4)   # older: dropped
    fut.feed(_depth(113, 118, 112, [["9.9", "1"]], []), 5)
    assert _apply(fut.take(), books) == []
    assert books[0] == {0: {100: 5, 105: 2, 95: 3, 99: 1}, 1: {115: 7}}
    assert fut.gaps == 0 and fut.stale_dropped == dropped + 1
    fut.feed_rest(url, _snapshot(130, [["9.0", "4"]], [["11.0", "4"]]), 6)   # newer: resync
    fut.feed(_depth(125, 133, 118, [["9.1", "1"]], []), 7)
    assert _apply(fut.take(), books) == [(0, 1)]
    assert books[0] == {0: {90: 4, 91: 1}, 1: {110: 4}}
    assert fut.gaps == 0 and fut.state(0)["last_seq"] == 133


def test_feed_refuses_an_unknown_rule_by_name() -> None:
    with pytest.raises(ValueError, match="rule"):
        Feed(BinanceFuturesDecoder(), "binance_perp", 1)
    with pytest.raises(TypeError):
        Feed(BinanceFuturesDecoder(), 3, 1)  # type: ignore[arg-type]


# -- the recording: verify and the feed -----------------------------------------------------

def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln]


def _ts(line: str) -> Decimal:
    head = line.split(": ", 1)[0]
    return Decimal(head.split(" ")[-1])


def _true_books(rest: list[str], ws: list[str], upto: int | None = None
                ) -> dict[str, dict[str, dict[Decimal, Decimal]]]:
    """Each symbol's book as Binance had it: its first REST snapshot, then every diff with
    u >= lastUpdateId in stream order (ws[:upto]).  Plain dicts of Decimal: no decoder."""
    books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
    snap: dict[str, int] = {}
    for ln in rest:
        sym = ln.split("symbol=")[1].split("&")[0]
        body = orjson.loads(ln.split(": ", 1)[1])
        snap[sym] = body["lastUpdateId"]
        books[sym] = {"b": {Decimal(p): Decimal(q) for p, q in body["bids"]},
                      "a": {Decimal(p): Decimal(q) for p, q in body["asks"]}}
    for ln in ws[:upto]:
        if '"depthUpdate"' not in ln:
            continue
        d = orjson.loads(ln.split(": ", 1)[1])["data"]
        if d["u"] < snap[d["s"]]:
            continue
        for side in ("b", "a"):
            for p, q in d[side]:
                if Decimal(q) == 0:
                    books[d["s"]][side].pop(Decimal(p), None)
                else:
                    books[d["s"]][side][Decimal(p)] = Decimal(q)
    return books


def _feed_recording(rest: list[str], ws: list[str]
                    ) -> tuple[Feed, dict[str, dict[str, dict[Decimal, Decimal]]], dict[str, int]]:
    """Replay the lines (merged by time, REST first at equal times) through a futures Feed;
    the books its events build, in Decimal."""
    decs = infer_decimals("binance_futures", read_messages([FUT_REST, FUT_WS]))
    index = {s: i for i, s in enumerate(sorted(decs))}
    dec = BinanceFuturesDecoder()
    for s, i in index.items():
        dec.add_symbol(s, i, *decs[s])
    feed = Feed(dec, "binance_futures", len(index))
    merged = sorted([(_ts(ln), 0, ln) for ln in rest] + [(_ts(ln), 1, ln) for ln in ws],
                    key=lambda x: (x[0], x[1]))
    text = "\n".join(ln for _, _, ln in merged) + "\n"
    feed.feed_text(text.encode(), final=True)
    raw: dict[int, dict[int, dict[int, int]]] = {}
    _apply(feed.take(), raw)
    out = {}
    for s, i in index.items():
        p, q = decs[s]
        book = raw.get(i, {0: {}, 1: {}})
        out[s] = {"b": {Decimal(k).scaleb(-p): Decimal(v).scaleb(-q) for k, v in book[0].items()},
                  "a": {Decimal(k).scaleb(-p): Decimal(v).scaleb(-q) for k, v in book[1].items()}}
    return feed, out, index


def test_verify_futures_recording_has_no_gaps(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["verify", str(FUT_REST), str(FUT_WS), "--venue", "binance_futures", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == EXIT_OK and report["ok"], report
    assert report["sequence_gaps"] == 0 and report["decode_errors"] == 0
    assert report["crossed_books"] == 0 and report["unknown_symbols"] == 0
    assert report["data_messages"]["book_snapshot"] == 4
    assert report["data_messages"]["book_update"] == sum(
        1 for ln in _lines(FUT_WS) if '"depthUpdate"' in ln)
    assert report["notes"] == []
    # the spot rule (U == previous u + 1) on the same recording: the false gaps of issue 13
    rc = main(["verify", str(FUT_REST), str(FUT_WS), "--venue", "binance", "--json"])
    spot = json.loads(capsys.readouterr().out)
    assert rc == EXIT_FAILED and spot["sequence_gaps"] > 100


def test_feed_builds_the_recorded_books() -> None:
    """The feed's books after the whole recording are Binance's: the snapshot plus every diff
    from lastUpdateId on, for all four symbols, all synced without a gap."""
    rest, ws = _lines(FUT_REST), _lines(FUT_WS)
    feed, books, index = _feed_recording(rest, ws)
    assert feed.gaps == 0 and feed.decode_errors == 0
    assert all(feed.state(i)["state"] == "synced" for i in index.values())
    want = _true_books(rest, ws)
    assert set(want) == set(index) and books == want
    assert all(len(b["b"]) > 10 and len(b["a"]) > 10 for b in books.values())


def _cut(ws: list[str], symbol: str, nth: int) -> tuple[list[str], int]:
    """ws without the nth depthUpdate of symbol after its snapshot; returns the lines and the
    index (in ws) of the removed line."""
    rest = _lines(FUT_REST)
    last = next(orjson.loads(ln.split(": ", 1)[1])["lastUpdateId"] for ln in rest
                if f"symbol={symbol}&" in ln)
    found = [i for i, ln in enumerate(ws) if '"depthUpdate"' in ln and f'"s":"{symbol}"' in ln
             and orjson.loads(ln.split(": ", 1)[1])["data"]["u"] >= last]
    i = found[nth]
    return ws[:i] + ws[i + 1:], i


def _snapshot_line(symbol: str, book: dict[str, dict[Decimal, Decimal]], last: int,
                   ts: Decimal) -> str:
    body = {"lastUpdateId": last, "E": 1, "T": 1,
            "bids": [[str(p), str(q)] for p, q in sorted(book["b"].items(), reverse=True)],
            "asks": [[str(p), str(q)] for p, q in sorted(book["a"].items())]}
    return (f"https://fapi.binance.com/fapi/v1/depth?symbol={symbol}&limit=1000 -> {ts}: "
            + orjson.dumps(body).decode())


def test_a_real_gap_is_found_and_resynced_on_its_symbol_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rest, ws = _lines(FUT_REST), _lines(FUT_WS)
    symbol = "AKROUSDT"
    cut, removed = _cut(ws, symbol, 5)
    # the gap shows at the symbol's next diff (its line number in the cut file)
    gap_line = 1 + next(i for i, ln in enumerate(cut) if i >= removed
                        and '"depthUpdate"' in ln and f'"s":"{symbol}"' in ln)
    # a later snapshot of that symbol: Binance's book after some diffs following the cut
    later = [i for i, ln in enumerate(ws) if i > removed + 1 and f'"s":"{symbol}"' in ln
             and '"depthUpdate"' in ln][10]
    true_then = _true_books(rest, ws, later + 1)[symbol]
    u_then = orjson.loads(ws[later].split(": ", 1)[1])["data"]["u"]
    snap = _snapshot_line(symbol, true_then, u_then, _ts(ws[later]))

    (tmp_path / "rest.txt").write_text("\n".join(rest) + "\n")
    (tmp_path / "ws.txt").write_text("\n".join(cut) + "\n")
    (tmp_path / "rest2.txt").write_text("\n".join([*rest, snap]) + "\n")

    # verify: exactly one gap, on that symbol, at the diff after the cut
    for files in (["rest.txt", "ws.txt"], ["rest2.txt", "ws.txt"]):
        rc = main(["verify", *(str(tmp_path / f) for f in files), "--venue",
                   "binance_futures", "--json"])
        report = json.loads(capsys.readouterr().out)
        assert rc == EXIT_FAILED and report["sequence_gaps"] == 1, report
        assert report["errors"] == [f"line {gap_line}: sequence gap on {symbol}"]
        assert report["crossed_books"] == 0 and report["decode_errors"] == 0

    # the feed: the symbol waits after the gap; with the later snapshot it resyncs and its book
    # is Binance's again; the other symbols never noticed
    feed, books, index = _feed_recording(rest, cut)
    assert feed.gaps == 1 and feed.state(index[symbol])["state"] == "waiting"
    feed, books, index = _feed_recording([*rest, snap], cut)
    assert feed.gaps == 1 and feed.state(index[symbol])["gaps"] == 1
    assert all(feed.state(i)["state"] == "synced" for i in index.values())
    assert books == _true_books(rest, ws)


def test_verify_messages_api_on_the_recording() -> None:
    msgs = read_messages([FUT_REST, FUT_WS])
    decs = infer_decimals("binance_futures", msgs)
    assert set(decs) == {"SUSHIUSDT", "AKROUSDT", "KEEPUSDT", "CTKUSDT"}
    report = verify_messages("BINANCE_FUTURES", msgs, decs)
    assert report.ok and report.venue == "binance_futures" and report.sequence_gaps == 0
    # stream only: still chain-checked, a note says what to pass
    report = verify_messages("binance_futures", [m for m in msgs if m.kind != "rest"], decs)
    assert report.ok and report.sequence_gaps == 0 and report.book_updates > 700


def test_recordings_are_told_apart(tmp_path: Path) -> None:
    """A futures recording is ``binance_futures`` by its hosts, by a ``/fapi/v1/`` REST path on
    any host, or by its diffs' ``pu``; spot stays ``binance``."""
    from hftcore.data.recordings import detect_venue

    assert detect_venue(FUT_WS) == detect_venue(FUT_REST) == "binance_futures"
    assert detect_venue(DATA / "spot_ws_2021-10-12.txt") == "binance"
    fut = tmp_path / "fut.jsonl"
    fut.write_bytes(DEPTH + b"\n")
    spot = tmp_path / "spot.jsonl"
    spot.write_bytes(DEPTH.replace(b',"pu":149', b"") + b"\n")
    assert (detect_venue(fut), detect_venue(spot)) == ("binance_futures", "binance")
    loop = tmp_path / "loop.txt"
    loop.write_text("http://127.0.0.1:5/fapi/v1/depth?symbol=BTCUSDT&limit=5 -> 1.5: "
                    + SNAPSHOT.decode() + "\n")
    assert detect_venue(loop) == "binance_futures"


# the USDⓈ-M user data stream's ORDER_TRADE_UPDATE, as documented (a NEW trailing stop), and a
# fill of a limit order in the same shape
ORDER_NEW = (b'{"e":"ORDER_TRADE_UPDATE","E":1568879465651,"T":1568879465650,"o":{"s":"BTCUSDT",'
             b'"c":"TEST","S":"SELL","o":"TRAILING_STOP_MARKET","f":"GTC","q":"0.001","p":"0",'
             b'"ap":"0","sp":"7103.04","x":"NEW","X":"NEW","i":8886774,"l":"0","z":"0","L":"0",'
             b'"N":"USDT","n":"0","T":1568879465651,"t":0,"b":"0","a":"9.91","m":false,'
             b'"R":false,"wt":"CONTRACT_PRICE","ot":"TRAILING_STOP_MARKET","ps":"LONG",'
             b'"cp":false,"AP":"7476.89","cr":"5.0","rp":"0"}}')
ORDER_FILL = (b'{"e":"ORDER_TRADE_UPDATE","T":1699564800000,"E":1699564800001,"o":{"s":"BTCUSDT",'
              b'"c":"mm-17","S":"BUY","o":"LIMIT","f":"GTX","q":"0.010","p":"45000.10",'
              b'"ap":"45000.10","sp":"0","x":"TRADE","X":"PARTIALLY_FILLED","i":123456789,'
              b'"l":"0.004","z":"0.004","L":"45000.10","n":"0.0072","N":"USDT",'
              b'"T":1699564800000,"t":987654321,"b":"0","a":"0","m":true,"R":false,'
              b'"wt":"CONTRACT_PRICE","ot":"LIMIT","ps":"BOTH","cp":false,"rp":"0","pP":false,'
              b'"si":0,"ss":0,"V":"NONE","pm":"NONE","gtd":0,"er":"0"}}')


def test_order_trade_update_is_an_order_record() -> None:
    from hftcore.decoders import OrderFlag

    dec = futures(2, 3)
    for msg in _variants(ORDER_NEW)[:3]:
        assert dec.decode(msg, 9) == MessageKind.ORDER and dec.n_orders == 1
        o = dec.orders[0]
        assert (int(o["side"]), int(o["size"]), int(o["price"]), int(o["filled_size"])) == \
            (1, 1, 0, 0)
        assert (o["client_order_id"], int(o["venue_order_id"])) == (b"TEST", 8886774)
        assert int(o["exchange_ts"]) == 1568879465651 * 10**6 == dec.exchange_ts
        assert int(o["transact_ts"]) == 1568879465651 * 10**6
        assert not int(o["flags"]) & OrderFlag.IS_FILL and o["fee_asset"] == b"USDT"
        del o
    fee_dec = 10
    for msg in _variants(ORDER_FILL)[:3]:
        assert dec.decode(msg) == MessageKind.ORDER
        o = dec.orders[0]
        src = orjson.loads(msg)["o"]
        assert int(o["side"]) == 0 and int(o["trade_id"]) == src["t"]
        assert int(o["last_fill_price"]) == int(Decimal(src["L"]).scaleb(2))
        assert int(o["last_fill_size"]) == int(Decimal(src["l"]).scaleb(3))
        assert int(o["size"]) == int(Decimal(src["q"]).scaleb(3))
        assert int(o["fee"]) == int(Decimal(src["n"]).scaleb(fee_dec))
        flags = OrderFlag(int(o["flags"]))
        assert OrderFlag.IS_FILL in flags and OrderFlag.IS_MAKER in flags
        assert int(o["exchange_ts"]) == 1699564800001 * 10**6
        del o
    # the spot decoder does not read it; bad or partial ones are refused, nothing kept
    spot = decoder_for("binance", [hftcore.Instrument("binance", "BTCUSDT", 2, 3)])
    assert spot.decode(ORDER_FILL) == MessageKind.OTHER and spot.n_orders == 0
    for bad in (ORDER_FILL.replace(b'"E":1699564800001,', b""),
                ORDER_FILL.replace(b'"i":123456789,', b""),
                ORDER_FILL.replace(b'"l":"0.004"', b'"l":0.004'),
                ORDER_FILL.replace(b'"S":"BUY"', b'"S":"UP"'),
                ORDER_FILL[:ORDER_FILL.index(b',"o":{')] + b"}",
                ORDER_FILL.replace(b'"E":1699564800001', b'"E":1699564800001,"E":1')):
        with pytest.raises(hftcore.DecodeError):
            dec.decode(bad)
        assert dec.n_orders == 0
    for n in range(0, len(ORDER_FILL), 7):
        with pytest.raises(hftcore.DecodeError):
            dec.decode(ORDER_FILL[:n])
    assert dec.decode(ORDER_FILL.replace(b"BTCUSDT", b"ETHUSDT")) == MessageKind.UNKNOWN_SYMBOL
    assert dec.n_orders == 0 and dec.symbol == "ETHUSDT"


def test_mutated_futures_messages_never_crash_or_half_fill() -> None:
    """Random byte edits of every futures shape here: each is refused with nothing kept, or
    accepted only when it is still valid JSON."""
    import random

    rng = random.Random(13)
    dec = futures(2, 3)
    msgs = [DEPTH, AGG_TRADE, BOOK_TICKER, ORDER_NEW, ORDER_FILL]
    accepted = refused = 0
    for _ in range(4000):
        b = bytearray(rng.choice(msgs))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            op = rng.randrange(4)
            if op == 0:
                b[i] = rng.randrange(256)
            elif op == 1:
                del b[i]
            elif op == 2:
                b.insert(i, rng.choice(b'{}[]",:0123456789-.eE tfn\\'))
            else:
                del b[i:]
            if not b:
                b = bytearray(b"{")
        data = bytes(b)
        try:
            dec.decode(data)
        except hftcore.DecodeError as exc:
            assert 0 <= exc.offset <= len(data)
            assert dec.n_deltas == dec.n_trades == dec.n_bbos == dec.n_orders == 0
            refused += 1
            continue
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError:
            json.loads(data)                        # numbers orjson refuses (past a double)
        accepted += 1
    assert refused > 1000 and accepted > 100


def test_a_late_snapshot_of_a_synced_symbol_is_no_gap(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A second REST snapshot whose answer arrives after diffs past its lastUpdateId (taken at
    diff j, recorded after diff j+3): the synced chain goes on, no false gap; a newer snapshot
    (recorded before its diffs) resyncs the book and the chain continues from it."""
    rest, ws = _lines(FUT_REST), _lines(FUT_WS)
    symbol = "SUSHIUSDT"
    diffs = [i for i, ln in enumerate(ws) if '"depthUpdate"' in ln and f'"s":"{symbol}"' in ln]
    j = diffs[40]
    book_j = _true_books(rest, ws, j + 1)[symbol]
    u_j = orjson.loads(ws[j].split(": ", 1)[1])["data"]["u"]
    late = _snapshot_line(symbol, book_j, u_j, _ts(ws[diffs[43]]))
    k = diffs[80]
    book_k = _true_books(rest, ws, k + 1)[symbol]
    u_k = orjson.loads(ws[k].split(": ", 1)[1])["data"]["u"]
    # newer than the book when it arrives: recorded before diff k (whose U <= u_k <= u)
    early = _snapshot_line(symbol, book_k, u_k, _ts(ws[k - 1]))
    (tmp_path / "rest.txt").write_text("\n".join([*rest, late, early]) + "\n")
    rc = main(["verify", str(tmp_path / "rest.txt"), str(FUT_WS), "--venue", "binance_futures",
               "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == EXIT_OK and report["sequence_gaps"] == 0, report["errors"]
    assert report["data_messages"]["book_snapshot"] == 6 and report["crossed_books"] == 0
