"""The live example scripts run as a user would run them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_paper_trading_over_the_loopback_venue() -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "live_paper_loopback.py")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"paper run: \d{4,} market-data frames over the websocket, 0 decode", out)
    assert "books valid: 10/10; orders sent to the venue: 0" in out
    m = re.search(r"orders (\d+), simulated fills (\d+)", out)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) > 0
