"""Binance spot: market data, order entry over the WebSocket API, private updates, signing.

Market data
    One combined stream (``/stream?streams=btcusdt@depth@100ms/btcusdt@trade/...``) decoded
    in place by the compiled listener.  Books follow Binance's documented procedure: diffs are
    buffered, a REST snapshot (``GET /api/v3/depth``) is fetched, diffs with ``u <=
    lastUpdateId`` are dropped, the first applied one has ``U <= lastUpdateId+1 <= u``, and
    every next one ``U == previous u + 1``.  A gap invalidates that symbol only; it resyncs with
    a new snapshot bridged to the diffs buffered meanwhile.  The server's pings are answered.

Order entry
    The WebSocket API (``wss://ws-api.binance.com/ws-api/v3``): ``order.place``,
    ``order.cancel``, ``order.cancelReplace``; private updates through
    ``userDataStream.subscribe`` on the same connection (the REST listenKey stream is retired).
    With an Ed25519 key the connection logs on once (``session.logon``) and requests carry no
    signature; with an HMAC key every request is signed (and the user stream is opened with
    ``userDataStream.subscribe.signature``).  While the connection is down new orders are
    refused with the reason and cancels go out over REST; after it is back, every open order is
    reconciled (``openOrders.status``, ``order.status``, ``myTrades``) before trading resumes.

Signing (as documented): the payload is the request's parameters except ``signature``,
sorted by name, as ``name=value`` joined by ``&`` (WebSocket API), or the query string as sent
(REST); HMAC-SHA256 as hex (:func:`sign`), Ed25519 as base64 (:func:`sign_ed25519`).
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
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from hftcore._ext.sim import SO_FOK, SO_IOC, SO_MARKET, SO_POST_ONLY
from hftcore.fixed import parse as parse_fixed
from hftcore.model import Instrument, Order, OrderStatus, OrderType, Side
from hftcore.portfolio import value_decimals
from hftcore.venues.common import LiveVenue, RecordingPlan, VenueError
from hftcore.venues.keys import Credentials, redact
from hftcore.venues.ratelimit import Bucket, RateLimiter, RateLimitExceeded
from hftcore.venues.rest import RestError
from hftcore.venues.ws import Connection

__all__ = [
    "API_URL",
    "FUTURES_API_URL",
    "FUTURES_DEPTH_LIMITS",
    "FUTURES_REST_URL",
    "FUTURES_STREAM_URL",
    "REST_URL",
    "STREAM_URL",
    "BinanceFuturesVenue",
    "BinanceVenue",
    "futures_rate_limits",
    "futures_recording_plan",
    "futures_snapshot_weight",
    "rate_limits",
    "recording_plan",
    "sign",
    "sign_ed25519",
    "signature_payload",
    "snapshot_weight",
    "stream_names",
]

log = logging.getLogger("hftcore.venues.binance")

STREAM_URL = "wss://stream.binance.com:9443"
API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
REST_URL = "https://api.binance.com"

WEIGHT = "REQUEST_WEIGHT:MINUTE:1"
ORDERS_10S = "ORDERS:SECOND:10"
ORDERS_DAY = "ORDERS:DAY:1"
_PLACE = {WEIGHT: 1, ORDERS_10S: 1, ORDERS_DAY: 1}
_CANCEL = {WEIGHT: 1}
_REPLACE = {WEIGHT: 1, ORDERS_10S: 1, ORDERS_DAY: 1}

_OPEN = (OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED,
         OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE, OrderStatus.UNKNOWN)
_VENUE_OPEN = ("NEW", "PARTIALLY_FILLED", "PENDING_NEW")


def sign(secret: str, payload: str) -> str:
    """Binance HMAC-SHA256 signature of ``payload`` (REST query string or WebSocket API
    sorted parameters) as lower-case hex."""
    if not isinstance(secret, str) or not isinstance(payload, str):
        raise TypeError("sign(secret, payload): both must be str")
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _ed25519_key(pem: str | bytes) -> Ed25519PrivateKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ValueError("not a PEM private key (PKCS#8, unencrypted)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the private key is not an Ed25519 key")
    return key


def sign_ed25519(private_key: str | bytes | Ed25519PrivateKey, payload: str) -> str:
    """Binance Ed25519 signature of ``payload`` as base64 (``private_key``: PEM text or a
    loaded key)."""
    key = private_key if isinstance(private_key, Ed25519PrivateKey) else _ed25519_key(private_key)
    return base64.b64encode(key.sign(payload.encode())).decode()


def _text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def signature_payload(params: Mapping[str, object]) -> str:
    """The WebSocket API signature payload: every parameter but ``signature``, sorted by
    name, ``name=value`` joined by ``&`` (values as UTF-8 text, not percent-encoded)."""
    return "&".join(f"{k}={_text(params[k])}" for k in sorted(params) if k != "signature")


def rate_limits() -> RateLimiter:
    """Binance spot's published limits: 6,000 request weight a minute, 50 orders per 10 s and
    160,000 a day per account (the figures ``exchangeInfo`` lists; lower them if yours are)."""
    return RateLimiter([Bucket(WEIGHT, 6000, 60.0), Bucket(ORDERS_10S, 50, 10.0),
                        Bucket(ORDERS_DAY, 160_000, 86_400.0)])


def snapshot_weight(limit: int) -> int:
    """Request weight of ``GET /api/v3/depth`` with ``limit`` levels."""
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def stream_names(symbols: Sequence[str], streams: Sequence[str] = ("depth@100ms", "trade")
                 ) -> list[str]:
    """Stream names of a combined-stream URL, e.g. ``btcusdt@depth@100ms``."""
    return [f"{s.lower()}@{k}" for s in symbols for k in streams]


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """What ``python -m hftcore record --venue binance`` connects to: the combined stream of
    ``symbols`` and one REST depth snapshot per symbol."""
    syms = [s.upper() for s in symbols]
    names = stream_names(syms, tuple(streams or ("depth@100ms", "trade")))
    base = (ws_url or STREAM_URL).rstrip("/")
    return RecordingPlan("binance", f"{base}/stream?streams={'/'.join(names)}",
                         snapshots={s: f"/api/v3/depth?symbol={s}&limit=1000" for s in syms},
                         rest_url=(rest_url or REST_URL).rstrip("/"))


def _side(side: int) -> str:
    return "BUY" if side == Side.BUY else "SELL"


class BinanceVenue(LiveVenue):
    """Binance spot, live (see the module docstring).

    Parameters
    ----------
    credentials : Credentials, optional
        ``api_key`` plus ``private_key`` (Ed25519 PEM: session logon) or ``api_secret`` (HMAC:
        every request signed).  Without credentials: market data only.
    streams : sequence of str
        Streams per symbol (``depth@100ms``, ``depth``, ``trade``, ``aggTrade``, ``bookTicker``).
    snapshot_limit : int
        Levels of the REST snapshot (its weight follows the limit).
    api_url : str, optional
        The WebSocket API endpoint.
    auth : str
        ``"auto"`` (Ed25519 when a private key is given, else HMAC), ``"ed25519"``, ``"hmac"``.
    recv_window : int
        ms a signed request stays valid.
    request_timeout : float
        Seconds to wait for the answer of a request made while (re)connecting.
    **kwargs
        Of :class:`~hftcore.venues.common.LiveVenue` (``ws_url``, ``rest_url``, ``stale_after``,
        ``backoff``, ``rate_limits``, ``ssl_context`` ...).
    """

    name = "binance"
    sync_rule = "binance"
    snapshot_on_connect = True
    default_ws_url = STREAM_URL
    default_rest_url = REST_URL
    default_api_url = API_URL
    snapshot_path = "/api/v3/depth"
    order_path = "/api/v3/order"
    #: the order-count buckets an order request takes (besides request weight)
    order_buckets: tuple[str, ...] = (ORDERS_10S, ORDERS_DAY)
    place_cost: Mapping[str, int] = _PLACE
    replace_cost: Mapping[str, int] = _REPLACE
    cancel_cost: Mapping[str, int] = _CANCEL

    def __init__(self, *, credentials: Credentials | None = None,
                 streams: Sequence[str] = ("depth@100ms", "trade"), snapshot_limit: int = 1000,
                 api_url: str | None = None, auth: str = "auto", recv_window: int = 5000,
                 request_timeout: float = 10.0, snapshot_wait: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(credentials=credentials, **kwargs)
        if auth not in ("auto", "ed25519", "hmac"):
            raise ValueError(f"auth must be 'auto', 'ed25519' or 'hmac', got {auth!r}")
        self._check_snapshot_limit(snapshot_limit)
        self.streams = tuple(streams)
        self.snapshot_limit = snapshot_limit
        self.api_url = api_url or self.default_api_url
        self.recv_window = recv_window
        self.request_timeout = request_timeout
        self.snapshot_wait = snapshot_wait
        self._ed_key: Ed25519PrivateKey | None = None
        self.auth = "none"
        if credentials is not None:
            if auth in ("auto", "ed25519") and credentials.private_key is not None:
                self._ed_key = _ed25519_key(credentials.private_key.reveal())
                self.auth = "ed25519"
            elif auth in ("auto", "hmac") and credentials.api_secret is not None:
                self.auth = "hmac"
            else:
                raise ValueError(f"{self.name}: auth {auth!r} needs "
                                 f"{'a private_key' if auth == 'ed25519' else 'an api_secret'}")
        self.api: Connection | None = None
        self.trading = False
        self.block_reason = "not connected"
        self._ids = itertools.count(1)
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._order_reqs: dict[int, tuple[str, str, Any]] = {}
        self._replacing: dict[str, tuple[int, int]] = {}
        self._base_filled: dict[str, int] = {}
        self._cancel_queue: dict[str, Order] = {}
        self._reconciling = False
        self.logged_on = False
        self.user_stream = False
        self.last_api_error = ""
        self.rate_refused = 0
        self.foreign_reports = 0
        self.api_errors: list[str] = []
        self.bad_api_messages = 0
        self.reconciliations = 0
        self._place_cost = self.limiter.prepare(self.place_cost)
        self._replace_cost = self.limiter.prepare(self.replace_cost)

    @staticmethod
    def _check_snapshot_limit(limit: object) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 5000:
            raise ValueError(f"snapshot_limit must be 1..5000, got {limit!r}")

    @staticmethod
    def snapshot_weight(limit: int) -> int:
        """Request weight of the REST depth snapshot with ``limit`` levels."""
        return snapshot_weight(limit)

    def default_rate_limits(self) -> RateLimiter:
        return rate_limits()

    # -- market data ----------------------------------------------------------------------------
    def md_url(self) -> str:
        names = stream_names([inst.symbol for inst in self.instruments], self.streams)
        return f"{self.ws_url}/stream?streams={'/'.join(names)}"

    def snapshot_url(self, symbol: str) -> str:
        """The REST depth snapshot URL of ``symbol`` (as a recording names it)."""
        return f"{self.rest_url}{self.snapshot_path}?symbol={symbol}&limit={self.snapshot_limit}"

    async def resync(self, index: int) -> None:
        """Fetch REST snapshots until one bridges the buffered diffs."""
        assert self.engine is not None and self.feed is not None and self.rest is not None
        inst = self.engine.instruments[index]
        query = f"symbol={inst.symbol}&limit={self.snapshot_limit}"
        cost = {WEIGHT: self.snapshot_weight(self.snapshot_limit)}
        delay = 0.1
        while not self._closed:
            md = self.md
            if md is None or not md.connected:
                return
            # Binance: note the first diff buffered, then take the snapshot
            t_end = time.monotonic() + self.snapshot_wait
            while self.feed.state(index)["buffered"] == 0 and time.monotonic() < t_end:
                await asyncio.sleep(0.005)
            try:
                body = await self.rest.request("GET", self.snapshot_path, query=query, cost=cost,
                                               max_wait=30.0)
            except (RestError, RateLimitExceeded) as exc:
                log.warning("%s: snapshot of %s failed: %s", self.name, inst.symbol, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            ts = time.time_ns()
            self.feed.feed_rest(self.snapshot_url(inst.symbol), body, ts)
            self.run_feed(ts)
            if self.synced(index):
                self.resyncs += 1
                if self.listener is not None:
                    self.listener.reset_sync(index)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    # -- connecting -----------------------------------------------------------------------------
    async def connect(self, timeout: float = 10.0) -> None:
        """Market data, then (with credentials) order entry: returns once orders can be sent."""
        await super().connect(timeout)
        if self.order_entry:
            if self.api is None:
                self.api = Connection(self.api_url, self._on_api_message, name=f"{self.name} api",
                                      on_open=self._api_open, on_close=self._api_close,
                                      ping_interval=self.ping_interval,
                                      ping_timeout=self.ping_timeout, backoff=self._backoff(),
                                      ssl_context=self.ssl_context)
            self.api.start()
            if not await self.api.wait_ready(timeout):
                raise VenueError(f"{self.name}: order entry not ready after {timeout:g} s "
                                 f"({self.block_reason})")

    async def close(self) -> None:
        """Close every connection."""
        self.trading = False
        self.block_reason = "closed"
        if self.api is not None:
            await self.api.stop()
        await super().close()

    def _params(self, params: dict[str, Any], signed: bool) -> dict[str, Any]:
        if not signed:
            return params
        params["timestamp"] = time.time_ns() // 1_000_000
        if self.auth == "hmac" or not self.logged_on:
            creds = self.credentials
            assert creds is not None
            params["apiKey"] = creds.api_key.reveal()
            payload = signature_payload(params)
            if self.auth == "hmac":
                assert creds.api_secret is not None
                params["signature"] = sign(creds.api_secret.reveal(), payload)
            else:
                assert self._ed_key is not None
                params["signature"] = sign_ed25519(self._ed_key, payload)
        return params

    async def request(self, method: str, params: dict[str, Any] | None = None, *,
                      signed: bool = True, weight: int = 1,
                      orders: int = 0) -> Any:
        """Send a WebSocket API request and wait for its answer (the ``result``); raises
        :class:`VenueError` with the venue's code and message."""
        api = self.api
        if api is None or not api.connected:
            raise VenueError(f"{self.name}: {method}: not connected")
        cost = {WEIGHT: weight}
        if orders:
            cost.update(dict.fromkeys(self.order_buckets, orders))
        await self.limiter.acquire(cost, max_wait=30.0)
        rid = next(self._ids)
        msg = {"id": rid, "method": method}
        p = self._params(dict(params or {}), signed)
        if p:
            msg["params"] = p
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[rid] = fut
        if not api.send(orjson.dumps(msg)):
            self._waiters.pop(rid, None)
            raise VenueError(f"{self.name}: {method}: not sent (connection down)")
        try:
            resp = await asyncio.wait_for(fut, self.request_timeout)
        except TimeoutError:
            self._waiters.pop(rid, None)
            raise VenueError(f"{self.name}: {method}: no answer in {self.request_timeout:g} s") \
                from None
        if resp.get("status") != 200:
            err = resp.get("error") or {}
            raise VenueError(redact(f"{self.name}: {method}: {err.get('code')} {err.get('msg')}"))
        return resp.get("result", {})

    async def _api_open(self, conn: Connection) -> None:
        self.trading = False
        self.logged_on = False
        self.user_stream = False
        self.block_reason = "logging on" + (
            f" (last error: {self.last_api_error})" if self.last_api_error else "")
        try:
            await self._open_user_stream()
            self.user_stream = True
            self.block_reason = "reconciling open orders"
            await self.reconcile()
        except VenueError as exc:
            self._entry_failed(exc)
            raise
        self._entry_ready()

    async def _open_user_stream(self) -> None:
        """Log on (Ed25519) and subscribe to the private updates on the WebSocket API."""
        if self.auth == "ed25519":
            await self.request("session.logon", {}, weight=2)
            self.logged_on = True
            await self.request("userDataStream.subscribe", signed=False, weight=2)
        else:
            await self.request("userDataStream.subscribe.signature", {}, weight=2)

    def _api_close(self, conn: Connection) -> None:
        self.logged_on = False
        self.user_stream = False
        self._entry_lost(self._waiters)
        self._order_reqs.clear()   # their orders stay pending: reconciled after the reconnect

    # -- order entry (the hot path) -------------------------------------------------------------
    def _send(self, kind: str, cid: str, extra: Any, method: str, params: dict[str, Any]) -> bool:
        rid = next(self._ids)
        self._order_reqs[rid] = (kind, cid, extra)
        api = self.api
        msg = orjson.dumps({"id": rid, "method": method, "params": self._params(params, True)})
        if api is None or not api.send(msg):
            self._order_reqs.pop(rid, None)
            return False
        return True

    def _order_params(self, order: Order, price: int, qty: int, flags: int) -> dict[str, Any]:
        inst = order.instrument
        p: dict[str, Any] = {"symbol": inst.symbol, "side": _side(order.side)}
        if flags & SO_MARKET or order.order_type == OrderType.MARKET:
            p["type"] = "MARKET"
        elif flags & SO_POST_ONLY or order.order_type == OrderType.LIMIT_MAKER:
            p["type"] = "LIMIT_MAKER"
            p["price"] = inst.format_price(price)
        else:
            p["type"] = "LIMIT"
            p["timeInForce"] = "IOC" if flags & SO_IOC else "FOK" if flags & SO_FOK else "GTC"
            p["price"] = inst.format_price(price)
        p["quantity"] = inst.format_qty(qty)
        p["newClientOrderId"] = order.client_order_id
        p["newOrderRespType"] = "ACK"
        return p

    def submit(self, order: Order, flags: int) -> None:
        """Send ``order.place`` (never blocks; a refusal comes back as a reject)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().submit(order, flags)
        if self._refuse_new(cid, self._place_cost):
            return
        if not self._send("place", cid, None, "order.place",
                          self._order_params(order, order.price, order.size, flags)):
            self.report_later(cid, "reject", reason=f"{self.name}: not sent: connection down")

    def cancel(self, order: Order) -> None:
        """Send ``order.cancel`` (over REST while the WebSocket API is reconnecting)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().cancel(order)
        if not self.trading:
            self._cancel_queue[cid] = order
            if self.rest is not None and not self._reconciling:
                self.spawn(self._rest_cancel(order), f"{self.name} rest cancel {cid}")
            return
        if self.limiter.try_acquire(self.cancel_cost) is not None:
            self.spawn(self._cancel_when_allowed(order), f"{self.name} cancel {cid}")
            return
        if not self._send("cancel", cid, None, "order.cancel",
                          {"symbol": order.instrument.symbol, "origClientOrderId": cid}):
            self._cancel_queue[cid] = order

    async def _cancel_when_allowed(self, order: Order) -> None:
        await self.limiter.acquire(self.cancel_cost, max_wait=None)
        if order.is_open:
            if self.trading:
                self._send("cancel", order.client_order_id, None, "order.cancel",
                           {"symbol": order.instrument.symbol,
                            "origClientOrderId": order.client_order_id})
            else:
                self._cancel_queue[order.client_order_id] = order

    def amend(self, order: Order, price: int, size: int) -> None:
        """Send ``order.cancelReplace`` keeping the client order id (``STOP_ON_FAILURE``)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().amend(order, price, size)
        if not self.trading:
            self.report_later(cid, "replace_reject",
                              reason=f"{self.name}: order entry not ready: {self.block_reason}")
            return
        why = self.limiter.try_take(self._replace_cost)
        if why is not None:
            self.rate_refused += 1
            self.report_later(cid, "replace_reject", reason=f"{self.name}: not sent: {why}")
            return
        p = self._order_params(order, price, size - order.filled, 0)
        p["cancelReplaceMode"] = "STOP_ON_FAILURE"
        p["cancelOrigClientOrderId"] = cid
        self._replacing[cid] = (price, size)
        if not self._send("replace", cid, (price, size, order.filled), "order.cancelReplace", p):
            self._replacing.pop(cid, None)
            self.report_later(cid, "replace_reject",
                              reason=f"{self.name}: not sent: connection down")

    # -- answers --------------------------------------------------------------------------------
    def _on_api_message(self, data: bytes, ts: int) -> None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.bad_api_messages += 1
            return
        if not isinstance(obj, dict):
            self.bad_api_messages += 1
            return
        ev = obj.get("event")
        if ev is not None:
            if isinstance(ev, dict):
                self._on_user_event(ev, ts)
            return
        limits = obj.get("rateLimits")
        if limits:
            self._observe_limits(limits)
        if obj.get("status") in (418, 429):
            self._venue_rate_limited(obj)
        rid = obj.get("id")
        req = self._order_reqs.pop(rid, None) if isinstance(rid, int) else None
        if req is not None:
            try:
                self._on_order_answer(req, obj, ts)
            except (ValueError, KeyError, TypeError) as exc:
                self.bad_api_messages += 1
                log.error("%s: bad answer to %s %s: %s", self.name, req[0], req[1], exc)
            return
        fut = self._waiters.pop(rid, None) if isinstance(rid, int) else None
        if fut is not None and not fut.done():
            fut.set_result(obj)

    def _observe_limits(self, limits: Any) -> None:
        for rl in limits:
            try:
                name = f"{rl['rateLimitType']}:{rl['interval']}:{rl['intervalNum']}"
                self.limiter.observe(name, int(rl["count"]))
            except (KeyError, TypeError, ValueError):
                continue

    def _venue_rate_limited(self, obj: dict[str, Any]) -> None:
        err = obj.get("error") or {}
        data = err.get("data") if isinstance(err, dict) else None
        retry = data.get("retryAfter") if isinstance(data, dict) else None
        wait = max(1.0, (retry / 1000.0 - time.time())) if isinstance(retry, int) else 10.0
        self.limiter.block(wait, f"{self.name} answered {obj.get('status')}: {err.get('msg')}")

    def _error_text(self, obj: dict[str, Any]) -> str:
        err = obj.get("error") or {}
        text = redact(f"{self.name} {err.get('code')}: {err.get('msg')}")
        if len(self.api_errors) < 200:
            self.api_errors.append(text)
        return text

    def _order(self, cid: str) -> Order | None:
        assert self.engine is not None
        return self.engine.om.get(cid)

    def _on_order_answer(self, req: tuple[str, str, Any], obj: dict[str, Any], ts: int) -> None:
        kind, cid, extra = req
        ok = obj.get("status") == 200
        o = self._order(cid)
        if o is None:
            return
        if kind == "place":
            if ok:
                if not o.acked and o.is_open:
                    res = obj.get("result") or {}
                    self.report(cid, "ack", ts=ts, venue_order_id=str(res.get("orderId", "")))
            else:
                code = (obj.get("error") or {}).get("code")
                text = self._error_text(obj)
                if code == -1007:      # "send status unknown": find out, assume nothing
                    self.spawn(self.reconcile([o]), f"{self.name} reconcile {cid}")
                elif o.is_open:
                    self.report(cid, "reject", ts=ts, reason=text)
        elif kind == "cancel":
            if ok:
                if o.is_open:
                    self.report(cid, "canceled", ts=ts)
            elif o.status == OrderStatus.PENDING_CANCEL:
                self.report(cid, "cancel_reject", ts=ts, reason=self._error_text(obj))
        elif kind == "replace":
            price, size, filled_then = extra
            self._replacing.pop(cid, None)
            if ok:
                res = obj.get("result") or {}
                new = res.get("newOrderResponse") or {}
                self._base_filled[cid] = filled_then
                if o.status == OrderStatus.PENDING_REPLACE:
                    self.report(cid, "replaced", ts=ts, price=price, qty=size,
                                venue_order_id=str(new.get("orderId", "")))
                return
            err = obj.get("error") or {}
            data = err.get("data")
            text = self._error_text(obj)
            if isinstance(data, dict) and data.get("cancelResult") == "SUCCESS":
                # canceled, the new order failed: the order is gone
                if o.is_open:
                    self.report(cid, "canceled", ts=ts)
            elif o.status == OrderStatus.PENDING_REPLACE:
                self.report(cid, "replace_reject", ts=ts, reason=text)

    def _fee(self, inst: Instrument, amount: str, asset: object, price: str) -> int | None:
        if not amount or asset is None:
            return None
        vd = value_decimals(inst)
        try:
            if inst.quote and asset == inst.quote:
                return int(parse_fixed(amount, vd, "half_even"))
            if inst.base and asset == inst.base:
                v = (Decimal(amount) * Decimal(price)).scaleb(vd)
                return int(v.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
        except (ValueError, ArithmeticError):
            return None
        return None  # paid in another asset (BNB): the fee schedule prices it

    def _on_user_event(self, ev: dict[str, Any], ts: int) -> None:
        e = ev.get("e")
        if e == "executionReport":
            try:
                self._on_execution(ev, ts)
            except (ValueError, KeyError, TypeError) as exc:
                self.bad_api_messages += 1
                log.error("%s: bad executionReport: %s", self.name, exc)
        elif e == "eventStreamTerminated" and self.api is not None:
            self.api.drop("user data stream terminated")

    def _on_execution(self, ev: dict[str, Any], ts: int) -> None:
        x = ev["x"]
        c = ev["c"]
        orig = ev.get("C") or ""
        cid = orig if (x == "CANCELED" and orig) else c
        o = self._order(cid)
        if o is None:
            self.foreign_reports += 1
            return
        inst = o.instrument
        vid = str(ev.get("i", ""))
        if x == "NEW":
            if not o.acked and cid not in self._replacing and o.is_open:
                self.report(cid, "ack", ts=ts, venue_order_id=vid)
        elif x == "TRADE":
            self.report(cid, "fill", ts=ts, qty=inst.qty(ev["l"]), price=inst.price(ev["L"]),
                        liquidity=0 if ev.get("m") else 1,
                        fee=self._fee(inst, ev.get("n") or "", ev.get("N"), ev["L"]),
                        trade_id=str(ev["t"]), venue_order_id=vid)
        elif o.venue_order_id and vid and vid != o.venue_order_id:
            # the end of a venue order an amend (cancel-replace) already replaced: the order
            # lives on as the new venue order
            return
        elif x == "CANCELED":
            if cid not in self._replacing and o.is_open:
                self.report(cid, "canceled", ts=ts)
        elif x in ("EXPIRED", "TRADE_PREVENTION", "EXPIRED_IN_MATCH"):
            if o.is_open:
                self.report(cid, "expired", ts=ts)
        elif x == "REJECTED" and o.is_open:
            self.report(cid, "reject", ts=ts, reason=f"{self.name}: {ev.get('r', 'rejected')}")

    # -- reconciliation -------------------------------------------------------------------------
    async def reconcile(self, orders: Sequence[Order] | None = None) -> dict[str, str]:
        """Settle ``orders`` (default: all open orders here) against what Binance reports:
        missing fills are booked, venue-closed orders closed, live ones made live; returns
        ``{client id: what was decided}``."""
        targets = [o for o in (self.open_orders() if orders is None else orders) if o.is_open]
        out: dict[str, str] = {}
        if not targets:
            return out
        self._reconciling = True
        self.reconciliations += 1
        try:
            symbols = sorted({o.instrument.symbol for o in targets})
            listed: dict[str, dict[str, Any]] = {}
            for vo in await self._venue_open_orders(symbols):
                listed[vo["clientOrderId"]] = vo
            for o in targets:
                if not o.is_open:
                    continue
                d = listed.get(o.client_order_id)
                if d is None:
                    d = await self._order_status(o)
                out[o.client_order_id] = await self._settle(o, d)
        finally:
            self._reconciling = False
        return out

    async def _venue_open_orders(self, symbols: Sequence[str]) -> list[dict[str, Any]]:
        """The venue's open orders of ``symbols`` (``openOrders.status``)."""
        out: list[dict[str, Any]] = []
        if len(symbols) <= 10:
            for sym in symbols:
                out.extend(await self.request("openOrders.status", {"symbol": sym},
                                              weight=6) or [])
        else:
            out.extend(await self.request("openOrders.status", {}, weight=80) or [])
        return out

    async def _venue_trades(self, symbol: str, order_id: Any) -> list[dict[str, Any]]:
        """The trades of one venue order (``myTrades``)."""
        trades: list[dict[str, Any]] = await self.request(
            "myTrades", {"symbol": symbol, "orderId": order_id}, weight=5) or []
        return trades

    async def _order_status(self, o: Order) -> dict[str, Any] | None:
        try:
            d: dict[str, Any] = await self.request("order.status", {"symbol": o.instrument.symbol,
                                                       "origClientOrderId": o.client_order_id},
                                      weight=4)
        except VenueError as exc:
            if "-2013" in str(exc):          # "Order does not exist."
                return None
            raise
        return d

    async def _settle(self, o: Order, d: dict[str, Any] | None) -> str:
        cid = o.client_order_id
        inst = o.instrument
        now = time.time_ns()
        if d is None:
            if o.acked:
                self.report(cid, "canceled", ts=now)
                return "canceled (not found at the venue)"
            self.report(cid, "reject", ts=now, reason=f"{self.name}: not found at the venue")
            return "rejected (never reached the venue)"
        vid = str(d.get("orderId", ""))
        executed = inst.qty(d.get("executedQty", "0"))
        base = self._base_filled.get(cid, 0)
        if executed > o.filled - base:
            for t in await self._venue_trades(inst.symbol, d["orderId"]):
                self.report(cid, "fill", ts=int(t.get("time", 0)) * 1_000_000 or now,
                            qty=inst.qty(t["qty"]), price=inst.price(t["price"]),
                            liquidity=0 if t.get("isMaker") else 1,
                            fee=self._fee(inst, t.get("commission", ""),
                                          t.get("commissionAsset"), t["price"]),
                            trade_id=str(t["id"]), venue_order_id=vid)
        status = str(d.get("status", ""))
        if not o.is_open:
            return o.status.name.lower()
        if status in _VENUE_OPEN:
            price = inst.price(d["price"]) if d.get("price") else o.price
            total = base + inst.qty(d["origQty"])
            st = o.status
            if st == OrderStatus.PENDING_NEW or (st == OrderStatus.UNKNOWN and
                                                 o.prior_status == OrderStatus.PENDING_NEW):
                self.report(cid, "ack", ts=now, venue_order_id=vid)
            elif st == OrderStatus.PENDING_REPLACE:
                target = self._replacing.pop(cid, None)
                if target is not None and target == (price, total):
                    self.report(cid, "replaced", ts=now, price=price, qty=total,
                                venue_order_id=vid)
                else:
                    self.report(cid, "replace_reject", ts=now,
                                reason=f"{self.name}: amend lost in a reconnect")
            elif st == OrderStatus.UNKNOWN:
                self.report(cid, "replaced", ts=now, price=price, qty=total, venue_order_id=vid)
                if o.prior_status == OrderStatus.PENDING_CANCEL:
                    self._cancel_queue[cid] = o
            elif st == OrderStatus.PENDING_CANCEL:
                self._cancel_queue[cid] = o    # sent again once trading resumes
            return "open"
        if status == "FILLED":
            return "filled" if not o.is_open else "filled (fills missing)"
        if status == "CANCELED":
            self.report(cid, "canceled", ts=now)
        elif status in ("EXPIRED", "EXPIRED_IN_MATCH"):
            self.report(cid, "expired", ts=now)
        elif status == "REJECTED":
            self.report(cid, "reject", ts=now, reason=f"{self.name}: rejected")
        return status.lower()

    # -- REST fallback --------------------------------------------------------------------------
    def _rest_signed_query(self, params: dict[str, Any]) -> str:
        params["timestamp"] = time.time_ns() // 1_000_000
        params["recvWindow"] = self.recv_window
        query = urllib.parse.urlencode(params)
        creds = self.credentials
        assert creds is not None
        if self.auth == "hmac":
            assert creds.api_secret is not None
            sig = sign(creds.api_secret.reveal(), query)
        else:
            assert self._ed_key is not None
            sig = urllib.parse.quote(sign_ed25519(self._ed_key, query), safe="")
        return f"{query}&signature={sig}"

    async def _rest_cancel(self, order: Order) -> None:
        assert self.rest is not None and self.credentials is not None
        cid = order.client_order_id
        query = self._rest_signed_query({"symbol": order.instrument.symbol,
                                         "origClientOrderId": cid})
        try:
            await self.rest.request("DELETE", self.order_path, query=query,
                                    headers={"X-MBX-APIKEY": self.credentials.api_key.reveal()},
                                    cost={WEIGHT: 1}, max_wait=5.0)
        except (RestError, RateLimitExceeded) as exc:
            log.warning("%s: REST cancel of %s failed: %s (retried after the reconnect)",
                        self.name, cid, exc)
            return
        self._cancel_queue.pop(cid, None)
        if order.is_open:
            self.report(cid, "canceled")

    def status(self) -> dict[str, Any]:
        """Connections, books, order entry state and counters."""
        out = super().status()
        out.update(trading=self.trading, block_reason=self.block_reason, auth=self.auth,
                   logged_on=self.logged_on, user_stream=self.user_stream,
                   rate_refused=self.rate_refused, api_errors=len(self.api_errors),
                   reconciliations=self.reconciliations, pending_requests=len(self._order_reqs))
        if self.api is not None:
            out["order_entry"] = self.api.status()
        return out



