"""Kraken spot: market data over websocket v1 with checksums, order entry over the
authenticated websocket v2, and request signing.

REST private endpoints carry ``API-Key`` and ``API-Sign`` headers; ``API-Sign`` is the base64
HMAC-SHA512 of ``path + SHA256(nonce + body)`` keyed with the base64-decoded secret, as Kraken
documents (:func:`sign`).

Order entry (Kraken's spot websocket v2): a token from the REST endpoint
``/0/private/GetWebSocketsToken`` (signed with :func:`sign`) authenticates the requests on
``wss://ws-auth.kraken.com/v2``: ``add_order``, ``cancel_order`` and ``amend_order`` keyed by
``cl_ord_id`` (:func:`cl_ord_id`: a 32-hex short UUID derived from the client order id), and
the ``executions`` channel that reports acks (``new``), fills (``trade``), cancels, expiries
and amends (a gap in its ``sequence`` reconnects, and so reconciles).  Prices and quantities go
out as exact decimal JSON numbers written from the fixed-point values and come back parsed as
``Decimal`` (never through a float).  After each (re)connect the open orders are reconciled
over REST (``OpenOrders``, ``ClosedOrders``, ``QueryTrades``) before trading resumes.  Rate
limits: the per-pair trading counter (add +1, amend +1 and +3/+2/+1 for an order younger than
5/10/15 s, cancel +8/+6/+5/+4/+2/+1 under 5/10/15/45/90/300 s; 60 per minute at the Starter
tier's decay of 1 a second) and the REST counter (15, decaying 0.33 a second; history calls
weigh 2).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import logging
import time
import urllib.parse
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from hftcore._ext.sim import SO_FOK, SO_IOC, SO_MARKET, SO_POST_ONLY
from hftcore.model import Order, OrderStatus, OrderType, Side
from hftcore.venues.common import LiveVenue, RecordingPlan, VenueError
from hftcore.venues.keys import Credentials, Secret, redact
from hftcore.venues.ratelimit import Bucket, RateLimiter, RateLimitExceeded
from hftcore.venues.rest import RestError
from hftcore.venues.ws import Connection

if TYPE_CHECKING:
    from hftcore.engine import Engine

__all__ = ["AUTH_WS_URL", "REST_URL", "WS_URL", "KrakenVenue", "cl_ord_id", "recording_plan",
           "sign", "subscribe_message", "ws2_symbol"]

log = logging.getLogger("hftcore.venues.kraken")

WS_URL = "wss://ws.kraken.com"
AUTH_WS_URL = "wss://ws-auth.kraken.com/v2"
REST_URL = "https://api.kraken.com"

# Kraken's trading counter: what an amend / a cancel adds for an order younger than N seconds
_AMEND_PENALTY = ((5.0, 3), (10.0, 2), (15.0, 1))
_CANCEL_PENALTY = ((5.0, 8), (10.0, 6), (15.0, 5), (45.0, 4), (90.0, 2), (300.0, 1))
_V2_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}


def sign(secret: str, path: str, nonce: str, body: str) -> str:
    """Kraken ``API-Sign``: base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce +
    body))).  ``path`` is the URI path (``/0/private/AddOrder``), ``body`` the URL-encoded POST
    data that contains the same ``nonce``."""
    for name, v in (("secret", secret), ("path", path), ("nonce", nonce), ("body", body)):
        if not isinstance(v, str):
            raise TypeError(f"sign: {name} must be str")
    try:
        key = base64.b64decode(secret, validate=True)
    except binascii.Error:
        raise ValueError("sign: the secret is not base64 (as Kraken issues it)") from None
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(key, path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def ws2_symbol(pair: str) -> str:
    """The websocket v2 symbol of a v1 pair: ``XBT/USD`` -> ``BTC/USD``, ``XDG`` -> ``DOGE``."""
    if not isinstance(pair, str):
        raise TypeError("ws2_symbol: pair must be str")
    base, sep, quote = pair.partition("/")
    return f"{_V2_ASSETS.get(base, base)}{sep}{_V2_ASSETS.get(quote, quote)}"


def cl_ord_id(client_order_id: str) -> str:
    """Kraken's ``cl_ord_id`` of a client order id: the short-UUID form (32 hex digits) of its
    SHA-256, the same for the same id in every session (reconciliation finds it again)."""
    if not isinstance(client_order_id, str):
        raise TypeError("cl_ord_id: client_order_id must be str")
    return hashlib.sha256(client_order_id.encode()).hexdigest()[:32]


def _penalty(table: tuple[tuple[float, int], ...], age: float) -> int:
    for limit, w in table:
        if age < limit:
            return w
    return 0


def _loads(data: bytes) -> Any:
    """JSON with every non-integer number as an exact ``Decimal`` (Kraken v2 sends floats)."""
    return json.loads(data, parse_float=Decimal)


def subscribe_message(pairs: Sequence[str], depth: int, event: str = "subscribe") -> bytes:
    """The websocket v1 ``book`` (un)subscription of ``pairs`` at ``depth``."""
    return orjson.dumps({"event": event, "pair": list(pairs),
                         "subscription": {"name": "book", "depth": depth}})


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """What ``python -m hftcore record --venue kraken`` connects to: ``book`` (depth from
    ``--streams book-N``, default 1000) and ``trade`` of ``symbols`` (``XBT/USD`` ...)."""
    depth = 1000
    for s in streams or ():
        if s.startswith("book-"):
            depth = int(s[5:])
    subs = [subscribe_message(symbols, depth),
            orjson.dumps({"event": "subscribe", "pair": list(symbols),
                          "subscription": {"name": "trade"}})]
    return RecordingPlan("kraken", (ws_url or WS_URL).rstrip("/"), subscriptions=subs)


#: our request kinds -> what LiveVenue.report_answer calls them
_REQUESTS = {"add": "new", "cancel": "cancel", "amend": "amend"}

class KrakenVenue(LiveVenue):
    """Kraken spot: market data over websocket v1 (``book`` with checksums, ``trade``) and,
    with credentials, order entry over the authenticated websocket v2.

    Books are checked with Kraken's CRC32 after every update (by the engine, against its book);
    a wrong checksum resyncs that pair only, by unsubscribing and subscribing it again (Kraken
    answers with a fresh snapshot).  The engine's book of each pair must keep exactly ``depth``
    levels per side - ``Engine(..., book_depth={index: depth})`` - or checksums cannot match.
    Order entry: see the module docstring (instrument symbols are the v1 pairs, ``XBT/USD``;
    orders name the v2 symbol, :func:`ws2_symbol`).  Kraken spot has no fill-or-kill: such
    orders are rejected before they are sent.

    Parameters
    ----------
    depth : int
        Book subscription depth (10, 25, 100, 500 or 1000).
    trades : bool
        Subscribe to ``trade`` too.
    resync_timeout : float
        Seconds to wait for the new snapshot before subscribing again.
    credentials : Credentials, optional
        ``api_key`` and ``api_secret`` (base64, as Kraken issues it) for order entry.
    auth_url : str, optional
        The authenticated websocket v2 endpoint.
    request_timeout : float
        Seconds to wait for an answer of the private websocket (subscription).
    """

    name = "kraken"
    sync_rule = "kraken"
    check_valid = True
    default_ws_url = WS_URL
    default_rest_url = REST_URL

    def __init__(self, *, depth: int = 10, trades: bool = True, resync_timeout: float = 5.0,
                 credentials: Credentials | None = None, auth_url: str | None = None,
                 request_timeout: float = 10.0, **kwargs: Any) -> None:
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise TypeError(f"depth must be an int, got {type(depth).__name__}")
        if depth not in (10, 25, 100, 500, 1000):
            raise ValueError(f"depth must be 10, 25, 100, 500 or 1000, got {depth!r}")
        if auth_url is not None and not isinstance(auth_url, str):
            raise TypeError(f"auth_url must be str, got {type(auth_url).__name__}")
        if isinstance(request_timeout, bool) or not isinstance(request_timeout, int | float):
            raise TypeError("request_timeout must be a number of seconds")
        if isinstance(credentials, Credentials) and credentials.api_secret is None:
            raise ValueError("kraken: order entry needs an api_secret (base64, as issued)")
        super().__init__(credentials=credentials, **kwargs)
        self.depth = depth
        self.trades = trades
        self.resync_timeout = resync_timeout
        self.subscription_errors: list[str] = []
        self.auth_url = (auth_url or AUTH_WS_URL).rstrip("/")
        self.request_timeout = float(request_timeout)
        self.private: Connection | None = None
        self.trading = False
        self.block_reason = "not connected"
        self.last_api_error = ""
        self.api_errors: list[str] = []
        self._token: Secret | None = None
        self._ids = itertools.count(1)
        self._nonce = 0
        self._reqs: dict[int, tuple[str, str, Any]] = {}
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._cids: dict[str, str] = {}            # cl_ord_id -> client order id
        self._born: dict[str, float] = {}          # client order id -> placed (limiter clock)
        self._cancel_queue: dict[str, Order] = {}
        self._order_cost = self.limiter.prepare({"ORDERS": 1})
        self.rate_refused = 0
        self.reconciliations = 0
        self.sequence_gaps = 0
        self._seq: int | None = None

    def default_rate_limits(self) -> RateLimiter:
        # websocket (un)subscriptions: stay well below a few per second; trading counter
        # (Starter tier): 60, decaying 1 a second; REST counter: 15, decaying 0.33 a second
        return RateLimiter([Bucket("SUBSCRIPTIONS", 20, 10.0), Bucket("ORDERS", 60, 60.0),
                            Bucket("REST", 15, 45.0)])

    def attach(self, engine: Engine) -> None:
        """Check that the engine keeps ``depth`` levels per Kraken book (checksums need it)."""
        super().attach(engine)
        for i in self.indices:
            if engine.books[i].max_depth != self.depth:
                raise ValueError(
                    f"kraken: {engine.instruments[i].symbol}: the engine's book keeps "
                    f"{engine.books[i].max_depth or 'all'} levels, Kraken's checksum covers a "
                    f"book of depth {self.depth}: create the engine with "
                    f"book_depth={{{i}: {self.depth}}}")

    def md_url(self) -> str:
        return self.ws_url

    def md_subscriptions(self) -> list[bytes]:
        pairs = [inst.symbol for inst in self.instruments]
        subs = [subscribe_message(pairs, self.depth)]
        if self.trades:
            subs.append(orjson.dumps({"event": "subscribe", "pair": pairs,
                                      "subscription": {"name": "trade"}}))
        return subs

    def md_ping(self) -> dict[str, Any]:
        return {}   # Kraken sends heartbeats; picows pings an idle connection

    def on_md_control(self, kind: int, data: bytes, ts: int) -> None:
        if b'"status":"error"' in data and len(self.subscription_errors) < 100:
            self.subscription_errors.append(data[:300].decode("utf-8", "replace"))

    async def resync(self, index: int) -> None:
        """Unsubscribe and subscribe the pair again until its new snapshot is in."""
        assert self.engine is not None
        pair = self.engine.instruments[index].symbol
        await self.resubscribe(index, [subscribe_message([pair], self.depth, "unsubscribe"),
                                      subscribe_message([pair], self.depth)],
                               self.resync_timeout, max_wait=30.0)

    # -- order entry ----------------------------------------------------------------------------
    async def connect(self, timeout: float = 10.0) -> None:
        """Market data, then (with credentials) the authenticated websocket: a token, the
        ``executions`` channel, open orders reconciled."""
        await super().connect(timeout)
        if not self.order_entry:
            return
        if self.private is None:
            self.private = Connection(self.auth_url, self._on_private, name="kraken private",
                                      on_open=self._private_open, on_close=self._private_close,
                                      ping_interval=self.ping_interval,
                                      ping_timeout=self.ping_timeout,
                                      ping_message=b'{"method":"ping"}',
                                      pong_contains=b'"method":"pong"', backoff=self._backoff(),
                                      ssl_context=self.ssl_context)
        self.private.start()
        if not await self.private.wait_ready(timeout):
            raise VenueError(f"kraken: order entry not ready ({self.block_reason})")

    async def close(self) -> None:
        """Close every connection."""
        self.trading = False
        self.block_reason = "closed"
        if self.private is not None:
            await self.private.stop()
        await super().close()

    def _creds(self) -> tuple[str, str]:
        c = self.credentials
        assert c is not None and c.api_secret is not None
        return c.api_key.reveal(), c.api_secret.reveal()

    def _next_nonce(self) -> str:
        self._nonce = max(self._nonce + 1, time.time_ns() // 1000)
        return str(self._nonce)

    async def private_rest(self, method: str, params: dict[str, str] | None = None,
                           weight: int = 1) -> Any:
        """POST a signed request to ``/0/private/<method>``; its ``result`` (a Kraken error
        raises :class:`VenueError`)."""
        if not isinstance(method, str):
            raise TypeError("method must be str")
        if params is not None and not (isinstance(params, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in params.items())):
            raise TypeError("params must be a dict of str to str")
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise TypeError("weight must be int")
        if self.rest is None or self.credentials is None:
            raise VenueError("kraken: no REST endpoint or no credentials")
        key, secret = self._creds()
        nonce = self._next_nonce()
        body = urllib.parse.urlencode({"nonce": nonce, **(params or {})})
        path = f"/0/private/{method}"
        headers = {"API-Key": key, "API-Sign": sign(secret, path, nonce, body),
                   "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        obj = orjson.loads(await self.rest.request("POST", path, body=body, headers=headers,
                                                   cost={"REST": weight}, max_wait=30.0))
        errors = obj.get("error") or []
        if errors:
            raise VenueError(redact(f"kraken {method}: {', '.join(map(str, errors))}"))
        return obj.get("result") or {}

    async def _expect(self, conn: Connection, method: str, params: dict[str, Any]
                      ) -> dict[str, Any]:
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[rid] = fut
        conn.send(orjson.dumps({"method": method, "params": params, "req_id": rid}))
        return await asyncio.wait_for(fut, self.request_timeout)

    async def _private_open(self, conn: Connection) -> None:
        self.trading = False
        self._seq = None
        self.block_reason = "authenticating" + (
            f" (last error: {self.last_api_error})" if self.last_api_error else "")
        try:
            res = await self.private_rest("GetWebSocketsToken")
            if not isinstance(res, dict) or not res.get("token"):
                raise VenueError("kraken: GetWebSocketsToken returned no token")
            self._token = Secret(str(res["token"]))
            resp = await self._expect(conn, "subscribe", {
                "channel": "executions", "token": self._token.reveal(), "snap_orders": True,
                "snap_trades": False})
            if not resp.get("success"):
                raise VenueError(redact(f"kraken: executions subscription refused: "
                                        f"{resp.get('error')}"))
            self.block_reason = "reconciling open orders"
            await self.reconcile()
        except (VenueError, TimeoutError, RestError, RateLimitExceeded) as exc:
            self._entry_failed(exc)
            raise
        self._entry_ready()

    def _private_close(self, conn: Connection) -> None:
        self._reqs.clear()
        self._entry_lost(self._waiters)

    def _send(self, kind: str, cid: str, extra: Any, method: str,
              params: dict[str, Any]) -> bool:
        tok, conn = self._token, self.private
        if tok is None or conn is None:
            return False
        rid = next(self._ids)
        self._reqs[rid] = (kind, cid, extra)
        params["token"] = tok.reveal()
        if not conn.send(orjson.dumps({"method": method, "params": params, "req_id": rid})):
            self._reqs.pop(rid, None)
            return False
        return True

    def submit(self, order: Order, flags: int) -> None:
        """Send ``add_order`` (never blocks; a refusal comes back as a reject)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().submit(order, flags)
        if not self.trading:
            self.report_later(cid, "reject", reason=f"kraken: order entry not ready: "
                                                    f"{self.block_reason}")
            return
        market = bool(flags & SO_MARKET) or order.order_type == OrderType.MARKET
        if flags & SO_FOK and not market:
            self.report_later(cid, "reject",
                              reason="kraken: fill-or-kill is not a Kraken spot time in force")
            return
        why = self.limiter.try_take(self._order_cost)
        if why is not None:
            self.rate_refused += 1
            self.report_later(cid, "reject", reason=f"kraken: not sent: {why}")
            return
        inst = order.instrument
        co = cl_ord_id(cid)
        self._cids[co] = cid
        self._born[cid] = self.limiter.clock()
        params: dict[str, Any] = {"order_type": "market" if market else "limit",
                                  "side": "buy" if order.side == Side.BUY else "sell",
                                  "order_qty": orjson.Fragment(inst.format_qty(order.size, True)),
                                  "symbol": ws2_symbol(inst.symbol), "cl_ord_id": co}
        if not market:
            params["limit_price"] = orjson.Fragment(inst.format_price(order.price, True))
            if flags & SO_POST_ONLY or order.order_type == OrderType.LIMIT_MAKER:
                params["post_only"] = True
            elif flags & SO_IOC:
                params["time_in_force"] = "ioc"
        if not self._send("add", cid, None, "add_order", params):
            self.report_later(cid, "reject", reason="kraken: not sent: connection down")

    def _age(self, cid: str) -> float:
        return self.limiter.clock() - self._born.get(cid, 0.0)

    def cancel(self, order: Order) -> None:
        """Send ``cancel_order`` (queued while order entry reconnects; waits for the trading
        counter, whose cancel penalty depends on the order's age)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().cancel(order)
        if not self.trading:
            self._cancel_queue[cid] = order
            return
        cost = {"ORDERS": _penalty(_CANCEL_PENALTY, self._age(cid))}
        if self.limiter.try_acquire(cost) is not None:
            self.spawn(self._cancel_later(order, cost), f"kraken cancel {cid}")
            return
        self._send_cancel(order)

    def _send_cancel(self, order: Order) -> None:
        cid = order.client_order_id
        if not self._send("cancel", cid, None, "cancel_order", {"cl_ord_id": [cl_ord_id(cid)]}):
            self._cancel_queue[cid] = order

    async def _cancel_later(self, order: Order, cost: dict[str, int],
                            max_wait: float = 30.0) -> None:
        deadline = time.monotonic() + max_wait
        while True:
            why = self.limiter.try_acquire(cost)
            if why is None:
                break
            wait = self.limiter.wait_time(cost)
            if not order.is_open:
                return
            if wait > max_wait or time.monotonic() > deadline:
                self.rate_refused += 1
                self.report(order.client_order_id, "cancel_reject",
                            reason=f"kraken: not sent: {why}")
                return
            await asyncio.sleep(min(wait, 0.05))
        if order.is_open:
            if self.trading:
                self._send_cancel(order)
            else:
                self._cancel_queue[order.client_order_id] = order

    def amend(self, order: Order, price: int, size: int) -> None:
        """Send ``amend_order`` (new limit price and total quantity; the order keeps its ids and,
        where Kraken can, its queue priority)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().amend(order, price, size)
        why = None if self.trading else f"order entry not ready: {self.block_reason}"
        if why is None:
            why = self.limiter.try_acquire(
                {"ORDERS": 1 + _penalty(_AMEND_PENALTY, self._age(cid))})
            if why is not None:
                self.rate_refused += 1
        inst = order.instrument
        if why is None:
            self._born[cid] = self.limiter.clock()
            params = {"cl_ord_id": cl_ord_id(cid),
                      "order_qty": orjson.Fragment(inst.format_qty(size, True)),
                      "limit_price": orjson.Fragment(inst.format_price(price, True))}
            if self._send("amend", cid, (price, size), "amend_order", params):
                return
            why = "connection down"
        self.report_later(cid, "replace_reject", reason=f"kraken: not sent: {why}")

    def _order(self, cid: str) -> Order | None:
        assert self.engine is not None
        return self.engine.om.get(cid)

    def _on_private(self, data: bytes, ts: int) -> None:
        try:
            obj = _loads(data)
        except ValueError:
            return
        if not isinstance(obj, dict):
            return
        channel = obj.get("channel")
        if channel == "executions":
            seq = obj.get("sequence")
            if isinstance(seq, int) and not isinstance(seq, bool):
                last = self._seq
                if last is not None and seq != last + 1 and self.private is not None:
                    self.sequence_gaps += 1        # a lost report: reconnect and reconcile
                    self._seq = None
                    self.private.drop(f"executions sequence gap ({seq} after {last})")
                    return
                self._seq = seq
            for d in obj.get("data") or ():
                try:
                    self._on_execution(d, ts)
                except (KeyError, ValueError, TypeError) as exc:
                    log.error("kraken: bad executions event: %s", redact(str(exc)))
            return
        if channel is not None:        # heartbeat, status
            return
        rid = obj.get("req_id")
        if not isinstance(rid, int):
            return
        fut = self._waiters.pop(rid, None)
        if fut is not None:
            if not fut.done():
                fut.set_result(obj)
            return
        req = self._reqs.pop(rid, None)
        if req is not None:
            self._on_answer(req, obj, ts)

    def _on_answer(self, req: tuple[str, str, Any], obj: dict[str, Any], ts: int) -> None:
        kind, cid, extra = req
        o = self._order(cid)
        if o is None:
            return
        ok = obj.get("success") is True
        text = redact(f"kraken: {obj.get('error') or 'refused'}")
        if not ok and len(self.api_errors) < 200:
            self.api_errors.append(text)
        vid = str((obj.get("result") or {}).get("order_id", "")) if kind == "add" else ""
        self.report_answer(o, _REQUESTS[kind], ok, ts, text, vid,
                           extra if kind == "amend" else None)

    def _on_execution(self, d: dict[str, Any], ts: int) -> None:
        cid = self._cids.get(str(d.get("cl_ord_id", "")), "")
        o = self._order(cid) if cid else None
        if o is None:
            return
        inst = o.instrument
        et = d.get("exec_type")
        vid = str(d.get("order_id", ""))
        if et == "trade":
            self.report(cid, "fill", ts=ts, qty=inst.qty(d["last_qty"]),
                        price=inst.price(d["last_price"]),
                        liquidity=0 if d.get("liquidity_ind") == "m" else 1,
                        trade_id=str(d["exec_id"]), venue_order_id=vid)
        elif et in ("pending_new", "new"):
            if not o.acked and o.is_open:
                self.report(cid, "ack", ts=ts, venue_order_id=vid)
        elif et == "canceled":
            if o.is_open:
                self.report(cid, "canceled", ts=ts)
        elif et == "expired":
            if o.is_open:
                self.report(cid, "expired", ts=ts)
        elif et in ("amended", "restated") and o.status == OrderStatus.PENDING_REPLACE:
            self.report(cid, "replaced", ts=ts, price=inst.price(d["limit_price"]),
                        qty=inst.qty(d["order_qty"]))

    # -- reconciliation over REST ---------------------------------------------------------------
    async def reconcile(self, orders: Sequence[Order] | None = None) -> dict[str, str]:
        """Settle ``orders`` (default: all open orders here) against ``OpenOrders``,
        ``ClosedOrders`` and ``QueryTrades``."""
        if orders is not None and not all(isinstance(o, Order) for o in orders):
            raise TypeError("orders must be a sequence of Order")
        targets = [o for o in (self.open_orders() if orders is None else orders) if o.is_open]
        out: dict[str, str] = {}
        if not targets:
            return out
        self.reconciliations += 1
        res = await self.private_rest("OpenOrders", {"trades": "true"})
        rows = {str(v.get("cl_ord_id")): (str(txid), v)
                for txid, v in (res.get("open") or {}).items()}
        for o in targets:
            self._cids[cl_ord_id(o.client_order_id)] = o.client_order_id
        missing = [o for o in targets if cl_ord_id(o.client_order_id) not in rows]
        if missing:        # the 50 latest closed orders, then any older one by its cl_ord_id
            res = await self.private_rest("ClosedOrders", {"trades": "true"}, 2)
            rows.update((str(v.get("cl_ord_id")), (str(txid), v))
                        for txid, v in (res.get("closed") or {}).items())
            for o in missing:
                co = cl_ord_id(o.client_order_id)
                if co in rows:
                    continue
                res = await self.private_rest("ClosedOrders", {"trades": "true",
                                                               "cl_ord_id": co}, 2)
                rows.update((str(v.get("cl_ord_id")), (str(txid), v))
                            for txid, v in (res.get("closed") or {}).items())
        want: list[str] = []                   # trades of orders with fills not booked
        for o in targets:
            row = rows.get(cl_ord_id(o.client_order_id))
            if row is not None and o.instrument.qty(row[1].get("vol_exec") or "0") > o.filled:
                want.extend(str(t) for t in row[1].get("trades") or ())
        trades: dict[str, Any] = {}
        for k in range(0, len(want), 20):      # QueryTrades takes up to 20 ids
            trades.update(await self.private_rest("QueryTrades",
                                                  {"txid": ",".join(want[k:k + 20])}, 2))
        for o in targets:
            cid = o.client_order_id
            inst = o.instrument
            now = time.time_ns()
            row = rows.get(cl_ord_id(cid))
            if row is None:
                kind, why = (("canceled", "") if o.acked else
                             ("reject", "kraken: not found at the venue"))
                self.report(cid, kind, ts=now, **({"reason": why} if why else {}))
                out[cid] = kind
                continue
            txid, d = row
            mine = [(str(t), trades[str(t)]) for t in d.get("trades") or () if str(t) in trades]
            for tid, t in sorted(mine, key=lambda kv: str(kv[1].get("time"))):
                self.report(cid, "fill", ts=now, qty=inst.qty(t["vol"]),
                            price=inst.price(t["price"]),
                            liquidity=0 if t.get("maker") else 1, trade_id=tid,
                            venue_order_id=txid)
            status = d.get("status")
            if not o.is_open:
                out[cid] = o.status.name.lower()
            elif status in ("pending", "open"):
                if not o.acked:
                    self.report(cid, "ack", ts=now, venue_order_id=txid)
                if o.status in (OrderStatus.UNKNOWN, OrderStatus.PENDING_REPLACE) and o.acked:
                    descr = d.get("descr") or {}
                    self.report(cid, "replaced", ts=now, price=inst.price(descr["price"]),
                                qty=inst.qty(d["vol"]))
                if o.status == OrderStatus.PENDING_CANCEL:
                    self._cancel_queue[cid] = o
                out[cid] = "open"
            else:
                if status in ("canceled", "expired") and o.is_open:
                    self.report(cid, "canceled" if status == "canceled" else "expired", ts=now)
                out[cid] = str(status)
        return out

    def status(self) -> dict[str, Any]:
        """Connections, books, order entry state and counters."""
        out = super().status()
        out.update(trading=self.trading, block_reason=self.block_reason,
                   rate_refused=self.rate_refused, reconciliations=self.reconciliations,
                   sequence_gaps=self.sequence_gaps)
        if self.private is not None:
            out["order_entry"] = self.private.status()
        return out
