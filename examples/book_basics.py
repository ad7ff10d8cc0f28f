"""Order-book basics: an L2 book fed one update at a time, in numpy batches and as BookDelta
records, its reads and venue checksum; then an L3 book and an order's queue position.

Run: ``python examples/book_basics.py``
"""

from __future__ import annotations

import numpy as np

import hftcore
from hftcore._ext.book import BOOK_DELTA_DTYPE, DELTA_FLAG_CLEAR, DELTA_FLAG_SNAPSHOT

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
    print("kraken checksum:", book.checksum("kraken"))

    # BookDelta records, as a decoder produces them: a snapshot that first clears the book
    recs = np.zeros(3, dtype=BOOK_DELTA_DTYPE)
    recs["side"] = [BUY, SELL, SELL]
    recs["price"] = [600000, 600010, 600020]
    recs["size"] = [100_000_000, 200_000_000, 300_000_000]
    recs["sequence"] = 42
    recs["flags"] = DELTA_FLAG_SNAPSHOT
    recs["flags"][0] |= DELTA_FLAG_CLEAR
    book.apply_deltas(recs)
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


if __name__ == "__main__":
    main()
