"""Paper trading: live market data over a real websocket, fills from the simulated exchange.

A Binance loopback server on 127.0.0.1 replays the bundled sample (re-encoded as Binance market
data) at 20x the recorded pace; `BinanceVenue` streams it into a `LiveEngine` in paper mode,
where the demo market maker's orders are matched by the simulated exchange with 200 µs of
latency each way. No account and no internet: swap the URLs for Binance's to paper-trade the
real market.

    python examples/live_paper_loopback.py
"""

from __future__ import annotations

import asyncio

from hftcore.demo import MarketMaker
from hftcore.live import LiveEngine, LiveRunner, _sample_as_binance, run
from hftcore.venues.binance import BinanceVenue
from hftcore.venues.loopback import BinanceLoopback
from hftcore.venues.sim import SimExchange


async def main() -> None:
    instruments, frames = _sample_as_binance()
    server = BinanceLoopback(instruments, frames=frames, speed=20.0, start_on_subscribe=False)
    async with server:
        engine = LiveEngine(instruments, mode="paper", sim=SimExchange(latency=200_000),
                            fees=("0.0000", "0.0005"))
        mm = engine.add_strategy(MarketMaker())
        venue = BinanceVenue(ws_url=server.ws_url, rest_url=server.rest_url)   # no keys
        runner = LiveRunner(engine, [venue])
        await runner.start()
        while not all(venue.synced(i) for i in venue.indices):
            await asyncio.sleep(0.01)
        server.start_replay()
        await server.done.wait()
        await asyncio.sleep(0.1)
        await runner.stop()
        stats = engine.stats()
        print(f"paper run: {server.stats['frames_sent']} market-data frames over the websocket, "
              f"{venue.feed.decode_errors if venue.feed else 0} decode errors")
        print(f"books valid: {sum(engine.core.is_valid(i) for i in venue.indices)}/"
              f"{len(venue.indices)}; orders sent to the venue: {server.stats['orders']}")
        print(f"orders {stats['orders']}, simulated fills {stats['fills']}, "
              f"quotes {mm.quotes_sent}, PnL {engine.pnl()} (8 decimals)")


if __name__ == "__main__":
    run(main())
