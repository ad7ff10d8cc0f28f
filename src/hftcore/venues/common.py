"""What every live venue shares: the market-data connection and its book sync, the staleness
watchdog, deferred order reports, and the bookkeeping of order requests.

A venue module subclasses :class:`LiveVenue` and supplies its protocol: the stream URL and
subscription messages (:meth:`LiveVenue.md_url`, :meth:`LiveVenue.md_subscriptions`), how one
symbol is resynced (:meth:`LiveVenue.resync` - a REST snapshot for Binance, a fresh
subscription elsewhere), and order entry (:meth:`submit`, :meth:`cancel`, :meth:`amend`,
:meth:`reconcile`).

Market data flows frame -> :class:`hftcore._ext.wsfeed.FeedListener` -> the venue's
:class:`~hftcore._ext.feed.Feed` -> the engine's books and strategies, without a copy.  When the
listener reports that a book left the synced state (a gap, a checksum the engine found wrong) or
the watchdog finds a symbol stale, only that symbol is marked invalid (strategies get
``on_book_status(instrument, False)``) and resynced; after a reconnect every symbol of the
connection is.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import ssl
import termios
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from hftcore._ext.feed import Feed
from hftcore._ext.wsfeed import FeedListener
from hftcore.decoders import decoder_for
from hftcore.model import Instrument, OrderStatus
from hftcore.venues.base import Venue
from hftcore.venues.keys import Credentials, redact
from hftcore.venues.ratelimit import RateLimiter
from hftcore.venues.rest import RestClient
from hftcore.venues.ws import Backoff, Connection, Watchdog

if TYPE_CHECKING:
    from hftcore.engine import Engine
    from hftcore.model import Order

__all__ = ["LiveVenue", "RecordingPlan", "VenueError"]

log = logging.getLogger("hftcore.venues")


@dataclass
class RecordingPlan:
    """What ``python -m hftcore record`` connects to for one venue's public market data: the
    stream URL, the subscription messages, REST snapshots (symbol -> path and query) and the
    keep-alive.

    ``ping_interval`` is the seconds between client pings (when idle, or always with
    ``ping_periodic``); ``answer(message)`` is the reply a received message needs to keep the
    connection (HTX ``{"pong": n}``, Deribit ``public/test``), None for most; ``connect(rest)``
    returns a fresh websocket URL and the venue's ping interval before every connect (KuCoin's
    token from ``/api/v1/bullet-public``).
    """

    venue: str
    url: str
    subscriptions: list[bytes] = field(default_factory=list)
    snapshots: dict[str, str] = field(default_factory=dict)
    rest_url: str = ""
    ping_message: bytes | None = None
    pong_exact: bytes | None = None
    pong_contains: bytes | None = None
    ping_periodic: bool = False
    ping_interval: float = 20.0
    answer: Callable[[bytes], bytes | None] | None = None
    connect: Callable[[RestClient], Awaitable[tuple[str, float]]] | None = None


class VenueError(Exception):
    """A venue refused a request or cannot be reached (the text carries no secret)."""


class LiveVenue(Venue):
    """Base of the exchange connections (Binance, Bybit, OKX, Kraken, Coinbase).

    Parameters
    ----------
    credentials : Credentials, optional
        Keys for order entry (see :mod:`hftcore.venues.keys`); without them the venue only
        streams market data (paper and observe modes).
    ws_url, rest_url : str, optional
        Endpoints (defaults: the venue's production URLs; the loopback server's in tests).
    ssl_context : ssl.SSLContext, optional
        TLS settings; certificates are verified by default.
    stale_after : float
        Seconds without a message for a symbol before it is marked invalid and resynced
        (0: off).
    backoff : Backoff, optional
        Reconnect delays of every connection of the venue.
    ping_interval, ping_timeout : float
        Keep-alive of the connections (see :class:`~hftcore.venues.ws.Connection`).
    rate_limits : RateLimiter, optional
        The venue's request limits (defaults: the published ones).
    order_entry : bool
        Open the trading connection when credentials are given.
    """

    sync_rule: ClassVar[str] = ""
    check_valid: ClassVar[bool] = False    # checksum venues: watch the engine's verdict
    pong_text: ClassVar[bytes] = b""
    default_ws_url: ClassVar[str] = ""
    default_rest_url: ClassVar[str] = ""
    snapshot_on_connect: ClassVar[bool] = False  # the stream sends no snapshot (Binance: REST)

    def __init__(self, *, credentials: Credentials | None = None, ws_url: str | None = None,
                 rest_url: str | None = None, ssl_context: ssl.SSLContext | None = None,
                 stale_after: float = 60.0, backoff: Backoff | None = None,
                 ping_interval: float = 20.0, ping_timeout: float = 10.0,
                 rate_limits: RateLimiter | None = None, order_entry: bool = True,
                 watch_interval: float = 0.5, backlog_bytes: int = 4 << 20) -> None:
        super().__init__()
        if credentials is not None and not isinstance(credentials, Credentials):
            raise TypeError("credentials must be hftcore.venues.keys.Credentials")
        self.credentials = credentials
        self.ws_url = (ws_url or self.default_ws_url).rstrip("/")
        self.rest_url = (rest_url or self.default_rest_url).rstrip("/")
        self.ssl_context = ssl_context
        self.stale_after = stale_after
        self.backoff_template = backoff
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.limiter = rate_limits if rate_limits is not None else self.default_rate_limits()
        self.order_entry = order_entry and credentials is not None
        self.watch_interval = watch_interval
        self.backlog_bytes = backlog_bytes
        self.rest = RestClient(self.rest_url, self.limiter, ssl_context=ssl_context) \
            if self.rest_url else None
        self.feed: Feed | None = None
        self.listener: FeedListener | None = None
        self.md: Connection | None = None
        self.indices: list[int] = []
        self.by_symbol: dict[str, tuple[int, Instrument]] = {}
        self.watchdog: Watchdog | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._syncing: set[int] = set()
        self._watch_task: asyncio.Task[None] | None = None
        self._closed = False
        self.resyncs = 0
        self.stale_events = 0
        self.backlog_events = 0
        self.control_errors: list[str] = []
        self.venue_errors = 0
        self.max_backlog_seen = 0
        self.max_lag_ns = 0
        self.reports = 0

    async def resubscribe(self, index: int, msgs: list[bytes], timeout: float = 5.0,
                          max_wait: float = 60.0) -> None:
        """Resync ``index`` by sending ``msgs`` (unsubscribe + subscribe: the venues that send a
        book snapshot on subscription) until its book is in sync again, sending them anew every
        ``timeout`` seconds; a ``SUBSCRIPTIONS`` rate-limit bucket, where the venue has one, is
        waited for up to ``max_wait`` seconds."""
        assert self.engine is not None
        while not self._closed:
            md = self.md
            if md is None or not md.connected:
                return
            if "SUBSCRIPTIONS" in {b.name for b in self.limiter.buckets}:
                await self.limiter.acquire({"SUBSCRIPTIONS": len(msgs)}, max_wait=max_wait)
            for m in msgs:
                md.send(m)
            t_end = time.monotonic() + timeout
            while time.monotonic() < t_end:
                await asyncio.sleep(0.005)
                if self.synced(index) and self.engine.core.is_valid(index):
                    self.resyncs += 1
                    if self.listener is not None:
                        self.listener.reset_sync(index)
                    return

    # -- order-entry state, shared by the venues that trade ------------------------------------
    # (set by those venues' constructors: whether orders may be sent, why not, the last error
    # the venue gave, cancels asked for while order entry was down, requests awaiting answers)
    trading: bool
    block_reason: str
    last_api_error: str
    _cancel_queue: dict[str, Order]

    rate_refused: int

    def _refuse_new(self, cid: str, cost: Any) -> bool:
        """Refuse a new order that cannot go out now: order entry down, or over the rate limits
        (``cost``: a :meth:`RateLimiter.prepare`-d cost; counted in ``rate_refused``), the
        reject reported to the engine; True when refused, the limiter charged when not."""
        if not self.trading:
            self.report_later(cid, "reject", reason=f"{self.name}: order entry not ready: "
                                                    f"{self.block_reason}")
            return True
        why = self.limiter.try_take(cost)
        if why is not None:
            self.rate_refused += 1
            self.report_later(cid, "reject", reason=f"{self.name}: not sent: {why}")
            return True
        return False

    def _entry_failed(self, exc: BaseException) -> None:
        """Order entry could not start (log-on, subscription, reconciliation): keep why, with
        any secret the text may carry redacted, for ``status()`` and the dashboard."""
        self.block_reason = self.last_api_error = redact(str(exc) or type(exc).__name__)

    def _entry_ready(self) -> None:
        """Order entry is up and reconciled: trade, and send the cancels asked for meanwhile."""
        self.trading = True
        self.block_reason = self.last_api_error = ""
        queued = list(self._cancel_queue.values())
        self._cancel_queue.clear()
        for o in queued:
            if o.is_open:
                self.cancel(o)

    def _entry_lost(self, waiters: dict[Any, asyncio.Future[Any]] | None = None) -> None:
        """The order-entry connection dropped: stop trading, say why until it is back, and fail
        the requests awaiting an answer on it (``waiters``)."""
        self.trading = False
        if not self._closed:
            self.block_reason = "order entry reconnecting" + (
                f" (last error: {self.last_api_error})" if self.last_api_error else "")
        if waiters:
            for fut in waiters.values():
                if not fut.done():
                    fut.set_exception(VenueError(f"{self.name}: connection closed"))
            waiters.clear()

    # -- configuration hooks ---------------------------------------------------------------------
    def default_rate_limits(self) -> RateLimiter:
        """The venue's published limits."""
        return RateLimiter([])

    def md_url(self) -> str:
        """The market-data websocket URL (with the streams, where the venue takes them so)."""
        raise NotImplementedError

    def md_subscriptions(self) -> list[bytes]:
        """Messages sent after each market-data connect."""
        return []

    async def resync(self, index: int) -> None:
        """Bring instrument ``index``'s book back in sync (its feed state is waiting)."""
        raise NotImplementedError

    def _backoff(self) -> Backoff:
        t = self.backoff_template
        if t is None:
            return Backoff()
        return Backoff(t.initial, t.maximum, t.factor, t.jitter)

    # -- set-up ----------------------------------------------------------------------------------
    def attach(self, engine: Engine) -> None:
        """Adopt the engine's instruments of this venue; build the decoder and the feed."""
        super().attach(engine)
        pairs = [(i, inst) for i, inst in enumerate(engine.instruments) if inst.venue == self.name]
        if not pairs:
            raise ValueError(f"{self.name}: the engine has no {self.name} instrument")
        dec = decoder_for(self.name)
        for i, inst in pairs:
            dec.add_symbol(inst.symbol, i, inst.price_decimals, inst.size_decimals)
            self.by_symbol[inst.symbol] = (i, inst)
        self.indices = [i for i, _ in pairs]
        self.feed = Feed(dec, self.sync_rule, len(engine.instruments))

    @property
    def instruments(self) -> list[Instrument]:
        """This venue's instruments in the engine."""
        assert self.engine is not None
        return [self.engine.instruments[i] for i in self.indices]

    def spawn(self, coro: Any, name: str = "") -> asyncio.Task[Any]:
        """Run ``coro`` as a task the venue keeps (and cancels on close)."""
        task = asyncio.get_running_loop().create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("%s: task %s failed: %s", self.name, task.get_name(),
                      redact(f"{type(exc).__name__}: {exc}"))

    def _make_listener(self, conn: Connection) -> FeedListener:
        assert self.feed is not None and self.engine is not None
        self.listener = FeedListener(conn, self.feed, self.engine, self._on_md_control,
                                     self._on_sync_lost, check_valid=self.check_valid,
                                     pong=self.pong_text)
        return self.listener

    def md_connection(self) -> Connection:
        """The market-data connection (made on first use)."""
        if self.md is None:
            self.md = Connection(self.md_url(), name=f"{self.name} md",
                                 listener=self._make_listener, on_open=self._md_open,
                                 on_close=self._md_close, ping_interval=self.ping_interval,
                                 ping_timeout=self.ping_timeout, backoff=self._backoff(),
                                 ssl_context=self.ssl_context, **self.md_ping())
        return self.md

    def md_ping(self) -> dict[str, Any]:
        """Keep-alive options of the market-data connection (venue text pings)."""
        return {}

    async def connect(self, timeout: float = 10.0) -> None:
        """Open the market-data connection (and order entry in subclasses); return once the
        first connect finished (books sync afterwards, strategies are told)."""
        if self.engine is None:
            raise RuntimeError(f"{self.name}: add the venue to an engine first")
        self._closed = False
        md = self.md_connection()
        md.start()
        if self.watchdog is None:
            self.watchdog = Watchdog(self.indices, self.stale_after, self._last_seen,
                                     self._on_stale)
        if self._watch_task is None or self._watch_task.done():
            self._watch_task = asyncio.get_running_loop().create_task(self._watch())
        if not await md.wait_ready(timeout):
            raise VenueError(f"{self.name}: market data not connected after {timeout:g} s "
                             f"({md.last_error or 'no answer'})")

    async def close(self) -> None:
        """Close every connection and task."""
        self._closed = True
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch_task
            self._watch_task = None
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.md is not None:
            await self.md.stop()
        if self.rest is not None:
            await self.rest.close()

    # -- market data -----------------------------------------------------------------------------
    def run_feed(self, ts: int | None = None) -> None:
        """Run the events waiting in the feed through the engine (REST snapshots, resyncs)."""
        engine, feed = self.engine, self.feed
        assert engine is not None and feed is not None
        if not feed.n_events:
            return
        if not engine._started:
            engine.start(ts if ts is not None else time.time_ns())
        engine.core.run_feed(feed)

    def invalidate(self, index: int) -> None:
        """Mark instrument ``index``'s book invalid (strategies are told) until it resyncs."""
        assert self.feed is not None
        self.feed.invalidate(index)
        self.run_feed()

    async def _md_open(self, conn: Connection) -> None:
        for msg in self.md_subscriptions():
            conn.send(msg)
        if self.watchdog is not None:
            self.watchdog.restart()
        for i in self.indices:
            self.invalidate(i)
            if self.listener is not None:
                self.listener.reset_sync(i)
            if self.snapshot_on_connect:
                self.request_sync(i)

    def _md_close(self, conn: Connection) -> None:
        if self._closed:
            return
        for i in self.indices:    # messages are lost until the next connect: nothing is valid
            self.invalidate(i)

    def _on_sync_lost(self, index: int) -> None:
        if self.synced(index):
            # the feed is in sync but the engine found a checksum wrong: make the feed wait
            # for the new snapshot too, so the snapshot marks the book valid again
            self.invalidate(index)
        self.request_sync(index)

    def request_sync(self, index: int) -> None:
        """Resync ``index`` (once at a time)."""
        if index in self._syncing or self._closed:
            return
        self._syncing.add(index)
        self.spawn(self._sync(index), f"{self.name} sync {index}")

    async def _sync(self, index: int) -> None:
        try:
            await self.resync(index)
        finally:
            self._syncing.discard(index)

    def synced(self, index: int) -> bool:
        """The feed considers instrument ``index``'s book in sync."""
        assert self.feed is not None
        return bool(self.feed.state(index)["state"] in ("synced", "bbo_only"))

    def _on_md_control(self, kind: int, data: bytes, ts: int) -> None:
        if kind < 0 or kind == 9:
            self.venue_errors += kind == 9
            if len(self.control_errors) < 100:
                self.control_errors.append(data[:300].decode("utf-8", "replace"))
            if kind == 9:
                log.warning("%s: venue error: %s", self.name,
                            redact(data[:300].decode("utf-8", "replace")))
        self.on_md_control(kind, data, ts)

    def on_md_control(self, kind: int, data: bytes, ts: int) -> None:
        """A market-data message that is not book data (subclasses: subscription answers)."""

    def _last_seen(self, index: int) -> int:
        return int(self.listener.last_seen(index)) if self.listener is not None else 0

    def _on_stale(self, index: int) -> None:
        self.stale_events += 1
        assert self.engine is not None
        log.warning("%s: %s stale: nothing for %g s; resyncing", self.name,
                    self.engine.instruments[index].symbol, self.stale_after)
        self.invalidate(index)
        self.request_sync(index)

    def recv_backlog(self) -> int:
        """Bytes received by the kernel and not yet read on the market-data socket."""
        md = self.md
        if md is None or md.transport is None:
            return 0
        sock = md.transport.underlying_transport.get_extra_info("socket")
        if sock is None:
            return 0
        try:
            buf = bytearray(4)
            fcntl.ioctl(sock.fileno(), termios.FIONREAD, buf)
            return int.from_bytes(buf, "little", signed=True)
        except (OSError, ValueError):
            return 0

    async def _watch(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.watch_interval)
            try:
                self.watch()
            except Exception:
                log.exception("%s: watchdog failed", self.name)

    def watch(self) -> None:
        """One watchdog round: stale symbols, receive backlog, lag (the loop calls it)."""
        md = self.md
        if md is not None and md.ready.is_set() and self.watchdog is not None:
            self.watchdog.check()
        backlog = self.recv_backlog()
        if backlog > self.max_backlog_seen:
            self.max_backlog_seen = backlog
        if backlog >= self.backlog_bytes:
            self.backlog_events += 1
            log.warning("%s: %d bytes of market data wait unread: the consumer is slow",
                        self.name, backlog)
        if self.listener is not None:
            lag = int(self.listener.take_max_lag())
            if lag > self.max_lag_ns:
                self.max_lag_ns = lag

    # -- order reports ---------------------------------------------------------------------------
    def report(self, cid: str, kind: str, **kw: Any) -> None:
        """Tell the engine now (from a venue callback)."""
        engine = self.engine
        assert engine is not None
        self.reports += 1
        engine.on_order_update(cid, kind, kw.pop("ts", None) or time.time_ns(), **kw)

    def report_answer(self, o: Order, request: str, ok: bool, ts: int, reason: str,
                      venue_order_id: str = "", new: tuple[int, int] | None = None) -> None:
        """The venue's answer to one of our requests on order ``o`` (``request``: ``"new"``,
        ``"cancel"`` or ``"amend"``; ``new``: the amend's price and total size) as the order
        update it means; an answer the order has moved past (acknowledged, done, no longer
        pending that request) changes nothing."""
        cid = o.client_order_id
        if request == "new":
            if ok and not o.acked and o.is_open:
                self.report(cid, "ack", ts=ts, venue_order_id=venue_order_id)
            elif not ok and o.is_open:
                self.report(cid, "reject", ts=ts, reason=reason)
        elif request == "cancel":
            if ok and o.is_open:
                self.report(cid, "canceled", ts=ts)
            elif not ok and o.status == OrderStatus.PENDING_CANCEL:
                self.report(cid, "cancel_reject", ts=ts, reason=reason)
        elif request == "amend" and o.status == OrderStatus.PENDING_REPLACE:
            if ok and new is not None:
                self.report(cid, "replaced", ts=ts, price=new[0], qty=new[1])
            elif not ok:
                self.report(cid, "replace_reject", ts=ts, reason=reason)

    def report_later(self, cid: str, kind: str, **kw: Any) -> None:
        """Tell the engine on the next loop turn (from inside ``submit``/``cancel``, which the
        engine is still running)."""
        kw.setdefault("ts", time.time_ns())
        asyncio.get_running_loop().call_soon(lambda: self.report(cid, kind, **kw))

    def open_orders(self) -> list[Order]:
        """The engine's open orders on this venue."""
        assert self.engine is not None
        return self.engine.om.open_orders(self.name)

    async def reconcile(self, orders: Sequence[Order] | None = None) -> dict[str, str]:
        """Settle ``orders`` (default: every open order of this venue) against the venue."""
        raise NotImplementedError

    # -- orders (subclasses) ---------------------------------------------------------------------
    def submit(self, order: Order, flags: int) -> None:
        """Refused: this venue has no order entry configured."""
        self.report_later(order.client_order_id, "reject",
                          reason=f"{self.name}: no order entry (no credentials)")

    def cancel(self, order: Order) -> None:
        """Refused: no order entry."""
        self.report_later(order.client_order_id, "cancel_reject",
                          reason=f"{self.name}: no order entry (no credentials)")

    def amend(self, order: Order, price: int, size: int) -> None:
        """Refused: no order entry."""
        self.report_later(order.client_order_id, "replace_reject",
                          reason=f"{self.name}: no order entry (no credentials)")

    def status(self) -> dict[str, Any]:
        """Connections, sync states, counters."""
        out: dict[str, Any] = {"venue": self.name,
                               "connected": self.md is not None and self.md.connected}
        if self.md is not None:
            out["market_data"] = self.md.status()
        if self.listener is not None:
            out["listener"] = self.listener.counters()
        if self.feed is not None and self.engine is not None:
            out["books"] = {self.engine.instruments[i].symbol: self.feed.state(i)
                            for i in self.indices}
            out["decode_errors"] = self.feed.decode_errors
            out["gaps"] = self.feed.gaps
        out.update(resyncs=self.resyncs, stale_events=self.stale_events,
                   backlog_events=self.backlog_events, max_backlog_bytes=self.max_backlog_seen,
                   max_lag_ns=self.max_lag_ns, venue_errors=self.venue_errors)
        if self.limiter is not None:
            out["rate_limits"] = self.limiter.usage()
        return out

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {len(self.indices)} instruments, "
                f"order entry {'on' if self.order_entry else 'off'}>")
