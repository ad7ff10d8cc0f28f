"""Bybit v5: request signing and what ``record`` connects to.

Signing (Bybit's v5 documentation): REST requests carry ``X-BAPI-API-KEY``,
``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` and ``X-BAPI-SIGN`` = hex HMAC-SHA256 of
``timestamp + api_key + recv_window + payload`` (the query string of a GET, the JSON body of a
POST); the private websocket authenticates with ``{"op":"auth","args":[api_key, expires,
signature]}``, the signature being hex HMAC-SHA256 of ``"GET/realtime" + expires``.

:class:`BybitVenue` streams public market data (``orderbook.<depth>.<symbol>`` with the ``u``
chain, ``publicTrade``); a gap resyncs that symbol by subscribing it again (Bybit answers with a
snapshot).  With credentials it also trades: orders go through the WebSocket Trade API
(``/v5/trade``: ``order.create`` / ``order.cancel`` / ``order.amend``, keyed by
``orderLinkId`` = our client order id), answers and fills come from the private stream
(``/v5/private``: ``order`` and ``execution`` topics), both connections authenticated with the
``auth`` operation; after each reconnect open orders are reconciled over REST
(``/v5/order/realtime``, ``/v5/execution/list``, signed ``X-BAPI-*`` headers) before trading
resumes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import time
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from hftcore._ext.sim import SO_FOK, SO_IOC, SO_MARKET, SO_POST_ONLY
from hftcore.model import OrderStatus, OrderType, Side
from hftcore.venues.common import LiveVenue, RecordingPlan, VenueError
from hftcore.venues.keys import Credentials, redact
from hftcore.venues.ratelimit import Bucket, RateLimiter, RateLimitExceeded
from hftcore.venues.rest import RestError
from hftcore.venues.ws import Connection

if TYPE_CHECKING:
    from hftcore.model import Order

log = logging.getLogger("hftcore.venues.bybit")
TRADE_URL = "wss://stream.bybit.com/v5/trade"
PRIVATE_URL = "wss://stream.bybit.com/v5/private"
REST_URL = "https://api.bybit.com"
_ORDER_COST = {"ORDERS": 1}

__all__ = ["PRIVATE_URL", "PUBLIC_URL", "REST_URL", "TRADE_URL", "BybitVenue", "recording_plan",
           "sign", "sign_request", "sign_ws_auth"]

PUBLIC_URL = "wss://stream.bybit.com/v5/public/spot"


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` with ``secret``."""
    if not isinstance(secret, str) or not isinstance(payload, str):
        raise TypeError("sign(secret, payload): both must be str")
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def sign_request(secret: str, timestamp: int | str, api_key: str, recv_window: int | str,
                 payload: str) -> str:
    """``X-BAPI-SIGN`` of a REST request: ``payload`` is the GET query string or POST body."""
    return sign(secret, f"{timestamp}{api_key}{recv_window}{payload}")


def sign_ws_auth(secret: str, expires_ms: int) -> str:
    """The signature of the private websocket's ``auth`` operation."""
    return sign(secret, f"GET/realtime{expires_ms}")


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """``orderbook.50.<symbol>`` and ``publicTrade.<symbol>`` of the spot stream (``--streams``
    overrides the topics' prefixes), with Bybit's ``{"op":"ping"}`` every 20 s."""
    topics = [f"{t}.{s}" for s in symbols for t in (streams or ("orderbook.50", "publicTrade"))]
    return RecordingPlan("bybit", (ws_url or PUBLIC_URL).rstrip("/"),
                         subscriptions=[orjson.dumps({"op": "subscribe", "args": topics})],
                         ping_message=b'{"op":"ping"}', pong_contains=b'"op":"ping"',
                         ping_periodic=True)


#: our request kinds -> what LiveVenue.report_answer calls them
_REQUESTS = {"create": "new", "cancel": "cancel", "amend": "amend"}

