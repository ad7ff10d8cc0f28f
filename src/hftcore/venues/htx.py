"""HTX (formerly Huobi) spot: market data, order entry and their signing.

Signing (https://huobiapi.github.io/docs/spot/v1/en/#authentication, "Signature"): a REST call
carries ``AccessKeyId``, ``SignatureMethod=HmacSHA256``, ``SignatureVersion=2``, ``Timestamp``
(UTC, ``YYYY-MM-DDThh:mm:ss``) and, for a GET, its own parameters in the query; the canonical
request is ``METHOD\\nhost\\npath\\n`` followed by those parameters URL-encoded and sorted by
name, and ``Signature`` = base64 HMAC-SHA256 of it with the secret key.  The private websocket
(``/ws/v2``) authenticates with the same scheme at ``signatureVersion`` 2.1 over the path
``/ws/v2`` (https://huobiapi.github.io/docs/spot/v1/en/#websocket-asset-and-order).

:class:`HtxVenue` streams ``depth.step0`` (every message a whole book) and ``trade.detail`` over
``wss://api.huobi.pro/ws``, whose frames are gzip-compressed binary: a decoder that inflates
them itself gets them untouched through the compiled listener, else each is decompressed here
and run through the engine (:meth:`hftcore.engine.Engine.on_frame`); HTX's ``{"ping": n}`` is
answered ``{"pong": n}`` (HTX closes the connection after a few unanswered ones).  Orders go to
``/v1/order/orders/place`` and ``/v1/order/orders/submitCancelClientOrder`` by
``client-order-id``; HTX spot has no amend (amends are refused, the order stays).  Acks, fills
and cancels come from the answers and the private ``orders#<symbol>`` topic (``/ws/v2``, whose
``ping`` actions are answered ``pong``).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import logging
import urllib.parse
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from hftcore._ext.sim import SO_FOK, SO_IOC, SO_MARKET, SO_POST_ONLY
from hftcore.decoders import decoder_for
from hftcore.model import OrderType, Side
from hftcore.venues.common import RecordingPlan, VenueError
from hftcore.venues.keys import Credentials
from hftcore.venues.orderentry import OrderEntryVenue, check_str
from hftcore.venues.ratelimit import Bucket, RateLimiter, RateLimitExceeded
from hftcore.venues.rest import RestError
from hftcore.venues.ws import Connection

if TYPE_CHECKING:
    from hftcore.engine import Engine
    from hftcore.model import Order

__all__ = ["PRIVATE_URL", "PUBLIC_URL", "REST_URL", "HtxVenue", "canonical_request",
           "pong_for", "recording_plan", "sign", "signed_query"]

log = logging.getLogger("hftcore.venues.htx")
PUBLIC_URL = "wss://api.huobi.pro/ws"
PRIVATE_URL = "wss://api.huobi.pro/ws/v2"
REST_URL = "https://api.huobi.pro"


def _quote(v: str) -> str:
    return urllib.parse.quote(v, safe="-_.~")


def canonical_request(method: str, host: str, path: str, params: Mapping[str, str]) -> str:
    """The text HTX signs: ``METHOD\\nhost\\npath\\n`` + the parameters URL-encoded and sorted
    by name (ASCII), joined by ``&``."""
    for name, v in (("method", method), ("host", host), ("path", path)):
        check_str("canonical_request", name, v)
    if not isinstance(params, Mapping):
        raise TypeError("canonical_request: params must be a mapping of str to str")
    query = "&".join(f"{_quote(k)}={_quote(check_str('canonical_request', 'params', v))}"
                     for k, v in sorted(params.items()))
    return f"{method.upper()}\n{host.lower()}\n{path}\n{query}"


def sign(secret: str, method: str, host: str, path: str, params: Mapping[str, str]) -> str:
    """``Signature``: base64 HMAC-SHA256 of :func:`canonical_request` with ``secret``."""
    check_str("sign", "secret", secret)
    text = canonical_request(method, host, path, params)
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
                            ).decode()


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def signed_query(key: str, secret: str, method: str, host: str, path: str,
                 params: Mapping[str, str] | None = None, timestamp: str | None = None) -> str:
    """The query string of a signed REST call (the authentication parameters, ``params`` and
    ``Signature``)."""
    p = {"AccessKeyId": key, "SignatureMethod": "HmacSHA256", "SignatureVersion": "2",
         "Timestamp": timestamp or _timestamp(), **(params or {})}
    sig = sign(secret, method, host, path, p)
    return canonical_request(method, host, path, p).rsplit("\n", 1)[1] + \
        "&Signature=" + _quote(sig)


def pong_for(data: bytes) -> bytes | None:
    """The answer to HTX's keep-alive ``{"ping": n}`` (gzip-compressed as HTX sends it, or
    already inflated): ``{"pong": n}``; None for any other message."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
    if not data.startswith(b'{"ping"'):
        return None
    return b'{"pong"' + data[7:]


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """``depth.step0`` and ``trade.detail`` of ``symbols`` (lower case); the frames are gzip
    binary (recorded as bytes literals) and every ``{"ping": n}`` is answered
    (:func:`pong_for`)."""
    chans = tuple(streams or ("depth.step0", "trade.detail"))
    subs = [orjson.dumps({"sub": f"market.{s.lower()}.{c}", "id": f"{s}-{c}"})
            for s in symbols for c in chans]
    return RecordingPlan("htx", (ws_url or PUBLIC_URL).rstrip("/"), subscriptions=subs,
                         answer=pong_for)


