"""REST requests over aiohttp: rate-limited, TLS-verified, errors that carry no secrets.

:class:`RestClient` sends a request only once its cost fits the venue's
:class:`~hftcore.venues.ratelimit.RateLimiter`; a ``429`` / ``418`` answer blocks the limiter for
the ``Retry-After`` the venue gave.  Signing is the venue module's business: it passes the
signed query string, body and headers.  :class:`RestError` names the method, the path (never
the query: it holds signatures) and the venue's own error code and message.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson
from yarl import URL

from hftcore.venues.keys import redact
from hftcore.venues.ratelimit import RateLimiter, RateLimitExceeded

__all__ = ["RestClient", "RestError"]


class RestError(Exception):
    """A REST request failed: HTTP ``status`` (0: no answer), the venue's ``code`` and text."""

    def __init__(self, method: str, path: str, status: int, code: object = None,
                 message: str = "") -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.message = redact(message)[:500]
        super().__init__(f"{method} {path}: HTTP {status}"
                         + (f" code {code}" if code is not None else "")
                         + (f": {self.message}" if self.message else ""))


def _error_fields(body: bytes) -> tuple[object, str]:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, body[:200].decode("utf-8", "replace")
    if isinstance(obj, dict):
        for ck, mk in (("code", "msg"), ("retCode", "retMsg"), ("code", "message"),
                       ("error", "message")):
            if ck in obj or mk in obj:
                return obj.get(ck), str(obj.get(mk, ""))
    return None, str(obj)[:200]


class RestClient:
    """One venue's REST endpoint.

    Parameters
    ----------
    base_url : str
        ``https://api.binance.com`` (or the loopback server's ``http://127.0.0.1:port``).
    limiter : RateLimiter, optional
    ssl_context : ssl.SSLContext, optional
        TLS settings; certificates are verified by default (``ssl.create_default_context()``).
    timeout : float
        Seconds for a whole request.
    """

    def __init__(self, base_url: str, limiter: RateLimiter | None = None, *,
                 ssl_context: ssl.SSLContext | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.ssl_context = ssl_context
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.errors = 0

    def _ssl(self) -> ssl.SSLContext | bool:
        if self.ssl_context is not None:
            return self.ssl_context
        return True  # aiohttp verifies certificates with the default context

    async def session(self) -> aiohttp.ClientSession:
        """The shared aiohttp session (created on first use, on the running loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(ssl=self._ssl(), limit=16))
        return self._session

    async def request(self, method: str, path: str, *, query: str = "",
                      body: bytes | str | None = None, headers: Mapping[str, str] | None = None,
                      cost: Mapping[str, int] | None = None, max_wait: float | None = 5.0,
                      ok: tuple[int, ...] = (200,)) -> bytes:
        """Send ``method path?query`` with ``body``; return the response body.

        ``query`` is sent exactly as given (it is what was signed).  Waits for the limiter up to
        ``max_wait`` seconds (``RateLimitExceeded`` beyond).  Raises :class:`RestError` for a
        status outside ``ok``.
        """
        if self.limiter is not None and cost:
            await self.limiter.acquire(cost, max_wait)
        sess = await self.session()
        url = URL(self.base_url + path + (("?" + query) if query else ""), encoded=True)
        self.requests += 1
        try:
            async with sess.request(method, url, data=body, headers=headers) as resp:
                data = await resp.read()
                status = resp.status
                retry = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.errors += 1
            raise RestError(method, path, 0, None, type(exc).__name__ + ": " + str(exc)) from None
        if status in (418, 429) and self.limiter is not None:
            try:
                wait = float(retry) if retry else 60.0
            except ValueError:
                wait = 60.0
            self.limiter.block(wait, f"the venue answered HTTP {status} (Retry-After {wait:g} s)")
        if status not in ok:
            self.errors += 1
            code, msg = _error_fields(data)
            if status in (418, 429):
                raise RateLimitExceeded(f"{method} {path}: HTTP {status} {msg}", 60.0)
            raise RestError(method, path, status, code, msg)
        return data

    async def get_json(self, path: str, *, query: str = "",
                       headers: Mapping[str, str] | None = None,
                       cost: Mapping[str, int] | None = None) -> Any:
        """GET and parse the JSON answer."""
        return orjson.loads(await self.request("GET", path, query=query, headers=headers,
                                               cost=cost))

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
