"""simdjson On-Demand against hftcore's hand scanner on KuCoin's level2 updates (issue 13).

Run from the repository root: ``python benchmarks/simdjson_ondemand/run.py`` (needs g++ and the
pysimdjson package, whose installed simdjson.h / simdjson.cpp are compiled here, not copied).
Both sides decode the same recorded messages into int64 levels at each symbol's decimals, in a
C loop without Python, timed by the thread's CPU clock, best of the rounds.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import hftcore
from hftcore.decoders import decoder_for, read_recording
from hftcore.verify import infer_decimals

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "tests" / "data"
ROUNDS = 7
REPS = 50         # each message decoded REPS times in a row (both sides: cache-warm)


def main() -> None:
    import simdjson

    src = Path(simdjson.__file__).parent
    msgs = list(read_recording(DATA / "kucoin/ws_2021-04-25_part1.txt"))
    decs = infer_decimals("kucoin", msgs)
    depth = [m.data for m in msgs if m.kind == "recv" and b'"trade.l2update"' in m.data]
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "kucoin_ondemand"
        subprocess.run(["g++", "-O3", "-std=c++17", "-DNDEBUG", f"-I{src}",
                        str(HERE / "kucoin_ondemand.cpp"), str(src / "simdjson.cpp"), "-o",
                        str(exe)], check=True)
        lines = Path(tmp) / "msgs.txt"
        with lines.open("wb") as fh:
            for m in depth:
                sym = m.split(b'"symbol":"')[1].split(b'"')[0].decode()
                pd, sd = decs[sym]
                fh.write(f"{pd} {sd} ".encode() + m + b"\n")
        out = subprocess.run([str(exe), str(lines), str(ROUNDS), str(REPS)], check=True,
                             capture_output=True, text=True).stdout.split()
    n, changes, ondemand_ns = int(out[0]), int(out[1]), float(out[2])
    d = decoder_for("kucoin", [hftcore.Instrument("kucoin", s, p, q, instrument_id=i)
                               for i, (s, (p, q)) in enumerate(decs.items(), 1)], capacity=4096)
    ours = 0
    for m in depth:
        d.decode(m)
        ours += d.n_deltas
    # decode_loop: the first decode holds the GIL, the REPS - 1 others run without it
    best = min(sum(d.decode_loop(m, REPS) for m in depth) for _ in range(ROUNDS)) / REPS
    bytes_ = sum(map(len, depth))
    print(f"KuCoin level2 updates: {n} messages, {bytes_ // n} B average, {changes} changes "
          f"(hftcore: {ours})")
    print(f"simdjson On-Demand (C++, -O3): {ondemand_ns:8.1f} ns/message")
    print(f"hftcore decode_c (decode_loop): {best / n:8.1f} ns/message")
    sys.exit(0 if ours == changes else 1)


if __name__ == "__main__":
    main()
