"""Kraken Futures: the documented signing examples, and order entry against the loopback
server (REST ``sendorder``/``cancelorder``/``editorder``, the signed websocket challenge, the
private ``open_orders`` and ``fills`` feeds)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from loopback_helpers import DATA, run
from orderentry_helpers import (
    canceled_while_away,
    filled_while_away,
    lost_answer,
    oe_session,
    order_round_trip,
    refused_signature,
    venue_kw,
)

from hftcore import Instrument
from hftcore.venues.common import VenueError
from hftcore.venues.keys import Credentials
from hftcore.venues.kraken_futures import KrakenFuturesVenue, authent, sign_challenge
from hftcore.venues.loopback_more import KrakenFuturesLoopback

INSTRUMENTS = [Instrument("kraken_futures", "pi_xbtusd", 1, 4),
               Instrument("kraken_futures", "pi_ethusd", 2, 4)]
KEY = "kf-test-key"
SECRET = base64.b64encode(b"kraken-futures-loopback-secret-0123456789").decode()


def test_documented_challenge_example() -> None:
    # https://docs.kraken.com/api/docs/guides/futures-websockets ("Sign challenge": the table
    # of expected output from example inputs)
    assert sign_challenge(
        "7zxMEF5p/Z8l2p2U7Ghv6x14Af+Fx+92tPgUdVQ748FOIrEoT9bgT+bTRfXc5pz8na+hL/QdrCVG7bh9KpT0eMTm",
        "c100b894-1729-464d-ace1-52dbce11db42") == \
        "4JEpF3ix66GA2B+ooK128Ift4XQVtc137N9yeg4Kqsn9PI0Kpzbysl9M1IeCEdjg0zl00wkVqcsnG4bmnlMb3A=="


def test_authent_follows_the_documented_steps() -> None:
    # https://docs.kraken.com/api/docs/guides/futures-rest ("Authentication"): the example
    # inputs (postData, nonce, endpointPath, api_secret) through the five listed steps
    secret = ("rttp4AzwRfYEdQ7R7X8Z/04Y4TZPa97pqCypi3xXxAqftygftnI6H9yGV+OcUOOJeFtZkr8mVw"
              "bAndU3Kz4Q+eG")
    post, nonce, path = "symbol=fi_xbtusd_180615", "1415957147987", "/api/v3/orderbook"
    step2 = hashlib.sha256((post + nonce + path).encode()).digest()
    want = base64.b64encode(hmac.new(base64.b64decode(secret + "=" * (-len(secret) % 4)),
                                     step2, hashlib.sha512).digest()).decode()
    assert authent(secret, post, nonce, path) == want
    assert authent(secret, post, "1415957147988", path) != want
    with pytest.raises(TypeError, match="nonce"):
        authent(secret, post, 1415957147987, path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="base64"):
        authent("not base64!", post, nonce, path)


def test_constructor_refuses_wrong_types() -> None:
    with pytest.raises(TypeError, match="credentials"):
        KrakenFuturesVenue(credentials="key")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="market_data"):
        KrakenFuturesVenue(market_data=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="api_secret"):
        KrakenFuturesVenue(credentials=Credentials.of("kraken_futures", KEY))


def _venue(server: KrakenFuturesLoopback) -> KrakenFuturesVenue:
    return KrakenFuturesVenue(credentials=Credentials.of("kraken_futures", KEY, api_secret=SECRET),
                              private_url=server.ws_url + "/ws/v1/private", connect_timeout=2.0,
                              **venue_kw(server))


def test_orders_against_the_loopback() -> None:
    async def main() -> None:
        server = KrakenFuturesLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret=SECRET)
        async with oe_session(INSTRUMENTS, server, _venue) as s:
            assert s.venue.trading
            await order_round_trip(s, INSTRUMENTS[0], "30000.5")
            await lost_answer(s, INSTRUMENTS[1], "2000.25")
            await canceled_while_away(s, INSTRUMENTS[1], "2000.5")
            await filled_while_away(s, INSTRUMENTS[1], "2000.5")
            await refused_signature(s, INSTRUMENTS[0], "30000.5", "authenticationError")
            assert s.server.stats["bad_signatures"] == 1
    run(main())


def test_refused_challenge_blocks_trading() -> None:
    async def main() -> None:
        server = KrakenFuturesLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret=SECRET)
        server.faults.reject_signature = True
        with pytest.raises(VenueError, match="not ready.*Invalid challenge"):
            async with oe_session(INSTRUMENTS, server, _venue):
                pass
        assert server.stats["bad_signatures"] >= 1
    run(main())


def test_recording_present() -> None:
    assert (DATA / "kraken_futures" / "ws_v1_2021-07-22_part1.txt").exists()


def test_rate_limit_refuses_before_sending() -> None:
    from loopback_helpers import wait_for

    from hftcore import OrderStatus
    from hftcore.venues.ratelimit import Bucket, RateLimiter

    def venue(server: KrakenFuturesLoopback) -> KrakenFuturesVenue:
        limits = RateLimiter([Bucket("DERIVATIVES", 500, 10.0), Bucket("ORDERS", 1, 60.0),
                              Bucket("SUBSCRIPTIONS", 100, 10.0)])
        return KrakenFuturesVenue(
            credentials=Credentials.of("kraken_futures", KEY, api_secret=SECRET),
            private_url=server.ws_url + "/ws/v1/private", connect_timeout=2.0,
            rate_limits=limits, **venue_kw(server))

    async def main() -> None:
        server = KrakenFuturesLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret=SECRET)
        async with oe_session(INSTRUMENTS, server, venue) as s:
            inst = INSTRUMENTS[0]
            a = s.strategy.buy(inst, inst.qty("1"), inst.price("30000"))
            b = s.strategy.buy(inst, inst.qty("1"), inst.price("30000"))
            await wait_for(lambda: a.status == OrderStatus.ACCEPTED and
                           b.status == OrderStatus.REJECTED, what="one sent, one refused")
            assert "rate limit ORDERS" in b.reason
            assert server.stats["orders"] == 1 and s.venue.rate_refused == 1
    run(main())
