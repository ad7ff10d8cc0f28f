"""KuCoin spot: market data, order entry and their signing.

Signing (https://www.kucoin.com/docs-new/authentication, API key version 2): a REST call carries
``KC-API-KEY``, ``KC-API-TIMESTAMP`` (Unix ms), ``KC-API-SIGN`` = base64 HMAC-SHA256 of
``timestamp + METHOD + endpoint (with its query) + body`` with the secret,
``KC-API-PASSPHRASE`` = base64 HMAC-SHA256 of the passphrase with the secret, and
``KC-API-KEY-VERSION: 2``.

Websockets need a token: ``POST /api/v1/bullet-public`` (market data) or the signed
``/api/v1/bullet-private`` (order updates) answers the endpoint, the token and the ping interval;
the connection is ``endpoint?token=..&connectId=..``, the server greets with ``welcome``, and the
client sends ``{"type":"ping"}`` every ``pingInterval`` (answered ``pong``).  A new token is taken
before every reconnect.

:class:`KucoinVenue` streams ``/market/level2`` (diffs with ``sequenceStart``/``sequenceEnd``,
synced against the REST snapshot, buffered diffs bridged by sequence; a gap fetches a new
snapshot for that symbol) and ``/market/match``.  Orders go to the high-frequency endpoints
``/api/v1/hf/orders`` (place), ``/api/v1/hf/orders/client-order/{clientOid}`` (cancel) and
``/api/v1/hf/orders/alter`` (amend) by ``clientOid``; acks, fills and cancels come from the
answers and the private ``/spotMarket/tradeOrdersV2`` topic.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import logging
import time
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from hftcore._ext.sim import SO_FOK, SO_IOC, SO_MARKET, SO_POST_ONLY
from hftcore.model import OrderType, Side
from hftcore.venues.common import RecordingPlan, VenueError
from hftcore.venues.keys import Credentials
from hftcore.venues.orderentry import OrderEntryVenue, check_str
from hftcore.venues.ratelimit import Bucket, RateLimiter, RateLimitExceeded
from hftcore.venues.rest import RestClient, RestError
from hftcore.venues.ws import Connection

if TYPE_CHECKING:
    from hftcore.model import Order

__all__ = ["PING_INTERVAL", "REST_URL", "KucoinVenue", "parse_bullet", "public_bullet",
           "recording_plan", "sign", "sign_passphrase", "signed_headers"]

log = logging.getLogger("hftcore.venues.kucoin")
REST_URL = "https://api.kucoin.com"
_PING = b'{"id":"hc-ping","type":"ping"}'
#: seconds between client pings at most (the bullet's ``pingInterval`` when shorter)
PING_INTERVAL = 18.0


def sign(secret: str, timestamp: str, method: str, endpoint: str, body: str = "") -> str:
    """``KC-API-SIGN``: base64 HMAC-SHA256 of ``timestamp + METHOD + endpoint + body``."""
    for name, v in (("secret", secret), ("timestamp", timestamp), ("method", method),
                    ("endpoint", endpoint), ("body", body)):
        check_str("sign", name, v)
    msg = f"{timestamp}{method.upper()}{endpoint}{body}"
    return base64.b64encode(hmac.new(secret.encode(), msg.encode(), hashlib.sha256).digest()
                            ).decode()


def sign_passphrase(secret: str, passphrase: str) -> str:
    """``KC-API-PASSPHRASE`` of key version 2: base64 HMAC-SHA256 of the passphrase."""
    check_str("sign_passphrase", "secret", secret)
    check_str("sign_passphrase", "passphrase", passphrase)
    return base64.b64encode(hmac.new(secret.encode(), passphrase.encode(), hashlib.sha256)
                            .digest()).decode()


def signed_headers(key: str, secret: str, passphrase: str, method: str, endpoint: str,
                   body: str = "", timestamp: str | None = None) -> dict[str, str]:
    """The ``KC-API-*`` headers of one call (``endpoint`` with its query string)."""
    ts = timestamp or str(time.time_ns() // 1_000_000)
    return {"KC-API-KEY": key, "KC-API-TIMESTAMP": ts,
            "KC-API-SIGN": sign(secret, ts, method, endpoint, body),
            "KC-API-PASSPHRASE": sign_passphrase(secret, passphrase),
            "KC-API-KEY-VERSION": "2", "Content-Type": "application/json"}


def parse_bullet(raw: bytes, path: str = "/api/v1/bullet-public") -> tuple[str, float]:
    """The websocket URL (endpoint with the token and a connect id) and the ping interval (s)
    of a ``bullet-public`` / ``bullet-private`` answer; ``VenueError`` for a refusal or an
    answer without them."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise VenueError(f"kucoin {path}: not JSON: {raw[:100]!r}") from None
    if not isinstance(obj, dict) or obj.get("code") != "200000":
        code, msg = (obj.get("code"), obj.get("msg")) if isinstance(obj, dict) else (None, obj)
        raise VenueError(f"kucoin {path}: {code} {msg}")
    try:
        d = obj["data"]
        srv = d["instanceServers"][0]
        url = (f"{srv['endpoint'].rstrip('/')}?token={urllib.parse.quote(d['token'])}"
               f"&connectId=hc{time.time_ns()}")
        interval = max(1.0, int(srv.get("pingInterval", 18000)) / 1000.0)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise VenueError(f"kucoin {path}: no endpoint and token in the answer") from None
    return url, interval


