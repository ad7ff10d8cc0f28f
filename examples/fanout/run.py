"""Fan-out: one feed-handler process, two strategy processes, records through shared memory.

Starts ``feed_handler.py`` (replays the bundled Binance recording through the decoder into
books and two broadcast rings) and two ``consumer.py`` processes, then checks that each
consumer received every record once and in order (or reported what it lost) and rebuilt the
same books.

Run: ``python examples/fanout/run.py [--loops N] [--backpressure block|overwrite]
[--capacity N]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--loops", type=int, default=1)
    ap.add_argument("--backpressure", default="block", choices=("block", "overwrite"))
    ap.add_argument("--capacity", type=int, default=1 << 14, help="records per ring")
    args = ap.parse_args()
    name = f"fanout.{os.getpid()}.{uuid.uuid4().hex[:6]}"
    handler = subprocess.Popen(
        [sys.executable, str(HERE / "feed_handler.py"), name, "--consumers",
         str(args.consumers), "--loops", str(args.loops), "--backpressure", args.backpressure,
         "--capacity", str(args.capacity)],
        stdout=subprocess.PIPE, text=True)
    assert handler.stdout is not None
    ready = json.loads(handler.stdout.readline())  # the rings exist from here on
    assert ready == {"ready": name}, ready
    consumers = [subprocess.Popen([sys.executable, str(HERE / "consumer.py"), name],
                                  stdout=subprocess.PIPE, text=True)
                 for _ in range(args.consumers)]
    published = json.loads(handler.stdout.readline())
    results = [json.loads(c.communicate(timeout=300)[0].splitlines()[-1]) for c in consumers]
    handler.wait(60)
    print("feed handler:", json.dumps(published))
    ok = True
    for n, r in enumerate(results, 1):
        print(f"consumer {n}:", json.dumps(r))
        for kind in ("book", "trade"):
            got, lost = r["received"][kind], r["lost"][kind]
            if r["out_of_order"][kind] or got + lost != published["published"][kind]:
                ok = False
            if lost == 0 and r["checksum"][kind] != published["checksum"][kind]:
                ok = False
        if sum(r["lost"].values()) == 0 and r["best"] != published["best"]:
            ok = False
    print("every record arrived once and in order, or was reported lost:", ok)
    print("books identical in every process:",
          all(r["best"] == published["best"] for r in results))
    return 0 if ok and handler.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
