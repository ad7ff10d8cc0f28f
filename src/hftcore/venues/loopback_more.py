"""Loopback servers of HTX, KuCoin, Bitfinex, Deribit and Kraken Futures on 127.0.0.1.

Each speaks its venue's order entry (signed requests checked the venue's way, answers and
private order/fill updates in the venue's shapes) against the simulated exchange of
:mod:`hftcore.venues.loopback`, and replays a recording of the venue's public market data byte
for byte to the clients that subscribe (HTX frames gzip-compressed, as HTX sends them).  The
matcher trades against the replayed book when this build has the venue's decoder; without it
orders rest until :meth:`~hftcore.venues.loopback.LoopbackServer.exchange_fill` or a cancel.

Faults (:class:`~hftcore.venues.loopback.Faults`): ``silent``, ``reject_signature``,
``never_ack``, ``duplicate_fills``, ``ack_delay`` is not used; drop connections with
:meth:`~hftcore.venues.loopback.LoopbackServer.drop_connections`.
"""

from __future__ import annotations

import ast
import base64
import gzip
import hashlib
import hmac
import itertools
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from picows import WSListener, WSMsgType

from hftcore._ext.sim import (
    RSP_ACK,
    RSP_CANCELED,
    RSP_EXPIRED,
    RSP_FILL,
    SO_FOK,
    SO_IOC,
    SO_MARKET,
    SO_POST_ONLY,
)
from hftcore.data.recordings import open_recording
from hftcore.fixed import format as format_fixed
from hftcore.model import Instrument
from hftcore.strategy import Strategy
from hftcore.venues.loopback import (
    LoopbackServer,
    MarketFrame,
    _ServerListener,
    _SOrder,
    received_lines,
)
from hftcore.venues.orderentry import check_str, exact_json
from hftcore.verify import bitfinex_checksum

__all__ = [
    "DEMO_VENUES",
    "AccountLoopback",
    "BitfinexLoopback",
    "DeribitLoopback",
    "HtxLoopback",
    "KrakenFuturesLoopback",
    "KucoinLoopback",
    "Refused",
    "format_order_entry_demo",
    "order_entry_demo",
    "recorded_frames",
    "server_cid",
]

_OPEN = ("NEW", "PARTIALLY_FILLED")


class Refused(Exception):
    """A request the loopback venue refuses: its code and message."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


def recorded_frames(paths: str | Path | Sequence[str | Path],
                    decode: Callable[[bytes], bytes | None] | None = None) -> list[MarketFrame]:
    """Every received message of recordings (``<ts>: <payload>`` lines), in order, as
    :class:`~hftcore.venues.loopback.MarketFrame` (``decode`` turns a payload into the bytes to
    keep, None to drop it)."""
    out: list[MarketFrame] = []
    for ts, body in received_lines(paths):
        payload = decode(body) if decode is not None else body
        if payload is not None:
            out.append(MarketFrame(ts, "", "md", payload))
    out.sort(key=lambda f: f.ts)
    return out


def gunzip_literal(body: bytes) -> bytes | None:
    """An HTX recording line's ``b'...'`` literal, decompressed."""
    try:
        data = ast.literal_eval(body.decode("ascii"))
    except (ValueError, SyntaxError, UnicodeDecodeError):
        return None
    if not isinstance(data, bytes):
        return None
    return gzip.decompress(data)


class _Md(_ServerListener):
    """A market-data client: gets every replayed frame once it subscribed."""

    server: AccountLoopback

    def __init__(self, server: AccountLoopback, path: str) -> None:
        super().__init__(server, path)
        self.subscribed = False

    def connected(self) -> None:
        self.server.md_connected(self)

    def wants(self, frame: MarketFrame) -> bool:
        return self.subscribed

    def on_text(self, data: bytes) -> None:
        self.server.md_request(self, data)

    def send_binary(self, data: bytes) -> None:
        if self.transport is not None and not self.server.faults.silent:
            self.transport.send(WSMsgType.BINARY, data)


class _Private(_ServerListener):
    """A private (order updates / trading) client."""

    server: AccountLoopback

    def __init__(self, server: AccountLoopback, path: str) -> None:
        super().__init__(server, path)
        self.authed = False
        self.subs: set[str] = set()
        self.state: dict[str, Any] = {}

    def connected(self) -> None:
        self.server.private_connected(self)

    def on_text(self, data: bytes) -> None:
        self.server.stats["requests"] += 1
        self.server.private_request(self, data)


class AccountLoopback(LoopbackServer):
    """Base of the five servers: orders by client id, fills with trade ids, private pushes.

    Parameters
    ----------
    instruments : sequence of Instrument
    recording : path or paths, optional
        The venue's recorded market data to replay.
    api_key, api_secret, passphrase : str
        What signed requests must carry.
    """

    private_prefix = "/private"

    def __init__(self, instruments: Sequence[Instrument],
                 recording: str | Path | Sequence[str | Path] | None = None, *,
                 api_key: str = "loopback", api_secret: str = "loopback-secret",
                 passphrase: str = "", **kwargs: Any) -> None:
        for name, v in (("api_key", api_key), ("api_secret", api_secret),
                        ("passphrase", passphrase)):
            check_str(type(self).__name__, name, v)
        if recording is not None and not isinstance(recording, str | Path | list | tuple):
            raise TypeError(f"{type(self).__name__}: recording must be a path or paths")
        frames = self.load_frames(recording) if recording is not None else []
        super().__init__(instruments, frames, **kwargs)
        self.api_key = api_key
        self.api_secret = api_secret
        self.passphrase = passphrase
        self.requests_seen: list[tuple[str, Any]] = []
        self.lose_answers = 0      # the next N new-order answers are lost (HTTP 502 / dropped)

    def load_frames(self, recording: str | Path | Sequence[str | Path]) -> list[MarketFrame]:
        """The market data to replay (subclasses: HTX decompresses)."""
        return recorded_frames(recording)

    def listener_for(self, path: str) -> WSListener | None:
        if path.startswith(self.private_prefix):
            return _Private(self, path)
        return _Md(self, path)

    # -- market data -----------------------------------------------------------------------------
    def md_connected(self, conn: _Md) -> None:
        """A market-data client connected (subclasses: a welcome message)."""

    def md_request(self, conn: _Md, data: bytes) -> None:
        """A market-data client's message (subclasses answer; default: any subscribes)."""
        self.subscribe_md(conn)

    def subscribe_md(self, conn: _Md) -> None:
        """Start sending market data to ``conn``."""
        conn.subscribed = True
        if self.start_on_subscribe:
            self.start_replay()

    # -- private ---------------------------------------------------------------------------------
    def private_connected(self, conn: _Private) -> None:
        """A private client connected (subclasses: a welcome or info message)."""

    def private_request(self, conn: _Private, data: bytes) -> None:
        """A private client's message (subclasses)."""

    def private_clients(self, sub: str = "") -> list[_Private]:
        """Authenticated private clients (subscribed to ``sub`` when given)."""
        return [c for c in list(self._clients) if isinstance(c, _Private) and c.authed
                and (not sub or sub in c.subs)]

    def signature_ok(self, good: str, given: object) -> bool:
        """Compare a signature (and count a bad one); honours ``reject_signature``."""
        ok = (not self.faults.reject_signature and isinstance(given, str)
              and hmac.compare_digest(good.encode(), given.encode()))
        if not ok:
            self.stats["bad_signatures"] += 1
        return ok

    # -- orders ----------------------------------------------------------------------------------
    def inst(self, symbol: object) -> Instrument:
        """The instrument of ``symbol`` or a refusal."""
        i = self.index.get(str(symbol))
        if i is None:
            raise Refused("symbol", f"unknown symbol {symbol}")
        return self.instruments[i]

    def place(self, cid: str, symbol: object, side: int, type_: str, price: int, qty: int,
              flags: int) -> _SOrder:
        """A new order in the matcher, or a refusal."""
        inst = self.inst(symbol)
        old = self.by_cid.get(cid)
        if old is not None and old.status in _OPEN:
            raise Refused("duplicate", f"client order id {cid} is in use")
        if qty <= 0:
            raise Refused("size", "size must be > 0")
        if not flags & SO_MARKET and price <= 0:
            raise Refused("price", "price must be > 0")
        if not self._rate_ok():
            raise Refused("rate", "rate limit exceeded")
        self.requests_seen.append(("new", cid))
        o = self.new_order(cid, inst, side, type_, type_, price, qty, flags)
        if o.status == "REJECTED":
            raise Refused("post_only", "post-only order would take liquidity")
        return o

    def find_any(self, order_id: str) -> _SOrder | None:
        """An order by venue id in any state."""
        return next((o for o in self.orders.values() if str(o.order_id) == order_id), None)

    def lost(self) -> bool:
        """This answer is lost (``lose_answers``: the order was placed all the same)."""
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return True
        return False

    def lookup(self, cid: str) -> _SOrder | None:
        """The last order of client id ``cid`` in any state (None: never placed)."""
        self.stats["queries"] = self.stats.get("queries", 0) + 1
        o = self.by_cid.get(cid)
        return None if o is None or o.status == "REJECTED" else o

    def trades_of(self, cid: str | None = None, order_id: str | None = None
                  ) -> list[dict[str, Any]]:
        """Every trade of an order (by client id or venue id), over amends."""
        self.stats["queries"] = self.stats.get("queries", 0) + 1
        return [t for o in self.orders.values()
                if (cid and o.cid == cid) or (order_id and str(o.order_id) == str(order_id))
                for t in o.trades]

    def find(self, cid: str | None = None, order_id: str | None = None) -> _SOrder:
        """An open order by client id or venue id, or a refusal."""
        o = None
        if cid:
            o = self.by_cid.get(cid)
        elif order_id:
            o = next((x for x in self.by_cid.values() if str(x.order_id) == str(order_id)), None)
        if o is None or o.status not in _OPEN:
            raise Refused("not_found", "order not found or not open")
        return o

    def cancel_open(self, o: _SOrder) -> None:
        """Cancel an open order."""
        self.requests_seen.append(("cancel", o.cid))
        self.cancel_order(o)

    def amend_open(self, o: _SOrder, price: int, qty: int) -> _SOrder:
        """Replace an open order's price and total size (same ids); a refusal when the size is
        not above what is filled."""
        if qty <= o.filled:
            raise Refused("size", "the new size must exceed the filled size")
        self.requests_seen.append(("amend", o.cid))
        self._quiet.add(o.handle)
        self.matcher.cancel(o.handle, o.slot, o.index)
        self._quiet.discard(o.handle)
        del self.orders[o.handle]
        n = self.new_order(o.cid, o.inst, o.side, o.type, o.tif, price, qty - o.filled, o.flags)
        n.order_id, n.trades, n.qty, n.filled = o.order_id, o.trades, qty, o.filled
        if o.filled and n.status == "NEW":
            n.status = "PARTIALLY_FILLED"
        return n

    def on_order_event(self, o: _SOrder, kind: int, price: int, qty: int, aux: int,
                       ts: int) -> None:
        trade = None
        if kind == RSP_FILL:
            inst = o.inst
            trade = {"id": str(next(self._trade_ids)), "qty": format_fixed(qty, inst.size_decimals),
                     "price": format_fixed(price, inst.price_decimals), "maker": aux == 0,
                     "order_id": str(o.order_id)}
            o.trades.append(trade)
            for _ in range(2 if self.faults.duplicate_fills else 1):
                self.push(o, "fill", trade)
        elif kind == RSP_ACK:
            if not o.hidden_ack:
                self.push(o, "new", None)
        elif kind in (RSP_CANCELED, RSP_EXPIRED):
            self.push(o, "canceled", None)

    def push(self, o: _SOrder, event: str, trade: dict[str, Any] | None) -> None:
        """Send a private update of ``o`` (``new``, ``fill``, ``canceled``) in the venue's
        format (subclasses)."""

    def text(self, o: _SOrder, raw: int, size: bool = False) -> str:
        """A raw price (or size) of ``o``'s instrument as the venue's decimal text."""
        return o.inst.format_qty(raw, True) if size else o.inst.format_price(raw, True)


