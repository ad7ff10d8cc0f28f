"""Bitfinex v2: REST and websocket signing, and order entry against the loopback server
(``/v2/auth/w/order/*``, the authenticated websocket's account channel)."""

from __future__ import annotations

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
from hftcore.venues.bitfinex import BitfinexVenue, sign_rest, sign_ws
from hftcore.venues.keys import Credentials
from hftcore.venues.loopback_more import BitfinexLoopback

INSTRUMENTS = [Instrument("bitfinex", "tBTCUSD", 1, 8), Instrument("bitfinex", "tETHUSD", 2, 8)]
KEY, SECRET = "bfx-test-key", "bfx-test-secret"


def test_signing_as_documented() -> None:
    # https://docs.bitfinex.com/docs/rest-auth: signature = hex HMAC-SHA384 of
    # "/api/" + apiPath + nonce + body; https://docs.bitfinex.com/docs/ws-auth: "AUTH" + nonce.
    # The pages give code, not worked values: the definition is checked with the standard
    # library.
    nonce, body = "1618677543829587", '{"type":"EXCHANGE LIMIT","symbol":"tBTCUSD"}'
    want = hmac.new(b"s", f"/api/v2/auth/w/order/submit{nonce}{body}".encode(),
                    hashlib.sha384).hexdigest()
    assert sign_rest("s", "v2/auth/w/order/submit", nonce, body) == want
    assert sign_rest("s", "/v2/auth/w/order/submit", nonce, body) == want
    assert len(want) == 96
    payload, sig = sign_ws("s", nonce)
    assert payload == "AUTH" + nonce
    assert sig == hmac.new(b"s", payload.encode(), hashlib.sha384).hexdigest()
    with pytest.raises(TypeError, match="nonce"):
        sign_ws("s", 1)  # type: ignore[arg-type]


def test_constructor_refuses_wrong_types() -> None:
    with pytest.raises(TypeError, match="margin"):
        BitfinexVenue(margin="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="private_url"):
        BitfinexVenue(private_url=1)  # type: ignore[arg-type]


def _venue(server: BitfinexLoopback) -> BitfinexVenue:
    return BitfinexVenue(credentials=Credentials.of("bitfinex", KEY, api_secret=SECRET),
                         private_url=server.ws_url + "/private/ws/2", connect_timeout=2.0,
                         ping_interval=0.05, ping_timeout=0.5, **venue_kw(server))


def test_orders_against_the_loopback() -> None:
    async def main() -> None:
        server = BitfinexLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret=SECRET)
        async with oe_session(INSTRUMENTS, server, _venue) as s:
            venue = s.venue
            assert isinstance(venue, BitfinexVenue) and venue.trading
            await wait_for(lambda: server.stats["pings"] >= 1, what="a ping answered pong")
            await order_round_trip(s, INSTRUMENTS[0], "30000.5",
                                   server_cid=lambda c: str(venue.bfx_cid[c][0]))
            await lost_answer(s, INSTRUMENTS[1], "2000.25",
                              server_cid=lambda c: str(venue.bfx_cid[c][0]))
            await canceled_while_away(s, INSTRUMENTS[1], "2000.5",
                                      server_cid=lambda c: str(venue.bfx_cid[c][0]))
            await filled_while_away(s, INSTRUMENTS[1], "2000.5",
                                    server_cid=lambda c: str(venue.bfx_cid[c][0]))
            await refused_signature(s, INSTRUMENTS[0], "30000.5", "10100")
    run(main())


def test_refused_auth_blocks_trading() -> None:
    async def main() -> None:
        server = BitfinexLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret="other")
        with pytest.raises(Exception, match="not ready.*10100"):
            async with oe_session(INSTRUMENTS, server, _venue):
                pass
    run(main())
