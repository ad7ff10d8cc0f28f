"""Binance USDⓈ-M futures end to end against its loopback server on 127.0.0.1: the recorded
futures stream (``pu`` chains) synced with ``/fapi/v1/depth`` snapshots, a gap resynced on its
symbol only, orders over the futures WebSocket API (HMAC and Ed25519) with ``order.modify`` and
GTX post-only, private updates through a listen-key user data stream, reconciliation over
signed REST after a reconnect; the published futures signing examples; the futures limits."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from loopback_helpers import (
    API_KEY,
    API_SECRET,
    Probe,
    Session,
    assert_books,
    assert_orders_accounted,
    book_matches_server,
    ed25519_pair,
    pump,
    run,
    sync_all,
    wait_for,
)

from hftcore import Instrument, OrderStatus, TimeInForce, backtest
from hftcore.data.recordings import detect_venue
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.binance import (
    FUTURES_API_URL,
    FUTURES_DEPTH_LIMITS,
    FUTURES_REST_URL,
    FUTURES_STREAM_URL,
    BinanceFuturesVenue,
    futures_rate_limits,
    futures_recording_plan,
    futures_snapshot_weight,
    sign,
)
from hftcore.venues.keys import Credentials
from hftcore.venues.loopback import BinanceFuturesLoopback
from hftcore.venues.ws import Backoff

DATA = Path(__file__).parent / "data" / "binance"
RECORDING = [DATA / "futures_ws_2021-07-22.txt", DATA / "futures_rest_depth_2021-07-22.txt"]
INSTRUMENTS = [
    Instrument("binance_futures", "AKROUSDT", 5, 0, base="AKRO", quote="USDT"),
    Instrument("binance_futures", "CTKUSDT", 5, 0, base="CTK", quote="USDT"),
    Instrument("binance_futures", "KEEPUSDT", 4, 0, base="KEEP", quote="USDT"),
    Instrument("binance_futures", "SUSHIUSDT", 4, 0, base="SUSHI", quote="USDT"),
]
SUSHI = 3


@contextlib.asynccontextmanager
async def futures_session(*, auth: str = "hmac", credentials: bool = True,
                          server_kw: dict[str, Any] | None = None,
                          venue_kw: dict[str, Any] | None = None) -> AsyncIterator[Session]:
    pem, pub = ed25519_pair()
    kw: dict[str, Any] = {"manual": True}
    kw.update(server_kw or {})
    server = BinanceFuturesLoopback(INSTRUMENTS, RECORDING, api_key=API_KEY,
                                    api_secret=API_SECRET, ed25519_public_key=pub, **kw)
    await server.start()
    runner: LiveRunner | None = None
    try:
        engine = LiveEngine(INSTRUMENTS, mode="live")
        probe = Probe()
        engine.add_strategy(probe)
        creds = None
        if credentials:
            creds = (Credentials.of("binance_futures", API_KEY, private_key=pem)
                     if auth == "ed25519" else
                     Credentials.of("binance_futures", API_KEY, api_secret=API_SECRET))
        vkw: dict[str, Any] = {"backoff": Backoff(0.02, 0.2), "snapshot_wait": 0.05}
        vkw.update(venue_kw or {})
        venue = BinanceFuturesVenue(credentials=creds, ws_url=server.ws_url,
                                    rest_url=server.rest_url,
                                    api_url=server.ws_url + "/ws-fapi/v1", **vkw)
        runner = LiveRunner(engine, [venue])
        await runner.start()
        yield Session(server, engine, venue, runner, probe)
    finally:
        if runner is not None and runner.started:
            await runner.stop()
        elif runner is not None:
            for v in runner.venues:
                await v.close()
        await server.stop()


# -- signing, limits, configuration ----------------------------------------------------------------

def test_published_futures_signing_examples() -> None:
    """"SIGNED Endpoint Examples for POST /fapi/v1/order - HMAC Keys" of the USDⓈ-M futures
    general info: the query string (example 1) and the request body (example 2) sign alike;
    example 3 signs query + body with no "&" between (its payload exactly as printed)."""
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    params = ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
              "&recvWindow=5000&timestamp=1591702613943")
    assert sign(secret, params) == \
        "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    mixed = ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
             + "quantity=1&price=9000&recvWindow=5000&timestamp= 1591702613943")
    assert sign(secret, mixed) == \
        "f9d0ae5e813ef6ccf15c2b5a434047a0181cb5a342b903b367ca6d27a66e36f2"
    assert sign(secret, params.replace("9000", "9001")) != sign(secret, params)
    with pytest.raises(TypeError, match="str"):
        sign(secret.encode(), params)  # type: ignore[arg-type]


def test_futures_hosts_limits_and_weights() -> None:
    assert FUTURES_REST_URL == "https://fapi.binance.com"
    assert FUTURES_STREAM_URL == "wss://fstream.binance.com"
    assert FUTURES_API_URL == "wss://ws-fapi.binance.com/ws-fapi/v1"
    v = BinanceFuturesVenue()
    assert (v.ws_url, v.rest_url, v.api_url) == (FUTURES_STREAM_URL, FUTURES_REST_URL,
                                                 FUTURES_API_URL)
    assert v.name == "binance_futures" and v.sync_rule == "binance_futures"
    assert v.snapshot_url("BTCUSDT") == \
        "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
    assert {(b.name, b.limit, b.window) for b in futures_rate_limits().buckets} == {
        ("REQUEST_WEIGHT:MINUTE:1", 2400, 60.0), ("ORDERS:SECOND:10", 300, 10.0),
        ("ORDERS:MINUTE:1", 1200, 60.0)}
    assert {b.name for b in v.limiter.buckets} == {b.name for b in futures_rate_limits().buckets}
    assert [futures_snapshot_weight(n) for n in FUTURES_DEPTH_LIMITS] == [2, 2, 2, 2, 5, 10, 20]
    plan = futures_recording_plan(["btcusdt"])
    assert plan.url == ("wss://fstream.binance.com/stream?streams="
                        "btcusdt@depth@100ms/btcusdt@aggTrade")
    assert plan.snapshots == {"BTCUSDT": "/fapi/v1/depth?symbol=BTCUSDT&limit=1000"}


def test_futures_keys_load_under_their_own_name() -> None:
    from hftcore.venues import keys

    env = {"HFTCORE_BINANCE_FUTURES_API_KEY": API_KEY,
           "HFTCORE_BINANCE_FUTURES_API_SECRET": API_SECRET,
           "HFTCORE_BINANCE_API_KEY": "the-spot-key"}
    creds = keys.load("binance_futures", environ=env)
    assert creds.venue == "binance_futures" and creds.api_key.reveal() == API_KEY
    assert BinanceFuturesVenue(credentials=creds).auth == "hmac"
    with pytest.raises(keys.MissingCredentials):
        keys.load("binance_futures", environ={"HFTCORE_BINANCE_API_KEY": "the-spot-key"})


def test_futures_venue_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError, match="snapshot_limit"):
        BinanceFuturesVenue(snapshot_limit=5000)          # a spot limit, not a futures one
    with pytest.raises(TypeError, match="snapshot_limit"):
        BinanceFuturesVenue(snapshot_limit="1000")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="streams"):
        BinanceFuturesVenue(streams="depth@100ms")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="symbols"):
        futures_recording_plan("BTCUSDT")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="streams"):
        futures_recording_plan(["BTCUSDT"], streams=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="ws_url"):
        futures_recording_plan(["BTCUSDT"], ws_url=b"wss://x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="listen_key_keepalive"):
        BinanceFuturesVenue(listen_key_keepalive="30")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="listen_key_keepalive"):
        BinanceFuturesVenue(listen_key_keepalive=4000)
    with pytest.raises(ValueError, match="auth"):
        BinanceFuturesVenue(auth="rsa")
    with pytest.raises(TypeError):
        BinanceFuturesVenue(credentials="key")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="limit"):
        futures_snapshot_weight("20")  # type: ignore[arg-type]


# -- market data -----------------------------------------------------------------------------------

def test_futures_stream_syncs_and_matches_the_server_book() -> None:
    async def main() -> None:
        async with futures_session(credentials=False) as s:
            await sync_all(s)
            assert s.server.stats["snapshots"] == 4          # GET /fapi/v1/depth, one each
            await pump(s)
            assert s.venue.feed is not None
            assert s.venue.feed.gaps == 0 and s.venue.feed.decode_errors == 0
            assert s.venue.listener is not None
            assert s.venue.listener.data_messages == s.server.stats["frames_sent"]
            for i in s.venue.indices:
                assert s.engine.core.is_valid(i)
                assert book_matches_server(s, i, 1000)
            assert s.strategy.bbo > 0
    run(main())


def test_a_gap_resyncs_that_symbol_only() -> None:
    """The server leaves out one SUSHIUSDT diff: the next one's pu is not the previous u; that
    book (and only it) goes invalid, is resynced with a new snapshot bridged by pu, and ends
    equal to the server's."""
    async def main() -> None:
        async with futures_session(credentials=False) as s:
            await sync_all(s)
            await pump(s, 200)
            assert s.venue.feed is not None and s.venue.feed.gaps == 0
            s.server.faults.skip.add("SUSHIUSDT")
            await pump(s)
            await sync_all(s)
            assert s.venue.feed.gaps == 1
            assert s.venue.feed.state(SUSHI)["gaps"] == 1
            assert [v for sym, v in s.strategy.status if sym == "SUSHIUSDT"][-2:] == \
                [False, True]
            for sym in ("AKROUSDT", "CTKUSDT", "KEEPUSDT"):
                assert [v for x, v in s.strategy.status if x == sym] == [True]
            assert s.venue.resyncs >= 1
            assert_books(s)
    run(main())


