"""Decode Binance spot messages into C records and keep an order book in sync.

A REST depth snapshot, then diffs from the combined stream (checked with the documented
U / u rule), a trade, a best bid/offer, a private execution report, an unknown symbol and a
damaged frame.  With a recording path (``python examples/decode_binance.py
tests/data/binance/spot_ws_2021-10-12.txt``) it also replays that file and counts what it saw.

Run: ``python examples/decode_binance.py``
"""

from __future__ import annotations

import sys
import time

import hftcore
from hftcore import MessageKind
from hftcore.decoders import read_recording

SNAPSHOT = (b'{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"],'
            b'["3.99000000","10.00000000"]],"asks":[["4.00000200","12.00000000"]]}')
DIFFS = [
    # older than the snapshot: dropped
    b'{"stream":"bnbbtc@depth@100ms","data":{"e":"depthUpdate","E":1700000000000,"s":"BNBBTC",'
    b'"U":1027020,"u":1027024,"b":[["3.98000000","1.00000000"]],"a":[]}}',
    # first diff to apply: U <= lastUpdateId + 1 <= u
    b'{"stream":"bnbbtc@depth@100ms","data":{"e":"depthUpdate","E":1700000000100,"s":"BNBBTC",'
    b'"U":1027023,"u":1027026,"b":[["4.00000000","0.00000000"],["3.99500000","7.50000000"]],'
    b'"a":[["4.00000300","3.00000000"]]}}',
    # then each diff's U is the previous u + 1
    b'{"stream":"bnbbtc@depth@100ms","data":{"e":"depthUpdate","E":1700000000200,"s":"BNBBTC",'
    b'"U":1027027,"u":1027027,"b":[],"a":[["4.00000200","0.00000000"]]}}',
]
TRADE = (b'{"e":"trade","E":1700000000250,"s":"BNBBTC","t":12345,"p":"3.99500000",'
         b'"q":"2.50000000","T":1700000000249,"m":true,"M":true}')
BOOK_TICKER = (b'{"u":1027028,"s":"BNBBTC","b":"3.99500000","B":"5.00000000",'
               b'"a":"4.00000300","A":"3.00000000"}')
EXECUTION = (b'{"subscriptionId":0,"event":{"e":"executionReport","E":1700000000300,'
             b'"s":"BNBBTC","c":"my-order-1","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000",'
             b'"p":"3.99500000","P":"0.00000000","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE",'
             b'"i":4293153,"l":"0.40000000","z":"0.40000000","L":"3.99500000","n":"0.00040000",'
             b'"N":"BNB","T":1700000000299,"t":12346,"w":false,"m":true,"O":1700000000000,'
             b'"Z":"1.59800000","C":""}}')


def main() -> None:
    bnb = hftcore.Instrument("binance", "BNBBTC", price_decimals=8, size_decimals=8,
                             instrument_id=1)
    dec = hftcore.BinanceDecoder([bnb])
    book = hftcore.L2Book(bnb.price_decimals, bnb.size_decimals)

    kind = dec.decode_depth_snapshot(SNAPSHOT, "BNBBTC", recv_ts=time.time_ns())
    book.apply_deltas(dec.deltas)           # the first record carries DELTA_CLEAR
    last = dec.last_seq
    print(f"{MessageKind(kind).name}: {dec.n_deltas} levels, lastUpdateId {last}")

    synced = False
    for frame in DIFFS:
        kind = dec.decode(frame, recv_ts=time.time_ns())
        U, u = dec.first_seq, dec.last_seq
        if u <= last and not synced:
            print(f"  diff {U}..{u}: older than the snapshot, dropped")
            continue
        if (not synced and not U <= last + 1 <= u) or (synced and last + 1 != U):
            raise SystemExit(f"gap before {U}: resync from a new snapshot")
        synced = True
        book.apply_deltas(dec.deltas)       # numpy view: borrowed until the next decode
        last = u
        print(f"  diff {U}..{u}: {dec.n_deltas} deltas applied")
    print("best bid", bnb.format_price(book.best_bid), "x", bnb.format_qty(book.best_bid_size))
    print("best ask", bnb.format_price(book.best_ask), "x", bnb.format_qty(book.best_ask_size))

    dec.decode(TRADE)
    t = dec.trades[0]
    side = hftcore.Side(int(t["side"])).name
    print(f"trade {int(t['trade_id'])}: {side} {bnb.format_qty(int(t['size']))} "
          f"@ {bnb.format_price(int(t['price']))}")

    dec.decode(BOOK_TICKER)
    q = dec.bbos[0]
    print(f"bbo {bnb.format_price(int(q['bid_price']))} / {bnb.format_price(int(q['ask_price']))}"
          f" (update id {int(q['sequence'])})")

    assert dec.decode(EXECUTION) == MessageKind.ORDER
    o = dec.orders[0]
    print(f"order {o['client_order_id'].decode()} ({int(o['venue_order_id'])}): "
          f"{hftcore.OrderStatus(int(o['status'])).name}, filled "
          f"{bnb.format_qty(int(o['filled_size']))} of {bnb.format_qty(int(o['size']))}, "
          f"fee {hftcore.fixed.format(int(o['fee']), 10, trim=True)} {o['fee_asset'].decode()}")

    kind = dec.decode(TRADE.replace(b"BNBBTC", b"ETHBTC"))
    print(f"{MessageKind(kind).name}: {dec.symbol} (counted, nothing decoded)")
    try:
        dec.decode(DIFFS[2][:-30])
    except hftcore.DecodeError as exc:
        print(f"DecodeError: {exc}")
    print("counts:", {k: v for k, v in dec.counts.items() if v})

    if len(sys.argv) > 1:                   # replay a recording
        rec = hftcore.BinanceDecoder([
            hftcore.Instrument("binance", s, 8, 8, instrument_id=i)
            for i, s in enumerate(("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"), 1)])
        for m in read_recording(sys.argv[1]):
            if m.kind == "recv":
                rec.decode(m.data, m.ts_ns)
        print("recording:", {k: v for k, v in rec.counts.items() if v})


if __name__ == "__main__":
    main()
