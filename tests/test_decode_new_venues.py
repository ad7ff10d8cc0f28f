"""Venue particulars of the decoders added by issue 13 (KuCoin, Deribit, Kraken Futures,
Bitfinex, HTX): private order / fill updates in the documented shapes, the venue's own message
forms, and the book-sync rules of ``Feed`` on small recordings built from those shapes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import hftcore
from hftcore._ext.feed import EV_DELTA, EV_STATUS, Feed
from hftcore.decoders import MessageKind, decoder_for

DATA = Path(__file__).parent / "data"
EX = DATA / "examples"


def _events(feed: Feed) -> list[tuple[int, int, int, int, int]]:
    """(kind, instrument, side, price, size) of the pending events."""
    ev = feed.take()
    return [(int(e["kind"]), int(e["instrument"]), int(e["side"]), int(e["price"]),
             int(e["size"])) for e in ev]


# ---------------------------------------------------------------------------------------------
# KuCoin
# ---------------------------------------------------------------------------------------------

def kucoin(*syms: str, pd: int = 4, sd: int = 8) -> hftcore.Decoder:
    return decoder_for("kucoin", [hftcore.Instrument("kucoin", s, pd, sd, instrument_id=i)
                                  for i, s in enumerate(syms)])


def kc_update(start: int, end: int, asks: list[tuple[str, str, int]],
              bids: list[tuple[str, str, int]], sym: str = "BTC-USDT") -> bytes:
    """A level2 update in the form KuCoin sends (data first)."""
    def side(rows: list[tuple[str, str, int]]) -> str:
        return ",".join(f'["{p}","{q}","{s}"]' for p, q, s in rows)

    return (f'{{"data":{{"sequenceStart":{start},"symbol":"{sym}","changes":{{"asks":['
            f'{side(asks)}],"bids":[{side(bids)}]}},"sequenceEnd":{end}}},'
            f'"subject":"trade.l2update","topic":"/market/level2:{sym}","type":"message"}}'
            ).encode()


def kc_snapshot(seq: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> bytes:
    return json.dumps({"code": "200000", "data": {"time": 1619378326628, "sequence": str(seq),
                                                  "bids": bids, "asks": asks}}).encode()


def test_kucoin_private_orders() -> None:
    d = kucoin("KCS-USDT", pd=3, sd=1)
    ex = EX / "kucoin"
    assert d.decode((ex / "ws_orders_open.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["status"] == hftcore.OrderStatus.ACCEPTED and o["side"] == hftcore.Side.BUY
    assert o["price"] == 937 and o["size"] == 1 and o["filled_size"] == 0
    assert o["venue_order_id"] == -1 and o["venue_order_id_text"] == b"5efab07953bdea00089965d2"
    assert o["client_order_id"] == b"1593487481000906"
    assert o["order_type"] == hftcore.OrderType.LIMIT and not o["flags"] & 1
    assert o["exchange_ts"] == 1593487481683297666
    assert d.decode((ex / "ws_orders_match.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["status"] == hftcore.OrderStatus.FILLED and o["side"] == hftcore.Side.SELL
    assert o["last_fill_price"] == 960 and o["last_fill_size"] == 1 and o["filled_size"] == 1
    assert o["flags"] & hftcore.OrderFlag.IS_FILL and not o["flags"] & hftcore.OrderFlag.IS_MAKER
    assert o["trade_id"] == -1 and o["flags"] & hftcore.OrderFlag.TRADE_ID_TEXT
    assert o["trade_id_text"] == b"5efab07a4ee4c7000a82d6d9"
    assert d.decode((ex / "ws_orders_filled.json").read_bytes()) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.FILLED
    assert d.decode((ex / "ws_orders_canceled.json").read_bytes()) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.CANCELED
    # a match that leaves a remainder is a partial fill, made as maker
    partial = (ex / "ws_orders_match.json").read_bytes().replace(
        b'"remainSize":"0"', b'"remainSize":"0.1"').replace(b'"taker"', b'"maker"')
    assert d.decode(partial) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.PARTIALLY_FILLED
    assert d.orders[0]["flags"] & hftcore.OrderFlag.IS_MAKER


def test_kucoin_key_order_does_not_matter() -> None:
    """The template (data first, as KuCoin sends it) and the documented form (type, topic,
    subject, then data with a time) give the same records."""
    d = kucoin("BTC-USDT", pd=1, sd=8)
    doc = (EX / "kucoin" / "ws_level2_update.json").read_bytes()
    assert d.decode(doc) == MessageKind.BOOK_UPDATE
    a = d.deltas.copy()
    assert (d.first_seq, d.last_seq) == (14103844, 14103847)
    assert list(a["sequence"]) == [14103845, 14103844, 14103847]
    assert list(a["side"]) == [1, 1, 0] and list(a["price"]) == [189060, 189073, 188919]
    assert all(a["exchange_ts"] == 1663747970273 * 10**6)
    msg = json.loads(doc)["data"]
    fast = kc_update(msg["sequenceStart"], msg["sequenceEnd"],
                     [(c[0], c[1], int(c[2])) for c in msg["changes"]["asks"]],
                     [(c[0], c[1], int(c[2])) for c in msg["changes"]["bids"]])
    assert d.decode(fast) == MessageKind.BOOK_UPDATE
    b = d.deltas.copy()
    for f in ("side", "price", "size", "sequence", "flags", "instrument_id"):
        assert list(a[f]) == list(b[f]), f
    assert d.first_seq == 14103844 and d.last_seq == 14103847


def test_kucoin_sequence_only_changes_and_bad_sequences() -> None:
    d = kucoin("BTC-USDT")
    # price "0": the change only moves the sequence (no record, the span still carries it)
    assert d.decode(kc_update(5, 6, [("0", "0", 5)], [("10", "1", 6)])) == MessageKind.BOOK_UPDATE
    assert d.n_deltas == 1 and d.n_spans == 1 and d.deltas[0]["sequence"] == 6
    assert d.decode(kc_update(7, 7, [("0", "0", 7)], [])) == MessageKind.BOOK_UPDATE
    assert d.n_deltas == 0 and d.n_spans == 1 and (d.first_seq, d.last_seq) == (7, 7)
    for bad in (kc_update(5, 6, [("10", "1", 7)], []),      # a change outside its message
                kc_update(6, 5, [], []),                       # an end before its start
                kc_update(5, 6, [("10", "1", 0)], []),         # a change without a sequence
                kc_update(5, 6, [("10", "-1", 5)], [])):       # a negative size
        with pytest.raises(hftcore.DecodeError) as exc:
            d.decode(bad)
        assert exc.value.venue == "kucoin" and d.n_deltas == d.n_spans == 0


def test_kucoin_control_messages() -> None:
    d = kucoin("BTC-USDT")
    assert d.decode(b'{"id":"NSkIrWGB1s","type":"welcome"}') == MessageKind.STATUS
    assert d.decode(b'{"id":"1","type":"ack"}') == MessageKind.SUBSCRIBED
    assert d.decode(b'{"id":"1","type":"pong"}') == MessageKind.HEARTBEAT
    assert d.decode(b'{"id":"1","type":"error","code":401,"data":"token is invalid"}') == \
        MessageKind.VENUE_ERROR
    with pytest.raises(hftcore.DecodeError):
        d.decode(b'{"id":"1","type":"ack","id":"2"}')        # a repeated key: not guessed
    with pytest.raises(hftcore.DecodeError):
        d.decode(b'{"id":"1","type":"ack","type":"error"}')
    # a REST error: the venue's error, no records
    assert d.decode_snapshot(b'{"code":"400100","msg":"Invalid request"}', "BTC-USDT") == \
        MessageKind.VENUE_ERROR
    assert d.n_deltas == 0
    assert d.decode_snapshot(kc_snapshot(3, [["1", "1"]], []), "ETH-USDT") == \
        MessageKind.UNKNOWN_SYMBOL


def test_kucoin_feed_bridges_the_snapshot_change_by_change() -> None:
    """Diffs before the REST snapshot are buffered; the diff that spans the snapshot applies
    only its changes after the snapshot's sequence; then sequenceStart == previous end + 1;
    a gap invalidates the book until the next snapshot."""
    d = kucoin("BTC-USDT")
    f = Feed(d, "kucoin", 1)
    f.feed(kc_update(99, 100, [("30", "1", 99)], [("10", "1", 100)]), 1)     # in the snapshot
    f.feed(kc_update(101, 103, [("30", "2", 101)], [("10", "2", 102), ("11", "1", 103)]), 2)
    assert _events(f) == [] and f.state(0)["buffered"] == 2
    body = kc_snapshot(101, [["10", "1"]], [["30", "1"]])
    assert f.feed_rest("https://api.kucoin.com/api/v3/market/orderbook/level2?symbol=BTC-USDT",
                       body, 3) == MessageKind.BOOK_SNAPSHOT
    ev = _events(f)
    deltas = [e[2:] for e in ev if e[0] == EV_DELTA]
    # the snapshot, then of the bridging diff only the changes 102 and 103 (101 is in it)
    assert deltas == [(0, 100000, 100000000), (1, 300000, 100000000),
                      (0, 100000, 200000000), (0, 110000, 100000000)]
    assert [e[4] for e in ev if e[0] == EV_STATUS] == [1]
    f.feed(kc_update(104, 104, [("31", "1", 104)], []), 4)
    assert [e[2:] for e in _events(f)] == [(1, 310000, 100000000)]
    f.feed(kc_update(106, 106, [("32", "1", 106)], []), 5)              # 105 is missing
    assert [(e[0], e[4]) for e in _events(f)] == [(EV_STATUS, 0)]
    assert f.gaps == 1 and f.state(0)["state"] == "waiting"
    f.feed(kc_update(107, 107, [("33", "1", 107)], []), 6)
    assert _events(f) == []
    f.feed_rest("https://api.kucoin.com/api/v3/market/orderbook/level2?symbol=BTC-USDT",
                kc_snapshot(106, [["10", "1"]], [["32", "1"]]), 7)
    ev = _events(f)
    assert (EV_STATUS, 0, 0, 0, 1) in ev and ev[-1][2:] == (1, 330000, 100000000)
    assert f.state(0)["state"] == "synced" and f.state(0)["last_seq"] == 107


def test_kucoin_verify_finds_a_gap(tmp_path: Path) -> None:
    from hftcore.decoders import read_recording
    from hftcore.verify import infer_decimals, verify_messages

    lines = (DATA / "kucoin/ws_2021-04-25_part1.txt").read_bytes().splitlines(keepends=True)
    i = next(i for i, ln in enumerate(lines) if b"trade.l2update" in ln and b"BCHSV" in ln
             and i > 1000)
    del lines[i]
    stream = tmp_path / "ws.txt"
    stream.write_bytes(b"".join(lines))
    msgs = sorted([*read_recording(DATA / "kucoin/rest_level2_2021-04-25.txt"),
                   *read_recording(stream)], key=lambda m: m.ts_ns)
    report = verify_messages("kucoin", msgs, infer_decimals("kucoin", msgs))
    assert report.sequence_gaps == 1 and not report.ok
    assert any("BCHSV-USDT" in e for e in report.errors)


def test_kucoin_decimals_are_exact() -> None:
    d = kucoin("BTC-USDT", pd=1)
    with pytest.raises(hftcore.DecodeError) as exc:
        d.decode(kc_update(1, 1, [("18906.35", "1", 1)], []))
    assert exc.value.code == hftcore.DecodeErrorCode.PRECISION and d.n_deltas == 0


# ---------------------------------------------------------------------------------------------
# Deribit
# ---------------------------------------------------------------------------------------------

def deribit(*syms: str, pd: int = 2, sd: int = 1) -> hftcore.Decoder:
    return decoder_for("deribit", [hftcore.Instrument("deribit", s, pd, sd, instrument_id=i)
                                   for i, s in enumerate(syms)])


def db_book(kind: str, change: int, prev: int | None, bids: list[list[object]],
            asks: list[list[object]], sym: str = "BTC-PERPETUAL") -> bytes:
    data: dict[str, object] = {"type": kind, "timestamp": 1626993724318, "instrument_name": sym,
                               "change_id": change, "bids": bids, "asks": asks}
    if prev is not None:
        data["prev_change_id"] = prev
    return json.dumps({"jsonrpc": "2.0", "method": "subscription",
                       "params": {"channel": f"book.{sym}.raw", "data": data}},
                      separators=(",", ":")).encode()


def test_deribit_private_orders_and_fills() -> None:
    d = deribit("BTC-PERPETUAL", pd=2, sd=0)
    ex = EX / "deribit"
    assert d.decode((ex / "ws_orders.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["status"] == hftcore.OrderStatus.ACCEPTED and o["side"] == hftcore.Side.BUY
    assert o["price"] == 905000 and o["size"] == 40 and o["filled_size"] == 0
    assert o["venue_order_id"] == 4008965646 and o["client_order_id"] == b""
    assert o["order_type"] == hftcore.OrderType.LIMIT and o["exchange_ts"] == 1590484645991 * 10**6
    assert d.decode((ex / "ws_user_trades_orders.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["flags"] & hftcore.OrderFlag.IS_FILL and not o["flags"] & hftcore.OrderFlag.IS_MAKER
    assert o["last_fill_price"] == 905250 and o["last_fill_size"] == 40
    assert o["trade_id"] == 48079338 and o["venue_order_id"] == 4008314325
    assert o["status"] == hftcore.OrderStatus.FILLED and o["order_type"] == hftcore.OrderType.MARKET
    assert o["fee"] == 224400 and o["fee_asset"] == b"BTC"      # 0.00002244 at 10 decimals
    # a partly filled open order, a market order's price, a cancelled one, a maker fill
    part = (ex / "ws_orders.json").read_bytes().replace(b'"filled_amount":0',
                                                         b'"filled_amount":10')
    assert d.decode(part) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.PARTIALLY_FILLED
    market = (ex / "ws_orders.json").read_bytes().replace(b'"price":9050.0',
                                                           b'"price":"market_price"')
    assert d.decode(market) == MessageKind.ORDER and d.orders[0]["price"] == 0
    gone = (ex / "ws_orders.json").read_bytes().replace(b'"open"', b'"cancelled"')
    assert d.decode(gone) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.CANCELED
    maker = (ex / "ws_user_trades_orders.json").read_bytes().replace(b'"T"', b'"M"').replace(
        b'"fee":0.00002244', b'"fee":-0.00000561')
    assert d.decode(maker) == MessageKind.ORDER
    assert d.orders[0]["flags"] & hftcore.OrderFlag.IS_MAKER and d.orders[0]["fee"] == -56100
    # user.changes: the order and its fills in one message
    changes = json.dumps({"jsonrpc": "2.0", "method": "subscription", "params": {
        "channel": "user.changes.BTC-PERPETUAL.raw",
        "data": {"instrument_name": "BTC-PERPETUAL", "positions": [],
                 "orders": [json.loads((ex / "ws_orders.json").read_bytes())["params"]["data"]],
                 "trades": json.loads((ex / "ws_user_trades_orders.json").read_bytes())
                 ["params"]["data"]}}}).encode()
    assert d.decode(changes) == MessageKind.ORDER and d.n_orders == 2
    assert not d.orders[0]["flags"] & 1 and d.orders[1]["flags"] & 1


def test_deribit_books_tickers_and_control_messages() -> None:
    d = deribit("BTC-PERPETUAL")
    ex = EX / "deribit"
    assert d.decode((ex / "ws_book_grouped.json").read_bytes()) == MessageKind.BOOK_SNAPSHOT
    assert d.last_seq == 109615 and d.prev_seq == -1 and d.has_seq
    assert [(int(r["side"]), int(r["price"]), int(r["size"])) for r in d.deltas] == \
        [(0, 16000, 400), (1, 16100, 200)]
    assert d.decode(db_book("change", 11, 10, [["delete", 100.5, 7.5], ["new", 100, 1]],
                            [["change", 101, 2]])) == MessageKind.BOOK_UPDATE
    assert (d.last_seq, d.prev_seq) == (11, 10)
    # a delete removes the level whatever amount is sent
    assert [(int(r["side"]), int(r["price"]), int(r["size"])) for r in d.deltas] == \
        [(0, 10050, 0), (0, 10000, 10), (1, 10100, 20)]
    for bad in (db_book("change", 11, None, [], []),              # a change without its prev
                db_book("update", 11, 10, [], []),                # an unknown type
                db_book("change", 11, 10, [["add", 1, 1]], []),   # an unknown action
                db_book("change", 11, 10, [["new", "1", 1]], []),  # a price as text
                db_book("change", 11, 10, [["new", 1.001, 1]], [])):  # too many decimals
        with pytest.raises(hftcore.DecodeError) as exc:
            d.decode(bad)
        assert exc.value.venue == "deribit" and d.n_deltas == 0
    assert d.decode((ex / "ws_quote.json").read_bytes()) == MessageKind.BBO
    b = d.bbos[0]
    assert (b["bid_price"], b["bid_size"], b["ask_price"], b["ask_size"]) == \
        (391497, 400, 399661, 500)
    empty = (ex / "ws_quote.json").read_bytes().replace(b'"best_bid_price":3914.97',
                                                         b'"best_bid_price":null')
    assert d.decode(empty) == MessageKind.BBO
    assert d.bbos[0]["flags"] & hftcore.BboFlag.NO_BID and d.bbos[0]["bid_size"] == 0
    assert d.decode((ex / "ws_heartbeat.json").read_bytes()) == MessageKind.HEARTBEAT
    assert d.decode(b'{"jsonrpc":"2.0","id":7,"result":["book.BTC-PERPETUAL.raw"]}') == \
        MessageKind.SUBSCRIBED
    assert d.decode(b'{"jsonrpc":"2.0","id":7,"error":{"code":11050,"message":"bad_request"}}') \
        == MessageKind.VENUE_ERROR
    with pytest.raises(hftcore.DecodeError):
        d.decode(b'{"jsonrpc":"2.0","id":7,"result":[],"result":[]}')
    # params before method, data before channel: the same records as the usual form
    msg = json.loads(db_book("snapshot", 5, None, [["new", 100, 1]], [["new", 101, 2]]))
    reordered = json.dumps({"params": {"data": msg["params"]["data"],
                                       "channel": msg["params"]["channel"]},
                            "method": "subscription", "jsonrpc": "2.0"}).encode()
    assert d.decode(reordered) == MessageKind.BOOK_SNAPSHOT
    a = d.deltas.copy()
    assert d.decode(db_book("snapshot", 5, None, [["new", 100, 1]], [["new", 101, 2]])) == \
        MessageKind.BOOK_SNAPSHOT
    assert a.tobytes() == d.deltas.tobytes()


def test_deribit_feed_chains_change_ids() -> None:
    f = Feed(deribit("BTC-PERPETUAL"), "deribit", 1)
    f.feed(db_book("change", 9, 8, [["new", 99, 1]], []), 1)          # before any snapshot
    assert _events(f) == [] and f.stale_dropped == 1
    f.feed(db_book("snapshot", 10, None, [["new", 100, 1]], [["new", 101, 1]]), 2)
    assert [e[0] for e in _events(f)] == [EV_DELTA, EV_DELTA, EV_STATUS]
    f.feed(db_book("change", 12, 10, [["change", 100, 2]], []), 3)
    assert [e[2:] for e in _events(f)] == [(0, 10000, 20)]
    f.feed(db_book("change", 14, 13, [["delete", 100, 0]], []), 4)   # 12 -> 13 missing
    assert [(e[0], e[4]) for e in _events(f)] == [(EV_STATUS, 0)] and f.gaps == 1
    f.feed(db_book("change", 15, 14, [["new", 98, 1]], []), 5)       # waits for a snapshot
    assert _events(f) == []
    f.feed(db_book("snapshot", 20, None, [["new", 97, 1]], []), 6)
    assert f.state(0)["state"] == "synced" and f.state(0)["last_seq"] == 20


# ---------------------------------------------------------------------------------------------
# Kraken Futures
# ---------------------------------------------------------------------------------------------

def kraken_futures(*syms: str, pd: int = 2, sd: int = 0) -> hftcore.Decoder:
    return decoder_for("kraken_futures", [hftcore.Instrument("kraken_futures", s, pd, sd,
                                                             instrument_id=i)
                                          for i, s in enumerate(syms)], fee_decimals=12)


def kf_book(seq: int, side: str, price: str, qty: str, sym: str = "PI_XBTUSD") -> bytes:
    return (f'{{"feed":"book","product_id":"{sym}","side":"{side}","seq":{seq},"price":{price},'
            f'"qty":{qty},"timestamp":1626994927744}}').encode()


def kf_snapshot(seq: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
                sym: str = "PI_XBTUSD") -> bytes:
    def side(rows: list[tuple[str, str]]) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in rows)

    return (f'{{"feed":"book_snapshot","product_id":"{sym}","timestamp":1626994925378,'
            f'"seq":{seq},"tickSize":null,"bids":[{side(bids)}],"asks":[{side(asks)}]}}').encode()


def test_kraken_futures_private_orders_and_fills() -> None:
    d = kraken_futures("PI_XBTUSD", "PI_ETHUSD", "FI_XBTUSD_200925")
    ex = EX / "kraken_futures"
    assert d.decode((ex / "ws_orders_delta.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["status"] == hftcore.OrderStatus.ACCEPTED and o["side"] == hftcore.Side.SELL
    assert o["price"] == 1064000 and o["size"] == 304 and o["filled_size"] == 0
    assert o["venue_order_id_text"] == b"59302619-41d2-4f0b-941f-7e7914760ad3"
    assert o["order_type"] == hftcore.OrderType.LIMIT
    assert o["instrument_id"] == 0 and o["exchange_ts"] == 1567702877410 * 10**6
    # a cancel notice names only the order: its record names no instrument
    assert d.decode((ex / "ws_orders_cancel.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["status"] == hftcore.OrderStatus.CANCELED
    assert o["instrument_id"] == hftcore.decoders.NO_INSTRUMENT_ID == 0xFFFFFFFF
    assert o["venue_order_id_text"] == b"660c6b23-8007-48c1-a7c9-4893f4572e8c"
    assert d.decode((ex / "ws_orders_snapshot.json").read_bytes()) == MessageKind.ORDER
    assert d.n_orders == 2
    assert [int(o["order_type"]) for o in d.orders] == [hftcore.OrderType.STOP_LIMIT,
                                                         hftcore.OrderType.LIMIT]
    assert all(d.orders["status"] == hftcore.OrderStatus.ACCEPTED)
    partial = (ex / "ws_orders_delta.json").read_bytes().replace(
        b'"filled":0.0', b'"filled":4.0').replace(b"new_placed_order_by_user", b"partial_fill")
    assert d.decode(partial) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.PARTIALLY_FILLED
    assert d.orders[0]["filled_size"] == 4
    odd = (ex / "ws_orders_delta.json").read_bytes().replace(b"new_placed_order_by_user",
                                                              b"a_reason_never_seen")
    assert d.decode(odd) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.UNKNOWN        # never guessed
    assert d.decode((ex / "ws_fills_orders.json").read_bytes()) == MessageKind.ORDER
    maker, taker = d.orders[0], d.orders[1]
    assert maker["flags"] & hftcore.OrderFlag.IS_MAKER and maker["side"] == hftcore.Side.BUY
    assert maker["last_fill_price"] == 1093750 and maker["last_fill_size"] == 5000
    assert maker["fee"] == -91428570 and maker["fee_asset"] == b"BTC"    # a rebate
    assert maker["status"] == hftcore.OrderStatus.FILLED and maker["trade_id"] == -1
    assert maker["trade_id_text"] == b"cad76f07-814e-4dc6-8478-7867407b6bff"
    assert not taker["flags"] & hftcore.OrderFlag.IS_MAKER and taker["fee"] == 6855889210


def test_kraken_futures_feeds() -> None:
    d = kraken_futures("PI_XBTUSD", pd=1, sd=0)
    ex = EX / "kraken_futures"
    assert d.decode((ex / "ws_ticker.json").read_bytes()) == MessageKind.BBO
    b = d.bbos[0]
    assert (b["bid_price"], b["bid_size"], b["ask_price"], b["ask_size"]) == \
        (280355, 2000, 280365, 3000) and b["flags"] == 0
    lite = b'{"feed":"ticker_lite","product_id":"PI_XBTUSD","bid":439.3,"ask":439.6}'
    assert d.decode(lite) == MessageKind.BBO and d.bbos[0]["flags"] & hftcore.BboFlag.NO_SIZE
    assert d.decode((ex / "ws_heartbeat.json").read_bytes()) == MessageKind.HEARTBEAT
    assert d.decode(b'{"event":"info","version":1}') == MessageKind.STATUS
    assert d.decode(b'{"event":"subscribed","feed":"book","product_ids":["PI_XBTUSD"]}') == \
        MessageKind.SUBSCRIBED
    assert d.decode(b'{"event":"error","message":"Invalid feed"}') == MessageKind.VENUE_ERROR
    # the book level form (template) and the same keys in another order agree
    assert d.decode(kf_book(7, "sell", "2004.5", "4787.0")) == MessageKind.BOOK_UPDATE
    a = d.deltas.copy()
    assert (d.last_seq, int(a[0]["side"]), int(a[0]["price"]), int(a[0]["size"])) == \
        (7, 1, 20045, 4787)
    reordered = (b'{"qty":4787.0,"timestamp":1626994927744,"price":2004.5,"seq":7,'
                 b'"side":"sell","product_id":"PI_XBTUSD","feed":"book"}')
    assert d.decode(reordered) == MessageKind.BOOK_UPDATE
    assert a.tobytes() == d.deltas.tobytes()
    for bad in (kf_book(7, "sell", '"2004.5"', "1"),        # a price as text
                kf_book(7, "up", "2004.5", "1"),            # not a side
                kf_book(7, "sell", "2004.55", "1"),         # more decimals than the instrument
                kf_book(7, "sell", "-2004.5", "1"),         # a negative price
                kf_book(7, "sell", "2004.5", "1e400")):     # out of range
        with pytest.raises(hftcore.DecodeError) as exc:
            d.decode(bad)
        assert exc.value.venue == "kraken_futures" and d.n_deltas == 0
    # trade history on subscription is flagged, a new trade is not
    hist = (b'{"feed":"trade_snapshot","product_id":"PI_XBTUSD","trades":[{"feed":"trade",'
            b'"product_id":"PI_XBTUSD","uid":"u1","side":"buy","type":"fill","seq":1,'
            b'"time":1626994887094,"qty":50.0,"price":439.2}]}')
    assert d.decode(hist) == MessageKind.TRADE
    assert d.trades[0]["flags"] & hftcore.TradeFlag.SNAPSHOT
    assert d.decode(hist[hist.index(b'{"feed":"trade",'):-2]) == MessageKind.TRADE
    assert not d.trades[0]["flags"] & hftcore.TradeFlag.SNAPSHOT


def test_kraken_futures_feed_chains_seq_and_skips_trade_history() -> None:
    f = Feed(kraken_futures("PI_XBTUSD", pd=1), "kraken_futures", 1)
    f.feed(kf_snapshot(10, [("100.0", "5")], [("100.5", "7")]), 1)
    assert [e[0] for e in _events(f)] == [EV_DELTA, EV_DELTA, EV_STATUS]
    f.feed(kf_book(11, "buy", "100.0", "0"), 2)
    assert [e[2:] for e in _events(f)] == [(0, 1000, 0)]
    f.feed(kf_book(13, "buy", "99.5", "1"), 3)                 # 12 missing
    assert [(e[0], e[4]) for e in _events(f)] == [(EV_STATUS, 0)] and f.gaps == 1
    f.feed(b'{"feed":"trade_snapshot","product_id":"PI_XBTUSD","trades":[{"feed":"trade",'
           b'"product_id":"PI_XBTUSD","uid":"u1","side":"buy","type":"fill","seq":1,'
           b'"time":1626994887094,"qty":50.0,"price":439.2}]}', 4)
    assert _events(f) == []                                    # history is not replayed
    f.feed(kf_snapshot(20, [("100.0", "5")], []), 5)
    assert f.state(0)["state"] == "synced" and f.state(0)["last_seq"] == 20


def test_templates_match_their_literals() -> None:
    """Every template literal is compared over exactly its own length (a wrong count compares
    the NUL after it, and the template never matches: correct, but slow)."""
    import re

    src = Path(hftcore.__file__).parent / "_ext"
    checked = 0
    for pxi in sorted(src.glob("decode_*.pxi")):
        text = pxi.read_text()
        for m in re.finditer(r"fast_literal\([^,]+,[^,]+,\s*((?:b'[^']*'|b\"[^\"]*\"|\s+if\s+\w+"
                             r"\s+else\s+)+),\s*(\d+)\)", text):
            for lit in re.findall(r"b'([^']*)'|b\"([^\"]*)\"", m.group(1)):
                word = lit[0] or lit[1]
                assert len(word.encode()) == int(m.group(2)), (pxi.name, word)
                checked += 1
    assert checked >= 30


# ---------------------------------------------------------------------------------------------
# HTX
# ---------------------------------------------------------------------------------------------

def htx(*syms: str, pd: int = 2, sd: int = 6) -> hftcore.Decoder:
    return decoder_for("htx", [hftcore.Instrument("htx", s, pd, sd, instrument_id=i)
                               for i, s in enumerate(syms)], fee_decimals=8)


def gz(text: bytes) -> bytes:
    return gzip.compress(text)


def htx_mbp(seq: int, prev: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
            sym: str = "btcusdt") -> bytes:
    def side(rows: list[tuple[str, str]]) -> str:
        return ",".join(f"[{p},{q}]" for p, q in rows)

    return gz(f'{{"ch":"market.{sym}.mbp.150","ts":1573199608679,"tick":{{"seqNum":{seq},'
              f'"prevSeqNum":{prev},"bids":[{side(bids)}],"asks":[{side(asks)}]}}}}'.encode())


def htx_refresh(seq: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
                sym: str = "btcusdt") -> bytes:
    def side(rows: list[tuple[str, str]]) -> str:
        return ",".join(f"[{p},{q}]" for p, q in rows)

    return gz(f'{{"ch":"market.{sym}.mbp.refresh.150","ts":1573199608679,"tick":{{"seqNum":'
              f'{seq},"bids":[{side(bids)}],"asks":[{side(asks)}]}}}}'.encode())


def test_htx_gzip_frames_and_text_decode_alike() -> None:
    d = htx("btcusdt")
    text = (EX / "htx" / "ws_mbp_update.json").read_bytes().strip()
    assert d.decode(text) == MessageKind.BOOK_UPDATE
    plain = d.deltas.copy()
    assert (d.last_seq, d.prev_seq, d.has_seq) == (100020146795, 100020146794, True)
    for level in (1, 9):                                    # any gzip compression level
        assert d.decode(gzip.compress(text, level)) == MessageKind.BOOK_UPDATE
        assert d.deltas.tobytes() == plain.tobytes()
    assert [(int(r["side"]), int(r["price"]), int(r["size"])) for r in plain] == \
        [(0, 61837, 71594000), (0, 42333, 0), (1, 668196, 41100000)]
    # a frame larger than the first inflate buffer (64 KiB) grows it
    big = b'{"ch":"market.btcusdt.mbp.refresh.150","ts":1,"tick":{"seqNum":5,"bids":[' + \
        b",".join(b"[%d.5,1]" % (100000 - i) for i in range(20000)) + b'],"asks":[]}}'
    assert len(big) > 65536
    assert d.decode(gz(big)) == MessageKind.BOOK_SNAPSHOT and d.n_deltas == 20000


def test_htx_bad_gzip_is_a_clear_error() -> None:
    d = htx("btcusdt")
    good = gz((EX / "htx" / "ws_bbo.json").read_bytes())
    for bad in (good[:-6],                                   # truncated (no trailer)
                good[:10] + bytes(b ^ 0x55 for b in good[10:30]) + good[30:],   # damaged
                good + b"junk",                              # data after the gzip member
                b"\x1f\x8b",                                  # a header only
                gz(b'{"ping": 1'),                            # inflates to broken JSON
                gz(b"")):
        with pytest.raises(hftcore.DecodeError) as exc:
            d.decode(bad)
        assert exc.value.venue == "htx" and d.n_bbos == 0 and d.ping is None
    # a frame that inflates past the 16 MiB bound is refused, not inflated without end
    bomb = gz(b'{"ping":1' + b" " * (17 << 20) + b"}")
    with pytest.raises(hftcore.DecodeError) as exc:
        d.decode(bomb)
    assert exc.value.code == hftcore.DecodeErrorCode.TOO_LONG
    assert d.decode(good) == MessageKind.BBO                 # and the decoder goes on


def test_htx_ping_is_answered() -> None:
    d = htx("btcusdt")
    assert d.decode(gz(b'{"ping":1618678073643}')) == MessageKind.HEARTBEAT
    assert d.ping == 1618678073643 and d.pong() == b'{"pong":1618678073643}'
    assert d.decode((EX / "htx" / "ws_heartbeat_v2_ping.json").read_bytes()) == \
        MessageKind.HEARTBEAT
    assert d.ping == 1575537778295
    assert json.loads(d.pong()) == {"action": "pong", "data": {"ts": 1575537778295}}
    assert d.decode(gz(b'{"id":1,"status":"ok","subbed":"market.btcusdt.bbo","ts":1}')) == \
        MessageKind.SUBSCRIBED and d.ping is None and d.pong() is None
    assert d.decode(b'{"status":"error","err-code":"bad-request","err-msg":"invalid topic",'
                    b'"ts":1}') == MessageKind.VENUE_ERROR
    assert d.decode(b'{"action":"sub","code":200,"ch":"orders#btcusdt"}') == \
        MessageKind.SUBSCRIBED
    assert d.decode(b'{"action":"sub","code":2002,"ch":"orders#btcusdt"}') == \
        MessageKind.VENUE_ERROR
    for bad in (b'{"ping":"1"}', b'{"ping":-1}', b'{"ping":1,"ping":2}', b'{"ping":1.5}',
                b'{"action":"ping","data":{}}', b'{"action":"ping"}',
                # a whole ping followed by trailing bytes (found by the fuzzer): no answer
                b'{"action":"ping","data":{"ts":1575537778295}}1575537778295}}',
                b'{"ping":7}x', gz(b'{"ping":7} 1')):
        with pytest.raises(hftcore.DecodeError):
            d.decode(bad)
        assert d.ping is None


def test_htx_feeds_and_private_orders() -> None:
    d = htx("btcusdt")
    ex = EX / "htx"
    assert d.decode(gz((ex / "ws_bbo.json").read_bytes())) == MessageKind.BBO
    b = d.bbos[0]
    assert (b["bid_price"], b["bid_size"], b["ask_price"], b["ask_size"]) == \
        (4720081, 200000, 4720082, 46585)
    assert d.decode((ex / "ws_orders_creation.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["status"] == hftcore.OrderStatus.ACCEPTED and o["side"] == hftcore.Side.BUY
    assert o["order_type"] == hftcore.OrderType.LIMIT and o["client_order_id"] == b"abc123"
    assert o["price"] == 1000000 and o["size"] == 1000 and o["venue_order_id"] == 27163533
    assert d.decode((ex / "ws_orders_trade.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["side"] == hftcore.Side.SELL and o["flags"] & hftcore.OrderFlag.IS_FILL
    assert o["flags"] & hftcore.OrderFlag.IS_MAKER                    # aggressor false
    assert o["status"] == hftcore.OrderStatus.PARTIALLY_FILLED and o["trade_id"] == 301
    assert (o["last_fill_price"], o["last_fill_size"], o["filled_size"]) == \
        (1000050, 4000, 4000)
    assert d.decode((ex / "ws_orders_cancellation.json").read_bytes()) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.CANCELED
    assert d.decode((ex / "ws_orders_clearing.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["fee"] == 182400 and o["fee_asset"] == b"btc" and o["flags"] & \
        hftcore.OrderFlag.HAS_FEE and not o["flags"] & hftcore.OrderFlag.IS_MAKER
    assert o["last_fill_size"] == 960000 and o["side"] == hftcore.Side.BUY
    # a trade event without its price is refused, not half-filled
    broken = (ex / "ws_orders_trade.json").read_bytes().replace(b'"tradePrice":"10000.5",', b"")
    with pytest.raises(hftcore.DecodeError):
        d.decode(broken)
    assert d.n_orders == 0


def test_htx_feed_chains_mbp_seqnums() -> None:
    f = Feed(htx("btcusdt"), "htx", 1)
    f.feed(htx_mbp(11, 10, [("100.5", "1")], []), 1)
    assert _events(f) == []                                    # nothing before a snapshot
    f.feed(htx_refresh(10, [("100.0", "5")], [("100.5", "7")]), 2)
    assert [e[0] for e in _events(f)] == [EV_DELTA, EV_DELTA, EV_STATUS]
    f.feed(htx_mbp(11, 10, [("100.0", "0")], []), 3)
    assert [e[2:] for e in _events(f)] == [(0, 10000, 0)]
    f.feed(htx_mbp(13, 12, [("99.5", "1")], []), 4)            # 12 missing
    assert [(e[0], e[4]) for e in _events(f)] == [(EV_STATUS, 0)] and f.gaps == 1
    f.feed(htx_refresh(20, [("100.0", "5")], []), 5)
    assert f.state(0)["state"] == "synced" and f.state(0)["last_seq"] == 20
    f.feed(htx_mbp(21, 20, [], [("101", "2")]), 6)
    assert [e[2:] for e in _events(f)][-1] == (1, 10100, 2000000) and f.gaps == 1


# ---------------------------------------------------------------------------------------------
# Bitfinex
# ---------------------------------------------------------------------------------------------

BFX_REC = DATA / "bitfinex" / "ws_v2_2021-04-17.txt"


def bitfinex(*syms: str, pd: int = 2, sd: int = 8) -> hftcore.Decoder:
    return decoder_for("bitfinex", [hftcore.Instrument("bitfinex", s, pd, sd, instrument_id=i)
                                    for i, s in enumerate(syms)])


def bfx_sub(chan: int, channel: str, sym: str = "tBTCUSD") -> bytes:
    extra = ',"prec":"P0","freq":"F0","len":"25"' if channel == "book" else ""
    return (f'{{"event":"subscribed","channel":"{channel}","chanId":{chan},"symbol":"{sym}"'
            f'{extra},"pair":"{sym[1:]}"}}').encode()


def test_bitfinex_recording_matches_the_wire() -> None:
    """Every book level of the recording: the amount's sign gives the side, count 0 deletes
    (size 0), the exact decimal text scaled (Decimal, never float); every channel message's
    last element is the connection's sequence number, and it is last_seq."""
    from decimal import Decimal

    from hftcore.data.recordings import infer_instruments
    from hftcore.decoders import read_recording

    insts = infer_instruments([BFX_REC])
    dec = {i.symbol: (i.price_decimals, i.size_decimals) for i in insts}
    d = decoder_for("bitfinex", [hftcore.Instrument("bitfinex", i.symbol, *dec[i.symbol],
                                                    instrument_id=n)
                                 for n, i in enumerate(insts)])
    ids = {i.symbol: n for n, i in enumerate(insts)}
    chans: dict[int, tuple[str, str]] = {}
    levels = seqs = 0
    for m in read_recording(BFX_REC):
        if m.kind != "recv":
            continue
        kind = d.decode(m.data)
        msg = json.loads(m.data, parse_float=Decimal)
        if isinstance(msg, dict):
            if msg.get("event") == "subscribed":
                chans[msg["chanId"]] = (msg["channel"], msg["symbol"])
            continue
        assert d.has_seq and d.last_seq == msg[-1]
        seqs += 1
        if msg[1] == "hb" or chans.get(msg[0], ("",))[0] != "book":
            continue
        sym = chans[msg[0]][1]
        pd, sd = dec[sym]
        rows = msg[1] if isinstance(msg[1][0], list) else [msg[1]]
        want = [(0 if a > 0 else 1, int(p * 10**pd), 0 if c == 0 else int(abs(a) * 10**sd))
                for p, c, a in rows]
        got = [(int(r["side"]), int(r["price"]), int(r["size"])) for r in d.deltas]
        assert got == want
        assert kind == (MessageKind.BOOK_SNAPSHOT if isinstance(msg[1][0], list) else
                        MessageKind.BOOK_UPDATE)
        assert all(d.deltas["instrument_id"] == ids[sym])
        assert all(d.deltas["sequence"] == msg[-1])        # the message's sequence, on each
        levels += len(rows)
    assert levels > 1000 and seqs > 1000 and d.counts["errors"] == 0