class BybitVenue(LiveVenue):
    """Bybit v5 public market data: ``orderbook.<depth>.<symbol>`` (snapshot, then deltas whose
    ``u`` must grow by exactly one; a new snapshot resets the book) and ``publicTrade``.

    Parameters
    ----------
    category : str
        ``spot``, ``linear``, ``inverse`` or ``option`` (the stream URL's last part).
    depth : int
        Book depth of the topic (1, 50, 200, 500, 1000 as the category allows).
    trades : bool
        Subscribe to ``publicTrade`` too.
    credentials : Credentials, optional
        ``api_key`` and ``api_secret`` (HMAC) for order entry.
    trade_url, private_url : str, optional
        The WebSocket Trade API and private stream endpoints.
    """

    name = "bybit"
    sync_rule = "bybit"
    default_ws_url = "wss://stream.bybit.com/v5/public"
    default_rest_url = REST_URL

    def __init__(self, *, category: str = "spot", depth: int = 50, trades: bool = True,
                 resync_timeout: float = 5.0, credentials: Credentials | None = None,
                 trade_url: str | None = None, private_url: str | None = None,
                 recv_window: int = 5000, request_timeout: float = 10.0,
                 **kwargs: Any) -> None:
        if category not in ("spot", "linear", "inverse", "option"):
            raise ValueError(f"category must be spot, linear, inverse or option, "
                             f"got {category!r}")
        if depth not in (1, 25, 50, 100, 200, 500, 1000):
            raise ValueError(f"depth: {depth!r} is not a Bybit book depth")
        kwargs.setdefault("ping_interval", 20.0)
        if credentials is not None and credentials.api_secret is None:
            raise ValueError("bybit: order entry needs an api_secret (HMAC key)")
        super().__init__(credentials=credentials, **kwargs)
        self.category = category
        self.depth = depth
        self.trades = trades
        self.resync_timeout = resync_timeout
        self.trade_url = trade_url or TRADE_URL
        self.private_url = private_url or PRIVATE_URL
        self.recv_window = recv_window
        self.request_timeout = request_timeout
        self.trade: Connection | None = None
        self.private: Connection | None = None
        self.trading = False
        self.block_reason = "not connected"
        self._ids = itertools.count(1)
        self._reqs: dict[str, tuple[str, str, Any]] = {}
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._cancel_queue: dict[str, Order] = {}
        self._order_cost = self.limiter.prepare(_ORDER_COST)
        self.rate_refused = 0
        self.last_api_error = ""
        self.api_errors: list[str] = []
        self.reconciliations = 0

    def default_rate_limits(self) -> RateLimiter:
        # order.create/amend/cancel: 10 per second per symbol for most accounts
        return RateLimiter([Bucket("SUBSCRIPTIONS", 20, 10.0), Bucket("ORDERS", 10, 1.0),
                            Bucket("REST", 50, 5.0)])

    def md_url(self) -> str:
        url = self.ws_url
        return url if url.endswith(self.category) else f"{url}/{self.category}"

    def _topics(self, symbols: Sequence[str]) -> list[str]:
        out = [f"orderbook.{self.depth}.{s}" for s in symbols]
        if self.trades:
            out += [f"publicTrade.{s}" for s in symbols]
        return out

    def md_subscriptions(self) -> list[bytes]:
        return [orjson.dumps({"op": "subscribe",
                              "args": self._topics([i.symbol for i in self.instruments])})]

    def md_ping(self) -> dict[str, Any]:
        # Bybit wants a ping every 20 s whatever the traffic
        return {"ping_message": b'{"op":"ping"}', "pong_contains": b'"op":"ping"',
                "ping_periodic": True}

    async def resync(self, index: int) -> None:
        """Unsubscribe and subscribe the symbol's book again until its snapshot is in."""
        assert self.engine is not None
        topic = f"orderbook.{self.depth}.{self.engine.instruments[index].symbol}"
        await self.resubscribe(index, [orjson.dumps({"op": "unsubscribe", "args": [topic]}),
                                      orjson.dumps({"op": "subscribe", "args": [topic]})],
                               self.resync_timeout, max_wait=30.0)

    # -- order entry ----------------------------------------------------------------------------
    async def connect(self, timeout: float = 10.0) -> None:
        """Market data, then (with credentials) the private stream and the Trade API."""
        await super().connect(timeout)
        if not self.order_entry:
            return
        if self.private is None:
            self.private = Connection(self.private_url, self._on_private, name="bybit private",
                                      on_open=self._private_open, ping_interval=20.0,
                                      ping_message=b'{"op":"ping"}',
                                      pong_contains=b'"op":"pong"', ping_periodic=True,
                                      backoff=self._backoff(), ssl_context=self.ssl_context)
            self.trade = Connection(self.trade_url, self._on_trade, name="bybit trade",
                                    on_open=self._trade_open, on_close=self._trade_close,
                                    ping_interval=20.0, ping_message=b'{"op":"ping"}',
                                    pong_contains=b'"op":"pong"', ping_periodic=True,
                                    backoff=self._backoff(), ssl_context=self.ssl_context)
        assert self.trade is not None
        self.private.start()
        if not await self.private.wait_ready(timeout):
            raise VenueError(f"bybit: private stream not ready ({self.private.last_error})")
        self.trade.start()
        if not await self.trade.wait_ready(timeout):
            raise VenueError(f"bybit: order entry not ready ({self.block_reason})")

    async def close(self) -> None:
        """Close every connection."""
        self.trading = False
        self.block_reason = "closed"
        for c in (self.trade, self.private):
            if c is not None:
                await c.stop()
        await super().close()

    def _secret(self) -> str:
        creds = self.credentials
        assert creds is not None and creds.api_secret is not None
        return creds.api_secret.reveal()

    async def _auth(self, conn: Connection) -> None:
        creds = self.credentials
        assert creds is not None
        expires = time.time_ns() // 1_000_000 + 10_000
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[f"auth:{conn.name}"] = fut
        conn.send(orjson.dumps({"op": "auth", "args": [creds.api_key.reveal(), expires,
                                                        sign_ws_auth(self._secret(), expires)]}))
        resp = await asyncio.wait_for(fut, self.request_timeout)
        if not (resp.get("success") or resp.get("retCode") == 0):
            msg = resp.get("ret_msg") or resp.get("retMsg")
            raise VenueError(redact(f"bybit: auth refused: {msg}"))

    async def _private_open(self, conn: Connection) -> None:
        await self._auth(conn)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters["subscribe"] = fut
        conn.send(orjson.dumps({"op": "subscribe", "args": ["order", "execution"]}))
        resp = await asyncio.wait_for(fut, self.request_timeout)
        if not resp.get("success"):
            raise VenueError(f"bybit: private subscription refused: {resp.get('ret_msg')}")
        if self.trade is not None and self.trade.ready.is_set():
            self.trade.drop("private stream reconnected: reconcile")   # events may be lost

    async def _trade_open(self, conn: Connection) -> None:
        self.trading = False
        self.block_reason = "authenticating" + (
            f" (last error: {self.last_api_error})" if self.last_api_error else "")
        try:
            await self._auth(conn)
            self.block_reason = "reconciling open orders"
            await self.reconcile()
        except (VenueError, TimeoutError, RestError, RateLimitExceeded) as exc:
            self._entry_failed(exc)
            raise
        self._entry_ready()

    def _trade_close(self, conn: Connection) -> None:
        self._reqs.clear()
        self._entry_lost(self._waiters)

    def _send_op(self, kind: str, cid: str, extra: Any, op: str, args: dict[str, Any]) -> bool:
        rid = str(next(self._ids))
        self._reqs[rid] = (kind, cid, extra)
        msg = orjson.dumps({"reqId": rid, "header": {
            "X-BAPI-TIMESTAMP": str(time.time_ns() // 1_000_000),
            "X-BAPI-RECV-WINDOW": str(self.recv_window)}, "op": op, "args": [args]})
        if self.trade is None or not self.trade.send(msg):
            self._reqs.pop(rid, None)
            return False
        return True

    def submit(self, order: Order, flags: int) -> None:
        """Send ``order.create`` (never blocks; a refusal comes back as a reject)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().submit(order, flags)
        if self._refuse_new(cid, self._order_cost):
            return
        inst = order.instrument
        args: dict[str, Any] = {"category": self.category, "symbol": inst.symbol,
                                "side": "Buy" if order.side == Side.BUY else "Sell",
                                "qty": inst.format_qty(order.size), "orderLinkId": cid}
        if flags & SO_MARKET or order.order_type == OrderType.MARKET:
            args["orderType"] = "Market"
        else:
            args["orderType"] = "Limit"
            args["price"] = inst.format_price(order.price)
            args["timeInForce"] = ("PostOnly" if flags & SO_POST_ONLY or
                                   order.order_type == OrderType.LIMIT_MAKER else
                                   "IOC" if flags & SO_IOC else "FOK" if flags & SO_FOK else "GTC")
        if not self._send_op("create", cid, None, "order.create", args):
            self.report_later(cid, "reject", reason="bybit: not sent: connection down")

    def cancel(self, order: Order) -> None:
        """Send ``order.cancel`` (queued while order entry reconnects)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().cancel(order)
        if not self.trading or not self._send_op(
                "cancel", cid, None, "order.cancel",
                {"category": self.category, "symbol": order.instrument.symbol,
                 "orderLinkId": cid}):
            self._cancel_queue[cid] = order

    def amend(self, order: Order, price: int, size: int) -> None:
        """Send ``order.amend`` (new price and total quantity; the order keeps its id)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().amend(order, price, size)
        why = None if self.trading else f"order entry not ready: {self.block_reason}"
        if why is None:
            why = self.limiter.try_take(self._order_cost)
        inst = order.instrument
        if why is not None or not self._send_op(
                "amend", cid, (price, size), "order.amend",
                {"category": self.category, "symbol": inst.symbol, "orderLinkId": cid,
                 "price": inst.format_price(price), "qty": inst.format_qty(size)}):
            self.report_later(cid, "replace_reject", reason=f"bybit: not sent: {why}")

    def _order(self, cid: str) -> Order | None:
        assert self.engine is not None
        return self.engine.om.get(cid)

    def _on_trade(self, data: bytes, ts: int) -> None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        op = obj.get("op")
        if op == "auth":
            fut = self._waiters.pop("auth:bybit trade", None)
            if fut is not None and not fut.done():
                fut.set_result(obj)
            return
        req = self._reqs.pop(str(obj.get("reqId")), None)
        if req is None:
            return
        kind, cid, extra = req
        o = self._order(cid)
        if o is None:
            return
        ok = obj.get("retCode") == 0
        text = redact(f"bybit {obj.get('retCode')}: {obj.get('retMsg')}")
        if not ok and len(self.api_errors) < 200:
            self.api_errors.append(text)
        vid = str((obj.get("data") or {}).get("orderId", "")) if kind == "create" else ""
        self.report_answer(o, _REQUESTS[kind], ok, ts, text, vid,
                           extra if kind == "amend" else None)

    def _on_private(self, data: bytes, ts: int) -> None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        op = obj.get("op")
        if op in ("auth", "subscribe"):
            fut = self._waiters.pop("auth:bybit private" if op == "auth" else "subscribe", None)
            if fut is not None and not fut.done():
                fut.set_result(obj)
            return
        topic = obj.get("topic")
        for d in obj.get("data") or ():
            try:
                if topic == "execution":
                    self._on_execution(d, ts)
                elif topic == "order":
                    self._on_order_event(d, ts)
            except (KeyError, ValueError, TypeError) as exc:
                log.error("bybit: bad %s event: %s", topic, exc)

    def _on_execution(self, d: dict[str, Any], ts: int) -> None:
        cid = d.get("orderLinkId", "")
        o = self._order(cid)
        if o is None:
            return
        inst = o.instrument
        self.report(cid, "fill", ts=ts, qty=inst.qty(d["execQty"]),
                    price=inst.price(d["execPrice"]), liquidity=0 if d.get("isMaker") else 1,
                    trade_id=str(d["execId"]), venue_order_id=str(d.get("orderId", "")))

    def _on_order_event(self, d: dict[str, Any], ts: int) -> None:
        cid = d.get("orderLinkId", "")
        o = self._order(cid)
        if o is None:
            return
        st = d.get("orderStatus")
        if st == "New" and not o.acked and o.is_open:
            self.report(cid, "ack", ts=ts, venue_order_id=str(d.get("orderId", "")))
        elif st in ("Cancelled", "PartiallyFilledCanceled", "Deactivated") and o.is_open:
            self.report(cid, "canceled", ts=ts)
        elif st == "Rejected" and o.is_open:
            self.report(cid, "reject", ts=ts, reason=f"bybit: {d.get('rejectReason', 'rejected')}")

    # -- reconciliation over REST ---------------------------------------------------------------
    async def _rest_get(self, path: str, params: dict[str, Any]) -> Any:
        assert self.rest is not None and self.credentials is not None
        query = urllib.parse.urlencode(params)
        ts = time.time_ns() // 1_000_000
        key = self.credentials.api_key.reveal()
        headers = {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": str(ts),
                   "X-BAPI-RECV-WINDOW": str(self.recv_window),
                   "X-BAPI-SIGN": sign_request(self._secret(), ts, key, self.recv_window, query)}
        obj = orjson.loads(await self.rest.request("GET", path, query=query, headers=headers,
                                                   cost={"REST": 1}, max_wait=10.0))
        if obj.get("retCode") != 0:
            raise VenueError(redact(f"bybit {path}: {obj.get('retCode')} {obj.get('retMsg')}"))
        return obj.get("result", {}).get("list", [])

    async def reconcile(self, orders: Sequence[Order] | None = None) -> dict[str, str]:
        """Settle ``orders`` (default: all open orders here) against ``/v5/order/realtime`` and
        ``/v5/execution/list``."""
        targets = [o for o in (self.open_orders() if orders is None else orders) if o.is_open]
        out: dict[str, str] = {}
        if targets:
            self.reconciliations += 1
        for o in targets:
            cid = o.client_order_id
            inst = o.instrument
            now = time.time_ns()
            rows = await self._rest_get("/v5/order/realtime", {"category": self.category,
                                                               "orderLinkId": cid})
            if not rows:
                if o.acked:
                    self.report(cid, "canceled", ts=now)
                    out[cid] = "canceled (not found at the venue)"
                else:
                    self.report(cid, "reject", ts=now, reason="bybit: not found at the venue")
                    out[cid] = "rejected (never reached the venue)"
                continue
            d = rows[0]
            if inst.qty(d.get("cumExecQty", "0")) > o.filled:
                for e in await self._rest_get("/v5/execution/list",
                                              {"category": self.category, "orderLinkId": cid}):
                    self._on_execution(e, now)
            st = d.get("orderStatus", "")
            if not o.is_open:
                out[cid] = o.status.name.lower()
            elif st in ("New", "PartiallyFilled"):
                if not o.acked:
                    self.report(cid, "ack", ts=now, venue_order_id=str(d.get("orderId", "")))
                if o.status in (OrderStatus.UNKNOWN, OrderStatus.PENDING_REPLACE) and o.acked:
                    self.report(cid, "replaced", ts=now, price=inst.price(d["price"]),
                                qty=inst.qty(d["qty"]))
                if o.status == OrderStatus.PENDING_CANCEL:
                    self._cancel_queue[cid] = o
                out[cid] = "open"
            else:
                self._on_order_event(d, now)
                out[cid] = st.lower()
        return out

    def status(self) -> dict[str, Any]:
        """Connections, books, order entry state and counters."""
        out = super().status()
        out.update(trading=self.trading, block_reason=self.block_reason,
                   rate_refused=self.rate_refused, reconciliations=self.reconciliations)
        return out