# -- order entry -----------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", ["hmac", "ed25519"])
def test_orders_place_modify_cancel_fill(auth: str) -> None:
    async def main() -> None:
        async with futures_session(auth=auth) as s:
            await sync_all(s)
            v, st = s.venue, s.strategy
            assert isinstance(v, BinanceFuturesVenue)
            assert v.trading and v.user_stream and v.listen_key
            assert v.logged_on is (auth == "ed25519")
            assert s.server.stats["listen_keys"] == 1
            inst = INSTRUMENTS[SUSHI]
            book = s.engine.books[SUSHI]
            bid, ask = book.best_bid, book.best_ask
            assert bid is not None and ask is not None
            # resting bid: acknowledged (through the user stream), modified, canceled
            o = st.buy(inst, inst.qty("100"), bid - 100)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            so = s.server.by_cid[o.client_order_id]
            oid = so.order_id
            assert o.venue_order_id == str(oid)
            assert st.amend(o, price=bid - 50, size=inst.qty("150"))
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED and o.price == bid - 50,
                           what="modify")
            assert (so.price, so.qty, so.status, so.order_id) == (bid - 50, inst.qty("150"),
                                                                   "NEW", oid)
            assert o.size == inst.qty("150") and o.venue_order_id == str(oid)
            assert st.cancel(o)
            await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel")
            # a marketable buy takes the ask: filled, with the server's trade ids
            t = st.buy(inst, inst.qty("10"), ask)
            await wait_for(lambda: t.status == OrderStatus.FILLED, what="fill")
            trades = [x for so in s.server.orders.values() if so.cid == t.client_order_id
                      for x in so.trades]
            assert [f.trade_id for f in t.fills] == [str(x["id"]) for x in trades]
            assert s.engine.position(st, inst) == inst.qty("10")
            assert_orders_accounted(s)
            seen = s.server.requests_seen
            assert "order.modify" in seen and "order.cancelReplace" not in seen
            assert "userDataStream.subscribe" not in seen
            assert seen[0] == ("session.logon" if auth == "ed25519" else "order.place")
            assert s.server.stats["bad_signatures"] == 0
    run(main())