def test_bitfinex_channels_trades_and_ticker() -> None:
    d = bitfinex("tBTCUSD", pd=1, sd=8)
    assert d.decode(b'{"event":"info","version":2,"platform":{"status":1}}') == \
        MessageKind.STATUS
    assert d.decode(b'{"event":"conf","status":"OK","flags":65536}') == MessageKind.SUBSCRIBED
    # data of a channel not subscribed (yet) is not guessed at
    assert d.decode(b"[17,[[7,1618665870435,0.5,60000.5]],3]") == MessageKind.OTHER
    for chan, channel in ((17, "trades"), (18, "book"), (19, "ticker")):
        assert d.decode(bfx_sub(chan, channel)) == MessageKind.SUBSCRIBED
    assert d.channels == {17: ("trades", "tBTCUSD"), 18: ("book", "tBTCUSD"),
                          19: ("ticker", "tBTCUSD")}
    assert d.decode(b"[17,[[7,1618665870435,0.5,60000.5],[6,1618665870000,-0.25,60001]],4]"
                    ) == MessageKind.TRADE
    t = d.trades
    assert [(int(x["side"]), int(x["price"]), int(x["size"]), int(x["trade_id"])) for x in t] \
        == [(0, 600005, 50000000, 7), (1, 600010, 25000000, 6)]
    assert all(t["flags"] & hftcore.TradeFlag.SNAPSHOT) and d.last_seq == 4
    assert d.decode(b'[17,"te",[8,1618665871000,-1.5,59999.9],5]') == MessageKind.TRADE
    assert d.trades[0]["side"] == hftcore.Side.SELL and d.trades[0]["size"] == 150000000
    assert not d.trades[0]["flags"] & hftcore.TradeFlag.SNAPSHOT
    assert d.decode(b'[17,"tu",[8,1618665871000,-1.5,59999.9],6]') == MessageKind.OTHER
    assert d.n_trades == 0                                  # the same trade: not counted twice
    assert d.decode(b"[19,[60000.1,12.5,60000.2,3.25,-100,-0.01,60000.1,1000,61000,59000],7]"
                    ) == MessageKind.BBO
    b = d.bbos[0]
    assert (b["bid_price"], b["ask_price"]) == (600001, 600002)
    assert b["flags"] & hftcore.BboFlag.NO_SIZE and b["bid_size"] == b["ask_size"] == 0
    assert d.decode(b'[18,"hb",8]') == MessageKind.HEARTBEAT and d.last_seq == 8
    assert d.decode(b'[18,"cs",-1234567,9]') == MessageKind.STATUS and d.checksum == -1234567
    assert d.decode(b'{"event":"unsubscribed","status":"OK","chanId":19}') == \
        MessageKind.SUBSCRIBED
    assert 19 not in d.channels
    # a refused (un)subscription changes no channel: trailing bytes after a whole event
    before = d.channels
    for bad in (bfx_sub(20, "book") + b"x", bfx_sub(20, "book") + b"}",
                b'{"event":"unsubscribed","status":"OK","chanId":17} 1'):
        with pytest.raises(hftcore.DecodeError):
            d.decode(bad)
        assert d.channels == before, bad
    d.reset_channels()
    assert d.channels == {}


