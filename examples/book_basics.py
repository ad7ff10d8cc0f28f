"""Order-book basics: an L2 book fed one update at a time, in numpy batches and as BookDelta
records, its reads and venue checksum; then an L3 book, an order's queue position and a
batch of L3 events applied without the GIL.

Run: ``python examples/book_basics.py``
"""

from __future__ import annotations

import numpy as np

import hftcore
from hftcore._ext.book import BOOK_DELTA_DTYPE, DELTA_FLAG_CLEAR, DELTA_FLAG_SNAPSHOT
from hftcore._ext.l3 import L3_ACTION_ADD, L3_ACTION_CANCEL, L3_EVENT_DTYPE

BUY, SELL = hftcore.Side.BUY, hftcore.Side.SELL


def main() -> None:
    inst = hftcore.Instrument("kraken", "XBT/USD", price_decimals=1, size_decimals=8)
    book = hftcore.L2Book(inst.price_decimals, inst.size_decimals, max_depth=1000)

    # one update at a time: prices and sizes are ints at the instrument's decimals
    book.apply(BUY, inst.price("50000.0"), inst.qty("0.5"))
    book.apply(BUY, inst.price("49999.5"), inst.qty("1.25"))
    changed = book.apply(SELL, inst.price("50001.0"), inst.qty("0.1"))
    print("top changed:", changed)
    print("best bid", inst.format_price(book.best_bid), "x", inst.format_qty(book.best_bid_size))
    print("best ask", inst.format_price(book.best_ask), "x", inst.format_qty(book.best_ask_size))
    print("spread", inst.format_price(book.spread))
    # mid is exact: a count at one more decimal than prices
    print("mid", hftcore.fixed.format(book.mid, inst.price_decimals + 1))

    # a batch of updates from numpy arrays, applied without the GIL
    sides = np.array([BUY, SELL, SELL, BUY], dtype=np.int64)
    prices = np.array([500002, 500012, 500015, 499995], dtype=np.int64)
    sizes = np.array([30_000_000, 5_000_000, 7_000_000, 0], dtype=np.int64)  # size 0 deletes
    book.apply_batch(sides, prices, sizes)
    bid_px, bid_sz, ask_px, ask_sz = book.depth(5)  # int64 numpy arrays, best first
    print("depth(5):", bid_px.tolist(), bid_sz.tolist(), ask_px.tolist(), ask_sz.tolist())
    for side, name in ((BUY, "bids"), (SELL, "asks")):
        print(name, [(inst.format_price(p), inst.format_qty(q)) for p, q in book.levels(side)])
    print("deletes of missing levels:", book.missing_deletes)
    print("vwap to buy 0.15:", inst.format_price(book.vwap(SELL, inst.qty("0.15"))))
    # microprice is an exact int, here at price_decimals + 4
    print("microprice:", hftcore.fixed.format(book.microprice(4), inst.price_decimals + 4))
    print(f"imbalance over 2 levels: {book.imbalance(2):.4f}")
    print("kraken checksum:", book.checksum("kraken"))
    print(book)

    # the allocation-free read: top levels into arrays the caller keeps
    px = np.empty(3, np.int64)
    sz = np.empty(3, np.int64)
    n = book.depth_into(BUY, px, sz)
    print("depth_into bids:", px[:n].tolist(), sz[:n].tolist())

    # every argument is an int; a refused call names the parameter and changes nothing
    try:
        book.apply(BUY, 500000.5, 1)
    except TypeError as exc:
        print("refused:", exc)

    # BookDelta records, as a decoder produces them: a snapshot that first clears the book
    recs = np.zeros(3, dtype=BOOK_DELTA_DTYPE)
    recs["side"] = [BUY, SELL, SELL]
    recs["price"] = [600000, 600010, 600020]
    recs["size"] = [100_000_000, 200_000_000, 300_000_000]
    recs["sequence"] = 42
    recs["flags"] = DELTA_FLAG_SNAPSHOT
    recs["flags"][0] |= DELTA_FLAG_CLEAR
    recs["instrument_id"] = 1
    book.apply_deltas(recs, instrument_id=1)  # only instrument 1's records of a message
    print("after snapshot:", list(book), "sequence", book.sequence)

    # L3: orders queue FIFO at each price; the aggregated L2 view has the same reads
    l3 = hftcore.L3Book(inst.price_decimals, inst.size_decimals)
    l3.add(1, BUY, 500000, 10)
    l3.add(2, BUY, 500000, 20)
    l3.add(3, BUY, 500000, 5)
    l3.execute(1, 4)
    print("queue ahead of order 3:", l3.queue_position(3))
    l3.modify(2, 30)  # a larger size loses priority
    print("queue at 50000.0:", l3.orders_at(BUY, 500000), "best bid size", l3.best_bid_size)

    # a full-order-book feed as L3Event records, applied without the GIL
    events = np.zeros(4, dtype=L3_EVENT_DTYPE)
    events["action"] = [L3_ACTION_ADD, L3_ACTION_ADD, L3_ACTION_CANCEL, L3_ACTION_ADD]
    events["order_id"] = [10, 11, 3, 12]
    events["side"] = [SELL, SELL, BUY, BUY]
    events["price"] = [500010, 500010, 0, 499990]
    events["size"] = [7, 8, 0, 9]
    events["sequence"] = [100, 101, 102, 103]
    print("events applied:", l3.apply_events(events), "sequence", l3.sequence)
    print("asks:", l3.levels(SELL), "orders at 50001.0:", l3.orders_at(SELL, 500010))
    print(l3)


if __name__ == "__main__":
    main()