def test_post_only_is_gtx_and_a_taking_one_is_rejected() -> None:
    async def main() -> None:
        async with futures_session() as s:
            await sync_all(s)
            st = s.strategy
            inst = INSTRUMENTS[SUSHI]
            bid = s.engine.books[SUSHI].best_bid
            assert bid is not None
            p = st.sell(inst, inst.qty("10"), bid, post_only=True)
            await wait_for(lambda: p.status == OrderStatus.REJECTED, what="post-only reject")
            assert "-5022" in p.reason
            r = st.buy(inst, inst.qty("10"), bid - 200, post_only=True)
            await wait_for(lambda: r.status == OrderStatus.ACCEPTED, what="post-only rest")
            so = s.server.by_cid[r.client_order_id]
            assert s.server._order_json(so)["timeInForce"] == "GTX"
            q = s.engine.books[SUSHI].best_bid_size
            o = st.sell(inst, q + inst.qty("1"), bid, tif=TimeInForce.IOC)
            await wait_for(lambda: not o.is_open, what="ioc")
            assert o.status == OrderStatus.EXPIRED and o.filled == q
            assert st.cancel(r)
            await wait_for(lambda: r.status == OrderStatus.CANCELED, what="cancel")
            assert_orders_accounted(s)
    run(main())


def test_reconnect_resyncs_and_reconciles_over_signed_rest() -> None:
    """Everything drops; meanwhile the resting order is filled at the exchange: after the
    reconnect the books resync and the fill is found over REST (/fapi/v1/openOrders, /order,
    /userTrades -- futures trades say "maker"), booked once."""
    async def main() -> None:
        async with futures_session() as s:
            await sync_all(s)
            await pump(s, 100)
            inst = INSTRUMENTS[SUSHI]
            bid = s.engine.books[SUSHI].best_bid
            assert bid is not None
            o = s.strategy.buy(inst, inst.qty("100"), bid - 100)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            assert s.server.drop_connections() == 3           # market, API, user stream
            await wait_for(lambda: not any(s.engine.core.is_valid(i) for i in s.venue.indices),
                           what="books invalid")
            s.server.send_next(50)
            s.server.exchange_fill(o.client_order_id)
            await wait_for(lambda: s.venue.trading, what="order entry back")
            await sync_all(s)
            assert o.status == OrderStatus.FILLED and o.filled == inst.qty("100")
            assert len(o.fills) == 1 and o.fills[0].liquidity == 0      # our order was maker
            assert s.venue.reconciliations >= 1
            await pump(s)
            assert_books(s)
            assert_orders_accounted(s)
    run(main())


