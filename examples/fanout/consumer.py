"""A strategy process of the fan-out example: attach to the feed handler's rings and read.

Reads both rings until the feed handler ends the streams, checks that every record arrives
once and in order (the ring's sequence numbers: a gap is reported as lost, never hidden),
rebuilds the books from the deltas and prints one JSON line with counts, checksums, losses
and each book's best bid/ask.  (Strategies trading through the engine plug in where the
records are read.)

Run: ``python consumer.py NAME`` while ``feed_handler.py NAME`` runs.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

import hftcore
from hftcore import ipc
from hftcore.decoders import BOOK_DELTA_DTYPE, TRADE_DTYPE

SYMBOLS = ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR")


def checksum(records: np.ndarray) -> int:
    words = np.frombuffer(np.ascontiguousarray(records).tobytes(), "<u8")
    return int(words.sum(dtype=np.uint64))


def main(name: str) -> dict[str, object]:
    rings = {
        "book": ipc.attach_ring(f"{name}.book", BOOK_DELTA_DTYPE, timeout=60),
        "trade": ipc.attach_ring(f"{name}.trade", TRADE_DTYPE, timeout=60),
    }
    readers = {k: r.consumer(wait="sleep", sleep=0.0002, start="oldest")
               for k, r in rings.items()}
    books = {i: hftcore.L2Book(8, 8) for i in range(1, len(SYMBOLS) + 1)}
    expected = {k: c.position for k, c in readers.items()}
    counts = dict.fromkeys(readers, 0)
    sums = dict.fromkeys(readers, 0)
    lost_before = dict.fromkeys(readers, 0)
    out_of_order = dict.fromkeys(readers, 0)
    open_streams = set(readers)
    deadline = time.monotonic() + 120
    while open_streams and time.monotonic() < deadline:
        idle = True
        for key in list(open_streams):
            c = readers[key]
            records = c.read(4096)
            if len(records) == 0:
                if c.end_of_stream:
                    open_streams.discard(key)
                continue
            idle = False
            # records arrive in sequence order; a jump must be exactly the loss the ring counted
            if c.batch_seq != expected[key] + (c.lost - lost_before[key]):
                out_of_order[key] += 1
            expected[key] = c.batch_seq + len(records)
            lost_before[key] = c.lost
            counts[key] += len(records)
            sums[key] += checksum(records)
            if key == "book":
                for iid in np.unique(records["instrument_id"]):
                    books[int(iid)].apply_deltas(records[records["instrument_id"] == iid])
        if idle:
            time.sleep(0.0005)
    report = {
        "received": counts,
        "checksum": {k: v % 2**64 for k, v in sums.items()},
        "lost": {k: c.lost for k, c in readers.items()},
        "out_of_order": out_of_order,
        "complete": not open_streams,
        "best": {str(i): [b.best_bid, b.best_ask] for i, b in books.items()},
    }
    for c in readers.values():
        c.close()
    for r in rings.values():
        r.close()
    print(json.dumps(report), flush=True)
    return report


if __name__ == "__main__":
    main(sys.argv[1])
