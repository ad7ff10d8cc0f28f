"""Scale: start-up time, a 50 M-row event file in constant memory, and convert throughput.

Run: ``python benchmarks/bench_scale.py [--rows 50000000] [--keep FILE]``.

* start-up: a fresh interpreter from ``import hftcore`` to the first event processed by an
  engine with a strategy (target <= 0.5 s; no per-process compile);
* memory: a backtest over an event file of ``--rows`` rows (the synthetic stream tiled, each tile
  starting with a snapshot), a Python strategy on top-of-book changes, in a child process whose
  peak RSS is read from ``getrusage`` (target < 300 MB for 50 M rows);
* convert: recordings to an event file, messages per second (target >= 1 M/s from raw JSON):
  a Binance recording of ``--messages`` depthUpdate messages is written first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SRC = str(Path(__file__).resolve().parent.parent / "src")
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}

STARTUP = r"""
import time
t0 = time.perf_counter()
import hftcore
from hftcore.data.events import delta, make_events
from hftcore.engine import Engine

class S(hftcore.Strategy):
    def on_bbo(self, instrument, book):
        global first
        if first is None:
            first = time.perf_counter()

first = None
e = Engine([hftcore.Instrument("sim", "X", 0, 0)])
e.add_strategy(S())
e.process(make_events([delta(1, 0, 0, 99, 5, snapshot=True)]))
print(first - t0)
"""

MEMORY = r"""
import sys, time
import hftcore
from hftcore.backtest import backtest

class Count(hftcore.Strategy):
    n = 0
    def on_bbo(self, instrument, book):
        self.n += 1

s = Count()
t = time.perf_counter()
r = backtest(s, sys.argv[1], progress=False, measure=False)
dt = time.perf_counter() - t
# this process's own peak (VmHWM: getrusage's maxrss would include the parent's, kept by fork)
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(f'{{"rows": {r.stats["events"]}, "bbo": {s.n}, "seconds": {dt:.2f}, '
      f'"peak_rss_mb": {rss:.1f}}}')
"""


def startup() -> float:
    best = float("inf")
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True,
                             env=ENV, check=True).stdout
        best = min(best, float(out.strip()))
    return best


def make_event_file(path: Path, rows: int) -> None:
    from hftcore import Instrument
    from hftcore.data.eventfile import EventWriter
    from hftcore.data.synthetic import l2_stream

    tile = l2_stream(min(rows, 1_000_000), seed=7)
    span = int(tile["local_ts"][-1] - tile["local_ts"][0]) + 1_000_000
    written = 0
    with EventWriter(path, [Instrument("sim", "X", 2, 0)]) as w:
        k = 0
        while written < rows:
            part = tile[: rows - written].copy()
            part["local_ts"] += k * span
            part["exchange_ts"] += k * span
            w.append(part)
            written += len(part)
            k += 1


def memory(path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", MEMORY, str(path)], capture_output=True,
                         text=True, env=ENV, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def make_recording(path: Path, messages: int) -> None:
    """A Binance spot recording: one REST snapshot, then ``messages`` depthUpdates (10 + 10)."""
    rng = np.random.default_rng(3)
    lines = []
    t = 1_700_000_000.0
    snap = {"lastUpdateId": 1000,
            "bids": [[f"{(5_000_000 - 1 - j) / 100:.2f}", "1.00000"] for j in range(50)],
            "asks": [[f"{(5_000_000 + 1 + j) / 100:.2f}", "1.00000"] for j in range(50)]}
    lines.append(f"https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000 -> {t:.6f}: "
                 f"{json.dumps(snap, separators=(',', ':'))}")
    sizes = rng.integers(1, 100_000, (messages, 20))
    for k in range(messages):
        t += 0.0001
        b = ",".join(f'["{(5_000_000 - 1 - j) / 100:.2f}","{sizes[k, j] / 1e5:.5f}"]'
                     for j in range(10))
        a = ",".join(f'["{(5_000_000 + 1 + j) / 100:.2f}","{sizes[k, 10 + j] / 1e5:.5f}"]'
                     for j in range(10))
        lines.append(f'{t:.6f}: {{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate",'
                     f'"E":{int(t * 1000)},"s":"BTCUSDT","U":{1001 + k},"u":{1001 + k},'
                     f'"b":[{b}],"a":[{a}]}}}}')
    path.write_text("wss://stream.binance.com:9443/stream <-> 1700000000.0\n"
                    + "\n".join(lines) + "\n")


def convert_rate(path: Path, out: Path) -> dict[str, float]:
    from hftcore import Instrument
    from hftcore.data.convert import convert

    best: dict[str, float] = {}
    for _ in range(3):
        # CPU time of this thread (convert runs in it) beside the wall time: on a shared
        # machine the wall time carries waits for a core and for the disk (the output is ~1 KB
        # per message, written and fsynced)
        cpu0 = time.thread_time()
        r = convert(path, out, [Instrument("binance", "BTCUSDT", 2, 5)])
        cpu = time.thread_time() - cpu0
        if not best or r["messages_per_s"] > best["messages_per_s"]:
            best = {"messages": r["messages"], "seconds": r["seconds"],
                    "messages_per_s": r["messages_per_s"],
                    "mb_per_s": r["bytes_in"] / r["seconds"] / 1e6,
                    "messages_per_cpu_s": r["messages"] / cpu,
                    "mb_out": r["bytes_out"] / 1e6}
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000_000)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--keep", metavar="FILE", help="event file path to reuse / keep")
    args = ap.parse_args()
    print(f"start-up, import hftcore -> first event: {startup():.3f} s (target <= 0.5 s)")
    tmp = Path(tempfile.mkdtemp(prefix="hftcore-scale-"))
    evt = Path(args.keep) if args.keep else tmp / "big.evt"
    if not evt.exists():
        t = time.perf_counter()
        make_event_file(evt, args.rows)
        print(f"wrote {evt} ({evt.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t:.1f} s")
    m = memory(evt)
    print(f"backtest over {m['rows']:,} rows: {m['seconds']:.1f} s "
          f"({m['rows'] / m['seconds'] / 1e6:.1f} M rows/s), {m['bbo']:,} on_bbo calls, "
          f"peak RSS {m['peak_rss_mb']:.0f} MB (target < 300 MB)")
    rec = tmp / "binance.txt"
    make_recording(rec, args.messages)
    c = convert_rate(rec, tmp / "binance.evt")
    print(f"convert {c['messages']:,} messages ({rec.stat().st_size / 1e6:.0f} MB): "
          f"{c['messages_per_s'] / 1e6:.2f} M messages/s wall, {c['mb_per_s']:.0f} MB/s in, "
          f"{c['mb_out']:.0f} MB out; {c['messages_per_cpu_s'] / 1e6:.2f} M messages per "
          f"CPU-second (target >= 1 M/s)")
    if not args.keep:
        evt.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
