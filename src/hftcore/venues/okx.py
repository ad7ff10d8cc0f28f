"""OKX v5: request signing and what ``record`` connects to.

Signing (OKX's v5 documentation): REST requests carry ``OK-ACCESS-KEY``,
``OK-ACCESS-PASSPHRASE``, ``OK-ACCESS-TIMESTAMP`` (ISO 8601 with milliseconds, UTC) and
``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 of ``timestamp + METHOD + requestPath + body``; the
private websocket logs in with the same signature over ``timestamp + "GET" +
"/users/self/verify"`` where ``timestamp`` is Unix seconds.

:class:`OkxVenue` streams public market data: ``books`` (snapshot, then updates chained by
``prevSeqId`` where OKX sends it, and checked by the engine against the ``checksum`` where it is
not 0) and ``trades``; a gap or a wrong checksum resyncs that instrument by subscribing it again.
Keep-alive: OKX's text ``ping`` after 25 s of silence.  With credentials it trades over the
private websocket (``login``, then ``order`` / ``cancel-order`` / ``amend-order`` by ``clOrdId``
and the ``orders`` channel for acks, fills and cancels); after each reconnect open orders are
reconciled over REST (``/api/v5/trade/order``, ``/api/v5/trade/fills``, ``OK-ACCESS-*`` headers)
before trading resumes.  OKX's ``clOrdId`` is alphanumeric: the client order id without its
``-``.
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
from datetime import UTC, datetime
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

log = logging.getLogger("hftcore.venues.okx")
PRIVATE_URL = "wss://ws.okx.com:8443/ws/v5/private"
REST_URL = "https://www.okx.com"
_ORDER_COST = {"ORDERS": 1}

__all__ = ["PRIVATE_URL", "PUBLIC_URL", "REST_URL", "OkxVenue", "cl_ord_id", "recording_plan",
           "sign", "sign_ws_login"]

PUBLIC_URL = "wss://ws.okx.com:8443/ws/v5/public"


def sign(secret: str, timestamp: str, method: str, request_path: str, body: str = "") -> str:
    """``OK-ACCESS-SIGN``: base64 HMAC-SHA256 of ``timestamp + METHOD + requestPath + body``
    (``request_path`` with its query string for a GET)."""
    for name, v in (("secret", secret), ("timestamp", timestamp), ("method", method),
                    ("request_path", request_path), ("body", body)):
        if not isinstance(v, str):
            raise TypeError(f"sign: {name} must be str")
    msg = f"{timestamp}{method.upper()}{request_path}{body}"
    return base64.b64encode(hmac.new(secret.encode(), msg.encode(), hashlib.sha256).digest()
                            ).decode()


def sign_ws_login(secret: str, timestamp_s: int | str) -> str:
    """The signature of the private websocket's ``login`` operation."""
    return sign(secret, str(timestamp_s), "GET", "/users/self/verify")


def cl_ord_id(client_order_id: str) -> str:
    """OKX's ``clOrdId`` of a client order id (alphanumeric: the ``-`` removed)."""
    return client_order_id.replace("-", "")


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """``books`` and ``trades`` of ``symbols`` (``--streams`` names the channels), with OKX's
    text ``ping`` (answered ``pong``)."""
    chans = tuple(streams or ("books", "trades"))
    args = [{"channel": c, "instId": s} for s in symbols for c in chans]
    return RecordingPlan("okx", (ws_url or PUBLIC_URL).rstrip("/"),
                         subscriptions=[orjson.dumps({"op": "subscribe", "args": args})],
                         ping_message=b"ping", pong_exact=b"pong")


#: our request kinds -> what LiveVenue.report_answer calls them
_REQUESTS = {"place": "new", "cancel": "cancel", "amend": "amend"}

