"""Kraken spot: market data over websocket v1 with checksums, and request signing.

REST private endpoints carry ``API-Key`` and ``API-Sign`` headers; ``API-Sign`` is the base64
HMAC-SHA512 of ``path + SHA256(nonce + body)`` keyed with the base64-decoded secret, as Kraken
documents (:func:`sign`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from hftcore.venues.common import LiveVenue, RecordingPlan
from hftcore.venues.ratelimit import Bucket, RateLimiter

if TYPE_CHECKING:
    from hftcore.engine import Engine

__all__ = ["REST_URL", "WS_URL", "KrakenVenue", "recording_plan", "sign", "subscribe_message"]


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


# -- the venue (market data) ---------------------------------------------------------------------




WS_URL = "wss://ws.kraken.com"
REST_URL = "https://api.kraken.com"

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


class KrakenVenue(LiveVenue):
    """Kraken spot market data over websocket v1 (``book`` with checksums, ``trade``).

    Books are checked with Kraken's CRC32 after every update (by the engine, against its book);
    a wrong checksum resyncs that pair only, by unsubscribing and subscribing it again (Kraken
    answers with a fresh snapshot).  The engine's book of each pair must keep exactly ``depth``
    levels per side - ``Engine(..., book_depth={index: depth})`` - or checksums cannot match.
    Order entry is not implemented for Kraken yet: orders are refused with that reason.

    Parameters
    ----------
    depth : int
        Book subscription depth (10, 25, 100, 500 or 1000).
    trades : bool
        Subscribe to ``trade`` too.
    resync_timeout : float
        Seconds to wait for the new snapshot before subscribing again.
    """

    name = "kraken"
    sync_rule = "kraken"
    check_valid = True
    default_ws_url = WS_URL
    default_rest_url = ""

    def __init__(self, *, depth: int = 10, trades: bool = True, resync_timeout: float = 5.0,
                 **kwargs: Any) -> None:
        if depth not in (10, 25, 100, 500, 1000):
            raise ValueError(f"depth must be 10, 25, 100, 500 or 1000, got {depth!r}")
        super().__init__(**kwargs)
        self.depth = depth
        self.trades = trades
        self.resync_timeout = resync_timeout
        self.subscription_errors: list[str] = []

    def default_rate_limits(self) -> RateLimiter:
        # Kraken counts websocket (un)subscriptions loosely; stay well below a few per second
        return RateLimiter([Bucket("SUBSCRIPTIONS", 20, 10.0)])

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
        while not self._closed:
            md = self.md
            if md is None or not md.connected:
                return
            await self.limiter.acquire({"SUBSCRIPTIONS": 2}, max_wait=30.0)
            md.send(subscribe_message([pair], self.depth, "unsubscribe"))
            md.send(subscribe_message([pair], self.depth))
            t_end = time.monotonic() + self.resync_timeout
            while time.monotonic() < t_end:
                await asyncio.sleep(0.005)
                if self.synced(index) and self.engine.core.is_valid(index):
                    self.resyncs += 1
                    if self.listener is not None:
                        self.listener.reset_sync(index)
                    return
