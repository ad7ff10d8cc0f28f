"""OKX v5 public market data against its loopback server: snapshots on subscription, the
recorded updates' checksums verified by the engine, a wrong checksum resyncing that instrument
only, OKX's text ping answered."""

from __future__ import annotations

import asyncio

import pytest
from loopback_helpers import DATA, Probe, run, wait_for

from hftcore import Instrument
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.loopback import OkxLoopback, okx_frames_from_recording
from hftcore.venues.okx import OkxVenue
from hftcore.venues.ws import Backoff

RECORDING = DATA / "okx" / "ws_v5_public_2022-05-13_part1.txt"
INSTRUMENTS = [Instrument("okx", "BTC-USD-220527", 1, 0), Instrument("okx", "BTC-USDT", 1, 8),
               Instrument("okx", "UNI-USD-SWAP", 3, 0)]


def test_recording_parsed() -> None:
    frames, snaps = okx_frames_from_recording(RECORDING)
    assert sorted(snaps) == sorted(i.symbol for i in INSTRUMENTS)
    assert sum(1 for f in frames if f.stream == "books") == 100


@pytest.mark.parametrize("corrupt", [False, True])
def test_checksums_and_resync(corrupt: bool) -> None:
    async def main() -> None:
        server = OkxLoopback(INSTRUMENTS, RECORDING, manual=True)
        async with server:
            engine = LiveEngine(INSTRUMENTS, mode="live")
            probe = Probe()
            engine.add_strategy(probe)
            venue = OkxVenue(ws_url=server.ws_url, backoff=Backoff(0.02, 0.2),
                             ping_interval=0.05, ping_timeout=0.05)   # pings go out often
            runner = LiveRunner(engine, [venue])
            try:
                await runner.start()
                await wait_for(lambda: all(engine.core.is_valid(i) for i in range(3)),
                               what="snapshots")
                server.send_next(20)
                if corrupt:
                    server.faults.corrupt_checksum.add("BTC-USDT")
                server.send_next(len(server.frames))
                lst = venue.listener
                assert lst is not None
                await wait_for(lambda: lst.data_messages >= server.stats["frames_sent"] + 3,
                               what="frames")
                await wait_for(lambda: all(engine.core.is_valid(i) for i in range(3)),
                               what="valid")
                await asyncio.sleep(0.15)                 # pings go out, pongs come back
                ok = sum(engine.core.counters(i)["checksums_ok"] for i in range(3))
                bad = sum(engine.core.counters(i)["checksums_failed"] for i in range(3))
                assert bad == (1 if corrupt else 0) and ok >= (50 if corrupt else 90)
                assert (("BTC-USDT", False) in probe.status) is corrupt
                assert {s for s, v in probe.status if not v} <= {"BTC-USDT"}
                assert server.stats["snapshots"] == (4 if corrupt else 3)
                for i, inst in enumerate(INSTRUMENTS):
                    bids, asks = server.books[inst.symbol].top(25)
                    bp, bq, ap, aq = engine.books[i].depth(25)
                    assert [(int(p), int(q)) for p, q in zip(bp, bq, strict=True)] == \
                        [(inst.price(p), inst.qty(q)) for p, q in bids]
                    assert [(int(p), int(q)) for p, q in zip(ap, aq, strict=True)] == \
                        [(inst.price(p), inst.qty(q)) for p, q in asks]
                assert server.stats["pings"] >= 1          # text pings answered with pong
                assert venue.feed is not None and venue.feed.decode_errors == 0
            finally:
                await runner.stop()
    run(main())
