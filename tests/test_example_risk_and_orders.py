"""The trading-core example runs and shows what it claims."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parent.parent / "examples" / "risk_and_orders.py"


def test_example_runs() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                         timeout=120, env=env, check=True).stdout
    assert "check 0.1 BTC @ 53000: PRICE_BAND" in out
    assert "second buy: POSITION_LIMIT -> REJECTED" in out
    assert "after the timeout: UNKNOWN" in out
    assert "PARTIALLY_FILLED" in out
    assert "position 0.35000 BTC" in out
    assert "realized 5.0187500 USDT" in out
    assert "identical: True - same position: True" in out
