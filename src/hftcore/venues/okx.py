"""OKX v5: request signing and what ``record`` connects to.

Signing (OKX's v5 documentation): REST requests carry ``OK-ACCESS-KEY``,
``OK-ACCESS-PASSPHRASE``, ``OK-ACCESS-TIMESTAMP`` (ISO 8601 with milliseconds, UTC) and
``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 of ``timestamp + METHOD + requestPath + body``; the
private websocket logs in with the same signature over ``timestamp + "GET" +
"/users/self/verify"`` where ``timestamp`` is Unix seconds.

:class:`OkxVenue` streams public market data: ``books`` (snapshot, then updates chained by
``prevSeqId`` where OKX sends it, and checked by the engine against the ``checksum`` where it is
not 0) and ``trades``; a gap or a wrong checksum resyncs that instrument by subscribing it again.
Keep-alive: OKX's text ``ping`` after 25 s of silence.  Order entry is not written yet: orders are
refused with that reason.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any

import orjson

from hftcore.venues.common import LiveVenue, RecordingPlan
from hftcore.venues.ratelimit import Bucket, RateLimiter

__all__ = ["PUBLIC_URL", "OkxVenue", "recording_plan", "sign", "sign_ws_login"]

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


class OkxVenue(LiveVenue):
    """OKX v5 public market data (``books``, ``trades``) - see the module docstring.

    Parameters
    ----------
    channel : str
        The book channel: ``books`` (400 levels), ``books5``, ``books50-l2-tbt`` ...
    trades : bool
        Subscribe to ``trades`` too.
    """

    name = "okx"
    sync_rule = "okx"
    check_valid = True
    pong_text = b"pong"
    default_ws_url = PUBLIC_URL
    default_rest_url = ""

    def __init__(self, *, channel: str = "books", trades: bool = True,
                 resync_timeout: float = 5.0, **kwargs: Any) -> None:
        kwargs.setdefault("ping_interval", 25.0)
        super().__init__(**kwargs)
        self.channel = channel
        self.trades = trades
        self.resync_timeout = resync_timeout

    def default_rate_limits(self) -> RateLimiter:
        # OKX: 480 subscribe/unsubscribe/login requests per hour per connection
        return RateLimiter([Bucket("SUBSCRIPTIONS", 480, 3600.0)])

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
        while not self._closed:
            md = self.md
            if md is None or not md.connected:
                return
            await self.limiter.acquire({"SUBSCRIPTIONS": 2}, max_wait=60.0)
            md.send(orjson.dumps({"op": "unsubscribe", "args": [arg]}))
            md.send(orjson.dumps({"op": "subscribe", "args": [arg]}))
            t_end = time.monotonic() + self.resync_timeout
            while time.monotonic() < t_end:
                await asyncio.sleep(0.005)
                if self.synced(index) and self.engine.core.is_valid(index):
                    self.resyncs += 1
                    if self.listener is not None:
                        self.listener.reset_sync(index)
                    return
