"""Kraken websocket v1 market data against its loopback server: books synced from the snapshot
sent on subscribe, every recorded checksum verified by the engine, a wrong checksum resyncing
that pair only (a fresh subscription), orders refused without credentials (order entry:
test_venue_kraken_orders.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from loopback_helpers import DATA, Probe, run, wait_for

from hftcore import Instrument, OrderStatus
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.kraken import KrakenVenue, subscribe_message
from hftcore.venues.loopback import KrakenLoopback, kraken_frames_from_recording
from hftcore.venues.ws import Backoff

RECORDING = DATA / "kraken" / "ws_v1_book_2021-04-17.txt"
DECIMALS = {"ADA/XBT": 9, "ETH/CHF": 5, "GRT/ETH": 9, "KSM/XBT": 8, "OCEAN/XBT": 9,
            "OMG/USD": 6, "SC/EUR": 6, "WAVES/EUR": 6, "XBT/CHF": 5, "XMR/USD": 8}
INSTRUMENTS = [Instrument("kraken", s, p, 8) for s, p in sorted(DECIMALS.items())]
DEPTH = 1000


@dataclass
class KSession:
    server: KrakenLoopback
    engine: LiveEngine
    venue: KrakenVenue
    strategy: Probe


@contextlib.asynccontextmanager
async def kraken_session() -> AsyncIterator[KSession]:
    server = KrakenLoopback(INSTRUMENTS, RECORDING, manual=True)
    await server.start()
    runner = None
    try:
        engine = LiveEngine(INSTRUMENTS, mode="live",
                            book_depth={i: DEPTH for i in range(len(INSTRUMENTS))})
        probe = Probe()
        engine.add_strategy(probe)
        venue = KrakenVenue(depth=DEPTH, ws_url=server.ws_url, backoff=Backoff(0.02, 0.2))
        runner = LiveRunner(engine, [venue])
        await runner.start()
        await wait_for(lambda: all(engine.core.is_valid(i) for i in venue.indices),
                       what="snapshots")
        yield KSession(server, engine, venue, probe)
    finally:
        if runner is not None:
            await runner.stop()
        await server.stop()


def _send_all(s: KSession, n: int | None = None) -> int:
    return s.server.send_next(len(s.server.frames) if n is None else n)


async def _drain(s: KSession) -> None:
    lst = s.venue.listener
    assert lst is not None
    want = s.server.stats["frames_sent"]
    base = s.server.clients and 0
    await wait_for(lambda: lst.data_messages >= want + base, 20, "frames")
    await asyncio.sleep(0.05)


def _matches(s: KSession, i: int, levels: int = 50) -> bool:
    inst = INSTRUMENTS[i]
    bids, asks = s.server.books[inst.symbol].top(levels)
    bp, bq, ap, aq = s.engine.books[i].depth(levels)
    return ([(int(p), int(q)) for p, q in zip(bp, bq, strict=True)]
            == [(inst.price(p), inst.qty(q)) for p, q in bids]
            and [(int(p), int(q)) for p, q in zip(ap, aq, strict=True)]
            == [(inst.price(p), inst.qty(q)) for p, q in asks])


def test_recording_parsed() -> None:
    frames, snaps = kraken_frames_from_recording(RECORDING)
    assert sorted(snaps) == sorted(DECIMALS)
    assert sum(1 for f in frames if f.stream == "book") == 4269
    assert subscribe_message(["XBT/USD"], 10) == \
        b'{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"book","depth":10}}'


def test_checksums_verify_on_every_update() -> None:
    async def main() -> None:
        async with kraken_session() as s:
            _send_all(s)
            await _drain(s)
            counters = [s.engine.core.counters(i) for i in s.venue.indices]
            assert sum(c["checksums_ok"] for c in counters) >= 4269
            assert sum(c["checksums_failed"] for c in counters) == 0
            for i in s.venue.indices:
                assert s.engine.core.is_valid(i) and _matches(s, i)
            assert s.venue.feed is not None and s.venue.feed.decode_errors == 0
    run(main(), 90)


def test_bad_checksum_resyncs_that_pair_only() -> None:
    async def main() -> None:
        async with kraken_session() as s:
            _send_all(s, 500)
            await _drain(s)
            before = len(s.strategy.status)
            pair = "XBT/CHF"
            idx = INSTRUMENTS.index(next(i for i in INSTRUMENTS if i.symbol == pair))
            s.server.faults.corrupt_checksum.add(pair)
            _send_all(s)
            await _drain(s)
            await wait_for(lambda: s.engine.core.is_valid(idx), 10, "resynced")
            c = s.engine.core.counters(idx)
            assert c["checksums_failed"] == 1
            after = s.strategy.status[before:]
            assert (pair, False) in after and after[-1] == (pair, True)
            assert {sym for sym, _ in after} == {pair}        # the other pairs were not touched
            assert s.server.stats["snapshots"] == len(INSTRUMENTS) + 1
            for i in s.venue.indices:
                assert s.engine.core.is_valid(i) and _matches(s, i)
            others = [s.engine.core.counters(i)["checksums_failed"] for i in s.venue.indices
                      if i != idx]
            assert others == [0] * (len(INSTRUMENTS) - 1)
    run(main(), 90)


def test_book_depth_must_match_the_subscription() -> None:
    engine = LiveEngine(INSTRUMENTS, mode="live")
    with pytest.raises(ValueError, match="book_depth"):
        engine.add_venue(KrakenVenue(depth=DEPTH))
    with pytest.raises(ValueError, match="depth must be"):
        KrakenVenue(depth=7)


def test_orders_are_refused_with_the_reason() -> None:
    async def main() -> None:
        async with kraken_session() as s:
            inst = INSTRUMENTS[0]
            bid = s.engine.books[0].best_bid
            assert bid is not None
            o = s.strategy.buy(inst, inst.qty("1"), bid)
            await wait_for(lambda: o.status == OrderStatus.REJECTED, what="refusal")
            assert "kraken: no order entry" in o.reason
    run(main())

