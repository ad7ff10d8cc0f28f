"""Coinbase: the Exchange public feed for market data, Advanced Trade for orders, ES256 JWTs.

Authentication (Coinbase's Advanced Trade / CDP documentation): every REST request carries
``Authorization: Bearer <JWT>``, a JWT signed with the API key's EC P-256 private key (ES256):
header ``{"alg": "ES256", "kid": <key name>, "nonce": <random hex>, "typ": "JWT"}``, claims
``{"iss": "cdp", "sub": <key name>, "nbf": now, "exp": now + 120, "uri": "<METHOD> <host><path>"}``.
The websocket's user channel takes the same JWT without ``uri``.  The signature is the raw
``r || s`` (64 bytes), base64url without padding, made with ``cryptography``.

:class:`CoinbaseVenue` streams the Coinbase Exchange public feed: ``level2_batch`` (a
snapshot, then ``l2update`` changes), ``matches``, and the ``heartbeat`` channel that keeps the
connection and each product alive; a product whose book goes stale resyncs by subscribing it
again.  With credentials (the key name and its PEM private key) it trades through Advanced
Trade: ``POST /api/v3/brokerage/orders`` (``client_order_id`` = our client order id),
``orders/batch_cancel`` and ``orders/edit`` by the venue's order id, each with a fresh JWT; the
``user`` channel of the user websocket reports order states (``OPEN`` acks, ``CANCELLED``,
``EXPIRED``, ``FAILED``) and cumulative fills, whose individual trades are then read from
``orders/historical/fills`` (so a fill carries Coinbase's ``trade_id`` and is booked once,
whichever way it arrived).  A gap in the channel's ``sequence_num`` reconnects it; after each
(re)connect the open orders are reconciled over REST (``orders/historical/batch``,
``orders/historical/{order_id}``, ``orders/historical/fills``) before trading resumes.  Rate
limits: Advanced Trade's 30 private requests a second (orders over it are refused, queries
wait), 8 websocket subscriptions a second.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from hftcore._ext.sim import SO_FOK, SO_IOC, SO_MARKET, SO_POST_ONLY
from hftcore.model import Order, OrderStatus, OrderType, Side
from hftcore.venues.common import LiveVenue, RecordingPlan, VenueError
from hftcore.venues.keys import Credentials, redact
from hftcore.venues.ratelimit import Bucket, RateLimiter, RateLimitExceeded
from hftcore.venues.rest import RestError
from hftcore.venues.ws import Connection

__all__ = ["EXCHANGE_URL", "PUBLIC_URL", "REST_URL", "USER_URL", "CoinbaseVenue", "jwt",
           "order_configuration", "recording_plan"]

log = logging.getLogger("hftcore.venues.coinbase")

PUBLIC_URL = "wss://advanced-trade-ws.coinbase.com"
USER_URL = "wss://advanced-trade-ws-user.coinbase.com"
EXCHANGE_URL = "wss://ws-feed.exchange.coinbase.com"
REST_URL = "https://api.coinbase.com"
_API = "/api/v3/brokerage"
_OPEN = ("OPEN", "PENDING", "QUEUED", "EDIT_QUEUED", "CANCEL_QUEUED")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _load_key(private_key_pem: str) -> ec.EllipticCurvePrivateKey:
    if not isinstance(private_key_pem, str):
        raise TypeError("private_key_pem must be PEM text")
    try:
        key = load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("jwt: not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("jwt: the key must be an EC P-256 (ES256) key")
    return key


def _jwt(key: ec.EllipticCurvePrivateKey, key_name: str, uri: str | None, now: int | None,
         lifetime: int) -> str:
    t = int(time.time()) if now is None else now
    header = {"alg": "ES256", "kid": key_name, "nonce": secrets.token_hex(16), "typ": "JWT"}
    claims: dict[str, Any] = {"iss": "cdp", "sub": key_name, "nbf": t, "exp": t + lifetime}
    if uri is not None:
        claims["uri"] = uri
    signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def jwt(key_name: str, private_key_pem: str, *, method: str | None = None,
        host: str = "api.coinbase.com", path: str = "", now: int | None = None,
        lifetime: int = 120) -> str:
    """An ES256 JWT for Coinbase Advanced Trade (a REST request when ``method`` is given, the
    websocket otherwise)."""
    if not isinstance(key_name, str) or not key_name:
        raise TypeError("jwt: key_name must be the API key's name")
    if method is not None and not isinstance(method, str):
        raise TypeError("jwt: method must be str or None")
    for name, v in (("host", host), ("path", path)):
        if not isinstance(v, str):
            raise TypeError(f"jwt: {name} must be str")
    for name, n in (("now", now), ("lifetime", lifetime)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
            raise TypeError(f"jwt: {name} must be int seconds")
    key = _load_key(private_key_pem)
    uri = f"{method.upper()} {host}{path}" if method is not None else None
    return _jwt(key, key_name, uri, now, lifetime)


def order_configuration(order: Order, flags: int) -> dict[str, Any]:
    """The ``order_configuration`` of an Advanced Trade order: ``market_market_ioc``,
    ``limit_limit_gtc`` (with ``post_only``), ``sor_limit_ioc`` or ``limit_limit_fok``; sizes
    and prices as exact decimal text."""
    if not isinstance(order, Order):
        raise TypeError(f"order must be an Order, got {type(order).__name__}")
    if isinstance(flags, bool) or not isinstance(flags, int):
        raise TypeError(f"flags must be int, got {type(flags).__name__}")
    inst = order.instrument
    size = inst.format_qty(order.size, True)
    if flags & SO_MARKET or order.order_type == OrderType.MARKET:
        return {"market_market_ioc": {"base_size": size}}
    price = inst.format_price(order.price, True)
    if flags & SO_POST_ONLY or order.order_type == OrderType.LIMIT_MAKER:
        return {"limit_limit_gtc": {"base_size": size, "limit_price": price, "post_only": True}}
    if flags & SO_IOC:
        return {"sor_limit_ioc": {"base_size": size, "limit_price": price}}
    if flags & SO_FOK:
        return {"limit_limit_fok": {"base_size": size, "limit_price": price}}
    return {"limit_limit_gtc": {"base_size": size, "limit_price": price, "post_only": False}}


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """``level2`` and ``market_trades`` of ``symbols`` plus ``heartbeats`` (the keep-alive)."""
    chans = tuple(streams or ("level2", "market_trades"))
    subs = [orjson.dumps({"type": "subscribe", "product_ids": list(symbols), "channel": c})
            for c in chans]
    subs.append(orjson.dumps({"type": "subscribe", "channel": "heartbeats"}))
    return RecordingPlan("coinbase", (ws_url or PUBLIC_URL).rstrip("/"), subscriptions=subs)


class CoinbaseVenue(LiveVenue):
    """Coinbase Exchange public market data and Advanced Trade order entry - see the module
    docstring.

    Parameters
    ----------
    channel : str
        ``level2_batch`` (public) or ``level2`` (authenticated feeds).
    trades : bool
        Subscribe to ``matches`` too.
    credentials : Credentials, optional
        ``api_key`` (the key name, ``organizations/.../apiKeys/...``) and ``private_key`` (its
        EC P-256 PEM) for order entry.
    user_url : str, optional
        The user websocket (the ``user`` channel).
    request_timeout : float
        Seconds to wait for the user channel's subscription answer.
    """

    name = "coinbase"
    sync_rule = "coinbase"
    default_ws_url = EXCHANGE_URL
    default_rest_url = REST_URL

    def __init__(self, *, channel: str = "level2_batch", trades: bool = True,
                 resync_timeout: float = 5.0, credentials: Credentials | None = None,
                 user_url: str | None = None, request_timeout: float = 10.0,
                 **kwargs: Any) -> None:
        if not isinstance(channel, str):
            raise TypeError(f"channel must be str, got {type(channel).__name__}")
        if channel not in ("level2", "level2_batch"):
            raise ValueError(f"channel must be level2 or level2_batch, got {channel!r}")
        if user_url is not None and not isinstance(user_url, str):
            raise TypeError(f"user_url must be str, got {type(user_url).__name__}")
        if isinstance(request_timeout, bool) or not isinstance(request_timeout, int | float):
            raise TypeError("request_timeout must be a number of seconds")
        key: ec.EllipticCurvePrivateKey | None = None
        if isinstance(credentials, Credentials):
            if credentials.private_key is None:
                raise ValueError("coinbase: order entry needs the key's private_key (EC PEM)")
            key = _load_key(credentials.private_key.reveal())
        kwargs.setdefault("stale_after", 30.0)
        super().__init__(credentials=credentials, **kwargs)
        self.channel = channel
        self.trades = trades
        self.resync_timeout = resync_timeout
        self.user_url = (user_url or USER_URL).rstrip("/")
        self.request_timeout = float(request_timeout)
        self._key = key
        self._host = urllib.parse.urlsplit(self.rest_url).netloc
        self.user: Connection | None = None
        self.trading = False
        self.block_reason = "not connected"
        self.last_api_error = ""
        self.api_errors: list[str] = []
        self._seq: int | None = None
        self._sub_waiter: asyncio.Future[dict[str, Any]] | None = None
        self._vids: dict[str, str] = {}              # client order id -> Coinbase order id
        self._cancel_queue: dict[str, Order] = {}
        self._cancel_after_ack: dict[str, Order] = {}
        self._order_cost = self.limiter.prepare({"REST": 1})
        self.rate_refused = 0
        self.reconciliations = 0
        self.sequence_gaps = 0

    def default_rate_limits(self) -> RateLimiter:
        # Advanced Trade: 30 private REST requests a second; websocket: 8 messages a second
        return RateLimiter([Bucket("SUBSCRIPTIONS", 8, 1.0), Bucket("REST", 30, 1.0)])

    def md_url(self) -> str:
        return self.ws_url

    def _msg(self, op: str, products: Sequence[str], book_only: bool = False) -> bytes:
        chans = [self.channel]
        if not book_only:
            chans.append("heartbeat")
            if self.trades:
                chans.append("matches")
        return orjson.dumps({"type": op, "product_ids": list(products), "channels": chans})

    def md_subscriptions(self) -> list[bytes]:
        return [self._msg("subscribe", [i.symbol for i in self.instruments])]

    async def resync(self, index: int) -> None:
        """Unsubscribe and subscribe the product's book again until its snapshot is in."""
        assert self.engine is not None
        product = self.engine.instruments[index].symbol
        await self.resubscribe(index, [self._msg("unsubscribe", [product], True),
                                      self._msg("subscribe", [product], True)],
                               self.resync_timeout, max_wait=30.0)

    # -- order entry ----------------------------------------------------------------------------
    async def connect(self, timeout: float = 10.0) -> None:
        """Market data, then (with credentials) the user channel: subscribed with a JWT, open
        orders reconciled."""
        await super().connect(timeout)
        if not self.order_entry:
            return
        if self.user is None:
            self.user = Connection(self.user_url, self._on_user, name="coinbase user",
                                   on_open=self._user_open, on_close=self._user_close,
                                   ping_interval=self.ping_interval,
                                   ping_timeout=self.ping_timeout, backoff=self._backoff(),
                                   ssl_context=self.ssl_context)
        self.user.start()
        if not await self.user.wait_ready(timeout):
            raise VenueError(f"coinbase: order entry not ready ({self.block_reason})")

    async def close(self) -> None:
        """Close every connection."""
        self.trading = False
        self.block_reason = "closed"
        if self.user is not None:
            await self.user.stop()
        await super().close()

    def _token(self, uri: str | None) -> str:
        assert self._key is not None and self.credentials is not None
        return _jwt(self._key, self.credentials.api_key.reveal(), uri, None, 120)

    async def _rest(self, method: str, path: str, *, query: str = "", body: bytes | None = None,
                    wait: bool = True) -> Any:
        """A signed Advanced Trade request (a fresh JWT whose ``uri`` names it); its JSON."""
        if self.rest is None:
            raise VenueError("coinbase: no REST endpoint")
        headers = {"Authorization": "Bearer " + self._token(f"{method} {self._host}{path}"),
                   "Content-Type": "application/json"}
        data = await self.rest.request(method, path, query=query, body=body, headers=headers,
                                       cost={"REST": 1} if wait else None, max_wait=10.0)
        return orjson.loads(data)

    async def _user_open(self, conn: Connection) -> None:
        self.trading = False
        self._seq = None
        self.block_reason = "subscribing to the user channel" + (
            f" (last error: {self.last_api_error})" if self.last_api_error else "")
        try:
            await self.limiter.acquire({"SUBSCRIPTIONS": 2}, max_wait=10.0)
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._sub_waiter = fut
            products = [i.symbol for i in self.instruments]
            conn.send(orjson.dumps({"type": "subscribe", "channel": "user",
                                    "product_ids": products, "jwt": self._token(None)}))
            conn.send(orjson.dumps({"type": "subscribe", "channel": "heartbeats",
                                    "jwt": self._token(None)}))
            resp = await asyncio.wait_for(fut, self.request_timeout)
            if resp.get("type") == "error":
                raise VenueError(redact(f"coinbase: user channel refused: "
                                        f"{resp.get('message')}"))
            self.block_reason = "reconciling open orders"
            await self.reconcile()
        except (VenueError, TimeoutError, RestError, RateLimitExceeded) as exc:
            self._entry_failed(exc)
            raise
        finally:
            self._sub_waiter = None
        self._entry_ready()

    def _user_close(self, conn: Connection) -> None:
        self._entry_lost()
        fut = self._sub_waiter
        if fut is not None and not fut.done():
            fut.set_exception(VenueError("coinbase: connection closed"))

    def submit(self, order: Order, flags: int) -> None:
        """``POST /api/v3/brokerage/orders`` in a task (never blocks; a refusal comes back as
        a reject)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().submit(order, flags)
        if self._refuse_new(cid, self._order_cost):
            return
        body = orjson.dumps({"client_order_id": cid, "product_id": order.instrument.symbol,
                             "side": "BUY" if order.side == Side.BUY else "SELL",
                             "order_configuration": order_configuration(order, flags)})
        self.spawn(self._place(order, body), f"coinbase place {cid}")

    def _order(self, cid: str) -> Order | None:
        assert self.engine is not None
        return self.engine.om.get(cid)

    def _api_error(self, text: str) -> str:
        text = redact(text)
        if len(self.api_errors) < 200:
            self.api_errors.append(text)
        return text

    async def _unknown_outcome(self, order: Order, exc: Exception) -> None:
        """A request whose answer was lost: settle the order against the venue now (the
        order manager's timeout and the runner retry if this fails too)."""
        log.warning("coinbase: %s: no answer (%s); reconciling", order.client_order_id,
                    redact(str(exc)))
        try:
            await self.reconcile([order])
        except (VenueError, RestError, RateLimitExceeded, TimeoutError) as exc2:
            log.warning("coinbase: %s: reconciliation failed: %s", order.client_order_id,
                        redact(str(exc2)))

    async def _place(self, order: Order, body: bytes) -> None:
        cid = order.client_order_id
        try:
            obj = await self._rest("POST", f"{_API}/orders", body=body, wait=False)
        except RestError as exc:
            if exc.status == 0 or exc.status >= 500:
                await self._unknown_outcome(order, exc)
            elif order.is_open:
                self.report(cid, "reject", reason=self._api_error(f"coinbase: {exc}"))
            return
        except RateLimitExceeded as exc:
            if order.is_open:
                self.report(cid, "reject", reason=self._api_error(f"coinbase: {exc.reason}"))
            return
        if obj.get("success"):
            vid = str((obj.get("success_response") or {}).get("order_id", ""))
            self._acked(order, vid)
            return
        err = obj.get("error_response") or {}
        reason = (err.get("new_order_failure_reason") or err.get("preview_failure_reason")
                  or err.get("error") or obj.get("failure_reason") or "refused")
        msg = err.get("message") or err.get("error_details") or ""
        self._cancel_after_ack.pop(cid, None)
        if order.is_open:
            self.report(cid, "reject", reason=self._api_error(
                f"coinbase: {reason}" + (f": {msg}" if msg else "")))

    def _acked(self, order: Order, vid: str, ts: int | None = None) -> None:
        cid = order.client_order_id
        if vid:
            self._vids[cid] = vid
        if not order.acked and order.is_open:
            self.report(cid, "ack", ts=ts, venue_order_id=vid)
        waiting = self._cancel_after_ack.pop(cid, None)
        if waiting is not None and waiting.is_open:
            self.cancel(waiting)

    def _vid(self, order: Order) -> str:
        return order.venue_order_id or self._vids.get(order.client_order_id, "")

    def cancel(self, order: Order) -> None:
        """``orders/batch_cancel`` by the venue's order id (queued while order entry
        reconnects, and until the order's ack when it has none yet)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().cancel(order)
        if not self.trading:
            self._cancel_queue[cid] = order
            return
        vid = self._vid(order)
        if not vid:
            self._cancel_after_ack[cid] = order
            return
        self.spawn(self._cancel(order, vid), f"coinbase cancel {cid}")

    async def _cancel(self, order: Order, vid: str) -> None:
        cid = order.client_order_id
        try:
            obj = await self._rest("POST", f"{_API}/orders/batch_cancel",
                                   body=orjson.dumps({"order_ids": [vid]}))
        except (RestError, RateLimitExceeded) as exc:
            if order.status == OrderStatus.PENDING_CANCEL:
                self.report(cid, "cancel_reject",
                            reason=self._api_error(f"coinbase: cancel not done: {exc}"))
            return
        res = (obj.get("results") or [{}])[0]
        if res.get("success"):
            await self._sync_fills(order, vid, "canceled")
        elif order.status == OrderStatus.PENDING_CANCEL:
            self.report(cid, "cancel_reject", reason=self._api_error(
                f"coinbase: {res.get('failure_reason') or 'cancel refused'}"))

    def amend(self, order: Order, price: int, size: int) -> None:
        """``orders/edit``: the new limit price and total size (GTC limit orders)."""
        cid = order.client_order_id
        if not self.order_entry:
            return super().amend(order, price, size)
        vid = self._vid(order)
        why = (None if self.trading else f"order entry not ready: {self.block_reason}") or \
            (None if vid else "the order has no acknowledgement yet")
        if why is None:
            why = self.limiter.try_take(self._order_cost)
            if why is not None:
                self.rate_refused += 1
        if why is not None:
            self.report_later(cid, "replace_reject", reason=f"coinbase: not sent: {why}")
            return
        inst = order.instrument
        body = orjson.dumps({"order_id": vid, "price": inst.format_price(price, True),
                             "size": inst.format_qty(size, True)})
        self.spawn(self._edit(order, body, price, size), f"coinbase edit {cid}")

    async def _edit(self, order: Order, body: bytes, price: int, size: int) -> None:
        cid = order.client_order_id
        try:
            obj = await self._rest("POST", f"{_API}/orders/edit", body=body, wait=False)
        except RestError as exc:
            if exc.status == 0 or exc.status >= 500:
                await self._unknown_outcome(order, exc)
            elif order.status == OrderStatus.PENDING_REPLACE:
                self.report(cid, "replace_reject", reason=self._api_error(f"coinbase: {exc}"))
            return
        except RateLimitExceeded as exc:
            if order.status == OrderStatus.PENDING_REPLACE:
                self.report(cid, "replace_reject",
                            reason=self._api_error(f"coinbase: {exc.reason}"))
            return
        if order.status != OrderStatus.PENDING_REPLACE:
            return
        if obj.get("success"):
            self.report(cid, "replaced", price=price, qty=size)
        else:
            errs = obj.get("errors") or [{}]
            e = errs[0] if isinstance(errs[0], dict) else {}
            why = e.get("edit_failure_reason") or e.get("preview_failure_reason") or "refused"
            self.report(cid, "replace_reject", reason=self._api_error(f"coinbase: {why}"))

    # -- the user channel -----------------------------------------------------------------------
    def _on_user(self, data: bytes, ts: int) -> None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        seq = obj.get("sequence_num")
        if isinstance(seq, int) and not isinstance(seq, bool):
            if self._seq is not None and seq != self._seq + 1 and self.user is not None:
                self.sequence_gaps += 1
                last, self._seq = self._seq, None
                self.user.drop(f"user channel sequence gap ({seq} after {last})")
                return
            self._seq = seq
        ch = obj.get("channel")
        if obj.get("type") == "error" or ch == "subscriptions":
            fut = self._sub_waiter
            if fut is not None and not fut.done():
                if ch != "subscriptions" or any(
                        "user" in (ev.get("subscriptions") or {}) for ev in obj.get("events")
                        or ()):
                    fut.set_result(obj)
            elif obj.get("type") == "error":
                log.warning("coinbase: user channel error: %s",
                            redact(str(obj.get("message"))[:300]))
            return
        if ch != "user":
            return
        for ev in obj.get("events") or ():
            for d in ev.get("orders") or ():
                try:
                    self._on_user_order(d, ts)
                except (KeyError, ValueError, TypeError) as exc:
                    log.error("coinbase: bad user event: %s", redact(str(exc)))

    def _on_user_order(self, d: dict[str, Any], ts: int) -> None:
        cid = str(d.get("client_order_id", ""))
        o = self._order(cid) if cid else None
        if o is None:
            return
        vid = str(d.get("order_id", ""))
        status = d.get("status")
        cum = o.instrument.qty(d.get("cumulative_quantity") or "0")
        if status in ("OPEN", "FILLED") or cum > 0:
            self._acked(o, vid, ts)
        terminal = {"CANCELLED": "canceled", "EXPIRED": "expired",
                    "FAILED": "canceled" if o.acked else "reject"}.get(str(status))
        if not o.is_open:
            return
        if cum > o.filled:
            self.spawn(self._sync_fills(o, vid, terminal, str(d.get("reject_reason") or "")),
                       f"coinbase fills {cid}")
        elif terminal is not None:
            self._terminal(o, terminal, str(d.get("reject_reason") or ""), ts)

    def _terminal(self, o: Order, kind: str, why: str = "", ts: int | None = None) -> None:
        self._cancel_after_ack.pop(o.client_order_id, None)
        if not o.is_open:
            return
        if kind == "reject":
            self.report(o.client_order_id, kind, ts=ts,
                        reason=self._api_error(f"coinbase: {why or 'order failed'}"))
        else:
            self.report(o.client_order_id, kind, ts=ts)

    async def _fills(self, vid: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(50):
            q = [("order_ids", vid)] + ([("cursor", cursor)] if cursor else [])
            obj = await self._rest("GET", f"{_API}/orders/historical/fills",
                                   query=urllib.parse.urlencode(q))
            rows.extend(obj.get("fills") or ())
            cursor = str(obj.get("cursor") or "")
            if not cursor:
                break
        return rows

    async def _sync_fills(self, o: Order, vid: str, then: str | None = None,
                          why: str = "") -> None:
        """Book the order's trades from ``orders/historical/fills`` (each once, by trade id),
        then report ``then`` (a terminal state) - or reconnect (and so reconcile) if the
        query fails."""
        if o.filled < o.size or then is None:
            try:
                rows = await self._fills(vid)
            except (VenueError, RestError, RateLimitExceeded) as exc:
                log.warning("coinbase: fills of %s not read: %s", o.client_order_id,
                            redact(str(exc)))
                if self.user is not None:
                    self.user.drop("fills query failed: reconcile")
                return
            inst = o.instrument
            for f in rows:
                self.report(o.client_order_id, "fill", qty=inst.qty(f["size"]),
                            price=inst.price(f["price"]),
                            liquidity=0 if f.get("liquidity_indicator") == "MAKER" else 1,
                            trade_id=str(f["trade_id"]), venue_order_id=vid)
        if then is not None:
            self._terminal(o, then, why)

    # -- reconciliation over REST ---------------------------------------------------------------
    async def _orders(self, params: list[tuple[str, str]], pages: int = 20
                      ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(pages):
            q = params + ([("cursor", cursor)] if cursor else [])
            obj = await self._rest("GET", f"{_API}/orders/historical/batch",
                                   query=urllib.parse.urlencode(q))
            out.extend(obj.get("orders") or ())
            cursor = str(obj.get("cursor") or "")
            if not obj.get("has_next") or not cursor:
                break
        return out

    async def _order_by_id(self, vid: str) -> dict[str, Any] | None:
        try:
            obj = await self._rest("GET", f"{_API}/orders/historical/"
                                   f"{urllib.parse.quote(vid, safe='')}")
        except RestError as exc:
            if exc.status in (400, 404):
                return None
            raise
        order = obj.get("order")
        return order if isinstance(order, dict) else None

    async def reconcile(self, orders: Sequence[Order] | None = None) -> dict[str, str]:
        """Settle ``orders`` (default: all open orders here) against
        ``orders/historical/batch``, ``orders/historical/{order_id}`` and
        ``orders/historical/fills``."""
        if orders is not None and not all(isinstance(o, Order) for o in orders):
            raise TypeError("orders must be a sequence of Order")
        targets = [o for o in (self.open_orders() if orders is None else orders) if o.is_open]
        out: dict[str, str] = {}
        if not targets:
            return out
        self.reconciliations += 1
        products = sorted({o.instrument.symbol for o in targets})
        rows = await self._orders([("order_status", "OPEN")]
                                  + [("product_ids", p) for p in products])
        open_rows = {str(d.get("client_order_id")): d for d in rows}
        for o in targets:
            cid = o.client_order_id
            inst = o.instrument
            now = time.time_ns()
            d = open_rows.get(cid)
            if d is None:
                vid = self._vid(o)
                if vid:
                    d = await self._order_by_id(vid)
                else:
                    d = next((x for x in await self._orders([("product_ids", inst.symbol)])
                              if str(x.get("client_order_id")) == cid), None)
            if d is None:
                kind, why = (("canceled", "") if o.acked else
                             ("reject", "coinbase: not found at the venue"))
                self.report(cid, kind, ts=now, **({"reason": why} if why else {}))
                out[cid] = kind
                continue
            vid = str(d.get("order_id", ""))
            self._vids[cid] = vid
            status = str(d.get("status", ""))
            if inst.qty(d.get("filled_size") or "0") > o.filled:
                self._acked(o, vid, now)
                await self._sync_fills(o, vid)
            if not o.is_open:
                out[cid] = o.status.name.lower()
            elif status in _OPEN:
                self._acked(o, vid, now)
                if o.status in (OrderStatus.UNKNOWN, OrderStatus.PENDING_REPLACE) and o.acked:
                    confs = d.get("order_configuration") or {}
                    conf: dict[str, Any] = next(iter(confs.values()), {})
                    if "limit_price" in conf and "base_size" in conf:
                        self.report(cid, "replaced", ts=now,
                                    price=inst.price(conf["limit_price"]),
                                    qty=inst.qty(conf["base_size"]))
                if o.status == OrderStatus.PENDING_CANCEL:
                    self._cancel_queue[cid] = o
                out[cid] = "open"
            else:
                terminal = {"CANCELLED": "canceled", "EXPIRED": "expired",
                            "FAILED": "canceled" if o.acked else "reject"}.get(status)
                if terminal is not None:
                    self._terminal(o, terminal, str(d.get("reject_reason") or ""), now)
                out[cid] = status.lower()
        return out

    def status(self) -> dict[str, Any]:
        """Connections, books, order entry state and counters."""
        out = super().status()
        out.update(trading=self.trading, block_reason=self.block_reason,
                   rate_refused=self.rate_refused, reconciliations=self.reconciliations,
                   sequence_gaps=self.sequence_gaps)
        if self.user is not None:
            out["order_entry"] = self.user.status()
        return out
