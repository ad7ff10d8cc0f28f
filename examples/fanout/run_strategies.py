"""Run the event feed handler and two strategy processes on one shared-memory ring.

Prints the feed's and each strategy process's JSON line; exit 0 when every process read every
event once, in order, and the two strategy processes traded identically.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    name = f"hcfan{os.getpid()}"
    env = dict(os.environ)
    feed = subprocess.Popen([sys.executable, str(HERE / "strategy_feed.py"), name,
                             "--consumers", "2"], stdout=subprocess.PIPE, text=True, env=env)
    procs = [subprocess.Popen([sys.executable, str(HERE / "strategy_process.py"), name],
                              stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try:
        outs = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1])
                for p in procs]
        fout = json.loads(feed.communicate(timeout=120)[0].strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, IndexError, ValueError) as exc:
        for p in (*procs, feed):
            p.kill()
            p.wait()
        print(f"fan-out failed: {exc!r}", file=sys.stderr)
        return 1
    print(json.dumps({"feed": fout, "strategies": outs}, indent=2))
    ok = all(o["events"] == fout["events"] and o["lost"] == 0
             and o["checksum"] == fout["checksum"] for o in outs)
    ok = ok and outs[0]["digest"] == outs[1]["digest"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
