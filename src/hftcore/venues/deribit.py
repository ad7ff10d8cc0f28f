"""Deribit v2 (JSON-RPC over websocket): market data, order entry and their signing.

Signing (https://docs.deribit.com/#public-auth, grant type ``client_signature``): ``public/auth``
carries ``client_id``, ``timestamp`` (ms), ``nonce``, ``data`` and ``signature`` = hex
HMAC-SHA256 of ``timestamp + "\\n" + nonce + "\\n" + data`` with the client secret; the
connection is then authenticated.

Keep-alive (https://docs.deribit.com/#public-set_heartbeat): ``public/set_heartbeat`` makes the
server send ``heartbeat`` notifications; one of type ``test_request`` must be answered with
``public/test`` or the server closes the connection.

:class:`DeribitVenue` streams ``book.<instrument>.raw`` (an authenticated connection is needed
for ``raw``; without credentials ``100ms``) - a snapshot, then ``change`` messages chained by
``change_id``/``prev_change_id`` with ``new``/``change``/``delete`` actions - and
``trades.<instrument>``; a gap subscribes that book again.  Orders are JSON-RPC calls on a
private connection: ``private/buy``/``private/sell`` (``label`` = the client order id),
``private/cancel`` (by order id once known, else ``private/cancel_by_label``) and
``private/edit``; acks, fills and cancels come from the answers and ``user.orders``/
``user.trades``.  Prices and amounts are JSON numbers: they are read as exact decimals.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from hftcore._ext.sim import SO_FOK, SO_IOC, SO_MARKET, SO_POST_ONLY
from hftcore.model import OrderType, Side
from hftcore.venues.common import RecordingPlan, VenueError
from hftcore.venues.keys import Credentials
from hftcore.venues.orderentry import OrderEntryVenue, check_int, check_str, exact_json
from hftcore.venues.ratelimit import Bucket, RateLimiter
from hftcore.venues.ws import Connection

if TYPE_CHECKING:
    from hftcore.model import Order

__all__ = ["HEARTBEAT", "URL", "DeribitVenue", "auth_params", "recording_plan", "sign",
           "test_answer"]

log = logging.getLogger("hftcore.venues.deribit")
URL = "wss://www.deribit.com/ws/api/v2"
_CHANNELS = ["user.orders.any.any.raw", "user.trades.any.any.raw"]
_TEST = b'{"jsonrpc":"2.0","id":"test","method":"public/test","params":{}}'
#: seconds between the server's heartbeats (``public/set_heartbeat``)
HEARTBEAT = 30


def sign(secret: str, timestamp: int, nonce: str, data: str = "") -> str:
    """The ``client_signature``: hex HMAC-SHA256 of ``timestamp\\nnonce\\ndata``."""
    check_str("sign", "secret", secret)
    check_int("sign", "timestamp", timestamp, 0)
    check_str("sign", "nonce", nonce)
    check_str("sign", "data", data)
    return hmac.new(secret.encode(), f"{timestamp}\n{nonce}\n{data}".encode(),
                    hashlib.sha256).hexdigest()


def auth_params(client_id: str, secret: str, timestamp: int | None = None,
                nonce: str | None = None, data: str = "") -> dict[str, Any]:
    """The ``params`` of ``public/auth`` with a client signature."""
    check_str("auth_params", "client_id", client_id)
    ts = time.time_ns() // 1_000_000 if timestamp is None else timestamp
    n = nonce if nonce is not None else secrets.token_hex(8)
    return {"grant_type": "client_signature", "client_id": client_id, "timestamp": ts,
            "nonce": n, "data": data, "signature": sign(secret, ts, n, data)}


def test_answer(data: bytes) -> bytes | None:
    """The ``public/test`` call that answers a ``heartbeat`` of type ``test_request`` (the server
    closes the connection without it); None for any other message."""
    if b"test_request" in data and b'"heartbeat"' in data:
        return _TEST
    return None


def recording_plan(symbols: Sequence[str], ws_url: str | None = None,
                   rest_url: str | None = None, streams: Sequence[str] | None = None
                   ) -> RecordingPlan:
    """``public/set_heartbeat``, then ``book.<instrument>.100ms`` and
    ``trades.<instrument>.100ms`` (``raw`` needs an authenticated connection); every
    ``test_request`` is answered (:func:`test_answer`)."""
    chans = tuple(streams or ("book", "trades"))
    return RecordingPlan("deribit", (ws_url or URL).rstrip("/"), subscriptions=[
        orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat",
                      "params": {"interval": HEARTBEAT}}),
        orjson.dumps({"jsonrpc": "2.0", "id": 2, "method": "public/subscribe",
                      "params": {"channels": [f"{c}.{s}.100ms" for s in symbols
                                              for c in chans]}})], answer=test_answer)


class DeribitVenue(OrderEntryVenue):
    """Deribit (see the module docstring).

    Parameters
    ----------
    credentials : Credentials, optional
        ``api_key`` (the client id) and ``api_secret`` (the client secret).
    heartbeat : int
        Seconds between the server's heartbeats (``public/set_heartbeat``, at least 10).
    trades : bool
        Subscribe ``trades`` too.
    """

    name = "deribit"
    sync_rule = "deribit"
    default_ws_url = URL
    default_private_url = URL

    def __init__(self, *, heartbeat: int = HEARTBEAT, trades: bool = True,
                 credentials: Credentials | None = None, **kwargs: Any) -> None:
        check_int("deribit", "heartbeat", heartbeat, 10)
        kwargs.setdefault("rest_url", "")
        super().__init__(credentials=credentials, **kwargs)
        self.heartbeat = heartbeat
        self.trades = trades
        self.test_requests = 0
        self._ids = itertools.count(1)
        self._reqs: dict[int, tuple[str, str, Any]] = {}
        self._lost_new: list[str] = []

    def default_rate_limits(self) -> RateLimiter:
        # Deribit: matching-engine requests (orders, cancels, edits) have a credit pool of
        # 50000 refilled at 10000 per s at the default tier, a request costing 500: 20 per s
        # sustained, a burst of 100; subscriptions are not weighed but kept sane
        return RateLimiter([Bucket("ORDERS", 100, 10.0), Bucket("SUBSCRIPTIONS", 50, 1.0)])

    def _rpc(self, method: str, params: dict[str, Any], rid: int | str | None = None) -> bytes:
        return orjson.dumps({"jsonrpc": "2.0", "id": next(self._ids) if rid is None else rid,
                             "method": method, "params": params})

    def _auth(self) -> dict[str, Any]:
        key, secret, _ = self.creds()
        return auth_params(key, secret)

    # -- market data -----------------------------------------------------------------------------
    def md_url(self) -> str:
        return self.ws_url

    def _interval(self) -> str:
        return "raw" if self.credentials is not None else "100ms"

    def md_subscriptions(self) -> list[bytes]:
        out = []
        if self.credentials is not None:
            out.append(self._rpc("public/auth", self._auth(), "md-auth"))
        out.append(self._rpc("public/set_heartbeat", {"interval": self.heartbeat}))
        chans = []
        for inst in self.instruments:
            chans.append(f"book.{inst.symbol}.{self._interval()}")
            if self.trades:
                chans.append(f"trades.{inst.symbol}.{self._interval()}")
        method = "private/subscribe" if self.credentials is not None else "public/subscribe"
        out.append(self._rpc(method, {"channels": chans}))
        return out

    def on_md_control(self, kind: int, data: bytes, ts: int) -> None:
        answer = test_answer(data)
        if answer is not None and self.md is not None:
            self.test_requests += 1
            self.md.send(answer)

    async def resync(self, index: int) -> None:
        """Subscribe the book again (a snapshot comes first)."""
        assert self.engine is not None
        ch = [f"book.{self.engine.instruments[index].symbol}.{self._interval()}"]
        p = "private" if self.credentials is not None else "public"
        await self.resubscribe(index, [self._rpc(f"{p}/unsubscribe", {"channels": ch}),
                                       self._rpc(f"{p}/subscribe", {"channels": ch})])

    # -- the private connection ------------------------------------------------------------------
    async def login(self, conn: Connection) -> None:
        resp = await self.expect("auth", conn, self._rpc("public/auth", self._auth(), "auth"))
        if "error" in resp:
            e = resp["error"]
            raise VenueError(f"deribit: auth refused: {e.get('code')} {e.get('message')}")
        resp = await self.expect("hb", conn, self._rpc("public/set_heartbeat",
                                                       {"interval": self.heartbeat}, "hb"))
        if "error" in resp:
            raise VenueError(f"deribit: set_heartbeat refused: {resp['error']}")
        resp = await self.expect("sub", conn, self._rpc("private/subscribe",
                                                        {"channels": _CHANNELS}, "sub"))
        if "error" in resp or sorted(resp.get("result") or []) != sorted(_CHANNELS):
            raise VenueError(f"deribit: order updates refused: {resp.get('error')}")
        lost, self._lost_new = self._lost_new, []
        for cid in lost:
            self.unsettled += 1
            self.spawn(self.settle_new(cid, "connection lost before the answer"),
                       "deribit settle")

    def on_private_closed(self) -> None:
        # answers lost with the connection: new orders are asked about after the next login,
        # cancels go out again, amends are refused (the order keeps its last known terms)
        reqs, self._reqs = self._reqs, {}
        for kind, cid, _extra in reqs.values():
            if kind == "new":
                self._lost_new.append(cid)
            elif kind == "cancel":
                o = self.order(cid)
                if o is not None and o.is_open:
                    self._cancel_queue[cid] = o
            elif kind == "edit":
                self.on_replace_refused(cid, "connection lost before the answer")

    async def query_order(self, order: Order) -> tuple[str, str] | None:
        """``private/get_order_state_by_label``."""
        if self.private is None:
            raise VenueError("not connected")
        rid = f"q{next(self._ids)}"
        resp = await self.expect(rid, self.private, self._rpc(
            "private/get_order_state_by_label", {
                "currency": order.instrument.symbol.split("-")[0],
                "label": order.client_order_id}, rid))
        if "error" in resp:
            raise VenueError(f"{resp['error']}")
        rows = [r for r in resp.get("result") or () if isinstance(r, dict)
                and r.get("order_state") != "rejected"]
        if not rows:
            return None
        st = rows[-1].get("order_state")
        return ("canceled" if st == "cancelled" else "filled" if st == "filled" else "open",
                str(rows[-1].get("order_id", "")))

    def on_private(self, data: bytes, ts: int) -> None:
        obj = exact_json(data)
        if not isinstance(obj, dict):
            return
        method = obj.get("method")
        if method == "heartbeat":
            if (obj.get("params") or {}).get("type") == "test_request" and \
                    self.private is not None:
                self.test_requests += 1
                self.private.send(_TEST)
            return
        if method == "subscription":
            p = obj.get("params") or {}
            ch = str(p.get("channel", ""))
            if ch.startswith("user.orders"):
                d = p.get("data")
                for row in d if isinstance(d, list) else [d]:
                    if isinstance(row, dict):
                        self._on_order(row, ts)
            elif ch.startswith("user.trades"):
                for t in p.get("data") or ():
                    self._on_trade(t, ts)
            return
        rid = obj.get("id")
        if isinstance(rid, str):
            self.answer(rid, obj)
            return
        if isinstance(rid, int):
            req = self._reqs.pop(rid, None)
            if req is not None:
                self._on_answer(req, obj, ts)

    def _cid_of(self, d: dict[str, Any]) -> str:
        cid = str(d.get("label") or "")
        return cid or self.by_venue_id.get(str(d.get("order_id")), "")

    async def query_fills(self, order: Order, venue_order_id: str
                          ) -> list[tuple[str, int, int, bool]]:
        """``private/get_user_trades_by_order``."""
        if self.private is None or not venue_order_id:
            return []
        rid = f"q{next(self._ids)}"
        resp = await self.expect(rid, self.private, self._rpc(
            "private/get_user_trades_by_order", {"order_id": venue_order_id}, rid))
        if "error" in resp:
            raise VenueError(f"{resp['error']}")
        inst = order.instrument
        return [(str(t["trade_id"]), inst.qty(t["amount"]), inst.price(t["price"]),
                 t.get("liquidity") == "M") for t in resp.get("result") or ()
                if isinstance(t, dict)]

    def _on_order(self, d: dict[str, Any], ts: int) -> None:
        cid = self._cid_of(d)
        if not cid:
            return
        st = d.get("order_state")
        if st in ("open", "filled"):
            self.on_new_ok(cid, str(d.get("order_id", "")), ts)
        elif st == "cancelled":
            self.on_canceled(cid, ts)
        elif st == "rejected":
            self.on_new_refused(cid, str(d.get("reject_reason", "rejected")), ts)

    def _on_trade(self, t: dict[str, Any], ts: int) -> None:
        cid = self._cid_of(t)
        o = self.order(cid) if cid else None
        if o is None:
            return
        inst = o.instrument
        self.on_fill(cid, str(t["trade_id"]), inst.qty(t["amount"]), inst.price(t["price"]),
                     t.get("liquidity") == "M", str(t.get("order_id", "")), ts)

    def _on_answer(self, req: tuple[str, str, Any], obj: dict[str, Any], ts: int) -> None:
        kind, cid, extra = req
        err = obj.get("error")
        text = f"{err.get('code')} {err.get('message')}" if isinstance(err, dict) else ""
        res = obj.get("result")
        if not isinstance(res, dict):
            res = {}
        order = res.get("order")
        if kind == "new":
            if err is not None:
                self.on_new_refused(cid, text, ts)
            elif isinstance(order, dict):
                self._on_order(order, ts)
                for t in res.get("trades") or ():
                    self._on_trade(t, ts)
        elif kind == "cancel":
            if err is not None:
                self.on_cancel_refused(cid, text, ts)
            else:
                self.on_canceled(cid, ts)
        elif kind == "edit":
            if err is not None:
                self.on_replace_refused(cid, text, ts)
            else:
                self.on_replaced(cid, extra[0], extra[1], ts)
                for t in res.get("trades") or ():
                    self._on_trade(t, ts)

    def _send(self, kind: str, cid: str, extra: Any, method: str,
              params: dict[str, Any]) -> None:
        rid = next(self._ids)
        self._reqs[rid] = (kind, cid, extra)
        if self.private is None or not self.private.send(self._rpc(method, params, rid)):
            self._reqs.pop(rid, None)
            raise VenueError("not sent: connection down")

    # -- orders ----------------------------------------------------------------------------------
    def send_new(self, order: Order, flags: int) -> None:
        inst = order.instrument
        p: dict[str, Any] = {"instrument_name": inst.symbol,
                             "amount": inst.format_qty(order.size, True),
                             "label": order.client_order_id}
        if flags & SO_MARKET or order.order_type == OrderType.MARKET:
            p["type"] = "market"
        else:
            p.update(type="limit", price=inst.format_price(order.price, True),
                     time_in_force="immediate_or_cancel" if flags & SO_IOC else
                     "fill_or_kill" if flags & SO_FOK else "good_til_cancelled")
            if flags & SO_POST_ONLY or order.order_type == OrderType.LIMIT_MAKER:
                p.update(post_only=True, reject_post_only=True)
        # amounts and prices go as JSON numbers written from the exact decimal text
        msg_params = {k: (_Raw(v) if k in ("amount", "price") else v) for k, v in p.items()}
        self._send_raw("new", order.client_order_id, None,
                       "private/buy" if order.side == Side.BUY else "private/sell", msg_params)

    def _send_raw(self, kind: str, cid: str, extra: Any, method: str,
                  params: dict[str, Any]) -> None:
        rid = next(self._ids)
        self._reqs[rid] = (kind, cid, extra)
        body = ",".join(f"{orjson.dumps(k).decode()}:"
                        f"{v if isinstance(v, _Raw) else orjson.dumps(v).decode()}"
                        for k, v in params.items())
        msg = (f'{{"jsonrpc":"2.0","id":{rid},"method":"{method}","params":{{{body}}}}}'
               ).encode()
        if self.private is None or not self.private.send(msg):
            self._reqs.pop(rid, None)
            raise VenueError("not sent: connection down")

    def send_cancel(self, order: Order) -> None:
        oid = order.venue_order_id
        if oid:
            self._send("cancel", order.client_order_id, None, "private/cancel",
                       {"order_id": oid})
        else:
            self._send("cancel", order.client_order_id, None, "private/cancel_by_label",
                       {"label": order.client_order_id})

    def send_amend(self, order: Order, price: int, size: int) -> None:
        oid = order.venue_order_id
        if not oid:
            raise VenueError("the order has no Deribit id yet")
        inst = order.instrument
        self._send_raw("edit", order.client_order_id, (price, size), "private/edit",
                       {"order_id": oid, "amount": _Raw(inst.format_qty(size, True)),
                        "price": _Raw(inst.format_price(price, True))})

    def status(self) -> dict[str, Any]:
        """Connections, order entry and counters."""
        out = super().status()
        out["test_requests"] = self.test_requests
        return out


class _Raw(str):
    """Decimal text to write as a JSON number."""