class HtxVenue(OrderEntryVenue):
    """HTX spot (see the module docstring).

    Parameters
    ----------
    credentials : Credentials, optional
        ``api_key`` (the AccessKeyId) and ``api_secret``.
    account_id : str, optional
        The spot account's id (default: asked for at login, ``/v1/account/accounts``).
    depth : str
        The book channel (``depth.step0``: 150 levels, whole books).
    trades : bool
        Subscribe ``trade.detail`` too.
    """

    name = "htx"
    sync_rule = "htx"
    default_ws_url = PUBLIC_URL
    default_rest_url = REST_URL
    default_private_url = PRIVATE_URL

    def __init__(self, *, account_id: str | None = None, depth: str = "depth.step0",
                 trades: bool = True, credentials: Credentials | None = None,
                 **kwargs: Any) -> None:
        if account_id is not None:
            check_str("htx", "account_id", account_id)
        check_str("htx", "depth", depth)
        super().__init__(credentials=credentials, **kwargs)
        self.account_id = account_id
        self.depth = depth
        self.trades = trades
        self.host = urllib.parse.urlsplit(self.rest_url).netloc.lower()
        self.pings_answered = 0
        self.native_gzip = False
        self._seen: dict[int, int] = {}

    def default_rate_limits(self) -> RateLimiter:
        # HTX: 100 order requests per 2 s per UID (place and cancel), 10 REST queries per s per
        # endpoint for the rest
        return RateLimiter([Bucket("ORDERS", 100, 2.0), Bucket("REST", 10, 1.0),
                            Bucket("SUBSCRIPTIONS", 50, 1.0)])

    # -- market data -----------------------------------------------------------------------------
    def md_url(self) -> str:
        return self.ws_url

    def md_subscriptions(self) -> list[bytes]:
        out = []
        for inst in self.instruments:
            s = inst.symbol.lower()
            out.append(orjson.dumps({"sub": f"market.{s}.{self.depth}", "id": f"{s}-depth"}))
            if self.trades:
                out.append(orjson.dumps({"sub": f"market.{s}.trade.detail", "id": f"{s}-trade"}))
        return out

    def attach(self, engine: Engine) -> None:
        """As :class:`OrderEntryVenue`; then find whether this build's decoder inflates gzip
        frames itself (then frames go to it untouched, without a copy)."""
        super().attach(engine)
        self.native_gzip = False
        if self.feed is not None:
            try:
                probe = decoder_for("htx")
                self.native_gzip = int(probe.decode(gzip.compress(b'{"ping":1}'))) >= 0
            except (ValueError, TypeError, AttributeError):
                self.native_gzip = False

    def md_connection(self) -> Connection:
        """The market-data connection: the compiled listener when the decoder inflates gzip
        itself, else frames decompressed here and run through :meth:`Engine.on_frame`."""
        if self.md is None and self.native_gzip:
            return super().md_connection()
        if self.md is None:
            self.md = Connection(self.md_url(), self._on_md_raw, name="htx md",
                                 on_open=self._md_open, on_close=self._md_close,
                                 ping_interval=self.ping_interval,
                                 ping_timeout=self.ping_timeout, backoff=self._backoff(),
                                 ssl_context=self.ssl_context)
        return self.md

    def _answer_ping(self, data: bytes) -> bool:
        """Answer ``{"ping": n}`` with ``{"pong": n}`` (:func:`pong_for`); True when ``data``
        was one."""
        pong = pong_for(data)
        if pong is None:
            return False
        md = self.md
        if md is not None:
            md.send(pong)
            self.pings_answered += 1
        return True

    def on_md_control(self, kind: int, data: bytes, ts: int) -> None:
        self._answer_ping(data)

    def _on_md_raw(self, data: bytes, ts: int) -> None:
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error):
                self._on_md_control(-1, data[:100], ts)
                return
        if self._answer_ping(data):
            return
        engine, feed = self.engine, self.feed
        assert engine is not None and feed is not None
        kind = engine.on_frame(feed, data, ts)
        if kind < 0 or b'"status":"error"' in data[:200]:
            self._on_md_control(9 if kind >= 0 else kind, data, ts)
            return
        for i in self.indices:
            if feed.state(i)["state"] in ("synced", "bbo_only"):
                self._seen[i] = ts

    def _last_seen(self, index: int) -> int:
        if self.listener is not None:
            return super()._last_seen(index)
        return self._seen.get(index, 0)

    async def resync(self, index: int) -> None:
        """Subscribe the book again: every ``depth.step0`` message is a whole book."""
        assert self.engine is not None
        s = self.engine.instruments[index].symbol.lower()
        await self.resubscribe(index, [
            orjson.dumps({"unsub": f"market.{s}.{self.depth}", "id": f"{s}-unsub"}),
            orjson.dumps({"sub": f"market.{s}.{self.depth}", "id": f"{s}-depth"})])

    # -- REST ------------------------------------------------------------------------------------
    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None, cost: str = "ORDERS") -> Any:
        """A signed REST call; the ``data`` of an ``ok`` answer, else ``VenueError``."""
        assert self.rest is not None
        key, secret, _ = self.creds()
        query = signed_query(key, secret, method, self.host, path, params)
        raw = await self.rest.request(method, path, query=query,
                                      body=orjson.dumps(body) if body is not None else None,
                                      headers={"Content-Type": "application/json"},
                                      cost={cost: 1}, max_wait=5.0)
        obj = orjson.loads(raw)
        if obj.get("status") != "ok":
            raise VenueError(f"{obj.get('err-code')}: {obj.get('err-msg')}")
        return obj.get("data")

    # -- the private websocket -------------------------------------------------------------------
    def ws_auth(self, timestamp: str | None = None) -> bytes:
        """The ``auth`` request of ``/ws/v2`` (signature version 2.1)."""
        key, secret, _ = self.creds()
        host = urllib.parse.urlsplit(self.private_url).netloc.lower()
        p = {"accessKey": key, "signatureMethod": "HmacSHA256", "signatureVersion": "2.1",
             "timestamp": timestamp or _timestamp()}
        p["signature"] = sign(secret, "GET", host, urllib.parse.urlsplit(
            self.private_url).path or "/", p)
        return orjson.dumps({"action": "req", "ch": "auth", "params": {"authType": "api", **p}})

    async def login(self, conn: Connection) -> None:
        if self.account_id is None:
            rows = await self.call("GET", "/v1/account/accounts", cost="REST")
            spot = [r for r in rows or () if r.get("type") == "spot"]
            if not spot:
                raise VenueError("htx: no spot account")
            self.account_id = str(spot[0]["id"])
        resp = await self.expect("auth", conn, self.ws_auth())
        if resp.get("code") != 200:
            raise VenueError(f"htx: auth refused: {resp.get('code')} {resp.get('message')}")
        for inst in self.instruments:
            ch = f"orders#{inst.symbol.lower()}"
            resp = await self.expect(ch, conn, orjson.dumps({"action": "sub", "ch": ch}))
            if resp.get("code") != 200:
                raise VenueError(f"htx: {ch} refused: {resp.get('message')}")

    def on_private(self, data: bytes, ts: int) -> None:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        obj = orjson.loads(data)
        if not isinstance(obj, dict):
            return
        action, ch = obj.get("action"), str(obj.get("ch", ""))
        if action == "ping":
            if self.private is not None:
                self.private.send(orjson.dumps({"action": "pong", "data": obj.get("data")}))
            return
        if action in ("req", "sub"):
            self.answer("auth" if ch == "auth" else ch, obj)
            return
        if action == "push" and ch.startswith("orders#"):
            self._on_order(obj.get("data") or {}, ts)

    def _on_order(self, d: dict[str, Any], ts: int) -> None:
        cid = str(d.get("clientOrderId") or "")
        if not cid:
            cid = self.by_venue_id.get(str(d.get("orderId")), "")
        o = self.order(cid) if cid else None
        if o is None:
            return
        ev = d.get("eventType")
        oid = str(d.get("orderId", ""))
        if ev == "creation":
            self.on_new_ok(cid, oid, ts)
        elif ev == "trade":
            inst = o.instrument
            self.on_fill(cid, str(d["tradeId"]), inst.qty(d["tradeVolume"]),
                         inst.price(d["tradePrice"]), not d.get("aggressor", True), oid, ts)
        elif ev == "cancellation":
            self.on_canceled(cid, ts)

    # -- orders ----------------------------------------------------------------------------------
    def send_new(self, order: Order, flags: int) -> None:
        inst = order.instrument
        side = "buy" if order.side == Side.BUY else "sell"
        body: dict[str, Any] = {"account-id": self.account_id, "symbol": inst.symbol.lower(),
                                "amount": inst.format_qty(order.size, True),
                                "client-order-id": order.client_order_id, "source": "spot-api"}
        if flags & SO_MARKET or order.order_type == OrderType.MARKET:
            body["type"] = f"{side}-market"
        else:
            body["type"] = (f"{side}-limit-maker" if flags & SO_POST_ONLY or
                            order.order_type == OrderType.LIMIT_MAKER else
                            f"{side}-ioc" if flags & SO_IOC else
                            f"{side}-limit-fok" if flags & SO_FOK else f"{side}-limit")
            body["price"] = inst.format_price(order.price, True)
        self.spawn(self._new(order.client_order_id, body), "htx new")

    async def _new(self, cid: str, body: dict[str, Any]) -> None:
        try:
            oid = await self.call("POST", "/v1/order/orders/place", body)
        except (TimeoutError, VenueError, RestError, RateLimitExceeded) as exc:
            self.new_failed(cid, exc)
            return
        self.on_new_ok(cid, str(oid))

    async def query_order(self, order: Order) -> tuple[str, str] | None:
        """``/v1/order/orders/getClientOrder``."""
        try:
            d = await self.call("GET", "/v1/order/orders/getClientOrder",
                                params={"clientOrderId": order.client_order_id}, cost="REST")
        except VenueError as exc:
            if "base-record-invalid" in str(exc):
                return None
            raise
        st = str(d.get("state", ""))
        return ("canceled" if st in ("canceled", "partial-canceled") else
                "filled" if st == "filled" else "open", str(d.get("id", "")))

    async def query_fills(self, order: Order, venue_order_id: str
                          ) -> list[tuple[str, int, int, bool]]:
        """``/v1/order/orders/{order-id}/matchresults``."""
        if not venue_order_id:
            return []
        rows = await self.call("GET", f"/v1/order/orders/{venue_order_id}/matchresults",
                               cost="REST")
        inst = order.instrument
        return [(str(r["trade-id"]), inst.qty(r["filled-amount"]), inst.price(r["price"]),
                 r.get("role") == "maker") for r in rows or ()]

    def send_cancel(self, order: Order) -> None:
        self.spawn(self._cancel(order.client_order_id), "htx cancel")

    async def _cancel(self, cid: str) -> None:
        try:
            await self.call("POST", "/v1/order/orders/submitCancelClientOrder",
                            {"client-order-id": cid})
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.on_cancel_refused(cid, self.error_text(exc))
            return
        self.on_canceled(cid)      # the orders# push says so too (reported once)

    def send_amend(self, order: Order, price: int, size: int) -> None:
        raise VenueError("HTX spot orders cannot be amended (cancel and place a new one)")

    def status(self) -> dict[str, Any]:
        """Connections, order entry and counters."""
        out = super().status()
        out["pings_answered"] = self.pings_answered
        return out
