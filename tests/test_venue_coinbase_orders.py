"""Coinbase Advanced Trade order entry against its loopback server: orders, cancels and edits
over REST with an ES256 JWT per request, acks, cancels and cumulative fills from the ``user``
channel (each trade read back from ``orders/historical/fills`` and booked once), rejects, lost
answers and sequence gaps settled by reconciliation, and open orders reconciled over REST after
a reconnect."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from loopback_helpers import DATA, Probe, run, wait_for

from hftcore import Instrument, OrderStatus
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.coinbase import CoinbaseVenue, jwt, order_configuration
from hftcore.venues.keys import Credentials
from hftcore.venues.loopback import CoinbaseLoopback
from hftcore.venues.ratelimit import Bucket, RateLimiter
from hftcore.venues.ws import Backoff

RECORDING = DATA / "coinbase" / "exchange_ws_2021-04-17.txt"
INSTRUMENTS = [Instrument("coinbase", "DASH-BTC", 8, 8), Instrument("coinbase", "NMR-EUR", 4, 3)]
KEY_NAME = "organizations/org-loopback/apiKeys/key-cb-7731"
_KEY = ec.generate_private_key(ec.SECP256R1())
PEM = _KEY.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL,
                         NoEncryption()).decode()


@dataclass
class CSession:
    server: CoinbaseLoopback
    engine: LiveEngine
    venue: CoinbaseVenue
    strategy: Probe


@contextlib.asynccontextmanager
async def session(venue_kw: dict[str, Any] | None = None) -> AsyncIterator[CSession]:
    server = CoinbaseLoopback(INSTRUMENTS, RECORDING, manual=True, key_name=KEY_NAME,
                              public_key=_KEY.public_key())
    await server.start()
    runner = None
    try:
        engine = LiveEngine(INSTRUMENTS, mode="live")
        probe = Probe()
        engine.add_strategy(probe)
        venue = CoinbaseVenue(ws_url=server.ws_url, user_url=server.ws_url + "/ws-user",
                              rest_url=server.rest_url, backoff=Backoff(0.02, 0.2),
                              credentials=Credentials.of("coinbase", KEY_NAME, private_key=PEM),
                              **(venue_kw or {}))
        runner = LiveRunner(engine, [venue])
        await runner.start()
        await wait_for(lambda: all(engine.core.is_valid(i) for i in venue.indices),
                       what="snapshots")
        yield CSession(server, engine, venue, probe)
    finally:
        if runner is not None:
            await runner.stop()
        await server.stop()


def accounted(s: CSession) -> None:
    """Every order is settled and agrees with the server (status, filled size, fills)."""
    status = {"FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED,
              "EXPIRED": OrderStatus.EXPIRED, "NEW": OrderStatus.ACCEPTED,
              "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED}
    for o in s.engine.om:
        assert o.status not in (OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL,
                                OrderStatus.PENDING_REPLACE, OrderStatus.UNKNOWN), o.history
        so = s.server.by_cid.get(o.client_order_id)
        if so is None or so.status == "REJECTED":
            assert o.status == OrderStatus.REJECTED and o.reason
            continue
        assert o.status == status[so.status], (o.client_order_id, o.status, so.status)
        assert o.filled == so.filled
        assert sorted(f.trade_id for f in o.fills) == sorted(t["trade_id"] for t in so.trades)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="user_url"):
        CoinbaseVenue(user_url=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="channel"):
        CoinbaseVenue(channel=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="request_timeout"):
        CoinbaseVenue(request_timeout=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="credentials"):
        CoinbaseVenue(credentials=PEM)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="private_key"):
        CoinbaseVenue(credentials=Credentials.of("coinbase", KEY_NAME, api_secret="x" * 10))
    with pytest.raises(ValueError, match="P-256"):
        CoinbaseVenue(credentials=Credentials.of("coinbase", KEY_NAME, private_key=(
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHsDn7ubTC3KSVm/8zp5yZ+vJCRg9a/CS"
            "hgaMg3Cik4k\n-----END PRIVATE KEY-----\n")))
    v = CoinbaseVenue(credentials=Credentials.of("coinbase", KEY_NAME, private_key=PEM))
    assert v.order_entry and KEY_NAME not in repr(v) and "PRIVATE" not in repr(v)
    with pytest.raises(TypeError, match="order"):
        order_configuration("order", 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path"):
        jwt(KEY_NAME, PEM, method="GET", path=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="now"):
        jwt(KEY_NAME, PEM, now=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="private_key_pem"):
        jwt(KEY_NAME, b"pem")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="public_key"):
        CoinbaseLoopback(INSTRUMENTS, RECORDING, public_key=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key_name"):
        CoinbaseLoopback(INSTRUMENTS, RECORDING, key_name=None)  # type: ignore[arg-type]

    async def calls() -> None:
        with pytest.raises(TypeError, match="orders"):
            await v.reconcile([None])  # type: ignore[list-item]
    run(calls())


def test_submit_ack_edit_cancel_fill_reject(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        async with session() as s:
            st, eng, srv, venue = s.strategy, s.engine, s.server, s.venue
            await wait_for(lambda: venue.trading, what="trading")
            dash = INSTRUMENTS[0]
            book = eng.books[0]
            bid, ask = book.best_bid, book.best_ask
            assert bid is not None and ask is not None
            o = st.buy(dash, dash.qty("0.123"), bid - 1000)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            so = srv.by_cid[o.client_order_id]
            assert (so.price, so.qty, so.side, so.type) == (bid - 1000, dash.qty("0.123"), 0,
                                                            "limit_limit_gtc")
            assert o.venue_order_id == srv.cb_order_id(so)
            sent = orjson.loads(srv.requests[-1])                        # exact decimal text
            assert sent["order_configuration"] == {"limit_limit_gtc": {
                "base_size": "0.123", "limit_price": dash.format_price(bid - 1000, True),
                "post_only": False}}
            assert sent["client_order_id"] == o.client_order_id and sent["side"] == "BUY"
            # edit: new price and total size, same ids
            assert st.amend(o, price=bid - 500, size=dash.qty("0.2"))
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED and o.price == bid - 500,
                           what="edit")
            so = srv.by_cid[o.client_order_id]
            assert (so.price, so.qty) == (bid - 500, dash.qty("0.2")) and o.size == so.qty
            assert st.cancel(o)
            await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel")
            assert srv.by_cid[o.client_order_id].status == "CANCELED"
            # a taker buy at the ask: fills from the user channel, trades read back
            size = book.best_ask_size
            assert size is not None
            t = st.buy(dash, size, ask)
            await wait_for(lambda: t.status == OrderStatus.FILLED, what="fill")
            assert eng.position(st, dash) == size and t.filled == size
            assert [f.trade_id for f in t.fills] == [x["trade_id"]
                                                     for x in srv.by_cid[t.client_order_id].trades]
            # post-only crossing: rejected with Coinbase's reason
            p = st.sell(dash, dash.qty("0.1"), bid, post_only=True)
            await wait_for(lambda: p.status == OrderStatus.REJECTED, what="post-only reject")
            assert "INVALID_LIMIT_PRICE_POST_ONLY" in p.reason
            # an edit the venue refuses (below the filled size is impossible; a market order
            # cannot be edited: use an IOC limit that rests nowhere -> expired)
            i = st.buy(dash, dash.qty("0.1"), bid - 1000, tif=1)
            await wait_for(lambda: i.status == OrderStatus.EXPIRED, what="IOC expired")
            # a resting order filled by someone else: maker fill
            nmr = INSTRUMENTS[1]
            nask = eng.books[1].best_ask
            assert nask is not None
            r = st.sell(nmr, nmr.qty("1.5"), nask + 10)
            await wait_for(lambda: r.status == OrderStatus.ACCEPTED, what="ack nmr")
            srv.exchange_fill(r.client_order_id)
            await wait_for(lambda: r.status == OrderStatus.FILLED, what="fill nmr")
            assert r.fills[0].liquidity.name.lower().startswith("maker")
            assert srv.stats["bad_signatures"] == 0 and venue.reconciliations == 0
            accounted(s)
            text = caplog.text + repr(venue) + repr(venue.status())
            assert KEY_NAME not in text and "PRIVATE KEY" not in text
    run(main())


def test_reconnect_lost_answers_and_gaps_are_reconciled(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        async with session() as s:
            st, eng, srv, venue = s.strategy, s.engine, s.server, s.venue
            await wait_for(lambda: venue.trading, what="trading")
            dash = INSTRUMENTS[0]
            bid, ask = eng.books[0].best_bid, eng.books[0].best_ask
            assert bid is not None and ask is not None
            r = st.sell(dash, dash.qty("0.1"), ask + 1000)
            c = st.buy(dash, dash.qty("0.1"), bid - 1000)
            k = st.buy(dash, dash.qty("0.1"), bid - 2000)
            await wait_for(lambda: all(x.status == OrderStatus.ACCEPTED for x in (r, c, k)),
                           what="acks")
            # filled and cancelled while the user channel is down: settled over REST
            srv.faults.silent = True
            srv.exchange_fill(r.client_order_id)
            srv.exchange_cancel(c.client_order_id)
            srv.faults.silent = False
            srv.drop_connections()
            await wait_for(lambda: not venue.trading, what="trading stopped")
            n = st.buy(dash, dash.qty("0.1"), bid - 1000)
            await wait_for(lambda: n.status == OrderStatus.REJECTED, what="refusal")
            assert "not ready" in n.reason and n.client_order_id not in srv.by_cid
            await wait_for(lambda: r.status == OrderStatus.FILLED, 10, "reconciled fill")
            await wait_for(lambda: venue.trading, what="trading again")
            assert c.status == OrderStatus.CANCELED and k.status == OrderStatus.ACCEPTED
            assert venue.reconciliations >= 1 and len(r.fills) == 1
            # a lost answer (HTTP 503, nothing on the user channel): reconciled at once
            srv.faults.never_ack = True
            u = st.buy(dash, dash.qty("0.1"), bid - 3000)
            await wait_for(lambda: u.status == OrderStatus.ACCEPTED, what="reconciled ack")
            srv.faults.never_ack = False
            assert u.venue_order_id == srv.cb_order_id(srv.by_cid[u.client_order_id])
            # a gap in the user channel's sequence: reconnect and reconcile
            before = venue.reconciliations
            srv.skip_user_sequence()
            srv.faults.silent = True
            srv.exchange_fill(k.client_order_id)      # this report is lost
            srv.faults.silent = False
            srv.exchange_cancel(u.client_order_id)    # this one arrives after the gap
            await wait_for(lambda: k.status == OrderStatus.FILLED
                           and u.status == OrderStatus.CANCELED, 10, "gap reconciled")
            assert venue.sequence_gaps == 1 and venue.reconciliations > before
            await wait_for(lambda: venue.trading, what="trading after the gap")
            # duplicate user updates: each trade booked once
            srv.faults.duplicate_fills = True
            size = eng.books[0].best_ask_size
            assert size is not None
            t = st.buy(dash, size, ask)
            await wait_for(lambda: t.status == OrderStatus.FILLED, what="fill")
            assert sum(f.qty for f in t.fills) == size == t.filled
            srv.faults.duplicate_fills = False
            # a cancel asked for while disconnected goes out after the reconciliation
            w = st.buy(dash, dash.qty("0.1"), bid - 1000)
            await wait_for(lambda: w.status == OrderStatus.ACCEPTED, what="ack w")
            srv.faults.silent = True
            assert st.cancel(w)
            srv.faults.silent = False
            srv.drop_connections()
            await wait_for(lambda: w.status == OrderStatus.CANCELED, 10, "queued cancel")
            # a refused JWT: order entry stays blocked with the reason
            srv.faults.reject_signature = True
            srv.drop_connections()
            await wait_for(lambda: "authentication failure" in venue.block_reason, 10,
                           "refused JWT")
            m = st.buy(dash, dash.qty("0.1"), bid - 1000)
            await wait_for(lambda: m.status == OrderStatus.REJECTED, what="rejected")
            assert "authentication failure" in m.reason and srv.stats["bad_signatures"] >= 1
            srv.faults.reject_signature = False
            await wait_for(lambda: venue.trading, 10, "trading after the refusal")
            accounted(s)
            text = "\n".join([caplog.text, repr(venue.status()), venue.block_reason,
                              *venue.api_errors, *(o.reason for o in eng.om)])
            assert KEY_NAME not in text and PEM not in text
    run(main(), 90)


def test_rate_limit_refuses_before_sending() -> None:
    async def main() -> None:
        limiter = RateLimiter([Bucket("SUBSCRIPTIONS", 8, 1.0), Bucket("REST", 3, 60.0)])
        async with session({"rate_limits": limiter}) as s:
            st, eng, srv, venue = s.strategy, s.engine, s.server, s.venue
            await wait_for(lambda: venue.trading, what="trading")
            dash = INSTRUMENTS[0]
            bid = eng.books[0].best_bid
            assert bid is not None
            a = [st.buy(dash, dash.qty("0.1"), bid - 1000 - i) for i in range(4)]
            await wait_for(lambda: all(x.status in (OrderStatus.ACCEPTED, OrderStatus.REJECTED)
                                       for x in a), what="answers")
            assert [x.status for x in a] == [OrderStatus.ACCEPTED] * 3 + [OrderStatus.REJECTED]
            assert "rate limit REST" in a[3].reason and venue.rate_refused == 1
            assert a[3].client_order_id not in srv.by_cid
    run(main())
