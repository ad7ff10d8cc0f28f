"""The decoder example runs and prints what it promises."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "decode_binance.py"


def test_decode_binance_example_runs(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    rec = ROOT / "tests" / "data" / "binance" / "spot_ws_2021-10-12.txt"
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), str(rec)])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "BOOK_SNAPSHOT: 3 levels, lastUpdateId 1027024" in out
    assert "older than the snapshot, dropped" in out
    assert "best bid 3.99500000 x 7.50000000" in out
    assert "best ask 4.00000300 x 3.00000000" in out
    assert "trade 12345: SELL 2.50000000 @ 3.99500000" in out
    assert "order my-order-1 (4293153): PARTIALLY_FILLED, filled 0.40000000 of 1.00000000" in out
    assert "UNKNOWN_SYMBOL: ETHBTC" in out
    assert "DecodeError: truncated input (venue=binance, kind=depthUpdate" in out
    assert "recording: {'book_update': 177, 'trade': 2, 'bbo': 84, 'other': 2" in out
