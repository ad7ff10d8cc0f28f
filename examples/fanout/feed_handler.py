"""Feed handler: replay a recording through a decoder into books and broadcast rings.

Creates two named rings in shared memory, ``<name>.book`` (BookDelta records) and
``<name>.trade`` (TradeRecord records), waits for ``--consumers`` strategy processes to
attach, then replays the recording: every websocket message is decoded, applied to this
process's L2 books and published.  At the end it closes both streams and prints one JSON
line: records published per ring, a checksum of their bytes and each book's best bid/ask.

Run: ``python examples/fanout/run.py`` (starts this and two consumers), or by hand:
``python feed_handler.py demo --consumers 1`` then ``python consumer.py demo``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import hftcore
from hftcore import ipc
from hftcore.decoders import BOOK_DELTA_DTYPE, TRADE_DTYPE, read_recording

ROOT = Path(__file__).resolve().parents[2]
RECORDING = ROOT / "tests" / "data" / "binance" / "spot_ws_2021-10-12.txt"
SYMBOLS = ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR")


def checksum(records: np.ndarray) -> int:
    """Sum of the records' bytes as little-endian u64 words (mod 2**64)."""
    words = np.frombuffer(np.ascontiguousarray(records).tobytes(), "<u8")
    return int(words.sum(dtype=np.uint64))


def instruments() -> list[hftcore.Instrument]:
    return [hftcore.Instrument("binance", s, 8, 8, instrument_id=i)
            for i, s in enumerate(SYMBOLS, 1)]


def wait_for(rings: list[ipc.SharedRing], consumers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for r in rings:
        while sum(c["state"] == "active" for c in r.ring.stats()["consumers"]) < consumers:
            if time.monotonic() > deadline:
                raise SystemExit(f"{r.name}: only some consumers attached within {timeout} s")
            time.sleep(0.01)


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", help="ring name prefix")
    ap.add_argument("--recording", default=str(RECORDING))
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--loops", type=int, default=1, help="replay the recording N times")
    ap.add_argument("--backpressure", default="block", choices=("block", "fail", "overwrite"))
    ap.add_argument("--capacity", type=int, default=1 << 14)
    args = ap.parse_args(argv)

    insts = instruments()
    dec = hftcore.BinanceDecoder(insts)
    books = {i.instrument_id: hftcore.L2Book(i.price_decimals, i.size_decimals) for i in insts}
    book_ring = ipc.create_ring(f"{args.name}.book", args.capacity, BOOK_DELTA_DTYPE,
                                consumers=args.consumers, backpressure=args.backpressure)
    trade_ring = ipc.create_ring(f"{args.name}.trade", args.capacity, TRADE_DTYPE,
                                 consumers=args.consumers, backpressure=args.backpressure)
    with book_ring, trade_ring:
        print(json.dumps({"ready": args.name}), flush=True)
        wait_for([book_ring, trade_ring], args.consumers, timeout=60)
        book_out, trade_out = book_ring.producer(wait="yield"), trade_ring.producer(wait="yield")
        messages = [m.data for m in read_recording(args.recording) if m.kind == "recv"]
        sums = {"book": 0, "trade": 0}
        counts = {"book": 0, "trade": 0}
        t0 = time.perf_counter()
        for _ in range(args.loops):
            for data in messages:
                kind = dec.decode(data, time.time_ns())
                if kind in (hftcore.MessageKind.BOOK_UPDATE, hftcore.MessageKind.BOOK_SNAPSHOT):
                    deltas = dec.deltas  # borrowed until the next decode: publish now
                    books[dec.instrument_id].apply_deltas(deltas)
                    counts["book"] += book_out.publish_batch(deltas)
                    sums["book"] += checksum(deltas)
                elif kind == hftcore.MessageKind.TRADE:
                    trades = dec.trades
                    counts["trade"] += trade_out.publish_batch(trades)
                    sums["trade"] += checksum(trades)
        elapsed = time.perf_counter() - t0
        book_out.close()
        trade_out.close()
        report = {
            "published": counts,
            "checksum": {k: v % 2**64 for k, v in sums.items()},
            "rejected": {"book": book_out.rejected, "trade": trade_out.rejected},
            "best": {str(i): [b.best_bid, b.best_ask] for i, b in books.items()},
            "messages": len(messages) * args.loops,
            "seconds": round(elapsed, 4),
        }
        print(json.dumps(report), flush=True)
        # keep the segments until every consumer has read the end of the streams
        deadline = time.monotonic() + 60
        while any(c["state"] == "active" and c["lag"] for r in (book_ring, trade_ring)
                  for c in r.ring.stats()["consumers"]) and time.monotonic() < deadline:
            time.sleep(0.01)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
