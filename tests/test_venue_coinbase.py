"""Coinbase Exchange public market data against its loopback server: snapshots on
subscription, the recorded level2 updates, heartbeats, and a product gone stale resynced by a
new subscription (the staleness watchdog, independent of the socket, which stays busy)."""

from __future__ import annotations

import asyncio

import pytest
from loopback_helpers import DATA, Probe, run, wait_for

from hftcore.data import sample
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.coinbase import CoinbaseVenue
from hftcore.venues.loopback import CoinbaseLoopback, coinbase_frames_from_recording
from hftcore.venues.ws import Backoff

RECORDING = DATA / "coinbase" / "exchange_ws_2021-04-17.txt"
INSTRUMENTS = sample.instruments()


def _matches(server: CoinbaseLoopback, engine: LiveEngine, i: int) -> bool:
    inst = INSTRUMENTS[i]
    bids, asks = server.books[inst.symbol].top(100)
    bp, bq, ap, aq = engine.books[i].depth(100)
    return ([(int(p), int(q)) for p, q in zip(bp, bq, strict=True)]
            == [(inst.price(p), inst.qty(q)) for p, q in bids]
            and [(int(p), int(q)) for p, q in zip(ap, aq, strict=True)]
            == [(inst.price(p), inst.qty(q)) for p, q in asks])


def test_recording_parsed() -> None:
    frames, snaps = coinbase_frames_from_recording(RECORDING)
    assert sorted(snaps) == sorted(i.symbol for i in INSTRUMENTS)
    assert sum(1 for f in frames if f.stream == "level2") > 3000


def test_books_heartbeats_and_a_stale_product() -> None:
    async def main() -> None:
        server = CoinbaseLoopback(INSTRUMENTS, RECORDING, manual=True)
        async with server:
            engine = LiveEngine(INSTRUMENTS, mode="live")
            probe = Probe()
            engine.add_strategy(probe)
            venue = CoinbaseVenue(ws_url=server.ws_url, backoff=Backoff(0.02, 0.2),
                                  stale_after=0.3, watch_interval=0.02)
            runner = LiveRunner(engine, [venue])
            n = len(INSTRUMENTS)
            try:
                await runner.start()
                await wait_for(lambda: all(engine.core.is_valid(i) for i in range(n)),
                               what="snapshots")
                server.send_next(len(server.frames))
                lst = venue.listener
                assert lst is not None
                await wait_for(lambda: lst.data_messages >= server.stats["frames_sent"] + n,
                               what="frames")
                assert server.heartbeat() == n
                await wait_for(lambda: lst.control_messages >= n, what="heartbeats")
                for i in range(n):
                    assert engine.core.is_valid(i) and _matches(server, engine, i)
                assert venue.feed is not None and venue.feed.decode_errors == 0
                # no more data: every product goes stale, is marked invalid and resubscribed
                await wait_for(lambda: venue.stale_events >= n, 5, "stale products")
                assert venue.watchdog is not None
                venue.watchdog.timeout_ns = 0      # a quiet market would go stale again
                await wait_for(lambda: all(engine.core.is_valid(i) for i in range(n)), 5,
                               "resynced")
                assert server.stats["snapshots"] >= 2 * n
                assert all((i.symbol, False) in probe.status for i in INSTRUMENTS)
                for i in range(n):
                    assert _matches(server, engine, i)
                await asyncio.sleep(0)
            finally:
                await runner.stop()
    run(main())


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="channel"):
        CoinbaseVenue(channel="full")
