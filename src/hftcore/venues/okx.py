"""OKX v5: request signing and what ``record`` connects to.

Signing (OKX's v5 documentation): REST requests carry ``OK-ACCESS-KEY``,
``OK-ACCESS-PASSPHRASE``, ``OK-ACCESS-TIMESTAMP`` (ISO 8601 with milliseconds, UTC) and
``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 of ``timestamp + METHOD + requestPath + body``; the
private websocket logs in with the same signature over ``timestamp + "GET" +
"/users/self/verify"`` where ``timestamp`` is Unix seconds.

The live venue (``books`` with the ``prevSeqId`` chain, order entry) is not written yet; books
replay from recordings with the same sync rule.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

import orjson

from hftcore.venues.common import RecordingPlan

__all__ = ["PUBLIC_URL", "recording_plan", "sign", "sign_ws_login"]

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
