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


def test_orders_over_the_private_websocket() -> None:
    from hftcore import OrderStatus
    from hftcore.venues.keys import Credentials

    key, secret, passphrase = "okx-test-key-01", "okx-test-secret-02", "okx-pass-03"
    btc = INSTRUMENTS[1]

    async def main() -> None:
        server = OkxLoopback(INSTRUMENTS, RECORDING, manual=True, api_key=key,
                             api_secret=secret, passphrase=passphrase)
        async with server:
            engine = LiveEngine(INSTRUMENTS, mode="live")
            st = engine.add_strategy(Probe())
            assert st is not None
            venue = OkxVenue(ws_url=server.ws_url + "/ws/v5/public",
                             private_url=server.ws_url + "/ws/v5/private",
                             rest_url=server.rest_url, backoff=Backoff(0.02, 0.2),
                             credentials=Credentials.of("okx", key, api_secret=secret,
                                                        passphrase=passphrase))
            runner = LiveRunner(engine, [venue])
            try:
                await runner.start()
                await wait_for(lambda: all(engine.core.is_valid(i) for i in range(3)),
                               what="snapshots")
                assert venue.trading
                book = engine.books[1]
                bid, ask = book.best_bid, book.best_ask
                assert bid is not None and ask is not None
                o = st.buy(btc, btc.qty("0.01"), bid - 1000)
                await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
                so = server.by_cid[o.client_order_id.replace("-", "")]
                assert so.price == bid - 1000
                assert st.amend(o, price=bid - 900, size=btc.qty("0.02"))
                await wait_for(lambda: o.price == bid - 900 and o.size == btc.qty("0.02"),
                               what="amend")
                assert st.cancel(o)
                await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel")
                t = st.buy(btc, book.best_ask_size, ask)
                await wait_for(lambda: t.status == OrderStatus.FILLED, what="fill")
                assert engine.position(st, btc) == t.size
                # a fill while the private connection is down: settled over REST
                r = st.sell(btc, btc.qty("0.01"), ask + 1000)
                await wait_for(lambda: r.status == OrderStatus.ACCEPTED, what="ack 2")
                server.faults.silent = True
                server.exchange_fill(r.client_order_id.replace("-", ""))
                server.faults.silent = False
                server.drop_connections()
                await wait_for(lambda: r.status == OrderStatus.FILLED, 10, "reconciled")
                assert venue.reconciliations >= 1 and len(r.fills) == 1
                await wait_for(lambda: venue.trading, what="trading again")
                # a refused login
                server.faults.reject_signature = True
                server.drop_connections()
                await wait_for(lambda: not venue.trading and "login refused" in
                               venue.block_reason, 10, "refused login")
                n = st.buy(btc, btc.qty("0.01"), bid - 1000)
                await wait_for(lambda: n.status == OrderStatus.REJECTED, what="refusal")
                assert "60009" in n.reason and server.stats["bad_signatures"] >= 1
                for order in engine.om:
                    srv = server.by_cid.get(order.client_order_id.replace("-", ""))
                    if srv is None:
                        assert order.status == OrderStatus.REJECTED
                    else:
                        assert order.filled == srv.filled
                        assert order.is_open is (srv.status in ("NEW", "PARTIALLY_FILLED"))
            finally:
                await runner.stop()
    run(main())