def flags_of(type_: str) -> int:
    """The simulator flags of an order type word (``market``, ``post``, ``ioc``, ``fok``)."""
    return {"market": SO_MARKET, "post": SO_POST_ONLY, "ioc": SO_IOC, "fok": SO_FOK}.get(type_, 0)


# -- Kraken Futures -------------------------------------------------------------------------------

def _kf_authent(secret_b64: str, message: str) -> str:
    digest = hashlib.sha256(message.encode()).digest()
    return base64.b64encode(hmac.new(base64.b64decode(secret_b64), digest,
                                     hashlib.sha512).digest()).decode()


class KrakenFuturesLoopback(AccountLoopback):
    """Kraken Futures: ``/derivatives/api/v3/sendorder|cancelorder|editorder`` (``APIKey``,
    ``Nonce``, ``Authent`` checked), the websocket ``challenge`` and the private ``open_orders``
    and ``fills`` feeds, and the public feeds replayed from a recording."""

    venue = "kraken_futures"
    private_prefix = "/ws/v1/private"

    def rest_routes(self, app: web.Application) -> None:
        for ep in ("sendorder", "cancelorder", "editorder", "orders/status"):
            app.router.add_post(f"/derivatives/api/v3/{ep}", self._rest)
        app.router.add_get("/derivatives/api/v3/fills", self._rest)

    def md_request(self, conn: _Md, data: bytes) -> None:
        try:
            req = orjson.loads(data)
        except orjson.JSONDecodeError:
            conn.send(b'{"event":"error","message":"Json Error"}')
            return
        if req.get("event") == "subscribe":
            conn.send(orjson.dumps({"event": "subscribed", "feed": req.get("feed"),
                                    "product_ids": req.get("product_ids")}))
            if req.get("feed") != "heartbeat":
                self.subscribe_md(conn)

    def private_request(self, conn: _Private, data: bytes) -> None:
        try:
            req = orjson.loads(data)
        except orjson.JSONDecodeError:
            conn.send(b'{"event":"error","message":"Json Error"}')
            return
        ev = req.get("event")
        if ev == "challenge":
            if req.get("api_key") != self.api_key:
                conn.send(b'{"event":"error","message":"Invalid API key"}')
                return
            conn.state["challenge"] = str(uuid.uuid4())
            conn.send(orjson.dumps({"event": "challenge", "message": conn.state["challenge"]}))
        elif ev == "subscribe":
            ch = conn.state.get("challenge")
            good = _kf_authent(self.api_secret, ch) if ch else ""
            if (ch is None or req.get("original_challenge") != ch
                    or not self.signature_ok(good, req.get("signed_challenge"))):
                conn.send(b'{"event":"error","message":"Invalid challenge"}')
                return
            conn.authed = True
            feed = str(req.get("feed"))
            conn.subs.add(feed)
            conn.send(orjson.dumps({"event": "subscribed", "feed": feed}))
            conn.send(orjson.dumps({"feed": f"{feed}_snapshot", "orders" if feed ==
                                    "open_orders" else "fills": []}))

    async def _rest(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        body = await request.text() if request.method == "POST" else \
            request.rel_url.raw_query_string
        path = request.path.removeprefix("/derivatives")
        h = request.headers
        if h.get("APIKey") != self.api_key or not self.signature_ok(
                _kf_authent(self.api_secret, body + h.get("Nonce", "") + path),
                h.get("Authent")):
            return web.json_response({"result": "error", "error": "authenticationError",
                                      "serverTime": _iso_now()})
        a = dict(urllib.parse.parse_qsl(body))
        ep = path.rsplit("/", 1)[1]
        if ep == "fills":
            self.stats["queries"] = self.stats.get("queries", 0) + 1
            trades = {t["id"]: (o, t) for o in list(self.orders.values()) for t in o.trades}
            rows = [f'{{"fill_id":"{t["id"]}","symbol":"{o.inst.symbol}",'
                    f'"side":"{"buy" if o.side == 0 else "sell"}","order_id":"{o.order_id}",'
                    f'"cliOrdId":"{o.cid}","size":{t["qty"]},"price":{t["price"]},'
                    f'"fillType":"{"maker" if t["maker"] else "taker"}"}}'
                    for o, t in trades.values()]
            text = (f'{{"result":"success","serverTime":"{_iso_now()}","fills":['
                    + ",".join(rows) + "]}")
            return web.Response(text=text, content_type="application/json")
        if ep == "sendorder":
            answer = self._kf_send(a)
            if self.lost():
                return web.Response(status=502, text="Bad Gateway")
            return web.json_response(answer)
        if ep == "status":
            o = self.lookup(a.get("cliOrdIds", ""))
            found: list[dict[str, Any]] = []
            if o is not None:
                found.append({"order": {"orderId": str(o.order_id), "cliOrdId": o.cid},
                              "status": {"NEW": "ENTERED_BOOK", "PARTIALLY_FILLED":
                                         "ENTERED_BOOK", "FILLED": "FULLY_EXECUTED"
                                         }.get(o.status, "CANCELLED")})
            return web.json_response({"result": "success", "serverTime": _iso_now(),
                                      "orders": found})
        if ep == "cancelorder":
            try:
                o = self.find(a.get("cliOrdId"), a.get("order_id"))
            except Refused:
                return web.json_response({"result": "success", "serverTime": _iso_now(),
                                          "cancelStatus": {"status": "notFound"}})
            self.cancel_open(o)
            return web.json_response({"result": "success", "serverTime": _iso_now(),
                                      "cancelStatus": {"status": "cancelled",
                                                       "order_id": str(o.order_id),
                                                       "cliOrdId": o.cid}})
        try:
            o = self.find(a.get("cliOrdId"), a.get("orderId"))
        except Refused:
            return web.json_response({"result": "success", "serverTime": _iso_now(),
                                      "editStatus": {"status": "orderForEditNotFound"}})
        try:
            price = o.inst.price(a["limitPrice"]) if "limitPrice" in a else o.price
            qty = o.inst.qty(a["size"]) if "size" in a else o.qty
            n = self.amend_open(o, price, qty)
        except (Refused, ValueError):
            return web.json_response({"result": "success", "serverTime": _iso_now(),
                                      "editStatus": {"status": "invalidSize"}})
        return web.json_response({"result": "success", "serverTime": _iso_now(),
                                  "editStatus": {"status": "edited",
                                                 "orderId": str(n.order_id)}})

    def _kf_send(self, a: dict[str, str]) -> dict[str, Any]:
        ot = a.get("orderType", "lmt")
        try:
            inst = self.inst(a.get("symbol"))
            flags = {"mkt": SO_MARKET, "post": SO_POST_ONLY, "ioc": SO_IOC}.get(ot, 0)
            price = inst.price(a["limitPrice"]) if "limitPrice" in a else 0
            o = self.place(a.get("cliOrdId", ""), inst.symbol,
                           0 if a.get("side") == "buy" else 1, ot, price, inst.qty(a["size"]),
                           flags)
        except Refused as exc:
            status = {"duplicate": "clientOrderIdAlreadyExist", "post_only": "postWouldExecute",
                      "rate": "apiLimitExceeded"}.get(exc.code, "invalidSize")
            if exc.code == "rate":
                return {"result": "error", "error": "apiLimitExceeded",
                        "serverTime": _iso_now()}
            return {"result": "success", "serverTime": _iso_now(),
                    "sendStatus": {"status": status, "cliOrdId": a.get("cliOrdId")}}
        except (KeyError, ValueError):
            return {"result": "success", "serverTime": _iso_now(),
                    "sendStatus": {"status": "invalidSize", "cliOrdId": a.get("cliOrdId")}}
        status = {"NEW": "placed", "PARTIALLY_FILLED": "partiallyFilled",
                  "FILLED": "filled"}.get(o.status, "cancelled")
        if o.hidden_ack:
            status = "placed"
        return {"result": "success", "serverTime": _iso_now(),
                "sendStatus": {"order_id": str(o.order_id), "cliOrdId": o.cid,
                               "status": status, "receivedTime": _iso_now()}}

    def push(self, o: _SOrder, event: str, trade: dict[str, Any] | None) -> None:
        # prices and sizes are JSON numbers here, written from the exact decimal text
        if event == "fill" and trade is not None:
            msg = (f'{{"feed":"fills","username":"loopback","fills":[{{"instrument":'
                   f'"{o.inst.symbol}","time":{time.time_ns() // 1_000_000},'
                   f'"price":{trade["price"]},"seq":{trade["id"]},'
                   f'"buy":{"true" if o.side == 0 else "false"},"qty":{trade["qty"]},'
                   f'"order_id":"{o.order_id}","cli_ord_id":"{o.cid}","fill_id":"{trade["id"]}",'
                   f'"fill_type":"{"maker" if trade["maker"] else "taker"}"}}]}}').encode()
            for c in self.private_clients("fills"):
                c.send(msg)
            return
        if event == "new":
            msg = (f'{{"feed":"open_orders","order":{{"instrument":"{o.inst.symbol}",'
                   f'"time":{o.time_ms},"last_update_time":{o.time_ms},'
                   f'"qty":{self.text(o, o.qty, True)},"filled":{self.text(o, o.filled, True)},'
                   f'"limit_price":{self.text(o, o.price)},"stop_price":0.0,"type":"limit",'
                   f'"order_id":"{o.order_id}","cli_ord_id":"{o.cid}","direction":{o.side},'
                   f'"reduce_only":false}},"is_cancel":false,'
                   f'"reason":"new_placed_order_by_user"}}').encode()
        else:
            msg = orjson.dumps({"feed": "open_orders", "order_id": str(o.order_id),
                                "cli_ord_id": o.cid, "is_cancel": True,
                                "reason": "cancelled_by_user"})
        for c in self.private_clients("open_orders"):
            c.send(msg)


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


# -- HTX ------------------------------------------------------------------------------------------

class _HtxMd(_Md):
    """HTX's public websocket: every frame gzip-compressed binary."""

    def send(self, data: bytes) -> None:
        self.send_binary(gzip.compress(data))


class HtxLoopback(AccountLoopback):
    """HTX spot: ``/v1/order/orders/place``, ``/v1/order/orders/submitCancelClientOrder`` and
    ``/v1/account/accounts`` (signature version 2 checked), the private ``/ws/v2`` (``auth`` at
    signature version 2.1, ``orders#<symbol>``, ``ping`` actions) and the public ``/ws`` replaying
    a recording gzip-compressed, with a ``{"ping": n}`` that must be answered."""

    venue = "htx"
    private_prefix = "/ws/v2"
    account_id = "100009"

    def load_frames(self, recording: str | Path | Sequence[str | Path]) -> list[MarketFrame]:
        return recorded_frames(recording, gunzip_literal)

    def listener_for(self, path: str) -> WSListener | None:
        if path.startswith(self.private_prefix):
            return _Private(self, path)
        return _HtxMd(self, path)

    def md_request(self, conn: _Md, data: bytes) -> None:
        try:
            req = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if "pong" in req:
            self.stats["pings"] += 1
            return
        if "sub" in req:
            conn.send(orjson.dumps({"id": req.get("id"), "status": "ok", "subbed": req["sub"],
                                    "ts": time.time_ns() // 1_000_000}))
            if not conn.subscribed:
                conn.send(orjson.dumps({"ping": time.time_ns() // 1_000_000}))
            self.subscribe_md(conn)

    def rest_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/order/orders/place", self._rest)
        app.router.add_post("/v1/order/orders/submitCancelClientOrder", self._rest)
        app.router.add_get("/v1/account/accounts", self._rest)
        app.router.add_get("/v1/order/orders/getClientOrder", self._rest)
        app.router.add_get("/v1/order/orders/{oid}/matchresults", self._rest)

    def _signed(self, method: str, host: str, path: str, params: dict[str, str],
                sig: object) -> bool:
        text = f"{method}\n{host.lower()}\n{path}\n" + "&".join(
            f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
            for k, v in sorted(params.items()))
        good = base64.b64encode(hmac.new(self.api_secret.encode(), text.encode(),
                                         hashlib.sha256).digest()).decode()
        return self.signature_ok(good, sig)

    async def _rest(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        q = dict(urllib.parse.parse_qsl(request.rel_url.raw_query_string))
        sig = q.pop("Signature", None)
        if q.get("AccessKeyId") != self.api_key or not self._signed(
                request.method, request.host, request.path, q, sig):
            return web.json_response({"status": "error", "err-code": "api-signature-not-valid",
                                      "err-msg": "Signature not valid", "data": None})
        if request.path.endswith("/matchresults"):
            return web.json_response({"status": "ok", "data": [
                {"id": int(t["id"]), "trade-id": int(t["id"]), "order-id": int(t["order_id"]),
                 "price": t["price"], "filled-amount": t["qty"],
                 "role": "maker" if t["maker"] else "taker"}
                for t in self.trades_of(order_id=request.match_info["oid"])]})
        if request.path.endswith("/getClientOrder"):
            o = self.lookup(q.get("clientOrderId", ""))
            if o is None:
                return web.json_response({"status": "error", "err-code": "base-record-invalid",
                                          "err-msg": "record invalid", "data": None})
            return web.json_response({"status": "ok", "data": {
                "id": o.order_id, "client-order-id": o.cid, "state": {
                    "NEW": "submitted", "PARTIALLY_FILLED": "partial-filled",
                    "FILLED": "filled"}.get(o.status, "canceled")}})
        if request.path == "/v1/account/accounts":
            return web.json_response({"status": "ok", "data": [
                {"id": int(self.account_id), "type": "spot", "subtype": "", "state": "working"}]})
        body = orjson.loads(await request.read() or b"{}")
        try:
            if request.path.endswith("/place"):
                if str(body.get("account-id")) != self.account_id:
                    raise Refused("account-frozen-account-inexistent-error", "no such account")
                side_s, _, kind = str(body.get("type", "")).partition("-")
                inst = self.inst(body.get("symbol"))
                flags = flags_of({"market": "market", "limit-maker": "post", "ioc": "ioc",
                                  "limit-fok": "fok"}.get(kind, ""))
                o = self.place(str(body.get("client-order-id", "")), inst.symbol,
                               0 if side_s == "buy" else 1, kind,
                               inst.price(body["price"]) if "price" in body else 0,
                               inst.qty(body["amount"]), flags)
                if self.lost():
                    return web.Response(status=502, text="Bad Gateway")
                return web.json_response({"status": "ok", "data": str(o.order_id)})
            o = self.find(str(body.get("client-order-id", "")))
            self.cancel_open(o)
            return web.json_response({"status": "ok", "data": 10})
        except Refused as exc:
            code = {"duplicate": "client-order-id-duplicate", "post_only":
                    "order-limitorder-post-only-cannot-fill", "rate": "api-limit-exceeded",
                    "not_found": "order-orderstate-error"}.get(exc.code, exc.code)
            return web.json_response({"status": "error", "err-code": code, "err-msg": exc.msg,
                                      "data": None})
        except (KeyError, ValueError) as exc:
            return web.json_response({"status": "error", "err-code": "invalid-parameter",
                                      "err-msg": str(exc), "data": None})

    def private_connected(self, conn: _Private) -> None:
        conn.send(orjson.dumps({"action": "ping", "data": {"ts": time.time_ns() // 1_000_000}}))

    def private_request(self, conn: _Private, data: bytes) -> None:
        try:
            req = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        action, ch = req.get("action"), req.get("ch")
        if action == "pong":
            self.stats["pings"] += 1
        elif action == "req" and ch == "auth":
            p = dict(req.get("params") or {})
            p.pop("authType", None)
            sig = p.pop("signature", None)
            if p.get("accessKey") != self.api_key or not self._signed(
                    "GET", f"{self.host}:{self.ws_port}", conn.path, p, sig):
                conn.send(b'{"action":"req","code":2002,"ch":"auth",'
                          b'"message":"auth.fail"}')
                return
            conn.authed = True
            conn.send(b'{"action":"req","code":200,"ch":"auth","data":{}}')
        elif action == "sub" and conn.authed:
            conn.subs.add(str(ch))
            conn.send(orjson.dumps({"action": "sub", "code": 200, "ch": ch, "data": {}}))

    def push(self, o: _SOrder, event: str, trade: dict[str, Any] | None) -> None:
        d: dict[str, Any] = {"symbol": o.inst.symbol.lower(), "orderId": o.order_id,
                             "clientOrderId": o.cid, "orderSide": "buy" if o.side == 0
                             else "sell", "orderPrice": self.text(o, o.price),
                             "orderSize": self.text(o, o.qty, True), "type": o.type}
        if event == "new":
            d.update(eventType="creation", orderStatus="submitted",
                     orderCreateTime=o.time_ms)
        elif event == "fill" and trade is not None:
            d.update(eventType="trade", tradePrice=trade["price"], tradeVolume=trade["qty"],
                     tradeId=int(trade["id"]), aggressor=not trade["maker"],
                     orderStatus="filled" if o.status == "FILLED" else "partial-filled",
                     remainAmt=self.text(o, o.qty - o.filled, True),
                     tradeTime=time.time_ns() // 1_000_000)
        else:
            d.update(eventType="cancellation", orderStatus="canceled",
                     remainAmt=self.text(o, o.qty - o.filled, True),
                     lastActTime=time.time_ns() // 1_000_000)
        ch = f"orders#{o.inst.symbol.lower()}"
        msg = orjson.dumps({"action": "push", "ch": ch, "data": d})
        for c in self.private_clients(ch):
            c.send(msg)


# -- KuCoin ---------------------------------------------------------------------------------------

def _kc_b64(secret: str, msg: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), msg.encode(), hashlib.sha256).digest()
                            ).decode()


class _KcMd(_Md):
    def connected(self) -> None:
        self.send(orjson.dumps({"id": "welcome", "type": "welcome"}))


class _KcPrivate(_Private):
    def connected(self) -> None:
        self.authed = True
        self.send(orjson.dumps({"id": "welcome", "type": "welcome"}))


class KucoinLoopback(AccountLoopback):
    """KuCoin spot: ``bullet-public``/``bullet-private`` tokens (the private one signed, key
    version 2: ``KC-API-*`` headers checked), the HF order endpoints, the private
    ``/spotMarket/tradeOrdersV2`` topic, ``ping`` answered ``pong``, the level-2 REST snapshots
    of a recording and its stream replayed."""

    venue = "kucoin"

    def __init__(self, instruments: Sequence[Instrument],
                 recording: str | Path | Sequence[str | Path] | None = None, *,
                 rest_snapshots: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(instruments, recording, **kwargs)
        self.snapshots: dict[str, bytes] = {}
        self.tokens: dict[str, bool] = {}            # token -> private
        if rest_snapshots is not None:
            with open_recording(rest_snapshots) as fh:
                for raw in fh:
                    url, sep, rest = raw.rstrip(b"\r\n").partition(b" -> ")
                    if not sep:
                        continue
                    sym = urllib.parse.parse_qs(urllib.parse.urlsplit(url.decode()).query
                                                ).get("symbol", [""])[0]
                    self.snapshots.setdefault(sym, rest.partition(b": ")[2])

    def listener_for(self, path: str) -> WSListener | None:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        token = q.get("token", [""])[0]
        if token not in self.tokens:
            return None
        return _KcPrivate(self, path) if self.tokens[token] else _KcMd(self, path)

    def _auth_ok(self, request: web.Request, body: str) -> bool:
        h = request.headers
        endpoint = request.path + (f"?{request.rel_url.raw_query_string}"
                                   if request.rel_url.raw_query_string else "")
        good = _kc_b64(self.api_secret, h.get("KC-API-TIMESTAMP", "") + request.method +
                       endpoint + body)
        return (h.get("KC-API-KEY") == self.api_key and h.get("KC-API-KEY-VERSION") == "2"
                and h.get("KC-API-PASSPHRASE") == _kc_b64(self.api_secret, self.passphrase)
                and self.signature_ok(good, h.get("KC-API-SIGN")))

    def rest_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/bullet-public", self._bullet)
        app.router.add_post("/api/v1/bullet-private", self._bullet)
        app.router.add_post("/api/v1/hf/orders", self._rest)
        app.router.add_post("/api/v1/hf/orders/alter", self._rest)
        app.router.add_delete("/api/v1/hf/orders/client-order/{cid}", self._rest)
        app.router.add_get("/api/v1/hf/orders/client-order/{cid}", self._rest)
        app.router.add_get("/api/v1/hf/fills", self._rest)
        app.router.add_get("/api/v1/market/orderbook/level2_100", self._snapshot)
        app.router.add_get("/api/v3/market/orderbook/level2", self._snapshot)

    async def _bullet(self, request: web.Request) -> web.Response:
        private = request.path.endswith("private")
        if private and not self._auth_ok(request, await request.text()):
            return web.json_response({"code": "400005", "msg": "Invalid KC-API-SIGN"},
                                     status=401)
        token = f"{'priv' if private else 'pub'}-{uuid.uuid4().hex}"
        self.tokens[token] = private
        return web.json_response({"code": "200000", "data": {"token": token, "instanceServers": [
            {"endpoint": self.ws_url + "/endpoint", "encrypt": False, "protocol": "websocket",
             "pingInterval": 18000, "pingTimeout": 10000}]}})

    async def _snapshot(self, request: web.Request) -> web.Response:
        self.stats["snapshots"] += 1
        body = self.snapshots.get(request.query.get("symbol", ""))
        if body is None:
            return web.json_response({"code": "400100", "msg": "symbol not found"})
        return web.Response(body=body, content_type="application/json")

    async def _rest(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        text = await request.text()
        if not self._auth_ok(request, text):
            return web.json_response({"code": "400005", "msg": "Invalid KC-API-SIGN"},
                                     status=401)
        try:
            if request.path.endswith("/fills"):
                return web.json_response({"code": "200000", "data": {"items": [
                    {"tradeId": t["id"], "orderId": t["order_id"], "price": t["price"],
                     "size": t["qty"], "liquidity": "maker" if t["maker"] else "taker"}
                    for t in self.trades_of(order_id=request.query.get("orderId", ""))]}})
            if request.method == "GET":
                o = self.lookup(urllib.parse.unquote(request.match_info["cid"]))
                if o is None:
                    return web.json_response({"code": "400100", "msg": "order not exist."})
                return web.json_response({"code": "200000", "data": {
                    "id": str(o.order_id), "clientOid": o.cid,
                    "active": o.status in _OPEN, "cancelExist": o.status in ("CANCELED",
                                                                              "EXPIRED")}})
            if request.method == "DELETE":
                o = self.find(urllib.parse.unquote(request.match_info["cid"]))
                self.cancel_open(o)
                return web.json_response({"code": "200000", "data": {"clientOid": o.cid}})
            b = orjson.loads(text or b"{}")
            inst = self.inst(b.get("symbol"))
            if request.path.endswith("/alter"):
                o = self.find(str(b.get("clientOid", "")))
                n = self.amend_open(o, inst.price(b.get("newPrice")) if "newPrice" in b
                                    else o.price,
                                    inst.qty(b.get("newSize")) if "newSize" in b else o.qty)
                return web.json_response({"code": "200000", "data": {
                    "newOrderId": str(n.order_id), "clientOid": n.cid}})
            tif = str(b.get("timeInForce", "GTC"))
            flags = (flags_of("market") if b.get("type") == "market" else
                     flags_of("post") if b.get("postOnly") else
                     flags_of({"IOC": "ioc", "FOK": "fok"}.get(tif, "")))
            o = self.place(str(b.get("clientOid", "")), inst.symbol,
                           0 if b.get("side") == "buy" else 1, str(b.get("type", "limit")),
                           inst.price(b["price"]) if "price" in b else 0, inst.qty(b["size"]),
                           flags)
            if self.lost():
                return web.Response(status=502, text="Bad Gateway")
            return web.json_response({"code": "200000", "data": {"orderId": str(o.order_id),
                                                                 "clientOid": o.cid}})
        except Refused as exc:
            code = {"rate": "429000", "not_found": "400100"}.get(exc.code, "400100")
            return web.json_response({"code": code, "msg": f"{exc.code}: {exc.msg}"})
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"code": "400100", "msg": f"bad parameter: {exc}"})

    def _kc_control(self, conn: _ServerListener, data: bytes) -> dict[str, Any] | None:
        try:
            req = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        if req.get("type") == "ping":
            self.stats["pings"] += 1
            conn.send(orjson.dumps({"id": req.get("id"), "type": "pong"}))
            return None
        if req.get("type") == "subscribe":
            conn.send(orjson.dumps({"id": req.get("id"), "type": "ack"}))
            return dict(req)
        return None

    def md_request(self, conn: _Md, data: bytes) -> None:
        if self._kc_control(conn, data) is not None:
            self.subscribe_md(conn)

    def private_request(self, conn: _Private, data: bytes) -> None:
        req = self._kc_control(conn, data)
        if req is not None:
            conn.subs.add(str(req.get("topic")))

    def push(self, o: _SOrder, event: str, trade: dict[str, Any] | None) -> None:
        d: dict[str, Any] = {"symbol": o.inst.symbol, "orderType": o.type,
                             "side": "buy" if o.side == 0 else "sell",
                             "orderId": str(o.order_id), "clientOid": o.cid,
                             "price": self.text(o, o.price), "size": self.text(o, o.qty, True),
                             "filledSize": self.text(o, o.filled, True),
                             "remainSize": self.text(o, o.qty - o.filled, True),
                             "orderTime": o.time_ms * 1_000_000, "ts": time.time_ns()}
        if event == "new":
            d.update(type="open", status="open")
        elif event == "fill" and trade is not None:
            d.update(type="match", status="match", matchPrice=trade["price"],
                     matchSize=trade["qty"], tradeId=trade["id"],
                     liquidity="maker" if trade["maker"] else "taker")
        else:
            d.update(type="canceled", status="done")
        msg = orjson.dumps({"type": "message", "topic": "/spotMarket/tradeOrdersV2",
                            "subject": "orderChange", "channelType": "private", "data": d})
        for c in self.private_clients("/spotMarket/tradeOrdersV2"):
            c.send(msg)


# -- Bitfinex -------------------------------------------------------------------------------------

class _Num(str):
    """Decimal text written as a JSON number."""


def _json_numbers(x: Any) -> str:
    """JSON text where :class:`_Num` strings become numbers (exact, no float)."""
    if isinstance(x, _Num):
        return str(x)
    if isinstance(x, list):
        return "[" + ",".join(_json_numbers(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ",".join(f"{orjson.dumps(str(k)).decode()}:{_json_numbers(v)}"
                              for k, v in x.items()) + "}"
    return orjson.dumps(x).decode()


_BFX_SEQ = 65536          # conf flags: a sequence number on every message of the connection
_BFX_CHECKSUM = 131072    # conf flags: a "cs" book checksum after every book message


def _decimal_int(d: Decimal) -> tuple[int, int]:
    """``d`` as ``(count, decimals)``: exact."""
    exp = int(d.as_tuple().exponent)
    k = max(0, -exp)
    return int(d.scaleb(k)), k


class _BfxBook:
    """One Bitfinex P0 book as the server keeps it: price -> (count, amount), asks' amounts
    negative, as the venue writes them."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids: dict[Decimal, tuple[int, Decimal]] = {}
        self.asks: dict[Decimal, tuple[int, Decimal]] = {}

    def apply(self, level: list[Any]) -> None:
        price, count, amount = Decimal(level[0]), int(level[1]), Decimal(level[2])
        if count == 0:
            (self.bids if amount > 0 else self.asks).pop(price, None)
        else:
            (self.bids if amount > 0 else self.asks)[price] = (count, amount)

    def top(self, n: int) -> tuple[list[tuple[Decimal, int, Decimal]],
                                   list[tuple[Decimal, int, Decimal]]]:
        bids = sorted(self.bids, reverse=True)[:n]
        asks = sorted(self.asks)[:n]
        return ([(p, *self.bids[p]) for p in bids], [(p, *self.asks[p]) for p in asks])

    def checksum(self) -> int:
        """Bitfinex's ``cs`` value of this book (the Python reference of ``verify``)."""
        bids, asks = self.top(25)
        levels = [(p, abs(a)) for p, _, a in bids] + [(p, abs(a)) for p, _, a in asks]
        pd = max((_decimal_int(p)[1] for p, _ in levels), default=0)
        sd = max((_decimal_int(a)[1] for _, a in levels), default=0)
        return bitfinex_checksum(_BfxLevels(bids, asks, pd, sd), pd, sd)


class _BfxLevels:
    """A server book's top levels as integers at common decimals (``levels(side, n)``, what
    the reference checksum reads)."""

    def __init__(self, bids: list[tuple[Decimal, int, Decimal]],
                 asks: list[tuple[Decimal, int, Decimal]], pd: int, sd: int) -> None:
        self.rows = (bids, asks)
        self.pd = pd
        self.sd = sd

    def levels(self, side: int, n: int) -> list[tuple[int, int]]:
        return [(int(p.scaleb(self.pd)), int(abs(a).scaleb(self.sd)))
                for p, _, a in self.rows[side][:n]]


def _num_text(d: Decimal | int) -> _Num:
    return _Num(format(d, "f") if isinstance(d, Decimal) else str(d))


class _BfxMd(_Md):
    """A Bitfinex market-data client: its conf flags, its own sequence numbers, the book
    channels it unsubscribed and the ids of those it subscribed again."""

    def __init__(self, server: AccountLoopback, path: str) -> None:
        super().__init__(server, path)
        self.flags = 0
        self.seq: int | None = None
        self.chan: dict[int, int] = {}       # recorded book channel -> this client's id
        self.dropped: set[int] = set()       # recorded book channels it unsubscribed

    def next_seq(self, recorded: int) -> int:
        self.seq = recorded if self.seq is None else self.seq + 1
        return self.seq


class BitfinexLoopback(AccountLoopback):
    """Bitfinex v2: ``/v2/auth/w/order/submit|cancel|update`` (``bfx-*`` headers checked,
    HMAC-SHA384), the authenticated websocket (``auth``, account channel 0: ``on``/``ou``/
    ``oc``/``te``/``tu``, ``ping`` answered ``pong``, heartbeats) under ``/private``, and a
    recording replayed on the public one.

    The server keeps each recorded book (P0) from the replayed frames.  A client whose ``conf``
    asked for flag 131072 gets ``[chanId,"cs",checksum(,seq)]`` after each book message,
    computed from that book (``Faults.corrupt_checksum``: the symbol's next one is wrong); with
    flag 65536 the client's messages are numbered per connection (the recorded numbers, moved
    on by the checksum messages).  ``unsubscribe`` of a book channel stops its frames to that
    client; subscribing the symbol again answers ``subscribed`` with a new channel id and a
    snapshot of the server's book."""

    venue = "bitfinex"

    def __init__(self, instruments: Sequence[Instrument],
                 recording: str | Path | Sequence[str | Path] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(instruments, recording, **kwargs)
        self.bfx_books: dict[str, _BfxBook] = {}
        self._book_chans: dict[int, str] = {}        # recorded book channel -> symbol
        self._chan_ids = itertools.count(900_001)
        self._cs: tuple[int, int] | None = None       # (recorded channel, checksum) of a frame
        self.stats.update(checksums_sent=0, checksums_corrupted=0, resubscribed=0)
        self.checksums_sent: dict[str, int] = {}      # by symbol

    def listener_for(self, path: str) -> WSListener | None:
        if path.startswith(self.private_prefix):
            return _Private(self, path)
        return _BfxMd(self, path)

    def before_send(self, f: MarketFrame) -> bytes | None:
        self._cs = None
        p = f.payload
        if p[:1] == b"{" and b'"subscribed"' in p and b'"book"' in p:
            try:
                ev = orjson.loads(p)
                self._book_chans[int(ev["chanId"])] = str(ev["symbol"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass
        elif p[:1] == b"[":
            head = p[1:p.find(b",")]
            chan = int(head) if head.strip().isdigit() else -1
            sym = self._book_chans.get(chan)
            if sym is not None:
                try:
                    msg = exact_json(p)
                except ValueError:
                    return super().before_send(f)
                if isinstance(msg, list) and len(msg) >= 2 and isinstance(msg[1], list):
                    book = self.bfx_books.setdefault(sym, _BfxBook())
                    data = msg[1]
                    try:
                        if data and isinstance(data[0], list):      # a snapshot: all or none
                            book = _BfxBook()
                            for lv in data:
                                book.apply(lv)
                            self.bfx_books[sym] = book
                        elif data:
                            book.apply(data)
                    except (TypeError, ValueError, IndexError, ArithmeticError):
                        return super().before_send(f)   # not a level: replayed as it is
                    self._cs = (chan, book.checksum())
        return super().before_send(f)

    def _split(self, payload: bytes) -> tuple[int, bytes, int | None] | None:
        """A channel message as (channel, middle, recorded sequence): ``[chan,middle,seq]``."""
        if payload[:1] != b"[":
            return None
        comma = payload.find(b",")
        end = payload.rstrip().rfind(b"]")
        last = payload.rfind(b",", 0, end)
        try:
            chan = int(payload[1:comma])
            seq = int(payload[last + 1:end])
        except ValueError:
            return None
        if last <= comma:
            return None
        return chan, payload[comma + 1:last], seq

    def _send_channel(self, conn: _BfxMd, chan: int, middle: bytes, seq: int | None) -> None:
        out = b"[" + str(chan).encode() + b"," + middle
        if seq is not None:
            out += b"," + str(conn.next_seq(seq) if conn.flags & _BFX_SEQ else seq).encode()
        conn.send(out + b"]")

    def _send_checksum(self, conn: _BfxMd, chan: int, sym: str, checksum: int) -> None:
        if sym in self.faults.corrupt_checksum:
            self.faults.corrupt_checksum.discard(sym)
            self.stats["checksums_corrupted"] += 1
            checksum = checksum + 1 if checksum < (1 << 31) - 1 else checksum - 1
        self.stats["checksums_sent"] += 1
        self.checksums_sent[sym] = self.checksums_sent.get(sym, 0) + 1
        body = b'"cs",' + str(checksum).encode()
        if conn.flags & _BFX_SEQ:
            self._send_channel(conn, chan, body, (conn.seq or 0) + 1)
        else:
            self._send_channel(conn, chan, body, None)

    def deliver(self, conn: _ServerListener, payload: bytes) -> None:
        parts = self._split(payload) if isinstance(conn, _BfxMd) else None
        if parts is None or not isinstance(conn, _BfxMd):
            conn.send(payload)
            return
        chan, middle, seq = parts
        if chan in conn.dropped:
            return
        mine = conn.chan.get(chan, chan)
        self._send_channel(conn, mine, middle, seq)
        if self._cs is not None and self._cs[0] == chan and conn.flags & _BFX_CHECKSUM:
            self._send_checksum(conn, mine, self._book_chans[chan], self._cs[1])

    def _resubscribe(self, conn: _BfxMd, rec: int, req: dict[str, Any]) -> None:
        sym = self._book_chans[rec]
        new = next(self._chan_ids)
        conn.chan[rec] = new
        conn.dropped.discard(rec)
        self.stats["resubscribed"] += 1
        self.stats["snapshots"] += 1
        length = str(req.get("len", "25"))
        conn.send(orjson.dumps({"event": "subscribed", "channel": "book", "chanId": new,
                                "symbol": sym, "prec": str(req.get("prec", "P0")),
                                "freq": str(req.get("freq", "F0")), "len": length,
                                "pair": sym[1:]}))
        book = self.bfx_books.setdefault(sym, _BfxBook())
        n = int(length) if length.isdigit() else 25
        bids, asks = book.top(n)
        levels = _json_numbers([[_num_text(p), c, _num_text(a)] for p, c, a in bids + asks])
        seq = (conn.seq or 0) + 1 if conn.flags & _BFX_SEQ else None
        self._send_channel(conn, new, levels.encode(), seq)
        if conn.flags & _BFX_CHECKSUM:
            self._send_checksum(conn, new, sym, book.checksum())

    def md_request(self, conn: _Md, data: bytes) -> None:
        if b'"ping"' in data:
            self.stats["pings"] += 1
            conn.send(b'{"event":"pong","cid":1}')
            return
        try:
            req = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(req, dict) or not isinstance(conn, _BfxMd):
            return
        ev = req.get("event")
        if ev == "conf":
            flags = req.get("flags")
            conn.flags = flags if isinstance(flags, int) and not isinstance(flags, bool) else 0
        elif ev == "unsubscribe":
            cid = req.get("chanId")
            for rec in self._book_chans:
                if conn.chan.get(rec, rec) == cid and rec not in conn.dropped:
                    conn.dropped.add(rec)
                    conn.send(orjson.dumps({"event": "unsubscribed", "status": "OK",
                                            "chanId": cid}))
                    break
        elif ev == "subscribe":
            if req.get("channel") == "book":
                for rec, sym in self._book_chans.items():
                    if sym == req.get("symbol") and rec in conn.dropped:
                        self._resubscribe(conn, rec, req)
                        return
            self.subscribe_md(conn)

    def rest_routes(self, app: web.Application) -> None:
        for ep in ("submit", "cancel", "update"):
            app.router.add_post(f"/v2/auth/w/order/{ep}", self._rest)
        app.router.add_post("/v2/auth/r/orders", self._rest)
        app.router.add_post("/v2/auth/r/orders/hist", self._rest)
        app.router.add_post("/v2/auth/r/order/{sym_id}/trades", self._rest)

    def md_connected(self, conn: _Md) -> None:
        conn.send(b'{"event":"info","version":2,"serverId":"loopback","platform":{"status":1}}')

    def private_connected(self, conn: _Private) -> None:
        conn.send(b'{"event":"info","version":2,"serverId":"loopback","platform":{"status":1}}')

    def _row(self, o: _SOrder, status: str) -> list[Any]:
        sign = "" if o.side == 0 else "-"
        left, qty = self.text(o, o.qty - o.filled, True), self.text(o, o.qty, True)
        return [o.order_id, None, int(o.cid), o.inst.symbol, o.time_ms, int(time.time() * 1000),
                _Num(sign + left if left != "0" else "0"), _Num(sign + qty), o.type, None, None,
                None, 0, status, None, None, _Num(self.text(o, o.price)), _Num("0"), 0, 0, None,
                None, None, 0, 0, 0, None, None, "API>BFX", None, None, None]

    async def _rest(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        text = await request.text()
        h = request.headers
        msg = f"/api{request.path}{h.get('bfx-nonce', '')}{text}"
        good = hmac.new(self.api_secret.encode(), msg.encode(), hashlib.sha384).hexdigest()
        if h.get("bfx-apikey") != self.api_key or not self.signature_ok(
                good, h.get("bfx-signature")):
            return web.json_response(["error", 10100, "apikey: invalid"], status=500)
        b = exact_json(text or "{}")
        ep = request.path.rsplit("/", 1)[1]
        now = int(time.time() * 1000)
        if ep == "trades":
            oid = request.match_info["sym_id"].rpartition(":")[2]
            so = self.find_any(oid)
            sign = "-" if so is not None and so.side == 1 else ""
            trows = [[int(t["id"]), so.inst.symbol if so else "", now, int(oid),
                      _Num(sign + t["qty"]), _Num(t["price"]), None, None,
                      1 if t["maker"] else -1, _Num("0"), "USD", int(so.cid) if so else 0]
                     for t in self.trades_of(order_id=oid)]
            return web.Response(text=_json_numbers(trows), content_type="application/json")
        if ep in ("orders", "hist"):
            self.stats["queries"] = self.stats.get("queries", 0) + 1
            want = _OPEN if ep == "orders" else ("FILLED", "CANCELED", "EXPIRED")
            found = [self._row(o, "ACTIVE" if o.status in _OPEN else "EXECUTED" if
                               o.status == "FILLED" else "CANCELED")
                     for o in self.by_cid.values() if o.status in want]
            return web.Response(text=_json_numbers(found), content_type="application/json")
        try:
            if ep == "submit":
                inst = self.inst(b.get("symbol"))
                amount = Decimal(str(b["amount"]))
                kind = str(b.get("type", "EXCHANGE LIMIT")).replace("EXCHANGE ", "").lower()
                flags = flags_of("post" if int(b.get("flags", 0)) & 4096 else
                                 "market" if kind == "market" else kind)
                o = self.place(str(int(b["cid"])), inst.symbol, 0 if amount > 0 else 1,
                               str(b.get("type")), inst.price(str(b["price"])) if "price" in b
                               else 0, inst.qty(abs(amount)), flags)
                rows: Any = [self._row(o, "ACTIVE")]
                req, info = "on-req", "Submitting 1 orders."
                if self.lost():
                    return web.Response(status=502, text="Bad Gateway")
            elif ep == "cancel":
                o = self.find(str(b["cid"])) if "cid" in b else self.find(order_id=str(b["id"]))
                self.cancel_open(o)
                rows, req, info = self._row(o, "CANCELED"), "oc-req", "Submitted for cancellation"
            else:
                o = self.find(order_id=str(b["id"]))
                price = o.inst.price(str(b["price"])) if "price" in b else o.price
                qty = o.inst.qty(abs(Decimal(str(b["amount"])))) if "amount" in b else o.qty
                o = self.amend_open(o, price, qty)
                rows, req, info = self._row(o, "ACTIVE"), "ou-req", "Submitting update"
        except Refused as exc:
            body = _json_numbers([now, "on-req" if ep == "submit" else f"o{ep[0]}-req", None,
                                  None, None, None, "ERROR", f"{exc.code}: {exc.msg}"])
            return web.Response(text=body, content_type="application/json")
        except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
            return web.json_response(["error", 10020, f"invalid parameters: {exc}"], status=500)
        body = _json_numbers([now, req, None, None, rows, None, "SUCCESS", info])
        return web.Response(text=body, content_type="application/json")

    def private_request(self, conn: _Private, data: bytes) -> None:
        try:
            req = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(req, dict):
            return
        ev = req.get("event")
        if ev == "ping":
            self.stats["pings"] += 1
            conn.send(orjson.dumps({"event": "pong", "cid": req.get("cid")}))
        elif ev == "auth":
            payload = str(req.get("authPayload", ""))
            good = hmac.new(self.api_secret.encode(), payload.encode(),
                            hashlib.sha384).hexdigest()
            if (req.get("apiKey") != self.api_key or payload != f"AUTH{req.get('authNonce')}"
                    or not self.signature_ok(good, req.get("authSig"))):
                conn.send(b'{"event":"auth","status":"FAILED","chanId":0,'
                          b'"msg":"apikey: invalid","code":10100}')
                return
            conn.authed = True
            conn.subs.add("account")
            conn.send(b'{"event":"auth","status":"OK","chanId":0,"userId":1}')
            conn.send(b'[0,"os",[]]')
            conn.send(b'[0,"hb"]')

    def push(self, o: _SOrder, event: str, trade: dict[str, Any] | None) -> None:
        if event == "fill" and trade is not None:
            sign = "" if o.side == 0 else "-"
            row: Any = [int(trade["id"]), o.inst.symbol, int(time.time() * 1000), o.order_id,
                        _Num(sign + trade["qty"]), _Num(trade["price"]), o.type,
                        _Num(self.text(o, o.price)), 1 if trade["maker"] else -1, _Num("0"),
                        "USD", int(o.cid)]
            msgs = [_json_numbers([0, "te", [*row[:9], None, None, int(o.cid)]]),
                    _json_numbers([0, "tu", row])]
            if o.status == "FILLED":
                msgs.append(_json_numbers([0, "oc", self._row(o, f"EXECUTED @ {trade['price']}"
                                                                 f"({trade['qty']})")]))
        elif event == "new":
            msgs = [_json_numbers([0, "on", self._row(o, "ACTIVE")])]
        else:
            msgs = [_json_numbers([0, "oc", self._row(o, "CANCELED")])]
        for c in self.private_clients("account"):
            for m in msgs:
                c.send(m.encode())


# -- Deribit --------------------------------------------------------------------------------------

class DeribitLoopback(AccountLoopback):
    """Deribit v2 JSON-RPC: ``public/auth`` (client signature checked), ``public/set_heartbeat``
    followed by a ``test_request`` that must be answered with ``public/test``,
    ``private/subscribe`` to ``user.orders``/``user.trades``, ``private/buy|sell|cancel|
    cancel_by_label|edit``; on the public path, a recording replayed."""

    venue = "deribit"

    def _answer(self, conn: _ServerListener, rid: Any, result: Any = None,
                error: tuple[int, str] | None = None) -> None:
        if error is not None:
            conn.send(orjson.dumps({"jsonrpc": "2.0", "id": rid, "error": {
                "code": error[0], "message": error[1]}}))
        else:
            conn.send(("{" + f'"jsonrpc":"2.0","id":{orjson.dumps(rid).decode()},'
                       f'"result":{_json_numbers(result)}' + "}").encode())

    def _common(self, conn: _ServerListener, req: dict[str, Any]) -> bool:
        """The methods of both paths; True when handled."""
        m, rid, p = req.get("method"), req.get("id"), req.get("params") or {}
        if m == "public/test":
            self.stats["pings"] += 1
            self._answer(conn, rid, {"version": "loopback"})
        elif m == "public/set_heartbeat":
            self._answer(conn, rid, "ok")
            conn.send(b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}')
        elif m == "public/auth":
            good = hmac.new(self.api_secret.encode(), f"{p.get('timestamp')}\n{p.get('nonce')}\n"
                            f"{p.get('data', '')}".encode(), hashlib.sha256).hexdigest()
            if p.get("grant_type") != "client_signature" or p.get("client_id") != \
                    self.api_key or not self.signature_ok(good, p.get("signature")):
                self._answer(conn, rid, error=(13004, "invalid_credentials"))
                return True
            if isinstance(conn, _Private):
                conn.authed = True
            self._answer(conn, rid, {"access_token": "loopback-token", "expires_in": 900,
                                     "refresh_token": "loopback-refresh", "scope": "trade",
                                     "token_type": "bearer"})
        else:
            return False
        return True

    def md_request(self, conn: _Md, data: bytes) -> None:
        try:
            req = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(req, dict) or self._common(conn, req):
            return
        if str(req.get("method", "")).endswith("/subscribe"):
            self._answer(conn, req.get("id"), (req.get("params") or {}).get("channels", []))
            self.subscribe_md(conn)

    def _order_json(self, o: _SOrder) -> dict[str, Any]:
        st = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "filled",
              "CANCELED": "cancelled", "EXPIRED": "cancelled"}.get(o.status, "rejected")
        return {"order_id": str(o.order_id), "label": o.cid, "instrument_name": o.inst.symbol,
                "direction": "buy" if o.side == 0 else "sell", "order_state": st,
                "order_type": o.type, "price": _Num(self.text(o, o.price)),
                "amount": _Num(self.text(o, o.qty, True)),
                "filled_amount": _Num(self.text(o, o.filled, True)),
                "creation_timestamp": o.time_ms, "last_update_timestamp": o.time_ms}

    def private_request(self, conn: _Private, data: bytes) -> None:
        try:
            req = exact_json(data)
        except ValueError:
            return
        if not isinstance(req, dict) or self._common(conn, req):
            return
        m, rid, p = str(req.get("method")), req.get("id"), req.get("params") or {}
        if not conn.authed:
            self._answer(conn, rid, error=(13009, "unauthorized"))
            return
        try:
            if m == "private/subscribe":
                conn.subs.update(p.get("channels") or [])
                self._answer(conn, rid, list(p.get("channels") or []))
            elif m in ("private/buy", "private/sell"):
                inst = self.inst(p.get("instrument_name"))
                flags = flags_of("market" if p.get("type") == "market" else "post" if
                                 p.get("post_only") else {"immediate_or_cancel": "ioc",
                                                          "fill_or_kill": "fok"}.get(
                                     str(p.get("time_in_force")), ""))
                o = self.place(str(p.get("label", "")), inst.symbol,
                               0 if m == "private/buy" else 1, str(p.get("type", "limit")),
                               inst.price(p["price"]) if "price" in p else 0,
                               inst.qty(p["amount"]), flags)
                if self.lost() and conn.transport is not None:
                    conn.transport.disconnect(False)        # the answer is lost with it
                    return
                if not o.hidden_ack:
                    self._answer(conn, rid, {"order": self._order_json(o), "trades": []})
            elif m == "private/get_user_trades_by_order":
                oid = str(p.get("order_id"))
                so = self.find_any(oid)
                self._answer(conn, rid, [
                    {"trade_id": f"ETH-{t['id']}", "order_id": oid, "label": so.cid if so else "",
                     "price": _Num(t["price"]), "amount": _Num(t["qty"]),
                     "liquidity": "M" if t["maker"] else "T"}
                    for t in self.trades_of(order_id=oid)])
            elif m == "private/get_order_state_by_label":
                self.stats["queries"] = self.stats.get("queries", 0) + 1
                self._answer(conn, rid, [self._order_json(x) for x in self.by_cid.values()
                                         if x.cid == p.get("label") and x.status != "REJECTED"])
            elif m in ("private/cancel", "private/cancel_by_label"):
                o = (self.find(order_id=str(p.get("order_id"))) if m == "private/cancel"
                     else self.find(str(p.get("label"))))
                self.cancel_open(o)
                self._answer(conn, rid, self._order_json(o) if m == "private/cancel" else 1)
            elif m == "private/edit":
                o = self.find(order_id=str(p.get("order_id")))
                o = self.amend_open(o, o.inst.price(p["price"]) if "price" in p else o.price,
                                    o.inst.qty(p["amount"]) if "amount" in p else o.qty)
                self._answer(conn, rid, {"order": self._order_json(o), "trades": []})
            else:
                self._answer(conn, rid, error=(-32601, "Method not found"))
        except Refused as exc:
            code = {"not_found": 11044, "rate": 10028, "post_only": 11054,
                    "duplicate": 10001}.get(exc.code, 10001)
            self._answer(conn, rid, error=(code, exc.msg))
        except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
            self._answer(conn, rid, error=(-32602, f"Invalid params: {exc}"))

    def push(self, o: _SOrder, event: str, trade: dict[str, Any] | None) -> None:
        if event == "fill" and trade is not None:
            data: Any = [{"trade_id": f"ETH-{trade['id']}", "order_id": str(o.order_id),
                          "label": o.cid, "instrument_name": o.inst.symbol,
                          "direction": "buy" if o.side == 0 else "sell",
                          "price": _Num(trade["price"]), "amount": _Num(trade["qty"]),
                          "liquidity": "M" if trade["maker"] else "T",
                          "timestamp": time.time_ns() // 1_000_000}]
            ch = "user.trades.any.any.raw"
        else:
            data, ch = self._order_json(o), "user.orders.any.any.raw"
        msg = _json_numbers({"jsonrpc": "2.0", "method": "subscription",
                             "params": {"channel": ch, "data": data}}).encode()
        for c in self.private_clients(ch):
            c.send(msg)


# -- the order-entry demo -------------------------------------------------------------------------

DEMO_VENUES = ("bitfinex", "deribit", "htx", "kraken_futures", "kucoin")


async def order_entry_demo(venue: str) -> dict[str, Any]:
    """``python -m hftcore demo --live-loopback --venue NAME`` for the venues of issue 13: a
    throw-away account on NAME's loopback server, the venue module connected to it (order entry
    over the venue's own protocol and signing), and a strategy that places, amends, cancels and
    gets a resting order filled by the exchange.  Returns what happened."""
    import asyncio

    from hftcore.live import LiveEngine, LiveRunner
    from hftcore.model import OrderStatus
    from hftcore.venues.bitfinex import BitfinexVenue
    from hftcore.venues.deribit import DeribitVenue
    from hftcore.venues.htx import HtxVenue
    from hftcore.venues.keys import Credentials
    from hftcore.venues.kraken_futures import KrakenFuturesVenue
    from hftcore.venues.kucoin import KucoinVenue
    from hftcore.venues.ws import Backoff

    if not isinstance(venue, str) or venue not in DEMO_VENUES:
        raise ValueError(f"venue: one of {', '.join(DEMO_VENUES)}, got {venue!r}")
    symbol = {"htx": "btcusdt", "kucoin": "BTC-USDT", "bitfinex": "tBTCUSD",
              "deribit": "BTC-PERPETUAL", "kraken_futures": "PI_XBTUSD"}[venue]
    inst = Instrument(venue, symbol, 1, 4)
    secret = base64.b64encode(uuid.uuid4().bytes * 2).decode()
    key, passphrase = f"demo-{uuid.uuid4().hex[:8]}", "demo-passphrase"
    servers: dict[str, type[AccountLoopback]] = {
        "htx": HtxLoopback, "kucoin": KucoinLoopback, "bitfinex": BitfinexLoopback,
        "deribit": DeribitLoopback, "kraken_futures": KrakenFuturesLoopback}
    server = servers[venue]([inst], manual=True, api_key=key, api_secret=secret,
                            passphrase=passphrase)
    private_path = {"htx": "/ws/v2", "kraken_futures": "/ws/v1/private"}.get(venue, "/private")
    st = _DemoStrategy()
    log = st.log

    async def until(cond: Callable[[], bool], what: str) -> None:
        t_end = time.monotonic() + 10.0
        while not cond():
            if time.monotonic() > t_end:
                raise TimeoutError(f"{venue} demo: no answer ({what})")
            await asyncio.sleep(0.005)

    async with server:
        creds = Credentials.of(venue, key, api_secret=secret, passphrase=passphrase)
        classes: dict[str, Any] = {"htx": HtxVenue, "kucoin": KucoinVenue,
                                   "bitfinex": BitfinexVenue, "deribit": DeribitVenue,
                                   "kraken_futures": KrakenFuturesVenue}
        v = classes[venue](credentials=creds, ws_url=server.ws_url, rest_url=server.rest_url,
                           private_url=server.ws_url + private_path, market_data=False,
                           backoff=Backoff(0.02, 0.2))
        engine = LiveEngine([inst], mode="live")
        engine.add_strategy(st)
        runner = LiveRunner(engine, [v])
        t0 = time.perf_counter()
        try:
            await runner.start()
            px = inst.price("30000")
            o = st.buy(inst, inst.qty("0.5"), px)
            await until(lambda: o.status == OrderStatus.ACCEPTED, "ack")
            amended = venue != "htx"
            if amended:
                st.amend(o, price=px - inst.price("10"), size=inst.qty("0.75"))
                await until(lambda: o.status == OrderStatus.ACCEPTED and o.price != px, "amend")
            st.cancel(o)
            await until(lambda: o.status == OrderStatus.CANCELED, "cancel")
            f = st.sell(inst, inst.qty("0.25"), px + inst.price("50"))
            await until(lambda: f.status == OrderStatus.ACCEPTED, "ack")
            server.exchange_fill(server_cid(v, f.client_order_id))
            await until(lambda: f.status == OrderStatus.FILLED, "fill")
            return {"venue": venue, "orders": len(list(engine.om)),
                    "fills": len(f.fills), "amend": "replaced" if amended else
                    "not offered by the venue", "position": inst.format_qty(
                        engine.position(st, inst), True),
                    "server_requests": server.stats["requests"],
                    "bad_signatures": server.stats["bad_signatures"],
                    "seconds": round(time.perf_counter() - t0, 3), "events": log}
        finally:
            await runner.stop()


class _DemoStrategy(Strategy):
    """The demo's strategy: notes every order update."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []

    def on_order(self, order: Any) -> None:
        self.log.append(f"{order.client_order_id} {order.status.name}")


def server_cid(venue: Any, cid: str) -> str:
    """The id a loopback server files a client order id under (Bitfinex: its integer cid)."""
    got = getattr(venue, "bfx_cid", {}).get(cid)
    return str(got[0]) if got else cid


def format_order_entry_demo(r: dict[str, Any]) -> str:
    """The demo's result as text."""
    lines = [f"  {k:16} {r[k]}" for k in ("venue", "orders", "fills", "amend", "position",
                                           "server_requests", "bad_signatures", "seconds")]
    return "\n".join(lines + ["  order updates:"] + [f"    {e}" for e in r["events"]])
