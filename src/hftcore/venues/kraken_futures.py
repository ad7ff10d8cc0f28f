"""Kraken Futures: market data, order entry and their signing.

Signing (https://docs.kraken.com/api/docs/guides/futures-rest, "Authentication"): REST calls
carry ``APIKey``, ``Nonce`` and ``Authent`` = base64(HMAC-SHA512(base64-decoded secret,
SHA-256(postData + nonce + endpointPath))), where ``endpointPath`` is the path without the
``/derivatives`` prefix (``/api/v3/sendorder``).  The websocket's private feeds take a
``challenge`` (requested with the API key) signed the same way over the challenge alone
(https://docs.kraken.com/api/docs/guides/futures-websockets, "Sign challenge").

:class:`KrakenFuturesVenue` streams ``book`` (snapshot, then per-level updates chained by
``seq``) and ``trade`` over ``wss://futures.kraken.com/ws/v1`` (plus the ``heartbeat`` feed; the
connection is pinged when idle: Kraken closes it after 60 s without one); a gap resubscribes that
product.  Orders go to ``/derivatives/api/v3/sendorder``, ``cancelorder`` and ``editorder`` by
``cliOrdId``; acks, cancels and fills come from the answers and the private ``open_orders`` and
``fills`` feeds.  Prices in the feeds are JSON numbers: they are read as exact decimals, never
as floats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import logging
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from hftcore._ext.sim import SO_FOK, SO_IOC, SO_MARKET, SO_POST_ONLY
from hftcore.model import OrderType, Side
from hftcore.venues.common import RecordingPlan, VenueError
from hftcore.venues.keys import Credentials
from hftcore.venues.orderentry import OrderEntryVenue, check_str, exact_json
from hftcore.venues.ratelimit import Bucket, RateLimiter, RateLimitExceeded
from hftcore.venues.rest import RestError
from hftcore.venues.ws import Connection

if TYPE_CHECKING:
    from hftcore.model import Order

__all__ = ["PING_INTERVAL", "PUBLIC_URL", "REST_URL", "KrakenFuturesVenue", "authent",
           "recording_plan",
           "sign_challenge"]

log = logging.getLogger("hftcore.venues.kraken_futures")
PUBLIC_URL = "wss://futures.kraken.com/ws/v1"
REST_URL = "https://futures.kraken.com"
_OK_SEND = ("placed", "partiallyFilled", "filled")
#: seconds of silence before the connection is pinged (Kraken closes it after 60 s without one)
PING_INTERVAL = 30.0


def _hmac512(secret_b64: str, data: bytes) -> str:
    try:
        key = base64.b64decode(secret_b64 + "=" * (-len(secret_b64) % 4), validate=True)
    except ValueError:
        raise ValueError("kraken_futures: the api_secret is not base64") from None
    return base64.b64encode(hmac.new(key, hashlib.sha256(data).digest(),
                                     hashlib.sha512).digest()).decode()


def authent(secret: str, post_data: str, nonce: str, endpoint_path: str) -> str:
    """``Authent`` of a REST call: base64 HMAC-SHA512 (base64-decoded secret) of
    SHA-256(``post_data + nonce + endpoint_path``)."""
    for name, v in (("secret", secret), ("post_data", post_data), ("nonce", nonce),
                    ("endpoint_path", endpoint_path)):
        check_str("authent", name, v)
    return _hmac512(secret, (post_data + nonce + endpoint_path).encode())


def sign_challenge(secret: str, challenge: str) -> str:
    """The ``signed_challenge`` of the websocket's private feeds."""
    check_str("sign_challenge", "secret", secret)
    check_str("sign_challenge", "challenge", challenge)
    return _hmac512(secret, challenge.encode())


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """The ``heartbeat`` feed, ``book`` and ``trade`` of ``symbols`` (product ids), pinged
    after :data:`PING_INTERVAL` seconds of silence, as :class:`KrakenFuturesVenue` does."""
    feeds = tuple(streams or ("book", "trade"))
    return RecordingPlan("kraken_futures", (ws_url or PUBLIC_URL).rstrip("/"),
                         subscriptions=[orjson.dumps({"event": "subscribe", "feed": "heartbeat"})]
                         + [orjson.dumps({"event": "subscribe", "feed": f,
                                          "product_ids": list(symbols)}) for f in feeds],
                         ping_interval=PING_INTERVAL)


