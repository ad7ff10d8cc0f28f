"""The fan-out example: a feed-handler process and two consumer processes through shared
memory; every record arrives once and in order, or is reported lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "examples" / "fanout" / "run.py"


def run(*args: str) -> tuple[dict, list[dict], str]:
    # the child imports hftcore as this process does (installed, or PYTHONPATH=src)
    proc = subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    handler = json.loads(lines[0].split(": ", 1)[1])
    consumers = [json.loads(x.split(": ", 1)[1]) for x in lines if x.startswith("consumer")]
    return handler, consumers, proc.stdout


def test_fanout_block_mode_every_record_once_in_order() -> None:
    handler, consumers, out = run()
    assert handler["published"] == {"book": 422, "trade": 2}  # the bundled Binance recording
    assert len(consumers) == 2
    for c in consumers:
        assert c["complete"]
        assert c["received"] == handler["published"]
        assert c["lost"] == {"book": 0, "trade": 0}
        assert c["out_of_order"] == {"book": 0, "trade": 0}
        assert c["checksum"] == handler["checksum"]
        assert c["best"] == handler["best"]  # each process rebuilt the same books
    assert "every record arrived once and in order, or was reported lost: True" in out


def test_fanout_overwrite_mode_counts_what_it_loses() -> None:
    handler, consumers, out = run("--backpressure", "overwrite", "--capacity", "64",
                                  "--loops", "100")
    for c in consumers:
        assert c["complete"]
        for kind in ("book", "trade"):
            assert c["received"][kind] + c["lost"][kind] == handler["published"][kind]
            assert c["out_of_order"][kind] == 0
    assert "reported lost: True" in out
