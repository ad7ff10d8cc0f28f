"""Bybit v5: request signing and what ``record`` connects to.

Signing (Bybit's v5 documentation): REST requests carry ``X-BAPI-API-KEY``,
``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` and ``X-BAPI-SIGN`` = hex HMAC-SHA256 of
``timestamp + api_key + recv_window + payload`` (the query string of a GET, the JSON body of a
POST); the private websocket authenticates with ``{"op":"auth","args":[api_key, expires,
signature]}``, the signature being hex HMAC-SHA256 of ``"GET/realtime" + expires``.

The live venue (market data with the ``u`` chain, order entry) is not written yet; books replay
from recordings (``hftcore.venues.replay``) with the same sync rule.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import orjson

from hftcore.venues.common import RecordingPlan

__all__ = ["PUBLIC_URL", "recording_plan", "sign", "sign_request", "sign_ws_auth"]

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