def test_bitfinex_bad_levels_are_refused() -> None:
    d = bitfinex("tBTCUSD", pd=1, sd=2)
    d.decode(bfx_sub(18, "book"))
    for bad in (b"[18,[60000,1,0],5]",                      # amount 0: no side
                b"[18,[60000,-1,1],5]",                     # a negative count
                b"[18,[-60000,1,1],5]",                     # a negative price
                b'[18,["60000",1,1],5]',                    # a price as text
                b"[18,[60000.05,1,1],5]",                   # more decimals than the instrument
                b"[18,[60000,1,1,7],5]",                    # four elements
                b"[18,[60000,1],5]",                        # two
                b"[18,[[60000,0,1]],5]",                    # a deletion inside a snapshot
                b"[18,[60000,1,1],5,6]",                    # an element after the sequence
                b"[18,[60000,1,1],-5]",                     # a negative sequence
                b'[18,[60000,1,1],"5"]',                    # a sequence as text
                b'[18,"xx",5]',                             # an unknown word
                b"[18,[60000,1,92233720368547758.08],5]"):  # past int64
        with pytest.raises(hftcore.DecodeError) as exc:
            d.decode(bad)
        assert exc.value.venue == "bitfinex" and d.n_deltas == 0, bad
    assert d.decode(b"[18,[60000,0,-1],5]") == MessageKind.BOOK_UPDATE   # delete an ask
    assert [(int(r["side"]), int(r["price"]), int(r["size"])) for r in d.deltas] == \
        [(1, 600000, 0)]