class OkxVenue(LiveVenue):
    """OKX v5 public market data (``books``, ``trades``) - see the module docstring.

    Parameters
    ----------
    channel : str
        The book channel: ``books`` (400 levels), ``books5``, ``books50-l2-tbt`` ...
    trades : bool
        Subscribe to ``trades`` too.
    credentials : Credentials, optional
        ``api_key``, ``api_secret`` and ``passphrase`` for order entry.
    private_url : str, optional
        The private websocket endpoint.
    td_mode : str
        ``tdMode`` of orders (``cash`` for spot).
    """

    name = "okx"
    sync_rule = "okx"
    check_valid = True
    pong_text = b"pong"
    default_ws_url = PUBLIC_URL
    default_rest_url = REST_URL

    def __init__(self, *, channel: str = "books", trades: bool = True,
                 resync_timeout: float = 5.0, credentials: Credentials | None = None,
                 private_url: str | None = None, td_mode: str = "cash",
                 request_timeout: float = 10.0, **kwargs: Any) -> None:
        kwargs.setdefault("ping_interval", 25.0)
        if credentials is not None and (credentials.api_secret is None or
                                        credentials.passphrase is None):
            raise ValueError("okx: order entry needs an api_secret and a passphrase")
        super().__init__(credentials=credentials, **kwargs)
        self.channel = channel
        self.trades = trades
        self.resync_timeout = resync_timeout
        self.private_url = private_url or PRIVATE_URL
        self.td_mode = td_mode
        self.request_timeout = request_timeout
        self.private: Connection | None = None
        self.trading = False
        self.block_reason = "not connected"
        self.last_api_error = ""
        self._ids = itertools.count(1)
        self._reqs: dict[str, tuple[str, str, Any]] = {}
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._cids: dict[str, str] = {}           # clOrdId -> client order id
        self._cancel_queue: dict[str, Order] = {}
        self._order_cost = self.limiter.prepare(_ORDER_COST)
        self.rate_refused = 0
        self.reconciliations = 0

    def default_rate_limits(self) -> RateLimiter:
        # OKX: 480 subscribe/unsubscribe/login requests per hour per connection; orders 60 per
        # 2 s per instrument; REST order queries 60 per 2 s
        return RateLimiter([Bucket("SUBSCRIPTIONS", 480, 3600.0), Bucket("ORDERS", 60, 2.0),
                            Bucket("REST", 60, 2.0)])

    def md_url(self) -> str:
        return self.ws_url

    def _args(self, inst_ids: Sequence[str]) -> list[dict[str, str]]:
        out = [{"channel": self.channel, "instId": i} for i in inst_ids]
        if self.trades:
            out += [{"channel": "trades", "instId": i} for i in inst_ids]
        return out

    def md_subscriptions(self) -> list[bytes]:
        return [orjson.dumps({"op": "subscribe",
                              "args": self._args([i.symbol for i in self.instruments])})]

    def md_ping(self) -> dict[str, Any]:
        return {"ping_message": b"ping", "pong_exact": b"pong"}

    async def resync(self, index: int) -> None:
        """Unsubscribe and subscribe the instrument's book again until its snapshot is in."""
        assert self.engine is not None
        arg = {"channel": self.channel, "instId": self.engine.instruments[index].symbol}
        await self.resubscribe(index, [orjson.dumps({"op": "unsubscribe", "args": [arg]}),
                                      orjson.dumps({"op": "subscribe", "args": [arg]})],
                               self.resync_timeout, max_wait=60.0)

    # -- order entry ----------------------------------------------------------------------------
    async def connect(self, timeout: float = 10.0) -> None:
        """Market data, then (with credentials) the private websocket: logged on, ``orders``
        subscribed, open orders reconciled."""
        await super().connect(timeout)
        if not self.order_entry:
            return
        if self.private is None:
            self.private = Connection(self.private_url, self._on_private, name="okx private",
                                      on_open=self._private_open, on_close=self._private_close,
                                      ping_interval=25.0, ping_message=b"ping",
                                      pong_exact=b"pong", backoff=self._backoff(),
                                      ssl_context=self.ssl_context)
        self.private.start()
        if not await self.private.wait_ready(timeout):
            raise VenueError(f"okx: order entry not ready ({self.block_reason})")

    async def close(self) -> None:
        """Close every connection."""
        self.trading = False
        self.block_reason = "closed"
        if self.private is not None:
            await self.private.stop()
        await super().close()

    def _creds(self) -> tuple[str, str, str]:
        c = self.credentials
        assert c is not None and c.api_secret is not None and c.passphrase is not None
        return c.api_key.reveal(), c.api_secret.reveal(), c.passphrase.reveal()

    async def _expect(self, key: str, conn: Connection, msg: bytes) -> dict[str, Any]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        conn.send(msg)
        return await asyncio.wait_for(fut, self.request_timeout)

    async def _private_open(self, conn: Connection) -> None:
        self.trading = False
        self.block_reason = "logging in" + (
            f" (last error: {self.last_api_error})" if self.last_api_error else "")
        key, secret, passphrase = self._creds()
        ts = str(int(time.time()))
        try:
            resp = await self._expect("login", conn, orjson.dumps({"op": "login", "args": [{
                "apiKey": key, "passphrase": passphrase, "timestamp": ts,
                "sign": sign_ws_login(secret, ts)}]}))
            if resp.get("code") != "0":
                raise VenueError(f"okx: login refused: {resp.get('code')} {resp.get('msg')}")
            resp = await self._expect("subscribe", conn, orjson.dumps({
                "op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]}))
            if resp.get("event") != "subscribe":
                raise VenueError(f"okx: orders subscription refused: {resp.get('msg')}")
            self.block_reason = "reconciling open orders"
            await self.reconcile()
        except (VenueError, TimeoutError, RestError, RateLimitExceeded) as exc:
            self._entry_failed(exc)
            raise
        self._entry_ready()

    def _private_close(self, conn: Connection) -> None:
        self._reqs.clear()
        self._entry_lost(self._waiters)

    def _send_op(self, kind: str, cid: str, extra: Any, op: str, args: dict[str, Any]) -> bool:
        rid = str(next(self._ids))
        self._reqs[rid] = (kind, cid, extra)
        if self.private is None or not self.private.send(
                orjson.dumps({"id": rid, "op": op, "args": [args]})):
            self._reqs.pop(rid, None)
            return False
        return True

    def submit(self, order: Order, flags: int) -> None:
        """Send ``order`` (never blocks; a refusal comes back as a reject)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().submit(order, flags)
        if self._refuse_new(cid, self._order_cost):
            return
        inst = order.instrument
        co = cl_ord_id(cid)
        self._cids[co] = cid
        args: dict[str, Any] = {"instId": inst.symbol, "tdMode": self.td_mode,
                                "side": "buy" if order.side == Side.BUY else "sell",
                                "sz": inst.format_qty(order.size), "clOrdId": co}
        if flags & SO_MARKET or order.order_type == OrderType.MARKET:
            args["ordType"] = "market"
        else:
            args["ordType"] = ("post_only" if flags & SO_POST_ONLY or
                               order.order_type == OrderType.LIMIT_MAKER else
                               "ioc" if flags & SO_IOC else "fok" if flags & SO_FOK else "limit")
            args["px"] = inst.format_price(order.price)
        if not self._send_op("place", cid, None, "order", args):
            self.report_later(cid, "reject", reason="okx: not sent: connection down")

    def cancel(self, order: Order) -> None:
        """Send ``cancel-order`` (queued while order entry reconnects)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().cancel(order)
        if not self.trading or not self._send_op(
                "cancel", cid, None, "cancel-order",
                {"instId": order.instrument.symbol, "clOrdId": cl_ord_id(cid)}):
            self._cancel_queue[cid] = order

    def amend(self, order: Order, price: int, size: int) -> None:
        """Send ``amend-order`` (new price and total size; the order keeps its id)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().amend(order, price, size)
        why = None if self.trading else f"order entry not ready: {self.block_reason}"
        if why is None:
            why = self.limiter.try_take(self._order_cost)
        inst = order.instrument
        if why is not None or not self._send_op(
                "amend", cid, (price, size), "amend-order",
                {"instId": inst.symbol, "clOrdId": cl_ord_id(cid),
                 "newPx": inst.format_price(price), "newSz": inst.format_qty(size)}):
            self.report_later(cid, "replace_reject", reason=f"okx: not sent: {why}")

    def _order(self, cid: str) -> Order | None:
        assert self.engine is not None
        return self.engine.om.get(cid)

    def _on_private(self, data: bytes, ts: int) -> None:
        if data == b"pong":
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        ev = obj.get("event")
        if ev in ("login", "subscribe", "error"):
            key = "subscribe" if ev == "subscribe" else "login"
            if ev == "error":
                key = "login" if "login" in self._waiters else "subscribe"
            fut = self._waiters.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(obj)
            return
        if "arg" in obj and obj["arg"].get("channel") == "orders":
            for d in obj.get("data") or ():
                try:
                    self._on_order_push(d, ts)
                except (KeyError, ValueError, TypeError) as exc:
                    log.error("okx: bad orders push: %s", exc)
            return
        req = self._reqs.pop(str(obj.get("id")), None)
        if req is not None:
            self._on_answer(req, obj, ts)

    def _on_answer(self, req: tuple[str, str, Any], obj: dict[str, Any], ts: int) -> None:
        kind, cid, extra = req
        o = self._order(cid)
        if o is None:
            return
        d = (obj.get("data") or [{}])[0]
        ok = obj.get("code") == "0" and d.get("sCode", "0") == "0"
        text = redact(f"okx {d.get('sCode') or obj.get('code')}: {d.get('sMsg') or obj.get('msg')}")
        self.report_answer(o, _REQUESTS[kind], ok, ts, text, str(d.get("ordId", "")),
                           extra if kind == "amend" else None)

    def _on_order_push(self, d: dict[str, Any], ts: int) -> None:
        cid = self._cids.get(d.get("clOrdId", ""), "")
        o = self._order(cid) if cid else None
        if o is None:
            return
        inst = o.instrument
        if d.get("tradeId") and d.get("fillSz") and inst.qty(d["fillSz"]) > 0:
            self.report(cid, "fill", ts=ts, qty=inst.qty(d["fillSz"]),
                        price=inst.price(d["fillPx"]), liquidity=0 if d.get("execType") == "M"
                        else 1, trade_id=str(d["tradeId"]), venue_order_id=str(d.get("ordId")))
        state = d.get("state")
        if state == "live" and not o.acked and o.is_open:
            self.report(cid, "ack", ts=ts, venue_order_id=str(d.get("ordId", "")))
        elif state in ("canceled", "mmp_canceled") and o.is_open:
            self.report(cid, "canceled", ts=ts)

    # -- reconciliation over REST ---------------------------------------------------------------
    async def _rest_get(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.rest is not None
        key, secret, passphrase = self._creds()
        query = urllib.parse.urlencode(params)
        ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        headers = {"OK-ACCESS-KEY": key, "OK-ACCESS-PASSPHRASE": passphrase,
                   "OK-ACCESS-TIMESTAMP": ts,
                   "OK-ACCESS-SIGN": sign(secret, ts, "GET", f"{path}?{query}")}
        obj = orjson.loads(await self.rest.request("GET", path, query=query, headers=headers,
                                                   cost={"REST": 1}, max_wait=10.0))
        if obj.get("code") == "51603":               # "Order does not exist"
            return []
        if obj.get("code") != "0":
            raise VenueError(redact(f"okx {path}: {obj.get('code')} {obj.get('msg')}"))
        rows: list[dict[str, Any]] = obj.get("data", [])
        return rows

    async def reconcile(self, orders: Sequence[Order] | None = None) -> dict[str, str]:
        """Settle ``orders`` (default: all open orders here) against ``/api/v5/trade/order``
        and ``/api/v5/trade/fills``."""
        targets = [o for o in (self.open_orders() if orders is None else orders) if o.is_open]
        out: dict[str, str] = {}
        if targets:
            self.reconciliations += 1
        for o in targets:
            cid = o.client_order_id
            co = cl_ord_id(cid)
            self._cids[co] = cid
            inst = o.instrument
            now = time.time_ns()
            rows = await self._rest_get("/api/v5/trade/order", {"instId": inst.symbol,
                                                                "clOrdId": co})
            if not rows:
                kind, why = (("canceled", "") if o.acked else
                             ("reject", "okx: not found at the venue"))
                self.report(cid, kind, ts=now, **({"reason": why} if why else {}))
                out[cid] = kind
                continue
            d = rows[0]
            if inst.qty(d.get("accFillSz") or "0") > o.filled:
                for f in await self._rest_get("/api/v5/trade/fills", {"instId": inst.symbol,
                                                                      "ordId": d["ordId"]}):
                    self.report(cid, "fill", ts=now, qty=inst.qty(f["fillSz"]),
                                price=inst.price(f["fillPx"]),
                                liquidity=0 if f.get("execType") == "M" else 1,
                                trade_id=str(f["tradeId"]), venue_order_id=str(d["ordId"]))
            state = d.get("state")
            if not o.is_open:
                out[cid] = o.status.name.lower()
            elif state in ("live", "partially_filled"):
                if not o.acked:
                    self.report(cid, "ack", ts=now, venue_order_id=str(d.get("ordId", "")))
                if o.status in (OrderStatus.UNKNOWN, OrderStatus.PENDING_REPLACE) and o.acked:
                    self.report(cid, "replaced", ts=now, price=inst.price(d["px"]),
                                qty=inst.qty(d["sz"]))
                if o.status == OrderStatus.PENDING_CANCEL:
                    self._cancel_queue[cid] = o
                out[cid] = "open"
            else:
                self._on_order_push({**d, "tradeId": ""}, now)
                out[cid] = str(state)
        return out

    def status(self) -> dict[str, Any]:
        """Connections, books, order entry state and counters."""
        out = super().status()
        out.update(trading=self.trading, block_reason=self.block_reason,
                   rate_refused=self.rate_refused, reconciliations=self.reconciliations)
        return out
