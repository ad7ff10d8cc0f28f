"""Bybit v5 public market data against its loopback server: the snapshot sent on subscription,
the recorded deltas chained by ``u``, a gap resyncing that symbol by a new subscription, the
periodic ``{"op":"ping"}`` keep-alive answered."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from loopback_helpers import DATA, Probe, run, wait_for

from hftcore import Instrument
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.bybit import BybitVenue
from hftcore.venues.loopback import BybitLoopback, bybit_frames_from_recording
from hftcore.venues.ws import Backoff

RECORDING = DATA / "bybit" / "v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"
XRP = Instrument("bybit", "XRPUSDT", 4, 0)


def _matches(server: BybitLoopback, engine: LiveEngine) -> bool:
    bids, asks = server.books["XRPUSDT"].top(500)
    bp, bq, ap, aq = engine.books[0].depth(500)
    return ([(int(p), int(q)) for p, q in zip(bp, bq, strict=True)]
            == [(XRP.price(p), XRP.qty(q)) for p, q in bids]
            and [(int(p), int(q)) for p, q in zip(ap, aq, strict=True)]
            == [(XRP.price(p), XRP.qty(q)) for p, q in asks])


def test_recording_parsed() -> None:
    frames, snaps = bybit_frames_from_recording(RECORDING)
    assert list(snaps) == ["XRPUSDT"] and len(frames) == 49
    assert all(b.last == a.last + 1 for a, b in itertools.pairwise(frames))


@pytest.mark.parametrize("gap", [False, True])
def test_book_follows_the_u_chain_and_resyncs_a_gap(gap: bool) -> None:
    async def main() -> None:
        server = BybitLoopback([XRP], RECORDING, manual=True)
        async with server:
            engine = LiveEngine([XRP], mode="live")
            probe = engine.add_strategy(Probe())
            venue = BybitVenue(category="linear", depth=500, ws_url=server.ws_url + "/v5/public",
                               backoff=Backoff(0.02, 0.2), ping_interval=0.05)
            runner = LiveRunner(engine, [venue])
            try:
                await runner.start()
                await wait_for(lambda: engine.core.is_valid(0), what="snapshot")
                server.send_next(20)
                if gap:
                    server.faults.skip.add("XRPUSDT")
                server.send_next(len(server.frames))
                lst = venue.listener
                assert lst is not None
                await wait_for(lambda: lst.data_messages >= server.stats["frames_sent"] + 1,
                               what="frames")
                await wait_for(lambda: engine.core.is_valid(0), what="valid")
                await asyncio.sleep(0.2)                 # a few keep-alive pings go out
                assert _matches(server, engine)
                assert venue.feed is not None and venue.feed.decode_errors == 0
                assert venue.feed.gaps == (1 if gap else 0)
                assert server.stats["snapshots"] == (2 if gap else 1)
                assert probe is not None and (("XRPUSDT", False) in probe.status) is gap
                assert server.stats["pings"] >= 1           # {"op":"ping"} answered
            finally:
                await runner.stop()
    run(main())


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="category"):
        BybitVenue(category="futures")
    with pytest.raises(ValueError, match="depth"):
        BybitVenue(depth=7)
