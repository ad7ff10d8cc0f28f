"""Deribit: the client signature, the heartbeat's test requests, and order entry against the
loopback server (JSON-RPC ``private/buy|sell|cancel|edit``, ``user.orders``/``user.trades``)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from loopback_helpers import run, wait_for
from orderentry_helpers import (
    OeSession,
    canceled_while_away,
    filled_while_away,
    lost_answer,
    oe_session,
    order_round_trip,
    venue_kw,
)

from hftcore import Instrument, OrderStatus
from hftcore.venues.deribit import DeribitVenue, auth_params, sign
from hftcore.venues.keys import Credentials
from hftcore.venues.loopback_more import DeribitLoopback

INSTRUMENTS = [Instrument("deribit", "BTC-PERPETUAL", 1, 2),
               Instrument("deribit", "ETH-30JUL21-2800-C", 4, 1)]
KEY, SECRET = "drb-client-id", "drb-client-secret"


def test_client_signature_as_documented() -> None:
    # https://docs.deribit.com/#public-auth: Signature = HEX_STRING(HMAC-SHA256(ClientSecret,
    # Timestamp + "\n" + Nonce + "\n" + Data)); the page's example is a shell script with a
    # random nonce, so the definition is checked with the standard library
    want = hmac.new(b"secret", b"1576074319000\nabcd\n", hashlib.sha256).hexdigest()
    assert sign("secret", 1576074319000, "abcd") == want
    assert sign("secret", 1576074319000, "abcd", "x") != want
    p = auth_params("id", "secret", 1576074319000, "abcd")
    assert p == {"grant_type": "client_signature", "client_id": "id",
                 "timestamp": 1576074319000, "nonce": "abcd", "data": "", "signature": want}
    with pytest.raises(TypeError, match="timestamp"):
        sign("secret", "1576074319000", "abcd")  # type: ignore[arg-type]


def test_constructor_refuses_wrong_types() -> None:
    with pytest.raises(TypeError, match="heartbeat"):
        DeribitVenue(heartbeat=30.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="heartbeat"):
        DeribitVenue(heartbeat=5)


def _venue(server: DeribitLoopback) -> DeribitVenue:
    return DeribitVenue(credentials=Credentials.of("deribit", KEY, api_secret=SECRET),
                        private_url=server.ws_url + "/private", connect_timeout=2.0,
                        **venue_kw(server))


def test_orders_against_the_loopback() -> None:
    async def main() -> None:
        server = DeribitLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret=SECRET)
        async with oe_session(INSTRUMENTS, server, _venue) as s:
            venue = s.venue
            assert isinstance(venue, DeribitVenue) and venue.trading
            await wait_for(lambda: venue.test_requests >= 1 and server.stats["pings"] >= 1,
                           what="the heartbeat's test request answered")
            await order_round_trip(s, INSTRUMENTS[0], "30000.5")
            await lost_answer(s, INSTRUMENTS[0], "29000.5")
            await canceled_while_away(s, INSTRUMENTS[0], "29000.5")
            await filled_while_away(s, INSTRUMENTS[0], "29000.5")
            await refused_signature_after_reconnect(s)
    run(main())


async def refused_signature_after_reconnect(s: OeSession) -> None:
    inst = INSTRUMENTS[1]
    o = s.strategy.buy(inst, inst.qty("1"), inst.price("0.0125"))
    await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
    # a refused login after a reconnect: trading stops, orders are refused with the reason
    s.server.faults.reject_signature = True
    s.server.drop_connections()
    await wait_for(lambda: not s.venue.trading and "13004" in s.venue.block_reason,
                   what="refused login")
    n = s.strategy.buy(inst, inst.qty("1"), inst.price("0.0125"))
    await wait_for(lambda: n.status == OrderStatus.REJECTED, what="refusal")
    assert "13004" in n.reason
    # a cancel while order entry is down waits for the reconnect, then goes out
    assert s.strategy.cancel(o)
    s.server.faults.reject_signature = False
    await wait_for(lambda: o.status == OrderStatus.CANCELED, what="queued cancel")


def test_refused_auth_blocks_trading() -> None:
    async def main() -> None:
        server = DeribitLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret="other")
        with pytest.raises(Exception, match="not ready.*13004"):
            async with oe_session(INSTRUMENTS, server, _venue):
                pass
    run(main())