def test_bitfinex_feed_resyncs_every_book_on_a_connection_gap() -> None:
    d = bitfinex("tBTCUSD", "tETHUSD", pd=1, sd=0)
    f = Feed(d, "bitfinex", 2)
    f.feed(bfx_sub(18, "book"), 1)
    f.feed(bfx_sub(28, "book", "tETHUSD"), 2)
    f.feed(b"[18,[[100,1,5],[101,1,-7]],1]", 3)
    f.feed(b"[28,[[20,2,3]],2]", 4)
    assert [e[0] for e in _events(f)] == [EV_DELTA, EV_DELTA, EV_STATUS, EV_DELTA, EV_STATUS]
    f.feed(b"[18,[100,0,1],3]", 5)                          # count 0: delete the bid
    assert [e[2:] for e in _events(f)] == [(0, 1000, 0)]
    f.feed(b'[28,"hb",4]', 6)
    f.feed(b"[18,[99,1,2],6]", 7)                           # 5 missing: of another book, maybe
    ev = _events(f)
    assert [(e[0], e[1], e[4]) for e in ev if e[0] == EV_STATUS] == [(EV_STATUS, 0, 0),
                                                                     (EV_STATUS, 1, 0)]
    assert f.state(0)["state"] == f.state(1)["state"] == "waiting"
    f.feed(b"[18,[[100,1,5]],7]", 8)                        # a snapshot syncs its own book
    assert f.state(0)["state"] == "synced" and f.state(1)["state"] == "waiting"


