"""Bitfinex v2: market data, order entry and their signing.

Signing (https://docs.bitfinex.com/docs/rest-auth): an authenticated REST call carries
``bfx-apikey``, ``bfx-nonce`` (increasing) and ``bfx-signature`` = hex HMAC-SHA384 of
``/api/v2/auth/... + nonce + body`` with the secret; the websocket logs in with ``auth``,
``authPayload = "AUTH" + nonce`` and ``authSig`` = hex HMAC-SHA384 of that payload
(https://docs.bitfinex.com/docs/ws-auth).

:class:`BitfinexVenue` streams ``book`` (P0, ``[price, count, amount]``: the sign of the amount
gives the side, a count of 0 deletes the level; with the ``conf`` flag 65536 every message
carries a sequence number, checked by the feed; with 131072 a ``cs`` message after each book
update carries the CRC32 of the book's top 25 levels, checked by the engine against its book)
and ``trades`` over ``wss://api-pub.bitfinex.com/ws/2``; heartbeats (``[chanId, "hb"]``) keep
a channel alive and the client pings with ``{"event":"ping"}`` when idle.  A gap (every book of
the connection) or a wrong checksum (that book only) unsubscribes and subscribes the book
again.  Orders go to ``/v2/auth/w/order/submit``, ``/cancel`` and ``/update``; Bitfinex's
client id is an integer (``cid``, unique per day with ``cid_date``): each client order id gets
one.  Acks, fills (``te``), cancels (``oc``) come from the answers and the authenticated
websocket's account channel (0).  Prices and amounts there are JSON numbers: they are read as
exact decimals, never as floats.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
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

__all__ = ["PRIVATE_URL", "PUBLIC_URL", "REST_URL", "BitfinexVenue", "recording_plan",
           "sign_rest", "sign_ws"]

log = logging.getLogger("hftcore.venues.bitfinex")
PUBLIC_URL = "wss://api-pub.bitfinex.com/ws/2"
PRIVATE_URL = "wss://api.bitfinex.com/ws/2"
REST_URL = "https://api.bitfinex.com"
POST_ONLY = 4096
SEQ_ALL = 65536       # conf flag: every message carries the connection's sequence number
CHECKSUM = 131072     # conf flag: a "cs" CRC32 of the book's top 25 levels after each update
CONF_FLAGS = SEQ_ALL | CHECKSUM
_PING = b'{"event":"ping","cid":1}'


def sign_rest(secret: str, api_path: str, nonce: str, body: str) -> str:
    """``bfx-signature``: hex HMAC-SHA384 of ``/api/`` + ``api_path`` (``v2/auth/w/...``) +
    ``nonce`` + ``body``."""
    for name, v in (("secret", secret), ("api_path", api_path), ("nonce", nonce),
                    ("body", body)):
        check_str("sign_rest", name, v)
    msg = f"/api/{api_path.lstrip('/')}{nonce}{body}"
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha384).hexdigest()


def sign_ws(secret: str, nonce: str) -> tuple[str, str]:
    """``(authPayload, authSig)`` of the websocket ``auth`` event."""
    check_str("sign_ws", "secret", secret)
    check_str("sign_ws", "nonce", nonce)
    payload = f"AUTH{nonce}"
    return payload, hmac.new(secret.encode(), payload.encode(), hashlib.sha384).hexdigest()


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """``conf`` (sequence numbers and book checksums on), ``book`` P0 and ``trades`` of
    ``symbols``."""
    chans = tuple(streams or ("book", "trades"))
    subs = [orjson.dumps({"event": "conf", "flags": CONF_FLAGS})]
    for s in symbols:
        for c in chans:
            m: dict[str, Any] = {"event": "subscribe", "channel": c, "symbol": s}
            if c == "book":
                m.update(prec="P0", len="100")
            subs.append(orjson.dumps(m))
    return RecordingPlan("bitfinex", (ws_url or PUBLIC_URL).rstrip("/"), subscriptions=subs,
                         ping_message=_PING, pong_contains=b'"event":"pong"')


def _num(x: object) -> Decimal:
    if isinstance(x, Decimal):
        return x
    if isinstance(x, int) and not isinstance(x, bool):
        return Decimal(x)
    raise ValueError(f"not a number: {x!r}")


class BitfinexVenue(OrderEntryVenue):
    """Bitfinex v2 (see the module docstring).

    Parameters
    ----------
    credentials : Credentials, optional
        ``api_key`` and ``api_secret``.
    margin : bool
        Trade on margin (``LIMIT``) instead of the exchange wallet (``EXCHANGE LIMIT``).
    length : str
        Book depth per side (``"25"``, ``"100"``, ``"250"``).
    trades : bool
        Subscribe ``trades`` too.
    """

    name = "bitfinex"
    sync_rule = "bitfinex"
    check_valid = True     # "cs" checksums: the engine's verdict resyncs a book
    default_ws_url = PUBLIC_URL
    default_rest_url = REST_URL
    default_private_url = PRIVATE_URL

    def __init__(self, *, margin: bool = False, length: str = "100", trades: bool = True,
                 credentials: Credentials | None = None, **kwargs: Any) -> None:
        if not isinstance(margin, bool):
            raise TypeError("bitfinex: margin must be a bool")
        check_str("bitfinex", "length", length)
        super().__init__(credentials=credentials, **kwargs)
        self.margin = margin
        self.length = length
        self.trades = trades
        self._nonce = itertools.count(time.time_ns() // 1000)
        self._cid_seq = itertools.count(time.time_ns() // 1_000_000 % (1 << 40))
        self.bfx_cid: dict[str, tuple[int, str]] = {}     # client order id -> (cid, cid_date)
        self._by_bfx_cid: dict[int, str] = {}
        self._book_chan: dict[str, int] = {}

    def default_rate_limits(self) -> RateLimiter:
        # Bitfinex: authenticated REST writes ~90 per minute per endpoint family; websocket
        # subscriptions 20 per minute per connection; order operations 1000 per minute
        return RateLimiter([Bucket("ORDERS", 1000, 60.0), Bucket("REST", 90, 60.0),
                            Bucket("SUBSCRIPTIONS", 20, 60.0)])

    # -- market data -----------------------------------------------------------------------------
    def md_url(self) -> str:
        return self.ws_url

    def md_ping(self) -> dict[str, Any]:
        return {"ping_message": _PING, "pong_contains": b'"event":"pong"'}

    def private_ping(self) -> dict[str, Any]:
        return {"ping_message": _PING, "pong_contains": b'"event":"pong"'}

    def _book_sub(self, symbol: str) -> bytes:
        return orjson.dumps({"event": "subscribe", "channel": "book", "symbol": symbol,
                             "prec": "P0", "freq": "F0", "len": self.length})

    def md_subscriptions(self) -> list[bytes]:
        out = [orjson.dumps({"event": "conf", "flags": CONF_FLAGS})]
        for inst in self.instruments:
            out.append(self._book_sub(inst.symbol))
            if self.trades:
                out.append(orjson.dumps({"event": "subscribe", "channel": "trades",
                                         "symbol": inst.symbol}))
        return out

    def on_md_control(self, kind: int, data: bytes, ts: int) -> None:
        if b'"subscribed"' in data and b'"book"' in data:
            try:
                obj = orjson.loads(data)
                self._book_chan[str(obj["symbol"])] = int(obj["chanId"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass

    async def resync(self, index: int) -> None:
        """Unsubscribe and subscribe the book again (a snapshot comes first)."""
        assert self.engine is not None
        sym = self.engine.instruments[index].symbol
        msgs = [self._book_sub(sym)]
        chan = self._book_chan.pop(sym, None)
        if chan is not None:
            msgs.insert(0, orjson.dumps({"event": "unsubscribe", "chanId": chan}))
        await self.resubscribe(index, msgs)

    # -- the authenticated websocket -------------------------------------------------------------
    async def login(self, conn: Connection) -> None:
        key, secret, _ = self.creds()
        nonce = str(next(self._nonce))
        payload, sig = sign_ws(secret, nonce)
        resp = await self.expect("auth", conn, orjson.dumps({
            "event": "auth", "apiKey": key, "authSig": sig, "authPayload": payload,
            "authNonce": nonce, "filter": ["trading"]}))
        if resp.get("status") != "OK":
            raise VenueError(f"bitfinex: auth refused: {resp.get('code')} {resp.get('msg')}")

    def on_private(self, data: bytes, ts: int) -> None:
        obj = exact_json(data)
        if isinstance(obj, dict):
            if obj.get("event") == "auth":
                self.answer("auth", obj)
            return
        if not isinstance(obj, list) or len(obj) < 3 or obj[0] != 0:
            return
        kind, payload = obj[1], obj[2]
        if kind in ("on", "ou", "oc"):
            self._on_order(kind, payload, ts)
        elif kind == "os":
            for row in payload:
                self._on_order("on", row, ts)
        elif kind in ("te", "tu"):
            self._on_trade(payload, ts)

    def _cid_from(self, cid: object, oid: object) -> str:
        if isinstance(cid, int) and cid in self._by_bfx_cid:
            return self._by_bfx_cid[cid]
        return self.by_venue_id.get(str(oid), "")

    def _on_order(self, kind: str, row: list[Any], ts: int) -> None:
        cid = self._cid_from(row[2], row[0])
        o = self.order(cid) if cid else None
        if o is None:
            return
        oid = str(row[0])
        status = str(row[13])
        if kind == "on" or (kind == "ou" and not o.acked):
            self.on_new_ok(cid, oid, ts)
        elif kind == "oc" and status.startswith(("CANCELED", "POSTONLY CANCELED",
                                                  "IOC CANCELED", "FOK CANCELED")):
            self.on_canceled(cid, ts)

    def _on_trade(self, t: list[Any], ts: int) -> None:
        cid = self._cid_from(t[11] if len(t) > 11 else None, t[3])
        o = self.order(cid) if cid else None
        if o is None:
            return
        inst = o.instrument
        self.on_fill(cid, str(t[0]), inst.qty(abs(_num(t[4]))), inst.price(_num(t[5])),
                     t[8] == 1, str(t[3]), ts)

    # -- REST order entry ------------------------------------------------------------------------
    async def call(self, api_path: str, body: dict[str, Any]) -> list[Any]:
        """POST ``/{api_path}`` signed; the notification's order rows on ``SUCCESS``."""
        assert self.rest is not None
        key, secret, _ = self.creds()
        text = orjson.dumps(body).decode()
        nonce = str(next(self._nonce))
        headers = {"bfx-apikey": key, "bfx-nonce": nonce, "Content-Type": "application/json",
                   "bfx-signature": sign_rest(secret, api_path, nonce, text)}
        raw = await self.rest.request("POST", "/" + api_path, body=text, headers=headers,
                                      cost={"REST": 1}, max_wait=5.0, ok=(200, 400, 500))
        obj = exact_json(raw)
        if isinstance(obj, list) and obj and obj[0] == "error":
            raise VenueError(f"{obj[1]} {obj[2] if len(obj) > 2 else ''}")
        if not isinstance(obj, list) or len(obj) < 8 or obj[6] != "SUCCESS":
            text = obj[7] if isinstance(obj, list) and len(obj) > 7 else obj
            raise VenueError(f"{obj[6] if isinstance(obj, list) and len(obj) > 6 else ''} "
                             f"{text}")
        rows = obj[4]
        if rows and not isinstance(rows[0], list):
            rows = [rows]
        return list(rows or [])

    async def read(self, api_path: str) -> list[Any]:
        """A signed read (``v2/auth/r/...``): the rows."""
        assert self.rest is not None
        key, secret, _ = self.creds()
        nonce = str(next(self._nonce))
        headers = {"bfx-apikey": key, "bfx-nonce": nonce, "Content-Type": "application/json",
                   "bfx-signature": sign_rest(secret, api_path, nonce, "{}")}
        obj = exact_json(await self.rest.request("POST", "/" + api_path, body="{}",
                                                 headers=headers, cost={"REST": 1},
                                                 max_wait=5.0, ok=(200, 500)))
        if not isinstance(obj, list) or (obj and obj[0] == "error"):
            raise VenueError(f"{api_path}: {obj}")
        return obj

    async def query_order(self, order: Order) -> tuple[str, str] | None:
        """The active orders, then the history, by ``cid``."""
        got = self.bfx_cid.get(order.client_order_id)
        if got is None:
            return None
        for path in ("v2/auth/r/orders", "v2/auth/r/orders/hist"):
            for row in await self.read(path):
                if isinstance(row, list) and len(row) > 13 and row[2] == got[0]:
                    st = str(row[13])
                    return ("open" if st.startswith(("ACTIVE", "PARTIALLY")) else
                            "filled" if st.startswith("EXECUTED") else "canceled", str(row[0]))
        return None

    async def query_fills(self, order: Order, venue_order_id: str
                          ) -> list[tuple[str, int, int, bool]]:
        """``/v2/auth/r/order/{symbol}:{id}/trades``."""
        if not venue_order_id:
            return []
        inst = order.instrument
        rows = await self.read(f"v2/auth/r/order/{inst.symbol}:{venue_order_id}/trades")
        return [(str(t[0]), inst.qty(abs(_num(t[4]))), inst.price(_num(t[5])), t[8] == 1)
                for t in rows if isinstance(t, list) and len(t) > 8]

    def _assign(self, cid: str) -> tuple[int, str]:
        got = self.bfx_cid.get(cid)
        if got is None:
            got = (next(self._cid_seq), datetime.now(UTC).strftime("%Y-%m-%d"))
            self.bfx_cid[cid] = got
            self._by_bfx_cid[got[0]] = cid
        return got

    def send_new(self, order: Order, flags: int) -> None:
        inst = order.instrument
        prefix = "" if self.margin else "EXCHANGE "
        amount = inst.format_qty(order.size, True)
        body: dict[str, Any] = {"symbol": inst.symbol, "cid": self._assign(
            order.client_order_id)[0], "amount": amount if order.side == Side.BUY
            else "-" + amount}
        if flags & SO_MARKET or order.order_type == OrderType.MARKET:
            body["type"] = prefix + "MARKET"
        else:
            body["type"] = prefix + ("IOC" if flags & SO_IOC else "FOK" if flags & SO_FOK
                                     else "LIMIT")
            body["price"] = inst.format_price(order.price, True)
            if flags & SO_POST_ONLY or order.order_type == OrderType.LIMIT_MAKER:
                body["flags"] = POST_ONLY
        self.spawn(self._new(order.client_order_id, body), "bitfinex new")

    async def _new(self, cid: str, body: dict[str, Any]) -> None:
        try:
            rows = await self.call("v2/auth/w/order/submit", body)
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.new_failed(cid, exc)
            return
        self.on_new_ok(cid, str(rows[0][0]) if rows else "")

    def send_cancel(self, order: Order) -> None:
        cid, date = self._assign(order.client_order_id)
        self.spawn(self._cancel(order.client_order_id, {"cid": cid, "cid_date": date}),
                   "bitfinex cancel")

    async def _cancel(self, cid: str, body: dict[str, Any]) -> None:
        try:
            await self.call("v2/auth/w/order/cancel", body)
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.on_cancel_refused(cid, self.error_text(exc))
            return
        self.on_canceled(cid)

    def send_amend(self, order: Order, price: int, size: int) -> None:
        oid = order.venue_order_id
        if not oid:
            raise VenueError("the order has no Bitfinex id yet")
        inst = order.instrument
        amount = inst.format_qty(size, True)
        body = {"id": int(oid), "price": inst.format_price(price, True),
                "amount": amount if order.side == Side.BUY else "-" + amount}
        self.spawn(self._amend(order.client_order_id, price, size, body), "bitfinex amend")

    async def _amend(self, cid: str, price: int, size: int, body: dict[str, Any]) -> None:
        try:
            await self.call("v2/auth/w/order/update", body)
        except (VenueError, RestError, RateLimitExceeded) as exc:
            self.on_replace_refused(cid, self.error_text(exc))
            return
        self.on_replaced(cid, price, size)
