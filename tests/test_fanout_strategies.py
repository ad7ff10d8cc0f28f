"""Fan-out to strategy processes: one feed handler, two processes trading through their own
engines over a shared-memory ring; every event arrives once and in order, and each process
trades exactly as a backtest over the same recordings does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hftcore.backtest import backtest
from hftcore.data.recordings import infer_instruments
from hftcore.demo import MarketMaker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "fanout"))
from strategy_feed import RECORDINGS  # noqa: E402
from strategy_process import fills_digest  # noqa: E402


def test_two_strategy_processes_trade_like_a_backtest() -> None:
    env = dict(os.environ)   # the hftcore this test imports (installed, or PYTHONPATH=src)
    r = subprocess.run([sys.executable, str(ROOT / "examples/fanout/run_strategies.py")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    feed, procs = out["feed"], out["strategies"]
    assert feed["events"] > 5_000 and len(procs) == 2
    for p in procs:
        assert p["events"] == feed["events"] and p["lost"] == 0
        assert p["checksum"] == feed["checksum"]
    ref = backtest(MarketMaker(), RECORDINGS, infer_instruments(RECORDINGS), latency=20_000)
    assert ref.engine is not None
    assert procs[0]["orders"] == procs[1]["orders"] == ref.stats["orders"]
    assert procs[0]["digest"] == procs[1]["digest"] == fills_digest(ref.engine)
