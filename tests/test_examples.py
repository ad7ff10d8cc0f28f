"""Every example script runs and prints what its docs promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_fixed_point_example() -> None:
    out = run("fixed_point.py")
    assert "price 5000010 -> 50000.10 USDT" in out
    assert "notional 1250002 -> 12500.02 USDT" in out
    assert "3.426e-5 at 8 decimals -> 3426" in out
    assert "cannot parse '0.123'" in out
    assert "0.125 half_even at 2 -> 12" in out
    assert "Kraken checksum text of 0.05000 -> 5000" in out
