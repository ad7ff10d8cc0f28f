"""A strategy process: attach to ``<name>.events`` and trade through its own engine.

Reads the feed handler's events in order (a gap would be counted as lost and reported, never
hidden), runs them through an ``hftcore.Engine`` with the simulated exchange and the demo
``MarketMaker``, and prints one JSON line: events read, lost, their checksum, orders, fills and
a digest of the fills (two processes given the same events produce the same digest).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from strategy_feed import RECORDINGS, checksum

from hftcore import ipc
from hftcore.data.eventfile import EVENT_DTYPE
from hftcore.data.recordings import infer_instruments
from hftcore.demo import MarketMaker
from hftcore.engine import Engine
from hftcore.venues.sim import SimExchange


def fills_digest(engine: Engine) -> str:
    h = hashlib.sha256()
    for f in engine.fills:
        h.update(repr((f[0], f[3], f[4], f[5], f[6], f[7], f[8])).encode())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--latency", type=int, default=20_000)
    args = ap.parse_args(argv)
    insts = infer_instruments(RECORDINGS)
    deadline = time.monotonic() + 30
    while True:      # the feed handler may not have created the ring yet
        try:
            shr = ipc.attach_ring(f"{args.name}.events", EVENT_DTYPE)
            break
        except (FileNotFoundError, ValueError):   # not there yet, or its header being written
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    cons = shr.consumer(wait="sleep", sleep=0.0002, start="oldest")
    engine = Engine(insts, sim=SimExchange(args.latency))
    mm = MarketMaker()
    engine.add_strategy(mm)
    n = 0
    acc = 0
    last_ts = 0
    idle_since = time.monotonic()
    try:
        while True:
            recs = cons.read(4096, timeout=1.0)
            if len(recs) == 0:
                if cons.end_of_stream:
                    break
                if time.monotonic() - idle_since > 60:
                    raise SystemExit("no events for 60 s: is the feed handler running?")
                continue
            idle_since = time.monotonic()
            recs = np.ascontiguousarray(recs).view(EVENT_DTYPE)
            engine.process(recs)
            n += len(recs)
            acc = (acc + checksum(recs)) % (1 << 64)
            last_ts = int(recs["local_ts"][-1])
        lost = cons.lost
    finally:
        cons.close()
        shr.close()
    engine.advance(last_ts)
    engine.stop()
    out = {"events": n, "lost": lost, "checksum": acc, "orders": len(engine.om),
           "fills": len(engine.fills), "digest": fills_digest(engine)}
    print(json.dumps(out))
    sys.stdout.flush()
    return out


if __name__ == "__main__":
    main()
