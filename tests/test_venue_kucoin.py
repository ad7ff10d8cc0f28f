"""KuCoin spot: request signing (key version 2), and order entry against the loopback server
(tokens from the bullet endpoints, the HF order endpoints, ``/spotMarket/tradeOrdersV2``)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from loopback_helpers import run, wait_for
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
from hftcore.venues.keys import Credentials
from hftcore.venues.kucoin import KucoinVenue, sign, sign_passphrase, signed_headers
from hftcore.venues.loopback_more import KucoinLoopback

INSTRUMENTS = [Instrument("kucoin", "BTC-USDT", 1, 8), Instrument("kucoin", "ETH-USDT", 2, 7)]
KEY, SECRET, PASS = "kc-test-key", "kc-test-secret", "kc-test-passphrase"


def _b64mac(key: str, msg: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()
                            ).decode()


def test_signing_as_documented() -> None:
    # https://www.kucoin.com/docs-new/authentication: the string to sign is timestamp + method
    # + endpoint (with the query) + body; the passphrase of a version 2 key is signed too.  The
    # page gives no worked values, so the definition is checked with the standard library.
    ts, path, body = "1547015186532", "/api/v1/hf/orders", '{"symbol":"BTC-USDT"}'
    assert sign("s3cret", ts, "post", path, body) == _b64mac("s3cret", ts + "POST" + path + body)
    assert sign_passphrase("s3cret", "pp") == _b64mac("s3cret", "pp")
    h = signed_headers("k", "s3cret", "pp", "GET", "/api/v1/orders?status=active",
                       timestamp=ts)
    assert h["KC-API-SIGN"] == _b64mac("s3cret", ts + "GET/api/v1/orders?status=active")
    assert (h["KC-API-KEY"], h["KC-API-TIMESTAMP"], h["KC-API-KEY-VERSION"]) == ("k", ts, "2")
    assert h["KC-API-PASSPHRASE"] == _b64mac("s3cret", "pp") != "pp"
    with pytest.raises(TypeError, match="timestamp"):
        sign("s", 1547015186532, "GET", "/")  # type: ignore[arg-type]


def test_constructor_needs_a_passphrase() -> None:
    with pytest.raises(ValueError, match="passphrase"):
        KucoinVenue(credentials=Credentials.of("kucoin", KEY, api_secret=SECRET))
    with pytest.raises(TypeError, match="request_timeout"):
        KucoinVenue(request_timeout="5")  # type: ignore[arg-type]


def _venue(server: KucoinLoopback) -> KucoinVenue:
    return KucoinVenue(credentials=Credentials.of("kucoin", KEY, api_secret=SECRET,
                                                  passphrase=PASS),
                       connect_timeout=2.0, ping_interval=0.05, ping_timeout=0.5,
                       **venue_kw(server))


def test_orders_against_the_loopback() -> None:
    async def main() -> None:
        server = KucoinLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret=SECRET,
                                passphrase=PASS)
        async with oe_session(INSTRUMENTS, server, _venue) as s:
            assert s.venue.trading and "token=priv-" in s.venue.private_url
            await wait_for(lambda: server.stats["pings"] >= 1, what="a ping answered pong")
            await order_round_trip(s, INSTRUMENTS[0], "30000.5")
            await lost_answer(s, INSTRUMENTS[1], "2000.25")
            await canceled_while_away(s, INSTRUMENTS[1], "2000.5")
            await filled_while_away(s, INSTRUMENTS[1], "2000.5")
            await refused_signature(s, INSTRUMENTS[0], "30000.5", "400005")
            # a dropped private connection comes back with a new token
            url = s.venue.private_url
            server.drop_connections()
            await wait_for(lambda: s.venue.trading and s.venue.private_url != url,
                           what="reconnected with a new token")
            await order_round_trip(s, INSTRUMENTS[1], "2000.25")
    run(main())


def test_refused_private_token_blocks_trading() -> None:
    async def main() -> None:
        server = KucoinLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret=SECRET,
                                passphrase="another passphrase")
        with pytest.raises(Exception, match="400005|Invalid"):
            async with oe_session(INSTRUMENTS, server, _venue):
                pass
    run(main())
