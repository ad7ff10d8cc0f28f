"""Feed handler for strategy processes: decode a recording once, publish engine events.

Decodes the recording with the venue's decoder and book-sync procedure (the same ``Feed`` a
backtest uses) and publishes the resulting engine events (``EVENT_DTYPE``, 48 bytes) into one
named broadcast ring ``<name>.events``; each strategy process attached to it runs its own
engine over exactly the events a backtest would see.  Prints one JSON line at the end: events
published and a checksum of their bytes.

Run: ``python examples/fanout/run_strategies.py`` (this and two strategy processes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hftcore import ipc
from hftcore.data.eventfile import EVENT_DTYPE
from hftcore.data.recordings import infer_instruments
from hftcore.venues.replay import Replay

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = [ROOT / "tests" / "data" / "binance" / "spot_rest_depth_2021-10-12.txt",
              ROOT / "tests" / "data" / "binance" / "spot_ws_2021-10-12.txt"]


def checksum(records: np.ndarray) -> int:
    """Sum of the records' bytes as little-endian u64 words (mod 2**64)."""
    words = np.frombuffer(np.ascontiguousarray(records).tobytes(), "<u8")
    return int(words.sum(dtype=np.uint64))


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", help="ring name prefix")
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--capacity", type=int, default=1 << 12)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    insts = infer_instruments(RECORDINGS)
    shr = ipc.create_ring(f"{args.name}.events", args.capacity, EVENT_DTYPE,
                          consumers=args.consumers, backpressure="block")
    try:
        deadline = time.monotonic() + args.timeout
        while sum(c["state"] == "active" for c in shr.ring.stats()["consumers"]) < args.consumers:
            if time.monotonic() > deadline:
                raise SystemExit("strategy processes did not attach in time")
            time.sleep(0.01)
        prod = shr.producer(wait="sleep")
        total = 0
        acc = 0
        for events in Replay(RECORDINGS, insts):
            prod.publish_batch(events, timeout=args.timeout)
            total += len(events)
            acc = (acc + checksum(events)) % (1 << 64)
        prod.close(end_of_stream=True)
        # the creator keeps the segment until every consumer has read to the end
        while any(c["state"] == "active" and c["position"] < total
                  for c in shr.ring.stats()["consumers"]):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
    finally:
        shr.close()
    out = {"events": total, "checksum": acc, "instruments": [i.symbol for i in insts]}
    print(json.dumps(out))
    sys.stdout.flush()
    return out


if __name__ == "__main__":
    main()
