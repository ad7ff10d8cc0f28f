"""HTX spot: the documented canonical request, and order entry against the loopback server
(signed REST calls, the private ``/ws/v2`` with its ``auth`` and ``ping`` actions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

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

from hftcore import Instrument, OrderStatus
from hftcore.venues.htx import HtxVenue, canonical_request, sign, signed_query
from hftcore.venues.keys import Credentials
from hftcore.venues.loopback_more import HtxLoopback

INSTRUMENTS = [Instrument("htx", "btcusdt", 2, 6), Instrument("htx", "ethusdt", 2, 4)]
KEY, SECRET = "htx-test-access-key", "htx-test-secret-key"


def test_documented_canonical_request() -> None:
    # https://huobiapi.github.io/docs/spot/v1/en/#authentication, steps 1-6: the example
    # request's parameters give this pre-signed text (the page shows a signature for it, but
    # not the secret key that made it, so the HMAC step is checked below by its definition)
    params = {"AccessKeyId": "e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx", "order-id": "1234567890",
              "SignatureMethod": "HmacSHA256", "SignatureVersion": "2",
              "Timestamp": "2017-05-11T15:19:30"}
    assert canonical_request("GET", "api.huobi.pro", "/v1/order/orders", params) == (
        "GET\napi.huobi.pro\n/v1/order/orders\n"
        "AccessKeyId=e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx&SignatureMethod=HmacSHA256"
        "&SignatureVersion=2&Timestamp=2017-05-11T15%3A19%3A30&order-id=1234567890")
    text = canonical_request("GET", "api.huobi.pro", "/v1/order/orders", params)
    want = base64.b64encode(hmac.new(b"secret", text.encode(), hashlib.sha256).digest()).decode()
    assert sign("secret", "GET", "api.huobi.pro", "/v1/order/orders", params) == want
    q = signed_query("e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx", "secret", "GET", "api.huobi.pro",
                     "/v1/order/orders", {"order-id": "1234567890"}, "2017-05-11T15:19:30")
    assert q.endswith("&Signature=" + urllib.parse.quote(want, safe=""))
    with pytest.raises(TypeError, match="method"):
        canonical_request(b"GET", "api.huobi.pro", "/", {})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params"):
        canonical_request("GET", "api.huobi.pro", "/", {"a": 1})  # type: ignore[dict-item]


def test_constructor_refuses_wrong_types() -> None:
    with pytest.raises(TypeError, match="account_id"):
        HtxVenue(account_id=100009)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ws_url"):
        HtxVenue(ws_url=5)  # type: ignore[arg-type]


def _venue(server: HtxLoopback) -> HtxVenue:
    return HtxVenue(credentials=Credentials.of("htx", KEY, api_secret=SECRET),
                    private_url=server.ws_url + "/ws/v2", connect_timeout=2.0,
                    **venue_kw(server))


def test_orders_against_the_loopback() -> None:
    async def main() -> None:
        server = HtxLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret=SECRET)
        async with oe_session(INSTRUMENTS, server, _venue) as s:
            assert s.venue.trading and s.venue.account_id == server.account_id
            await wait_for(lambda: server.stats["pings"] >= 1, what="pong to the ping action")
            await order_round_trip(s, INSTRUMENTS[0], "30000.5", amend=False)
            await lost_answer(s, INSTRUMENTS[0], "29000.5")
            await canceled_while_away(s, INSTRUMENTS[0], "29000.5")
            await filled_while_away(s, INSTRUMENTS[0], "29000.5")
            # HTX spot has no amend: refused, the order stays as it was
            inst = INSTRUMENTS[1]
            o = s.strategy.buy(inst, inst.qty("1"), inst.price("2000"))
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            assert s.strategy.amend(o, price=inst.price("2001"), size=inst.qty("1"))
            assert o.status == OrderStatus.PENDING_REPLACE
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="replace reject")
            assert "cannot be amended" in o.reason and "rejected" in o.history[-1][2]
            assert o.price == inst.price("2000")
            assert server.by_cid[o.client_order_id].price == inst.price("2000")
            await refused_signature(s, INSTRUMENTS[0], "30000.5", "api-signature-not-valid")
    run(main())


def test_refused_auth_blocks_trading() -> None:
    async def main() -> None:
        server = HtxLoopback(INSTRUMENTS, manual=True, api_key=KEY, api_secret=SECRET)
        server.faults.reject_signature = True
        with pytest.raises(Exception, match="not ready"):
            async with oe_session(INSTRUMENTS, server, _venue):
                pass
        assert server.stats["bad_signatures"] >= 1
    run(main())
