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
    "binance_futures": ["binance/futures_rest_depth_2021-07-22.txt",
                        "binance/futures_ws_2021-07-22.txt"],
    "bybit": ["bybit/v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"],
    "coinbase": ["coinbase/exchange_ws_2021-04-17.txt"],
    "kraken_book": ["kraken/ws_v1_book_2021-04-17.txt"],
    "kraken_trade": ["kraken/ws_v1_trade_2021-04-17.txt"],
    "okx": ["okx/ws_v5_public_2022-05-13_part1.txt"],
    "kucoin": ["kucoin/rest_level2_2021-04-25.txt", "kucoin/ws_2021-04-25_part1.txt"],
    "deribit": ["deribit/ws_v2_2021-07-22.txt"],
    "kraken_futures": ["kraken_futures/ws_v1_2021-07-22_part1.txt"],
    "htx": ["htx/ws_spot_gzip_2021-04-17.txt"],
    "bitfinex": ["bitfinex/ws_v2_2021-04-17.txt"],
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
    # (HTX prints sizes from binary floats: they are rounded at the size decimals, not refused)
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
    if name in ("kraken_trade", "coinbase", "okx", "kucoin", "kraken_futures", "htx"):
        assert w.trades > 0
    if name == "bitfinex":
        assert w.trades == 0          # its recording has trade history only: never replayed


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


def test_one_message_for_two_instruments_goes_to_each_book(tmp_path: Path) -> None:
    """A Kraken v2 book message carrying two symbols: each symbol's levels reach its own book,
    each checksum is verified on its own book, and both strategies' hooks see their own."""
    from test_decode_books import _kraken_v2_book

    import hftcore
    from hftcore.model import Instrument

    decs = {"BTC/USD": (1, 3), "ETH/USD": (2, 3)}
    insts = [Instrument("kraken", s, p, q) for s, (p, q) in decs.items()]
    ref = {s: hftcore.L2Book(p, q) for s, (p, q) in decs.items()}
    steps = [
        ("snapshot", {"BTC/USD": [(0, "100.1", "1.5"), (1, "100.2", "0.25")],
                      "ETH/USD": [(0, "10.01", "3"), (1, "10.02", "4")]}),
        ("update", {"BTC/USD": [(1, "100.3", "7")], "ETH/USD": [(1, "10.02", "0.5")]}),
    ]
    msgs = []
    for kind, levels in steps:
        items = []
        for sym, lv in levels.items():
            inst = insts[0] if sym == "BTC/USD" else insts[1]
            for side, p, q in lv:
                ref[sym].apply(side, inst.price(p), inst.qty(q))
            items.append((sym, lv, ref[sym].checksum("kraken")))
        msgs.append(_kraken_v2_book(kind, items))
    path = tmp_path / "kraken_v2.jsonl"
    path.write_bytes(b"\n".join(msgs) + b"\n")
    seen: dict[str, int] = {}

    class Count(Strategy):
        def on_book(self, instrument, book):  # type: ignore[no-untyped-def]
            seen[instrument.symbol] = seen.get(instrument.symbol, 0) + 1

    r = backtest(Count(), path, insts, venue="kraken")
    counters = r.stats["instruments"]
    assert counters["kraken:BTC/USD"]["checksums_ok"] == 2
    assert counters["kraken:ETH/USD"]["checksums_ok"] == 2
    assert r.stats["invalid_books"] == [] and seen == {"BTC/USD": 2, "ETH/USD": 2}
    assert r.engine is not None
    for k, sym in enumerate(decs):
        assert list(r.engine.books[k]) == list(ref[sym])


def test_wrong_kraken_checksum_invalidates_that_book_until_its_next_snapshot(
        tmp_path: Path) -> None:
    """A Kraken v2 checksum that does not match the engine's book marks that book invalid (the
    strategy is told); the next snapshot of that symbol (a resubscription in the recording)
    makes it valid again, in a backtest as live; the other book is never touched."""
    from test_decode_books import _kraken_v2_book

    import hftcore
    from hftcore.model import Instrument

    decs = {"BTC/USD": (1, 3), "ETH/USD": (2, 3)}
    insts = {s: Instrument("kraken", s, p, q) for s, (p, q) in decs.items()}
    ref = {s: hftcore.L2Book(p, q) for s, (p, q) in decs.items()}
    steps: list[tuple[str, str, list[tuple[int, str, str]], int]] = [
        ("snapshot", "BTC/USD", [(0, "100.1", "1.5"), (1, "100.2", "0.25")], 0),
        ("snapshot", "ETH/USD", [(0, "10.01", "3"), (1, "10.02", "4")], 0),
        ("update", "BTC/USD", [(1, "100.3", "7")], 1),              # a wrong checksum
        ("update", "ETH/USD", [(1, "10.02", "0.5")], 0),
        ("snapshot", "BTC/USD", [(0, "100.1", "1.5"), (1, "100.2", "0.25")], 0),
        ("update", "BTC/USD", [(0, "100.0", "2")], 0),
    ]
    msgs = []
    for kind, sym, lv, off in steps:
        if kind == "snapshot":
            ref[sym].clear()
        for side, p, q in lv:
            ref[sym].apply(side, insts[sym].price(p), insts[sym].qty(q))
        msgs.append(_kraken_v2_book(kind, [(sym, lv, ref[sym].checksum("kraken") + off)]))
    path = tmp_path / "kraken_v2.jsonl"
    path.write_bytes(b"\n".join(msgs) + b"\n")
    status: list[tuple[str, bool]] = []

    class Watch(Strategy):
        def on_book_status(self, instrument, valid):  # type: ignore[no-untyped-def]
            status.append((instrument.symbol, valid))

    r = backtest(Watch(), path, list(insts.values()), venue="kraken")
    counters = r.stats["instruments"]
    assert counters["kraken:BTC/USD"]["checksums_failed"] == 1
    assert counters["kraken:BTC/USD"]["checksums_ok"] == 3
    assert counters["kraken:ETH/USD"]["checksums_failed"] == 0
    assert status == [("BTC/USD", True), ("ETH/USD", True), ("BTC/USD", False),
                      ("BTC/USD", True)]
    assert r.stats["invalid_books"] == []