async def public_bullet(rest: RestClient) -> tuple[str, float]:
    """A public websocket URL with a fresh token (``POST /api/v1/bullet-public``) and its ping
    interval (s)."""
    raw = await rest.request("POST", "/api/v1/bullet-public",
                             headers={"Content-Type": "application/json"},
                             cost={"PUBLIC": 10}, max_wait=10.0)
    return parse_bullet(raw)


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """``/market/level2`` and ``/market/match`` of ``symbols`` with the REST level-2 snapshots;
    the websocket URL takes a token from ``/api/v1/bullet-public`` of ``rest_url`` before every
    connect (:func:`public_bullet`), so no ``ws_url`` is taken; client pings every
    ``pingInterval``."""
    if ws_url:
        raise ValueError("ws_url: KuCoin's websocket URL comes with a token from "
                         "POST /api/v1/bullet-public; give rest_url instead")
    topics = tuple(streams or ("/market/level2", "/market/match"))
    subs = [orjson.dumps({"id": n, "type": "subscribe", "topic": f"{t}:{','.join(symbols)}",
                          "response": True}) for n, t in enumerate(topics, 1)]
    base = (rest_url or REST_URL).rstrip("/")
    return RecordingPlan("kucoin", f"{base}/api/v1/bullet-public", subscriptions=subs,
                         snapshots={s: f"/api/v1/market/orderbook/level2_100?symbol={s}"
                                    for s in symbols},
                         rest_url=base, ping_message=_PING,
                         pong_contains=b'"type":"pong"', ping_periodic=True,
                         ping_interval=PING_INTERVAL, connect=public_bullet)


