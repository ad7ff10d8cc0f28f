"""Every bundled recording backtests with a do-nothing strategy: no errors, every book valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from hftcore.backtest import backtest
from hftcore.data.recordings import infer_instruments
from hftcore.strategy import Strategy

DATA = Path(__file__).parent / "data"

RECORDINGS = {
    "binance": ["binance/spot_rest_depth_2021-10-12.txt", "binance/spot_ws_2021-10-12.txt"],
    "bybit": ["bybit/v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"],
    "coinbase": ["coinbase/exchange_ws_2021-04-17.txt"],
    "kraken_book": ["kraken/ws_v1_book_2021-04-17.txt"],
    "kraken_trade": ["kraken/ws_v1_trade_2021-04-17.txt"],
    "okx": ["okx/ws_v5_public_2022-05-13_part1.txt"],
}
CHECKSUMS = {"kraken_book": 4269, "okx": 103}


class Watch(Strategy):
    def __init__(self) -> None:
        super().__init__()
        self.bbos = 0
        self.trades = 0
        self.crossed = 0

    def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
        self.bbos += 1
        self.crossed += bool(book.is_crossed)

    def on_trade(self, instrument, trade):  # type: ignore[no-untyped-def]
        self.trades += 1


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_recording_backtests_cleanly(name: str) -> None:
    files = [DATA / f for f in RECORDINGS[name]]
    insts = infer_instruments(files)
    w = Watch()
    r = backtest(w, files, insts)
    st = r.stats
    assert st["decode_errors"] == 0, r.replay.errors if r.replay else None
    assert st["other_symbol_messages"] == 0
    assert st["gaps"] == 0
    assert st["invalid_books"] == []
    assert st["failures"] == 0
    assert st["messages"] > 0 and st["events"] > 0
    counters = st["instruments"].values()
    assert sum(c["checksums_failed"] for c in counters) == 0
    assert sum(c["checksums_ok"] for c in counters) == CHECKSUMS.get(name, 0)
    assert sum(c["bad_deltas"] for c in counters) == 0
    if name != "kraken_trade":
        assert w.bbos > 0 and w.crossed == 0
    if name in ("kraken_trade", "coinbase", "okx"):
        assert w.trades > 0


def test_binance_stream_without_its_snapshot_never_becomes_valid() -> None:
    files = [DATA / "binance/spot_ws_2021-10-12.txt"]
    insts = infer_instruments(files)
    w = Watch()
    r = backtest(w, files, insts)
    assert w.bbos == 0            # never synced: no book hooks
    assert r.stats["invalid_books"] == [f"binance:{i.symbol}" for i in insts] or \
        all(not c["valid"] for c in r.stats["instruments"].values())


def test_backtest_is_deterministic_with_latency_distribution() -> None:
    from hftcore.venues.sim import Latency, lognormal

    files = [DATA / f for f in RECORDINGS["coinbase"]]
    insts = infer_instruments(files)

    class MM(Strategy):
        def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
            bb, ba = book.best_bid, book.best_ask
            if bb is not None and ba is not None:
                self.quote(instrument, bb, ba, max(1, book.best_bid_size // 10))

    runs = [backtest(MM(), files, insts, latency=Latency(lognormal(50_000, 0.5),
                                                          lognormal(50_000, 0.5)), seed=s)
            for s in (7, 7, 8)]
    assert runs[0].stats["trades"] > 0
    assert runs[0].fills_bytes() == runs[1].fills_bytes()
    assert runs[0].orders.equals(runs[1].orders)
    assert runs[0].fills_bytes() != runs[2].fills_bytes()
