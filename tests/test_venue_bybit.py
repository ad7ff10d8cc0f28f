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


API_KEY = "bybit-test-key-0001"
API_SECRET = "bybit-test-secret-9f8e7d"


def _accounted(server: BybitLoopback, engine: LiveEngine) -> None:
    from hftcore import OrderStatus
    want = {"NEW": OrderStatus.ACCEPTED, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
            "FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED,
            "EXPIRED": OrderStatus.EXPIRED}
    for o in engine.om:
        so = server.by_cid.get(o.client_order_id)
        if so is None or so.status == "REJECTED":
            assert o.status == OrderStatus.REJECTED and o.reason, o.history
            continue
        assert o.status == want[so.status], (o.history, so.status)
        assert o.filled == so.filled
        assert len({f.trade_id for f in o.fills}) == len(o.fills)


def test_orders_over_the_trade_api_and_the_private_stream() -> None:
    from hftcore import OrderStatus
    from hftcore.venues.keys import Credentials

    async def main() -> None:
        server = BybitLoopback([XRP], RECORDING, manual=True, api_key=API_KEY,
                               api_secret=API_SECRET)
        async with server:
            engine = LiveEngine([XRP], mode="live")
            st = engine.add_strategy(Probe())
            assert st is not None
            venue = BybitVenue(category="linear", depth=500, ws_url=server.ws_url + "/v5/public",
                               trade_url=server.ws_url + "/v5/trade",
                               private_url=server.ws_url + "/v5/private",
                               rest_url=server.rest_url, backoff=Backoff(0.02, 0.2),
                               credentials=Credentials.of("bybit", API_KEY,
                                                          api_secret=API_SECRET))
            runner = LiveRunner(engine, [venue])
            try:
                await runner.start()
                await wait_for(lambda: engine.core.is_valid(0), what="snapshot")
                assert venue.trading
                book = engine.books[0]
                bid, ask = book.best_bid, book.best_ask
                assert bid is not None and ask is not None
                o = st.buy(XRP, XRP.qty("100"), bid - 50)
                await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
                assert st.amend(o, price=bid - 40, size=XRP.qty("150"))
                await wait_for(lambda: o.price == bid - 40 and o.size == XRP.qty("150"),
                               what="amend")
                assert server.by_cid[o.client_order_id].price == bid - 40
                assert st.cancel(o)
                await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel")
                t = st.buy(XRP, XRP.qty("10"), ask)
                await wait_for(lambda: t.status == OrderStatus.FILLED, what="fill")
                assert engine.position(st, XRP) == XRP.qty("10")
                # a resting order filled while we are away is booked by the reconciliation
                r = st.sell(XRP, XRP.qty("7"), ask + 50)
                await wait_for(lambda: r.status == OrderStatus.ACCEPTED, what="ack 2")
                server.faults.silent = True              # its private reports are lost
                server.exchange_fill(r.client_order_id)
                server.faults.silent = False
                server.drop_connections()
                await wait_for(lambda: r.status == OrderStatus.FILLED, 10, "reconciled")
                assert venue.reconciliations >= 1
                await wait_for(lambda: venue.trading, what="trading again")
                # a refused signature: the reconnecting connections cannot authenticate
                server.faults.reject_signature = True
                server.drop_connections()
                await wait_for(lambda: not venue.trading and "auth refused" in venue.block_reason,
                               10, "refused auth")
                n = st.buy(XRP, XRP.qty("1"), bid - 50)
                await wait_for(lambda: n.status == OrderStatus.REJECTED, what="refusal")
                assert "error sign" in n.reason
                assert server.stats["bad_signatures"] >= 1
                _accounted(server, engine)
            finally:
                await runner.stop()
    run(main())