# -- USDⓈ-M futures ---------------------------------------------------------------------------

FUTURES_STREAM_URL = "wss://fstream.binance.com"
FUTURES_API_URL = "wss://ws-fapi.binance.com/ws-fapi/v1"
FUTURES_REST_URL = "https://fapi.binance.com"

ORDERS_MINUTE = "ORDERS:MINUTE:1"
# the futures WebSocket API: order.place / order.modify weigh 0 on the IP limit and count on
# both order limits; order.cancel weighs 1
_FUT_PLACE = {ORDERS_10S: 1, ORDERS_MINUTE: 1}
_FUT_MODIFY = {ORDERS_10S: 1, ORDERS_MINUTE: 1}
_FUT_CANCEL = {WEIGHT: 1}
#: the depth limits GET /fapi/v1/depth accepts
FUTURES_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def futures_rate_limits() -> RateLimiter:
    """Binance USDⓈ-M futures' published limits (``GET /fapi/v1/exchangeInfo``): 2,400 request
    weight a minute, 300 orders per 10 s and 1,200 a minute per account."""
    return RateLimiter([Bucket(WEIGHT, 2400, 60.0), Bucket(ORDERS_10S, 300, 10.0),
                        Bucket(ORDERS_MINUTE, 1200, 60.0)])