class KucoinVenue(OrderEntryVenue):
    """KuCoin spot (see the module docstring).

    Parameters
    ----------
    credentials : Credentials, optional
        ``api_key``, ``api_secret`` and ``passphrase`` (key version 2).
    trades : bool
        Subscribe ``/market/match`` too.
    snapshot_wait : float
        Seconds to wait for a first buffered diff before taking a snapshot.
    """

    name = "kucoin"
    sync_rule = "kucoin"
    needs_passphrase = True
    snapshot_on_connect = True
    default_rest_url = REST_URL
    order_cost: ClassVar[dict[str, int]] = {"ORDERS": 1, "SPOT": 1}

    def __init__(self, *, trades: bool = True, snapshot_wait: float = 0.5,
                 credentials: Credentials | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("ping_interval", PING_INTERVAL)
        super().__init__(credentials=credentials, **kwargs)
        self.trades = trades
        self.snapshot_wait = snapshot_wait
        self._md_url = ""
        self._ids = itertools.count(1)
        self._welcome = asyncio.Event()

    def default_rate_limits(self) -> RateLimiter:
        # KuCoin: the spot resource pool (VIP0) is 4000 weight per 30 s, an HF order weighs 1
        # (cancel 1, alter 1); 45 HF orders per s per symbol; 100 websocket messages per 10 s
        return RateLimiter([Bucket("SPOT", 4000, 30.0), Bucket("ORDERS", 45, 1.0),
                            Bucket("PUBLIC", 2000, 30.0), Bucket("SUBSCRIPTIONS", 100, 10.0)])

    # -- tokens ----------------------------------------------------------------------------------
    async def bullet(self, private: bool) -> tuple[str, float]:
        """A websocket URL with a fresh token, and the ping interval (s)."""
        assert self.rest is not None
        if not private:
            return await public_bullet(self.rest)
        path = "/api/v1/bullet-private"
        key, secret, passphrase = self.creds()
        raw = await self.rest.request("POST", path, cost={"SPOT": 10}, max_wait=10.0,
                                      headers=signed_headers(key, secret, passphrase, "POST",
                                                             path))
        return parse_bullet(raw, path)

    async def prepare_md(self) -> None:
        self._md_url, interval = await self.bullet(False)
        self.ping_interval = min(self.ping_interval, interval)
        if self.md is not None:
            self.md.url = self._md_url

    async def prepare_private(self) -> None:
        self.private_url, interval = await self.bullet(True)
        self.ping_interval = min(self.ping_interval, interval)
        if self.private is not None:
            self.private.url = self.private_url

    def _refresh(self, private: bool) -> None:
        if self._closed:
            return

        async def go() -> None:
            try:
                await (self.prepare_private() if private else self.prepare_md())
            except (VenueError, RestError, RateLimitExceeded, KeyError, IndexError) as exc:
                log.warning("kucoin: new token failed: %s", self.error_text(exc))
        self.spawn(go(), "kucoin token")

    def _md_close(self, conn: Connection) -> None:
        super()._md_close(conn)
        self._refresh(False)

    def on_private_closed(self) -> None:
        self._welcome.clear()
        self._refresh(True)

    def private_ping(self) -> dict[str, Any]:
        return {"ping_message": _PING, "pong_contains": b'"type":"pong"',
                "ping_periodic": True}

    def md_ping(self) -> dict[str, Any]:
        return {"ping_message": _PING, "pong_contains": b'"type":"pong"',
                "ping_periodic": True}

    # -- market data -----------------------------------------------------------------------------
    def md_url(self) -> str:
        return self._md_url

    def md_subscriptions(self) -> list[bytes]:
        syms = ",".join(i.symbol for i in self.instruments)
        topics = ["/market/level2"] + (["/market/match"] if self.trades else [])
        return [orjson.dumps({"id": str(next(self._ids)), "type": "subscribe",
                              "topic": f"{t}:{syms}", "response": True}) for t in topics]

    def snapshot_path(self, symbol: str) -> tuple[str, str]:
        """The REST book snapshot: the full one (signed) with credentials, else 100 levels."""
        if self.credentials is not None:
            return "/api/v3/market/orderbook/level2", f"symbol={symbol}"
        return "/api/v1/market/orderbook/level2_100", f"symbol={symbol}"

    async def resync(self, index: int) -> None:
        """Take REST snapshots until one bridges the buffered diffs."""
        assert self.engine is not None and self.feed is not None and self.rest is not None
        inst = self.engine.instruments[index]
        path, query = self.snapshot_path(inst.symbol)
        delay = 0.1
        while not self._closed:
            md = self.md
            if md is None or not md.connected:
                return
            t_end = time.monotonic() + self.snapshot_wait
            while self.feed.state(index)["buffered"] == 0 and time.monotonic() < t_end:
                await asyncio.sleep(0.005)
            headers = None
            if self.credentials is not None:
                key, secret, passphrase = self.creds()
                headers = signed_headers(key, secret, passphrase, "GET", f"{path}?{query}")
            try:
                body = await self.rest.request("GET", path, query=query, headers=headers,
                                               cost={"SPOT" if headers else "PUBLIC": 3},
                                               max_wait=30.0)
            except (RestError, RateLimitExceeded) as exc:
                log.warning("kucoin: snapshot of %s failed: %s", inst.symbol, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            ts = time.time_ns()
            self.feed.feed_rest(f"{REST_URL}{path}?{query}", body, ts)
            self.run_feed(ts)
            if self.synced(index):
                self.resyncs += 1
                if self.listener is not None:
                    self.listener.reset_sync(index)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    # -- the private websocket -------------------------------------------------------------------
    async def login(self, conn: Connection) -> None:
        # the token authenticated the connection: wait for the greeting, then subscribe
        try:
            await asyncio.wait_for(self._welcome.wait(), self.request_timeout)
        except TimeoutError:
            raise VenueError("kucoin: no welcome on the private connection") from None
        rid = str(next(self._ids))
        resp = await self.expect(rid, conn, orjson.dumps({
            "id": rid, "type": "subscribe", "topic": "/spotMarket/tradeOrdersV2",
            "privateChannel": True, "response": True}))
        if resp.get("type") != "ack":
            raise VenueError(f"kucoin: order updates refused: {resp.get('code')} "
                             f"{resp.get('data')}")

    def on_private(self, data: bytes, ts: int) -> None:
        obj = orjson.loads(data)
        if not isinstance(obj, dict):
            return
        t = obj.get("type")
        if t == "welcome":
            self._welcome.set()
            return
        if t in ("ack", "error"):
            self.answer(str(obj.get("id")), obj)
            return
        if t == "message" and obj.get("topic") == "/spotMarket/tradeOrdersV2":
            self._on_order(obj.get("data") or {}, ts)

    def _on_order(self, d: dict[str, Any], ts: int) -> None:
        cid = str(d.get("clientOid") or "") or self.by_venue_id.get(str(d.get("orderId")), "")
        o = self.order(cid) if cid else None
        if o is None:
            return
        t = d.get("type")
        oid = str(d.get("orderId", ""))
        inst = o.instrument
        if t == "open":
            self.on_new_ok(cid, oid, ts)
        elif t == "match":
            self.on_fill(cid, str(d["tradeId"]), inst.qty(d["matchSize"]),
                         inst.price(d["matchPrice"]), d.get("liquidity") == "maker", oid, ts)
        elif t == "canceled":
            self.on_canceled(cid, ts)

    # -- orders ----------------------------------------------------------------------------------
    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   query: str = "") -> Any:
        """A signed call; the ``data`` of a ``200000`` answer, else ``VenueError``."""
        assert self.rest is not None
        key, secret, passphrase = self.creds()
        text = orjson.dumps(body).decode() if body is not None else ""
        endpoint = f"{path}?{query}" if query else path
        raw = await self.rest.request(method, path, query=query, body=text or None,
                                      headers=signed_headers(key, secret, passphrase, method,
                                                             endpoint, text),
                                      cost={"SPOT": 1}, max_wait=5.0, ok=(200, 400, 401))
        obj = orjson.loads(raw)
        if obj.get("code") != "200000":
            raise VenueError(f"{obj.get('code')} {obj.get('msg')}")
        return obj.get("data")

    def send_new(self, order: Order, flags: int) -> None:
        inst = order.instrument
        body: dict[str, Any] = {"clientOid": order.client_order_id, "symbol": inst.symbol,
                                "side": "buy" if order.side == Side.BUY else "sell",
                                "size": inst.format_qty(order.size, True)}
        if flags & SO_MARKET or order.order_type == OrderType.MARKET:
            body["type"] = "market"
        else:
            body.update(type="limit", price=inst.format_price(order.price, True),
                        timeInForce="IOC" if flags & SO_IOC else "FOK" if flags & SO_FOK
                        else "GTC")
            if flags & SO_POST_ONLY or order.order_type == OrderType.LIMIT_MAKER:
                body["postOnly"] = True
        self.spawn(self._new(order.client_order_id, body), "kucoin new")

    async def _new(self, cid: str, body: dict[str, Any]) -> None:
        try:
            d = await self.call("POST", "/api/v1/hf/orders", body)
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.new_failed(cid, exc)
            return
        self.on_new_ok(cid, str((d or {}).get("orderId", "")))

    async def query_order(self, order: Order) -> tuple[str, str] | None:
        """``GET /api/v1/hf/orders/client-order/{clientOid}``."""
        cid = order.client_order_id
        try:
            d = await self.call("GET", f"/api/v1/hf/orders/client-order/{urllib.parse.quote(cid)}",
                                query=f"symbol={order.instrument.symbol}")
        except VenueError as exc:
            if "not exist" in str(exc):
                return None
            raise
        state = "open" if d.get("active") else "canceled" if d.get("cancelExist") else "filled"
        return state, str(d.get("id", ""))

    async def query_fills(self, order: Order, venue_order_id: str
                          ) -> list[tuple[str, int, int, bool]]:
        """``GET /api/v1/hf/fills?orderId=..&symbol=..``."""
        if not venue_order_id:
            return []
        d = await self.call("GET", "/api/v1/hf/fills",
                            query=f"orderId={venue_order_id}&symbol={order.instrument.symbol}")
        inst = order.instrument
        return [(str(f["tradeId"]), inst.qty(f["size"]), inst.price(f["price"]),
                 f.get("liquidity") == "maker") for f in (d or {}).get("items") or ()]

    def send_cancel(self, order: Order) -> None:
        self.spawn(self._cancel(order.client_order_id, order.instrument.symbol), "kucoin cancel")

    async def _cancel(self, cid: str, symbol: str) -> None:
        try:
            await self.call("DELETE", f"/api/v1/hf/orders/client-order/{urllib.parse.quote(cid)}",
                            query=f"symbol={symbol}")
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.on_cancel_refused(cid, self.error_text(exc))
            return
        self.on_canceled(cid)

    def send_amend(self, order: Order, price: int, size: int) -> None:
        inst = order.instrument
        body = {"symbol": inst.symbol, "clientOid": order.client_order_id,
                "newPrice": inst.format_price(price, True), "newSize": inst.format_qty(size, True)}
        self.spawn(self._amend(order.client_order_id, price, size, body), "kucoin amend")

    async def _amend(self, cid: str, price: int, size: int, body: dict[str, Any]) -> None:
        try:
            d = await self.call("POST", "/api/v1/hf/orders/alter", body)
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.on_replace_refused(cid, self.error_text(exc))
            return
        if d and d.get("newOrderId"):
            self.by_venue_id[str(d["newOrderId"])] = cid
        self.on_replaced(cid, price, size)
