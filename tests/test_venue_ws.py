"""The websocket plumbing of the live venues: backoff, reconnects, fragmented messages (both
listeners), sends held while the transport is paused, the staleness watchdog, the REST client
and the rate limiter."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from aiohttp import web
from loopback_helpers import BINANCE_INSTRUMENTS, binance_session, pump, run, sync_all, wait_for
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

from hftcore.venues.ratelimit import Bucket, RateLimiter, RateLimitExceeded
from hftcore.venues.rest import RestClient, RestError
from hftcore.venues.ws import Backoff, Connection, Watchdog


def test_backoff_is_capped_exponential_with_jitter() -> None:
    b = Backoff(0.1, 2.0, 2.0, 0.5, random.Random(1))
    delays = [b.next() for _ in range(10)]
    bases = [min(2.0, 0.1 * 2 ** k) for k in range(10)]
    for d, base in zip(delays, bases, strict=True):
        assert base * 0.5 <= d <= base
    assert len({round(d / base, 6) for d, base in zip(delays, bases, strict=True)}) > 1
    b.reset()
    assert b.next() <= 0.1
    no_jitter = Backoff(0.1, 0.4, 2.0, 0.0)
    assert [no_jitter.next() for _ in range(4)] == [0.1, 0.2, 0.4, 0.4]
    with pytest.raises(ValueError):
        Backoff(1.0, 0.5)
    with pytest.raises(ValueError):
        Backoff(0.1, 1.0, jitter=2.0)


class _Server(WSListener):
    """Test server: records what it receives; the test drives it."""

    def __init__(self, box: dict[str, Any]) -> None:
        super().__init__()
        self.box = box

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.box.setdefault("transports", []).append(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.box.setdefault("received", []).append(frame.get_payload_as_bytes())


async def _server(box: dict[str, Any]) -> Any:
    return await ws_create_server(lambda r: _Server(box), "127.0.0.1", 0)


def test_connection_reconnects_with_backoff_and_reassembles_fragments() -> None:
    async def main() -> None:
        box: dict[str, Any] = {}
        srv = await _server(box)
        port = srv.sockets[0].getsockname()[1]
        got: list[bytes] = []
        opened: list[int] = []

        async def on_open(c: Connection) -> None:
            opened.append(1)

        conn = Connection(f"ws://127.0.0.1:{port}/x", lambda d, ts: got.append(d),
                          on_open=on_open, backoff=Backoff(0.01, 0.05), ping_interval=0)
        try:
            conn.start()
            assert await conn.wait_ready(5)
            tr = box["transports"][0]
            tr.send(WSMsgType.TEXT, b'{"a":', False)
            tr.send(WSMsgType.CONTINUATION, b'"frag', False)
            tr.send(WSMsgType.CONTINUATION, b'mented"}', True)
            tr.send(WSMsgType.TEXT, b"whole")
            await wait_for(lambda: len(got) == 2, what="messages")
            assert got == [b'{"a":"fragmented"}', b"whole"]
            assert conn.fragmented == 1
            tr.disconnect(False)                  # the server drops us: we come back
            await wait_for(lambda: len(opened) == 2 and conn.ready.is_set(), what="reconnect")
            assert conn.connects == 2 and conn.disconnects == 1 and conn.delays
            assert conn.send(b"hello")
            await wait_for(lambda: box.get("received") == [b"hello"], what="send")
        finally:
            await conn.stop()
            srv.close()
        assert not conn.connected and not conn.send(b"late")
        assert conn.refused == 1
    run(main())


def test_connect_failures_back_off_until_the_server_appears() -> None:
    async def main() -> None:
        srv = await _server({})
        port = srv.sockets[0].getsockname()[1]
        srv.close()
        await srv.wait_closed()
        conn = Connection(f"ws://127.0.0.1:{port}/x", lambda d, ts: None,
                          backoff=Backoff(0.01, 0.04), ping_interval=0)
        try:
            conn.start()
            await wait_for(lambda: conn.failures >= 3, what="failures")
            assert not conn.connected and "connect" in conn.last_error
            assert max(conn.delays) <= 0.04
            srv2 = await ws_create_server(lambda r: _Server({}), "127.0.0.1", port)
            try:
                assert await conn.wait_ready(5)
            finally:
                srv2.close()
        finally:
            await conn.stop()
    run(main())


def test_sends_wait_while_the_transport_is_paused() -> None:
    """A server that stops reading makes our transport pause: messages queue in order and go
    out when it resumes; nothing is lost or reordered."""
    async def main() -> None:
        box: dict[str, Any] = {}
        srv = await _server(box)
        port = srv.sockets[0].getsockname()[1]
        conn = Connection(f"ws://127.0.0.1:{port}/x", lambda d, ts: None, ping_interval=0)
        try:
            conn.start()
            assert await conn.wait_ready(5)
            server_tr = box["transports"][0].underlying_transport
            server_tr.pause_reading()
            big = b"x" * 65536
            n = 0
            while not conn.paused and n < 10_000:
                assert conn.send(b"%06d" % n + big)
                n += 1
            assert conn.paused and conn.pauses == 1
            for k in range(n, n + 50):
                assert conn.send(b"%06d" % k + big)
            assert len(conn.backlog) == 50
            server_tr.resume_reading()
            await wait_for(lambda: len(box.get("received", [])) == n + 50, 20, "all messages")
            assert [m[:6] for m in box["received"]] == [b"%06d" % k for k in range(n + 50)]
            assert not conn.paused and not conn.backlog
        finally:
            await conn.stop()
            srv.close()
    run(main(), 90)


def test_market_data_fragments_are_reassembled() -> None:
    async def main() -> None:
        async with binance_session(credentials=False) as s:
            await sync_all(s)
            s.server.faults.fragment = 50
            await pump(s)
            lst = s.venue.listener
            assert lst is not None and lst.fragmented == s.server.stats["frames_sent"]
            assert s.venue.feed is not None and s.venue.feed.decode_errors == 0
            assert all(s.engine.core.is_valid(i) for i in s.venue.indices)
    run(main())


def test_watchdog_reports_each_silence_once() -> None:
    seen = {0: 0, 1: 0}
    now = [1_000_000_000]
    stale: list[int] = []
    wd = Watchdog([0, 1], 1.0, lambda i: seen[i], stale.append, clock=lambda: now[0])
    assert wd.check() == []
    now[0] += 1_000_000_000
    assert wd.check() == [0, 1]
    assert wd.check() == []                       # once per silence
    seen[0] = now[0]
    now[0] += 500_000_000
    assert wd.check() == []
    now[0] += 600_000_000
    assert wd.check() == [0]                      # 0 went silent again after new data
    assert stale == [0, 1, 0] and wd.stale_events == 3
    off = Watchdog([0], 0.0, lambda i: 0, stale.append)
    assert off.check(10**18) == []


def test_rate_limiter_never_exceeds_a_window() -> None:
    t = [0.0]
    lim = RateLimiter([Bucket("orders", 10, 1.0), Bucket("weight", 100, 60.0)],
                      clock=lambda: t[0])
    cost = {"orders": 1, "weight": 1}
    taken = []
    for k in range(400):
        t[0] = k * 0.01
        if lim.try_acquire(cost) is None:
            taken.append(t[0])
    # no interval of 1 s holds more than 10, none of 60 s more than 100
    for a in taken:
        assert sum(1 for b in taken if a <= b < a + 1.0) <= 10
    assert len(taken) <= 100 and lim.refused == 400 - len(taken)
    why = lim.try_acquire(cost)
    assert why is not None and "rate limit" in why


def test_rate_limiter_weights_block_and_observe() -> None:
    t = [0.0]
    lim = RateLimiter([Bucket("w", 10, 1.0)], clock=lambda: t[0])
    assert lim.try_acquire({"w": 7}) is None
    assert lim.try_acquire({"w": 4}) is not None          # would make 11
    assert lim.wait_time({"w": 4}) == pytest.approx(1.0)
    assert lim.try_acquire({"w": 3}) is None
    t[0] = 1.0
    assert lim.usage() == {"w": (0, 10)}
    lim.observe("w", 8)                                    # the venue counted more than us
    assert lim.try_acquire({"w": 3}) is not None
    lim.block(5.0, "venue said 429")
    t[0] = 2.5
    assert lim.try_acquire({"w": 1}) == "venue said 429"
    with pytest.raises(KeyError):
        lim.try_acquire({"nope": 1})
    with pytest.raises(ValueError):
        lim.try_acquire({"w": -1})
    with pytest.raises(ValueError):
        Bucket("x", 0, 1.0)


def test_rate_limiter_waits_or_refuses() -> None:
    async def main() -> None:
        lim = RateLimiter([Bucket("w", 2, 0.05)])
        t0 = time.monotonic()
        for _ in range(4):
            await lim.acquire({"w": 1})
        assert time.monotonic() - t0 >= 0.04 and lim.waited >= 1
        with pytest.raises(RateLimitExceeded) as e:
            await lim.acquire({"w": 1}, max_wait=0.0)
        assert "rate limit w" in e.value.reason
        with pytest.raises(RateLimitExceeded):
            await lim.acquire({"w": 3})                   # can never fit
    run(main())


def test_rest_client_limits_and_errors() -> None:
    async def main() -> None:
        hits: list[str] = []

        async def ok(request: web.Request) -> web.Response:
            hits.append(request.rel_url.raw_query_string)
            return web.json_response({"x": 1})

        async def busy(request: web.Request) -> web.Response:
            return web.json_response({"code": -1003, "msg": "Too much request weight used"},
                                     status=429, headers={"Retry-After": "7"})

        async def bad(request: web.Request) -> web.Response:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)

        app = web.Application()
        app.router.add_get("/ok", ok)
        app.router.add_get("/busy", busy)
        app.router.add_get("/bad", bad)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        lim = RateLimiter([Bucket("w", 1000, 60.0)])
        rc = RestClient(f"http://127.0.0.1:{port}", lim)
        try:
            assert await rc.get_json("/ok", query="a=1&signature=abc", cost={"w": 5}) == {"x": 1}
            assert hits == ["a=1&signature=abc"]            # the query exactly as signed
            with pytest.raises(RestError) as e:
                await rc.request("GET", "/bad", query="signature=secretsig")
            assert e.value.status == 400 and e.value.code == -1121
            assert "secretsig" not in str(e.value)          # never the query
            with pytest.raises(RateLimitExceeded):
                await rc.request("GET", "/busy")
            assert lim.wait_time({"w": 1}) > 6              # blocked for Retry-After
            with pytest.raises(RateLimitExceeded):
                await rc.request("GET", "/ok", cost={"w": 1}, max_wait=0.1)
            assert len(hits) == 1                            # nothing sent while blocked
        finally:
            await rc.close()
            await runner.cleanup()
    run(main())


def test_instruments_without_symbols_refused() -> None:
    from hftcore import Instrument
    from hftcore.live import LiveEngine
    from hftcore.venues.binance import BinanceVenue

    eng = LiveEngine([Instrument("kraken", "XBT/USD", 1, 8)], mode="live")
    with pytest.raises(ValueError, match="no binance instrument"):
        eng.add_venue(BinanceVenue())
    assert BINANCE_INSTRUMENTS


def test_prepared_costs_take_the_same_tokens() -> None:
    t = [0.0]
    lim = RateLimiter([Bucket("a", 3, 1.0), Bucket("b", 100, 60.0)], clock=lambda: t[0])
    prep = lim.prepare({"a": 1, "b": 2})
    assert [lim.try_take(prep) for _ in range(4)][:3] == [None, None, None]
    assert lim.usage() == {"a": (3, 3), "b": (6, 100)}
    why = lim.try_take(prep)
    assert why is not None and "rate limit a: 3 per 1 s" in why
    t[0] = 1.0
    assert lim.try_take(prep) is None
    with pytest.raises(KeyError):
        lim.prepare({"c": 1})
    lim.block(1.0, "blocked")
    assert lim.try_take(prep) == "blocked"