def test_listen_key_kept_alive_and_renewed_when_it_expires() -> None:
    async def main() -> None:
        async with futures_session(venue_kw={"listen_key_keepalive": 0.05}) as s:
            await sync_all(s)
            v = s.venue
            assert isinstance(v, BinanceFuturesVenue)
            await wait_for(lambda: s.server.stats["keepalives"] >= 2, what="keep-alive PUTs")
            first = v.listen_key
            assert s.server.expire_listen_keys() == 1
            await wait_for(lambda: v.trading and v.listen_key not in ("", first),
                           what="a new listen key")
            inst = INSTRUMENTS[SUSHI]
            bid = s.engine.books[SUSHI].best_bid
            assert bid is not None
            o = s.strategy.buy(inst, inst.qty("5"), bid - 100)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack on the new key")
            assert s.strategy.cancel(o)
            await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel")
            assert_orders_accounted(s)
    run(main())


def test_without_credentials_orders_are_refused() -> None:
    async def main() -> None:
        async with futures_session(credentials=False) as s:
            await sync_all(s)
            inst = INSTRUMENTS[SUSHI]
            o = s.strategy.buy(inst, inst.qty("1"), inst.price("7"))
            await wait_for(lambda: o.status == OrderStatus.REJECTED, what="refusal")
            assert "no order entry" in o.reason
            assert s.server.stats["listen_keys"] == 0
    run(main())


