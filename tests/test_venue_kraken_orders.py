"""Kraken spot order entry against its loopback server: a token from the signed REST endpoint
``GetWebSocketsToken``, ``add_order`` / ``amend_order`` / ``cancel_order`` over the
authenticated websocket v2, acks, fills and cancels from the ``executions`` channel, rejects,
the trading counter, and open orders reconciled over REST after a reconnect."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from loopback_helpers import DATA, Probe, run, wait_for

from hftcore import Instrument, OrderStatus, TimeInForce
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.keys import Credentials
from hftcore.venues.kraken import KrakenVenue, cl_ord_id, ws2_symbol
from hftcore.venues.loopback import KrakenLoopback
from hftcore.venues.ratelimit import Bucket, RateLimiter
from hftcore.venues.ws import Backoff

RECORDING = DATA / "kraken" / "ws_v1_book_2021-04-17.txt"
INSTRUMENTS = [Instrument("kraken", "XBT/CHF", 5, 8), Instrument("kraken", "ETH/CHF", 5, 8)]
DEPTH = 1000
KEY = "kr-test-key-Zq81pX"
SECRET = base64.b64encode(b"kraken loopback test secret, 64 bytes long....................."
                          ).decode()


@dataclass
class KSession:
    server: KrakenLoopback
    engine: LiveEngine
    venue: KrakenVenue
    strategy: Probe


@contextlib.asynccontextmanager
async def session(venue_kw: dict[str, Any] | None = None,
                  secret: str = SECRET) -> AsyncIterator[KSession]:
    server = KrakenLoopback(INSTRUMENTS, RECORDING, manual=True, api_key=KEY, api_secret=SECRET)
    await server.start()
    runner = None
    try:
        engine = LiveEngine(INSTRUMENTS, mode="live",
                            book_depth={i: DEPTH for i in range(len(INSTRUMENTS))})
        probe = Probe()
        engine.add_strategy(probe)
        venue = KrakenVenue(depth=DEPTH, ws_url=server.ws_url, auth_url=server.ws_url + "/v2",
                            rest_url=server.rest_url, backoff=Backoff(0.02, 0.2),
                            credentials=Credentials.of("kraken", KEY, api_secret=secret),
                            **(venue_kw or {}))
        runner = LiveRunner(engine, [venue])
        await runner.start()
        await wait_for(lambda: all(engine.core.is_valid(i) for i in venue.indices),
                       what="snapshots")
        yield KSession(server, engine, venue, probe)
    finally:
        if runner is not None:
            await runner.stop()
        await server.stop()


def accounted(s: KSession) -> None:
    """Every order is settled and agrees with the server (status, filled size, fills)."""
    status = {"FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED,
              "EXPIRED": OrderStatus.EXPIRED, "NEW": OrderStatus.ACCEPTED,
              "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED}
    for o in s.engine.om:
        assert o.status not in (OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL,
                                OrderStatus.PENDING_REPLACE, OrderStatus.UNKNOWN), o.history
        so = s.server.by_cid.get(cl_ord_id(o.client_order_id))
        if so is None or so.status == "REJECTED":
            assert o.status == OrderStatus.REJECTED and o.reason
            continue
        assert o.status == status[so.status], (o.status, so.status)
        assert o.filled == so.filled
        assert sorted(f.trade_id for f in o.fills) == sorted(t["id"] for t in so.trades)


def test_helpers_and_bad_arguments() -> None:
    assert ws2_symbol("XBT/CHF") == "BTC/CHF" and ws2_symbol("XDG/USD") == "DOGE/USD"
    assert ws2_symbol("ETH/EUR") == "ETH/EUR"
    a = cl_ord_id("hc1a2b3c4d-17")
    assert a == cl_ord_id("hc1a2b3c4d-17") != cl_ord_id("hc1a2b3c4d-18")
    assert len(a) == 32 and int(a, 16) >= 0
    with pytest.raises(TypeError, match="client_order_id"):
        cl_ord_id(17)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pair"):
        ws2_symbol(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="auth_url"):
        KrakenVenue(auth_url=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="depth"):
        KrakenVenue(depth="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="request_timeout"):
        KrakenVenue(request_timeout="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="credentials"):
        KrakenVenue(credentials="key:secret")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="api_secret"):
        KrakenVenue(credentials=Credentials.of("kraken", KEY))
    v = KrakenVenue(credentials=Credentials.of("kraken", KEY, api_secret=SECRET))
    assert KEY not in repr(v) and SECRET not in repr(v) and v.order_entry
    with pytest.raises(TypeError, match="api_secret"):
        KrakenLoopback(INSTRUMENTS, RECORDING, api_secret=b"x")  # type: ignore[arg-type]

    async def calls() -> None:
        with pytest.raises(TypeError, match="method"):
            await v.private_rest(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="params"):
            await v.private_rest("OpenOrders", {"trades": True})  # type: ignore[dict-item]
        with pytest.raises(TypeError, match="weight"):
            await v.private_rest("OpenOrders", None, 1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="orders"):
            await v.reconcile(["hc1-1"])  # type: ignore[list-item]
    run(calls())


def test_submit_ack_amend_cancel_fill_reject(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        async with session() as s:
            st, eng, srv, venue = s.strategy, s.engine, s.server, s.venue
            await wait_for(lambda: venue.trading, what="trading")
            btc = INSTRUMENTS[0]
            book = eng.books[0]
            bid, ask = book.best_bid, book.best_ask
            assert bid is not None and ask is not None
            # submit -> ack (a resting limit buy, the exact price and size on the server)
            o = st.buy(btc, btc.qty("0.0123"), bid - 100)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            so = srv.by_cid[cl_ord_id(o.client_order_id)]
            assert (so.price, so.qty, so.side, so.type) == (bid - 100, btc.qty("0.0123"), 0,
                                                            "limit")
            assert o.venue_order_id == srv.kr_order_id(so)
            sent = [r for r in srv.requests if b'"add_order"' in r][-1]   # exact decimals
            assert b'"order_qty":0.0123,' in sent and b'"symbol":"BTC/CHF"' in sent
            assert f'"limit_price":{btc.format_price(bid - 100, True)},'.encode() in sent
            # amend: new price and size, same ids
            assert st.amend(o, price=bid - 50, size=btc.qty("0.02"))
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED and o.price == bid - 50,
                           what="amend")
            so = srv.by_cid[cl_ord_id(o.client_order_id)]
            assert (so.price, so.qty) == (bid - 50, btc.qty("0.02")) and o.size == so.qty
            # cancel
            assert st.cancel(o)
            await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel")
            assert srv.by_cid[cl_ord_id(o.client_order_id)].status == "CANCELED"
            # a taker buy at the ask: filled from the executions channel
            size = book.best_ask_size
            assert size is not None
            t = st.buy(btc, size, ask)
            await wait_for(lambda: t.status == OrderStatus.FILLED, what="fill")
            assert eng.position(st, btc) == size and t.filled == size
            assert all(f.price == ask for f in t.fills)
            # post-only crossing: rejected by the venue with its reason
            p = st.sell(btc, btc.qty("0.01"), bid, post_only=True)
            await wait_for(lambda: p.status == OrderStatus.REJECTED, what="post-only reject")
            assert "EOrder:Post only order" in p.reason
            # fill-or-kill: Kraken spot has none, refused before it is sent
            f = st.buy(btc, btc.qty("0.01"), bid - 100, tif=TimeInForce.FOK)
            await wait_for(lambda: f.status == OrderStatus.REJECTED, what="FOK refusal")
            assert "fill-or-kill" in f.reason
            assert cl_ord_id(f.client_order_id) not in srv.by_cid
            # a resting sell on the other pair, filled by someone else while we watch
            eth = INSTRUMENTS[1]
            eask = eng.books[1].best_ask
            assert eask is not None
            r = st.sell(eth, eth.qty("0.5"), eask + 1000)
            await wait_for(lambda: r.status == OrderStatus.ACCEPTED, what="ack eth")
            srv.exchange_fill(cl_ord_id(r.client_order_id))
            await wait_for(lambda: r.status == OrderStatus.FILLED, what="fill eth")
            assert r.fills[0].liquidity.name.lower().startswith("maker")
            assert srv.stats["bad_signatures"] == 0 and venue.reconciliations == 0
            accounted(s)
            text = caplog.text + repr(venue) + repr(venue.status())
            assert KEY not in text and SECRET not in text
            assert all(tok not in text for tok in srv.tokens)
    run(main())


def test_reconnect_reconciles_before_trading_resumes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # REST calls of several reconnects in a few seconds: more than a Starter account's counter
    limiter = RateLimiter([Bucket("SUBSCRIPTIONS", 20, 10.0), Bucket("ORDERS", 60, 60.0),
                           Bucket("REST", 100, 45.0)])

    async def main() -> None:
        async with session({"rate_limits": limiter}) as s:
            st, eng, srv, venue = s.strategy, s.engine, s.server, s.venue
            await wait_for(lambda: venue.trading, what="trading")
            btc = INSTRUMENTS[0]
            bid, ask = eng.books[0].best_bid, eng.books[0].best_ask
            assert bid is not None and ask is not None
            # filled while the connection is down: settled over REST (OpenOrders ->
            # ClosedOrders -> QueryTrades) after the reconnect
            r = st.sell(btc, btc.qty("0.01"), ask + 1000)
            c = st.buy(btc, btc.qty("0.01"), bid - 1000)
            k = st.buy(btc, btc.qty("0.01"), bid - 2000)
            await wait_for(lambda: all(x.status == OrderStatus.ACCEPTED for x in (r, c, k)),
                           what="acks")
            srv.faults.silent = True
            srv.exchange_fill(cl_ord_id(r.client_order_id))
            srv.exchange_cancel(cl_ord_id(c.client_order_id))
            srv.faults.silent = False
            srv.drop_connections()
            await wait_for(lambda: not venue.trading, what="trading stopped")
            # an order while reconnecting: rejected with the reason, never sent
            n = st.buy(btc, btc.qty("0.01"), bid - 1000)
            await wait_for(lambda: n.status == OrderStatus.REJECTED, what="refusal")
            assert "not ready" in n.reason
            await wait_for(lambda: r.status == OrderStatus.FILLED, 10, "reconciled fill")
            await wait_for(lambda: venue.trading, what="trading again")
            assert c.status == OrderStatus.CANCELED and k.status == OrderStatus.ACCEPTED
            assert venue.reconciliations >= 1 and len(r.fills) == 1
            assert r.fills[0].trade_id == srv.by_cid[cl_ord_id(r.client_order_id)].trades[0]["id"]
            # an order never acknowledged: times out, reconciled (found open) and acked
            eng.om.timeout_ns = 300_000_000
            srv.faults.never_ack = True
            u = st.buy(btc, btc.qty("0.01"), bid - 3000)
            await wait_for(lambda: u.status == OrderStatus.ACCEPTED, 5, "reconciled ack")
            srv.faults.never_ack = False
            assert [h[1] for h in u.history][-3:] == [OrderStatus.PENDING_NEW,
                                                      OrderStatus.UNKNOWN,
                                                      OrderStatus.ACCEPTED]
            assert u.venue_order_id == srv.kr_order_id(srv.by_cid[cl_ord_id(u.client_order_id)])
            # an order the venue never received (a hung websocket): rejected, not found
            srv.faults.silent = True
            h = st.buy(btc, btc.qty("0.01"), bid - 3000)
            await wait_for(lambda: h.status == OrderStatus.REJECTED, 5, "not found")
            srv.faults.silent = False
            assert "not found" in h.reason and cl_ord_id(h.client_order_id) not in srv.by_cid
            eng.om.timeout_ns = 5_000_000_000
            # a gap in the executions channel's sequence: reconnect and reconcile
            g = st.buy(btc, btc.qty("0.01"), bid - 4000)
            await wait_for(lambda: g.status == OrderStatus.ACCEPTED, what="ack g")
            before = venue.reconciliations
            srv.skip_executions_sequence()
            srv.faults.silent = True
            srv.exchange_fill(cl_ord_id(g.client_order_id))      # this report is lost
            srv.faults.silent = False
            srv.exchange_cancel(cl_ord_id(u.client_order_id))    # this one comes after a gap
            await wait_for(lambda: g.status == OrderStatus.FILLED
                           and u.status == OrderStatus.CANCELED, 10, "gap reconciled")
            assert venue.sequence_gaps == 1 and venue.reconciliations > before
            await wait_for(lambda: venue.trading, what="trading after the gap")
            # duplicate fills are booked once
            srv.faults.duplicate_fills = True
            size = eng.books[0].best_ask_size
            assert size is not None
            t = st.buy(btc, size, ask)
            await wait_for(lambda: t.status == OrderStatus.FILLED, what="fill")
            assert sum(f.qty for f in t.fills) == size and t.filled == size
            srv.faults.duplicate_fills = False
            # a cancel asked for while disconnected goes out after the reconciliation
            srv.faults.silent = True
            assert st.cancel(k)
            srv.faults.silent = False
            srv.drop_connections()
            await wait_for(lambda: k.status == OrderStatus.CANCELED, 10, "queued cancel")
            # a refused signature: order entry stays blocked with the venue's reason
            srv.faults.reject_signature = True
            srv.drop_connections()
            await wait_for(lambda: "Invalid signature" in venue.block_reason, 10, "refusal")
            m = st.buy(btc, btc.qty("0.01"), bid - 1000)
            await wait_for(lambda: m.status == OrderStatus.REJECTED, what="rejected")
            assert "Invalid signature" in m.reason and srv.stats["bad_signatures"] >= 1
            srv.faults.reject_signature = False
            await wait_for(lambda: venue.trading, 10, "trading after the refusal")
            accounted(s)
            text = "\n".join([caplog.text, repr(venue.status()), venue.block_reason,
                              *venue.api_errors, *(o.reason for o in eng.om)])
            assert KEY not in text and SECRET not in text
            assert srv.tokens and all(tok not in text for tok in srv.tokens)
    run(main(), 90)


def test_trading_counter_refuses_before_sending() -> None:
    now = [1000.0]                       # the limiter's clock: order ages are exact

    async def main() -> None:
        limiter = RateLimiter([Bucket("SUBSCRIPTIONS", 20, 10.0), Bucket("ORDERS", 16, 60.0),
                               Bucket("REST", 15, 45.0)], clock=lambda: now[0])
        async with session({"rate_limits": limiter}) as s:
            st, eng, srv, venue = s.strategy, s.engine, s.server, s.venue
            await wait_for(lambda: venue.trading, what="trading")
            btc = INSTRUMENTS[0]
            bid = eng.books[0].best_bid
            assert bid is not None

            def used() -> int:
                return limiter.usage()["ORDERS"][0]
            a = st.buy(btc, btc.qty("0.01"), bid - 100)
            await wait_for(lambda: a.status == OrderStatus.ACCEPTED, what="ack")
            assert used() == 1
            # Kraken's counter: cancelling an order younger than 5 s weighs 8 ...
            assert st.cancel(a)
            await wait_for(lambda: a.status == OrderStatus.CANCELED, what="cancel")
            assert used() == 9
            b = st.buy(btc, btc.qty("0.01"), bid - 100)
            await wait_for(lambda: b.status == OrderStatus.ACCEPTED, what="ack b")
            now[0] += 20.0                   # ... one 20 s old weighs 4
            assert st.cancel(b)
            await wait_for(lambda: b.status == OrderStatus.CANCELED, what="cancel b")
            assert used() == 14
            c = st.buy(btc, btc.qty("0.01"), bid - 100)
            d = st.buy(btc, btc.qty("0.01"), bid - 200)
            await wait_for(lambda: c.status == d.status == OrderStatus.ACCEPTED, what="acks")
            assert used() == 16
            e = st.buy(btc, btc.qty("0.01"), bid - 100)
            await wait_for(lambda: e.status == OrderStatus.REJECTED, what="refused")
            assert "rate limit ORDERS" in e.reason and venue.rate_refused == 1
            assert cl_ord_id(e.client_order_id) not in srv.by_cid
            # an amend (1 + 3 for a young order) does not fit either: refused, order unchanged
            assert st.amend(d, price=bid - 90)
            await wait_for(lambda: d.status == OrderStatus.ACCEPTED and d.reason != "",
                           what="amend refused")
            assert "rate limit" in d.reason
            assert srv.by_cid[cl_ord_id(d.client_order_id)].price == bid - 200
            # a cancel that does not fit waits for room instead of being refused
            now[0] += 20.0                   # c is 20 s old: its cancel weighs 4
            assert st.cancel(c)
            await asyncio.sleep(0.05)        # (the limiter's clock stands still meanwhile)
            assert c.status == OrderStatus.PENDING_CANCEL
            assert srv.by_cid[cl_ord_id(c.client_order_id)].status == "NEW"
            now[0] += 21.0                   # the first tokens are back: it goes out
            await wait_for(lambda: c.status == OrderStatus.CANCELED, what="late cancel")
    run(main())
