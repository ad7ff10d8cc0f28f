"""Market data end to end for the venues of issue 13 (HTX, KuCoin, Bitfinex, Deribit, Kraken
Futures): each venue's loopback server replays its recording byte for byte (HTX gzip-compressed,
KuCoin with its REST snapshots) over real websockets on 127.0.0.1; the venue module subscribes
the venue's way, answers its keep-alive, routes the frames through its Feed into the engine's
books, and the books come out valid and uncrossed.

A build without a venue's decoder skips that venue's case, saying so (the decoders are written
on their own branch; these cases run once it is merged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from loopback_helpers import DATA, Probe, run, wait_for

from hftcore import Instrument
from hftcore._ext.feed import Feed
from hftcore.decoders import decoder_for
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.bitfinex import BitfinexVenue
from hftcore.venues.deribit import DeribitVenue
from hftcore.venues.htx import HtxVenue
from hftcore.venues.kraken_futures import KrakenFuturesVenue
from hftcore.venues.kucoin import KucoinVenue
from hftcore.venues.loopback_more import (
    AccountLoopback,
    BitfinexLoopback,
    DeribitLoopback,
    HtxLoopback,
    KrakenFuturesLoopback,
    KucoinLoopback,
)
from hftcore.venues.orderentry import OrderEntryVenue
from hftcore.venues.ws import Backoff

CASES: dict[str, tuple[list[str], list[str], type[AccountLoopback], type[OrderEntryVenue],
                       dict[str, Any]]] = {
    "htx": (["htx/ws_spot_gzip_2021-04-17.txt"], ["trioeth", "dogeeth", "zeneth"],
            HtxLoopback, HtxVenue, {}),
    "kucoin": (["kucoin/ws_2021-04-25_part1.txt"], ["SNX-BTC", "FET-BTC", "NRG-BTC"],
               KucoinLoopback, KucoinVenue,
               {"rest_snapshots": DATA / "kucoin" / "rest_level2_2021-04-25.txt"}),
    "bitfinex": (["bitfinex/ws_v2_2021-04-17.txt"], ["tBFTUSD", "tIOTETH", "tDOGUSD"],
                 BitfinexLoopback, BitfinexVenue, {}),
    "deribit": (["deribit/ws_v2_2021-07-22.txt"],
                ["BTC-24SEP21-8000-P", "BTC-31DEC21-34000-P", "ETH-30JUL21-2800-C"],
                DeribitLoopback, DeribitVenue, {}),
    "kraken_futures": (["kraken_futures/ws_v1_2021-07-22_part1.txt"],
                       ["PI_ETHUSD", "FI_XBTUSD_210924", "PI_LTCUSD"],
                       KrakenFuturesLoopback, KrakenFuturesVenue, {}),
}


def feed_knows(venue: str) -> str:
    """Why this build cannot decode ``venue`` ('' when it can)."""
    try:
        Feed(decoder_for(venue), venue, 1)
    except (ValueError, KeyError) as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize("venue_name", [*sorted(CASES), "htx_inflated_here"])
def test_market_data_end_to_end(venue_name: str) -> None:
    inflate_here = venue_name == "htx_inflated_here"     # HTX frames through Engine.on_frame
    venue_name = "htx" if inflate_here else venue_name
    why = feed_knows(venue_name)
    if why:
        pytest.skip(f"the Feed does not know the venue name {venue_name!r} in this build "
                    f"({why}): its decoder comes with the decoder branch of issue 13")
    files, symbols, server_cls, venue_cls, server_kw = CASES[venue_name]
    instruments = [Instrument(venue_name, s, 10, 8) for s in symbols]
    recording: list[Path] = [DATA / f for f in files]

    async def main() -> None:
        server = server_cls(instruments, recording, manual=True, **server_kw)
        async with server:
            engine = LiveEngine(instruments, mode="live")
            probe = Probe()
            engine.add_strategy(probe)
            venue = venue_cls(ws_url=server.ws_url, rest_url=server.rest_url,
                              backoff=Backoff(0.02, 0.2))
            runner = LiveRunner(engine, [venue])
            if isinstance(venue, HtxVenue) and inflate_here:
                venue.native_gzip = False
            try:
                await runner.start()
                await wait_for(lambda: any(getattr(c, "subscribed", False)
                                           for c in server._clients), what="subscription")
                server.send_next(len(server.frames))
                await wait_for(lambda: all(engine.core.is_valid(i)
                                           for i in range(len(instruments))),
                               what="every book valid")
                assert probe.bbo > 0
                for i in range(len(instruments)):
                    book = engine.books[i]
                    bid, ask = book.best_bid, book.best_ask
                    assert bid is not None or ask is not None, instruments[i].symbol
                    assert bid is None or ask is None or bid < ask, instruments[i].symbol
                assert venue.feed is not None and venue.feed.decode_errors == 0
                assert venue.feed.gaps == 0          # the recordings have none
                if isinstance(venue, HtxVenue):       # {"ping": n} answered {"pong": n}
                    await wait_for(lambda: server.stats["pings"] >= 1 and
                                   venue.pings_answered >= 1, what="keep-alive answer")
            finally:
                await runner.stop()
    run(main())
