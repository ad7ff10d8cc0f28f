"""Every example script runs as a user would run it and prints what its docs promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(name: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=300
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


def test_book_basics_example() -> None:
    out = run("book_basics.py")
    assert "best bid 50000.0 x 0.50000000" in out
    assert "vwap to buy 0.15: 50001.1" in out
    assert "sequence 42" in out
    assert "queue ahead of order 3: 26" in out


def test_decode_binance_example() -> None:
    recording = ROOT / "tests" / "data" / "binance" / "spot_ws_2021-10-12.txt"
    out = run("decode_binance.py", str(recording))
    assert "BOOK_SNAPSHOT: 3 levels, lastUpdateId 1027024" in out
    assert "older than the snapshot, dropped" in out
    assert "best bid 3.99500000 x 7.50000000" in out
    assert "best ask 4.00000300 x 3.00000000" in out
    assert "trade 12345: SELL 2.50000000 @ 3.99500000" in out
    assert "order my-order-1 (4293153): PARTIALLY_FILLED, filled 0.40000000 of 1.00000000" in out
    assert "UNKNOWN_SYMBOL: ETHBTC" in out
    assert "DecodeError: truncated input (venue=binance, kind=depthUpdate" in out
    assert "recording: {'book_update': 177, 'trade': 2, 'bbo': 84, 'other': 2" in out


def test_risk_and_orders_example() -> None:
    out = run("risk_and_orders.py")
    assert "check 0.1 BTC @ 53000: PRICE_BAND" in out
    assert "second buy: POSITION_LIMIT -> OrderStatus.REJECTED" in out
    assert "refused: size must be an int (raw count), got float 0.5" in out
    assert "after the timeout: OrderStatus.UNKNOWN" in out
    assert "Portfolio(1 position: binance:BTCUSDT net=0.35000 @ " in out
    assert "PARTIALLY_FILLED" in out
    assert "position 0.35000 BTC" in out
    assert "realized 5.0187500 USDT" in out
    assert "identical: True - same position: True" in out


def test_five_venues_example() -> None:
    """The five newer venues' recordings backtest cleanly: every message read (counted here
    from the files), no gap, no decode error, top-of-book changes seen."""
    import re

    from hftcore.decoders import read_recording

    out = run("five_venues.py").splitlines()
    data = ROOT / "tests" / "data"
    files = {"htx": ["htx/ws_spot_gzip_2021-04-17.txt"],
             "kucoin": ["kucoin/rest_level2_2021-04-25.txt", "kucoin/ws_2021-04-25_part1.txt"],
             "bitfinex": ["bitfinex/ws_v2_2021-04-17.txt"],
             "deribit": ["deribit/ws_v2_2021-07-22.txt"],
             "kraken_futures": ["kraken_futures/ws_v1_2021-07-22_part1.txt"]}
    assert [line.split(":")[0] for line in out] == list(files)
    for line, (venue, names) in zip(out, files.items(), strict=True):
        n = sum(1 for f in names for m in read_recording(data / f) if m.kind in ("recv", "rest"))
        m = re.search(r"(\d+) messages, (\d+) top-of-book changes", line)
        assert m is not None and int(m.group(1)) == n and int(m.group(2)) > 0, (venue, line)
        assert "gaps 0, decode errors 0" in line and " last " in line, line