def futures_snapshot_weight(limit: int) -> int:
    """Request weight of ``GET /fapi/v1/depth`` with ``limit`` levels."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit must be an int, not {type(limit).__name__}")
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def _str_list(name: str, value: object) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or \
            not all(isinstance(x, str) for x in value):
        raise TypeError(f"{name} must be a sequence of str, not {type(value).__name__}")
    return list(value)


def futures_recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                           rest_url: str | None = None, streams: Sequence[str] | None = None
                           ) -> RecordingPlan:
    """What to record for Binance USDⓈ-M futures: the combined stream of ``symbols`` on
    ``fstream.binance.com`` and one ``GET /fapi/v1/depth`` snapshot per symbol."""
    syms = [s.upper() for s in _str_list("symbols", symbols)]
    if streams is not None:
        _str_list("streams", streams)
    for name, url in (("ws_url", ws_url), ("rest_url", rest_url)):
        if url is not None and not isinstance(url, str):
            raise TypeError(f"{name} must be a str, not {type(url).__name__}")
    names = stream_names(syms, tuple(streams or ("depth@100ms", "aggTrade")))
    base = (ws_url or FUTURES_STREAM_URL).rstrip("/")
    return RecordingPlan("binance_futures", f"{base}/stream?streams={'/'.join(names)}",
                         snapshots={s: f"/fapi/v1/depth?symbol={s}&limit=1000" for s in syms},
                         rest_url=(rest_url or FUTURES_REST_URL).rstrip("/"))


class BinanceFuturesVenue(BinanceVenue):
    """Binance USDⓈ-M futures, live: the futures market of the Binance venue.

    Market data
        The combined stream on ``fstream.binance.com`` (``depth@100ms``, ``aggTrade``, ...)
        with the futures book sync: diffs are buffered, a ``GET /fapi/v1/depth`` snapshot is
        fetched (from ``fapi.binance.com``), diffs with ``u < lastUpdateId`` are dropped, the
        first applied one has ``U <= lastUpdateId <= u``, and every next one's ``pu`` is the
        previous ``u``; a gap resyncs that symbol only.

    Order entry
        The futures WebSocket API (``wss://ws-fapi.binance.com/ws-fapi/v1``): ``order.place``
        (post-only is ``timeInForce=GTX``), ``order.cancel``, ``order.modify`` (price and
        quantity of a resting limit order, same order id).  Requests are signed like spot
        (HMAC-SHA256 hex, or Ed25519 with ``session.logon``).  Private updates come through a
        user data stream: a listen key from ``POST /fapi/v1/listenKey`` (kept alive with
        ``PUT`` every ``listen_key_keepalive`` seconds), read on ``fstream.binance.com/ws/<key>``
        (``ORDER_TRADE_UPDATE``).  Reconciliation after a reconnect uses the signed REST
        endpoints ``/fapi/v1/openOrders``, ``/fapi/v1/order`` and ``/fapi/v1/userTrades``.

    Rate limits: :func:`futures_rate_limits`.  Parameters are those of :class:`BinanceVenue`
    (``snapshot_limit`` one of :data:`FUTURES_DEPTH_LIMITS`), plus ``listen_key_keepalive``.
    """

    name = "binance_futures"
    sync_rule = "binance_futures"
    default_ws_url = FUTURES_STREAM_URL
    default_rest_url = FUTURES_REST_URL
    default_api_url = FUTURES_API_URL
    snapshot_path = "/fapi/v1/depth"
    order_path = "/fapi/v1/order"
    order_buckets = (ORDERS_10S, ORDERS_MINUTE)
    place_cost = _FUT_PLACE
    replace_cost = _FUT_MODIFY
    cancel_cost = _FUT_CANCEL

    def __init__(self, *, credentials: Credentials | None = None,
                 streams: Sequence[str] = ("depth@100ms", "aggTrade"),
                 snapshot_limit: int = 1000, listen_key_keepalive: float = 30 * 60.0,
                 **kwargs: Any) -> None:
        if isinstance(listen_key_keepalive, bool) or \
                not isinstance(listen_key_keepalive, int | float):
            raise TypeError("listen_key_keepalive must be a number of seconds, not "
                            f"{type(listen_key_keepalive).__name__}")
        if not 0 < listen_key_keepalive < 3600:
            raise ValueError("listen_key_keepalive must be 0..3600 s (a key lives 60 minutes), "
                             f"got {listen_key_keepalive!r}")
        super().__init__(credentials=credentials, streams=_str_list("streams", streams),
                         snapshot_limit=snapshot_limit, **kwargs)
        self.listen_key_keepalive = float(listen_key_keepalive)
        self.listen_key = ""
        self.user_conn: Connection | None = None
        self._keepalive: asyncio.Task[None] | None = None

    @staticmethod
    def _check_snapshot_limit(limit: object) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"snapshot_limit must be an int, not {type(limit).__name__}")
        if limit not in FUTURES_DEPTH_LIMITS:
            raise ValueError(f"snapshot_limit must be one of {FUTURES_DEPTH_LIMITS}, "
                             f"got {limit!r}")

    @staticmethod
    def snapshot_weight(limit: int) -> int:
        """Request weight of ``GET /fapi/v1/depth`` with ``limit`` levels."""
        return futures_snapshot_weight(limit)

    def default_rate_limits(self) -> RateLimiter:
        return futures_rate_limits()

    # -- the user data stream -------------------------------------------------------------------
    def _api_key_header(self) -> dict[str, str]:
        assert self.credentials is not None
        return {"X-MBX-APIKEY": self.credentials.api_key.reveal()}

    async def _listen_key(self, method: str) -> str:
        assert self.rest is not None
        try:
            body = await self.rest.request(method, "/fapi/v1/listenKey",
                                           headers=self._api_key_header(), cost={WEIGHT: 1},
                                           max_wait=10.0)
        except (RestError, RateLimitExceeded) as exc:
            raise VenueError(redact(f"{self.name}: listen key ({method}): {exc}")) from None
        try:
            key = orjson.loads(body).get("listenKey", "")
        except (orjson.JSONDecodeError, AttributeError):
            key = ""
        if not isinstance(key, str) or (method == "POST" and not key):
            raise VenueError(f"{self.name}: listen key ({method}): no key in the answer")
        return key

    async def _open_user_stream(self) -> None:
        if self.auth == "ed25519":
            await self.request("session.logon", {}, weight=2)
            self.logged_on = True
        key = await self._listen_key("POST")
        if self.user_conn is not None and key != self.listen_key:
            await self.user_conn.stop()
            self.user_conn = None
        self.listen_key = key
        if self.user_conn is None:
            self.user_conn = Connection(f"{self.ws_url}/ws/{key}", self._on_user_message,
                                        name=f"{self.name} user", ping_interval=self.ping_interval,
                                        ping_timeout=self.ping_timeout, backoff=self._backoff(),
                                        ssl_context=self.ssl_context)
            self.user_conn.start()
        if not await self.user_conn.wait_ready(self.request_timeout):
            raise VenueError(f"{self.name}: user data stream not connected")
        if self._keepalive is None or self._keepalive.done():
            self._keepalive = self.spawn(self._keep_listen_key(), f"{self.name} listen key")

    async def _keep_listen_key(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.listen_key_keepalive)
            if self._closed or not self.listen_key:
                return
            try:
                await self._listen_key("PUT")
            except VenueError as exc:
                log.warning("%s: %s", self.name, exc)
                if self.api is not None:
                    self.api.drop("listen key keep-alive failed")   # reconnect: a new key

    def _on_user_message(self, data: bytes, ts: int) -> None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.bad_api_messages += 1
            return
        if not isinstance(obj, dict):
            self.bad_api_messages += 1
            return
        self._on_user_event(obj, ts)

    def _on_user_event(self, ev: dict[str, Any], ts: int) -> None:
        e = ev.get("e")
        if e == "ORDER_TRADE_UPDATE":
            try:
                self._on_order_update(ev, ts)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                self.bad_api_messages += 1
                log.error("%s: bad ORDER_TRADE_UPDATE: %s", self.name, exc)
        elif e == "listenKeyExpired" and self.api is not None:
            self.api.drop("listen key expired")

    def _on_order_update(self, ev: dict[str, Any], ts: int) -> None:
        o = ev["o"]
        if not isinstance(o, dict):
            raise TypeError("'o' is not an object")
        x = o["x"]
        if x == "AMENDMENT":
            return              # order.modify's answer reports the amend
        # the spot executionReport's fields, from the futures order object
        self._on_execution({"x": "EXPIRED" if x == "CALCULATED" else x, "c": o["c"], "C": "",
                            "i": o["i"], "l": o.get("l", "0"), "L": o.get("L", "0"),
                            "m": o.get("m", False), "n": o.get("n") or "", "N": o.get("N"),
                            "t": o.get("t", -1), "r": o.get("X", "")}, ts)

    async def close(self) -> None:
        """Close every connection."""
        await super().close()
        if self.user_conn is not None:
            await self.user_conn.stop()

    # -- order entry ----------------------------------------------------------------------------
    def _order_params(self, order: Order, price: int, qty: int, flags: int) -> dict[str, Any]:
        inst = order.instrument
        p: dict[str, Any] = {"symbol": inst.symbol, "side": _side(order.side)}
        if flags & SO_MARKET or order.order_type == OrderType.MARKET:
            p["type"] = "MARKET"
        else:
            p["type"] = "LIMIT"
            p["timeInForce"] = ("GTX" if flags & SO_POST_ONLY or
                                order.order_type == OrderType.LIMIT_MAKER else
                                "IOC" if flags & SO_IOC else "FOK" if flags & SO_FOK else "GTC")
            p["price"] = inst.format_price(price)
        p["quantity"] = inst.format_qty(qty)
        p["newClientOrderId"] = order.client_order_id
        p["newOrderRespType"] = "ACK"
        return p

    def amend(self, order: Order, price: int, size: int) -> None:
        """Send ``order.modify``: the new price and total quantity of a resting limit order
        (the venue keeps its order id)."""
        cid = order.client_order_id
        if not self.order_entry:
            return LiveVenue.amend(self, order, price, size)
        if not self.trading:
            self.report_later(cid, "replace_reject",
                              reason=f"{self.name}: order entry not ready: {self.block_reason}")
            return
        why = self.limiter.try_take(self._replace_cost)
        if why is not None:
            self.rate_refused += 1
            self.report_later(cid, "replace_reject", reason=f"{self.name}: not sent: {why}")
            return
        inst = order.instrument
        p = {"symbol": inst.symbol, "origClientOrderId": cid, "side": _side(order.side),
             "quantity": inst.format_qty(size), "price": inst.format_price(price)}
        self._replacing[cid] = (price, size)
        if not self._send("modify", cid, (price, size), "order.modify", p):
            self._replacing.pop(cid, None)
            self.report_later(cid, "replace_reject",
                              reason=f"{self.name}: not sent: connection down")

    def _on_order_answer(self, req: tuple[str, str, Any], obj: dict[str, Any], ts: int) -> None:
        kind, cid, extra = req
        if kind != "modify":
            super()._on_order_answer(req, obj, ts)
            return
        o = self._order(cid)
        self._replacing.pop(cid, None)
        if o is None:
            return
        if obj.get("status") == 200:
            price, size = extra
            res = obj.get("result") or {}
            if o.status == OrderStatus.PENDING_REPLACE:
                self.report(cid, "replaced", ts=ts, price=price, qty=size,
                            venue_order_id=str(res.get("orderId", "")))
        elif o.status == OrderStatus.PENDING_REPLACE:
            self.report(cid, "replace_reject", ts=ts, reason=self._error_text(obj))

    # -- reconciliation over signed REST --------------------------------------------------------
    async def _rest_signed(self, method: str, path: str, params: dict[str, Any],
                           weight: int) -> Any:
        assert self.rest is not None
        query = self._rest_signed_query(params)
        try:
            body = await self.rest.request(method, path, query=query,
                                           headers=self._api_key_header(),
                                           cost={WEIGHT: weight}, max_wait=30.0)
        except RestError as exc:
            raise VenueError(redact(f"{self.name}: {method} {path}: {exc}")) from None
        return orjson.loads(body)

    async def _venue_open_orders(self, symbols: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if len(symbols) <= 10:
            for sym in symbols:
                out.extend(await self._rest_signed("GET", "/fapi/v1/openOrders",
                                                   {"symbol": sym}, 1) or [])
        else:
            out.extend(await self._rest_signed("GET", "/fapi/v1/openOrders", {}, 40) or [])
        return out

    async def _venue_trades(self, symbol: str, order_id: Any) -> list[dict[str, Any]]:
        trades = await self._rest_signed("GET", "/fapi/v1/userTrades",
                                         {"symbol": symbol, "orderId": order_id}, 5) or []
        # futures trades say "maker" where spot says "isMaker"
        return [{**t, "isMaker": t.get("maker", t.get("isMaker", False))} for t in trades]

    async def _order_status(self, o: Order) -> dict[str, Any] | None:
        try:
            d: dict[str, Any] = await self._rest_signed(
                "GET", "/fapi/v1/order", {"symbol": o.instrument.symbol,
                                          "origClientOrderId": o.client_order_id}, 1)
        except VenueError as exc:
            if "-2013" in str(exc):          # "Order does not exist."
                return None
            raise
        return d

    def status(self) -> dict[str, Any]:
        """Connections, books, order entry state and counters."""
        out = super().status()
        if self.user_conn is not None:
            out["user_stream_connection"] = self.user_conn.status()
        return out
