"""Backtest one strategy over recordings of HTX, KuCoin, Bitfinex, Deribit and Kraken Futures.

Each venue's recording goes through its own decoder and book-sync rule (HTX's gzip frames are
inflated in C; KuCoin's REST snapshot is bridged to its buffered diffs; Bitfinex's channel ids
come from its subscribe acknowledgements; Deribit's ``prev_change_id`` and Kraken Futures'
``seq`` chains are checked), exactly as a live connection would feed the engine.  The strategy
only watches: it counts top-of-book changes and trades per instrument and remembers the last
best bid and ask of the busiest one.

Run: ``python examples/five_venues.py`` (the recordings bundled in tests/data), or give the
recordings of one venue: ``python examples/five_venues.py REST.txt STREAM.txt``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import hftcore
from hftcore import fixed
from hftcore.data.recordings import infer_instruments

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
RECORDINGS = {
    "htx": [DATA / "htx" / "ws_spot_gzip_2021-04-17.txt"],
    "kucoin": [DATA / "kucoin" / "rest_level2_2021-04-25.txt",
               DATA / "kucoin" / "ws_2021-04-25_part1.txt"],
    "bitfinex": [DATA / "bitfinex" / "ws_v2_2021-04-17.txt"],
    "deribit": [DATA / "deribit" / "ws_v2_2021-07-22.txt"],
    "kraken_futures": [DATA / "kraken_futures" / "ws_v1_2021-07-22_part1.txt"],
}


class Watch(hftcore.Strategy):
    """Counts what it is told; keeps each instrument's last best bid and ask."""

    def __init__(self) -> None:
        super().__init__()
        self.bbo: Counter[str] = Counter()
        self.trades: Counter[str] = Counter()
        self.top: dict[str, tuple[Any, Any, Any]] = {}

    def on_bbo(self, instrument: Any, book: Any) -> None:
        self.bbo[instrument.symbol] += 1
        self.top[instrument.symbol] = (instrument, book.best_bid, book.best_ask)

    def on_trade(self, instrument: Any, trade: Any) -> None:
        self.trades[instrument.symbol] += 1


def run(files: list[Path]) -> str:
    instruments = infer_instruments(files)         # symbols and the decimals they are written with
    w = Watch()
    r = hftcore.backtest(w, files, instruments, progress=False)
    st = r.stats
    venue = instruments[0].venue
    line = (f"{venue}: {len(instruments)} instruments, {st['messages']} messages, "
            f"{sum(w.bbo.values())} top-of-book changes, {sum(w.trades.values())} trades, "
            f"gaps {st['gaps']}, decode errors {st['decode_errors']}")
    if w.bbo:
        sym = w.bbo.most_common(1)[0][0]
        inst, bid, ask = w.top[sym]
        pd = inst.price_decimals
        bid_text = "-" if bid is None else fixed.format(bid, pd)
        ask_text = "-" if ask is None else fixed.format(ask, pd)
        line += f"; {sym} last {bid_text} / {ask_text}"
    return line


def main() -> None:
    if len(sys.argv) > 1:
        print(run([Path(p) for p in sys.argv[1:]]))
        return
    for files in RECORDINGS.values():
        print(run(files))


if __name__ == "__main__":
    main()
