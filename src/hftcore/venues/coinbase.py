"""Coinbase Advanced Trade: ES256 JWT signing and what ``record`` connects to.

Authentication (Coinbase's Advanced Trade / CDP documentation): every REST request carries
``Authorization: Bearer <JWT>``, a JWT signed with the API key's EC P-256 private key (ES256):
header ``{"alg": "ES256", "kid": <key name>, "nonce": <random hex>, "typ": "JWT"}``, claims
``{"iss": "cdp", "sub": <key name>, "nbf": now, "exp": now + 120, "uri": "<METHOD> <host><path>"}``.
The websocket's user channel takes the same JWT without ``uri``.  The signature is the raw
``r || s`` (64 bytes), base64url without padding, made with ``cryptography``.

:class:`CoinbaseVenue` streams the Coinbase Exchange public feed: ``level2_batch`` (a
snapshot, then ``l2update`` changes), ``matches``, and the ``heartbeat`` channel that keeps the
connection and each product alive; a product whose book goes stale resyncs by subscribing it
again.  Order entry is not written yet: orders are refused with that reason.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from hftcore.venues.common import LiveVenue, RecordingPlan
from hftcore.venues.ratelimit import Bucket, RateLimiter

__all__ = ["EXCHANGE_URL", "PUBLIC_URL", "CoinbaseVenue", "jwt", "recording_plan"]

PUBLIC_URL = "wss://advanced-trade-ws.coinbase.com"
EXCHANGE_URL = "wss://ws-feed.exchange.coinbase.com"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(key_name: str, private_key_pem: str, *, method: str | None = None,
        host: str = "api.coinbase.com", path: str = "", now: int | None = None,
        lifetime: int = 120) -> str:
    """An ES256 JWT for Coinbase Advanced Trade (a REST request when ``method`` is given, the
    websocket otherwise)."""
    if not isinstance(key_name, str) or not key_name:
        raise TypeError("jwt: key_name must be the API key's name")
    try:
        key = load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("jwt: not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("jwt: the key must be an EC P-256 (ES256) key")
    t = int(time.time()) if now is None else now
    header = {"alg": "ES256", "kid": key_name, "nonce": secrets.token_hex(16), "typ": "JWT"}
    claims: dict[str, Any] = {"iss": "cdp", "sub": key_name, "nbf": t, "exp": t + lifetime}
    if method is not None:
        claims["uri"] = f"{method.upper()} {host}{path}"
    signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


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
    """Coinbase Exchange public market data - see the module docstring.

    Parameters
    ----------
    channel : str
        ``level2_batch`` (public) or ``level2`` (authenticated feeds).
    trades : bool
        Subscribe to ``matches`` too.
    """

    name = "coinbase"
    sync_rule = "coinbase"
    default_ws_url = EXCHANGE_URL
    default_rest_url = ""

    def __init__(self, *, channel: str = "level2_batch", trades: bool = True,
                 resync_timeout: float = 5.0, **kwargs: Any) -> None:
        if channel not in ("level2", "level2_batch"):
            raise ValueError(f"channel must be level2 or level2_batch, got {channel!r}")
        kwargs.setdefault("stale_after", 30.0)
        super().__init__(**kwargs)
        self.channel = channel
        self.trades = trades
        self.resync_timeout = resync_timeout

    def default_rate_limits(self) -> RateLimiter:
        return RateLimiter([Bucket("SUBSCRIPTIONS", 8, 1.0)])

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
        while not self._closed:
            md = self.md
            if md is None or not md.connected:
                return
            await self.limiter.acquire({"SUBSCRIPTIONS": 2}, max_wait=30.0)
            md.send(self._msg("unsubscribe", [product], True))
            md.send(self._msg("subscribe", [product], True))
            t_end = time.monotonic() + self.resync_timeout
            while time.monotonic() < t_end:
                await asyncio.sleep(0.005)
                if self.synced(index) and self.engine.core.is_valid(index):
                    self.resyncs += 1
                    if self.listener is not None:
                        self.listener.reset_sync(index)
                    return
