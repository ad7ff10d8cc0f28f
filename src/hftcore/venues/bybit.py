"""Bybit v5: request signing and what ``record`` connects to.

Signing (Bybit's v5 documentation): REST requests carry ``X-BAPI-API-KEY``,
``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` and ``X-BAPI-SIGN`` = hex HMAC-SHA256 of
``timestamp + api_key + recv_window + payload`` (the query string of a GET, the JSON body of a
POST); the private websocket authenticates with ``{"op":"auth","args":[api_key, expires,
signature]}``, the signature being hex HMAC-SHA256 of ``"GET/realtime" + expires``.

:class:`BybitVenue` streams public market data (``orderbook.<depth>.<symbol>`` with the ``u``
chain, ``publicTrade``); a gap resyncs that symbol by subscribing it again (Bybit answers with a
snapshot).  Order entry is not written yet: orders are refused with that reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any

import orjson

from hftcore.venues.common import LiveVenue, RecordingPlan
from hftcore.venues.ratelimit import Bucket, RateLimiter

__all__ = ["PUBLIC_URL", "BybitVenue", "recording_plan", "sign", "sign_request", "sign_ws_auth"]

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
    """

    name = "bybit"
    sync_rule = "bybit"
    default_ws_url = "wss://stream.bybit.com/v5/public"
    default_rest_url = ""

    def __init__(self, *, category: str = "spot", depth: int = 50, trades: bool = True,
                 resync_timeout: float = 5.0, **kwargs: Any) -> None:
        if category not in ("spot", "linear", "inverse", "option"):
            raise ValueError(f"category must be spot, linear, inverse or option, "
                             f"got {category!r}")
        if depth not in (1, 25, 50, 100, 200, 500, 1000):
            raise ValueError(f"depth: {depth!r} is not a Bybit book depth")
        kwargs.setdefault("ping_interval", 20.0)
        super().__init__(**kwargs)
        self.category = category
        self.depth = depth
        self.trades = trades
        self.resync_timeout = resync_timeout

    def default_rate_limits(self) -> RateLimiter:
        return RateLimiter([Bucket("SUBSCRIPTIONS", 20, 10.0)])

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
        while not self._closed:
            md = self.md
            if md is None or not md.connected:
                return
            await self.limiter.acquire({"SUBSCRIPTIONS": 2}, max_wait=30.0)
            md.send(orjson.dumps({"op": "unsubscribe", "args": [topic]}))
            md.send(orjson.dumps({"op": "subscribe", "args": [topic]}))
            t_end = time.monotonic() + self.resync_timeout
            while time.monotonic() < t_end:
                await asyncio.sleep(0.005)
                if self.synced(index) and self.engine.core.is_valid(index):
                    self.resyncs += 1
                    if self.listener is not None:
                        self.listener.reset_sync(index)
                    return