def test_bitfinex_new_connection_restarts_the_sequence() -> None:
    """The "info" event that opens every Bitfinex connection: the decoder forgets the old
    channel ids, the feed's connection sequence starts again (no gap counted) and every book
    waits for the new connection's snapshot; a maintenance "info" (no version) changes
    nothing."""
    info = b'{"event":"info","version":2,"serverId":"x","platform":{"status":1}}'
    d = bitfinex("tBTCUSD", pd=1, sd=0)
    f = Feed(d, "bitfinex", 1)
    assert f.feed(info, 1) == MessageKind.STATUS and d.new_connection
    f.feed(bfx_sub(18, "book"), 2)
    f.feed(b"[18,[[100,1,5],[101,1,-7]],1]", 3)
    f.feed(b"[18,[100,0,1],2]", 4)
    assert f.state(0)["state"] == "synced"
    _events(f)
    assert f.feed(b'{"event":"info","code":20051,"msg":"restart"}', 5) == MessageKind.STATUS
    assert not d.new_connection and d.channels == {18: ("book", "tBTCUSD")}
    with pytest.raises(hftcore.DecodeError):
        d.decode(info + b"x")                            # refused whole: nothing forgotten
    assert not d.new_connection and d.channels == {18: ("book", "tBTCUSD")}
    # the reconnect: sequence 1 again, new channel ids
    assert f.feed(info, 6) == MessageKind.STATUS and d.channels == {}
    assert [(e[0], e[1]) for e in _events(f)] == [(EV_STATUS, 0)]   # the book waits
    assert f.state(0)["state"] == "waiting"
    f.feed(bfx_sub(41, "book"), 7)
    f.feed(b"[41,[[100,1,5]],1]", 8)
    f.feed(b"[41,[100,1,6],2]", 9)
    assert f.state(0)["state"] == "synced" and f.conn_gaps == f.gaps == 0