class KrakenFuturesVenue(OrderEntryVenue):
    """Kraken Futures (see the module docstring).

    Parameters
    ----------
    credentials : Credentials, optional
        ``api_key`` and the base64 ``api_secret``.
    private_url : str, optional
        The websocket of the private feeds (default: the public one, as Kraken serves both).
    trades : bool
        Subscribe ``trade`` too.
    **kwargs
        :class:`~hftcore.venues.orderentry.OrderEntryVenue`'s.
    """

    name = "kraken_futures"
    sync_rule = "kraken_futures"
    default_ws_url = PUBLIC_URL
    default_rest_url = REST_URL
    default_private_url = PUBLIC_URL

    def __init__(self, *, trades: bool = True, credentials: Credentials | None = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("ping_interval", PING_INTERVAL)
        super().__init__(credentials=credentials, **kwargs)
        if credentials is not None:
            sign_challenge(self.creds()[1], "check")     # the secret must be base64
        self.trades = trades
        self._nonce = itertools.count(self.now_ms() * 1000)

    def default_rate_limits(self) -> RateLimiter:
        # Kraken Futures: 500 cost units per 10 s on /derivatives (an order costs 10, a cancel
        # or edit 10); subscriptions are not limited but kept sane
        return RateLimiter([Bucket("DERIVATIVES", 500, 10.0), Bucket("ORDERS", 50, 10.0),
                            Bucket("SUBSCRIPTIONS", 100, 10.0)])

    # -- market data -----------------------------------------------------------------------------
    def md_url(self) -> str:
        return self.ws_url

    def md_subscriptions(self) -> list[bytes]:
        ids = [i.symbol for i in self.instruments]
        feeds = ["book"] + (["trade"] if self.trades else [])
        return [orjson.dumps({"event": "subscribe", "feed": "heartbeat"})] + [
            orjson.dumps({"event": "subscribe", "feed": f, "product_ids": ids}) for f in feeds]

    async def resync(self, index: int) -> None:
        """Unsubscribe and subscribe the product's book until its snapshot is in."""
        assert self.engine is not None
        pid = [self.engine.instruments[index].symbol]
        await self.resubscribe(index, [
            orjson.dumps({"event": "unsubscribe", "feed": "book", "product_ids": pid}),
            orjson.dumps({"event": "subscribe", "feed": "book", "product_ids": pid})])

    # -- private feeds ---------------------------------------------------------------------------
    async def login(self, conn: Connection) -> None:
        key, secret, _ = self.creds()
        resp = await self.expect("challenge", conn, orjson.dumps({"event": "challenge",
                                                                  "api_key": key}))
        if resp.get("event") != "challenge":
            raise VenueError(f"kraken_futures: challenge refused: {resp.get('message')}")
        ch = str(resp["message"])
        signed = sign_challenge(secret, ch)
        for feed in ("open_orders", "fills"):
            resp = await self.expect("subscribe", conn, orjson.dumps({
                "event": "subscribe", "feed": feed, "api_key": key, "original_challenge": ch,
                "signed_challenge": signed}))
            if resp.get("event") != "subscribed":
                raise VenueError(f"kraken_futures: {feed} refused: {resp.get('message')}")

    def on_private(self, data: bytes, ts: int) -> None:
        obj = exact_json(data)
        if not isinstance(obj, dict):
            return
        ev = obj.get("event")
        if ev == "challenge" or (ev == "error" and "challenge" in self._waiters):
            self.answer("challenge", obj)
            return
        if ev in ("subscribed", "error", "subscribed_failed"):
            self.answer("subscribe", obj)
            return
        feed = obj.get("feed")
        if feed == "fills":
            for f in obj.get("fills") or ():
                self._on_fill(f, ts)
        elif feed == "open_orders":
            self._on_open_order(obj, ts)

    def _cid_of(self, cli: object, oid: object) -> str:
        cid = str(cli or "")
        if not cid and oid is not None:
            cid = self.by_venue_id.get(str(oid), "")
        return cid

    def _on_fill(self, f: dict[str, Any], ts: int) -> None:
        cid = self._cid_of(f.get("cli_ord_id"), f.get("order_id"))
        o = self.order(cid) if cid else None
        if o is None:
            return
        inst = o.instrument
        self.on_fill(cid, str(f["fill_id"]), inst.qty(f["qty"]), inst.price(f["price"]),
                     f.get("fill_type") == "maker", str(f.get("order_id", "")), ts)

    def _on_open_order(self, obj: dict[str, Any], ts: int) -> None:
        if obj.get("is_cancel"):
            reason = str(obj.get("reason", ""))
            cid = self._cid_of(obj.get("cli_ord_id"), obj.get("order_id"))
            if cid and "fill" not in reason:
                self.on_canceled(cid, ts)
            return
        d = obj.get("order") or {}
        cid = self._cid_of(d.get("cli_ord_id"), d.get("order_id"))
        if cid:
            self.on_new_ok(cid, str(d.get("order_id", "")), ts)

    # -- REST order entry ------------------------------------------------------------------------
    async def call(self, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        """POST ``/derivatives/api/v3/{endpoint}`` signed; the parsed answer."""
        assert self.rest is not None
        key, secret, _ = self.creds()
        body = urllib.parse.urlencode(params)
        nonce = str(next(self._nonce))
        path = f"/api/v3/{endpoint}"
        headers = {"APIKey": key, "Nonce": nonce, "Authent": authent(secret, body, nonce, path),
                   "Content-Type": "application/x-www-form-urlencoded"}
        raw = await self.rest.request("POST", "/derivatives" + path, body=body, headers=headers,
                                      cost={"DERIVATIVES": 10}, max_wait=5.0)
        obj: dict[str, Any] = exact_json(raw)
        if obj.get("result") != "success":
            raise VenueError(f"{endpoint}: {obj.get('error', 'refused')}")
        return obj

    def send_new(self, order: Order, flags: int) -> None:
        inst = order.instrument
        params = {"symbol": inst.symbol, "side": "buy" if order.side == Side.BUY else "sell",
                  "size": inst.format_qty(order.size, True), "cliOrdId": order.client_order_id}
        if flags & SO_MARKET or order.order_type == OrderType.MARKET:
            params["orderType"] = "mkt"
        else:
            if flags & SO_FOK:
                raise VenueError("fill-or-kill is not offered by Kraken Futures")
            params["orderType"] = ("post" if flags & SO_POST_ONLY or
                                   order.order_type == OrderType.LIMIT_MAKER else
                                   "ioc" if flags & SO_IOC else "lmt")
            params["limitPrice"] = inst.format_price(order.price, True)
        self.spawn(self._new(order.client_order_id, params), "kraken_futures new")

    async def _new(self, cid: str, params: dict[str, str]) -> None:
        try:
            obj = await self.call("sendorder", params)
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.new_failed(cid, exc)
            return
        st = obj.get("sendStatus") or {}
        if st.get("status") in _OK_SEND:
            self.on_new_ok(cid, str(st.get("order_id", "")))
        else:
            self.on_new_refused(cid, f"sendorder: {st.get('status')}")

    async def query_order(self, order: Order) -> tuple[str, str] | None:
        """``/derivatives/api/v3/orders/status`` by ``cliOrdId``."""
        obj = await self.call("orders/status", {"cliOrdIds": order.client_order_id})
        rows = obj.get("orders") or []
        if not rows or rows[0].get("status") == "REJECTED":
            return None
        st = str(rows[0].get("status", ""))
        oid = str((rows[0].get("order") or {}).get("orderId", ""))
        return ("canceled" if st == "CANCELLED" else "filled" if st == "FULLY_EXECUTED"
                else "open", oid)

    async def query_fills(self, order: Order, venue_order_id: str
                          ) -> list[tuple[str, int, int, bool]]:
        """``GET /derivatives/api/v3/fills`` (the recent fills), this order's."""
        assert self.rest is not None
        key, secret, _ = self.creds()
        nonce = str(next(self._nonce))
        path = "/api/v3/fills"
        raw = await self.rest.request("GET", "/derivatives" + path, headers={
            "APIKey": key, "Nonce": nonce, "Authent": authent(secret, "", nonce, path)},
            cost={"DERIVATIVES": 2}, max_wait=5.0)
        obj = exact_json(raw)
        if obj.get("result") != "success":
            raise VenueError(f"fills: {obj.get('error')}")
        inst = order.instrument
        return [(str(f["fill_id"]), inst.qty(f["size"]), inst.price(f["price"]),
                 f.get("fillType") == "maker") for f in obj.get("fills") or ()
                if str(f.get("order_id")) == venue_order_id
                or f.get("cliOrdId") == order.client_order_id]

    def send_cancel(self, order: Order) -> None:
        self.spawn(self._cancel(order.client_order_id), "kraken_futures cancel")

    async def _cancel(self, cid: str) -> None:
        try:
            obj = await self.call("cancelorder", {"cliOrdId": cid})
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.on_cancel_refused(cid, self.error_text(exc))
            return
        st = (obj.get("cancelStatus") or {}).get("status")
        if st == "cancelled":
            self.on_canceled(cid)
        else:
            self.on_cancel_refused(cid, f"cancelorder: {st}")

    def send_amend(self, order: Order, price: int, size: int) -> None:
        inst = order.instrument
        self.spawn(self._amend(order.client_order_id, price, size, {
            "cliOrdId": order.client_order_id, "size": inst.format_qty(size, True),
            "limitPrice": inst.format_price(price, True)}), "kraken_futures amend")

    async def _amend(self, cid: str, price: int, size: int, params: dict[str, str]) -> None:
        try:
            obj = await self.call("editorder", params)
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.on_replace_refused(cid, self.error_text(exc))
            return
        st = (obj.get("editStatus") or {}).get("status")
        if st == "edited":
            self.on_replaced(cid, price, size)
        else:
            self.on_replace_refused(cid, f"editorder: {st}")
