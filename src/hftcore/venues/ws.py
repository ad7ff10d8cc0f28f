"""Websocket connections over picows that stay up: reconnect, keep-alive, flow control.

:class:`Connection` owns one websocket URL.  It connects, runs the venue's ``on_open`` (subscribe,
log on, fetch snapshots), and when the connection drops - the peer closed it, the keep-alive
got no answer, or the venue asked for it - waits with capped exponential backoff and jitter
(:class:`Backoff`) and connects again, until :meth:`Connection.stop`.

* Keep-alive: picows' auto-ping (a PING frame, or the venue's own text ping through
  :meth:`send_user_specific_ping`) when the connection is idle; no answer within
  ``ping_timeout`` drops the connection.  A server that goes silent without closing is caught
  this way.  Server pings are answered by picows.
* Sending honours ``pause_writing``: while the transport's buffer is above its high-water mark,
  messages wait in a bounded backlog and go out in order on ``resume_writing``.
* Fragmented messages (``fin=0`` + CONTINUATION frames) are reassembled before they are handed
  on (picows delivers frames, not messages).
* :class:`Watchdog`: per-symbol staleness, independent of socket liveness (heartbeats keep a
  socket alive while one symbol's updates have stopped).

Market-data connections use the compiled :class:`hftcore._ext.wsfeed.FeedListener` (decode and
apply in place, no copy); everything else uses :class:`MessageListener`, which hands each whole
message to a callback as ``bytes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from hftcore.venues.keys import redact

__all__ = ["Backoff", "Connection", "MessageListener", "RedactingLogger", "Watchdog"]

log = logging.getLogger("hftcore.venues.ws")

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONT = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
MAX_MESSAGE = 64 << 20


class Backoff:
    """Capped exponential backoff with jitter.

    The ``n``-th delay is ``min(maximum, initial * factor**n)`` scaled by a random factor in
    ``[1 - jitter, 1]``, so many clients dropped at once do not come back in step.
    """

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, factor: float = 2.0,
                 jitter: float = 0.5, rng: random.Random | None = None) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("backoff: need 0 < initial <= maximum")
        if factor < 1 or not 0 <= jitter <= 1:
            raise ValueError("backoff: need factor >= 1 and 0 <= jitter <= 1")
        self.initial, self.maximum, self.factor, self.jitter = initial, maximum, factor, jitter
        self.rng = rng or random.Random()
        self.attempt = 0

    def next(self) -> float:
        """The next delay (s)."""
        base = min(self.maximum, self.initial * self.factor ** min(self.attempt, 64))
        self.attempt += 1
        return base * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """Start again from ``initial`` (after a connection that stayed up)."""
        self.attempt = 0


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger adapter that scrubs loaded secrets from every message it formats (given to
    picows, which logs handshakes and frames at its debug level)."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            kwargs.pop("extra", None)
            self.logger.log(level, redact(text), **kwargs)


class MessageListener(WSListener):
    """Hands each whole message (fragments joined) to ``on_message(data, recv_ts_ns)``."""

    def __init__(self, conn: Connection, on_message: Callable[[bytes, int], None]) -> None:
        super().__init__()
        self.conn = conn
        self.on_message = on_message
        self._frag: bytearray | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.conn._on_connected(transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.conn._on_disconnected(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        t = frame.msg_type
        if t in (_TEXT, _BINARY):
            if self._frag is not None:
                self.conn.protocol_errors += 1     # a new message inside a fragmented one
                self._frag = None
            if frame.fin:
                self.on_message(frame.get_payload_as_bytes(), time.time_ns())
            else:
                self.conn.fragmented += 1
                self._frag = bytearray(frame.get_payload_as_memoryview())
        elif t == _CONT:
            if self._frag is None:
                self.conn.protocol_errors += 1
                return
            self._frag += frame.get_payload_as_memoryview()
            if len(self._frag) > MAX_MESSAGE:
                self.conn.protocol_errors += 1
                self._frag = None
                return
            if frame.fin:
                data = bytes(self._frag)
                self._frag = None
                self.on_message(data, time.time_ns())
        elif t == _CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()

    def send_user_specific_ping(self, transport: WSTransport) -> None:
        self.conn._send_ping(transport)

    def is_user_specific_pong(self, frame: WSFrame) -> bool:
        return self.conn._is_pong(frame)

    def pause_writing(self) -> None:
        self.conn._pause()

    def resume_writing(self) -> None:
        self.conn._resume()


class Connection:
    """One websocket kept open.

    Parameters
    ----------
    url : str
        ``wss://...`` (TLS verified by default) or ``ws://127.0.0.1:port/...``.
    on_message : callable, optional
        ``(data: bytes, recv_ts_ns)`` for each whole message (ignored with ``listener``).
    name : str
        For logs and status.
    listener : callable, optional
        ``listener(connection) -> WSListener``; it must forward connect/disconnect, pings and
        pause/resume to the connection (:class:`MessageListener` and ``FeedListener`` do).
    on_open : coroutine function, optional
        ``await on_open(connection)`` after each connect; an exception drops the connection
        (and it is retried after the backoff).
    on_close : callable, optional
        ``on_close(connection)`` after each disconnect.
    prepare : coroutine function, optional
        ``await prepare(connection)`` before each connect attempt, to set :attr:`url` (and
        :attr:`ping_interval`) afresh: KuCoin's token; an exception counts as a failed connect
        (retried after the backoff).
    ping_interval, ping_timeout : float
        Seconds of silence before a keep-alive ping; seconds to wait for its answer.
        ``ping_interval=0`` turns client pings off.
    ping_periodic : bool
        Ping every ``ping_interval`` even when data flows (venues that require it: Bybit).
    ping_message : bytes, optional
        A text ping to send instead of a PING frame (Bybit ``{"op":"ping"}``, OKX ``ping``).
    pong_exact, pong_contains : bytes, optional
        How to recognise the answer to a text ping: the whole message, or a part of it.
    backoff : Backoff, optional
    max_backlog : int
        Messages held while the transport is paused; beyond, :meth:`send` refuses.
    stable_after : float
        A connection that stayed up this long resets the backoff.
    ssl_context : ssl.SSLContext, optional
    """

    def __init__(self, url: str, on_message: Callable[[bytes, int], None] | None = None, *,
                 name: str = "", listener: Callable[[Connection], WSListener] | None = None,
                 on_open: Callable[[Connection], Awaitable[None]] | None = None,
                 on_close: Callable[[Connection], None] | None = None,
                 prepare: Callable[[Connection], Awaitable[None]] | None = None,
                 ping_interval: float = 20.0, ping_timeout: float = 10.0,
                 ping_periodic: bool = False, ping_message: bytes | None = None,
                 pong_exact: bytes | None = None, pong_contains: bytes | None = None,
                 backoff: Backoff | None = None, max_backlog: int = 100_000,
                 stable_after: float = 10.0, connect_timeout: float = 10.0,
                 ssl_context: ssl.SSLContext | None = None,
                 max_frame_size: int = 16 << 20) -> None:
        if listener is None and on_message is None:
            raise ValueError("give on_message or listener")
        self.url = url
        self.name = name or url
        self.on_message = on_message
        self._listener_factory = listener
        self.on_open = on_open
        self.on_close = on_close
        self.prepare = prepare
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.ping_periodic = ping_periodic
        self.ping_message = ping_message
        self.pong_exact = pong_exact
        self.pong_contains = pong_contains
        self.backoff = backoff or Backoff()
        self.max_backlog = max_backlog
        self.stable_after = stable_after
        self.connect_timeout = connect_timeout
        self.ssl_context = ssl_context
        self.max_frame_size = max_frame_size
        self.transport: WSTransport | None = None
        self.listener: WSListener | None = None
        self.ready = asyncio.Event()
        self.paused = False
        self.backlog: deque[bytes] = deque()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._logger = RedactingLogger(logging.getLogger(f"hftcore.ws.{name or 'conn'}"), {})
        # counters
        self.connects = 0
        self.disconnects = 0
        self.failures = 0
        self.sent = 0
        self.refused = 0
        self.pauses = 0
        self.fragmented = 0
        self.protocol_errors = 0
        self.last_error = ""
        self.delays: list[float] = []
        self.connected_at = 0.0

    # -- life cycle ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """A websocket is open (it may not be ready: ``on_open`` may still be running)."""
        return self.transport is not None

    def start(self) -> None:
        """Start connecting (a task on the running loop); returns at once."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name=f"ws {self.name}")

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until connected and ``on_open`` finished; False on timeout."""
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        self._stopping = True
        tr = self.transport
        if tr is not None:
            with contextlib.suppress(Exception):
                tr.send_close(WSCloseCode.OK)
                tr.disconnect()
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        self.transport = None
        self.ready.clear()

    def drop(self, reason: str = "") -> None:
        """Drop the current connection (it reconnects after the backoff)."""
        tr = self.transport
        if tr is not None:
            if reason:
                self.last_error = reason
            tr.disconnect(False)

    def _make_listener(self) -> WSListener:
        if self._listener_factory is not None:
            return self._listener_factory(self)
        assert self.on_message is not None
        return MessageListener(self, self.on_message)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            t0 = loop.time()
            transport: WSTransport | None = None
            try:
                if self.prepare is not None:
                    await asyncio.wait_for(self.prepare(self), self.connect_timeout)
                transport, listener = await asyncio.wait_for(ws_connect(
                    self._make_listener, self.url, ssl_context=self.ssl_context,
                    enable_auto_ping=self.ping_interval > 0,
                    auto_ping_idle_timeout=self.ping_interval or 10.0,
                    # picows wants the answer's timeout no longer than the ping interval
                    auto_ping_reply_timeout=min(self.ping_timeout, self.ping_interval or 10.0),
                    auto_ping_strategy=(WSAutoPingStrategy.PING_PERIODICALLY
                                        if self.ping_periodic
                                        else WSAutoPingStrategy.PING_WHEN_IDLE),
                    websocket_handshake_timeout=self.connect_timeout,
                    max_frame_size=self.max_frame_size,
                    logger_name=self._logger), self.connect_timeout)
                self.listener = listener
            except asyncio.CancelledError:
                raise
            except Exception as exc:     # any failure to connect is retried, never fatal
                self.failures += 1
                self.last_error = redact(f"connect: {type(exc).__name__}: {exc}")
                log.warning("%s: %s", self.name, self.last_error)
            else:
                assert transport is not None
                try:
                    if self.on_open is not None:
                        await self.on_open(self)
                    if self.transport is transport:
                        self.ready.set()
                    await transport.wait_disconnected()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.last_error = redact(f"{type(exc).__name__}: {exc}")
                    log.warning("%s: %s", self.name, self.last_error)
                    with contextlib.suppress(Exception):
                        transport.disconnect(False)
                        await transport.wait_disconnected()
                finally:
                    self.ready.clear()
                    if self.transport is transport:
                        self.transport = None
                    if self.on_close is not None:
                        try:
                            self.on_close(self)
                        except Exception:
                            log.exception("%s: on_close failed", self.name)
                if loop.time() - t0 >= self.stable_after:
                    self.backoff.reset()
            if self._stopping:
                break
            delay = self.backoff.next()
            self.delays.append(delay)
            await asyncio.sleep(delay)

    # -- listener callbacks ---------------------------------------------------------------------
    def _on_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.connects += 1
        self.connected_at = time.monotonic()
        self.paused = False
        self.backlog.clear()

    def _on_disconnected(self, transport: WSTransport) -> None:
        if self.transport is transport:
            self.transport = None
        self.disconnects += 1
        self.paused = False
        if self.backlog:
            self.refused += len(self.backlog)
            self.backlog.clear()

    def _pause(self) -> None:
        self.paused = True
        self.pauses += 1

    def _resume(self) -> None:
        self.paused = False
        tr = self.transport
        backlog = self.backlog
        while backlog and not self.paused and tr is not None:
            tr.send(_TEXT, backlog.popleft())
            self.sent += 1

    def _send_ping(self, transport: WSTransport) -> None:
        if self.ping_message is not None:
            transport.send(_TEXT, self.ping_message)
        else:
            transport.send_ping()

    def _is_pong(self, frame: WSFrame) -> bool:
        if self.ping_message is None:
            return frame.msg_type == WSMsgType.PONG
        if frame.msg_type != _TEXT or frame.payload_size > 512:
            return False
        data = frame.get_payload_as_bytes()
        if self.pong_exact is not None and data == self.pong_exact:
            return True
        return self.pong_contains is not None and self.pong_contains in data

    # -- sending --------------------------------------------------------------------------------
    def send(self, data: bytes) -> bool:
        """Send one text message now, or queue it while the transport is paused.  False when
        not connected or the backlog is full (nothing sent, counted in :attr:`refused`)."""
        tr = self.transport
        if tr is None:
            self.refused += 1
            return False
        if self.paused or self.backlog:
            if len(self.backlog) >= self.max_backlog:
                self.refused += 1
                return False
            self.backlog.append(data)
            return True
        tr.send(_TEXT, data)
        self.sent += 1
        return True

    def status(self) -> dict[str, Any]:
        """State and counters."""
        return {"name": self.name, "connected": self.connected, "ready": self.ready.is_set(),
                "connects": self.connects, "disconnects": self.disconnects,
                "failures": self.failures, "sent": self.sent, "refused": self.refused,
                "paused": self.paused, "backlog": len(self.backlog), "pauses": self.pauses,
                "fragmented": self.fragmented, "protocol_errors": self.protocol_errors,
                "last_error": self.last_error}


class Watchdog:
    """Per-symbol staleness: an instrument that received nothing for ``timeout_s`` is reported
    once to ``on_stale(index)``, and again only after it received something since.

    ``last_seen(index)`` gives the instrument's last receive time (ns, 0 = never).
    """

    def __init__(self, indices: Iterable[int], timeout_s: float,
                 last_seen: Callable[[int], int], on_stale: Callable[[int], None],
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.indices = list(indices)
        self.timeout_ns = int(timeout_s * 1e9)
        self.last_seen = last_seen
        self.on_stale = on_stale
        self.clock = clock
        self.started = clock()
        self._reported: dict[int, int] = {}
        self.stale_events = 0

    def check(self, now: int | None = None) -> list[int]:
        """Report instruments stale at ``now``; returns their indices."""
        if self.timeout_ns <= 0:
            return []
        now = self.clock() if now is None else now
        out = []
        for i in self.indices:
            seen = self.last_seen(i) or self.started
            if now - seen >= self.timeout_ns and self._reported.get(i) != seen:
                self._reported[i] = seen
                self.stale_events += 1
                out.append(i)
                self.on_stale(i)
        return out

    def restart(self) -> None:
        """Count silence from now (after a reconnect)."""
        self.started = self.clock()
        self._reported.clear()
