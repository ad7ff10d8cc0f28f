"""The order-book example runs and prints what the book holds."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent.parent / "examples" / "book_basics.py"


def test_book_basics_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "best bid 50000.0 x 0.50000000" in out
    assert "vwap to buy 0.15: 50001.1" in out
    assert "sequence 42" in out
    assert "queue ahead of order 3: 26" in out