def test_bitfinex_private_orders_and_fills() -> None:
    d = bitfinex("tETHUSD", pd=1, sd=2)
    ex = EX / "bitfinex"
    assert d.decode((ex / "ws_orders_new.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["status"] == hftcore.OrderStatus.ACCEPTED and o["side"] == hftcore.Side.SELL
    assert o["order_type"] == hftcore.OrderType.LIMIT_MAKER                # flag 4096
    assert (o["price"], o["size"], o["filled_size"]) == (2200, 50, 0)
    assert o["venue_order_id"] == 1185815098 and o["client_order_id"] == b"1573476747887"
    assert d.last_seq == 5 and d.has_seq                    # the connection's sequence
    assert d.decode((ex / "ws_orders_update.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["status"] == hftcore.OrderStatus.PARTIALLY_FILLED and o["filled_size"] == 30
    assert o["avg_price"] == 2200
    assert d.decode((ex / "ws_orders_cancel.json").read_bytes()) == MessageKind.ORDER
    assert d.orders[0]["status"] == hftcore.OrderStatus.CANCELED
    assert d.decode((ex / "ws_orders_snapshot.json").read_bytes()) == MessageKind.ORDER
    assert [(int(x["side"]), int(x["order_type"]), int(x["size"])) for x in d.orders] == \
        [(0, hftcore.OrderType.LIMIT, 125), (1, hftcore.OrderType.STOP_MARKET, 100)]
    assert d.decode((ex / "ws_trade_execution.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]
    assert o["flags"] & hftcore.OrderFlag.IS_FILL and o["flags"] & hftcore.OrderFlag.IS_MAKER
    assert (o["last_fill_price"], o["last_fill_size"], o["trade_id"]) == (2200, 30, 402088407)
    assert o["side"] == hftcore.Side.SELL and not o["flags"] & hftcore.OrderFlag.HAS_FEE
    assert d.decode((ex / "ws_trade_update.json").read_bytes()) == MessageKind.ORDER
    o = d.orders[0]                                          # the fee of that fill, once
    assert not o["flags"] & hftcore.OrderFlag.IS_FILL and o["flags"] & hftcore.OrderFlag.HAS_FEE
    assert o["fee"] == 132_000_000 and o["fee_asset"] == b"USD"          # paid: positive
    for bad in (b'[0,"on",[1,null,2,"tETHUSD",3,4,-0.5,0,"EXCHANGE LIMIT"]]',   # too short
                (ex / "ws_orders_new.json").read_bytes().replace(b"-0.5,-0.5", b"-0.7,-0.5"),
                (ex / "ws_orders_new.json").read_bytes().replace(b"-0.5,-0.5", b"0,0"),
                (ex / "ws_trade_execution.json").read_bytes().replace(b"-0.3,220", b"0,220"),
                (ex / "ws_trade_update.json").read_bytes().replace(b'-0.0132,"USD"',
                                                                   b'null,"USD"')):
        with pytest.raises(hftcore.DecodeError):
            d.decode(bad)
        assert d.n_orders == 0
    assert d.decode(b'[0,"wu",["exchange","USD",100,0,100,null,null]]') == MessageKind.OTHER
    assert d.decode(b'[0,"on",[1,null,2,"tXYZUSD",3,4,-0.5,-0.5,"EXCHANGE LIMIT",null,null,'
                    b'null,0,"ACTIVE",null,null,1,0]]') == MessageKind.UNKNOWN_SYMBOL


def test_htx_sizes_from_binary_floats_are_rounded_half_even() -> None:
    """HTX prints sizes from doubles ("3307.9982700421942", "3.358149508E7"): they are rounded
    half-even at the instrument's size decimals, from the text, and counted; prices stay exact;
    a non-zero size that would round to 0 (a level silently deleted) is refused."""
    d = htx("xvgeth", pd=2, sd=8)

    def depth(bids: str, asks: str = "[]") -> bytes:
        return gz(b'{"ch":"market.xvgeth.depth.step0","ts":1,"tick":{"bids":%s,"asks":%s,'
                  b'"version":5,"ts":1}}' % (bids.encode(), asks.encode()))
    assert d.decode(depth("[[1.5,3307.9982700421942],[1.25,3.358149508E7],[1.2,1.123456785],"
                          "[1.1,1.123456775],[1.0,2]]")) == MessageKind.BOOK_SNAPSHOT
    assert [int(r["size"]) for r in d.deltas] == [330799827004, 3358149508000000,
                                                 112345678, 112345678, 200000000]
    assert d.counts["rounded"] == 3
    # the same figures written with a space (the general reader): the same rounding
    assert d.decode(depth("[[1.5, 3307.9982700421942]]")) == MessageKind.BOOK_SNAPSHOT
    assert int(d.deltas[0]["size"]) == 330799827004 and d.counts["rounded"] == 4
    for bad in ("[[1.5,0.000000001]]",          # rounds to 0: would delete the level
                "[[1.005,1]]",                  # a price is never rounded
                "[[1.5,2],[1.4,0.000000004]]"):
        with pytest.raises(hftcore.DecodeError) as exc:
            d.decode(depth(bad))
        assert exc.value.code == hftcore.DecodeErrorCode.PRECISION
    assert d.counts["rounded"] == 4             # a refused message counts nothing
    # trades and top of book alike
    assert d.decode(gz(b'{"ch":"market.xvgeth.trade.detail","ts":1,"tick":{"id":1,"ts":1,'
                       b'"data":[{"id":1,"ts":1,"tradeId":7,"amount":0.30000000000000004,'
                       b'"price":1.5,"direction":"buy"}]}}')) == MessageKind.TRADE
    assert int(d.trades[0]["size"]) == 30000000 and d.counts["rounded"] == 5
    # other venues keep refusing a size with more decimals than the instrument's
    k = decoder_for("kraken_futures", [hftcore.Instrument("kraken_futures", "PI_XBTUSD", 1, 2,
                                                          instrument_id=1)])
    with pytest.raises(hftcore.DecodeError) as exc:
        k.decode(b'{"feed":"book_snapshot","product_id":"PI_XBTUSD","timestamp":1,"seq":5,'
                 b'"bids":[{"price":1,"qty":1.001}],"asks":[]}')
    assert exc.value.code == hftcore.DecodeErrorCode.PRECISION and k.counts["rounded"] == 0