def test_record_then_verify_and_backtest(tmp_path: Path) -> None:
    """``hftcore record --venue binance_futures`` against the loopback: the futures stream and
    one ``/fapi/v1/depth`` snapshot per symbol; the file verifies with 0 gaps under the futures
    rule and backtests with every book valid."""
    out = tmp_path / "futures.txt"
    n = 400

    async def main() -> None:
        server = BinanceFuturesLoopback(INSTRUMENTS, RECORDING, speed=100.0)
        async with server:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hftcore", "record", "--venue", "binance_futures",
                "--symbols", ",".join(i.symbol for i in INSTRUMENTS), "--out", str(out),
                "--compress", "--messages", str(n), "--streams", "depth@100ms,aggTrade",
                "--ws-url", server.ws_url, "--rest-url", server.rest_url,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            so, se = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, se.decode()
            got = re.search(rb"(\d+) messages, 4 snapshots", so)
            assert got is not None and int(got.group(1)) >= n, so

    run(main(), 90)
    path = out.with_name(out.name + ".gz")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert sum(1 for x in lines if " -> " in x and "/fapi/v1/depth?symbol=" in x) == 4
    assert detect_venue(path) == "binance_futures"
    proc = subprocess.run([sys.executable, "-m", "hftcore", "verify", str(path), "--venue",
                           "binance_futures", "--json"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["sequence_gaps"] == 0 and report["data_messages"]["book_snapshot"] == 4
    assert report["data_messages"]["book_update"] > 100
    r = backtest(Probe(), [path], INSTRUMENTS)
    assert not r.stats["invalid_books"] and r.stats["gaps"] == 0


def test_bad_private_updates_are_counted_not_fatal() -> None:
    """Malformed or foreign user-stream events are counted; the session goes on trading."""
    async def main() -> None:
        async with futures_session() as s:
            await sync_all(s)
            v = s.venue
            assert isinstance(v, BinanceFuturesVenue)
            bad0, foreign0 = v.bad_api_messages, v.foreign_reports
            for data in (b"{", b"[1,2]", b'{"e":"ORDER_TRADE_UPDATE","E":1,"o":5}',
                         b'{"e":"ORDER_TRADE_UPDATE","E":1,"o":{"x":"TRADE"}}'):
                assert s.server.send_user(data) == 1
            foreign = (b'{"e":"ORDER_TRADE_UPDATE","E":1,"T":1,"o":{"s":"SUSHIUSDT",'
                       b'"c":"not-ours","S":"BUY","o":"LIMIT","x":"NEW","X":"NEW","i":1}}')
            assert s.server.send_user(foreign) == 1
            await wait_for(lambda: v.bad_api_messages - bad0 == 4
                           and v.foreign_reports - foreign0 == 1, what="counted")
            inst = INSTRUMENTS[SUSHI]
            bid = s.engine.books[SUSHI].best_bid
            assert bid is not None
            o = s.strategy.buy(inst, inst.qty("5"), bid - 100)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="still trading")
            with pytest.raises(TypeError, match="data"):
                s.server.send_user("text")  # type: ignore[arg-type]
    run(main())


def test_orders_over_the_futures_order_limit_are_refused_unsent() -> None:
    """The futures order buckets: with 2 orders per 10 s the third is refused at once with the
    bucket's name, and never reaches the server."""
    from hftcore.venues.binance import ORDERS_10S, ORDERS_MINUTE, WEIGHT
    from hftcore.venues.ratelimit import Bucket, RateLimiter

    limits = RateLimiter([Bucket(WEIGHT, 2400, 60.0), Bucket(ORDERS_10S, 2, 10.0),
                          Bucket(ORDERS_MINUTE, 1200, 60.0)])

    async def main() -> None:
        async with futures_session(venue_kw={"rate_limits": limits}) as s:
            await sync_all(s)
            inst = INSTRUMENTS[SUSHI]
            bid = s.engine.books[SUSHI].best_bid
            assert bid is not None
            sent0 = s.server.stats["orders"]
            a = s.strategy.buy(inst, inst.qty("1"), bid - 100)
            b = s.strategy.buy(inst, inst.qty("1"), bid - 200)
            c = s.strategy.buy(inst, inst.qty("1"), bid - 300)
            await wait_for(lambda: c.status == OrderStatus.REJECTED, what="refusal")
            assert "ORDERS:SECOND:10" in c.reason
            await wait_for(lambda: a.status == b.status == OrderStatus.ACCEPTED, what="acks")
            assert s.server.stats["orders"] - sent0 == 2
            assert c.client_order_id not in s.server.by_cid
            for o in (a, b):
                assert s.strategy.cancel(o)
            await wait_for(lambda: a.status == b.status == OrderStatus.CANCELED, what="cancels")
    run(main())


def test_rest_cancel_while_order_entry_is_down() -> None:
    """DELETE /fapi/v1/order, signed, while the WebSocket API is away."""
    async def main() -> None:
        async with futures_session() as s:
            await sync_all(s)
            inst = INSTRUMENTS[SUSHI]
            bid = s.engine.books[SUSHI].best_bid
            assert bid is not None
            o = s.strategy.buy(inst, inst.qty("100"), bid - 100)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            api = s.venue.api
            assert api is not None
            await api.stop()
            s.venue.trading = False
            assert s.strategy.cancel(o)
            await wait_for(lambda: o.status == OrderStatus.CANCELED, what="REST cancel")
            assert s.server.by_cid[o.client_order_id].status == "CANCELED"
            assert s.server.stats["bad_signatures"] == 0
            n = s.strategy.buy(inst, inst.qty("1"), bid - 100)
            await wait_for(lambda: n.status == OrderStatus.REJECTED, what="refusal")
            assert "not ready" in n.reason
    run(main())
